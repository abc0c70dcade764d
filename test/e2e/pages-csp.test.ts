// The API's HTML pages in a real browser (headless Chromium) under their Content-Security-Policy:
// the setup page's script runs (it enables the form's button), the style sheet is fetched, and the
// browser reports no CSP violation. A control page with inline code, served with the same policy,
// shows that the browser does report (and block) violations here, so "none reported" means something.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { loadConfig } from '../../src/config/index.js';
import { buildApi } from '../../src/http/api.js';
import { encodeKey, generatePrivateKey, publicKeyOf } from '../../src/domain/keys.js';
import { NodesService } from '../../src/nodes/service.js';
import { Store } from '../../src/store/index.js';
import { requireTools, skipWithout } from '../helpers/tools.js';

const skip = skipWithout('chromium');

/** The page's DOM after load, and what the browser said on its console, from headless Chromium. */
function browse(url: string, profile: string): Promise<{ dom: string; console: string[] }> {
  const args = [
    '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', `--user-data-dir=${profile}`, '--enable-logging=stderr', '--v=0',
    '--dump-dom', url,
  ];
  return new Promise((resolve, reject) => {
    execFile('chromium', args, { timeout: 30_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err && !stdout) return reject(new Error(`chromium: ${err.message}\n${stderr.slice(-2000)}`));
      resolve({ dom: stdout, console: stderr.split('\n').filter((l) => l.includes(':CONSOLE(') || l.includes(':CONSOLE:')) });
    });
  });
}

describe.skipIf(skip)('the pages in Chromium, under their CSP', () => {
  let dir: string;
  let store: Store;
  let app: FastifyInstance;
  let base: string;
  let installToken: string;
  const requested: string[] = [];

  beforeAll(async () => {
    requireTools('chromium');
    dir = mkdtempSync(join(tmpdir(), 'wgvm-ab-e2e-'));
    store = Store.open(join(dir, 'data'));
    const config = loadConfig({ SERVERURL: '203.0.113.1', API_TOKEN: 'e2e-token-1234567890' }, dir, { envFile: false, networkInterfaces: () => ({}) });
    const priv = generatePrivateKey();
    const hub = { privateKey: encodeKey(priv), publicKey: encodeKey(publicKeyOf(priv)) };
    const nodes = new NodesService(store, config, hub, () => {});
    app = await buildApi(config, nodes, { publicKey: hub.publicKey, startedAt: Date.now(), counters: () => null }, 'e2e-token-1234567890');
    app.addHook('onResponse', async (req, reply) => void requested.push(`${req.url} ${reply.statusCode}`));
    // The control: inline code, served with the pages' own policy (text/html gets it from the app).
    app.get('/control', async (_req, reply) =>
      reply.type('text/html; charset=utf-8').send('<!doctype html><html><head><style>p{color:red}</style></head><body><p>x</p><script>document.title="inline ran"</script></body></html>'),
    );
    await app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    installToken = nodes.register({ nodeId: 'worker-01', description: 'GPU Server #1' }, 'test').installToken;
  });

  afterAll(async () => {
    await app?.close();
    store?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the control page: Chromium blocks its inline script and style and says so', async () => {
    const { dom, console } = await browse(`${base}/control`, join(dir, 'profile-control'));
    expect(dom).not.toContain('<title>inline ran</title>');
    expect(console.join('\n')).toMatch(/Executing inline script violates the following Content Security Policy/);
    expect(console.join('\n')).toMatch(/inline style violates the following Content Security Policy/);
  }, 60_000);

  it('/worker/setup: its script runs (the button is enabled), its style sheet loads, no violation', async () => {
    requested.length = 0;
    const { dom, console } = await browse(`${base}/worker/setup`, join(dir, 'profile-setup'));
    expect(dom).toMatch(/<button>Register<\/button>/); // enabled by /assets/setup.js
    expect(console.filter((l) => /Content Security Policy/.test(l))).toEqual([]);
    expect(requested).toEqual(expect.arrayContaining(['/assets/setup.js 200', '/assets/pages.css 200']));
  }, 60_000);

  it('the install page: its style sheet loads, no violation, and it used the link once', async () => {
    requested.length = 0;
    const { dom, console } = await browse(`${base}/install/${installToken}`, join(dir, 'profile-install'));
    expect(dom).toContain('Install worker <code>worker-01</code>');
    expect(dom.match(/<svg/g)).toHaveLength(2);
    expect(console.filter((l) => /Content Security Policy/.test(l))).toEqual([]);
    expect(requested).toEqual(expect.arrayContaining(['/assets/pages.css 200']));
    expect(requested.filter((r) => r.startsWith('/install/'))).toEqual([`/install/${installToken} 200`]);
  }, 60_000);
});
