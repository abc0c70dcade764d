// `wgvm`: the command line. Each subcommand is a function of (args, stdio) returning an exit code;
// user mistakes end in one line on stderr and a non-zero code, never a stack trace.
import { fstatSync, readFileSync } from 'node:fs';
import { uapiCounters, uapiSet } from './uapi/client.js';
import { reportStartupFailure, runDaemon, runForeground } from './userspace.js';
import { decodeKey, encodeKey, generatePresharedKey, generatePrivateKey, KeyFormatError, publicKeyOf } from './keys.js';
// The hub, the benchmark, migrations and the password prompt are loaded by their own commands only:
// `wgvm up` (what wg-quick runs) starts in a third of the time without fastify and SQLite.

export class UsageError extends Error {
  override name = 'UsageError';
}

interface Command {
  summary: string;
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

const commands: Record<string, Command> = {
  genkey: {
    summary: 'print a new private key (base64), like `wg genkey`',
    run(args) {
      noArgs('genkey', args);
      warnIfWorldReadableStdout();
      process.stdout.write(encodeKey(generatePrivateKey()) + '\n');
      return 0;
    },
  },
  genpsk: {
    summary: 'print a new preshared key (base64), like `wg genpsk`',
    run(args) {
      noArgs('genpsk', args);
      warnIfWorldReadableStdout();
      process.stdout.write(encodeKey(generatePresharedKey()) + '\n');
      return 0;
    },
  },
  pubkey: {
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
        if (err instanceof KeyFormatError) throw new UsageError(`pubkey: key is not the correct length or format: ${err.message}`);
        throw err;
      }
      process.stdout.write(encodeKey(publicKeyOf(key)) + '\n');
      return 0;
    },
  },
  'hash-password': {
    summary: "make ADMIN_PASSWORD_HASH for the dashboard: type the password twice, or pipe it in",
    async run(args) {
      noArgs('hash-password', args);
      const { hashPassword, PasswordHashError } = await import('./password.js');
      const { PromptError, readNewPassword } = await import('./prompt.js');
      try {
        const hash = await hashPassword(await readNewPassword());
        process.stdout.write(`${hash}\n`);
        if (process.stdout.isTTY) process.stderr.write(`Put it in .env in single quotes: ADMIN_PASSWORD_HASH='${hash}'\n`);
        return 0;
      } catch (err) {
        if (err instanceof PromptError || err instanceof PasswordHashError) throw new UsageError(`hash-password: ${err.message}`);
        throw err;
      }
    },
  },
  up: {
    summary: 'bring up a userspace WireGuard interface configured with wg: wgvm up [-f|--foreground] <iface>',
    async run(args) {
      const foreground = args.some((a) => a === '-f' || a === '--foreground');
      const rest = args.filter((a) => a !== '-f' && a !== '--foreground');
      if (rest.length !== 1 || rest[0]!.startsWith('-')) throw new UsageError('up: usage: wgvm up [-f|--foreground] <interface>');
      const iface = rest[0]!;
      if (!/^[A-Za-z0-9_=+.-]{1,15}$/.test(iface)) throw new UsageError(`up: "${iface}" is not a valid interface name (1-15 of A-Z a-z 0-9 _ = + . -)`);
      if (!foreground) return runDaemon(iface);
      try {
        return await runForeground(iface);
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        reportStartupFailure(message);
        throw new UsageError(`up: ${message}`);
      }
    },
  },
  relay: {
    summary: 'turn relaying between peers inside a wgvm interface on or off: wgvm relay <iface> on|off',
    async run(args) {
      const [iface, state] = args;
      if (args.length !== 2 || (state !== 'on' && state !== 'off')) throw new UsageError('relay: usage: wgvm relay <interface> on|off');
      await uapiSet(iface!, `wgvm_relay=${state === 'on'}`);
      return 0;
    },
  },
  isolate: {
    summary: 'stop (on) or allow (off) a peer reaching other peers through the interface: wgvm isolate <iface> <public-key> on|off',
    async run(args) {
      const [iface, key, state] = args;
      if (args.length !== 3 || (state !== 'on' && state !== 'off')) {
        throw new UsageError('isolate: usage: wgvm isolate <interface> <public-key> on|off');
      }
      let hex: string;
      try {
        hex = Buffer.from(decodeKey(key!)).toString('hex');
      } catch (err) {
        throw new UsageError(`isolate: ${err instanceof Error ? err.message : String(err)}`);
      }
      // update_only: isolating a key that is not a peer must not create one.
      await uapiSet(iface!, `public_key=${hex}\nupdate_only=true\nwgvm_isolated=${state === 'on'}`);
      return 0;
    },
  },
  counters: {
    summary: 'print a wgvm interface\'s drop and error counters (drop_replay=N …): wgvm counters <iface>',
    async run(args) {
      if (args.length !== 1 || args[0]!.startsWith('-')) throw new UsageError('counters: usage: wgvm counters <interface>');
      try {
        process.stdout.write(await uapiCounters(args[0]!));
      } catch (err) {
        throw new UsageError(`counters: ${err instanceof Error ? err.message : String(err)}`);
      }
      return 0;
    },
  },
  bench: {
    summary: 'measure this data plane against wireguard-go and a plain link: wgvm bench [--quick] [--runs N] [--seconds S] [--only pair,…] [--out dir]',
    async run(args) {
      const { BenchError, runBench } = await import('./bench/run.js');
      try {
        return await runBench(args);
      } catch (err) {
        if (err instanceof BenchError || (err instanceof Error && err.name === 'TypeError' && 'code' in err)) {
          throw new UsageError(`bench: ${err.message}`);
        }
        throw err;
      }
    },
  },
  serve: {
    summary: 'run the hub: data plane, management API (configured by the environment and .env)',
    async run(args) {
      noArgs('serve', args);
      const { serve } = await import('./serve.js');
      try {
        return await serve();
      } catch (err) {
        // Start-up problems (a bad variable, no CAP_NET_ADMIN, a port in use) are one line, not a trace.
        if (err instanceof Error && !(err instanceof TypeError || err instanceof RangeError || err instanceof ReferenceError)) {
          throw new UsageError(`serve: ${err.message}`);
        }
        throw err;
      }
    },
  },
  import: {
    summary: 'take over an existing WireGuard server (wg0.conf or a linuxserver/wireguard folder): wgvm import <path> [--dry-run] [--replace-hub-key]',
    async run(args) {
      const { migrationCommand, runImport } = await import('./migrate/index.js');
      return migrationCommand('import', runImport, args, (message) => new UsageError(message));
    },
  },
  export: {
    summary: 'write a JSON backup of the registry: wgvm export [--include-secrets] [-o FILE]',
    async run(args) {
      const { migrationCommand, runExport } = await import('./migrate/index.js');
      return migrationCommand('export', runExport, args, (message) => new UsageError(message));
    },
  },
  restore: {
    summary: 'restore a backup made by wgvm export into an empty registry: wgvm restore <FILE>',
    async run(args) {
      const { migrationCommand, runRestore } = await import('./migrate/index.js');
      return migrationCommand('restore', runRestore, args, (message) => new UsageError(message));
    },
  },
};

function usage(): string {
  const width = Math.max(...Object.keys(commands).map((n) => n.length));
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return `Usage: wgvm <command> [arguments]\n\nCommands:\n${lines.join('\n')}\n`;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(usage());
    return name === undefined ? 1 : 0;
  }
  const command = commands[name];
  if (!command) {
    process.stderr.write(`wgvm: unknown command "${name}"\n\n${usage()}`);
    return 1;
  }
  try {
    return await command.run(args);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`wgvm ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}
