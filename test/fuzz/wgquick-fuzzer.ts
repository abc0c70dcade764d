// A mutation fuzzer for `wgvm import` of a wg-quick server config (src/migrate/), which libFuzzer
// cannot run because it is TypeScript. Run as a child process (compiled by tsc, see targets.ts):
//   node wgquick-fuzzer.js <seconds> <work directory>
// Seeds are valid configs from the test helpers; each input is a stack of mutations of a seed or of
// an earlier input. Checked for every input:
//   - the importer only ever throws its own errors (MigrateError, CommandError) with a message:
//     never a TypeError, RangeError or anything else;
//   - a dry run and a real run (each into an empty registry) agree: same exit code, same warnings
//     and conflicts, same number of nodes; a refused import wrote nothing, an accepted one wrote
//     exactly what the dry run announced;
//   - no input takes longer than PER_INPUT_MS.
// Reading the config is cheap and done for every input; the two imports (each opens a SQLite
// registry) are done for every input that reads differently from all before, and for one in
// IMPORT_EVERY of the others.
// Before each input, <work>/current.conf holds it, so that the parent can name the reproducer of a
// hang it had to kill. A failure is saved as <work>/failure-<hash>.conf and the exit code is 1.
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CommandError, runImport, type CommandIo } from '../../src/migrate/index.js';
import { MigrateError, readImportSource } from '../../src/migrate/source.js';
import { HUB_PRIVATE_KEY_SETTING, Store } from '../../src/store/index.js';
import { generateKeyPair } from '../../src/domain/keys.js';
import { samplePeers, serverConf } from '../helpers/wgquick-samples.js';

const PER_INPUT_MS = 2_000;
const MAX_INPUT_BYTES = 1 << 20;
const POOL_SIZE = 256;
const IMPORT_EVERY = 8;

// --- seeds: valid server configs of several sizes and shapes
function seeds(): Buffer[] {
  const out: string[] = [];
  for (const count of [0, 1, 3, 8]) {
    const { hub, peers } = samplePeers(count);
    out.push(serverConf(hub, peers, 41820 + count));
  }
  const { hub, peers } = samplePeers(2);
  // linuxserver-style comments, endpoints (literal and host name), keepalives, IPv6, CRLF, BOM.
  out.push(
    [
      '\uFEFF[Interface]',
      `PrivateKey = ${hub.privateKey}`,
      'ListenPort = 51820',
      'Address = 10.13.13.1, fd00::1/64',
      '[Peer]',
      '# peer_laptop',
      `PublicKey = ${peers[0]!.keys.publicKey}`,
      'AllowedIPs = 10.100.1.2/32, fd00::2/128',
      'Endpoint = 198.51.100.7:51820',
      'PersistentKeepalive = 25',
      '[peer]',
      `publickey=${peers[1]!.keys.publicKey}`,
      'allowedips=10.100.1.3',
      'endpoint = host.example:51820',
    ].join('\r\n'),
  );
  out.push(`[Interface]\nPrivateKey = ${generateKeyPair().privateKey}\n`);
  return out.map((s) => Buffer.from(s, 'utf8'));
}

// --- mutations
const seed = BigInt(process.env.FUZZ_SEED ?? Date.now()) | 1n;
let rngState = seed;
function rand(n: number): number {
  // xorshift64*: fast and reproducible from the printed seed (FUZZ_SEED).
  rngState ^= rngState >> 12n;
  rngState ^= (rngState << 25n) & 0xffffffffffffffffn;
  rngState ^= rngState >> 27n;
  const x = (rngState * 2685821657736338717n) & 0xffffffffffffffffn;
  return Number(x % BigInt(Math.max(1, n)));
}
const pick = <T>(items: readonly T[]): T => items[rand(items.length)]!;

const ODD_TEXT = [
  '\u0000', '\r', '\t', '\x7f', '\u0085', '\u2028', '\uFEFF', '\u202E', '\u200B', 'é', 'ß', '💥', '\uD800', '노트북',
  '#', '=', '[', ']', ',', '/', ':', '%', '"', '\\', ' ', '\n', '[Peer]', '[Interface]', '0.0.0.0/0', '::/0',
  '10.100.1.2/32', '255.255.255.255/32', '-1', '65536', 'NaN', '1e309', '__proto__', 'constructor',
];
const HUGE = [
  () => '9'.repeat(400),
  () => 'A'.repeat(50_000),
  () => `10.100.1.2/${'9'.repeat(80)}`,
  () => `[${'f'.repeat(5000)}]:51820`,
  () => '# peer_'.padEnd(10_000, 'x'),
  () => `${'1.'.repeat(3000)}1`,
  () => `${'10.100.1.2/32,'.repeat(2000)}`,
];

function lines(b: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < b.length; i++) {
    if (b[i] === 0x0a) {
      out.push(b.subarray(start, i));
      start = i + 1;
    }
  }
  out.push(b.subarray(start));
  return out;
}
const joinLines = (ls: Buffer[]) => Buffer.concat(ls.flatMap((l, i) => (i === 0 ? [l] : [Buffer.from('\n'), l])));

