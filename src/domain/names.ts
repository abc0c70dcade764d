// The names the hub accepts, each rule in one place: node IDs, WireGuard interface names, host names.

/**
 * A node ID (the worker's NODE_ID): 1-63 of a-z, 0-9 and "-", starting with a letter or digit. A DNS
 * label, so that it can also name the worker.
 */
export const NODE_ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;
export const NODE_ID_RULE = '1-63 of a-z, 0-9 and "-", starting with a letter or digit';

export function isNodeId(value: unknown): value is string {
  return typeof value === 'string' && NODE_ID_PATTERN.test(value);
}

/** wg-quick's rule for interface names (Linux allows 15 bytes); also a valid Windows tunnel name. */
export const INTERFACE_NAME_PATTERN = /^[A-Za-z0-9_=+.-]{1,15}$/;
export const INTERFACE_NAME_RULE = '1-15 of A-Z a-z 0-9 _ = + . -';

export function isInterfaceName(value: string): boolean {
  return INTERFACE_NAME_PATTERN.test(value);
}

// A DNS label: letters, digits and inner hyphens, 63 at most. Underscores are allowed where names
// are only looked up (search domains, endpoints), as resolvers accept them.
const LABEL = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?';
const LOOKUP_LABEL = '[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?';
const HOST_NAME = new RegExp(`^(?=.{1,253}\\.?$)${LABEL}(?:\\.${LABEL})*\\.?$`);
const LOOKUP_NAME = new RegExp(`^(?=.{1,253}\\.?$)${LOOKUP_LABEL}(?:\\.${LOOKUP_LABEL})*\\.?$`);

/** A host name a server can carry (RFC 1123): dot-separated labels, an optional final dot. */
export function isHostName(value: string): boolean {
  return HOST_NAME.test(value);
}

/** A name that is only looked up (a DNS search domain, an endpoint's host): underscores allowed. */
export function isLookupName(value: string): boolean {
  return LOOKUP_NAME.test(value);
}

/** A node's name in the hub's DNS zone: `<node_id>.<domain>` (node IDs are DNS labels already). */
export function nodeDnsName(nodeId: string, domain: string): string {
  return `${nodeId}.${domain}`;
}
