// The deployment files: Dockerfile, .dockerignore, docker-compose.yml, .env.example,
// deploy/wgvm.service and docs/deployment.md.
//
// No Docker engine runs here (and hadolint is neither in Debian 12 nor installable from npm without
// downloading a binary), so the Dockerfile is checked by reading it: its stages, that every command it
// runs exists, that it copies what the code loads at run time, and its HEALTHCHECK is run for real
// against a local server. The compose file is YAML; it is read with a small parser for the subset it
// uses (no YAML dependency). `docker compose config` and `systemd-analyze verify` run when installed.
import { execFile, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import * as configModule from '../../src/config/index.js';
import { CONFIG_DEFAULTS, ConfigError, loadConfig, parseDotEnv } from '../../src/config/index.js';
import { SOCKET_DIR } from '../../src/uapi/server.js';
import { hasTool } from '../helpers/tools.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const read = (path: string) => readFileSync(join(root, path), 'utf8');
const packageJson = JSON.parse(read('package.json')) as { scripts: Record<string, string>; bin: Record<string, string> };

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'wgvm-deploy-'));
  dirs.push(d);
  return d;
}

// A host with a public address, so that nothing depends on this machine's interfaces.
const HOST_INTERFACES = () => ({
  eth0: [{ address: '203.0.113.7', netmask: '255.255.255.0', family: 'IPv4' as const, mac: '00:00:00:00:00:00', internal: false, cidr: '203.0.113.7/24' }],
});

// ──────────────────────────────────────────── Dockerfile ────────────────────────────────────────────

interface Instruction {
  keyword: string;
  args: string;
  line: number;
}

interface Stage {
  image: string;
  name: string | null;
  instructions: Instruction[];
}

/** Instructions with continuation lines joined and comment lines dropped, as Docker reads them. */
function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let buffer = '';
  let start = 0;
  text.split('\n').forEach((raw, i) => {
    const trimmed = raw.trim();
    if (trimmed.startsWith('#')) return; // comment lines, also inside a continuation
    if (buffer === '' && trimmed === '') return;
    if (buffer === '') start = i + 1;
    if (trimmed.endsWith('\\')) {
      buffer += `${trimmed.slice(0, -1)} `;
      return;
    }
    buffer += trimmed;
    const m = /^(\S+)\s*(.*)$/s.exec(buffer)!;
    out.push({ keyword: m[1]!.toUpperCase(), args: m[2]!.replace(/\s+/g, ' ').trim(), line: start });
    buffer = '';
  });
  expect(buffer, 'the Dockerfile ends in a continuation line').toBe('');
  return out;
}

function stagesOf(instructions: Instruction[]): Stage[] {
  const stages: Stage[] = [];
  for (const ins of instructions) {
    if (ins.keyword === 'FROM') {
      const m = /^(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args)!;
      stages.push({ image: m[1]!, name: m[2] ?? null, instructions: [] });
    } else if (ins.keyword !== 'ARG' || stages.length > 0) {
      expect(stages.length, `${ins.keyword} on line ${ins.line} comes before any FROM`).toBeGreaterThan(0);
      stages.at(-1)!.instructions.push(ins);
    }
  }
  return stages;
}

interface Copy {
  from: string | null;
  sources: string[];
  dest: string;
  index: number;
}

function copiesOf(stage: Stage): Copy[] {
  return stage.instructions.flatMap((ins, index) => {
    if (ins.keyword !== 'COPY') return [];
    const words = ins.args.split(' ');
    const flags = words.filter((w) => w.startsWith('--'));
    const paths = words.filter((w) => !w.startsWith('--'));
    const from = flags.find((f) => f.startsWith('--from='))?.slice('--from='.length) ?? null;
    return [{ from, sources: paths.slice(0, -1), dest: paths.at(-1)!, index }];
  });
}

/** The stage's WORKDIR in effect at instruction `index`. */
function workdirAt(stage: Stage, index: number): string {
  let dir = '/';
  stage.instructions.slice(0, index).forEach((ins) => {
    if (ins.keyword === 'WORKDIR') dir = posix.resolve(dir, ins.args);
  });
  return dir;
}

function indexOf(stage: Stage, keyword: string, pattern: RegExp): number {
  return stage.instructions.findIndex((ins) => ins.keyword === keyword && pattern.test(ins.args));
}

/** The packages of every `apt-get install` in the stage, and whether each used --no-install-recommends. */
function aptInstalls(stage: Stage): { packages: string[]; noRecommends: boolean }[] {
  const out: { packages: string[]; noRecommends: boolean }[] = [];
  for (const ins of stage.instructions.filter((i) => i.keyword === 'RUN')) {
    for (const m of ins.args.matchAll(/apt-get install ([^&;|]*)/g)) {
      const words = m[1]!.trim().split(' ');
      out.push({ packages: words.filter((w) => !w.startsWith('-')), noRecommends: words.includes('--no-install-recommends') });
    }
  }
  return out;
}

