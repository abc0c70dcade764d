// Curve25519 points of small order. A peer "public key" among them makes every Diffie-Hellman
// result all zeros, whatever our private key: the handshake would be keyed by a constant.
// The list is libsodium's (has_small_order); the top bit is ignored, as X25519 ignores it.
export const SMALL_ORDER_POINTS: readonly Uint8Array[] = [
  '0000000000000000000000000000000000000000000000000000000000000000', // 0
  '0100000000000000000000000000000000000000000000000000000000000000', // 1
  'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800', // order 8
  '5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157', // order 8
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', // p - 1
  'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', // p (= 0)
  'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', // p + 1 (= 1)
].map((hex) => new Uint8Array(Buffer.from(hex, 'hex')));

export function isWeakPublicKey(key: Uint8Array): boolean {
  if (key.length !== 32) return false;
  return SMALL_ORDER_POINTS.some((point) => key.every((byte, i) => (i === 31 ? byte & 0x7f : byte) === point[i]));
}
