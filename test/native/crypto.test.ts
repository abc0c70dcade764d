// The crypto primitives of native/crypto, checked against published test vectors through the addon.
import { describe, expect, it } from 'vitest';
import { blake2s as nobleBlake2s } from '@noble/hashes/blake2.js';
import { hmac } from '@noble/hashes/hmac.js';
import { loadNative } from '../../src/dataplane/native.js';
import { flipped, hex } from '../helpers/hex.js';

const c = loadNative().crypto;
const ascii = (s: string) => Buffer.from(s, 'latin1');

// RFC 8439 §2.8.2: AEAD_CHACHA20_POLY1305 encryption.
const rfc8439_282 = {
  key: hex('80 81 82 83 84 85 86 87 88 89 8a 8b 8c 8d 8e 8f 90 91 92 93 94 95 96 97 98 99 9a 9b 9c 9d 9e 9f'),
  nonce: hex('07 00 00 00 40 41 42 43 44 45 46 47'), // constant ‖ IV
  ad: hex('50 51 52 53 c0 c1 c2 c3 c4 c5 c6 c7'),
  plaintext: ascii(
    "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.",
  ),
  ciphertext: hex(`
    d3 1a 8d 34 64 8e 60 db 7b 86 af bc 53 ef 7e c2 a4 ad ed 51 29 6e 08 fe a9 e2 b5 a7 36 ee 62 d6
    3d be a4 5e 8c a9 67 12 82 fa fb 69 da 92 72 8b 1a 71 de 0a 9e 06 0b 29 05 d6 a5 b6 7e cd 3b 36
    92 dd bd 7f 2d 77 8b 8c 98 03 ae e3 28 09 1b 58 fa b3 24 e4 fa d6 75 94 55 85 80 8b 48 31 d7 bc
    3f f4 de f0 8e 4b 7a 9d e5 76 d2 65 86 ce c6 4b 61 16`),
  tag: hex('1a:e1:0b:59:4f:09:e2:6a:7e:90:2e:cb:d0:60:06:91'),
};

// RFC 8439 Appendix A.5: AEAD_CHACHA20_POLY1305 decryption.
const rfc8439_a5 = {
  key: hex('1c 92 40 a5 eb 55 d3 8a f3 33 88 86 04 f6 b5 f0 47 39 17 c1 40 2b 80 09 9d ca 5c bc 20 70 75 c0'),
  nonce: hex('00 00 00 00 01 02 03 04 05 06 07 08'),
  ad: hex('f3 33 88 86 00 00 00 00 00 00 4e 91'),
  ciphertext: hex(`
    64 a0 86 15 75 86 1a f4 60 f0 62 c7 9b e6 43 bd 5e 80 5c fd 34 5c f3 89 f1 08 67 0a c7 6c 8c b2
    4c 6c fc 18 75 5d 43 ee a0 9e e9 4e 38 2d 26 b0 bd b7 b7 3c 32 1b 01 00 d4 f0 3b 7f 35 58 94 cf
    33 2f 83 0e 71 0b 97 ce 98 c8 a8 4a bd 0b 94 81 14 ad 17 6e 00 8d 33 bd 60 f9 82 b1 ff 37 c8 55
    97 97 a0 6e f4 f0 ef 61 c1 86 32 4e 2b 35 06 38 36 06 90 7b 6a 7c 02 b0 f9 f6 15 7b 53 c8 67 e4
    b9 16 6c 76 7b 80 4d 46 a5 9b 52 16 cd e7 a4 e9 90 40 c5 a4 04 33 22 5e e2 82 a1 b0 a0 6c 52 3e
    af 45 34 d7 f8 3f a1 15 5b 00 47 71 8c bc 54 6a 0d 07 2b 04 b3 56 4e ea 1b 42 22 73 f5 48 27 1a
    0b b2 31 60 53 fa 76 99 19 55 eb d6 31 59 43 4e ce bb 4e 46 6d ae 5a 10 73 a6 72 76 27 09 7a 10
    49 e6 17 d9 1d 36 10 94 fa 68 f0 ff 77 98 71 30 30 5b ea ba 2e da 04 df 99 7b 71 4d 6c 6f 2c 29
    a6 ad 5c b4 02 2b 02 70 9b`),
  tag: hex('ee ad 9d 67 89 0c bb 22 39 23 36 fe a1 85 1f 38'),
  plaintext: hex(`
    49 6e 74 65 72 6e 65 74 2d 44 72 61 66 74 73 20 61 72 65 20 64 72 61 66 74 20 64 6f 63 75 6d 65
    6e 74 73 20 76 61 6c 69 64 20 66 6f 72 20 61 20 6d 61 78 69 6d 75 6d 20 6f 66 20 73 69 78 20 6d
    6f 6e 74 68 73 20 61 6e 64 20 6d 61 79 20 62 65 20 75 70 64 61 74 65 64 2c 20 72 65 70 6c 61 63
    65 64 2c 20 6f 72 20 6f 62 73 6f 6c 65 74 65 64 20 62 79 20 6f 74 68 65 72 20 64 6f 63 75 6d 65
    6e 74 73 20 61 74 20 61 6e 79 20 74 69 6d 65 2e 20 49 74 20 69 73 20 69 6e 61 70 70 72 6f 70 72
    69 61 74 65 20 74 6f 20 75 73 65 20 49 6e 74 65 72 6e 65 74 2d 44 72 61 66 74 73 20 61 73 20 72
    65 66 65 72 65 6e 63 65 20 6d 61 74 65 72 69 61 6c 20 6f 72 20 74 6f 20 63 69 74 65 20 74 68 65
    6d 20 6f 74 68 65 72 20 74 68 61 6e 20 61 73 20 2f e2 80 9c 77 6f 72 6b 20 69 6e 20 70 72 6f 67
    72 65 73 73 2e 2f e2 80 9d`),
};

