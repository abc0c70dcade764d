// The worker agent (agent/wgvm-agent), run for real under dash (Debian's /bin/sh) against a fake hub
// (an http server in this file that serves chosen answers and records every request) and a fake `wg`
// (test/helpers/fake-wg.sh: interface state in files, every call logged). No root, no namespaces.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hasTool } from '../helpers/tools.js';

const AGENT = fileURLToPath(new URL('../../agent/wgvm-agent', import.meta.url));
const FAKE_WG = fileURLToPath(new URL('../helpers/fake-wg.sh', import.meta.url));
const SHELL = hasTool('dash') ? 'dash' : 'sh';

const key = () => randomBytes(32).toString('base64');
const TOKEN = randomBytes(32).toString('base64url');
const HUB_KEY = key();
const OWN_KEY = key();
const FOREIGN = key(); // a peer on the interface the agent did not add

interface Req { method: string; url: string; headers: IncomingMessage['headers']; body: string; at: number }
type Answer = { status: number; body?: string; etag?: string; hold?: number } | 'hang';

/**
 * A fake hub: GET answers come from `answers` in order (the last one repeats); reports get `reportStatus`.
 * A standby answers every request 503, as a hub that shares the registry but is not the active one.
 */
class FakeHub {
  requests: Req[] = [];
  answers: Answer[] = [];
  reportStatus = 204;
  standby = false;
  /** A hub from before two hubs: its query takes `wait` only, `hubs=1` is a 400. */
  old = false;
  private server: Server;
  private hung: ServerResponse[] = [];
  port = 0;
  constructor() {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString('utf8')));
      req.on('end', () => {
        this.requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body, at: Date.now() });
        if (this.standby) {
          res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '1' });
          res.end('{"error":"this hub is a standby: hub hub-a is active"}');
          return;
        }
        if (this.old && req.method === 'GET' && /[?&]hubs=/.test(req.url ?? '')) {
          res.writeHead(400, { 'content-type': 'application/json' });
          res.end('{"error":"bad_request","message":"querystring must NOT have additional properties"}');
          return;
        }
        if (req.method === 'POST') {
          res.writeHead(this.reportStatus, { 'content-type': 'application/json' });
          res.end(this.reportStatus === 204 ? '' : '{"error":"peers[0].endpoint is not an endpoint"}');
          return;
        }
        const a = this.answers.length > 1 ? this.answers.shift()! : this.answers[0]!;
        if (a === 'hang') return void this.hung.push(res);
        const send = () => {
          const headers: Record<string, string> = { 'content-type': 'text/plain' };
          if (a.etag !== undefined) headers.etag = `"${a.etag}"`;
          res.writeHead(a.status, headers);
          res.end(a.body ?? '');
        };
        if (a.hold) setTimeout(send, a.hold);
        else send();
      });
    });
  }
  async start(): Promise<string> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
    return `http://127.0.0.1:${this.port}`;
  }
  gets() { return this.requests.filter((r) => r.method === 'GET'); }
  reports() { return this.requests.filter((r) => r.method === 'POST' && r.url === '/api/agent/v1/report'); }
  stops() { return this.requests.filter((r) => r.method === 'POST' && r.url === '/api/agent/v1/stopping'); }
  async close() {
    for (const r of this.hung) r.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

/** A peers answer in the text format of docs/agent-protocol.md; `hubs`: its hub and api lines (two hubs). */
function answer(peers: string[], poll = 25, hubs: string[] = []): string {
  return ['wgvm-agent-peers 1', `poll ${poll}`, ...hubs, ...peers.map((p) => `peer ${p}`), `end ${peers.length}`].join('\n') + '\n';
}

interface Peer { key: string; psk: string }
const peer = (): Peer => ({ key: key(), psk: key() });

const work = mkdtempSync(join(tmpdir(), 'wgvm-agent-test-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

let dir: string;
let hub: FakeHub;
let hubUrl: string;
let running: ChildProcess[] = [];
let extraHubs: FakeHub[] = [];

/** Another hub (a second one on the same registry), closed after the test. */
async function otherHub(): Promise<[FakeHub, string]> {
  const h = new FakeHub();
  extraHubs.push(h);
  return [h, await h.start()];
}

/** An origin nothing listens on (connection refused). */
async function refusedOrigin(): Promise<string> {
  const h = new FakeHub();
  await h.start();
  await h.close();
  return `http://127.0.0.1:${h.port}`;
}

function writeConfig(lines: Record<string, string>) {
  const conf = {
    WGVM_HUB_URL: hubUrl,
    WGVM_AGENT_TOKEN: TOKEN,
    WGVM_IFACE: 'wg0',
    WGVM_HUB_PUBLIC_KEY: HUB_KEY,
    WGVM_SUBNET: '10.100.0.0/16',
    WGVM_STATE_DIR: join(dir, 'state'),
    ...lines,
  };
  writeFileSync(join(dir, 'agent.conf'), Object.entries(conf).map(([k, v]) => `${k}=${v}`).join('\n') + '\n', { mode: 0o600 });
}

beforeEach(async () => {
  dir = mkdtempSync(join(work, 't-'));
  hub = new FakeHub();
  hubUrl = await hub.start();
  const wgDir = join(dir, 'wg');
  const bin = join(dir, 'bin');
  mkdirSync(wgDir);
  mkdirSync(bin);
  writeFileSync(join(wgDir, 'iface'), 'wg0\n');
  writeFileSync(join(wgDir, 'public-key'), OWN_KEY + '\n');
  writeFileSync(join(wgDir, 'listen-port'), '51820\n');
  const now = Math.floor(Date.now() / 1000);
  writeFileSync(
    join(wgDir, 'peers'),
    `${HUB_KEY} 10.100.0.0/16 203.0.113.10:41820 ${now - 5} 1000 2000 25 -\n${FOREIGN} 10.100.9.9/32 192.0.2.9:51820 0 0 0 - -\n`,
  );
  writeFileSync(join(wgDir, 'calls'), '');
  copyFileSync(FAKE_WG, join(bin, 'wg'));
  chmodSync(join(bin, 'wg'), 0o755);
  // `ip -o addr show` as Linux prints it: loopback, the tunnel and a container bridge are left out.
  writeFileSync(
    join(bin, 'ip'),
    `#!/bin/sh\ncat <<'X'\n1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever
2: eth0    inet 192.168.1.10/24 brd 192.168.1.255 scope global dynamic eth0\\       valid_lft 86000sec preferred_lft 86000sec
2: eth0    inet6 2001:db8::5/64 scope global dynamic mngtmpaddr \\       valid_lft 86000sec preferred_lft 14000sec
2: eth0    inet6 fe80::1/64 scope link \\       valid_lft forever preferred_lft forever
3: docker0    inet 172.17.0.1/16 brd 172.17.255.255 scope global docker0\\       valid_lft forever preferred_lft forever
4: wg0    inet 10.100.1.2/32 scope global wg0\\       valid_lft forever preferred_lft forever
X\n`,
    { mode: 0o755 },
  );
  writeConfig({});
});

afterEach(async () => {
  for (const p of running) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  running = [];
  await hub.close();
  for (const h of extraHubs) await h.close();
  extraHubs = [];
});

const wgCalls = () => readFileSync(join(dir, 'wg', 'calls'), 'utf8').split('\n').filter((l) => l !== '');
const wgSets = () => wgCalls().filter((l) => l.startsWith('wg set'));
const clearCalls = () => writeFileSync(join(dir, 'wg', 'calls'), '');
const peersFile = () => readFileSync(join(dir, 'wg', 'peers'), 'utf8');
const ifacePeers = () => peersFile().split('\n').filter((l) => l).map((l) => l.split(' ')[0]);

function env(extra: Record<string, string> = {}) {
  return { PATH: `${join(dir, 'bin')}:${process.env.PATH}`, FAKE_WG_DIR: join(dir, 'wg'), TMPDIR: dir, ...extra };
}

function start(args: string[], extra: Record<string, string> = {}) {
  const child = spawn(SHELL, [AGENT, '--config', join(dir, 'agent.conf'), ...args], { env: env(extra) });
  running.push(child);
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  const done = new Promise<{ code: number | null; stderr: string }>((resolve) =>
    child.on('close', (code) => resolve({ code, stderr })),
  );
  return { child, done, stderr: () => stderr };
}

async function once(extra: Record<string, string> = {}) {
  const r = await start(['--once'], extra).done;
  return { ...r, lines: r.stderr.split('\n').filter((l) => l !== '') };
}

async function until(cond: () => boolean, ms = 10_000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('wgvm-agent: the script itself', () => {
  it('is POSIX sh that dash and sh parse; --help answers', () => {
    for (const shell of ['sh', ...(hasTool('dash') ? ['dash'] : [])]) {
      const r = spawnSync(shell, ['-n', AGENT], { encoding: 'utf8' });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
    }
    const text = readFileSync(AGENT, 'utf8');
    expect(text.startsWith('#!/bin/sh\n')).toBe(true);
    expect(text).toMatch(/^set -u$/m);
    // No bashisms, no evaluation, no wg show dump (it would print private and preshared keys).
    const code = text.split('\n').filter((l) => !/^\s*#/.test(l)).join('\n');
    expect(code).not.toMatch(/\[\[ |\blocal\s|\beval\b|\bsource\s|<<<|\bdump\b|\bdeclare\b|\btypeset\b/);
    const help = spawnSync(SHELL, [AGENT, '--help'], { encoding: 'utf8' });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('Usage: wgvm-agent [--config FILE] [--once]');
  });

  it.each([
    ['a bad credential', { WGVM_AGENT_TOKEN: 'short' }, 'WGVM_AGENT_TOKEN must be 43 characters'],
    ['a URL with a path', { WGVM_HUB_URL: 'http://hub.example.com:8090/api' }, 'WGVM_HUB_URL must be http(s)://host[:port] with no path'],
    ['a URL that is not http', { WGVM_HUB_URL: 'ftp://hub' }, 'WGVM_HUB_URL must be http(s)://host[:port]'],
    ['a bad interface', { WGVM_IFACE: 'wg0;reboot' }, 'WGVM_IFACE must be'],
    ['a bad hub key', { WGVM_HUB_PUBLIC_KEY: 'x'.repeat(44) }, 'WGVM_HUB_PUBLIC_KEY is not a WireGuard public key'],
    ['a bad subnet', { WGVM_SUBNET: '10.100.0.0/33' }, 'WGVM_SUBNET must be'],
    ['a value meant for a shell', { WGVM_IFACE: `$(touch${'${IFS}'}PWNED)` }, 'WGVM_IFACE must be'],
    ['a second origin with a path', { WGVM_HUB_URL: 'http://203.0.113.10:8090,http://203.0.113.11:8090/api' }, "WGVM_HUB_URL must be http(s)://host[:port] with no path, not 'http://203.0.113.11:8090/api' (origin 2 of 2)"],
    ['a first origin that is not http', { WGVM_HUB_URL: 'hub-a:8090,http://203.0.113.11:8090' }, "WGVM_HUB_URL must be http(s)://host[:port], not 'hub-a:8090' (origin 1 of 2)"],
    ['an empty origin (a comma at the end)', { WGVM_HUB_URL: 'http://203.0.113.10:8090,' }, "WGVM_HUB_URL must be http(s)://host[:port], not '' (origin 2 of 2)"],
    ['a space after a comma (the value ends at a blank)', { WGVM_HUB_URL: 'http://203.0.113.10:8090, http://203.0.113.11:8090' }, "not '' (origin 2 of 2)"],
    ['9 origins', { WGVM_HUB_URL: Array.from({ length: 9 }, (_, i) => `http://203.0.113.${i + 1}:8090`).join(',') }, 'WGVM_HUB_URL names 9 origins, at most 8'],
    ['an origin meant for a shell', { WGVM_HUB_URL: `http://203.0.113.10:8090,http://$(touch${'${IFS}'}PWNED)` }, "not 'http://$(touch"],
  ])('refuses a configuration with %s (exit 2, never sourced)', async (_what, patch, message) => {
    writeConfig(patch);
    const r = await once();
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
    expect(existsSync(join(dir, 'PWNED'))).toBe(false);
    expect(wgSets()).toEqual([]);
    expect(hub.requests).toEqual([]);
  });
});

describe('wgvm-agent: applying the hub’s answer', () => {
  it('adds the named peers: try without allowed IPs, direct with its /32, the PSK through a 0600 file removed right after', async () => {
    const [a, b, c] = [peer(), peer(), peer()];
    hub.answers = [{
      status: 200,
      etag: 'v1',
      body: answer([
        `${a.key} 10.100.1.3/32 ${a.psk} 25 try 198.51.100.7:51820,[2001:db8::7]:51820`,
        `${b.key} 10.100.1.4/32 ${b.psk} 10 direct [2001:db8::8]:51000,198.51.100.8:51820`,
        `${c.key} 10.100.1.5/32 ${c.psk} 25 direct -`,
      ]),
    }];
    const r = await once();
    expect(r.stderr).toBe('wgvm-agent: applied the hub\'s answer: 3 direct peer(s) (3 set, 0 removed)\n');
    expect(r.code).toBe(0);
    expect(wgSets()).toEqual([
      `wg set wg0 peer ${a.key} preshared-key psk=${a.psk}(600) persistent-keepalive 25 allowed-ips '' endpoint 198.51.100.7:51820`,
      `wg set wg0 peer ${b.key} preshared-key psk=${b.psk}(600) persistent-keepalive 10 allowed-ips 10.100.1.4/32 endpoint [2001:db8::8]:51000`,
      `wg set wg0 peer ${c.key} preshared-key psk=${c.psk}(600) persistent-keepalive 25 allowed-ips 10.100.1.5/32`,
    ]);
    for (const f of readFileSync(join(dir, 'wg', 'pskfiles'), 'utf8').split('\n').filter((l) => l)) expect(existsSync(f)).toBe(false);
    expect(ifacePeers()).toEqual([HUB_KEY, FOREIGN, a.key, b.key, c.key]);
    expect(wgCalls().filter((l) => l.includes('FORBIDDEN'))).toEqual([]);
    // The GET asked for text, with the credential, without waiting (--once).
    const get = hub.gets()[0]!;
    expect(get.url).toBe('/api/agent/v1/peers?wait=0&hubs=1');
    expect(get.headers.accept).toBe('text/plain');
    expect(get.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(get.headers['if-none-match']).toBeUndefined();
  });

  it('a later answer removes a peer it added, never the hub’s peer nor one it did not add; endpoints of working paths stay', async () => {
    const [a, b] = [peer(), peer()];
    hub.answers = [{ status: 200, body: answer([`${a.key} 10.100.1.3/32 ${a.psk} 25 direct 198.51.100.7:51820`, `${b.key} 10.100.1.4/32 ${b.psk} 25 try 198.51.100.8:51820`]) }];
    expect((await once()).code).toBe(0);
    // b's path works (a handshake 10 s ago); a's has had none for 200 s.
    const now = Math.floor(Date.now() / 1000);
    writeFileSync(join(dir, 'wg', 'peers'), peersFile().replace(new RegExp(`^(${b.key.replace(/[+/]/g, '\\$&')} \\S+ \\S+) 0`, 'm'), `$1 ${now - 10}`));
    clearCalls();
    // A new process (a restart): it knows its peers from the state file.
    hub.answers = [{ status: 200, body: answer([`${b.key} 10.100.1.4/32 ${b.psk} 25 direct 192.0.2.44:4444`, `${FOREIGN} 10.100.9.9/32 ${key()} 25 direct 192.0.2.9:1`]) }];
    const r = await once();
    expect(r.code).toBe(0);
    expect(wgSets()).toEqual([
      `wg set wg0 peer ${a.key} remove`,
      // b: its endpoint changed at the hub, but a handshake is recent: the working path is not moved.
      `wg set wg0 peer ${b.key} preshared-key psk=${b.psk}(600) persistent-keepalive 25 allowed-ips 10.100.1.4/32`,
    ]);
    expect(r.stderr).toContain(`peer ${FOREIGN} is on wg0 but was not added by this agent: left as it is`);
    expect(ifacePeers()).toEqual([HUB_KEY, FOREIGN, b.key]);
    expect(peersFile()).toContain(`${FOREIGN} 10.100.9.9/32 192.0.2.9:51820`);

    // b's path dies (no handshake for 200 s): now the hub's first endpoint is set.
    writeFileSync(join(dir, 'wg', 'peers'), peersFile().replace(String(now - 10), String(now - 200)));
    clearCalls();
    expect((await once()).code).toBe(0);
    expect(wgSets()).toEqual([`wg set wg0 peer ${b.key} preshared-key psk=${b.psk}(600) persistent-keepalive 25 allowed-ips 10.100.1.4/32 endpoint 192.0.2.44:4444`]);

    // An empty set removes b and nothing else.
    clearCalls();
    hub.answers = [{ status: 200, body: answer([]) }];
    expect((await once()).code).toBe(0);
    expect(wgSets()).toEqual([`wg set wg0 peer ${b.key} remove`]);
    expect(ifacePeers()).toEqual([HUB_KEY, FOREIGN]);
  });

  it('with an IPv6 subnet: a /128 inside it is applied, one outside refused', async () => {
    writeConfig({ WGVM_SUBNET: 'fd00:100::/64' });
    const a = peer();
    hub.answers = [{ status: 200, body: answer([`${a.key} fd00:100::3/128 ${a.psk} 25 direct [2001:db8::1]:51820`]) }];
    expect((await once()).code).toBe(0);
    expect(wgSets()).toEqual([`wg set wg0 peer ${a.key} preshared-key psk=${a.psk}(600) persistent-keepalive 25 allowed-ips fd00:100::3/128 endpoint [2001:db8::1]:51820`]);
    clearCalls();
    hub.answers = [{ status: 200, body: answer([`${a.key} fd00:101::3/128 ${a.psk} 25 direct -`]) }];
    const r = await once();
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('address "fd00:101::3/128" is outside the VPN subnet fd00:100::/64');
    expect(wgSets()).toEqual([]);
  });
});

describe('wgvm-agent: a malformed answer is refused as a whole, the peers kept, one line logged', () => {
  const a = peer();
  const n = peer();
  const good = `${n.key} 10.100.1.7/32 ${n.psk} 25 direct 198.51.100.9:51820`;
  const pwn = (name: string) => `PWN/${name}`; // replaced by a path in the test's directory
  const cases: Array<[string, string, string]> = [
    ['a bad format line', answer([good]).replace('wgvm-agent-peers 1', 'wgvm-agent-peers 2'), 'the first line is "wgvm-agent-peers 2"'],
    ['an HTML error page with 200', '<!DOCTYPE html>\n<html><body>502 Bad Gateway</body></html>\n', 'the first line is "<!DOCTYPE html>"'],
    ['an empty body', '', 'the answer is empty'],
    ['no end line', answer([good]).replace(/end 1\n$/, ''), 'the answer has no end line'],
    ['a wrong end count', answer([good]).replace('end 1', 'end 2'), 'the end line says 2 peers, the answer has 1'],
    ['a line after the end', answer([good]) + `peer ${good}\n`, 'line 5 follows the end line'],
    ['a bad public key', answer([good.replace(n.key, 'A'.repeat(44))]), 'public key "AAAA'],
    ['a bad preshared key', answer([good.replace(n.psk, 'not-a-key')]), 'preshared key is not a WireGuard key'],
    ['the hub’s own key', answer([good.replace(n.key, HUB_KEY)]), 'names the hub\'s own peer'],
    ['a key named twice', answer([good, good.replace('10.100.1.7', '10.100.1.8')]), 'is named twice'],
    ['an address outside the subnet', answer([good.replace('10.100.1.7/32', '10.101.1.7/32')]), 'address "10.101.1.7/32" is outside the VPN subnet 10.100.0.0/16'],
    ['a /24 instead of a /32', answer([good.replace('10.100.1.7/32', '10.100.1.0/24')]), 'address "10.100.1.0/24" is not a /32'],
    ['an IPv6 address in an IPv4 subnet', answer([good.replace('10.100.1.7/32', 'fd00::7/128')]), 'is outside the IPv4 subnet'],
    ['the subnet’s network address', answer([good.replace('10.100.1.7/32', '10.100.0.0/32')]), 'network or broadcast address'],
    ['an octet over 255', answer([good.replace('10.100.1.7/32', '10.100.1.256/32')]), 'is not an IPv4 address'],
    ['an endpoint with a host name', answer([good.replace('198.51.100.9:51820', 'vpn.example.com:51820')]), 'endpoint "vpn.example.com:51820" is not IPv4:port'],
    ['an endpoint without a port', answer([good.replace('198.51.100.9:51820', '198.51.100.9')]), 'endpoint "198.51.100.9" is not IPv4:port'],
    ['a port over 65535', answer([good.replace('198.51.100.9:51820', '198.51.100.9:65536')]), 'is not IPv4:port'],
    ['$(…) in an endpoint', answer([good.replace('198.51.100.9:51820', `198.51.100.9:1$(touch${'${IFS}'}${pwn('a')})`)]), 'is not IPv4:port'],
    ['backticks in an endpoint', answer([good.replace('198.51.100.9:51820', `\`touch${'${IFS}'}${pwn('b')}\`:1`)]), 'is not IPv4:port'],
    ['$(touch /tmp/x) splitting the line', answer([good.replace('198.51.100.9:51820', `$(touch ${pwn('c')})`)]), 'has 7 fields, not 6'],
    ['a ; in a keepalive', answer([good.replace(' 25 ', ` 25;touch${'${IFS}'}${pwn('d')} `)]), 'keepalive "25;touch'],
    ['a non-numeric keepalive', answer([good.replace(' 25 ', ' x25 ')]), 'keepalive "x25" is not a number from 1 to 65535'],
    ['a keepalive of 0', answer([good.replace(' 25 ', ' 0 ')]), 'keepalive "0" is not a number'],
    ['an unknown mode', answer([good.replace(' direct ', ' relay ')]), 'mode "relay" is neither try nor direct'],
    ['a huge line', answer([good]).replace('poll 25', 'poll ' + '9'.repeat(200_000)), 'line 2 is longer than 1024 characters'],
    ['a poll over 25 (the hub holds a poll 25 s at most)', answer([good]).replace('poll 25', 'poll 26'), 'bad poll line "poll 26"'],
    ['CRLF line endings', answer([good]).replace(/\n/g, '\r\n'), 'line 1 holds a control character'],
    ['a tab between fields', answer([good.replace(' 25 ', '\t25 ')]), 'holds a control character'],
    ['an unknown line', answer([good]).replace('poll 25', 'rm -rf /'), 'line 2 is not a poll, hub, api, peer or end line: "rm -rf /"'],
    // Two hubs: the hub and api lines, when there are any, are checked as strictly as the rest.
    ['a hub endpoint without a port', answer([good], 25, ['hub 203.0.113.11 none']), 'line 3: hub endpoint "203.0.113.11" is not IPv4:port, [IPv6]:port or name:port'],
    ['a hub endpoint with an octet over 255', answer([good], 25, ['hub 203.0.113.256:51820 none']), 'hub endpoint "203.0.113.256:51820" is not'],
    ['a hub name with an underscore', answer([good], 25, ['hub hub_b.example.net:51820 none']), 'hub endpoint "hub_b.example.net:51820" is not'],
    ['a hub name starting with a hyphen', answer([good], 25, ['hub -hub.example.net:51820 none']), 'hub endpoint "-hub.example.net:51820" is not'],
    ['$(…) in the hub endpoint', answer([good], 25, [`hub $(touch${'${IFS}'}${pwn('e')}):51820 none`]), 'hub endpoint "$(touch'],
    ['a hub session that is neither up nor none', answer([good], 25, ['hub 203.0.113.11:51820 down']), 'hub session "down" is neither up nor none'],
    ['two hub lines', answer([good], 25, ['hub 203.0.113.11:51820 none', 'hub 203.0.113.12:51820 none']), 'line 4: bad hub line "hub 203.0.113.12:51820 none"'],
    ['a hub line with a fourth field', answer([good], 25, ['hub 203.0.113.11:51820 none up']), 'line 3: bad hub line'],
    ['a hub line after a peer line', answer([good], 25).replace('end 1', 'hub 203.0.113.11:51820 none\nend 1'), 'line 4: the hub line comes after a peer line'],
    ['a poll line after the hub line', answer([good], 25, ['hub 203.0.113.11:51820 up']).replace('poll 25\nhub 203.0.113.11:51820 up', 'hub 203.0.113.11:51820 up\npoll 25'), 'line 3: the poll line comes after a hub or api line'],
    ['an api origin with a path', answer([good], 25, ['api http://203.0.113.11:8090/api']), 'line 3: api origin "http://203.0.113.11:8090/api" is not http(s)://host[:port] with no path'],
    ['an api origin that is not http', answer([good], 25, ['api ftp://203.0.113.11']), 'api origin "ftp://203.0.113.11" is not http(s)://host[:port]'],
    ['an api line with two origins', answer([good], 25, ['api http://203.0.113.11:8090 http://203.0.113.12:8090']), 'line 3: bad api line'],
    ['9 api lines', answer([good], 25, Array.from({ length: 9 }, (_, i) => `api http://203.0.113.${i + 1}:8090`)), 'more than 8 api lines'],
    ['an api line after a peer line', answer([good], 25).replace('end 1', 'api http://203.0.113.11:8090\nend 1'), 'line 4: an api line comes after a peer line'],
  ];

  it.each(cases)('%s', async (_what, bodyTemplate, why) => {
    // One peer the agent added before (as a first answer would leave it: on the interface and in its state).
    mkdirSync(join(dir, 'state'));
    writeFileSync(join(dir, 'state', 'wg0.peers'), `${a.key} 198.51.100.7:51820\n`);
    writeFileSync(join(dir, 'wg', 'peers'), peersFile() + `${a.key} 10.100.1.3/32 198.51.100.7:51820 0 0 0 25 ${a.psk}\n`);
    const before = peersFile();
    const body = bodyTemplate.replaceAll('PWN/', join(dir, 'pwned-'));
    hub.answers = [{ status: 200, body }];
    const r = await once();
    expect(r.code).toBe(1);
    expect(r.lines).toHaveLength(1);
    expect(r.lines[0]).toMatch(/^wgvm-agent: refused the hub's answer, kept the 1 current direct peer\(s\): /);
    expect(r.lines[0]).toContain(why);
    expect(r.lines[0]!.length).toBeLessThan(400);
    expect(wgSets()).toEqual([]);
    expect(peersFile()).toBe(before);
    for (const f of ['a', 'b', 'c', 'd', 'e']) expect(existsSync(join(dir, `pwned-${f}`))).toBe(false);
    // Nothing of the hub lines was acted on: no other origin remembered.
    expect(existsSync(join(dir, 'state', 'wg0.hubs'))).toBe(false);
  });
});

describe('wgvm-agent: when the hub is away or says no', () => {
  async function withOnePeer() {
    const a = peer();
    hub.answers = [{ status: 200, body: answer([`${a.key} 10.100.1.3/32 ${a.psk} 25 direct 198.51.100.7:51820`]) }];
    expect((await once()).code).toBe(0);
    clearCalls();
    return a;
  }

  it('an unreachable hub: peers kept, one line saying so', async () => {
    const a = await withOnePeer();
    await hub.close();
    hub = new FakeHub(); // closed port: connection refused
    await hub.start();
    await hub.close();
    writeConfig({ WGVM_HUB_URL: `http://127.0.0.1:${hub.port}` });
    hub = new FakeHub();
    await hub.start();
    const r = await once();
    expect(r.code).toBe(1);
    expect(r.lines).toHaveLength(1);
    expect(r.lines[0]).toMatch(/^wgvm-agent: the hub at http:\/\/127\.0\.0\.1:\d+ cannot be reached \(.*\); kept the 1 current direct peer\(s\), trying again in 2s$/);
    expect(wgSets()).toEqual([]);
    expect(ifacePeers()).toContain(a.key);
  });

  it('a 503: peers kept', async () => {
    const a = await withOnePeer();
    hub.answers = [{ status: 503, body: 'busy' }];
    const r = await once();
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('the hub answered HTTP 503; kept the 1 current direct peer(s)');
    expect(wgSets()).toEqual([]);
    expect(ifacePeers()).toContain(a.key);
  });

  it('a 401 (credential revoked): the peers it added are removed, nothing else', async () => {
    const a = await withOnePeer();
    hub.answers = [{ status: 401, body: '{"error":"unknown credential"}' }];
    const r = await once();
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('the hub refused this node\'s credential (HTTP 401');
    expect(r.stderr).toContain('removed the direct peers this agent had added (credential refused)');
    expect(wgSets()).toEqual([`wg set wg0 peer ${a.key} remove`]);
    expect(ifacePeers()).toEqual([HUB_KEY, FOREIGN]);
  });
});

describe('wgvm-agent: the report', () => {
  it('is the doc’s JSON, with no private or preshared key', async () => {
    const a = peer();
    hub.answers = [{ status: 200, body: answer([`${a.key} 10.100.1.3/32 ${a.psk} 25 try 198.51.100.7:51820`]) }];
    const before = Math.floor(Date.now() / 1000);
    expect((await once()).code).toBe(0);
    const [post] = hub.reports();
    expect(post).toBeDefined();
    expect(post!.url).toBe('/api/agent/v1/report');
    expect(post!.headers['content-type']).toBe('application/json');
    expect(post!.headers.authorization).toBe(`Bearer ${TOKEN}`);
    const body = JSON.parse(post!.body) as Record<string, unknown>;
    expect(Object.keys(body)).toEqual(['agent', 'time', 'public_key', 'listen_port', 'local_addresses', 'peers']);
    expect(body.agent).toBe('wgvm-agent/1');
    expect(body.time).toBeGreaterThanOrEqual(before);
    expect(body.time).toBeLessThanOrEqual(before + 10);
    expect(body.public_key).toBe(OWN_KEY);
    expect(body.listen_port).toBe(51820);
    expect(body.local_addresses).toEqual(['192.168.1.10/24', '2001:db8::5/64']);
    const hs = Number(/^\S+ \S+ \S+ (\d+)/.exec(peersFile())![1]);
    expect(body.peers).toEqual([
      { public_key: HUB_KEY, latest_handshake: hs, rx_bytes: 1000, tx_bytes: 2000, endpoint: '203.0.113.10:41820' },
      { public_key: FOREIGN, latest_handshake: 0, rx_bytes: 0, tx_bytes: 0, endpoint: '192.0.2.9:51820' },
      { public_key: a.key, latest_handshake: 0, rx_bytes: 0, tx_bytes: 0, endpoint: '198.51.100.7:51820' },
    ]);
    expect(post!.body).not.toContain(a.psk);
    expect(wgCalls().filter((l) => l.startsWith('wg show')).map((l) => l.split(' ')[3])).not.toContain('dump');
  });

  it('a report the hub refuses is logged with the hub’s reason', async () => {
    hub.answers = [{ status: 200, body: answer([]) }];
    hub.reportStatus = 400;
    const r = await once();
    expect(r.stderr).toContain('the hub refused the report (HTTP 400): {"error":"peers[0].endpoint is not an endpoint"}');
  });
});

describe('wgvm-agent: running as a service', () => {
  it('long-polls with wait and If-None-Match, reports, and on SIGTERM removes its peers and exits 0 at once', async () => {
    const a = peer();
    hub.answers = [
      { status: 200, etag: 'v1', body: answer([`${a.key} 10.100.1.3/32 ${a.psk} 25 direct 198.51.100.7:51820`], 2) },
      { status: 304, hold: 300 },
      'hang',
    ];
    const agent = start([]);
    await until(() => hub.gets().length >= 3);
    const gets = hub.gets();
    expect(gets[0]!.url).toBe('/api/agent/v1/peers?wait=25&hubs=1');
    expect(gets[0]!.headers['if-none-match']).toBeUndefined();
    expect(gets[1]!.url).toBe('/api/agent/v1/peers?wait=2&hubs=1');
    expect(gets[1]!.headers['if-none-match']).toBe('"v1"');
    expect(gets[2]!.headers['if-none-match']).toBe('"v1"');
    expect(hub.reports().length).toBeGreaterThanOrEqual(1);
    expect(ifacePeers()).toContain(a.key);
    // The third GET is held by the hub (a long poll): SIGTERM is handled now, not when it ends.
    const t0 = Date.now();
    agent.child.kill('SIGTERM');
    const r = await agent.done;
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('removed the direct peers this agent had added (the agent is stopping)');
    expect(wgSets().at(-1)).toBe(`wg set wg0 peer ${a.key} remove`);
    expect(ifacePeers()).toEqual([HUB_KEY, FOREIGN]);
    expect(existsSync(join(dir, 'state', 'wg0.lock'))).toBe(false);
    // …and tells the hub, so that the other ends drop their direct peer for this node now.
    expect(hub.stops().map((r) => JSON.parse(r.body))).toEqual([{ stopping: true }]);
  });

  it('a second agent on the same interface refuses to start', async () => {
    hub.answers = ['hang'];
    const first = start([]);
    await until(() => hub.gets().length >= 1);
    const r = await once();
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`another wgvm-agent (pid `);
    first.child.kill('SIGTERM');
    expect((await first.done).code).toBe(0);
  });

  it.skipIf(!hasTool('wget'))('works with GNU wget when curl is not used', async () => {
    const a = peer();
    hub.answers = [{ status: 200, etag: 'w1', body: answer([`${a.key} 10.100.1.3/32 ${a.psk} 25 direct 198.51.100.7:51820`]) }];
    const r = await once({ WGVM_AGENT_HTTP: 'wget' });
    expect(r.stderr).toBe('wgvm-agent: applied the hub\'s answer: 1 direct peer(s) (1 set, 0 removed)\n');
    expect(r.code).toBe(0);
    expect(hub.gets()[0]!.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(JSON.parse(hub.reports()[0]!.body).public_key).toBe(OWN_KEY);
    expect(ifacePeers()).toContain(a.key);
  });
});

describe('wgvm-agent: two hubs (docs/agent-protocol.md "Two hubs: following the active one")', () => {
  const logLines = (stderr: string) => stderr.split('\n').filter((l) => l !== '');
  const hubSets = () => wgSets().filter((l) => l.includes(` peer ${HUB_KEY} `));
  const hubPeerLine = () => peersFile().split('\n').find((l) => l.startsWith(`${HUB_KEY} `))!;
  /** The hub peer of the fixture with another keepalive ('-': none). */
  const hubKeepalive = (ka: string) => writeFileSync(join(dir, 'wg', 'peers'), peersFile().replace(/^(\S+ \S+ \S+ \S+ \S+ \S+) 25 /, `$1 ${ka} `));

  it('the first origin refuses connections: the second answers, one line says so, and the report goes to it', async () => {
    const a = peer();
    const down = await refusedOrigin();
    writeConfig({ WGVM_HUB_URL: `${down},${hubUrl}` });
    hub.answers = [{ status: 200, etag: 'v1', body: answer([`${a.key} 10.100.1.3/32 ${a.psk} 25 direct 198.51.100.7:51820`], 25, ['hub 203.0.113.10:41820 up']) }];
    const r = await once();
    expect(r.code).toBe(0);
    expect(r.lines).toHaveLength(2);
    expect(r.lines[0]).toMatch(/^wgvm-agent: hub http:\/\/127\.0\.0\.1:\d+ cannot be reached \(.+\); asking http:\/\/127\.0\.0\.1:\d+$/);
    expect(r.lines[0]).toContain(`hub ${down} cannot be reached (`);
    expect(r.lines[0]!.endsWith(`; asking ${hubUrl}`)).toBe(true);
    expect(r.lines[1]).toBe('wgvm-agent: applied the hub\'s answer: 1 direct peer(s) (1 set, 0 removed)');
    expect(ifacePeers()).toContain(a.key);
    expect(hub.gets().map((g) => g.url)).toEqual(['/api/agent/v1/peers?wait=0&hubs=1']);
    expect(hub.reports()).toHaveLength(1);
  });

  it('a standby answers 503: the next origin is asked at once, not after a backoff; reports and stopping go to the one that answered', async () => {
    const a = peer();
    const [standby, standbyUrl] = await otherHub();
    standby.standby = true;
    writeConfig({ WGVM_HUB_URL: `${standbyUrl},${hubUrl}` });
    hub.answers = [
      { status: 200, etag: 'v1', body: answer([`${a.key} 10.100.1.3/32 ${a.psk} 25 direct 198.51.100.7:51820`], 2, ['hub 203.0.113.10:41820 up']) },
      { status: 304, hold: 200 },
      'hang',
    ];
    const agent = start([]);
    await until(() => hub.gets().length >= 3 && hub.reports().length >= 1);
    // One GET to the standby, then the active hub at once (a backoff would be 2 s), and it stays there.
    expect(standby.gets()).toHaveLength(1);
    expect(standby.gets()[0]!.url).toBe('/api/agent/v1/peers?wait=25&hubs=1');
    expect(hub.gets()[0]!.at - standby.gets()[0]!.at).toBeLessThan(1000);
    expect(hub.gets()[0]!.headers['if-none-match']).toBeUndefined();
    expect(hub.gets()[1]!.headers['if-none-match']).toBe('"v1"');
    expect(ifacePeers()).toContain(a.key);
    agent.child.kill('SIGTERM');
    const r = await agent.done;
    expect(r.code).toBe(0);
    const lines = logLines(r.stderr);
    expect(lines[0]).toBe(`wgvm-agent: managing direct peers on wg0 for the hubs at ${standbyUrl}, ${hubUrl} (asking ${standbyUrl} first)`);
    expect(lines.filter((l) => l.includes('asking'))).toEqual([
      lines[0],
      `wgvm-agent: hub ${standbyUrl} answered 503 (standby); asking ${hubUrl}`,
    ]);
    expect(lines.filter((l) => l.includes('kept the'))).toEqual([]);
    // Nothing was ever posted to the standby: the report and the stopping call went to the active hub.
    expect(standby.requests.filter((q) => q.method === 'POST')).toEqual([]);
    expect(hub.reports().length).toBeGreaterThanOrEqual(1);
    expect(hub.stops()).toHaveLength(1);
  });

  it('the active hub becomes a standby and the other takes over: asked in full (no old ETag), the hub peer follows it', async () => {
    const a = peer();
    const [other, otherUrl] = await otherHub();
    writeConfig({ WGVM_HUB_URL: `${hubUrl},${otherUrl}` });
    const peerLine = `${a.key} 10.100.1.3/32 ${a.psk} 25 direct 198.51.100.7:51820`;
    hub.answers = [{ status: 200, etag: 'same', body: answer([peerLine], 1, ['hub 203.0.113.10:41820 up']) }, { status: 304, hold: 300 }];
    // The same peers (and the same ETag, as two hubs may well compute it): only the hub line differs.
    other.answers = [{ status: 200, etag: 'same', body: answer([peerLine], 1, ['hub 203.0.113.11:51820 none']) }, 'hang'];
    const agent = start([]);
    await until(() => hub.gets().length >= 2);
    expect(other.gets()).toEqual([]);
    hub.standby = true;
    await until(() => other.gets().length >= 2);
    expect(other.gets()[0]!.headers['if-none-match']).toBeUndefined();
    expect(other.gets()[1]!.headers['if-none-match']).toBe('"same"');
    expect(hubPeerLine().split(' ')[2]).toBe('203.0.113.11:51820');
    agent.child.kill('SIGTERM');
    const lines = logLines((await agent.done).stderr);
    expect(lines).toContain(`wgvm-agent: hub ${hubUrl} answered 503 (standby); asking ${otherUrl}`);
    expect(lines).toContain('wgvm-agent: moved the hub\'s peer from 203.0.113.10:41820 to 203.0.113.11:51820: the active hub has no session with this node');
    expect(hub.stops()).toEqual([]);
    expect(other.stops()).toHaveLength(1);
  });

  it('every origin down: the agent goes round them without waiting, then backs off (2 s, then 4 s); one line a round, no reports', async () => {
    const [other, otherUrl] = await otherHub();
    other.standby = true;
    hub.standby = true;
    writeConfig({ WGVM_HUB_URL: `${otherUrl},${hubUrl}` });
    const agent = start([]);
    await until(() => other.gets().length + hub.gets().length >= 5, 15_000);
    const gets = [...other.gets().map((g) => ({ who: 'first', at: g.at })), ...hub.gets().map((g) => ({ who: 'second', at: g.at }))]
      .sort((x, y) => x.at - y.at)
      .slice(0, 5);
    expect(gets.map((g) => g.who)).toEqual(['first', 'second', 'first', 'second', 'first']);
    const gap = (i: number) => gets[i]!.at - gets[i - 1]!.at;
    expect(gap(1)).toBeLessThan(1000);
    expect(gap(2)).toBeGreaterThanOrEqual(1900);
    expect(gap(2)).toBeLessThan(3500);
    expect(gap(3)).toBeLessThan(1000);
    expect(gap(4)).toBeGreaterThanOrEqual(3900);
    expect(gap(4)).toBeLessThan(5500);
    agent.child.kill('SIGTERM');
    const lines = logLines((await agent.done).stderr);
    // (A third round may have ended before SIGTERM: its line is not looked at.)
    expect(lines.filter((l) => l.includes('asking'))).toHaveLength(2); // the first line, and one switch
    expect(lines.slice(1, 4)).toEqual([
      `wgvm-agent: hub ${otherUrl} answered 503 (standby); asking ${hubUrl}`,
      `wgvm-agent: none of the 2 hubs answered (the last, ${hubUrl}, answered 503 (standby)); kept the 0 current direct peer(s), trying again in 2s`,
      `wgvm-agent: none of the 2 hubs answered (the last, ${hubUrl}, answered 503 (standby)); kept the 0 current direct peer(s), trying again in 4s`,
    ]);
    expect(other.reports()).toEqual([]);
    expect(hub.reports()).toEqual([]);
  });

  it('--once with every origin down: exit 1, the peers kept', async () => {
    const a = peer();
    hub.answers = [{ status: 200, body: answer([`${a.key} 10.100.1.3/32 ${a.psk} 25 direct 198.51.100.7:51820`]) }];
    expect((await once()).code).toBe(0);
    clearCalls();
    const down = await refusedOrigin();
    hub.standby = true;
    writeConfig({ WGVM_HUB_URL: `${hubUrl},${down}` });
    const r = await once();
    expect(r.code).toBe(1);
    expect(r.lines).toHaveLength(2);
    expect(r.lines[0]).toBe(`wgvm-agent: hub ${hubUrl} answered 503 (standby); asking ${down}`);
    expect(r.lines[1]).toMatch(new RegExp(`^wgvm-agent: none of the 2 hubs answered \\(the last, ${down.replace(/[.]/g, '\\.')}, cannot be reached \\(.+\\)\\); kept the 1 current direct peer\\(s\\), trying again in 2s$`));
    expect(wgSets()).toEqual([]);
    expect(ifacePeers()).toContain(a.key);
  });

  it('the api origins are kept in <iface>.hubs and asked after a restart', async () => {
    const [other, otherUrl] = await otherHub();
    const hubsFile = join(dir, 'state', 'wg0.hubs');
    // The configuration names one origin; its answer lists both hubs (the answering one first).
    hub.answers = [{ status: 200, body: answer([], 25, ['hub 203.0.113.10:41820 up', `api ${hubUrl}`, `api ${otherUrl}`, `api ${hubUrl}`]) }];
    const r1 = await once();
    expect(r1.code).toBe(0);
    expect(r1.lines).toEqual([
      `wgvm-agent: the hubs' API origins: ${hubUrl}, ${otherUrl} (kept in ${hubsFile})`,
      'wgvm-agent: applied the hub\'s answer: 0 direct peer(s) (0 set, 0 removed)',
    ]);
    expect(readFileSync(hubsFile, 'utf8')).toBe(`${hubUrl}\n${otherUrl}\n`);
    expect(existsSync(`${hubsFile}.tmp`)).toBe(false);
    // The same list again: nothing said, nothing written.
    const r2 = await once();
    expect(r2.lines).toEqual(['wgvm-agent: applied the hub\'s answer: 0 direct peer(s) (0 set, 0 removed)']);
    // A restart with the configured hub now a standby: the one it listed answers.
    hub.standby = true;
    other.answers = [{ status: 200, body: answer([], 25, ['hub 203.0.113.11:51820 up', `api ${otherUrl}`, `api ${hubUrl}`]) }];
    const r3 = await once();
    expect(r3.code).toBe(0);
    expect(r3.lines).toEqual([
      `wgvm-agent: hub ${hubUrl} answered 503 (standby); asking ${otherUrl}`,
      `wgvm-agent: the hubs' API origins: ${otherUrl}, ${hubUrl} (kept in ${hubsFile})`,
      'wgvm-agent: applied the hub\'s answer: 0 direct peer(s) (0 set, 0 removed)',
    ]);
    expect(other.gets()).toHaveLength(1);
    expect(other.reports()).toHaveLength(1);
    expect(readFileSync(hubsFile, 'utf8')).toBe(`${otherUrl}\n${hubUrl}\n`);
    // An answer from a hub before two hubs (no api lines) leaves the list as it is.
    hub.standby = false;
    hub.answers = [{ status: 200, body: answer([]) }];
    expect((await once()).lines).toEqual(['wgvm-agent: applied the hub\'s answer: 0 direct peer(s) (0 set, 0 removed)']);
    expect(readFileSync(hubsFile, 'utf8')).toBe(`${otherUrl}\n${hubUrl}\n`);
  });

  it('a hub from before two hubs (hubs=1 is a 400 there) is asked again at once without it', async () => {
    const a = peer();
    hub.old = true;
    hub.answers = [{ status: 200, body: answer([`${a.key} 10.100.1.3/32 ${a.psk} 25 direct 198.51.100.7:51820`]) }];
    const r = await once();
    expect(r.code).toBe(0);
    expect(r.lines).toEqual([
      `wgvm-agent: the hub at ${hubUrl} refused hubs=1 (HTTP 400: a hub from before two hubs?); asking it without`,
      'wgvm-agent: applied the hub\'s answer: 1 direct peer(s) (1 set, 0 removed)',
    ]);
    expect(hub.gets().map((g) => g.url)).toEqual(['/api/agent/v1/peers?wait=0&hubs=1', '/api/agent/v1/peers?wait=0']);
    expect(hub.reports()).toHaveLength(1);
    expect(ifacePeers()).toContain(a.key);
  });

  it('a .hubs file that does not check is ignored, with one line', async () => {
    const [other, otherUrl] = await otherHub();
    mkdirSync(join(dir, 'state'));
    const hubsFile = join(dir, 'state', 'wg0.hubs');
    writeFileSync(hubsFile, `${otherUrl}\nhttp://203.0.113.11:8090/$(touch${'${IFS}'}${join(dir, 'pwned')})\n`);
    hub.standby = true;
    const r = await once();
    expect(r.code).toBe(1);
    expect(r.lines[0]).toBe(`wgvm-agent: ignoring ${hubsFile}: it is not a list of 1 to 8 API origins, one a line`);
    expect(r.lines[1]).toBe('wgvm-agent: the hub answered HTTP 503; kept the 0 current direct peer(s), trying again in 2s');
    expect(other.requests).toEqual([]);
    expect(existsSync(join(dir, 'pwned'))).toBe(false);
  });

  it('hub … none with another endpoint: the hub peer is moved, its keepalive turned off, then on again to the value it had', async () => {
    hubKeepalive('17');
    const before = hubPeerLine().split(' ');
    hub.answers = [{ status: 200, body: answer([], 25, ['hub 203.0.113.11:51820 none', `api ${hubUrl}`]) }];
    const r = await once();
    expect(r.code).toBe(0);
    expect(r.lines).toContain('wgvm-agent: moved the hub\'s peer from 203.0.113.10:41820 to 203.0.113.11:51820: the active hub has no session with this node');
    expect(hubSets()).toEqual([
      `wg set wg0 peer ${HUB_KEY} persistent-keepalive 0`,
      `wg set wg0 peer ${HUB_KEY} endpoint 203.0.113.11:51820 persistent-keepalive 17`,
    ]);
    // Only its endpoint (and the keepalive, as it was) changed: allowed IPs, handshake, counters, no PSK.
    expect(hubPeerLine().split(' ')).toEqual([before[0], before[1], '203.0.113.11:51820', ...before.slice(3)]);
    expect(wgCalls().filter((l) => l.includes('FORBIDDEN'))).toEqual([]);
    // The same answer again: it is there now, nothing moves.
    clearCalls();
    expect((await once()).lines).toEqual(['wgvm-agent: applied the hub\'s answer: 0 direct peer(s) (0 set, 0 removed)']);
    expect(hubSets()).toEqual([]);
  });

  it('hub … none and a hub peer with no keepalive: 0, then 25 with the endpoint, then 0 again', async () => {
    hubKeepalive('-');
    hub.answers = [{ status: 200, body: answer([], 25, ['hub [2001:db8::11]:51820 none']) }];
    const r = await once();
    expect(r.code).toBe(0);
    expect(r.lines).toContain('wgvm-agent: moved the hub\'s peer from 203.0.113.10:41820 to [2001:db8::11]:51820: the active hub has no session with this node');
    expect(hubSets()).toEqual([
      `wg set wg0 peer ${HUB_KEY} persistent-keepalive 0`,
      `wg set wg0 peer ${HUB_KEY} endpoint [2001:db8::11]:51820 persistent-keepalive 25`,
      `wg set wg0 peer ${HUB_KEY} persistent-keepalive 0`,
    ]);
    expect(hubPeerLine().split(' ')[2]).toBe('[2001:db8::11]:51820');
    expect(hubPeerLine().split(' ')[6]).toBe('0');
  });

  it.each([
    ['hub … up with another endpoint (a session: never moved)', 'hub 203.0.113.11:51820 up'],
    ['hub … none with the endpoint it has', 'hub 203.0.113.10:41820 none'],
    ['no hub line (a hub from before two hubs)', ''],
  ])('%s: the hub peer is not touched', async (_what, line) => {
    const before = peersFile();
    hub.answers = [{ status: 200, body: answer([], 25, line ? [line] : []) }];
    const r = await once();
    expect(r.code).toBe(0);
    expect(r.lines).toEqual(['wgvm-agent: applied the hub\'s answer: 0 direct peer(s) (0 set, 0 removed)']);
    expect(wgSets()).toEqual([]);
    expect(peersFile()).toBe(before);
  });

  it('a hub named by a DNS name: moved once, not again on every answer (wg shows the address it resolved)', async () => {
    writeFileSync(join(dir, 'wg', 'resolve'), 'hub-b.example.net 203.0.113.12\n');
    const a = peer();
    const hubLine = 'hub hub-b.example.net:51820 none';
    hub.answers = [
      { status: 200, etag: 'v1', body: answer([], 1, [hubLine]) },
      { status: 200, etag: 'v2', body: answer([`${a.key} 10.100.1.3/32 ${a.psk} 25 direct 198.51.100.7:51820`], 1, [hubLine]) },
      'hang',
    ];
    const agent = start([]);
    await until(() => hub.gets().length >= 3);
    agent.child.kill('SIGTERM');
    const lines = logLines((await agent.done).stderr);
    expect(hubSets()).toEqual([
      `wg set wg0 peer ${HUB_KEY} persistent-keepalive 0`,
      `wg set wg0 peer ${HUB_KEY} endpoint hub-b.example.net:51820 persistent-keepalive 25`,
    ]);
    expect(lines.filter((l) => l.includes('moved the hub\'s peer'))).toEqual([
      'wgvm-agent: moved the hub\'s peer from 203.0.113.10:41820 to hub-b.example.net:51820: the active hub has no session with this node',
    ]);
    expect(hubPeerLine().split(' ')[2]).toBe('203.0.113.12:51820');
  });
});
