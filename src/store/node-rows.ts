// A node as the nodes table stores it and as every SELECT of it names its columns, and the Node it
// reads as: one place, for the repository and the paged queries.
import { intToIp } from '../domain/ipam.js';
import type { Node } from '../domain/node.js';

/** A row as the SELECTs name it: a Node but for the stored form of three fields. */
export type NodeRow = Omit<Node, 'vpnIp' | 'enabled' | 'isolated' | 'directPaths' | 'hasPrivateKey'> & {
  vpnIp: number;
  enabled: number;
  isolated: number;
  directPaths: number;
  privateKeySealed: string | null;
  presharedKeySealed: string;
};

// Aliases are quoted: PostgreSQL folds unquoted names to lower case.
export const NODE_COLUMNS = `node_id AS "nodeId", description, central_server_url AS "centralServerUrl", vpn_ip AS "vpnIp",
  public_key AS "publicKey", private_key_sealed AS "privateKeySealed", preshared_key_sealed AS "presharedKeySealed",
  enabled, isolated, direct_paths AS "directPaths", created_at AS "createdAt", updated_at AS "updatedAt", last_handshake_at AS "lastHandshakeAt",
  rx_bytes AS "rxBytes", tx_bytes AS "txBytes", endpoint, answered_from AS "answeredFrom"`;

export function toNode({ vpnIp, enabled, isolated, directPaths, privateKeySealed, presharedKeySealed: _, ...row }: NodeRow): Node {
  return {
    ...row,
    vpnIp: intToIp(vpnIp),
    enabled: enabled === 1,
    isolated: isolated === 1,
    directPaths: directPaths === 1,
    hasPrivateKey: privateKeySealed !== null,
  };
}

