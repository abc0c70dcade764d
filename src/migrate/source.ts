// What an existing WireGuard setup holds, read from disk: a server wg-quick config
// (/etc/wireguard/wg0.conf) or a linuxserver/wireguard config folder (wg_confs/wg0.conf plus one
// peer_<name>/peer_<name>.conf per peer). Nothing here knows the registry; problems that make a peer
// impossible to import are collected per peer, file-wide ones in `problems`.
import { existsSync, statSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { intToIp } from '../domain/ipam.js';
import { decodeKey, encodeKey, isValidKey, publicKeyOf } from '../domain/keys.js';
import { isNodeId } from '../domain/names.js';
import { readPeerFolders, type PeerFolder } from './peer-folders.js';
import { MigrateError, readText } from './read-text.js';
import { listItems, literalEndpoint, parseAddressItem, parseWgQuick, single, type WgQuickSection } from './wgquick.js';

export { MigrateError };

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

/** Reads a server wg-quick config, or a linuxserver/wireguard config folder. */
export function readImportSource(path: string): ImportSource {
  const { isDir, serverConf, folders, warnings } = locateServerConf(path);
  const confName = isDir ? relative(path, serverConf) : basename(serverConf);
  const parsed = parseWgQuick(readText(serverConf));
  const problems = parsed.errors.map((e) => `${confName} ${e}`);
  const hub = readHubInterface(parsed.sections, confName, problems, warnings);
  const context: PeerContext = {
    confName,
    folders,
    hubPublicKey: hub.hubPrivateKey ? encodeKey(publicKeyOf(decodeKey(hub.hubPrivateKey))) : null,
    hubAddress: hub.hubAddress,
    warnings,
    tally: { matched: new Set(), keepalives: 0, hostnameEndpoints: 0, fullTunnel: [], hubDns: [] },
  };
  const peers = parsed.sections.filter((s) => s.kind === 'peer').map((section, i) => peerCandidate(section, i + 1, context));
  warnings.push(...summaryWarnings(context));
  return { kind: isDir ? 'linuxserver' : 'wg-quick', serverConf, ...hub, peers, problems, warnings };
}

/** The server config to read: the file itself, or the one a linuxserver folder holds (with its peer folders). */
function locateServerConf(path: string): { isDir: boolean; serverConf: string; folders: Map<string, PeerFolder> | null; warnings: string[] } {
  let isDir: boolean;
  try {
    isDir = statSync(path).isDirectory();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new MigrateError(`cannot read ${path} (${code === 'ENOENT' ? 'no such file or folder' : (code ?? (err as Error).message)})`);
  }
  const warnings: string[] = [];
  if (!isDir) return { isDir, serverConf: path, folders: null, warnings };
  const candidates = [join(path, 'wg_confs', 'wg0.conf'), join(path, 'wg0.conf')];
  const found = candidates.find((c) => existsSync(c));
  if (!found) {
    throw new MigrateError(`${path} is a folder but holds neither wg_confs/wg0.conf nor wg0.conf (expected a linuxserver/wireguard config folder)`);
  }
  return { isDir, serverConf: found, folders: readPeerFolders(path, warnings), warnings };
}

type HubInterface = Pick<ImportSource, 'hubPrivateKey' | 'listenPort' | 'hubAddress'>;

/** [Interface]: the hub's key, port and old address. */
function readHubInterface(sections: WgQuickSection[], confName: string, problems: string[], warnings: string[]): HubInterface {
  const hub: HubInterface = { hubPrivateKey: null, listenPort: null, hubAddress: null };
  const interfaces = sections.filter((s) => s.kind === 'interface');
  if (interfaces.length !== 1) {
    problems.push(`${confName} has ${interfaces.length === 0 ? 'no' : interfaces.length} [Interface] section${interfaces.length === 0 ? '' : 's'} (expected one: the server's)`);
  }
  const iface = interfaces[0];
  if (!iface) return hub;
  const key = single(iface, 'PrivateKey');
  if (!key) {
    problems.push(`${confName} [Interface] has no PrivateKey: the hub must keep its key for workers to connect unchanged`);
  } else if (!isValidKey(key.value)) {
    problems.push(`${confName} line ${key.line}: PrivateKey is not 32 bytes of standard base64`);
  } else {
    hub.hubPrivateKey = key.value;
  }
  const port = single(iface, 'ListenPort');
  if (port) {
    if (/^[0-9]{1,5}$/.test(port.value) && Number(port.value) >= 1 && Number(port.value) <= 65535) hub.listenPort = Number(port.value);
    else problems.push(`${confName} line ${port.line}: ListenPort "${port.value}" is not a port number`);
  }
  const v4 = listItems(iface, 'Address')
    .map((a) => parseAddressItem(a.value))
    .find((a) => a.family === 4);
  if (v4 && v4.family === 4) hub.hubAddress = { address: v4.address, prefix: v4.prefix };
  const hooks = ['PreUp', 'PostUp', 'PreDown', 'PostDown'].filter((k) => iface.values.has(k.toLowerCase()));
  if (hooks.length > 0) {
    warnings.push(`${confName} has ${hooks.join('/')} commands (firewall or NAT rules?): wgvm does not run them; set up what they did separately if it is still needed`);
  }
  return hub;
}

/** What every [Peer] is read against, and what the reading counts for the summary warnings. */
interface PeerContext {
  confName: string;
  folders: Map<string, PeerFolder> | null;
  hubPublicKey: string | null;
  hubAddress: ImportSource['hubAddress'];
  warnings: string[];
  tally: { matched: Set<string>; keepalives: number; hostnameEndpoints: number; fullTunnel: string[]; hubDns: string[] };
}

function peerCandidate(section: WgQuickSection, position: number, c: PeerContext): PeerCandidate {
  const problems: string[] = [];
  const publicKeyValue = single(section, 'PublicKey');
  const publicKey = publicKeyValue?.value ?? '';
  if (!publicKeyValue) problems.push('has no PublicKey');
  else if (!isValidKey(publicKey)) problems.push(`line ${publicKeyValue.line}: PublicKey is not 32 bytes of standard base64`);
  const pskValue = single(section, 'PresharedKey');
  const presharedKey = pskValue?.value ?? null;
  if (pskValue && !isValidKey(pskValue.value)) problems.push(`line ${pskValue.line}: PresharedKey is not 32 bytes of standard base64`);

  const folder = c.folders?.get(publicKey) ?? null;
  if (folder) c.tally.matched.add(publicKey);
  const comment = section.commentAbove ?? section.leadingComments[0] ?? null;
  const name = folder ? folder.name : comment === null ? null : nameFromComment(comment);
  const nodeId = name === null ? null : toNodeId(name);
  const where = folder ? `${folder.folder}/, ${c.confName} line ${section.line}` : `${c.confName} line ${section.line}`;
  const label = `peer ${name !== null ? JSON.stringify(name) : position} (${where})`;
  const vpnIp = peerAddress(section, folder, label, problems, c);

  let endpoint: string | null = null;
  const ep = single(section, 'Endpoint');
  if (ep) {
    endpoint = literalEndpoint(ep.value);
    if (endpoint === null) c.tally.hostnameEndpoints++;
  }
  if (single(section, 'PersistentKeepalive')) c.tally.keepalives++;
  if (folder) compareWithFolder(folder, presharedKey, c);

  return {
    label,
    position,
    name,
    nodeId,
    nodeIdFrom: nodeId === null ? 'generated' : folder ? 'folder' : 'comment',
    description: descriptionOf(name !== null ? (folder ? folder.folder : (comment ?? name)) : `imported from ${c.confName} (peer ${position})`),
    publicKey,
    presharedKey,
    privateKey: folder ? folder.privateKey : null,
    vpnIp,
    endpoint,
    folder: folder ? folder.folder : null,
    problems,
  };
}

/** The node's address: the one IPv4 host route the hub has for it (or its folder's Address). */
function peerAddress(section: WgQuickSection, folder: PeerFolder | null, label: string, problems: string[], c: PeerContext): string | null {
  const items = listItems(section, 'AllowedIPs').map((a) => parseAddressItem(a.value));
  const hosts = items.filter((a) => a.family === 4 && a.prefix === 32);
  const dropped = items.filter((a) => !(a.family === 4 && a.prefix === 32)).map((a) => a.text);
  let vpnIp: string | null = null;
  if (hosts.length > 1) {
    problems.push(`has ${hosts.length} IPv4 /32s in AllowedIPs (${hosts.map((h) => h.text).join(', ')}): a node has exactly one address`);
  } else if (hosts.length === 1 && hosts[0]!.family === 4) {
    vpnIp = intToIp(hosts[0]!.address);
    if (folder && folder.address !== null && folder.address !== hosts[0]!.address) {
      problems.push(`AllowedIPs ${vpnIp}/32 in ${c.confName} differs from Address ${intToIp(folder.address)} in ${folder.file}`);
    }
  } else if (folder && folder.address !== null) {
    vpnIp = intToIp(folder.address);
  } else {
    problems.push('has no IPv4 /32 in AllowedIPs: its address is unknown');
  }
  if (dropped.length > 0 && problems.length === 0) {
    c.warnings.push(`${label}: AllowedIPs ${dropped.join(', ')} not kept (the hub routes only each node's own IPv4 address)`);
  }
  return vpnIp;
}

/** Where the peer's own config disagrees with the server's, or asks what the hub does not do. */
function compareWithFolder(folder: PeerFolder, presharedKey: string | null, c: PeerContext): void {
  if (c.hubPublicKey && folder.serverPublicKey !== null && folder.serverPublicKey !== c.hubPublicKey) {
    c.warnings.push(`${folder.file} points at another server key (${folder.serverPublicKey.slice(0, 8)}…) than ${c.confName}'s (${c.hubPublicKey.slice(0, 8)}…)`);
  }
  if ((folder.presharedKey ?? null) !== presharedKey) {
    c.warnings.push(`${folder.file}: its PresharedKey differs from the one in ${c.confName}; the server's is kept`);
  }
  if (folder.routesEverything) c.tally.fullTunnel.push(folder.folder);
  if (c.hubAddress && folder.dns.includes(intToIp(c.hubAddress.address))) c.tally.hubDns.push(folder.folder);
}

function summaryWarnings({ folders, confName, tally }: PeerContext): string[] {
  const warnings: string[] = [];
  const some = (list: string[]) => `${list.slice(0, 5).join(', ')}${list.length > 5 ? ', …' : ''}`;
  for (const [key, f] of folders ?? []) {
    if (!tally.matched.has(key)) warnings.push(`${f.file}: its key is not a [Peer] of ${confName} (the server does not accept it): not imported`);
  }
  if (tally.keepalives > 0) {
    warnings.push(`PersistentKeepalive of ${tally.keepalives} peer(s) not kept: the hub sends none; the workers' own keepalives keep NAT open`);
  }
  if (tally.hostnameEndpoints > 0) {
    warnings.push(`the Endpoint of ${tally.hostnameEndpoints} peer(s) is a host name, not kept: the hub learns each worker's endpoint when it connects`);
  }
  if (tally.fullTunnel.length > 0) {
    warnings.push(
      `${tally.fullTunnel.length} peer config(s) route everything (AllowedIPs 0.0.0.0/0) into the tunnel (${some(tally.fullTunnel)}): ` +
        'the hub does not forward to the internet; narrow their AllowedIPs to INTERNAL_SUBNET',
    );
  }
  if (tally.hubDns.length > 0) {
    warnings.push(
      `${tally.hubDns.length} peer config(s) use the old hub address as DNS server (${some(tally.hubDns)}): ` +
        "wgvm's hub answers DNS only for its own nodes (VPN_DNS=true, <node_id>.VPN_DOMAIN) and forwards nothing else; give those workers a resolver for other names too (PEERDNS)",
    );
  }
  return warnings;
}
