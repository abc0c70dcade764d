// The worker's wg-quick(8) configuration: what `GET /api/clients/:node_id/config` returns, what the
// QR code carries and what both installers write. LF line endings, trailing newline.
import { checkWorkerInstall, type WorkerInstall } from '../domain/install.js';
import { parseIp } from '../domain/ip.js';

export const OWN_KEY_COMMENT =
  '# This node registered its own public key: the hub never had its private key.';
export const PRIVATE_KEY_COMMENT = '# PrivateKey: add the private key whose public key you registered';

/** The lines that follow the PrivateKey line (or its comments): Address … PersistentKeepalive. */
export function wgQuickTail(i: WorkerInstall): string[] {
  checkWorkerInstall(i);
  const lines = [`Address = ${i.vpnIp}/${parseIp(i.vpnIp)?.family === 6 ? 128 : 32}`];
  if (i.dns.length > 0) lines.push(`DNS = ${i.dns.join(', ')}`);
  lines.push(
    `MTU = ${i.mtu}`,
    '',
    '[Peer]',
    `PublicKey = ${i.hubPublicKey}`,
    `PresharedKey = ${i.presharedKey}`,
    `Endpoint = ${i.endpoint}`,
    `AllowedIPs = ${i.allowedIps.join(', ')}`,
  );
  if (i.persistentKeepalive > 0) lines.push(`PersistentKeepalive = ${i.persistentKeepalive}`);
  return lines;
}

/**
 * The wg-quick config. Without a private key (the worker registered its own public key) the
 * PrivateKey line is left out and two comments say what to add; wg-quick still parses the file.
 */
export function renderWgQuick(i: WorkerInstall): string {
  const keyLines =
    i.privateKey === null ? [OWN_KEY_COMMENT, PRIVATE_KEY_COMMENT] : [`PrivateKey = ${i.privateKey}`];
  return ['[Interface]', ...keyLines, ...wgQuickTail(i)].join('\n') + '\n';
}
