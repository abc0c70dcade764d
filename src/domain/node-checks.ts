// What the registry accepts as a node's ID and keys: the one list of these rules, applied to a
// registration and a key replacement (the first problem refused), an import (every problem of every
// node reported) and a restore.
import { decodeKey, encodeKey, isValidKey, isWeakPublicKey, publicKeyOf } from './keys.js';
import { isNodeId, NODE_ID_RULE } from './names.js';

export interface NodeKeys {
  publicKey: string;
  /** Null when the worker registered its own public key and keeps the private key to itself. */
  privateKey: string | null;
  presharedKey: string;
}

export interface NodeIdentity extends NodeKeys {
  nodeId: string;
}

/** Which value a problem is about; the names are the API's field names. */
export type NodeField = 'node_id' | 'public_key' | 'private_key' | 'preshared_key';

/** At most one problem per field, in the order of NodeField. */
export interface NodeProblem {
  field: NodeField;
  message: string;
}

/** The first characters of a key and an ellipsis: enough to tell keys apart in a message or a log. */
export function keyFingerprint(key: string): string {
  return `${key.slice(0, 8)}…`;
}

/** The public key of a private key, both as `wg` writes them (the private key must be valid). */
export function publicKeyFor(privateKey: string): string {
  return encodeKey(publicKeyOf(decodeKey(privateKey)));
}

export function nodeIdProblems(nodeId: string): NodeProblem[] {
  return isNodeId(nodeId) ? [] : [{ field: 'node_id', message: `node ID "${nodeId}" must be ${NODE_ID_RULE}` }];
}

export interface KeyCheckOptions {
  /**
   * Also refuse a private key that is not the public key's: for keys from outside (an import, a
   * backup). A registration gets the pairs the hub has just made, and skips the X25519 step.
   */
  matchPair?: boolean;
}

/** Formats, a weak public key, and (with matchPair) a private key that is not the public key's. */
export function keyProblems(keys: NodeKeys, options: KeyCheckOptions = {}): NodeProblem[] {
  const problems: NodeProblem[] = [];
  const publicKeyValid = isValidKey(keys.publicKey);
  if (!publicKeyValid) {
    problems.push({ field: 'public_key', message: 'the public key is not 32 bytes of standard base64' });
  } else if (isWeakPublicKey(decodeKey(keys.publicKey))) {
    problems.push({ field: 'public_key', message: `the public key ${keyFingerprint(keys.publicKey)} is a weak key (a point of small order)` });
  }
  if (keys.privateKey !== null) {
    if (!isValidKey(keys.privateKey)) {
      problems.push({ field: 'private_key', message: 'the private key is not 32 bytes of standard base64' });
    } else if (options.matchPair && publicKeyValid && publicKeyFor(keys.privateKey) !== keys.publicKey) {
      problems.push({ field: 'private_key', message: `the private key does not belong to the public key ${keyFingerprint(keys.publicKey)}` });
    }
  }
  if (!isValidKey(keys.presharedKey)) {
    problems.push({ field: 'preshared_key', message: 'the preshared key is not 32 bytes of standard base64' });
  }
  return problems;
}

/** Every problem of the node's ID and keys that needs no registry to find. */
export function nodeProblems(node: NodeIdentity, options: KeyCheckOptions = {}): NodeProblem[] {
  return [...nodeIdProblems(node.nodeId), ...keyProblems(node, options)];
}
