// `wgvm`: the command line. Each subcommand is a function of its arguments returning an exit code.
// Exit codes: 0 done, 1 the command failed (one line on stderr, never a stack trace), 2 the
// arguments were wrong (one line on stderr naming the usage). `wgvm <command> --help` prints the
// command's usage on stdout and exits 0.
import { fstatSync, readFileSync } from 'node:fs';
import { counterName, DEVICE_COUNTERS } from './dataplane/counters.js';
import { uapiCounters, uapiSet } from './uapi/client.js';
import { reportStartupFailure, runDaemon, runForeground } from './daemon/userspace.js';
import { decodeKey, encodeKey, generatePresharedKey, generatePrivateKey, KeyFormatError, publicKeyOf } from './domain/keys.js';
import { INTERFACE_NAME_RULE, isInterfaceName } from './domain/names.js';
import { parseThreads, THREADS_RULE } from './domain/threads.js';
// The hub, the benchmark, migrations and the password prompt are loaded by their own commands only:
// `wgvm up` (what wg-quick runs) starts in a third of the time without fastify and SQLite.

/** Wrong arguments: exit 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** The command could not do its work (bad input, a missing interface, no permission): exit 1. */
export class CommandFailure extends Error {
  override name = 'CommandFailure';
}

interface Command {
  /** The synopsis, after "wgvm ". */
  usage: string;
  /** One line for the command list (within 100 columns with the name). */
  summary: string;
  /** More lines for `wgvm <command> --help`. */
  details?: string;
  run(args: string[]): Promise<number> | number;
}

function noArgs(name: string, args: string[]): void {
  if (args.length > 0) throw new UsageError(`${name} takes no arguments (usage: wgvm ${name})`);
}

