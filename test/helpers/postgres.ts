// A throwaway PostgreSQL server for the tests that run the registry on PostgreSQL: initdb into a
// temporary directory, listening on loopback on a free port (and a socket in that directory), with
// durability off (the data dies with the test anyway); a fresh database per test. Run as the
// `postgres` user when the tests run as root (PostgreSQL refuses to run as root).
//
// Outside CI a machine without PostgreSQL skips these tests (see `postgresMissing`); with CI=true
// they fail instead, so CI never passes by testing one engine only.
//
// A server can also run inside a network namespace (`netns`), listening on that namespace's addresses
// (`listen`), reached by hubs in other namespaces (`trust`: their networks): every command then runs
// in the namespace, psql included (the server's loopback is the namespace's).
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { appendFileSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inCI } from './tools.js';
import { freePort } from './ports.js';

/** Where Debian puts the server binaries (not on PATH): the newest version there, else PATH. */
function binDir(): string | null {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'pg_ctl'))) : [];
  versions.sort((a, b) => Number(b) - Number(a));
  if (versions[0]) return join(root, versions[0], 'bin');
  const which = spawnSync('sh', ['-c', 'command -v pg_ctl'], { encoding: 'utf8' });
  return which.status === 0 ? join(which.stdout.trim(), '..') : null;
}

const BIN = binDir();

/** True when the PostgreSQL tests should be skipped: no server binaries, outside CI. */
export const postgresMissing = BIN === null && !inCI;

export interface PostgresOptions {
  /** Run the server in this network namespace (`ip netns exec`); port 5432 there. */
  netns?: string;
  /** The addresses it listens on (default 127.0.0.1); URLs name the first. */
  listen?: string[];
  /** Networks (CIDR) whose clients are trusted without a password, besides loopback. */
  trust?: string[];
}

export interface PostgresServer {
  /** A new, empty database; its URL (user postgres, no password: trust on loopback). */
  createDatabase(): string;
  /** The same database's URL at another of the server's addresses (one of `listen`). */
  reach(url: string, host: string): string;
  /**
   * One database of the server, emptied (its schema dropped and made again): faster than a new
   * database per test. Close every connection to it first.
   */
  emptyDatabase(): string;
  /** A URL to the server's `postgres` database with this password in it (for masking tests). */
  urlWithPassword(password: string): string;
  /** psql's answer to `sql` on the database at `url`, unaligned. */
  psql(url: string, sql: string): string;
  /** Runs `sql` with psql in the background (another client, holding a lock a while, say); its exit status. */
  psqlInBackground(url: string, sql: string): Promise<number | null>;
  /** pg_dump of the database at `url`, as SQL text. */
  dump(url: string): string;
  stop(): void;
}

const asRoot = process.getuid?.() === 0;

/** The command line that runs a PostgreSQL binary as the postgres user (in `netns`, when given). */
function command(name: string, args: string[], netns?: string): [string, string[]] {
  const [file, argv]: [string, string[]] = asRoot ? ['runuser', ['-u', 'postgres', '--', join(BIN!, name), ...args]] : [join(BIN!, name), args];
  return netns ? ['ip', ['netns', 'exec', netns, file, ...argv]] : [file, argv];
}

function run(name: string, args: string[], input?: string, netns?: string): SpawnSyncReturns<string> {
  const [file, argv] = command(name, args, netns);
  const result = spawnSync(file, argv, { encoding: 'utf8', input, maxBuffer: 64 * 1024 * 1024 });
  if (result.status !== 0) {
    throw new Error(`${name} ${args.join(' ')} failed (${result.status ?? result.signal}): ${result.stderr || result.stdout || result.error?.message}`);
  }
  return result;
}

function postgresUid(): { uid: number; gid: number } {
  const id = (flag: string) => Number(spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' }).stdout.trim());
  return { uid: id('-u'), gid: id('-g') };
}

const running = new Set<() => void>();
// A test run that dies midway must not leave a server behind.
process.once('exit', () => {
  for (const stop of running) stop();
});

/** Starts a server; call stop() in afterAll. Throws, naming the fix, when PostgreSQL is not installed. */
export async function startPostgres(options: PostgresOptions = {}): Promise<PostgresServer> {
  if (BIN === null) throw new Error('PostgreSQL is not installed (initdb, pg_ctl: the Debian package postgresql; see .ci/run)');
  const { netns } = options;
  const listen = options.listen ?? ['127.0.0.1'];
  const dir = mkdtempSync(join(tmpdir(), 'wgvm-pg-'));
  if (asRoot) {
    const { uid, gid } = postgresUid();
    chownSync(dir, uid, gid);
  }
  const data = join(dir, 'data');
  const port = netns ? 5432 : await freePort('127.0.0.1');
  const pg = (name: string, args: string[]) => run(name, args, undefined, netns);
  let started = false;
  const stop = () => {
    running.delete(stop);
    if (started) {
      started = false;
      try {
        pg('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
      } catch {
        // already gone
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  running.add(stop);
  try {
    pg('initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C.UTF-8', '--no-sync']);
    for (const network of options.trust ?? []) appendFileSync(join(data, 'pg_hba.conf'), `host all all ${network} trust\n`);
    const settings = [`-p ${port}`, `-k ${dir}`, `-c listen_addresses='${listen.join(',')}'`, '-c fsync=off', '-c synchronous_commit=off', '-c full_page_writes=off'];
    pg('pg_ctl', ['-D', data, '-l', join(dir, 'log'), '-o', settings.join(' '), '-w', 'start']);
    started = true;
  } catch (err) {
    stop();
    throw err;
  }
  let databases = 0;
  let reused: string | null = null;
  const url = (db: string, password?: string) => `postgres://postgres${password === undefined ? '' : `:${encodeURIComponent(password)}`}@${listen[0]}:${port}/${db}`;
  const psql = (target: string, sql: string) => pg('psql', ['-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', '-d', target, '-c', sql]).stdout;
  const createDatabase = () => {
    const name = `wgvm_test_${++databases}`;
    psql(url('postgres'), `CREATE DATABASE ${name}`);
    return url(name);
  };
  return {
    createDatabase,
    emptyDatabase() {
      if (reused === null) reused = createDatabase();
      else psql(reused, 'DROP SCHEMA public CASCADE; CREATE SCHEMA public');
      return reused;
    },
    reach(target, host) {
      const u = new URL(target);
      u.hostname = host;
      return u.toString();
    },
    psqlInBackground(target, sql) {
      const [file, argv] = command('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', target, '-c', sql], netns);
      const child = spawn(file, argv, { stdio: 'ignore' });
      return new Promise((resolve, reject) => {
        child.once('error', reject);
        child.once('exit', (code) => resolve(code));
      });
    },
    urlWithPassword: (password) => url('postgres', password),
    psql,
    dump: (target) => pg('pg_dump', ['-d', target]).stdout,
    stop,
  };
}
