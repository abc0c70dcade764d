// The node_pairs table: for each pair of agent nodes the hub tries to connect directly, the
// preshared key only those two share (sealed at rest) and the path manager's state. A pair goes
// with either node (ON DELETE CASCADE); its state is written only when it changes.
import type { PairState } from '../domain/paths.js';
import type { Db, Statement } from './db.js';
import type { Sealer } from './sealing.js';

/** A pair as stored: its state and its preshared key (clear text here; never log it). */
export interface StoredPair extends PairState {
  presharedKey: string;
}

interface PairRow extends Omit<PairState, 'via'> {
  via: PairState['via'];
  presharedKeySealed: string;
}

const STATE_COLUMNS = 'node_a AS a, node_b AS b, state, via, since, attempt, candidate, deadline';
const COLUMNS = `${STATE_COLUMNS}, preshared_key_sealed AS "presharedKeySealed"`;

export class PairRepository {
  readonly #all: Statement;
  readonly #states: Statement;
  readonly #insert: Statement;
  readonly #update: Statement;
  readonly #delete: Statement;
  readonly #deleteOf: Statement;
  readonly #bothExist: Statement;

  constructor(
    private readonly db: Db,
    private readonly sealer: Sealer,
  ) {
    this.#all = db.prepare(`SELECT ${COLUMNS} FROM node_pairs`);
    this.#states = db.prepare(`SELECT ${STATE_COLUMNS} FROM node_pairs`);
    this.#insert = db.prepare(`INSERT INTO node_pairs (node_a, node_b, preshared_key_sealed, state, via, since, attempt, candidate, deadline)
      VALUES (@a, @b, @presharedKeySealed, @state, @via, @since, @attempt, @candidate, @deadline)`);
    this.#update = db.prepare(`UPDATE node_pairs SET state = @state, via = @via, since = @since, attempt = @attempt,
      candidate = @candidate, deadline = @deadline WHERE node_a = @a AND node_b = @b`);
    this.#delete = db.prepare('DELETE FROM node_pairs WHERE node_a = ? AND node_b = ?');
    this.#deleteOf = db.prepare('DELETE FROM node_pairs WHERE node_a = ? OR node_b = ?');
    this.#bothExist = db.prepare('SELECT COUNT(*) FROM nodes WHERE node_id IN (?, ?)').pluck();
  }

  list(): StoredPair[] {
    return (this.#all.all() as PairRow[]).map(({ presharedKeySealed, ...pair }) => ({ ...pair, presharedKey: this.sealer.unseal(presharedKeySealed) }));
  }

  /** The pairs without their keys: what is shown needs no unsealing (a few µs a pair, 130,816 pairs for 512 agents). */
  listStates(): PairState[] {
    return this.#states.all() as PairState[];
  }

  /**
   * In one transaction: new pairs are inserted with their key, known ones get their new state, gone
   * ones are deleted. A pair whose node was deleted meanwhile is skipped (the foreign key would
   * refuse it; the next plan drops it anyway). It is looked for first rather than caught: a failed
   * statement ends a PostgreSQL transaction, and the write lock keeps the node from going in between.
   */
  apply(added: readonly StoredPair[], changed: readonly PairState[], removed: readonly Pick<PairState, 'a' | 'b'>[]): void {
    this.db.write(() => {
      for (const { presharedKey, ...pair } of added) {
        if (this.#bothExist.get(pair.a, pair.b) !== 2) continue;
        this.#insert.run({ ...pair, presharedKeySealed: this.sealer.seal(presharedKey) });
      }
      for (const pair of changed) this.#update.run(pair);
      for (const { a, b } of removed) this.#delete.run(a, b);
    });
  }

  /** Drops every pair of the node (its keys changed: its pairs start again with new keys). */
  deleteOf(nodeId: string): number {
    return this.#deleteOf.run(nodeId, nodeId).changes;
  }
}
