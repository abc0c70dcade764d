// What an existing WireGuard setup holds, read from disk: a server wg-quick config
// (/etc/wireguard/wg0.conf) or a linuxserver/wireguard config folder (wg_confs/wg0.conf plus one
// peer_<name>/peer_<name>.conf per peer). Nothing here knows the registry; problems that make a peer
// impossible to import are collected per peer, file-wide ones in `problems`.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { intToIp } from '../domain/ipam.js';
import { decodeKey, encodeKey, isValidKey, publicKeyOf } from '../domain/keys.js';
import { isNodeId } from '../domain/names.js';
import { listItems, literalEndpoint, parseAddressItem, parseWgQuick, single, type WgQuickSection } from './wgquick.js';

export class MigrateError extends Error {
  override name = 'MigrateError';
}

export interface PeerCandidate {
  /** How messages name the peer: `peer "laptop" (wg0.conf line 12)`. */
  label: string;
  /** 1-based position among the [Peer] sections of the server config. */
  position: number;
  /** Where the node ID comes from, as written (folder name or comment); null when nothing names it. */
  name: string | null;
  /** The node ID derived from `name`; null until the importer generates one. */
  nodeId: string | null;
  nodeIdFrom: 'folder' | 'comment' | 'generated';
  description: string;
  publicKey: string;
  /** Null when the peer has no PresharedKey. */
  presharedKey: string | null;
  /** Known when the peer's own config was found (linuxserver folder). */
  privateKey: string | null;
  vpnIp: string | null;
  /** A literal endpoint the hub can reach the peer at, or null. */
  endpoint: string | null;
  /** The peer folder it was matched with, relative to the imported folder. */
  folder: string | null;
  /** Why the peer cannot be imported (one line each, without the label). */
  problems: string[];
}

export interface ImportSource {
  kind: 'wg-quick' | 'linuxserver';
  /** The server config that was read. */
  serverConf: string;
  hubPrivateKey: string | null;
  listenPort: number | null;
  /** The hub's old VPN address and prefix ([Interface] Address), if it had an IPv4 one. */
  hubAddress: { address: number; prefix: number } | null;
  peers: PeerCandidate[];
  /** Problems of the import as a whole (one line each). */
  problems: string[];
  warnings: string[];
}

const MAX_DESCRIPTION = 200;
const CONTROL = /[\u0000-\u001f\u007f-\u009f]+/g;

/**
 * A name as written (folder or comment) → a node ID: lower case, every character outside [a-z0-9-]
 * replaced by "-", leading and trailing "-" dropped, at most 63 characters. Null when nothing is left.
 */
export function toNodeId(name: string): string | null {
  const id = name
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-')
    .replace(/^-+/, '')
    .slice(0, 63)
    .replace(/-+$/, '');
  return isNodeId(id) ? id : null;
}

/**
 * The peer name a comment carries: the text itself ("# laptop"), or the value of "name: …" /
 * "Name = …" / "friendly_name = …", or PiVPN's "### begin laptop ###". linuxserver's "peer_" prefix
 * is dropped, as it is for folder names.
 */
export function nameFromComment(comment: string): string | null {
  let text = comment.replace(/^#+/, '').replace(/#+\s*$/, '').trim();
  const keyed = /^(?:name|peer|client|friendly[ _-]?name)\s*[:=]\s*(.+)$/i.exec(text);
  if (keyed) text = keyed[1]!.trim();
  const pivpn = /^begin\s+(.+)$/i.exec(text);
  if (pivpn) text = pivpn[1]!.trim();
  text = text.replace(/^peer_/i, '');
  return text === '' ? null : text;
}

function descriptionOf(text: string): string {
  return text.replace(CONTROL, ' ').trim().slice(0, MAX_DESCRIPTION);
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new MigrateError(`cannot read ${path} (${code ?? (err as Error).message})`);
  }
}