// Same warning as `wg genkey`: a private key is about to land in a file others can read.
function warnIfWorldReadableStdout(): void {
  try {
    const st = fstatSync(1);
    if (st.isFile() && (st.mode & 0o007) !== 0) {
      process.stderr.write('Warning: writing to world accessible file.\nConsider setting the umask to 077 and trying again.\n');
    }
  } catch {
    // stdout is not something fstat understands: nothing to warn about
  }
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

const commands: Record<string, Command> = {
  genkey: {
    usage: 'genkey',
    summary: 'print a new private key (base64), like `wg genkey`',
    run(args) {
      noArgs('genkey', args);
      warnIfWorldReadableStdout();
      process.stdout.write(encodeKey(generatePrivateKey()) + '\n');
      return 0;
    },
  },
  genpsk: {
    usage: 'genpsk',
    summary: 'print a new preshared key (base64), like `wg genpsk`',
    run(args) {
      noArgs('genpsk', args);
      warnIfWorldReadableStdout();
      process.stdout.write(encodeKey(generatePresharedKey()) + '\n');
      return 0;
    },
  },
  pubkey: {
    usage: 'pubkey < private.key',
    summary: 'read a private key on stdin, print its public key, like `wg pubkey`',
    run(args) {
      noArgs('pubkey', args);
      const input = readFileSync(0, 'latin1');
      // `wg pubkey` accepts trailing whitespace (the newline `genkey` writes) and nothing else.
      const text = input.replace(/[\s\0]+$/, '');
      let key: Uint8Array;
      try {
        key = decodeKey(text);
      } catch (err) {
        if (err instanceof KeyFormatError) throw new CommandFailure(`pubkey: key is not the correct length or format: ${err.message}`);
        throw err;
      }
      process.stdout.write(encodeKey(publicKeyOf(key)) + '\n');
      return 0;
    },
  },
  'hash-password': {
    usage: 'hash-password',
    summary: 'make ADMIN_PASSWORD_HASH for the dashboard',
    details: 'Type the password twice at the prompt, or give it as the first line of stdin.',
    async run(args) {
      noArgs('hash-password', args);
      const { hashPassword, PasswordHashError } = await import('./domain/password.js');
      const { PromptError, PromptInterrupted, readNewPassword } = await import('./runtime/prompt.js');
      try {
        const hash = await hashPassword(await readNewPassword());
        process.stdout.write(`${hash}\n`);
        if (process.stdout.isTTY) process.stderr.write(`Put it in .env in single quotes: ADMIN_PASSWORD_HASH='${hash}'\n`);
        return 0;
      } catch (err) {
        if (err instanceof PromptInterrupted) return 130; // Ctrl-C at the prompt, as a shell reports it
        if (err instanceof PromptError || err instanceof PasswordHashError) throw new CommandFailure(`hash-password: ${err.message}`);
        throw err;
      }
    },
  },
  up: {
    usage: 'up [-f|--foreground] [--threads N|auto] <interface>',
    summary: 'bring up a userspace WireGuard interface, configured with `wg`',
    details:
      'Creates the TUN interface and /var/run/wireguard/<interface>.sock, then returns (the daemon\n' +
      'stays), like `wireguard-go <interface>`; -f keeps it in the foreground. Stops on SIGINT/SIGTERM\n' +
      'or when the interface or the socket is removed. --threads (or WGVM_THREADS, for wg-quick) sets\n' +
      'how many threads seal and open packets; the default, auto, is one per core.',
    async run(args) {
      const { foreground, threads, iface } = parseUpArgs(args);
      if (!foreground) return runDaemon(iface, threads);
      try {
        return await runForeground(iface, threads);
      } catch (err) {
        reportStartupFailure(message(err));
        throw new CommandFailure(`up: ${message(err)}`);
      }
    },
  },
  relay: {
    usage: 'relay <interface> on|off',
    summary: 'turn relaying between peers inside a wgvm interface on or off',
    async run(args) {
      const [iface, state] = args;
      if (args.length !== 2 || (state !== 'on' && state !== 'off')) throw new UsageError('relay: usage: wgvm relay <interface> on|off');
      try {
        await uapiSet(iface!, `wgvm_relay=${state === 'on'}`);
      } catch (err) {
        throw new CommandFailure(`relay: ${message(err)}`);
      }
      return 0;
    },
  },
  isolate: {
    usage: 'isolate <interface> <public-key> on|off',
    summary: 'stop (on) or allow (off) a peer reaching the other peers',
    async run(args) {
      const [iface, key, state] = args;
      if (args.length !== 3 || (state !== 'on' && state !== 'off')) {
        throw new UsageError('isolate: usage: wgvm isolate <interface> <public-key> on|off');
      }
      let hex: string;
      try {
        hex = Buffer.from(decodeKey(key!)).toString('hex');
      } catch (err) {
        throw new UsageError(`isolate: ${message(err)}`);
      }
      try {
        // update_only: isolating a key that is not a peer must not create one.
        await uapiSet(iface!, `public_key=${hex}\nupdate_only=true\nwgvm_isolated=${state === 'on'}`);
      } catch (err) {
        throw new CommandFailure(`isolate: ${message(err)}`);
      }
      return 0;
    },
  },
  counters: {
    usage: 'counters <interface>',
    summary: "print a wgvm interface's drop and error counters (drop_replay=N …)",
    // The lines after the drops, from the list that /metrics and the dashboard read too.
    details: `One name=value line each: drop_<reason> for every reason a packet is dropped, then:\n${DEVICE_COUNTERS.map((c) => `  ${counterName(c)}`).join('\n')}`,
    async run(args) {
      if (args.length !== 1 || args[0]!.startsWith('-')) throw new UsageError('counters: usage: wgvm counters <interface>');
      try {
        process.stdout.write(await uapiCounters(args[0]!));
      } catch (err) {
        throw new CommandFailure(`counters: ${message(err)}`);
      }
      return 0;
    },
  },
  bench: {
    usage: 'bench [--quick] [--runs N] [--seconds S] [--only NAME,…] [--out DIR] [options below]',
    summary: 'measure this data plane against wireguard-go and a plain link (root)',
    details:
      'NAME: a pair (wgvm, wireguard-go, wgvm-to-wireguard-go, wireguard-go-to-wgvm, veth,\n' +
      'wireguard-go-debian) or a row (idle-peers, idle-cpu, uapi-latency, hub-relay, direct-paths);\n' +
      'default: all but wireguard-go-debian.\n' +
      '  --wireguard-go PATH     the wireguard-go of the reference pairs (default: the one in PATH)\n' +
      '  --debian-wireguard-go   also run the wireguard-go in PATH as the pair wireguard-go-debian\n' +
      '  --threads N             WGVM_THREADS=N for every wgvm process (default: unset)\n' +
      '  --workers K             worker pairs the hub-relay row relays between (1-4, default 3)\n' +
      'Writes a JSON result and an SVG chart to DIR (default bench/results).',
    async run(args) {
      const { BenchError, BenchUsageError, parseBenchOptions, runBench } = await import('./bench/run.js');
      try {
        return await runBench(parseBenchOptions(args));
      } catch (err) {
        if (err instanceof BenchUsageError) throw new UsageError(`bench: ${err.message}`);
        if (err instanceof BenchError) throw new CommandFailure(`bench: ${err.message}`);
        throw err;
      }
    },
  },
  'bench-control': {
    usage: 'bench-control [--nodes N] [--clients C] [--idle S] [--gets R] [--prof DIR] [--out DIR]',
    summary: 'measure the control plane: registrations, node lists, idle CPU (root)',
    details:
      'Runs one `wgvm serve` in a network namespace, registers N nodes (default 10000) with C requests\n' +
      'in flight (default 32), times R GETs of /api/nodes/list paged and filtered (default 500) and 20\n' +
      "of the whole list, then the idle hub's CPU over S seconds (default 60). --prof DIR: the hub's\n" +
      'V8 CPU profile (node --cpu-prof; it costs CPU itself). Writes control-plane-<date>.json to DIR\n' +
      '(default bench/results).',
    async run(args) {
      const { BenchError, BenchUsageError } = await import('./bench/run.js');
      const { parseControlPlaneOptions, runControlPlaneBench } = await import('./bench/control-plane.js');
      try {
        return await runControlPlaneBench(parseControlPlaneOptions(args));
      } catch (err) {
        if (err instanceof BenchUsageError) throw new UsageError(`bench-control: ${err.message}`);
        if (err instanceof BenchError) throw new CommandFailure(`bench-control: ${err.message}`);
        throw err;
      }
    },
  },
  serve: {
    usage: 'serve',
    summary: 'run the hub: data plane, management API and dashboard',
    details: 'Configured by the environment and ./.env (see README: SERVERURL, API_TOKEN, DATA_DIR, …).',
    async run(args) {
      noArgs('serve', args);
      const { serve } = await import('./hub/serve.js');
      try {
        return await serve();
      } catch (err) {
        // Start-up problems (a bad variable, no CAP_NET_ADMIN, a port in use) are one line, not a trace.
        if (err instanceof Error && !(err instanceof TypeError || err instanceof RangeError || err instanceof ReferenceError)) {
          throw new CommandFailure(`serve: ${err.message}`);
        }
        throw err;
      }
    },
  },
  import: migration('import', 'import <wg0.conf | linuxserver folder> [--dry-run] [--replace-hub-key]',
    'take over an existing WireGuard server (wg0.conf or a linuxserver/wireguard folder)'),
  export: migration('export', 'export [--include-secrets] [-o FILE]', 'write a JSON backup of the registry'),
  restore: migration('restore', 'restore <FILE | ->', 'restore a backup made by `wgvm export` into an empty registry'),
};

/** A migration command (src/migrate), loaded only when it runs. */
function migration(name: 'import' | 'export' | 'restore', usage: string, summary: string): Command {
  return {
    usage,
    summary,
    async run(args) {
      const migrate = await import('./migrate/index.js');
      const run = { import: migrate.runImport, export: migrate.runExport, restore: migrate.runRestore }[name];
      return migrate.migrationCommand(name, run, args, failure);
    },
  };
}

function failure(text: string, usage: boolean): Error {
  return usage ? new UsageError(text) : new CommandFailure(text);
}

function usage(): string {
  const width = Math.max(...Object.keys(commands).map((n) => n.length));
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return (
    'Usage: wgvm <command> [arguments]\n' +
    '       wgvm <command> --help     that command\'s usage\n' +
    '       wgvm --version\n\n' +
    `Commands:\n${lines.join('\n')}\n`
  );
}

function commandHelp(name: string, c: Command): string {
  return `Usage: wgvm ${c.usage}\n\n${c.summary[0]!.toUpperCase()}${c.summary.slice(1)}.\n${c.details ? `${c.details}\n` : ''}`;
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return `wgvm ${pkg.version}\n`;
}

const isHelp = (a: string | undefined) => a === '--help' || a === '-h';

export async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined) {
    process.stderr.write(usage());
    return 2;
  }
  if (name === 'help' || isHelp(name)) {
    const topic = name === 'help' ? args[0] : undefined;
    const c = topic === undefined ? undefined : commands[topic];
    if (topic !== undefined && !c) {
      process.stderr.write(`wgvm: unknown command "${topic}"\n`);
      return 2;
    }
    process.stdout.write(c ? commandHelp(topic!, c) : usage());
    return 0;
  }
  if (name === '--version' || name === '-V' || name === 'version') {
    process.stdout.write(version());
    return 0;
  }
  const command = commands[name];
  if (!command) {
    process.stderr.write(`wgvm: unknown command "${name}" (wgvm --help lists them)\n`);
    return 2;
  }
  if (args.some(isHelp)) {
    process.stdout.write(commandHelp(name, command));
    return 0;
  }
  try {
    return await command.run(args);
  } catch (err) {
    if (err instanceof UsageError || err instanceof CommandFailure) {
      process.stderr.write(`wgvm ${err.message}\n`);
      return err instanceof UsageError ? 2 : 1;
    }
    throw err;
  }
}

