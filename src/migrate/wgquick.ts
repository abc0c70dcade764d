// Reading wg-quick(8) configuration files as `wg` and `wg-quick` read them: [Interface] and [Peer]
// sections (names case-insensitive), `Key = Value` lines (keys case-insensitive), `#` starting a
// comment anywhere on a line. Comments are kept where they can name a peer: the comment line just
// above a [Peer] header, and the comment lines at the top of a [Peer] section (where
// linuxserver/wireguard writes `# peer_laptop`).
import { parseIp, parseIpv4, parseIpv6, splitEndpoint } from '../domain/ip.js';

export interface WgQuickValue {
  value: string;
  line: number;
}

export interface WgQuickSection {
  kind: 'interface' | 'peer';
  /** 1-based line of the [Section] header. */
  line: number;
  /** The comment on the last non-blank line above the header, if that line is a comment. */
  commentAbove: string | null;
  /** Comment lines inside the section before its first key. */
  leadingComments: string[];
  /** Keys in lower case; a key may repeat (AllowedIPs, Address): values in file order. */
  values: Map<string, WgQuickValue[]>;
}

export interface WgQuickFile {
  sections: WgQuickSection[];
  /** Lines wg would refuse, "line 7: …". */
  errors: string[];
}

export function parseWgQuick(text: string): WgQuickFile {
  const sections: WgQuickSection[] = [];
  const errors: string[] = [];
  let current: WgQuickSection | null = null;
  let lastComment: string | null = null; // the last non-blank line, when it was a comment
  const lines = text.replace(/^\uFEFF/, '').split(/\r\n|\n|\r/);
  lines.forEach((raw, i) => {
    const line = i + 1;
    const hash = raw.indexOf('#');
    const content = (hash >= 0 ? raw.slice(0, hash) : raw).trim();
    if (content === '') {
      if (hash >= 0) {
        const comment = raw.slice(hash).replace(/^#+/, '').trim();
        lastComment = comment;
        if (current && current.values.size === 0 && comment !== '') current.leadingComments.push(comment);
      }
      return;
    }
    const header = /^\[\s*([A-Za-z]+)\s*\]$/.exec(content);
    if (header) {
      const name = header[1]!.toLowerCase();
      if (name !== 'interface' && name !== 'peer') {
        errors.push(`line ${line}: unknown section [${header[1]}] (expected [Interface] or [Peer])`);
        current = null;
      } else {
        current = { kind: name, line, commentAbove: lastComment, leadingComments: [], values: new Map() };
        sections.push(current);
      }
      lastComment = null;
      return;
    }
    lastComment = null;
    const eq = content.indexOf('=');
    if (eq <= 0) {
      errors.push(`line ${line}: not a "Key = Value" line`);
      return;
    }
    if (!current) {
      errors.push(`line ${line}: "${content.slice(0, eq).trim()}" is outside an [Interface] or [Peer] section`);
      return;
    }
    const key = content.slice(0, eq).trim().toLowerCase();
    const value = content.slice(eq + 1).trim();
    const list = current.values.get(key) ?? [];
    list.push({ value, line });
    current.values.set(key, list);
  });
  return { sections, errors };
}

/** The last value of a single-valued key (wg takes the last one), or null. */
export function single(section: WgQuickSection, key: string): WgQuickValue | null {
  const list = section.values.get(key.toLowerCase());
  return list && list.length > 0 ? list[list.length - 1]! : null;
}

/** Every comma-separated item of a list-valued key (AllowedIPs, Address, DNS), in order. */
export function listItems(section: WgQuickSection, key: string): WgQuickValue[] {
  return (section.values.get(key.toLowerCase()) ?? []).flatMap((v) =>
    v.value
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item !== '')
      .map((item) => ({ value: item, line: v.line })),
  );
}

export type AddressItem =
  | { family: 4; address: number; prefix: number; text: string }
  | { family: 6; text: string }
  | { family: 0; text: string };

/** "10.100.1.2/32", "10.100.1.2" (= /32, as wg reads it), "fd00::2/128"; family 0 when neither. */
export function parseAddressItem(text: string): AddressItem {
  const slash = text.indexOf('/');
  const ip = parseIp(slash < 0 ? text : text.slice(0, slash));
  if (ip?.family === 4) {
    const prefixText = slash < 0 ? null : text.slice(slash + 1);
    const prefix = prefixText === null ? 32 : /^[0-9]{1,2}$/.test(prefixText) ? Number(prefixText) : NaN;
    if (!(prefix >= 0 && prefix <= 32)) return { family: 0, text };
    return { family: 4, address: ip.value, prefix, text };
  }
  if (ip?.family === 6) return { family: 6, text };
  return { family: 0, text };
}

/**
 * An Endpoint the hub's device can be given as it is: an IPv4 or bracketed IPv6 literal with a port.
 * Null for a host name (the device takes no names) or anything malformed.
 */
export function literalEndpoint(text: string): string | null {
  const endpoint = splitEndpoint(text);
  if (!endpoint) return null;
  const { host, port } = endpoint;
  if (endpoint.bracketed) return parseIpv6(host) !== null ? `[${host.toLowerCase()}]:${port}` : null;
  return parseIpv4(host) !== null ? `${host}:${port}` : null;
}