/** What a linuxserver peer folder's own config says. */
interface PeerFolder {
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

function readPeerFolders(root: string, warnings: string[]): Map<string, PeerFolder> {
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

/** Reads a server wg-quick config, or a linuxserver/wireguard config folder. */
export function readImportSource(path: string): ImportSource {
  let isDir: boolean;
  try {
    isDir = statSync(path).isDirectory();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new MigrateError(`cannot read ${path} (${code === 'ENOENT' ? 'no such file or folder' : (code ?? (err as Error).message)})`);
  }
  let serverConf = path;
  let folders: Map<string, PeerFolder> | null = null;
  const warnings: string[] = [];
  if (isDir) {
    const candidates = [join(path, 'wg_confs', 'wg0.conf'), join(path, 'wg0.conf')];
    const found = candidates.find((c) => existsSync(c));
    if (!found) {
      throw new MigrateError(`${path} is a folder but holds neither wg_confs/wg0.conf nor wg0.conf (expected a linuxserver/wireguard config folder)`);
    }
    serverConf = found;
    folders = readPeerFolders(path, warnings);
  }
  const confName = isDir ? relative(path, serverConf) : basename(serverConf);
  const parsed = parseWgQuick(readText(serverConf));
  const problems = parsed.errors.map((e) => `${confName} ${e}`);

  // [Interface]: the hub's key, port and old address.
  const interfaces = parsed.sections.filter((s) => s.kind === 'interface');
  let hubPrivateKey: string | null = null;
  let listenPort: number | null = null;
  let hubAddress: ImportSource['hubAddress'] = null;
  if (interfaces.length !== 1) {
    problems.push(`${confName} has ${interfaces.length === 0 ? 'no' : interfaces.length} [Interface] section${interfaces.length === 0 ? '' : 's'} (expected one: the server's)`);
  }
  const iface = interfaces[0];
  if (iface) {
    const key = single(iface, 'PrivateKey');
    if (!key) {
      problems.push(`${confName} [Interface] has no PrivateKey: the hub must keep its key for workers to connect unchanged`);
    } else if (!isValidKey(key.value)) {
      problems.push(`${confName} line ${key.line}: PrivateKey is not 32 bytes of standard base64`);
    } else {
      hubPrivateKey = key.value;
    }
    const port = single(iface, 'ListenPort');
    if (port) {
      if (/^[0-9]{1,5}$/.test(port.value) && Number(port.value) >= 1 && Number(port.value) <= 65535) listenPort = Number(port.value);
      else problems.push(`${confName} line ${port.line}: ListenPort "${port.value}" is not a port number`);
    }
    const v4 = listItems(iface, 'Address')
      .map((a) => parseAddressItem(a.value))
      .find((a) => a.family === 4);
    if (v4 && v4.family === 4) hubAddress = { address: v4.address, prefix: v4.prefix };
    const hooks = ['PreUp', 'PostUp', 'PreDown', 'PostDown'].filter((k) => iface.values.has(k.toLowerCase()));
    if (hooks.length > 0) {
      warnings.push(`${confName} has ${hooks.join('/')} commands (firewall or NAT rules?): wgvm does not run them; set up what they did separately if it is still needed`);
    }
  }
  const hubPublicKey = hubPrivateKey ? encodeKey(publicKeyOf(decodeKey(hubPrivateKey))) : null;

  // [Peer] sections.
  const peerSections = parsed.sections.filter((s) => s.kind === 'peer');
  const matched = new Set<string>();
  let keepalives = 0;
  let hostnameEndpoints = 0;
  const fullTunnel: string[] = [];
  const hubDns: string[] = [];
  const peers = peerSections.map((section: WgQuickSection, i): PeerCandidate => {
    const position = i + 1;
    const problems: string[] = [];
    const publicKeyValue = single(section, 'PublicKey');
    const publicKey = publicKeyValue?.value ?? '';
    if (!publicKeyValue) problems.push('has no PublicKey');
    else if (!isValidKey(publicKey)) problems.push(`line ${publicKeyValue.line}: PublicKey is not 32 bytes of standard base64`);
    const pskValue = single(section, 'PresharedKey');
    const presharedKey = pskValue?.value ?? null;
    if (pskValue && !isValidKey(pskValue.value)) problems.push(`line ${pskValue.line}: PresharedKey is not 32 bytes of standard base64`);

    const folder = folders?.get(publicKey) ?? null;
    if (folder) matched.add(publicKey);
    const comment = section.commentAbove ?? section.leadingComments[0] ?? null;
    const commentName = comment === null ? null : nameFromComment(comment);
    const name = folder ? folder.name : commentName;
    const nodeId = name === null ? null : toNodeId(name);
    const nodeIdFrom: PeerCandidate['nodeIdFrom'] = nodeId === null ? 'generated' : folder ? 'folder' : 'comment';
    const where = folder ? `${folder.folder}/, ${confName} line ${section.line}` : `${confName} line ${section.line}`;
    const label = `peer ${name !== null ? JSON.stringify(name) : position} (${where})`;

    // The node's address: the one IPv4 host route the hub has for it.
    const items = listItems(section, 'AllowedIPs').map((a) => parseAddressItem(a.value));
    const hosts = items.filter((a) => a.family === 4 && a.prefix === 32);
    const dropped = items.filter((a) => !(a.family === 4 && a.prefix === 32)).map((a) => a.text);
    let vpnIp: string | null = null;
    if (hosts.length > 1) {
      problems.push(`has ${hosts.length} IPv4 /32s in AllowedIPs (${hosts.map((h) => h.text).join(', ')}): a node has exactly one address`);
    } else if (hosts.length === 1 && hosts[0]!.family === 4) {
      vpnIp = intToIp(hosts[0]!.address);
      if (folder && folder.address !== null && folder.address !== hosts[0]!.address) {
        problems.push(`AllowedIPs ${vpnIp}/32 in ${confName} differs from Address ${intToIp(folder.address)} in ${folder.file}`);
      }
    } else if (folder && folder.address !== null) {
      vpnIp = intToIp(folder.address);
    } else {
      problems.push('has no IPv4 /32 in AllowedIPs: its address is unknown');
    }
    if (dropped.length > 0 && problems.length === 0) {
      warnings.push(`${label}: AllowedIPs ${dropped.join(', ')} not kept (the hub routes only each node's own IPv4 address)`);
    }

    let endpoint: string | null = null;
    const ep = single(section, 'Endpoint');
    if (ep) {
      endpoint = literalEndpoint(ep.value);
      if (endpoint === null) hostnameEndpoints++;
    }
    if (single(section, 'PersistentKeepalive')) keepalives++;

    if (folder) {
      if (hubPublicKey && folder.serverPublicKey !== null && folder.serverPublicKey !== hubPublicKey) {
        warnings.push(`${folder.file} points at another server key (${folder.serverPublicKey.slice(0, 8)}…) than ${confName}'s (${hubPublicKey.slice(0, 8)}…)`);
      }
      if ((folder.presharedKey ?? null) !== presharedKey) {
        warnings.push(`${folder.file}: its PresharedKey differs from the one in ${confName}; the server's is kept`);
      }
      if (folder.routesEverything) fullTunnel.push(folder.folder);
      if (hubAddress && folder.dns.includes(intToIp(hubAddress.address))) hubDns.push(folder.folder);
    }

    const description = descriptionOf(
      name !== null ? (folder ? folder.folder : (comment ?? name)) : `imported from ${confName} (peer ${position})`,
    );
    return {
      label,
      position,
      name,
      nodeId,
      nodeIdFrom,
      description,
      publicKey,
      presharedKey,
      privateKey: folder ? folder.privateKey : null,
      vpnIp,
      endpoint,
      folder: folder ? folder.folder : null,
      problems,
    };
  });

  if (folders) {
    for (const [key, f] of folders) {
      if (!matched.has(key)) warnings.push(`${f.file}: its key is not a [Peer] of ${confName} (the server does not accept it): not imported`);
    }
  }
  if (keepalives > 0) {
    warnings.push(`PersistentKeepalive of ${keepalives} peer(s) not kept: the hub sends none; the workers' own keepalives keep NAT open`);
  }
  if (hostnameEndpoints > 0) {
    warnings.push(`the Endpoint of ${hostnameEndpoints} peer(s) is a host name, not kept: the hub learns each worker's endpoint when it connects`);
  }
  if (fullTunnel.length > 0) {
    warnings.push(
      `${fullTunnel.length} peer config(s) route everything (AllowedIPs 0.0.0.0/0) into the tunnel (${fullTunnel.slice(0, 5).join(', ')}${fullTunnel.length > 5 ? ', …' : ''}): ` +
        'the hub does not forward to the internet; narrow their AllowedIPs to INTERNAL_SUBNET',
    );
  }
  if (hubDns.length > 0) {
    warnings.push(`${hubDns.length} peer config(s) use the old hub address as DNS server (${hubDns.slice(0, 5).join(', ')}${hubDns.length > 5 ? ', …' : ''}): wgvm runs no DNS server`);
  }

  return { kind: isDir ? 'linuxserver' : 'wg-quick', serverConf, hubPrivateKey, listenPort, hubAddress, peers, problems, warnings };
}
