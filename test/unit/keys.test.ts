import { describe, expect, it } from 'vitest';
import {
  clampPrivateKey,
  decodeKey,
  encodeKey,
  generateKeyPair,
  generatePresharedKey,
  generatePrivateKey,
  isValidKey,
  KeyFormatError,
  keyToHex,
  publicKeyOf,
} from '../../src/domain/keys.js';
import { hex } from '../helpers/hex.js';

describe('keys', () => {
  it('derives the RFC 7748 §6.1 public keys from the private keys', () => {
    const alice = hex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a');
    const bob = hex('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb');
    expect(Buffer.from(publicKeyOf(alice)).toString('hex')).toBe('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a');
    expect(Buffer.from(publicKeyOf(bob)).toString('hex')).toBe('de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f');
  });

  it('generates clamped private keys and unclamped preshared keys of 32 bytes', () => {
    for (let i = 0; i < 50; i++) {
      const k = generatePrivateKey();
      expect(k.length).toBe(32);
      expect(k[0]! & 7).toBe(0);
      expect(k[31]! & 0x80).toBe(0);
      expect(k[31]! & 0x40).toBe(0x40);
    }
    const psks = new Set(Array.from({ length: 20 }, () => encodeKey(generatePresharedKey())));
    expect(psks.size).toBe(20);
  });

  it('clamping leaves the input untouched and only changes the five clamped bits', () => {
    const raw = new Uint8Array(32).fill(0xff);
    const clamped = clampPrivateKey(raw);
    expect(raw[0]).toBe(0xff);
    expect(clamped[0]).toBe(0xf8);
    expect(clamped[31]).toBe(0x7f);
    expect(clamped.subarray(1, 31).every((b) => b === 0xff)).toBe(true);
  });

  it('encodes as 44-character base64 and decodes back', () => {
    const { privateKey, publicKey } = generateKeyPair();
    for (const k of [privateKey, publicKey]) {
      expect(k).toMatch(/^[A-Za-z0-9+/]{43}=$/);
      expect(encodeKey(decodeKey(k))).toBe(k);
      expect(isValidKey(k)).toBe(true);
    }
  });

  it('writes a key as the UAPI does: 64 lowercase hex digits of the same bytes', () => {
    const key = Buffer.alloc(32, 0xab);
    key[0] = 0x01;
    expect(keyToHex(key.toString('base64'))).toBe(`01${'ab'.repeat(31)}`);
  });

  it.each([
    ['empty', ''],
    ['too short', 'YWJj'],
    ['43 characters, no padding', 'kNzD6pqVEd9sI2BD3OuGPRRmGSuJ2h8QKNkE8HVLsE0'],
    ['not base64', '!NzD6pqVEd9sI2BD3OuGPRRmGSuJ2h8QKNkE8HVLsE0='],
    ['non-canonical last character', 'kNzD6pqVEd9sI2BD3OuGPRRmGSuJ2h8QKNkE8HVLsE1='],
    ['33 bytes', 'kNzD6pqVEd9sI2BD3OuGPRRmGSuJ2h8QKNkE8HVLsE0A'],
    ['leading space', ' NzD6pqVEd9sI2BD3OuGPRRmGSuJ2h8QKNkE8HVLsE0='],
  ])('rejects a malformed key: %s', (_name, text) => {
    expect(() => decodeKey(text)).toThrow(KeyFormatError);
    expect(isValidKey(text)).toBe(false);
  });
});
