// Direct paths between workers, as the registry keeps them: one record per pair of agent nodes.
// Shared by the store (which persists them) and the path manager (which decides them).

/**
 * - trying: both agents hold the other as a peer without allowed IPs (a handshake only), at the
 *   endpoint the pair's current candidate names; traffic still goes through the hub.
 * - direct: both hold the other with its /32 (or /128): traffic goes straight.
 * - relayed: neither holds the other; traffic goes through the hub until the next try.
 */
export type PathState = 'trying' | 'direct' | 'relayed';

/** How a try reaches the other worker: its address on a LAN both share, or through its NAT. */
export type PathVia = 'lan' | 'nat';

export interface PairState {
  /** The pair's node IDs, a < b. */
  a: string;
  b: string;
  state: PathState;
  /** The kind of endpoint being tried, or the one the direct path was made over; null when relayed. */
  via: PathVia | null;
  /** When the pair entered this state (ms since the epoch). */
  since: number;
  /** Which try this is or was (1 for the first); sets the back-off of the next. */
  attempt: number;
  /** While trying: the index of the candidate endpoint being tried. */
  candidate: number;
  /** trying: the end of this candidate's try; relayed: the next try; direct: 0. */
  deadline: number;
}

/** The pair's key in maps: the two node IDs in order (a newline never occurs in a node ID). */
export function pairKey(x: string, y: string): string {
  return x < y ? `${x}\n${y}` : `${y}\n${x}`;
}

/** The other node of a pair. */
export function otherOf(pair: Pick<PairState, 'a' | 'b'>, nodeId: string): string {
  return pair.a === nodeId ? pair.b : pair.a;
}
