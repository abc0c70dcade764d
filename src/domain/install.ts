// What every renderer gets: one worker's installation data, and the one place it is validated.
//
// The installers are scripts: every value that reaches them is either checked against a narrow
// character set here (keys, addresses, node id, numbers, interface name) or treated as free text
// (description, URLs) that the script never parses — see windows.ts and posix-shell.ts.
import { InstallInputError } from './errors.js';
import { isCidr, isEndpoint, isPlainIp } from './ip.js';
import { isValidKey } from './keys.js';
import { INTERFACE_NAME_RULE, isInterfaceName, isLookupName, isNodeId, NODE_ID_RULE } from './names.js';
import { checkFreeText, checkHttpUrl } from './text.js';

export interface WorkerInstall {
  /** wg-quick interface name and Windows tunnel name, e.g. 'wg0'. */
  interfaceName: string;
  nodeId: string;
  description: string;
  centralServerUrl: string | null;
  /** The worker's VPN address, e.g. '10.100.1.2'. */
  vpnIp: string;
  /** null: the worker registered its own public key; the hub never had the private key. */
  privateKey: string | null;
  presharedKey: string;
  /** PEERDNS; may be empty. */
  dns: readonly string[];
  mtu: number;
  hubPublicKey: string;
  /** SERVERURL:SERVERPORT, e.g. 'vpn.example.com:41820'; an IPv6 literal is bracketed. */
  endpoint: string;
  /** ALLOWEDIPS, default ['10.100.0.0/16']. */
  allowedIps: readonly string[];
  /** Seconds; 0 turns it off (the line is then left out). */
  persistentKeepalive: number;
  /** The hub's VPN address; the installers ping it at the end. */
  hubVpnIp: string;
  /** SERVERPORT, for the Windows firewall rule. */
  serverPort: number;
  /** INTERNAL_SUBNET, for the Windows firewall rule. */
  subnet: string;
  /** Where the config can be fetched with an install token; only mentioned in the .sh header. */
  configUrl?: string;
  /**
   * The worker agent (docs/agent-protocol.md), installed by the Linux/macOS installer; null: none
   * (the Windows installer and the wg-quick config never carry it).
   */
  agent: AgentInstall | null;
}

export interface AgentInstall {
  /**
   * The API's origin as workers reach it: http(s)://host[:port], no path; with hubs sharing a
   * registry, up to MAX_AGENT_HUB_URLS of them, comma-separated, the agent asking them in order.
   */
  hubUrl: string;
  /** The node's agent credential: 32 random bytes, base64url without padding (43 characters). */
  credential: string;
}

export const AGENT_CREDENTIAL_PATTERN = /^[A-Za-z0-9_-]{43}$/;
// A host name, an IPv4 address or a bracketed IPv6 address, and an optional port: nothing a shell,
// a here-document or the agent's own config parser treats specially.
const AGENT_HUB_URL = /^https?:\/\/(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$/;

/** Whether a URL is one the agent's configuration can carry: http(s)://host[:port], nothing else. */
export function isAgentHubUrl(url: string): boolean {
  const port = /:([0-9]+)$/.exec(url.replace(/^https?:\/\//, ''));
  return AGENT_HUB_URL.test(url) && (!port || (Number(port[1]) >= 1 && Number(port[1]) <= 65535));
}

/** How many hub origins an agent's configuration holds at most. */
export const MAX_AGENT_HUB_URLS = 8;

/** Throws InstallInputError naming the first agent field the installer cannot carry. */
export function checkAgentInstall(a: AgentInstall): void {
  const urls = typeof a.hubUrl === 'string' ? a.hubUrl.split(',') : [];
  if (urls.length === 0 || urls.length > MAX_AGENT_HUB_URLS || !urls.every(isAgentHubUrl)) {
    throw new InstallInputError('agent.hubUrl', `must be 1 to ${MAX_AGENT_HUB_URLS} comma-separated http(s)://host[:port] (port 1 to 65535) with no path, quotes or spaces`);
  }
  for (const url of urls) checkHttpUrl('agent.hubUrl', url);
  if (typeof a.credential !== 'string' || !AGENT_CREDENTIAL_PATTERN.test(a.credential)) {
    throw new InstallInputError('agent.credential', 'must be 43 characters of A-Z a-z 0-9 _ - (32 bytes, base64url)');
  }
}

function checkInt(field: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new InstallInputError(field, `must be an integer from ${min} to ${max}`);
  }
}

function checkKey(field: string, value: string): void {
  if (typeof value !== 'string' || !isValidKey(value)) {
    throw new InstallInputError(field, 'must be a WireGuard key (32 bytes of base64)');
  }
}

/** Throws InstallInputError naming the first field an installer cannot carry safely. */
export function checkWorkerInstall(i: WorkerInstall): void {
  if (!isInterfaceName(i.interfaceName)) throw new InstallInputError('interfaceName', `must be ${INTERFACE_NAME_RULE}`);
  if (!isNodeId(i.nodeId)) throw new InstallInputError('nodeId', `must be ${NODE_ID_RULE}`);
  checkFreeText('description', i.description);
  if (i.centralServerUrl !== null) checkHttpUrl('centralServerUrl', i.centralServerUrl);
  if (i.configUrl !== undefined) checkHttpUrl('configUrl', i.configUrl);
  if (!isPlainIp(i.vpnIp)) throw new InstallInputError('vpnIp', 'must be an IP address');
  if (!isPlainIp(i.hubVpnIp)) throw new InstallInputError('hubVpnIp', 'must be an IP address');
  if (i.privateKey !== null) checkKey('privateKey', i.privateKey);
  checkKey('presharedKey', i.presharedKey);
  checkKey('hubPublicKey', i.hubPublicKey);
  for (const d of i.dns) {
    if (!isPlainIp(d) && !isLookupName(d)) {
      throw new InstallInputError('dns', `${JSON.stringify(d)} is neither an IP address nor a search domain`);
    }
  }
  checkInt('mtu', i.mtu, 576, 65535);
  if (!isEndpoint(i.endpoint)) {
    throw new InstallInputError('endpoint', 'must be host:port (an IPv6 address in brackets)');
  }
  if (i.allowedIps.length === 0) throw new InstallInputError('allowedIps', 'must not be empty');
  for (const a of i.allowedIps) {
    if (!isCidr(a)) throw new InstallInputError('allowedIps', `${JSON.stringify(a)} is not address/prefix`);
  }
  checkInt('persistentKeepalive', i.persistentKeepalive, 0, 65535);
  checkInt('serverPort', i.serverPort, 1, 65535);
  if (!isCidr(i.subnet)) throw new InstallInputError('subnet', 'must be address/prefix');
  if (i.agent !== null) checkAgentInstall(i.agent);
}
