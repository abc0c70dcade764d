// Reading the nodes table a page at a time, filtered by status and text, and its totals: what the
// API's paged list and the hub summaries ask for, answered by the database without loading every node.
import { ONLINE_WINDOW_MS, type Node, type NodeStatus } from '../domain/node.js';
import type { Db, Engine, Statement } from './db.js';
import { NODE_COLUMNS, toNode, type NodeRow } from './node-rows.js';

export interface NodePageQuery {
  limit: number;
  offset: number;
  status?: NodeStatus | undefined;
  /** Case-insensitive (ASCII letters) part of the node ID, description, VPN address, endpoint, central server URL or public key. */
  text?: string | undefined;
  /** What "online" is measured against (ms since the epoch). */
  now: number;
}

export interface NodePage {
  /** In VPN address order: a stable order, as the address is unique. */
  nodes: Node[];
  /** How many nodes match, on every page. */
  total: number;
}

export interface NodeTotals {
  total: number;
  online: number;
  rxBytes: number;
  txBytes: number;
}

// Where the text filter looks, each column on its own (no concatenated copy of every row). The
// dotted address is made as text only for a filter that could be part of one.
const TEXT_COLUMNS = ['node_id', 'description', 'public_key', "COALESCE(endpoint, '')", "COALESCE(central_server_url, '')"];
const VPN_IP_TEXT = `((vpn_ip >> 24) & 255) || '.' || ((vpn_ip >> 16) & 255) || '.' || ((vpn_ip >> 8) & 255) || '.' || (vpn_ip & 255)`;
const couldBeAddress = (text: string) => /^[0-9.]+$/.test(text);
// The position of a substring: SQLite's instr is PostgreSQL's strpos. lower() folds A-Z only in both
// (PostgreSQL's text columns are COLLATE "C").
const POSITION: Record<Engine, string> = { sqlite: 'instr', postgres: 'strpos' };
const textWhere = (engine: Engine, withAddress: boolean) =>
  `(${[...TEXT_COLUMNS, ...(withAddress ? [VPN_IP_TEXT] : [])].map((c) => `${POSITION[engine]}(lower(${c}), @text) > 0`).join(' OR ')})`;

// statusOf (domain/node.ts) in SQL: ISO 8601 UTC times of one format compare as text.
const STATUS_WHERE: Record<NodeStatus, string> = {
  disabled: 'enabled = 0',
  pending: 'enabled = 1 AND last_handshake_at IS NULL',
  online: 'enabled = 1 AND last_handshake_at > @onlineSince',
  offline: 'enabled = 1 AND last_handshake_at <= @onlineSince',
};

export class NodeQueries {
  /** One prepared pair (page, count) per combination of filters. */
  readonly #prepared = new Map<string, { page: Statement; count: Statement }>();
  readonly #totals: Statement;

  constructor(private readonly db: Db) {
    this.#totals = db.prepare(`SELECT COUNT(*) AS total, COALESCE(SUM(CASE WHEN ${STATUS_WHERE.online} THEN 1 ELSE 0 END), 0) AS online,
      COALESCE(SUM(rx_bytes), 0) AS "rxBytes", COALESCE(SUM(tx_bytes), 0) AS "txBytes" FROM nodes`);
  }

  page(q: NodePageQuery): NodePage {
    const text = q.text ? asciiLower(q.text) : '';
    const filters = [q.status ? STATUS_WHERE[q.status] : null, text ? textWhere(this.db.engine, couldBeAddress(text)) : null].filter((f) => f !== null);
    const key = filters.join(' AND ');
    let statements = this.#prepared.get(key);
    if (!statements) {
      const where = filters.length ? `WHERE ${key}` : '';
      statements = {
        page: this.db.prepare(`SELECT ${NODE_COLUMNS} FROM nodes ${where} ORDER BY vpn_ip LIMIT @limit OFFSET @offset`),
        count: this.db.prepare(`SELECT COUNT(*) FROM nodes ${where}`).pluck(),
      };
      this.#prepared.set(key, statements);
    }
    const params = {
      ...(q.status === 'online' || q.status === 'offline' ? { onlineSince: onlineSince(q.now) } : {}),
      ...(text ? { text } : {}),
    };
    return {
      nodes: (statements.page.all({ ...params, limit: q.limit, offset: q.offset }) as NodeRow[]).map(toNode),
      total: statements.count.get(params) as number,
    };
  }

  totals(now: number): NodeTotals {
    return this.#totals.get({ onlineSince: onlineSince(now) }) as NodeTotals;
  }

  /** Changes when another connection (another process) commits to the database, not with our own. */
  dataVersion(): number {
    return this.db.dataVersion();
  }
}

/** SQLite's lower() folds A-Z only: the filter text is folded the same way. */
const asciiLower = (text: string) => text.replace(/[A-Z]/g, (c) => c.toLowerCase());

/** A node whose last handshake is after this is online. */
const onlineSince = (now: number) => new Date(now - ONLINE_WINDOW_MS).toISOString();