// draft-irtf-cfrg-xchacha-03 §2.2.1 (HChaCha20) and Appendix A.3.1 (XChaCha20-Poly1305).
const hchachaVector = {
  key: hex('00:01:02:03:04:05:06:07:08:09:0a:0b:0c:0d:0e:0f:10:11:12:13:14:15:16:17:18:19:1a:1b:1c:1d:1e:1f'),
  nonce: hex('00:00:00:09:00:00:00:4a:00:00:00:00:31:41:59:27'),
  subkey: hex('82413b42 27b27bfe d30e4250 8a877d73 a0f9e4d5 8a74a853 c12ec413 26d3ecdc'),
};
const xchachaVector = {
  key: hex('808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f'),
  nonce: hex('404142434445464748494a4b4c4d4e4f5051525354555657'),
  ad: hex('50515253c0c1c2c3c4c5c6c7'),
  plaintext: rfc8439_282.plaintext,
  ciphertext: hex(`
    bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb
    731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b452
    2f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9
    21f9664c97637da9768812f615c68b13b52e`),
  tag: hex('c0875924c1c7987947deafd8780acf49'),
};

describe('ChaCha20-Poly1305 (RFC 8439)', () => {
  it('§2.8.2: seals to the published ciphertext and tag, and opens it again', () => {
    const v = rfc8439_282;
    const sealed = c.chacha20poly1305Seal(v.key, v.nonce, v.plaintext, v.ad);
    expect(sealed.toString('hex')).toBe(Buffer.concat([v.ciphertext, v.tag]).toString('hex'));
    expect(c.chacha20poly1305Open(v.key, v.nonce, sealed, v.ad)?.toString('latin1')).toBe(v.plaintext.toString('latin1'));
  });

  it('Appendix A.5: opens the published ciphertext to the published plaintext', () => {
    const v = rfc8439_a5;
    const opened = c.chacha20poly1305Open(v.key, v.nonce, Buffer.concat([v.ciphertext, v.tag]), v.ad);
    expect(opened?.toString('hex')).toBe(v.plaintext.toString('hex'));
  });

  it('refuses a tampered ciphertext, tag, associated data, nonce or key', () => {
    const v = rfc8439_a5;
    const sealed = Buffer.concat([v.ciphertext, v.tag]);
    expect(c.chacha20poly1305Open(v.key, v.nonce, flipped(sealed, 0), v.ad)).toBeNull();
    expect(c.chacha20poly1305Open(v.key, v.nonce, flipped(sealed, v.ciphertext.length - 1), v.ad)).toBeNull();
    expect(c.chacha20poly1305Open(v.key, v.nonce, flipped(sealed, sealed.length - 1), v.ad)).toBeNull();
    expect(c.chacha20poly1305Open(v.key, v.nonce, sealed, flipped(v.ad, 11))).toBeNull();
    expect(c.chacha20poly1305Open(v.key, v.nonce, sealed)).toBeNull();
    expect(c.chacha20poly1305Open(v.key, flipped(v.nonce, 11), sealed, v.ad)).toBeNull();
    expect(c.chacha20poly1305Open(flipped(v.key, 31), v.nonce, sealed, v.ad)).toBeNull();
    expect(c.chacha20poly1305Open(v.key, v.nonce, sealed.subarray(0, 15), v.ad)).toBeNull();
  });

  it('round-trips every length from 0 to 1500 bytes (the tag alone for an empty plaintext)', () => {
    const key = Buffer.alloc(32, 7);
    const nonce = Buffer.alloc(12, 1);
    for (let len = 0; len <= 1500; len += len < 70 ? 1 : 97) {
      const plain = Buffer.alloc(len, len & 0xff);
      const sealed = c.chacha20poly1305Seal(key, nonce, plain);
      expect(sealed.length).toBe(len + 16);
      expect(c.chacha20poly1305Open(key, nonce, sealed)?.equals(plain)).toBe(true);
    }
  });

  it('rejects arguments of the wrong type or length with a clear error', () => {
    const v = rfc8439_282;
    expect(() => c.chacha20poly1305Seal(v.key.subarray(0, 31), v.nonce, v.plaintext)).toThrow(/key must be 32 bytes, got 31/);
    expect(() => c.chacha20poly1305Seal(v.key, Buffer.alloc(24), v.plaintext)).toThrow(/nonce must be 12 bytes/);
    expect(() => c.chacha20poly1305Seal(v.key, v.nonce, 'text' as unknown as Uint8Array)).toThrow(TypeError);
    expect(() => c.chacha20poly1305Open(v.key, v.nonce, [1, 2] as unknown as Uint8Array)).toThrow(TypeError);
  });
});

