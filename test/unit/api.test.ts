// The management API in-process (fastify inject, no socket) on a real SQLite file in a temporary
// DATA_DIR: auth and its rate limit, registration and its validation, allocation under 1,000
// concurrent registrations, node management, config downloads with install tokens, the install page
// and installers, status, metrics and docs. No root and no device: the hub is a key pair.
//
// Every response of the suite goes through `call`, which afterwards checks that no response was a
// 500 and that no JSON or error response carries a secret (a node's private or preshared key, or the
// hub's private key).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadConfig, type Config } from '../../src/config.js';
import { buildApi, type HubInfo } from '../../src/http/api.js';
import { encodeKey, generateKeyPair, generatePrivateKey, publicKeyOf } from '../../src/keys.js';
import { NodesService } from '../../src/nodes/service.js';
import { Store } from '../../src/store/index.js';
import { SMALL_ORDER_POINTS } from '../../src/store/weak-keys.js';

const API_TOKEN = 'test-token-1234567890';
const AUTH = { 'x-api-key': API_TOKEN };
const KEY_IN_TEXT = /[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=/g;

interface Harness {
  dir: string;
  store: Store;
  config: Config;
  app: FastifyInstance;
  hub: { privateKey: string; publicKey: string };
  /** How many times NodesService reported a change. */
  changes: () => number;
  /** Moves the store's clock (install token expiry). */
  advance: (ms: number) => void;
}

interface Seen {
  method: string;
  url: string;
  status: number;
  contentType: string;
  body: string;
  /** A download whose job is to carry the worker's keys (config, install page, installers). */
  carriesKeys: boolean;
}

const harnesses: Harness[] = [];
let seen: Seen[] = [];
/** Every secret the suite has seen in a store (kept after a node is deleted or its keys rotated). */
const secrets = new Set<string>();

async function harness(env: Record<string, string> = {}): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'wgvm-api-'));
  let offset = 0;
  const store = Store.open(join(dir, 'data'), { clock: () => new Date(Date.now() + offset) });
  const config = loadConfig({ SERVERURL: '203.0.113.1', API_TOKEN, ...env }, dir, { envFile: false, networkInterfaces: () => ({}) });
  const priv = generatePrivateKey();
  const hub = { privateKey: encodeKey(priv), publicKey: encodeKey(publicKeyOf(priv)) };
  secrets.add(hub.privateKey);
  let changes = 0;
  const nodes = new NodesService(store, config, hub, () => {
    changes++;
  });
  const info: HubInfo = { publicKey: hub.publicKey, startedAt: Date.now(), counters: () => null };
  const app = await buildApi(config, nodes, info, API_TOKEN);
  const h: Harness = { dir, store, config, app, hub, changes: () => changes, advance: (ms) => (offset += ms) };
  harnesses.push(h);
  return h;
}

function rememberSecrets(h: Harness, nodeId: string): void {
  const s = h.store.getSecrets(nodeId);
  if (!s) return;
  if (s.privateKey) secrets.add(s.privateKey);
  secrets.add(s.presharedKey);
}

/** app.inject, recorded for the suite-wide checks. */
async function call(h: Harness, options: InjectOptions): Promise<LightMyRequestResponse> {
  const res = await h.app.inject(options);
  const url = String(options.url ?? options.path ?? '');
  const method = String(options.method ?? 'GET');
  const carriesKeys = res.statusCode === 200 && (/^\/install\//.test(url) || /^\/api\/clients\/[^/]+\/config/.test(url));
  seen.push({ method, url, status: res.statusCode, contentType: String(res.headers['content-type'] ?? ''), body: res.body, carriesKeys });
  // Keys of nodes this response created or changed, for the check in afterEach.
  if (res.statusCode < 300 && /^\/api\/nodes\/(register|[^/]+\/rotate-keys)/.test(url)) {
    try {
      const j = res.json() as { node?: { node_id?: string } };
      if (j.node?.node_id) rememberSecrets(h, j.node.node_id);
    } catch {
      // not JSON: the checks below will say so
    }
  }
  return res;
}

const get = (h: Harness, url: string, headers: Record<string, string> = AUTH, extra: Partial<InjectOptions> = {}) =>
  call(h, { method: 'GET', url, headers, ...extra });

const register = (h: Harness, body: unknown, headers: Record<string, string> = AUTH, extra: Partial<InjectOptions> = {}) =>
  call(h, { method: 'POST', url: '/api/nodes/register', headers, payload: body as InjectOptions['payload'], ...extra });

const post = (h: Harness, url: string, headers: Record<string, string> = AUTH) => call(h, { method: 'POST', url, headers });
const del = (h: Harness, url: string, headers: Record<string, string> = AUTH) => call(h, { method: 'DELETE', url, headers });

interface RegistrationBody {
  node: {
    node_id: string;
    vpn_ip: string;
    public_key: string;
    status: string;
    enabled: boolean;
    server_holds_private_key: boolean;
    description: string;
    central_server_url: string | null;
  };
  install_url: string;
  install_expires_at: string;
}

async function registerOk(h: Harness, nodeId: string, extra: Record<string, unknown> = {}): Promise<RegistrationBody> {
  const res = await register(h, { node_id: nodeId, ...extra });
  expect(res.statusCode, res.body).toBe(201);
  return res.json() as RegistrationBody;
}

const tokenOf = (installUrl: string) => new URL(installUrl).pathname.split('/').pop()!;

function expectError(res: LightMyRequestResponse, status: number, error?: string): void {
  expect(res.statusCode, res.body).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  const j = res.json() as { error?: unknown; message?: unknown };
  expect(typeof j.error).toBe('string');
  expect(typeof j.message).toBe('string');
  expect((j.message as string).length).toBeGreaterThan(0);
  if (error !== undefined) expect(j.error).toBe(error);
}

/** Rows of the registry that a failed request must leave alone. */
function footprint(h: Harness) {
  return {
    nodes: h.store.listNodes().length,
    audit: h.store.listAudit(1_000_000).length,
  };
}

afterEach(async () => {
  try {
    for (const h of harnesses) for (const n of h.store.listNodes()) rememberSecrets(h, n.nodeId);
    // Never a 500, whatever the suite sent.
    const fiveHundreds = seen.filter((s) => s.status >= 500).map((s) => `${s.method} ${s.url} → ${s.status}: ${s.body.slice(0, 200)}`);
    expect(fiveHundreds).toEqual([]);
    // No secret in any JSON answer, error page or anything else that is not a key-carrying download.
    const leaks: string[] = [];
    for (const s of seen) {
      if (s.carriesKeys) continue;
      for (const m of s.body.matchAll(KEY_IN_TEXT)) if (secrets.has(m[0])) leaks.push(`${s.method} ${s.url} (${s.status}) holds a secret key`);
    }
    expect(leaks).toEqual([]);
  } finally {
    vi.useRealTimers();
    for (const h of harnesses) {
      await h.app.close();
      h.store.close();
      rmSync(h.dir, { recursive: true, force: true });
    }
    harnesses.length = 0;
    seen = [];
    secrets.clear();
  }
});

