// A registry node as the store would return it, for tests that need one without a store.
import type { Node } from '../../src/domain/node.js';

export function aNode(nodeId: string, extra: Partial<Node> = {}): Node {
  return {
    nodeId,
    description: '',
    centralServerUrl: null,
    vpnIp: '10.100.1.2',
    publicKey: 'k',
    hasPrivateKey: true,
    enabled: true,
    isolated: false,
    directPaths: true,
    createdAt: '',
    updatedAt: '',
    lastHandshakeAt: null,
    rxBytes: 0,
    txBytes: 0,
    endpoint: null,
    answeredFrom: null,
    ...extra,
  };
}
