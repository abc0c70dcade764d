// linuxserver/wireguard keeps each peer's own config in peer_<name>/peer_<name>.conf: what those say
// (the peer's private key, address, DNS, routes), by public key, so the server's [Peer]s can be matched.
import { existsSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { decodeKey, encodeKey, isValidKey, publicKeyOf } from '../domain/keys.js';
import { readText } from './read-text.js';
import { listItems, parseAddressItem, parseWgQuick, single } from './wgquick.js';

/** What a linuxserver peer folder's own config says. */
export interface PeerFolder {
  folder: string;
  name: string;
  file: string;
  privateKey: string;
  publicKey: string;
  /** First IPv4 address of [Interface] Address. */
  address: number | null;
  serverPublicKey: string | null;
  presharedKey: string | null;
  routesEverything: boolean;
  dns: string[];
}

export function readPeerFolders(root: string, warnings: string[]): Map<string, PeerFolder> {
  const byKey = new Map<string, PeerFolder>();
  const entries = readdirSync(root, { withFileTypes: true })
    .filter((e) => e.isDirectory() && /^peer/i.test(e.name))
    .map((e) => e.name)
    .sort();
  for (const folder of entries) {
    const file = join(root, folder, `${folder}.conf`);
    if (!existsSync(file)) {
      warnings.push(`${folder}/ has no ${folder}.conf: skipped`);
      continue;
    }
    const shown = relative(root, file);
    const parsed = parseWgQuick(readText(file));
    const iface = parsed.sections.find((s) => s.kind === 'interface');
    const privateKey = iface ? single(iface, 'PrivateKey')?.value : undefined;
    if (parsed.errors.length > 0 || !iface || privateKey === undefined || !isValidKey(privateKey)) {
      const why = parsed.errors[0] ?? (!iface ? 'no [Interface] section' : 'no valid PrivateKey');
      warnings.push(`${shown}: ${why}: the folder is not used`);
      continue;
    }
    const publicKey = encodeKey(publicKeyOf(decodeKey(privateKey)));
    const firstV4 = listItems(iface, 'Address')
      .map((a) => parseAddressItem(a.value))
      .find((a) => a.family === 4);
    const peer = parsed.sections.find((s) => s.kind === 'peer');
    const routes = peer ? listItems(peer, 'AllowedIPs').map((a) => a.value.replace(/\s+/g, '')) : [];
    const info: PeerFolder = {
      folder,
      name: folder.replace(/^peer_/i, ''),
      file: shown,
      privateKey,
      publicKey,
      address: firstV4 && firstV4.family === 4 ? firstV4.address : null,
      serverPublicKey: peer ? (single(peer, 'PublicKey')?.value ?? null) : null,
      presharedKey: peer ? (single(peer, 'PresharedKey')?.value ?? null) : null,
      routesEverything: routes.includes('0.0.0.0/0'),
      dns: listItems(iface, 'DNS').map((d) => d.value),
    };
    const other = byKey.get(publicKey);
    if (other) {
      warnings.push(`${shown} has the same private key as ${other.file}: only ${other.folder}/ is used`);
      continue;
    }
    byKey.set(publicKey, info);
  }
  return byKey;
}
