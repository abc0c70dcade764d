// The `wgvm` key commands, run as a user runs them, compared byte for byte with `wg`; and the usage errors of `wgvm counters`.
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { requireTools, skipWithout } from '../helpers/tools.js';

const wgvm = fileURLToPath(new URL('../../bin/wgvm.js', import.meta.url));

function run(args: string[], input?: string) {
  return runWithEnv(args, {}, input);
}

function runWithEnv(args: string[], env: NodeJS.ProcessEnv, input?: string) {
  const r = spawnSync(process.execPath, [wgvm, ...args], { input: input ?? '', encoding: 'utf8', env: { ...process.env, ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const wg = (args: string[], input = '') => execFileSync('wg', args, { input, encoding: 'utf8' });

// Asynchronous runs, so that a hundred of them use both cores.
function runAsync(args: string[], input = ''): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(process.execPath, [wgvm, ...args], { encoding: 'utf8' }, (err, stdout) =>
      err ? reject(err) : resolve(stdout),
    );
    child.stdin!.end(input);
  });
}

async function inBatches<T>(count: number, width: number, job: (i: number) => Promise<T>): Promise<T[]> {
  const results: T[] = [];
  for (let start = 0; start < count; start += width) {
    const batch = Array.from({ length: Math.min(width, count - start) }, (_, k) => job(start + k));
    results.push(...(await Promise.all(batch)));
  }
  return results;
}

describe('wgvm genkey / pubkey / genpsk', () => {
  it('genkey and genpsk print one base64 key and a newline', () => {
    for (const cmd of ['genkey', 'genpsk']) {
      const r = run([cmd]);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^[A-Za-z0-9+/]{43}=\n$/);
      expect(r.stderr).toBe('');
    }
  });

  it('pubkey accepts the genkey output, trailing whitespace included', () => {
    const priv = run(['genkey']).stdout;
    const pub = run(['pubkey'], priv).stdout;
    expect(pub).toMatch(/^[A-Za-z0-9+/]{43}=\n$/);
    expect(run(['pubkey'], priv.trim() + ' \r\n\n').stdout).toBe(pub);
    expect(run(['pubkey'], priv.trim()).stdout).toBe(pub);
  });

  it.each([
    ['empty input', ''],
    ['a short key', 'YWJj\n'],
    ['not base64', '!'.repeat(43) + '=\n'],
    ['trailing garbage', 'kNzD6pqVEd9sI2BD3OuGPRRmGSuJ2h8QKNkE8HVLsE0= x\n'],
  ])('pubkey rejects %s with one line on stderr and a non-zero exit', (_name, input) => {
    const r = run(['pubkey'], input);
    expect(r.code).not.toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^wgvm pubkey: key is not the correct length or format: .+\n$/);
  });

  it('unknown commands and stray arguments fail with a usage message and exit 2, not a stack trace', () => {
    const unknown = run(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown command "frobnicate"');
    const extra = run(['genkey', 'extra']);
    expect(extra.code).toBe(2);
    expect(extra.stderr).toBe('wgvm genkey takes no arguments (usage: wgvm genkey)\n');
    const none = run([]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('Usage: wgvm <command>');
    expect(none.stdout).toBe('');
    expect(run(['--help']).stdout).toContain('Usage: wgvm <command>');
  });

  const COMMANDS = ['genkey', 'genpsk', 'pubkey', 'hash-password', 'up', 'relay', 'isolate', 'counters', 'bench', 'bench-control', 'serve', 'import', 'export', 'restore'];

  // Every help invocation once, four processes at a time (dozens of node start-ups: slow when loaded).
  interface Ran { code: number | null; stdout: string; stderr: string }
  const runQuiet = (args: string[]) =>
    new Promise<Ran>((resolve) => {
      const child = execFile(process.execPath, [wgvm, ...args], { encoding: 'utf8' }, (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stdout, stderr }),
      );
      child.stdin!.end();
    });
  let helps: Map<string, Ran> | undefined;
  const allHelp = async () => {
    if (helps) return helps;
    const invocations = [['--help'], ...COMMANDS.flatMap((c) => [[c, '--help'], [c, '-h'], ['help', c]])];
    const results = await inBatches(invocations.length, 4, (i) => runQuiet(invocations[i]!));
    helps = new Map(invocations.map((args, i) => [args.join(' '), results[i]!]));
    return helps;
  };

  it('every command answers --help and -h with its own usage on stdout and exit 0, touching nothing', async () => {
    const help = await allHelp();
    const list = help.get('--help')!.stdout;
    for (const name of COMMANDS) {
      expect(list).toMatch(new RegExp(`^  ${name} +\\S`, 'm'));
      for (const flag of ['--help', '-h']) {
        const r = help.get(`${name} ${flag}`)!;
        expect(r.code, `${name} ${flag}: ${r.stderr}`).toBe(0);
        expect(r.stdout).toMatch(new RegExp(`^Usage: wgvm ${name}\\b`));
        expect(r.stderr).toBe('');
      }
      expect(help.get(`help ${name}`)!.stdout).toBe(help.get(`${name} --help`)!.stdout);
    }
    // serve --help must not start a hub, bench --help not a benchmark: both would need root and more.
    expect(help.get('serve --help')!.stdout).not.toContain('hub ');
  }, 180_000);

  it('keeps help within 100 columns', async () => {
    for (const [args, r] of await allHelp()) {
      for (const line of r.stdout.split('\n')) expect(line.length, `${args}: ${line}`).toBeLessThanOrEqual(100);
    }
  }, 180_000);

  it('--version prints the package version', () => {
    const version = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version as string;
    for (const flag of ['--version', '-V']) {
      const r = run([flag]);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(`wgvm ${version}\n`);
    }
  });

  it('bench: a bad option is one line naming the usage, exit 2, before anything runs', () => {
    const r = run(['bench', '--bogus']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("wgvm bench: unknown option or missing value: --bogus (usage: wgvm bench [--quick] [--runs N] [--seconds S] [--only NAME,…] [--out DIR] [--wireguard-go PATH] [--debian-wireguard-go] [--threads N] [--workers K])\n");
    expect(run(['bench', '--runs']).stderr).toMatch(/^wgvm bench: unknown option or missing value: --runs /);
  });

  it('up: a bad --threads or WGVM_THREADS is one line, exit 2, before any interface exists', () => {
    const bad = run(['up', '--threads', '0', 'wgvmthr0']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe('wgvm up: --threads "0" is not a number of threads (an integer from 1 to 256, or "auto" for one per core)\n');
    expect(run(['up', 'wgvmthr0', '--threads']).stderr).toMatch(/^wgvm up: --threads needs a value /);
    const fromEnv = runWithEnv(['up', '-f', 'wgvmthr0'], { WGVM_THREADS: 'many' });
    expect(fromEnv.code).toBe(2);
    expect(fromEnv.stderr).toMatch(/^wgvm up: WGVM_THREADS "many" is not a number of threads /);
    // The flag wins over the variable.
    expect(runWithEnv(['up', '--threads=x', 'wgvmthr0'], { WGVM_THREADS: '2' }).stderr).toMatch(/^wgvm up: --threads "x" /);
    expect(existsSync('/sys/class/net/wgvmthr0')).toBe(false);
  });

  it('bench-control: a bad option or value is one line naming what is wrong, exit 2, before anything runs', () => {
    const r = run(['bench-control', '--nodes', 'many']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('wgvm bench-control: --nodes must be a whole number from 1 to 65277, got "many"\n');
    expect(run(['bench-control', '--clients', '0']).stderr).toMatch(/^wgvm bench-control: --clients must be a whole number from 1 to 256/);
    expect(run(['bench-control', '--bogus']).stderr).toMatch(/^wgvm bench-control: unknown option or missing value: --bogus \(usage: wgvm bench-control /);
  });

  it('genkey warns, like wg, when writing to a world-readable file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wgvm-cli-'));
    try {
      const file = join(dir, 'key');
      const r = spawnSync('sh', ['-c', `umask 022; "${process.execPath}" "${wgvm}" genkey > "${file}"`], { encoding: 'utf8' });
      expect(r.status).toBe(0);
      expect(r.stderr).toContain('Warning: writing to world accessible file.');
      expect(statSync(file).mode & 0o004).toBe(0o004);
      expect(readFileSync(file, 'utf8')).toMatch(/^[A-Za-z0-9+/]{43}=\n$/);
      const quiet = spawnSync('sh', ['-c', `umask 077; "${process.execPath}" "${wgvm}" genkey > "${file}.2"`], { encoding: 'utf8' });
      expect(quiet.stderr).toBe('');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('serve refuses a bad variable with one line naming it, before touching anything', () => {
    const r = spawnSync(process.execPath, [wgvm, 'serve'], { encoding: 'utf8', env: { ...process.env, SERVERPORT: '70000' } });
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('wgvm serve: SERVERPORT: "70000" is not a port (1-65535)\n');
  });
});

describe.skipIf(skipWithout('wg'))('byte compatibility with wg (wireguard-tools)', () => {
  it('`wgvm genkey | wgvm pubkey` equals `wg pubkey` of the same key, for 100 keys', async () => {
    requireTools('wg');
    const pairs = await inBatches(100, 6, async () => {
      const priv = await runAsync(['genkey']);
      return { priv, pub: await runAsync(['pubkey'], priv) };
    });
    expect(new Set(pairs.map((p) => p.priv)).size).toBe(100);
    for (const { priv, pub } of pairs) expect(pub).toBe(wg(['pubkey'], priv));
  }, 300_000); // 200 node processes: slow on a loaded machine

  it('`wgvm pubkey` agrees with `wg pubkey` on 100 keys from `wg genkey` and unclamped ones from `wg genpsk`', async () => {
    requireTools('wg');
    const privs = Array.from({ length: 100 }, (_, i) => (i % 2 ? wg(['genkey']) : wg(['genpsk'])));
    const pubs = await inBatches(100, 6, (i) => runAsync(['pubkey'], privs[i]));
    privs.forEach((priv, i) => expect(pubs[i]).toBe(wg(['pubkey'], priv)));
  }, 300_000); // 200 node processes: slow on a loaded machine

  it('`wg pubkey` accepts what `wgvm genpsk` writes', () => {
    requireTools('wg');
    const psk = run(['genpsk']).stdout;
    expect(wg(['pubkey'], psk)).toMatch(/^[A-Za-z0-9+/]{43}=\n$/);
  });
});

describe('wgvm hash-password', () => {
  it('hashes the first line of stdin into ADMIN_PASSWORD_HASH that verifies that password', async () => {
    const { parsePasswordHash, verifyPassword } = await import('../../src/domain/password.js');
    const r = run(['hash-password'], 'my admin password\nignored second line\n');
    expect(r.code).toBe(0);
    const hash = r.stdout.trim();
    expect(hash).toMatch(/^\$scrypt\$ln=15,r=8,p=1\$/);
    expect(r.stdout + r.stderr).not.toContain('my admin password');
    expect(await verifyPassword('my admin password', parsePasswordHash(hash))).toBe(true);
  });

  it('refuses an empty password and arguments, in one line', () => {
    const empty = run(['hash-password'], '\n');
    expect(empty.code).toBe(1);
    expect(empty.stderr).toBe('wgvm hash-password: no password on stdin (give it as the first line)\n');
    const extra = run(['hash-password', 'secret']);
    expect(extra.code).not.toBe(0);
    expect(extra.stderr).toMatch(/hash-password takes no arguments/);
  });
});

describe('wgvm counters', () => {
  it('needs exactly one interface, and says so when the interface does not exist', () => {
    for (const args of [[], ['a', 'b'], ['--all']]) {
      const r = run(['counters', ...args]);
      expect(r.code).toBe(2);
      expect(r.stderr).toBe('wgvm counters: usage: wgvm counters <interface>\n');
    }
    const r = run(['counters', 'wgflnone0']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^wgvm counters: no interface wgflnone0: \S+wgflnone0\.sock does not exist\n$/);
    expect(r.stdout).toBe('');
  });
});
