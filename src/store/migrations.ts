// The schema, as an append-only list of migrations. Never edit a released migration: add one.
// Addresses are stored as uint32 integers so that ordering and range scans are index scans.

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'registry',
    sql: `
      CREATE TABLE nodes (
        node_id              TEXT PRIMARY KEY,
        description          TEXT NOT NULL DEFAULT '',
        central_server_url   TEXT,
        vpn_ip               INTEGER NOT NULL UNIQUE CHECK (vpn_ip BETWEEN 0 AND 4294967295),
        public_key           TEXT NOT NULL UNIQUE,
        private_key_sealed   TEXT,             -- NULL: the worker keeps its own private key
        preshared_key_sealed TEXT NOT NULL,
        enabled              INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
        created_at           TEXT NOT NULL,
        updated_at           TEXT NOT NULL,
        last_handshake_at    TEXT,
        rx_bytes             INTEGER NOT NULL DEFAULT 0,
        tx_bytes             INTEGER NOT NULL DEFAULT 0,
        endpoint             TEXT
      ) STRICT;

      CREATE TABLE install_tokens (
        token_hash BLOB PRIMARY KEY,          -- SHA-256 of the token; the token itself is never stored
        node_id    TEXT NOT NULL REFERENCES nodes (node_id) ON DELETE CASCADE,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        uses_left  INTEGER NOT NULL CHECK (uses_left >= 0)
      ) STRICT;
      CREATE INDEX install_tokens_by_node ON install_tokens (node_id);

      -- No foreign key: the history of a node outlives the node.
      CREATE TABLE audit_log (
        id      INTEGER PRIMARY KEY AUTOINCREMENT,
        at      TEXT NOT NULL,
        actor   TEXT NOT NULL,
        action  TEXT NOT NULL,
        node_id TEXT,
        detail  TEXT NOT NULL
      ) STRICT;

      CREATE TABLE settings (
        key    TEXT PRIMARY KEY,
        value  TEXT NOT NULL,
        sealed INTEGER NOT NULL CHECK (sealed IN (0, 1))
      ) STRICT;
    `,
  },
  {
    version: 2,
    name: 'install token expiry index',
    // Purging expired tokens and counting live ones go by expiry.
    sql: 'CREATE INDEX install_tokens_by_expiry ON install_tokens (expires_at);',
  },
  {
    version: 3,
    name: 'the hub address each node is answered from',
    // Live state like the endpoint: which of the hub's addresses the worker writes to (and is
    // answered from). NULL: not known, or the kernel's choice.
    sql: 'ALTER TABLE nodes ADD COLUMN answered_from TEXT;',
  },
  {
    version: 4,
    name: 'a count of usable install tokens',
    // Tokens with uses left, expired or not, counted by triggers: a new token checks the limit on
    // all tokens against this row instead of counting every token's row (one per node), and counts
    // the unexpired ones only when this bound reaches the limit. Cascaded deletes fire the triggers too.
    sql: `
      CREATE TABLE install_token_count (
        id     INTEGER PRIMARY KEY CHECK (id = 1),
        usable INTEGER NOT NULL CHECK (usable >= 0)
      ) STRICT;
      INSERT INTO install_token_count (id, usable) SELECT 1, COUNT(*) FROM install_tokens WHERE uses_left > 0;
      CREATE TRIGGER install_token_count_insert AFTER INSERT ON install_tokens WHEN NEW.uses_left > 0
        BEGIN UPDATE install_token_count SET usable = usable + 1 WHERE id = 1; END;
      CREATE TRIGGER install_token_count_delete AFTER DELETE ON install_tokens WHEN OLD.uses_left > 0
        BEGIN UPDATE install_token_count SET usable = usable - 1 WHERE id = 1; END;
      CREATE TRIGGER install_token_count_update AFTER UPDATE OF uses_left ON install_tokens
        WHEN (OLD.uses_left > 0) <> (NEW.uses_left > 0)
        BEGIN UPDATE install_token_count SET usable = usable + (CASE WHEN NEW.uses_left > 0 THEN 1 ELSE -1 END) WHERE id = 1; END;
    `,
  },
  {
    version: 5,
    name: 'direct paths between workers',
    // isolated: the node reaches the hub only (no relay, no direct peers). direct_paths: whether the
    // hub may pair this node's agent with others. An agent credential is stored as its SHA-256 only.
    // A pair is kept once, node_a < node_b, with the preshared key only these two share and the
    // path manager's state; both go with either node.
    sql: `
      ALTER TABLE nodes ADD COLUMN isolated INTEGER NOT NULL DEFAULT 0 CHECK (isolated IN (0, 1));
      ALTER TABLE nodes ADD COLUMN direct_paths INTEGER NOT NULL DEFAULT 1 CHECK (direct_paths IN (0, 1));

      CREATE TABLE agent_credentials (
        node_id    TEXT PRIMARY KEY REFERENCES nodes (node_id) ON DELETE CASCADE,
        token_hash BLOB NOT NULL UNIQUE,
        created_at TEXT NOT NULL
      ) STRICT;

      CREATE TABLE node_pairs (
        node_a               TEXT NOT NULL REFERENCES nodes (node_id) ON DELETE CASCADE,
        node_b               TEXT NOT NULL REFERENCES nodes (node_id) ON DELETE CASCADE,
        preshared_key_sealed TEXT NOT NULL,
        state                TEXT NOT NULL CHECK (state IN ('trying', 'direct', 'relayed')),
        via                  TEXT CHECK (via IN ('lan', 'nat')),
        since                INTEGER NOT NULL,  -- ms since the epoch
        attempt              INTEGER NOT NULL,
        candidate            INTEGER NOT NULL,
        deadline             INTEGER NOT NULL,  -- ms: the end of a try, or the next try of a relayed pair
        PRIMARY KEY (node_a, node_b),
        CHECK (node_a < node_b)
      ) STRICT;
      CREATE INDEX node_pairs_by_b ON node_pairs (node_b);
    `,
  },
  {
    version: 6,
    name: 'the hub lease',
    // One row: which hub runs the WireGuard device, and until when (ms, by the database's clock). With
    // SQLite one hub holds it; on PostgreSQL hubs sharing the registry take turns (src/store/lease.ts).
    // hubs: every hub that shares the registry, as agents and admins see them.
    sql: `
      CREATE TABLE hub_lease (
        id         INTEGER PRIMARY KEY CHECK (id = 1),
        holder     TEXT NOT NULL,
        since      INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
      ) STRICT;
      CREATE TABLE hubs (
        hub_id   TEXT PRIMARY KEY,
        api_url  TEXT NOT NULL,
        endpoint TEXT NOT NULL,
        seen_at  INTEGER NOT NULL
      ) STRICT;
    `,
  },
];

export const LATEST_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;
