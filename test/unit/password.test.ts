// ADMIN_PASSWORD_HASH: the scrypt hash `wgvm hash-password` prints and the dashboard checks.
import { scryptSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/index.js';
import { formatPasswordHash, hashPassword, parsePasswordHash, PasswordHashError, verifyPassword } from '../../src/domain/password.js';

const load = (hash: string) => loadConfig({ SERVERURL: 'vpn.example.com', ADMIN_PASSWORD_HASH: hash }, '/', { envFile: false });

describe('password hashes', () => {
  it('a hash verifies its own password and no other', async () => {
    const text = await hashPassword('correct horse battery staple');
    expect(text).toMatch(/^\$scrypt\$ln=15,r=8,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    const h = parsePasswordHash(text);
    expect(await verifyPassword('correct horse battery staple', h)).toBe(true);
    expect(await verifyPassword('correct horse battery stapl', h)).toBe(false);
    expect(await verifyPassword('', h)).toBe(false);
  });

  it('is plain scrypt: the same bytes as scrypt(password, salt) computed independently', () => {
    const salt = Buffer.from('0123456789abcdef');
    const hash = scryptSync('pässword'.normalize('NFC'), salt, 32, { N: 2 ** 14, r: 8, p: 1 });
    const text = formatPasswordHash({ ln: 14, r: 8, p: 1, salt, hash });
    expect(text).toBe(`$scrypt$ln=14,r=8,p=1$${salt.toString('base64').replace(/=+$/, '')}$${hash.toString('base64').replace(/=+$/, '')}`);
    return expect(verifyPassword('pa\u0308ssword', parsePasswordHash(text))).resolves.toBe(true); // NFD input, NFC stored
  });

  it('two hashes of one password differ (random salt)', async () => {
    expect(await hashPassword('x')).not.toBe(await hashPassword('x'));
  });

  it('refuses an empty password', async () => {
    await expect(hashPassword('')).rejects.toThrow(PasswordHashError);
  });

  it.each([
    ['plain text', 'hunter2', /not a scrypt hash/],
    ['bcrypt', '$2b$12$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234', /not a scrypt hash/],
    ['bad parameters', '$scrypt$N=16384$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA', /parameters/],
    ['weak cost', '$scrypt$ln=10,r=8,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA', /ln=10; it must be 14-20/],
    ['huge cost', '$scrypt$ln=30,r=8,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA', /ln=30/],
    ['non-base64 salt', '$scrypt$ln=15,r=8,p=1$s@lt!!!!!!$aGFzaGhhc2hoYXNoaGFzaA', /base64/],
    ['short hash', '$scrypt$ln=15,r=8,p=1$c2FsdHNhbHQ$aGFzaA', /16-64 bytes/],
  ])('parse error: %s', (_name, text, message) => {
    expect(() => parsePasswordHash(text)).toThrow(message);
  });
});

describe('ADMIN_PASSWORD_HASH in the configuration', () => {
  it('a well-formed hash is taken as it is', async () => {
    const text = await hashPassword('pw');
    expect(load(text).adminPasswordHash).toBe(text);
  });

  it('an empty value means no password', () => {
    expect(load('').adminPasswordHash).toBeNull();
  });

  it('a malformed one stops start-up with a line that names the variable and never quotes the value', () => {
    const secretish = 'my-plain-password-by-mistake';
    let err: unknown;
    try {
      load(secretish);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(/^ADMIN_PASSWORD_HASH: is not a scrypt hash .*wgvm hash-password/);
    expect((err as Error).message).not.toContain(secretish);
  });
});