function execForm(args: string): string[] {
  const parsed: unknown = JSON.parse(args);
  expect(Array.isArray(parsed) && parsed.every((a) => typeof a === 'string'), `not an exec-form array: ${args}`).toBe(true);
  return parsed as string[];
}

describe('Dockerfile', () => {
  const instructions = parseDockerfile(read('Dockerfile'));
  const stages = stagesOf(instructions);
  const [build, runtime] = stages as [Stage, Stage];
  const runtimeOnly = (keyword: string) => runtime.instructions.filter((i) => i.keyword === keyword);

  it('has two stages on the current Node LTS: node:24-bookworm (build) and node:24-bookworm-slim (runtime, the last)', () => {
    expect(stages).toHaveLength(2);
    expect(build.image).toBe('node:24-bookworm');
    expect(build.name).toBe('build');
    expect(runtime.image).toBe('node:24-bookworm-slim');
    // Every COPY --from names the build stage.
    for (const c of copiesOf(runtime).filter((c) => c.from !== null)) expect(c.from).toBe('build');
  });

  it('installs the build tools in the build stage only, and only libssl3 and iproute2 at run time', () => {
    const buildApt = aptInstalls(build);
    expect(buildApt.length).toBeGreaterThan(0);
    expect(buildApt.every((a) => a.noRecommends)).toBe(true);
    expect(buildApt.flatMap((a) => a.packages)).toEqual(expect.arrayContaining(['g++', 'cmake', 'make', 'python3', 'libssl-dev']));

    const runtimeApt = aptInstalls(runtime);
    expect(runtimeApt.every((a) => a.noRecommends)).toBe(true);
    const runtimePackages = runtimeApt.flatMap((a) => a.packages);
    expect(runtimePackages).toEqual(expect.arrayContaining(['libssl3', 'iproute2']));
    for (const tool of ['g++', 'cmake', 'make', 'python3', 'libssl-dev', 'curl', 'wget']) expect(runtimePackages).not.toContain(tool);
    // The apt lists are not left in a layer.
    for (const ins of [...build.instructions, ...runtime.instructions].filter((i) => /apt-get install/.test(i.args))) {
      expect(ins.args).toMatch(/rm -rf \/var\/lib\/apt\/lists/);
    }
  });

  it('copies the lock file before `npm ci`, and builds only once the sources are there', () => {
    const copies = copiesOf(build);
    const lockCopy = copies.find((c) => c.sources.includes('package.json') && c.sources.includes('package-lock.json'));
    expect(lockCopy, 'COPY package.json package-lock.json').toBeDefined();
    const npmCi = indexOf(build, 'RUN', /\bnpm ci\b/);
    expect(npmCi).toBeGreaterThan(lockCopy!.index);
    const sourcesCopy = copies.find((c) => c.sources.includes('.'));
    expect(sourcesCopy, 'COPY . . (the sources)').toBeDefined();
    const buildRun = indexOf(build, 'RUN', /\bnpm run build\b/);

    // `npm ci` runs the `prepare` script (npm run build), which needs the sources: either they are
    // copied before `npm ci`, or `npm ci` skips scripts and the build runs after the sources arrive.
    expect(packageJson.scripts.prepare).toBeDefined();
    const ciArgs = build.instructions[npmCi]!.args;
    if (/\bnpm ci\b[^&;]*--ignore-scripts/.test(ciArgs)) {
      expect(buildRun, 'npm run build after COPY . .').toBeGreaterThan(sourcesCopy!.index);
      // better-sqlite3's own build, which --ignore-scripts skipped, runs before the sources come in.
      expect(indexOf(build, 'RUN', /\bnpm rebuild\b/)).toBeGreaterThanOrEqual(npmCi);
    } else {
      expect(sourcesCopy!.index, 'COPY . . before npm ci').toBeLessThan(npmCi);
    }

    // Production dependencies only, pruned after the build (which needs the dev dependencies).
    const prune = indexOf(build, 'RUN', /\bnpm prune\b.*--omit=dev|\bnpm prune\b.*--production/);
    expect(prune).toBeGreaterThan(Math.max(buildRun, npmCi));
    // The whole build runs in one project directory, the stage's WORKDIR.
    expect(workdirAt(build, npmCi)).toBe(workdirAt(build, prune));
  });

  it('runs only npm scripts that package.json has', () => {
    const runs = instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args);
    const used = runs.flatMap((r) => [...r.matchAll(/\bnpm run(?:-script)? ([\w:.-]+)/g)].map((m) => m[1]!));
    expect(used.length).toBeGreaterThan(0);
    for (const name of used) expect(Object.keys(packageJson.scripts), `npm run ${name}`).toContain(name);
  });

  it('gives the runtime stage what the code loads: dist/, bin/, the addon where src/dataplane/native.ts looks, production node_modules', () => {
    const copies = copiesOf(runtime).filter((c) => c.from === 'build');
    const buildRoot = workdirAt(build, indexOf(build, 'RUN', /\bnpm run build\b/));
    const appRoot = workdirAt(runtime, runtime.instructions.length);
    // source (in the build stage, relative to its project) → destination (absolute, in the runtime)
    const copied = new Map<string, string>();
    for (const c of copies) {
      expect(c.sources).toHaveLength(1);
      const source = posix.relative(buildRoot, posix.resolve(buildRoot, c.sources[0]!));
      copied.set(source, posix.resolve(workdirAt(runtime, c.index), c.dest));
    }
    const expectCopied = (path: string) => {
      expect(copied.get(path), `COPY --from=build ${path}`).toBe(posix.join(appRoot, path));
    };

    // src/dataplane/native.ts loads the addon relative to its compiled self, dist/dataplane/native.js.
    const native = read('src/dataplane/native.ts');
    const relative = /new URL\('([^']+wgvm_native\.node)', import\.meta\.url\)/.exec(native)?.[1];
    expect(relative, 'the addon path in src/dataplane/native.ts').toBeDefined();
    const addon = fileURLToPath(new URL(relative!, 'file:///project/dist/dataplane/native.js')).slice('/project/'.length);
    expect(addon).toBe('build/Release/wgvm_native.node');
    // cmake-js writes it to <--out>/Release.
    expect(packageJson.scripts['build:native']).toMatch(/--out build\b/);
    expectCopied(addon);

    for (const path of ['dist', 'bin', 'node_modules', 'package.json']) expectCopied(path);
    // tsc writes dist/, which is what bin/wgvm.js imports.
    expect(JSON.parse(read('tsconfig.json')).compilerOptions.outDir).toBe('dist');
    expect(read('bin/wgvm.js')).toContain("'../dist/cli.js'");
    // The dashboard's front end: Vite writes dist/web (inside the copied dist/), where the dashboard
    // app, compiled to dist/http/dashboard.js, looks for it; the build stage checks it is there.
    expect(packageJson.scripts.build).toMatch(/\bbuild:web\b/);
    expect(read('web/vite.config.ts')).toMatch(/outDir: fileURLToPath\(new URL\('\.\.\/dist\/web'/);
    const web = /new URL\('([^']+)', import\.meta\.url\)/.exec(read('src/http/dashboard.ts'))?.[1];
    expect(fileURLToPath(new URL(web!, 'file:///project/dist/http/dashboard.js'))).toBe('/project/dist/web');
    expect(build.instructions[indexOf(build, 'RUN', /\bnpm run build\b/)]!.args).toContain('test -f dist/web/index.html');
  });

  it('keeps DATA_DIR on a volume, exposes the default ports, runs `wgvm serve` as root', () => {
    const env = runtimeOnly('ENV').map((i) => i.args).join(' ');
    expect(env).toMatch(/\bDATA_DIR=\/data\b/);
    expect(runtimeOnly('VOLUME').map((i) => i.args)).toContain('/data');

    const exposed = runtimeOnly('EXPOSE').flatMap((i) => i.args.split(' '));
    const normal = exposed.map((p) => (p.includes('/') ? p : `${p}/tcp`));
    expect(normal).toEqual(
      expect.arrayContaining([`${CONFIG_DEFAULTS.SERVERPORT}/udp`, `${CONFIG_DEFAULTS.API_PORT}/tcp`, `${CONFIG_DEFAULTS.DASHBOARD_PORT}/tcp`]),
    );
    expect(normal).toEqual(expect.arrayContaining(['41820/udp', '8090/tcp', '5000/tcp']));

    const entrypoint = execForm(runtimeOnly('ENTRYPOINT').at(-1)!.args);
    expect(entrypoint[0]).toBe('node');
    const appRoot = workdirAt(runtime, runtime.instructions.length);
    expect(entrypoint[1]).toBe(posix.join(appRoot, packageJson.bin.wgvm!));
    expect(packageJson.bin.wgvm).toBe('bin/wgvm.js');
    expect(execForm(runtimeOnly('CMD').at(-1)!.args)).toEqual(['serve']);
    expect(read('src/cli.ts')).toMatch(/^\s+serve: \{/m);

    // Root: the TUN interface needs CAP_NET_ADMIN, which only root in the container gets from --cap-add.
    expect(runtimeOnly('USER')).toEqual([]);
    const text = read('Dockerfile');
    expect(text).toContain('--cap-add NET_ADMIN');
    expect(text).toContain('--device /dev/net/tun');
    expect(text).toMatch(/no WireGuard kernel module/i);
  });

  describe('HEALTHCHECK', () => {
    const healthcheck = runtimeOnly('HEALTHCHECK');
    const command = () => {
      expect(healthcheck).toHaveLength(1);
      const m = /^(?:--[\w-]+=\S+\s+)*CMD\s+(\[.*\])$/.exec(healthcheck[0]!.args);
      expect(m, 'HEALTHCHECK [options] CMD ["exec", "form"]').not.toBeNull();
      return execForm(m![1]!);
    };

    it('asks /health with node (the slim image has no curl), on API_PORT', () => {
      const argv = command();
      expect(argv[0]).toBe('node');
      expect(argv.join(' ')).toContain('/health');
      expect(argv.join(' ')).toContain('process.env.API_PORT');
      expect(argv.join(' ')).not.toMatch(/\b(curl|wget)\b/);
      expect(read('src/http/api.ts')).toMatch(/app\.get\(\s*'\/health'/);
    });

    // Runs the image's command for real against a server on loopback.
    function runHealthcheck(env: NodeJS.ProcessEnv): Promise<number> {
      const [, ...args] = command();
      return new Promise((resolve) => {
        const child = execFile(process.execPath, args, { env: { PATH: process.env.PATH, ...env }, timeout: 10_000 }, () => {});
        child.on('exit', (code) => resolve(code ?? -1));
      });
    }
    function listen(status: (path: string) => number): Promise<{ server: Server; port: number; paths: string[] }> {
      const paths: string[] = [];
      const server = createServer((req, res) => {
        paths.push(req.url ?? '');
        res.statusCode = status(req.url ?? '');
        res.end('{}');
      });
      return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as AddressInfo).port, paths })));
    }

    it('passes when /health answers 200, fails on 503 and when nothing listens', async () => {
      const ok = await listen((path) => (path === '/health' ? 200 : 404));
      const down = await listen(() => 503);
      try {
        expect(await runHealthcheck({ API_PORT: String(ok.port) })).toBe(0);
        expect(ok.paths).toEqual(['/health']);
        expect(await runHealthcheck({ API_PORT: ` ${ok.port} ` })).toBe(0);
        expect(await runHealthcheck({ API_PORT: String(down.port) })).toBe(1);
      } finally {
        ok.server.close();
        down.server.close();
      }
      // A port nobody listens on (the one just closed).
      expect(await runHealthcheck({ API_PORT: String(ok.port) })).toBe(1);
    });

    it('defaults to port 8090 when API_PORT is unset or empty', () => {
      const script = command().join(' ');
      expect(script).toContain(`'${CONFIG_DEFAULTS.API_PORT}'`);
    });
  });
});