/** `up`'s arguments; --threads wins over WGVM_THREADS. */
function parseUpArgs(args: string[]): { foreground: boolean; threads: number | 'auto'; iface: string } {
  const usage = 'up: usage: wgvm up [-f|--foreground] [--threads N|auto] <interface>';
  let foreground = false;
  let threadsText = process.env.WGVM_THREADS;
  let threadsFrom = 'WGVM_THREADS';
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '-f' || a === '--foreground') foreground = true;
    else if (a === '--threads' || a.startsWith('--threads=')) {
      threadsText = a === '--threads' ? args[++i] : a.slice('--threads='.length);
      threadsFrom = '--threads';
      if (threadsText === undefined) throw new UsageError(`up: --threads needs a value (${THREADS_RULE})`);
    } else rest.push(a);
  }
  if (rest.length !== 1 || rest[0]!.startsWith('-')) throw new UsageError(usage);
  const iface = rest[0]!;
  if (!isInterfaceName(iface)) throw new UsageError(`up: "${iface}" is not a valid interface name (${INTERFACE_NAME_RULE})`);
  const threads = threadsText === undefined ? 'auto' : parseThreads(threadsText);
  if (threads === null) throw new UsageError(`up: ${threadsFrom} ${JSON.stringify(threadsText)} is not a number of threads (${THREADS_RULE})`);
  return { foreground, threads, iface };
}
