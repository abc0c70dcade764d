// Free text and URLs that reach the installers (scripts): what they may hold, checked once.
import { InstallInputError } from './errors.js';

/** Longest description, in UTF-16 code units (keeps every .bat line far below cmd's 8191). */
export const MAX_DESCRIPTION_LENGTH = 1024;
export const MAX_URL_LENGTH = 2048;

// C0 controls (newline, CR, tab, NUL…), DEL and C1 controls.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
// RFC 3986 characters only: no space, quote, backslash, caret, backtick, braces, pipe, angle brackets.
const URL_CHARS = /^[A-Za-z0-9._~:/?#[\]@!$&'()*+,;=%-]+$/;

/**
 * Free text (the description): any printable Unicode, at most MAX_DESCRIPTION_LENGTH.
 * Newlines and other control characters are REJECTED, not replaced: silently changing what
 * the admin typed would make the worker's DESCRIPTION differ from the registry's.
 */
export function checkFreeText(field: string, value: string, max = MAX_DESCRIPTION_LENGTH): void {
  if (typeof value !== 'string') throw new InstallInputError(field, 'must be a string');
  if (value.length > max) throw new InstallInputError(field, `at most ${max} characters`);
  if (CONTROL.test(value)) {
    throw new InstallInputError(field, 'must not contain newlines, tabs or other control characters');
  }
  if (LONE_SURROGATE.test(value)) throw new InstallInputError(field, 'is not valid Unicode');
}

/** An http(s) URL made of RFC 3986 characters only. */
export function checkHttpUrl(field: string, value: string): void {
  checkFreeText(field, value, MAX_URL_LENGTH);
  if (!URL_CHARS.test(value)) throw new InstallInputError(field, 'contains characters a URL cannot hold');
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InstallInputError(field, 'is not a URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InstallInputError(field, 'must be an http:// or https:// URL');
  }
}