// ─────────────────────────────────────────── .dockerignore ───────────────────────────────────────────

/** Docker's .dockerignore rules, enough for this file: *, **, ?, a trailing /, ! exceptions; last match wins. */
function dockerIgnored(patterns: string[], path: string): boolean {
  const toRegex = (p: string) =>
    new RegExp(
      `^${p
        .replace(/\/+$/, '')
        .replace(/^\/+/, '')
        .split('')
        .map((c) => (/[.+^${}()|[\]\\]/.test(c) ? `\\${c}` : c))
        .join('')
        .replace(/\*\*\/?/g, '\u0000')
        .replace(/\*/g, '[^/]*')
        .replace(/\?/g, '[^/]')
        .replace(/\u0000/g, '(?:.*/)?')}$`,
    );
  // A path is excluded when it or one of its parent directories matches.
  const prefixes = path.split('/').map((_, i, parts) => parts.slice(0, i + 1).join('/'));
  let ignored = false;
  for (const raw of patterns) {
    const negate = raw.startsWith('!');
    const re = toRegex(negate ? raw.slice(1) : raw);
    if (prefixes.some((p) => re.test(p))) ignored = !negate;
  }
  return ignored;
}

describe('.dockerignore', () => {
  const patterns = read('.dockerignore')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));

  it('keeps out dependencies, build outputs, local data, secrets and .git', () => {
    for (const path of [
      'node_modules',
      'node_modules/fastify/package.json',
      'build/Release/wgvm_native.node',
      'dist/cli.js',
      'data/wgvm.db',
      'data/secret.key',
      '.env',
      '.git/HEAD',
      'bench/results/2026-11-26T11-59-04.json',
    ]) {
      expect(dockerIgnored(patterns, path), path).toBe(true);
    }
  });

  it('lets through everything the build stage needs (CMake also builds test/cpp and native/bench)', () => {
    const cmake = read('CMakeLists.txt');
    const globbed = [...cmake.matchAll(/file\(GLOB \w+ CONFIGURE_DEPENDS ([\w/]+)\/\*\.cpp\)/g)].map((m) => `${m[1]}/x.cpp`);
    expect(globbed).toEqual(expect.arrayContaining(['test/cpp/x.cpp', 'native/bench/x.cpp']));
    for (const path of [
      'package.json',
      'package-lock.json',
      'CMakeLists.txt',
      'tsconfig.json',
      'src/cli.ts',
      'src/dataplane/native.ts',
      'native/addon/addon.cpp',
      'bin/wgvm.js',
      'bin/wgvm-userspace.js',
      ...globbed,
    ]) {
      expect(dockerIgnored(patterns, path), path).toBe(false);
    }
  });
});

