/** Bytes from hex as the RFCs print it: spaces, colons and line breaks are ignored. */
export function hex(text: string): Buffer {
  const clean = text.replace(/[\s:]/g, '');
  if (!/^([0-9a-fA-F]{2})*$/.test(clean)) throw new Error(`not hex: ${text.slice(0, 40)}`);
  return Buffer.from(clean, 'hex');
}

/** A copy of `b` with one bit of byte `index` flipped. */
export function flipped(b: Uint8Array, index: number): Buffer {
  const c = Buffer.from(b);
  c[index]! ^= 0x01;
  return c;
}