describe('XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha-03)', () => {
  it('§2.2.1: HChaCha20 derives the published subkey', () => {
    expect(c.hchacha20(hchachaVector.key, hchachaVector.nonce).toString('hex')).toBe(hchachaVector.subkey.toString('hex'));
  });

  it('Appendix A.3.1: seals to the published ciphertext and tag, and opens it again', () => {
    const v = xchachaVector;
    const sealed = c.xchacha20poly1305Seal(v.key, v.nonce, v.plaintext, v.ad);
    expect(sealed.toString('hex')).toBe(Buffer.concat([v.ciphertext, v.tag]).toString('hex'));
    expect(c.xchacha20poly1305Open(v.key, v.nonce, sealed, v.ad)?.equals(v.plaintext)).toBe(true);
  });

  it('refuses a tampered ciphertext, tag, associated data or nonce', () => {
    const v = xchachaVector;
    const sealed = Buffer.concat([v.ciphertext, v.tag]);
    expect(c.xchacha20poly1305Open(v.key, v.nonce, flipped(sealed, 3), v.ad)).toBeNull();
    expect(c.xchacha20poly1305Open(v.key, v.nonce, flipped(sealed, sealed.length - 1), v.ad)).toBeNull();
    expect(c.xchacha20poly1305Open(v.key, v.nonce, sealed, flipped(v.ad, 0))).toBeNull();
    // Both halves of the 24-byte nonce matter: the first 16 bytes feed HChaCha20, the last 8 the cipher.
    expect(c.xchacha20poly1305Open(v.key, flipped(v.nonce, 0), sealed, v.ad)).toBeNull();
    expect(c.xchacha20poly1305Open(v.key, flipped(v.nonce, 23), sealed, v.ad)).toBeNull();
  });
});

