// ADMIN_PASSWORD_HASH: scrypt in the PHC string format, `$scrypt$ln=15,r=8,p=1$<salt>$<hash>`
// (salt and hash in unpadded base64). `wgvm hash-password` makes one; the dashboard checks sign-ins
// against it. The password itself is never stored or logged.
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

export interface PasswordHash {
  /** log2 of scrypt's cost N. */
  ln: number;
  r: number;
  p: number;
  salt: Buffer;
  hash: Buffer;
}

export class PasswordHashError extends Error {
  override name = 'PasswordHashError';
}

const DEFAULTS = { ln: 15, r: 8, p: 1 };
const SALT_BYTES = 16;
const HASH_BYTES = 32;
const B64 = /^[A-Za-z0-9+/]+$/;

/** scrypt needs 128·N·r bytes; allow that and a margin, since Node's default cap is 32 MiB. */
const maxmemFor = (ln: number, r: number) => 128 * 2 ** ln * r + 16 * 1024 * 1024;

function derive(password: string, h: Omit<PasswordHash, 'hash'>, length: number): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(password.normalize('NFC'), h.salt, length, { N: 2 ** h.ln, r: h.r, p: h.p, maxmem: maxmemFor(h.ln, h.r) }, (err, key) =>
      err ? reject(err) : resolve(key),
    ),
  );
}

const b64 = (b: Buffer) => b.toString('base64').replace(/=+$/, '');

export function formatPasswordHash(h: PasswordHash): string {
  return `$scrypt$ln=${h.ln},r=${h.r},p=${h.p}$${b64(h.salt)}$${b64(h.hash)}`;
}

/** Parses a hash, with a message that says what is wrong (never echoing the value). */
export function parsePasswordHash(text: string): PasswordHash {
  const parts = text.split('$');
  if (parts.length !== 5 || parts[0] !== '' || parts[1] !== 'scrypt') {
    throw new PasswordHashError('is not a scrypt hash of the form $scrypt$ln=15,r=8,p=1$<salt>$<hash> (make one with `wgvm hash-password`)');
  }
  const params = /^ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})$/.exec(parts[2]!);
  if (!params) throw new PasswordHashError('has parameters that are not "ln=<n>,r=<n>,p=<n>"');
  const [ln, r, p] = [Number(params[1]), Number(params[2]), Number(params[3])];
  // Below ln=14 a stolen hash is cheap to attack; above ln=20 a sign-in takes seconds and a gigabyte.
  if (ln < 14 || ln > 20) throw new PasswordHashError(`has ln=${ln}; it must be 14-20`);
  if (r < 1 || r > 32 || p < 1 || p > 16) throw new PasswordHashError('has r or p out of range (r 1-32, p 1-16)');
  const [salt, hash] = [parts[3]!, parts[4]!];
  if (!B64.test(salt) || !B64.test(hash)) throw new PasswordHashError('has a salt or hash that is not base64');
  const h = { ln, r, p, salt: Buffer.from(salt, 'base64'), hash: Buffer.from(hash, 'base64') };
  if (h.salt.length < 8) throw new PasswordHashError('has a salt shorter than 8 bytes');
  if (h.hash.length < 16 || h.hash.length > 64) throw new PasswordHashError('has a hash that is not 16-64 bytes');
  return h;
}

export async function hashPassword(password: string, params: { ln: number; r: number; p: number } = DEFAULTS): Promise<string> {
  if (password.length === 0) throw new PasswordHashError('the password is empty');
  const salt = randomBytes(SALT_BYTES);
  const hash = await derive(password, { ...params, salt }, HASH_BYTES);
  return formatPasswordHash({ ...params, salt, hash });
}

/** True when `password` matches; the comparison takes the same time wherever the bytes differ. */
export async function verifyPassword(password: string, h: PasswordHash): Promise<boolean> {
  const candidate = await derive(password, h, h.hash.length);
  return timingSafeEqual(candidate, h.hash);
}
