// What the active hub of a shared registry tells agents of the hubs (docs/agent-protocol.md, "Two
// hubs"): its own WireGuard endpoint, whether its device has a session with the node (an agent
// moves its hub peer only when not), and every hub's API origin. A standby tells them to go on.
import { isAgentHubUrl } from '../domain/install.js';
import type { AgentHubs } from '../http/api-agent.js';
import type { HubLines } from '../paths/answer.js';

/** A session is up while the device's last handshake with the node is younger than this (WireGuard's REJECT_AFTER_TIME). */
export const SESSION_FRESH_MS = 180_000;
/** The hubs' origins are read from the registry at most this often (every answer carries them). */
export const HUB_LIST_CACHE_MS = 10_000;
/** How many origins an answer names at most (the agent keeps no more). */
export const MAX_ANSWER_APIS = 8;

// What the agent takes as the hub's endpoint (it refuses a whole answer with anything else):
// IPv4:port, [IPv6]:port, or a DNS name of letters, digits, dots and inner hyphens, with a port.
const AGENT_ENDPOINT = /^(?:\[[0-9A-Fa-f:.]+\]|(?=[A-Za-z0-9.-]*[A-Za-z-])[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|(?:[0-9]{1,3}\.){3}[0-9]{1,3}):([0-9]{1,5})$/;

/** Whether an agent takes `endpoint` as the hub's (see AGENT_ENDPOINT; port 1 to 65535). */
export function isAgentEndpoint(endpoint: string): boolean {
  const m = AGENT_ENDPOINT.exec(endpoint);
  return m !== null && Number(m[1]) >= 1 && Number(m[1]) <= 65535;
}

export interface AgentHubsSources {
  /** This hub's WireGuard endpoint, as workers are told to reach it (host:port). */
  endpoint: string;
  /** This hub's API origin. */
  apiUrl: string;
  /** Whether this hub runs the device now, and who held the lease at the last claim. */
  lease: () => { active: boolean; holder: string | null };
  /** Every hub's API origin the registry has seen lately (NodesService.hubApis). */
  hubApis: () => string[];
  /** The node's public key (base64), or null when it is gone. */
  publicKeyOf: (nodeId: string) => string | null;
  /** When this hub's device last completed a handshake with the peer (ms), or null: not since it came up. */
  lastHandshakeAt: (publicKey: string) => number | null;
  now?: () => number;
}

export class AgentHubView implements AgentHubs {
  #apis: string[] = [];
  #apisReadAt = -Infinity;

  constructor(private readonly o: AgentHubsSources) {}

  standby(): { active: string | null } | null {
    const { active, holder } = this.o.lease();
    return active ? null : { active: holder };
  }

  lines(nodeId: string): HubLines {
    const now = (this.o.now ?? Date.now)();
    const key = this.o.publicKeyOf(nodeId);
    const at = key === null ? null : this.o.lastHandshakeAt(key);
    return {
      endpoint: isAgentEndpoint(this.o.endpoint) ? this.o.endpoint : null,
      session: at !== null && now - at < SESSION_FRESH_MS ? 'up' : 'none',
      apis: this.#apiList(now),
    };
  }

  #apiList(now: number): string[] {
    if (now - this.#apisReadAt >= HUB_LIST_CACHE_MS) {
      // Only origins the agent takes: one it refuses would make it refuse the whole answer.
      this.#apis = [...new Set([this.o.apiUrl, ...this.o.hubApis()])].filter(isAgentHubUrl).slice(0, MAX_ANSWER_APIS);
      this.#apisReadAt = now;
    }
    return this.#apis;
  }
}
