// Server wg-quick configs as an existing WireGuard setup would have them, for the import tests and
// as the seeds of the wg-quick import fuzzer.
import { intToIp, ipToInt } from '../../src/domain/ipam.js';
import { encodeKey, generateKeyPair, generatePresharedKey, type KeyPair } from '../../src/domain/keys.js';

export interface SamplePeer {
  keys: KeyPair;
  psk: string | null;
  comment: string | null;
  address: string;
}

/** A hub key pair and `count` peers: every third with a PSK, every fifth named by a comment. */
export function samplePeers(count: number): { hub: KeyPair; peers: SamplePeer[] } {
  const peers = Array.from({ length: count }, (_, i): SamplePeer => ({
    keys: generateKeyPair(),
    psk: i % 3 === 0 ? encodeKey(generatePresharedKey()) : null,
    comment: i % 5 === 0 ? `Worker Box #${i}` : null,
    address: intToIp(ipToInt('10.100.1.2') + i),
  }));
  return { hub: generateKeyPair(), peers };
}

export function serverConf(hub: KeyPair, peers: readonly SamplePeer[], listenPort = 41820): string {
  const lines = [
    '# wg0.conf of the old server',
    '[Interface]',
    'Address = 10.100.0.1/16',
    `ListenPort = ${listenPort}`,
    `PrivateKey = ${hub.privateKey}`,
    'PostUp = iptables -A FORWARD -i %i -j ACCEPT',
    '',
  ];
  for (const p of peers) {
    if (p.comment !== null) lines.push(`# ${p.comment}`);
    lines.push('[Peer]', `PublicKey = ${p.keys.publicKey}`);
    if (p.psk !== null) lines.push(`PresharedKey = ${p.psk}  # a trailing comment`);
    lines.push(`AllowedIPs = ${p.address}/32`, '');
  }
  return lines.join('\n');
}