describe('BLAKE2s (RFC 7693) and WireGuard constructions', () => {
  it('RFC 7693 Appendix C: BLAKE2s-256("abc")', () => {
    expect(c.blake2s(ascii('abc')).toString('hex')).toBe(
      '508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982',
    );
  });

  it('keyed BLAKE2s: the BLAKE2 reference KAT (blake2s-kat.txt, key 00..1f, empty and one-byte input)', () => {
    const key = hex('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f');
    expect(c.blake2sKeyed(key, Buffer.alloc(0)).toString('hex')).toBe(
      '48a8997da407876b3d79c0d92325ad3b89cbb754d86ab71aee047ad345fd2c49',
    );
    expect(c.blake2sKeyed(key, hex('00')).toString('hex')).toBe(
      '40d15fee7c328830166ac3f918650f807e7e01e177258cdc0a39b11f598066f1',
    );
  });

  it('MAC (keyed BLAKE2s, 16-byte digest) encodes the length in the parameter block, not by truncation', () => {
    const key = Buffer.alloc(32, 0x42);
    const data = ascii('WireGuard mac1 input');
    const mac = c.mac(key, data);
    expect(mac.length).toBe(16);
    expect(mac.equals(c.blake2sKeyed(key, data, 32).subarray(0, 16))).toBe(false);
    // An independent implementation of the same construction.
    expect(mac.toString('hex')).toBe(Buffer.from(nobleBlake2s(data, { key, dkLen: 16 })).toString('hex'));
  });

  it('WireGuard construction and identifier hashes (the protocol paper, §5.4)', () => {
    const chainingKey = c.blake2s(ascii('Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s'));
    expect(chainingKey.toString('hex')).toBe('60e26daef327efc02ec335e2a025d2d016eb4206f87277f52d38d1988b78cd36');
    const hash = c.blake2s(Buffer.concat([chainingKey, ascii('WireGuard v1 zx2c4 Jason@zx2c4.com')]));
    expect(hash.toString('hex')).toBe('2211b361081ac566691243db458ad5322d9c6c662293e8b70ee19c65ba079ef3');
  });

  it('HMAC-BLAKE2s agrees with an independent HMAC over BLAKE2s for short and long keys', () => {
    for (const keyLen of [0, 32, 64, 65, 100]) {
      const key = Buffer.alloc(keyLen, 0x5a);
      const data = ascii(`message for a ${keyLen}-byte key`);
      expect(c.hmacBlake2s(key, data).toString('hex')).toBe(Buffer.from(hmac(nobleBlake2s, key, data)).toString('hex'));
    }
  });

  it('KDF1..KDF3 follow the WireGuard definition τi = HMAC(HMAC(C, input), τ(i-1) ‖ i)', () => {
    const ck = c.blake2s(ascii('chaining key'));
    const input = ascii('input key material');
    const h = (k: Uint8Array, d: Uint8Array) => Buffer.from(hmac(nobleBlake2s, k, d));
    const t0 = h(ck, input);
    const t1 = h(t0, Uint8Array.of(1));
    const t2 = h(t0, Buffer.concat([t1, Uint8Array.of(2)]));
    const t3 = h(t0, Buffer.concat([t2, Uint8Array.of(3)]));
    const hexes = (bs: Buffer[]) => bs.map((b) => b.toString('hex'));
    expect(hexes(c.kdf(1, ck, input))).toEqual(hexes([t1]));
    expect(hexes(c.kdf(2, ck, input))).toEqual(hexes([t1, t2]));
    expect(hexes(c.kdf(3, ck, input))).toEqual(hexes([t1, t2, t3]));
    expect(c.kdf(3, ck, flipped(input, 0))[2]!.equals(t3)).toBe(false);
    expect(() => c.kdf(4 as 3, ck, input)).toThrow(/n must be 1, 2 or 3/);
  });
});

describe('X25519 (RFC 7748)', () => {
  it('§5.2: the two scalar-multiplication vectors', () => {
    const cases = [
      {
        scalar: 'a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4',
        u: 'e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c',
        out: 'c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552',
      },
      {
        scalar: '4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d',
        u: 'e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493',
        out: '95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957',
      },
    ];
    for (const v of cases) expect(c.x25519(hex(v.scalar), hex(v.u))?.toString('hex')).toBe(v.out);
  });

  it('§5.2: the iterated vector after 1 and 1,000 iterations', () => {
    let k: Buffer = hex('0900000000000000000000000000000000000000000000000000000000000000');
    let u: Buffer = Buffer.from(k);
    const step = () => {
      const r = c.x25519(k, u)!;
      u = k;
      k = r;
    };
    step();
    expect(k.toString('hex')).toBe('422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079');
    for (let i = 1; i < 1000; i++) step();
    expect(k.toString('hex')).toBe('684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51');
  });

  it('§6.1: Alice and Bob derive the published public keys and shared secret', () => {
    const alicePriv = hex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a');
    const alicePub = hex('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a');
    const bobPriv = hex('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb');
    const bobPub = hex('de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f');
    const shared = '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742';
    expect(c.x25519PublicKey(alicePriv).toString('hex')).toBe(alicePub.toString('hex'));
    expect(c.x25519PublicKey(bobPriv).toString('hex')).toBe(bobPub.toString('hex'));
    expect(c.x25519(alicePriv, bobPub)?.toString('hex')).toBe(shared);
    expect(c.x25519(bobPriv, alicePub)?.toString('hex')).toBe(shared);
  });

  it('refuses an all-zero shared secret from small-order public keys', () => {
    const priv = hex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a');
    const zero = Buffer.alloc(32);
    const one = hex('0100000000000000000000000000000000000000000000000000000000000000');
    // A point of order 8 on Curve25519 (listed among the small-order points in the X25519 literature).
    const order8 = hex('e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800');
    for (const pub of [zero, one, order8]) expect(c.x25519(priv, pub)).toBeNull();
  });

  it('clamps the private key as RFC 7748 decodeScalar25519 specifies', () => {
    const priv = hex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a');
    const unclamped = Buffer.from(priv);
    unclamped[0]! |= 7;
    unclamped[31]! |= 0x80;
    unclamped[31]! &= ~0x40 & 0xff;
    expect(c.x25519PublicKey(unclamped).equals(c.x25519PublicKey(priv))).toBe(true);
  });
});
