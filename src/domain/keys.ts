// WireGuard keys as `wg` writes them: 32 bytes, standard base64 with padding (44 characters).
import { randomBytes } from 'node:crypto';
import { x25519 } from '@noble/curves/ed25519.js';

export const KEY_LENGTH = 32;

// 43 base64 characters carry 258 bits; the last one must leave the two spare bits zero,
// so only these 16 characters may stand before the '=' (the same strictness as `wg`).
const KEY_PATTERN = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;

export class KeyFormatError extends Error {
  override name = 'KeyFormatError';
}

/** RFC 7748 §5 clamping, as `wg genkey` applies to new private keys. */
export function clampPrivateKey(key: Uint8Array): Uint8Array {
  const k = Uint8Array.from(key);
  k[0]! &= 248;
  k[31]! &= 127;
  k[31]! |= 64;
  return k;
}

export function encodeKey(key: Uint8Array): string {
  if (key.length !== KEY_LENGTH) throw new KeyFormatError(`a key is ${KEY_LENGTH} bytes, got ${key.length}`);
  return Buffer.from(key).toString('base64');
}

/** Decodes a base64 key; throws KeyFormatError naming what is wrong. */
export function decodeKey(text: string): Uint8Array {
  if (text.length !== 44) {
    throw new KeyFormatError(`a key is 44 base64 characters, got ${text.length}`);
  }
  if (!KEY_PATTERN.test(text)) throw new KeyFormatError('a key must be 32 bytes of standard base64');
  return new Uint8Array(Buffer.from(text, 'base64'));
}

/** A base64 key as the UAPI writes keys: 64 lowercase hex digits. No check: give it keys already checked. */
export function keyToHex(base64: string): string {
  return Buffer.from(base64, 'base64').toString('hex');
}

export function isValidKey(text: string): boolean {
  return KEY_PATTERN.test(text);
}

export function generatePrivateKey(): Uint8Array {
  return clampPrivateKey(randomBytes(KEY_LENGTH));
}

export function generatePresharedKey(): Uint8Array {
  return new Uint8Array(randomBytes(KEY_LENGTH));
}

/** The X25519 public key of a private key (clamped first, as X25519 does). */
export function publicKeyOf(privateKey: Uint8Array): Uint8Array {
  if (privateKey.length !== KEY_LENGTH) {
    throw new KeyFormatError(`a key is ${KEY_LENGTH} bytes, got ${privateKey.length}`);
  }
  return x25519.getPublicKey(privateKey);
}

export interface KeyPair {
  privateKey: string;
  publicKey: string;
}

export function generateKeyPair(): KeyPair {
  const priv = generatePrivateKey();
  return { privateKey: encodeKey(priv), publicKey: encodeKey(publicKeyOf(priv)) };
}

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
