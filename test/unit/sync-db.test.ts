// The pieces under the PostgreSQL engine that need no server: placeholders rewritten for it, and
// the synchronous call into a worker thread.
import { describe, expect, it } from 'vitest';
import { constraintViolation } from '../../src/store/db.js';
import { bindValues, toPositional } from '../../src/store/sql-params.js';
import { SyncWorker, WorkerCallError } from '../../src/store/sync-worker.js';

describe('placeholders', () => {
  it('numbers ? in order and binds the values as given', () => {
    const sql = toPositional('SELECT node_id FROM nodes WHERE public_key = ? AND node_id IS DISTINCT FROM ?');
    expect(sql).toEqual({ text: 'SELECT node_id FROM nodes WHERE public_key = $1 AND node_id IS DISTINCT FROM $2', names: null, count: 2 });
    expect(bindValues(sql, ['k', null])).toEqual(['k', null]);
    expect(() => bindValues(sql, ['k'])).toThrow('takes 2 parameter(s), got 1');
  });

  it('gives each @name one $n, however often it is used, and binds from one object', () => {
    const sql = toPositional('UPDATE t SET e = COALESCE(@endpoint, e), a = CASE WHEN @endpoint IS NULL THEN a ELSE @answeredFrom END WHERE id = @id');
    expect(sql.text).toBe('UPDATE t SET e = COALESCE($1, e), a = CASE WHEN $1 IS NULL THEN a ELSE $2 END WHERE id = $3');
    expect(bindValues(sql, [{ id: 'n', endpoint: null, answeredFrom: 'x', extra: 1 }])).toEqual([null, 'x', 'n']);
    expect(() => bindValues(sql, [{ id: 'n' }])).toThrow('Missing named parameter "endpoint"');
    expect(() => bindValues(sql, ['n'])).toThrow('one object');
  });

  it('leaves quoted text, quoted names and comments alone, and refuses a mix of both kinds', () => {
    const sql = toPositional(`SELECT '?', 'it''s @x', "odd?name" AS "@y" -- what ? @z\nFROM t /* ? @w */ WHERE a = ?`);
    expect(sql.text).toBe(`SELECT '?', 'it''s @x', "odd?name" AS "@y" -- what ? @z\nFROM t /* ? @w */ WHERE a = $1`);
    expect(sql.count).toBe(1);
    expect(() => toPositional('SELECT ? WHERE a = @a')).toThrow('not both');
  });
});

describe('constraint violations of either engine', () => {
  it('names unique and foreign-key violations by their codes, and nothing else', () => {
    for (const code of ['SQLITE_CONSTRAINT_UNIQUE', 'SQLITE_CONSTRAINT_PRIMARYKEY', '23505']) expect(constraintViolation({ code })).toBe('unique');
    for (const code of ['SQLITE_CONSTRAINT_FOREIGNKEY', '23503']) expect(constraintViolation({ code })).toBe('foreign_key');
    for (const err of [{ code: '23514' }, new Error('x'), null, undefined]) expect(constraintViolation(err)).toBeNull();
  });
});

describe('a synchronous call into a worker thread', () => {
  const ECHO = `return async (request) => {
    if (request.fail) throw Object.assign(new Error('refused: ' + request.fail), { code: 'E_TEST' });
    if (request.sleep) await new Promise((r) => setTimeout(r, request.sleep));
    return { echo: request.value, data };
  };`;

  it('returns what the async handler answers, in order, blocking until it does', () => {
    const worker = new SyncWorker(ECHO, { hub: 'a' }, 5_000);
    try {
      const started = Date.now();
      expect(worker.call({ value: 1, sleep: 100 })).toEqual({ echo: 1, data: { hub: 'a' } });
      expect(Date.now() - started).toBeGreaterThanOrEqual(95);
      for (let i = 0; i < 200; i++) expect(worker.call({ value: i })).toEqual({ echo: i, data: { hub: 'a' } });
      expect(worker.call({ value: new Uint8Array([1, 2]) })).toMatchObject({ echo: new Uint8Array([1, 2]) });
    } finally {
      worker.terminate();
    }
  });

  it("throws the handler's error with its code, and goes on answering", () => {
    const worker = new SyncWorker(ECHO, null, 5_000);
    try {
      let caught: unknown;
      try {
        worker.call({ fail: 'no' });
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(WorkerCallError);
      expect(caught).toMatchObject({ message: 'refused: no', code: 'E_TEST' });
      expect(worker.call({ value: 2 })).toMatchObject({ echo: 2 });
    } finally {
      worker.terminate();
    }
  });

  it('gives up on a worker that does not answer in time: that call and every later one throw, none hangs', () => {
    const worker = new SyncWorker(ECHO, null, 200);
    expect(() => worker.call({ sleep: 5_000 })).toThrow('gave no answer in 0.2 s');
    expect(worker.closed).toBe(true);
    expect(() => worker.call({ value: 1 })).toThrow('no answer in 0.2 s');
  });

  it('reports a handler that cannot load at the first call instead of hanging', () => {
    const worker = new SyncWorker(`require('no-such-module-wgvm'); return async () => 1;`, null, 5_000);
    try {
      expect(() => worker.call({})).toThrow(/Cannot find module 'no-such-module-wgvm'/);
    } finally {
      worker.terminate();
    }
  });
});