// ───────────────────────────────────────── docker-compose.yml ─────────────────────────────────────────

type Yaml = string | Yaml[] | { [key: string]: Yaml };

/**
 * The YAML subset docker-compose.yml uses: block mappings, block sequences of scalars, plain or
 * double-quoted scalars, `#` comments. Anything else fails the test rather than being misread.
 */
function parseYamlSubset(text: string): Yaml {
  const lines = text
    .split('\n')
    .map((raw, i) => ({ raw: raw.replace(/\s+#.*$/, '').replace(/^\s*#.*$/, ''), line: i + 1 }))
    .filter((l) => l.raw.trim() !== '')
    .map((l) => ({ indent: l.raw.length - l.raw.trimStart().length, body: l.raw.trim(), line: l.line }));
  const scalar = (s: string): string => {
    if (s.startsWith('"')) {
      expect(s.endsWith('"') && s.length >= 2, `unterminated string: ${s}`).toBe(true);
      return JSON.parse(s) as string;
    }
    expect(/^[[{&*!|>'%@`]/.test(s), `unsupported YAML: ${s}`).toBe(false);
    return s;
  };
  let i = 0;
  const block = (indent: number): Yaml => {
    if (lines[i]!.body.startsWith('- ')) {
      const list: Yaml[] = [];
      while (i < lines.length && lines[i]!.indent === indent && lines[i]!.body.startsWith('- ')) {
        list.push(scalar(lines[i]!.body.slice(2).trim()));
        i++;
      }
      return list;
    }
    const map: { [key: string]: Yaml } = {};
    while (i < lines.length && lines[i]!.indent === indent) {
      const { body, line } = lines[i]!;
      const m = /^([\w.-]+):(?:\s+(.*))?$/.exec(body);
      expect(m, `line ${line}: not "key: value"`).not.toBeNull();
      i++;
      if (m![2] !== undefined) map[m![1]!] = scalar(m![2]);
      else if (i < lines.length && lines[i]!.indent > indent) map[m![1]!] = block(lines[i]!.indent);
      // A compose list may sit at the key's own indentation.
      else if (i < lines.length && lines[i]!.indent === indent && lines[i]!.body.startsWith('- ')) map[m![1]!] = block(indent);
      else map[m![1]!] = '';
    }
    expect(i >= lines.length || lines[i]!.indent < indent, `line ${lines[i]?.line}: bad indentation`).toBe(true);
    return map;
  };
  const doc = block(0);
  expect(i, 'the whole file was read').toBe(lines.length);
  return doc;
}

describe('docker-compose.yml', () => {
  const doc = parseYamlSubset(read('docker-compose.yml')) as Record<string, Yaml>;
  const services = doc.services as Record<string, Record<string, Yaml>>;
  const service = services['wireguard-vpn-manager']!;

  it('has the service wireguard-vpn-manager, built from this directory, configured by .env', () => {
    expect(Object.keys(services)).toEqual(['wireguard-vpn-manager']);
    expect(service.build).toBe('.');
    expect(service.env_file).toBe('.env');
    expect(service.restart).toBe('unless-stopped');
  });

  it('has NET_ADMIN and /dev/net/tun (no privileged mode, no kernel module)', () => {
    expect(service.cap_add).toEqual(['NET_ADMIN']);
    expect(service.devices).toEqual(['/dev/net/tun:/dev/net/tun']);
    expect(service.privileged).toBeUndefined();
  });

  it('is as tight as the systemd unit: every other capability dropped, no new privileges, read-only root', () => {
    expect(service.cap_drop).toEqual(['ALL']);
    expect(service.security_opt).toEqual(['no-new-privileges:true']);
    expect(String(service.read_only)).toBe('true');
    // Writable: the volume (DATA_DIR) and tmpfs for the control socket's directory and /tmp.
    const tmpfs = service.tmpfs as string[];
    expect(tmpfs.map((t) => t.split(':')[0])).toEqual(['/run/wireguard', '/tmp']);
    // The image's /var/run is /run (Debian), where the hub puts <iface>.sock (src/uapi/server.ts).
    expect(SOCKET_DIR).toBe('/var/run/wireguard');
  });

  it('publishes SERVERPORT/udp, API_PORT and DASHBOARD_PORT, following .env with the defaults', () => {
    const ports = service.ports as string[];
    const defaults = (p: string) => p.replace(/\$\{(\w+):-([^}]*)\}/g, (_, name: string, fallback: string) => {
      expect(CONFIG_DEFAULTS[name as keyof typeof CONFIG_DEFAULTS], `${name}'s default`).toBe(fallback);
      return fallback;
    });
    expect(ports.map(defaults)).toEqual(['41820:41820/udp', '8090:8090', '5000:5000']);
    expect(ports[0]).toBe('${SERVERPORT:-41820}:${SERVERPORT:-41820}/udp');
    expect(ports[1]).toContain('${API_PORT:-8090}');
    expect(ports[2]).toContain('${DASHBOARD_PORT:-5000}');
  });

  it('keeps DATA_DIR on the named volume wgvm-data, and the healthcheck is the image’s', () => {
    expect(service.volumes).toEqual(['wgvm-data:/data']);
    // The volume's target is the image's DATA_DIR.
    const runtime = stagesOf(parseDockerfile(read('Dockerfile'))).at(-1)!;
    const env = runtime.instructions.filter((i) => i.keyword === 'ENV').map((i) => i.args).join(' ');
    expect(env).toMatch(new RegExp(`\\bDATA_DIR=${(service.volumes as string[])[0]!.split(':')[1]}(\\s|$)`));
    expect(Object.keys(doc.volumes as Record<string, Yaml>)).toEqual(['wgvm-data']);
    expect(service.healthcheck).toBeUndefined();
  });

  const composeCommand = (): string[] | null => {
    if (spawnSync('docker', ['compose', 'version'], { stdio: 'ignore' }).status === 0) return ['docker', 'compose'];
    if (hasTool('docker-compose')) return ['docker-compose'];
    return null;
  };
  it.skipIf(composeCommand() === null)('is accepted by `docker compose config` (when installed)', () => {
    const dir = tempDir();
    copyFileSync(join(root, 'docker-compose.yml'), join(dir, 'docker-compose.yml'));
    copyFileSync(join(root, '.env.example'), join(dir, '.env'));
    const [cmd, ...args] = composeCommand()!;
    const r = spawnSync(cmd!, [...args, 'config'], { cwd: dir, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('NET_ADMIN');
    expect(r.stdout).toMatch(/published: "?41820"?/);
  });
});

// ──────────────────────────────────────────── .env.example ────────────────────────────────────────────

describe('.env.example', () => {
  const text = read('.env.example');
  const entries = parseDotEnv(text, '.env.example');
  // "# NAME=value": the optional settings, commented out.
  const commented = new Map(
    [...text.matchAll(/^#\s+([A-Z][A-Z0-9_]*)=(.*)$/gm)].map((m) => [m[1]!, m[2]!] as const),
  );

  function load(env: NodeJS.ProcessEnv, fileText = text) {
    const dir = tempDir();
    writeFileSync(join(dir, '.env'), fileText);
    return { dir, config: loadConfig(env, dir, { networkInterfaces: HOST_INTERFACES }) };
  }

  it('sets the seed variables: SERVERURL, LOCAL_SERVER_IP, SERVERPORT=41820, API_TOKEN (empty), INTERNAL_SUBNET=10.100.0.0/16', () => {
    expect([...entries.keys()]).toEqual(['SERVERURL', 'LOCAL_SERVER_IP', 'SERVERPORT', 'API_TOKEN', 'INTERNAL_SUBNET']);
    expect(entries.get('SERVERPORT')!.value).toBe('41820');
    expect(entries.get('INTERNAL_SUBNET')!.value).toBe('10.100.0.0/16');
    expect(entries.get('API_TOKEN')!.value).toBe('');
    expect(entries.get('LOCAL_SERVER_IP')!.value).toBe('');
  });

  it('names every variable loadConfig reads', () => {
    const names = configModule.CONFIG_VARIABLES;
    expect(names.length).toBeGreaterThan(10);
    for (const name of names) expect(entries.has(name) || commented.has(name), name).toBe(true);
    for (const name of [...entries.keys(), ...commented.keys()]) expect(names, `${name} is not read by loadConfig`).toContain(name);
  });

  it('loads cleanly once SERVERURL is set, with the defaults', () => {
    const { dir, config } = load({ SERVERURL: 'vpn.example.com' });
    expect(config.warnings).toEqual([]);
    expect(config.serverUrl).toBe('vpn.example.com');
    expect(config.serverPort).toBe(41820);
    expect(config.endpoint).toBe('vpn.example.com:41820');
    expect(config.apiToken).toBeNull(); // generated and printed by wgvm serve
    expect(config.internalSubnet.text).toBe('10.100.0.0/16');
    expect(config.hubAddress).toBe('10.100.0.1');
    expect(config.localServerIp).toBeNull();
    expect(config.wgInterface).toBe(CONFIG_DEFAULTS.WG_INTERFACE);
    expect(config.apiPort).toBe(8090);
    expect(config.dashboardPort).toBe(5000);
    expect(config.dataDir).toBe(join(dir, 'data'));
    expect(config.workerRange.text).toBe(CONFIG_DEFAULTS.WORKER_IP_RANGE);
  });

  it('loads cleanly when the admin edits SERVERURL in the file, as the seed says', () => {
    const edited = text.replace(/^SERVERURL=.*$/m, 'SERVERURL=192.168.0.68').replace(/^LOCAL_SERVER_IP=.*$/m, 'LOCAL_SERVER_IP=192.168.0.68');
    const { config } = load({}, edited);
    expect(config.warnings).toEqual([]);
    expect(config.serverUrlSource).toBe('SERVERURL');
    expect(config.endpoint).toBe('192.168.0.68:41820');
    expect(config.localServerIp).toBe('192.168.0.68');
  });

  it('stops start-up, naming SERVERURL and the line, while the placeholder is left in', () => {
    const line = text.split('\n').findIndex((l) => l.startsWith('SERVERURL=')) + 1;
    const err = (() => {
      try {
        load({});
      } catch (e) {
        return e;
      }
      return null;
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).variable).toBe('SERVERURL');
    expect((err as ConfigError).message).toContain(`.env:${line}`);
  });

  it('shows the real defaults for the commented-out settings, and each loads when uncommented', () => {
    for (const [name, value] of commented) {
      const fallback = CONFIG_DEFAULTS[name as keyof typeof CONFIG_DEFAULTS];
      if (fallback !== undefined) expect(value, name).toBe(fallback);
    }
    expect(commented.get('ALLOWEDIPS')).toBe(CONFIG_DEFAULTS.INTERNAL_SUBNET); // ALLOWEDIPS defaults to the subnet

    const uncommented = text.replace(/^# ([A-Z][A-Z0-9_]*=)/gm, '$1');
    const plain = load({ SERVERURL: 'vpn.example.com' }).config;
    const { config } = load({ SERVERURL: 'vpn.example.com' }, uncommented);
    expect(config.warnings).toEqual([]);
    // Everything but the examples (PEERDNS, DATABASE_URL) stays as it was; ADMIN_PASSWORD_HASH is
    // only described (a working example hash would be a known password).
    const { peerDns, adminPasswordHash, dataDir, databaseUrl, ...rest } = config;
    const { peerDns: _p, adminPasswordHash: _a, dataDir: _d, databaseUrl: _u, ...plainRest } = plain;
    expect(rest).toEqual(plainRest);
    expect(peerDns.length).toBeGreaterThan(0);
    expect(databaseUrl).toMatch(/^postgres:\/\//);
    expect(plain.databaseUrl).toBeNull();
    expect(adminPasswordHash).toBeNull();
    expect(text).toMatch(/^#\s+ADMIN_PASSWORD_HASH='\$scrypt\$/m);
    expect(dataDir.endsWith('/data')).toBe(true);
  });

  it('refuses the seed’s short API token, and takes a long one', () => {
    expect(() => load({ SERVERURL: 'vpn.example.com', API_TOKEN: 'test-token-123' })).toThrow(/^API_TOKEN: must be at least 16 characters/);
    expect(load({ SERVERURL: 'vpn.example.com', API_TOKEN: 'x'.repeat(32) }).config.apiToken).toBe('x'.repeat(32));
  });

  it('has no comment after a value (docker --env-file and systemd would keep it as part of the value)', () => {
    for (const line of text.split('\n')) {
      if (line.trim() === '' || line.trimStart().startsWith('#')) continue;
      expect(line, line).toMatch(/^[A-Z][A-Z0-9_]*=[^\s#'"]*$/);
    }
  });
});

// ───────────────────────────────────────── deploy/wgvm.service ─────────────────────────────────────────

describe('deploy/wgvm.service', () => {
  const unitText = read('deploy/wgvm.service');
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  for (const raw of unitText.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(\w+)\]$/.exec(line);
    if (header) {
      current = new Map();
      sections.set(header[1]!, current);
      continue;
    }
    const eq = line.indexOf('=');
    expect(current && eq > 0, `bad unit line: ${line}`).toBeTruthy();
    const key = line.slice(0, eq);
    current!.set(key, [...(current!.get(key) ?? []), line.slice(eq + 1)]);
  }
  const service = sections.get('Service')!;
  const one = (key: string) => {
    const values = service.get(key);
    expect(values, key).toHaveLength(1);
    return values![0]!;
  };
  const words = (key: string) => (service.get(key) ?? []).flatMap((v) => v.split(/\s+/)).filter((w) => w !== '');

  it('starts `wgvm serve` from /opt/wireguard-vpn-manager after the network is online, and restarts it', () => {
    const unit = sections.get('Unit')!;
    expect(unit.get('After')).toEqual(['network-online.target']);
    expect(unit.get('Wants')).toEqual(['network-online.target']);
    const workdir = one('WorkingDirectory');
    expect(workdir).toBe('/opt/wireguard-vpn-manager');
    expect(one('ExecStart')).toBe(`/usr/bin/node ${workdir}/${packageJson.bin.wgvm} serve`);
    expect(one('Restart')).toBe('on-failure');
    expect(one('RestartSec')).toBe('2');
    expect(one('EnvironmentFile')).toBe('-/etc/wgvm/wgvm.env');
    expect(sections.get('Install')!.get('WantedBy')).toEqual(['multi-user.target']);
  });

  it('keeps DATA_DIR in its state directory, writable with the socket directory under ProtectSystem=strict', () => {
    expect(service.get('Environment')).toContain('DATA_DIR=/var/lib/wgvm');
    expect(one('StateDirectory')).toBe('wgvm');
    expect(one('ProtectSystem')).toBe('strict');
    const writable = words('ReadWritePaths');
    expect(writable).toContain('/var/lib/wgvm');
    // The control socket directory (src/uapi/server.ts), /var/run being /run; created if missing.
    expect(SOCKET_DIR.replace(/^\/var\/run\//, '/run/')).toBe('/run/wireguard');
    expect(writable).toContain('/run/wireguard');
    expect(one('RuntimeDirectory')).toBe('wireguard');
    expect(one('RuntimeDirectoryPreserve')).toBe('yes'); // other wg interfaces' sockets live there too
    expect(one('ProtectHome')).toBe('yes');
    expect(one('PrivateTmp')).toBe('yes');
  });

  it('has CAP_NET_ADMIN (TUN, `ip`) and /dev/net/tun, and nothing that would break Node.js or the hub', () => {
    expect(words('AmbientCapabilities')).toContain('CAP_NET_ADMIN');
    const bounding = words('CapabilityBoundingSet');
    expect(bounding).toEqual(expect.arrayContaining(['CAP_NET_ADMIN', 'CAP_NET_BIND_SERVICE']));
    for (const cap of words('AmbientCapabilities')) expect(bounding).toContain(cap);
    expect(one('DeviceAllow')).toBe('/dev/net/tun rw');
    expect(one('NoNewPrivileges')).toBe('yes');
    expect(service.get('PrivateDevices') ?? ['no']).toEqual(['no']); // would hide /dev/net/tun
    expect(service.get('PrivateNetwork') ?? ['no']).toEqual(['no']);
    expect(service.get('MemoryDenyWriteExecute') ?? ['no']).toEqual(['no']); // V8's JIT
    const families = words('RestrictAddressFamilies');
    if (families.length > 0) expect(families).toEqual(expect.arrayContaining(['AF_UNIX', 'AF_INET', 'AF_INET6', 'AF_NETLINK']));
  });

  it.skipIf(!hasTool('systemd-analyze'))('passes `systemd-analyze verify` (when installed)', () => {
    const dir = tempDir();
    let unit = unitText;
    // verify checks that ExecStart's program exists: where node lives elsewhere, point it there.
    if (!existsSync('/usr/bin/node')) unit = unit.replace('/usr/bin/node', process.execPath);
    writeFileSync(join(dir, 'wgvm.service'), unit);
    const r = spawnSync('systemd-analyze', ['verify', join(dir, 'wgvm.service')], { encoding: 'utf8' });
    const complaints = `${r.stdout}${r.stderr}`
      .split('\n')
      .filter((l) => l.includes('wgvm.service'));
    expect(complaints).toEqual([]);
    expect(r.status).toBe(0);
  });
});

// ────────────────────────────────────────── docs/deployment.md ──────────────────────────────────────────

describe('docs/deployment.md', () => {
  const doc = read('docs/deployment.md');

  it('covers Docker, Compose, systemd, upgrades, backups and migration, with the commands', () => {
    for (const heading of ['## Docker Compose', '## Docker without Compose', '## systemd', '## Upgrading', '## Backups', '## Migrating from an existing WireGuard server', '## Two hubs on PostgreSQL']) {
      expect(doc).toContain(heading);
    }
    for (const command of [
      'cp .env.example .env',
      'docker compose up -d',
      'docker compose logs',
      'docker build -t wireguard-vpn-manager .',
      '--cap-add NET_ADMIN --device /dev/net/tun',
      'cp deploy/wgvm.service /etc/systemd/system/',
      'systemctl enable --now wgvm',
      'secret.key',
      'wgvm import /etc/wireguard/wg0.conf --dry-run',
      'wgvm export',
      '--include-secrets',
      'wgvm restore',
      'DATABASE_URL=postgres://',
      'vrrp_script',
    ]) {
      expect(doc, command).toContain(command);
    }
  });

  it('names the files the deployment uses, and they exist', () => {
    for (const path of ['.env.example', 'deploy/wgvm.service', 'docker-compose.yml', 'Dockerfile']) {
      expect(existsSync(join(root, path)), path).toBe(true);
    }
  });
});