type Mutation = (input: Buffer, pool: readonly Buffer[]) => Buffer;
const MUTATIONS: Mutation[] = [
  function flipBits(b) {
    if (b.length === 0) return b;
    const c = Buffer.from(b);
    for (let n = 1 + rand(4); n > 0; n--) {
      const i = rand(c.length);
      c[i] = c[i]! ^ (1 << rand(8));
    }
    return c;
  },
  function randomByte(b) {
    if (b.length === 0) return Buffer.from([rand(256)]);
    const c = Buffer.from(b);
    c[rand(c.length)] = rand(256);
    return c;
  },
  function duplicateLine(b) {
    const ls = lines(b);
    const i = rand(ls.length);
    const times = rand(8) === 0 ? 1 + rand(2000) : 1;
    ls.splice(i, 0, ...Array<Buffer>(times).fill(ls[i]!));
    return joinLines(ls);
  },
  function deleteLines(b) {
    const ls = lines(b);
    ls.splice(rand(ls.length), 1 + rand(3));
    return joinLines(ls);
  },
  function swapLines(b) {
    const ls = lines(b);
    const i = rand(ls.length);
    const j = rand(ls.length);
    [ls[i], ls[j]] = [ls[j]!, ls[i]!];
    return joinLines(ls);
  },
  function splice(b, pool) {
    const other = lines(pick(pool));
    const ls = lines(b);
    const from = rand(other.length);
    ls.splice(rand(ls.length + 1), 0, ...other.slice(from, from + 1 + rand(6)));
    return joinLines(ls);
  },
  function insertOddText(b) {
    const at = rand(b.length + 1);
    return Buffer.concat([b.subarray(0, at), Buffer.from(pick(ODD_TEXT), 'utf8'), b.subarray(at)]);
  },
  function hugeValue(b) {
    const ls = lines(b);
    const i = rand(ls.length);
    const line = ls[i]!.toString('utf8');
    const eq = line.indexOf('=');
    ls[i] = Buffer.from(eq >= 0 ? `${line.slice(0, eq + 1)} ${pick(HUGE)()}` : pick(HUGE)(), 'utf8');
    return joinLines(ls);
  },
  function replaceValue(b) {
    const ls = lines(b);
    const i = rand(ls.length);
    const line = ls[i]!.toString('utf8');
    const eq = line.indexOf('=');
    if (eq < 0) return b;
    ls[i] = Buffer.from(`${line.slice(0, eq + 1)} ${pick(ODD_TEXT)}`, 'utf8');
    return joinLines(ls);
  },
  function truncate(b) {
    return b.subarray(0, rand(b.length + 1));
  },
];

function mutate(input: Buffer, pool: readonly Buffer[]): Buffer {
  let out = input;
  for (let n = 1 + rand(5); n > 0; n--) out = pick(MUTATIONS)(out, pool);
  return out.length > MAX_INPUT_BYTES ? out.subarray(0, MAX_INPUT_BYTES) : out;
}

// --- one input
interface Outcome {
  threw: string | null; // "MigrateError: message"
  code: number | null;
  stdout: string;
  stderr: string;
  nodes: number;
  hubKey: string | null;
}

class Finding extends Error {}

function ownError(err: unknown): string {
  if ((err instanceof MigrateError || err instanceof CommandError) && err.message.trim() !== '') return `${err.name}: ${err.message}`;
  const what = err instanceof Error ? `${err.constructor.name}: ${err.message}\n${err.stack ?? ''}` : String(err);
  throw new Finding(`the importer threw something other than its own error: ${what}`);
}

