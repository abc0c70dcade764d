// The worker thread's side of a PostgreSQL connection (see sync-worker.ts): JavaScript text run as
// an `eval` worker, so that it needs no build step. It holds one `pg` Client and answers one
// request at a time: connect, exec (statements without parameters), query, close.
//
// data: { pgPath, url, setup, statementTimeoutMs, connectTimeoutMs }
// A connection lost between transactions is opened again at the next request; one lost inside a
// transaction is not (`tx`): its statements must fail, not run outside the transaction and its lock.
export const PG_WORKER_SOURCE = String.raw`
const pg = require(data.pgPath);
const int8 = (text) => {
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new RangeError('an integer beyond 2^53 came back from PostgreSQL: ' + text);
  return n;
};
// BIGINT (int8) and NUMERIC (SUM of BIGINTs) as numbers, like SQLite's integers.
const types = { getTypeParser: (oid, format) => (oid === 20 ? int8 : oid === 1700 ? Number : pg.types.getTypeParser(oid, format)) };
let client = null;
let names = new Map();

async function connected(inTransaction) {
  if (client) return client;
  if (inTransaction) throw new Error('the connection to PostgreSQL was lost during a transaction; it was rolled back');
  const c = new pg.Client({
    connectionString: data.url,
    types,
    application_name: 'wgvm',
    statement_timeout: data.statementTimeoutMs,
    // The server's timeout cannot help when the server is out of reach (a cut link): the client's
    // own, a second later, frees the blocked caller instead of the worker's last-resort deadline.
    query_timeout: data.statementTimeoutMs + 1000,
    connectionTimeoutMillis: data.connectTimeoutMs,
  });
  // An idle connection that breaks must not end the worker: the next request opens a new one.
  c.on('error', () => { if (client === c) client = null; });
  c.on('end', () => { if (client === c) client = null; });
  await c.connect();
  await c.query(data.setup);
  client = c;
  names = new Map();
  return c;
}

// Parameters crossed the thread as Uint8Array; pg sends a Buffer as BYTEA.
const value = (v) => (v instanceof Uint8Array && !Buffer.isBuffer(v) ? Buffer.from(v.buffer, v.byteOffset, v.byteLength) : v);

// A query the client's timeout gave up on leaves the connection waiting for its answer: it is
// closed, so that the next request opens a new one instead of queueing behind it.
async function run(c, query) {
  try {
    return await c.query(query);
  } catch (err) {
    if (/Query read timeout/.test(err.message)) {
      if (client === c) client = null;
      c.connection.stream.destroy();
      const gone = new Error('no answer in ' + (data.statementTimeoutMs + 1000) / 1000 + ' s; the connection is closed');
      gone.code = 'ETIMEDOUT';
      throw gone;
    }
    throw err;
  }
}

return async (request) => {
  switch (request.op) {
    case 'connect':
      await connected(false);
      return null;
    case 'close': {
      const c = client;
      client = null;
      if (c) await c.end();
      return null;
    }
    case 'exec':
      await run(await connected(request.tx), request.sql);
      return null;
    case 'query': {
      const c = await connected(request.tx);
      // Named statements are parsed once per connection.
      let name = names.get(request.sql);
      if (name === undefined) names.set(request.sql, (name = 'wgvm' + names.size));
      const result = await run(c, { name, text: request.sql, values: request.params.map(value), rowMode: request.array ? 'array' : undefined });
      return { rows: result.rows, count: result.rowCount ?? 0 };
    }
    default:
      throw new Error('unknown request ' + request.op);
  }
};
`;
