// Makes the device match the registry. The database is the source of truth in `serve` mode: on start
// and after every change the device's peers are brought in line with the enabled nodes, changing
// only what differs so that established sessions survive.

/** What the device should have for one enabled node. */
export interface DesiredPeer {
  publicKey: string; // base64
  presharedKey: string; // base64
  allowedIp: string; // "10.100.1.2/32"
  /** Last endpoint known for the node: set on start so that the hub can reach out at once. */
  endpoint: string | null;
}

export interface AppliedPeer {
  presharedKey: string;
  allowedIp: string;
}

const hex = (b64: string) => Buffer.from(b64, 'base64').toString('hex');

/**
 * The UAPI set body that turns `applied` (what the device has, as far as we set it) into `desired`.
 * With `withEndpoints`, endpoints are set too (used at start: afterwards the device learns them).
 * Returns an empty string when nothing needs to change.
 */
export function reconcileBody(
  applied: ReadonlyMap<string, AppliedPeer>,
  desired: readonly DesiredPeer[],
  withEndpoints: boolean,
): string {
  const lines: string[] = [];
  const wanted = new Set(desired.map((d) => d.publicKey));
  for (const key of applied.keys()) {
    if (!wanted.has(key)) lines.push(`public_key=${hex(key)}`, 'remove=true');
  }
  for (const d of desired) {
    const had = applied.get(d.publicKey);
    const changed = !had || had.presharedKey !== d.presharedKey || had.allowedIp !== d.allowedIp;
    const endpoint = withEndpoints && d.endpoint ? d.endpoint : null;
    if (!changed && !endpoint) continue;
    lines.push(`public_key=${hex(d.publicKey)}`);
    if (changed) {
      lines.push(`preshared_key=${hex(d.presharedKey)}`, 'replace_allowed_ips=true', `allowed_ip=${d.allowedIp}`);
    }
    if (endpoint) lines.push(`endpoint=${endpoint}`);
  }
  return lines.length ? `${lines.join('\n')}\n` : '';
}

/** The state `reconcileBody` leads to, to remember as applied once the device accepted it. */
export function appliedAfter(desired: readonly DesiredPeer[]): Map<string, AppliedPeer> {
  return new Map(desired.map((d) => [d.publicKey, { presharedKey: d.presharedKey, allowedIp: d.allowedIp }]));
}