function runOnce(work: string, conf: string, dryRun: boolean): Outcome {
  const dataDir = mkdtempSync(join(work, dryRun ? 'dry-' : 'real-'));
  let stdout = '';
  let stderr = '';
  const io: CommandIo = {
    env: { DATA_DIR: dataDir, INTERNAL_SUBNET: '10.100.0.0/16', WORKER_IP_RANGE: '10.100.1.2-10.100.255.254', SERVERURL: '192.0.2.10' },
    cwd: work,
    stdout: (t) => void (stdout += t),
    stderr: (t) => void (stderr += t),
    stdin: () => '',
  };
  try {
    let threw: string | null = null;
    let code: number | null = null;
    try {
      code = runImport(dryRun ? [conf, '--dry-run'] : [conf], io);
    } catch (err) {
      threw = ownError(err);
    }
    const store = Store.open(dataDir);
    try {
      return { threw, code, stdout, stderr, nodes: store.nodeIds().length, hubKey: store.getSetting(HUB_PRIVATE_KEY_SETTING) };
    } finally {
      store.close();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** The dry run's wording turned into the real run's, so that the two reports compare line for line. */
function asReal(text: string): string {
  return text.replaceAll('would be replaced', 'was replaced').replaceAll('the import would be refused', 'nothing was imported');
}

/** Reads the config as the importer does; returns a class of what it found. */
function readSource(conf: string): string {
  try {
    const source = readImportSource(conf);
    const broken = source.peers.filter((p) => p.problems.length > 0).length;
    return `read:${source.problems.length}:${source.warnings.length}:${source.peers.length}:${broken}`;
  } catch (err) {
    return `read:${ownError(err).split(':')[0]}`;
  }
}

/** Imports the config twice, dry and for real, into empty registries; returns a class of the outcome. */
function importBoth(work: string, conf: string): string {
  const dry = runOnce(work, conf, true);
  const real = runOnce(work, conf, false);
  if (dry.threw !== real.threw) throw new Finding(`dry run and real run disagree: ${dry.threw ?? 'no error'} vs ${real.threw ?? 'no error'}`);
  if (dry.code !== real.code) throw new Finding(`dry run exits ${dry.code}, real run ${real.code}\n${dry.stderr}\n---\n${real.stderr}`);
  if (asReal(dry.stderr) !== real.stderr) throw new Finding(`dry run and real run report differently:\n${dry.stderr}\n---\n${real.stderr}`);
  if (dry.nodes !== 0 || dry.hubKey !== null) throw new Finding('the dry run wrote to its registry');
  const announced = /Dry run: (\d+) node\(s\) would be imported/.exec(dry.stdout);
  const imported = /Imported (\d+) node\(s\)/.exec(real.stdout);
  if (real.code === 0) {
    if (!announced || !imported || announced[1] !== imported[1] || Number(imported[1]) !== real.nodes) {
      throw new Finding(`the dry run announced ${announced?.[1]} node(s), the real run reported ${imported?.[1]} and wrote ${real.nodes}`);
    }
  } else if (real.nodes !== 0 || real.hubKey !== null) {
    throw new Finding(`a refused import (${real.threw ?? `exit ${real.code}`}) wrote ${real.nodes} node(s)${real.hubKey ? ' and the hub key' : ''}`);
  }
  return `import:${real.threw?.split(':')[0] ?? real.code}:${real.stderr.split('\n').length}:${real.nodes}`;
}

// --- the loop
function main(): number {
  const seconds = Number(process.argv[2]);
  const work = process.argv[3];
  if (!(seconds > 0) || !work) {
    process.stderr.write('usage: wgquick-fuzzer <seconds> <work directory>\n');
    return 2;
  }
  mkdirSync(work, { recursive: true });
  const conf = join(work, 'current.conf');
  const pool = seeds();
  const seedCount = pool.length;
  const outcomes = new Set<string>();
  const started = Date.now();
  let executed = 0;
  let slowest = 0;
  let imports = 0;
  process.stdout.write(`wgquick: FUZZ_SEED=${seed}, ${seedCount} seeds\n`);
  const save = (prefix: string, input: Buffer) => {
    const path = join(work, `${prefix}-${createHash('sha1').update(input).digest('hex').slice(0, 16)}.conf`);
    writeFileSync(path, input);
    return path;
  };
  while (executed < seedCount || Date.now() - started < seconds * 1000) {
    const input = executed < seedCount ? pool[executed]! : mutate(pick(pool), pool);
    writeFileSync(conf, input);
    const t0 = Date.now();
    const found: string[] = [];
    try {
      const read = readSource(conf);
      found.push(read);
      if (!outcomes.has(read) || executed % IMPORT_EVERY === 0) {
        found.push(importBoth(work, conf));
        imports++;
      }
    } catch (err) {
      if (!(err instanceof Finding)) throw err;
      process.stdout.write(`wgquick: FAILURE ${err.message}\nREPRODUCER: ${save('failure', input)}\n`);
      return 1;
    }
    const elapsed = Date.now() - t0;
    slowest = Math.max(slowest, elapsed);
    if (elapsed > PER_INPUT_MS) {
      process.stdout.write(`wgquick: FAILURE an input took ${elapsed} ms (bound ${PER_INPUT_MS} ms)\nREPRODUCER: ${save('slow', input)}\n`);
      return 1;
    }
    executed++;
    // Inputs that end differently from all before are kept to mutate further.
    const fresh = found.filter((o) => !outcomes.has(o));
    if (fresh.length > 0) {
      for (const o of fresh) outcomes.add(o);
      if (pool.length < POOL_SIZE) pool.push(input);
      else pool[seedCount + rand(POOL_SIZE - seedCount)] = input;
    }
  }
  const elapsed = (Date.now() - started) / 1000;
  process.stdout.write(
    `wgquick: DONE ${executed} inputs in ${elapsed.toFixed(0)} s (${(executed / elapsed).toFixed(1)} exec/s; ${imports} imported dry and for real), ` +
      `${outcomes.size} distinct outcomes, slowest input ${slowest} ms\n`,
  );
  return 0;
}

process.exitCode = main();
