// The dashboard in a real browser: Debian's Chromium driven by playwright-core against a real
// `wgvm serve` in a hub namespace, with a wireguard-go worker in another. The browser itself runs in
// the hub namespace (a wrapper puts it there), so it reaches the dashboard on 127.0.0.1:5000.
// Screenshots go to artifacts/e2e/.
/// <reference lib="dom" />
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterEach, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/domain/password.js';
import { isRoot, waitFor, type Namespace } from '../helpers/netns.js';
import { postgresMissing, startPostgres, type PostgresServer } from '../helpers/postgres.js';
import { inCI, skipWithout } from '../helpers/tools.js';
import { bringUpWorker, httpIn, received, useWorld, wgvmEntry } from '../helpers/tunnel.js';
import { PAGE_SIZE } from '../../web/src/views/nodes.js';

const CHROMIUM = '/usr/bin/chromium';
const TOOLS = ['chromium', 'wg', 'wg-quick', 'wireguard-go', 'ip', 'ping'];
const skip = skipWithout(...TOOLS) || (!isRoot && !inCI);
const TOKEN = 'e2e-dashboard-token-0123456789';
const PASSWORD = 'correct horse battery staple';
const XSS = '<img src=x onerror=alert(1)>';
const ARTIFACTS = join(import.meta.dirname, '..', '..', 'artifacts', 'e2e');
const DASHBOARD = 'http://127.0.0.1:5000/';

describe.skipIf(skip)('the dashboard in Chromium', () => {
  const t = useWorld('wgvm-e2e-', TOOLS);
  let browser: Browser | undefined;
  afterEach(async () => {
    await browser?.close();
    browser = undefined;
  });

  /**
   * `wgvm serve` in a hub namespace, Chromium in the same namespace, one page at 1280×800. `env` may
   * be made once the namespace is up (a database started in it, say).
   */
  async function start(env: Record<string, string> | ((nsHub: Namespace) => Promise<Record<string, string>>) = {}) {
    mkdirSync(ARTIFACTS, { recursive: true });
    const nsHub = t.world.namespace('hub');
    const nsW = t.world.namespace('w1');
    t.world.link(nsHub, '198.18.9.1/24', nsW, '198.18.9.2/24');
    nsHub.ip('link', 'set', 'lo', 'up');
    const hubIface = `wge${t.world.id}`.slice(0, 15);
    const extra = typeof env === 'function' ? await env(nsHub) : env;
    const hub = t.world.spawn(nsHub, process.execPath, [wgvmEntry, 'serve'], {
      SERVERURL: '198.18.9.1',
      SERVERPORT: '41820',
      API_TOKEN: TOKEN,
      ADMIN_PASSWORD_HASH: await hashPassword(PASSWORD),
      WG_INTERFACE: hubIface,
      DATA_DIR: join(t.dir, 'data'),
      ...extra,
    });
    await waitFor('the dashboard', () => httpIn(nsHub, 'GET', 'http://127.0.0.1:5000/health').status === 200, 15_000).catch((err: Error) => {
      throw new Error(`${err.message}\n${(hub as unknown as { errors: string }).errors}`);
    });

    // Chromium in the hub's namespace: the wrapper is what playwright starts.
    const wrapper = join(t.dir, 'chromium-in-hub');
    writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec ${nsHub.name} ${CHROMIUM} "$@"\n`, { mode: 0o755 });
    const launched = await chromium.launch({
      executablePath: wrapper,
      args: ['--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
    });
    browser = launched;
    const page = await launched.newPage({ viewport: { width: 1280, height: 800 } });
    const consoleErrors: string[] = [];
    const dialogs: string[] = [];
    page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
    page.on('pageerror', (e) => consoleErrors.push(`page error: ${e.message}`));
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    return { nsHub, nsW, page, consoleErrors, dialogs, browser: launched, hubIface };
  }

  it.skipIf(postgresMissing)('two hubs on PostgreSQL: the hub panel shows which one runs the device, since when, and a standby going away', async () => {
    let pg: PostgresServer | undefined;
    try {
      let url = '';
      const { nsHub, page, consoleErrors, hubIface } = await start(async (ns) => {
        pg = await startPostgres({ netns: ns.name });
        url = pg.createDatabase();
        return { DATABASE_URL: url };
      });
      // A second hub on the same registry, in the same namespace on other ports: a standby.
      const dataB = join(t.dir, 'data-b');
      mkdirSync(dataB, { mode: 0o700 });
      copyFileSync(join(t.dir, 'data', 'secret.key'), join(dataB, 'secret.key'));
      const standby = t.world.spawn(nsHub, process.execPath, [wgvmEntry, 'serve'], {
        SERVERURL: '198.18.9.1',
        SERVERPORT: '41821',
        API_PORT: '8091',
        DASHBOARD_PORT: '5001',
        API_TOKEN: TOKEN,
        WG_INTERFACE: `${hubIface.slice(0, 14)}b`,
        DATA_DIR: dataB,
        DATABASE_URL: url,
      });
      await waitFor('the standby', () => httpIn(nsHub, 'GET', 'http://127.0.0.1:8091/health').status === 200, 15_000);

      await page.goto(DASHBOARD);
      await page.getByTestId('secret').fill(PASSWORD);
      await page.getByRole('button', { name: 'Sign in' }).click();
      const ha = page.getByTestId('hub-ha');
      await ha.waitFor();
      const rows = () => ha.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => Array.from(tr.querySelectorAll('td')).slice(0, 2).map((td) => td.textContent)));
      await expect.poll(rows, { timeout: 10_000 }).toHaveLength(2);
      const hubA = (await page.getByTestId('hub-role').textContent())!.replace(/ \(active\)$/, '');
      expect(await page.getByTestId('hub-role').textContent()).toBe(`${hubA} (active)`);
      expect(await page.getByTestId('hub-active').textContent()).toMatch(new RegExp(`^${hubA} since \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d, lease until `));
      const stateOf = async (id: string) => (await rows()).find((r) => r[0] === id)?.[1];
      expect(await stateOf(hubA)).toBe('active: runs the device');
      const hubB = (await rows()).map((r) => r[0]!).find((id) => id !== hubA)!;
      expect(await stateOf(hubB)).toBe('standby: ready to take over');
      await page.screenshot({ path: join(ARTIFACTS, '10-two-hubs.png') });

      // The standby dies: the panel, read again every 5 s, says so once it has missed a lease's length.
      standby.kill('SIGKILL');
      await expect.poll(() => stateOf(hubB), { timeout: 25_000, interval: 1000 }).toBe('away: not heard from');
      await page.screenshot({ path: join(ARTIFACTS, '11-two-hubs-standby-away.png') });
      expect(consoleErrors).toEqual([]);
    } finally {
      pg?.stop();
    }
  }, 120_000);

  it('signs in, registers worker-01, sees it come online live, shows text as text, deletes', async () => {
    const { nsHub, nsW, page, consoleErrors, dialogs, browser } = await start({ VPN_DNS: 'true' });
    const shot = (name: string, p: Page = page) => p.screenshot({ path: join(ARTIFACTS, `${name}.png`) });

    // Sign-in page, loaded without a console error.
    await page.goto(DASHBOARD);
    await page.getByTestId('signin-form').waitFor();
    expect(consoleErrors).toEqual([]);
    await shot('01-sign-in');

    // A wrong password is refused with a message; the right one opens the dashboard.
    await page.getByTestId('secret').fill('not the password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByTestId('signin-error').textContent()).toBe('wrong password or API token');
    await page.getByTestId('secret').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByTestId('hub-panel').getByTestId('hub-public-key').waitFor();
    await expect.poll(() => page.getByTestId('connection').textContent()).toBe('live');
    const cookies = await page.context().cookies();
    expect(cookies.find((c) => c.name === 'wgvm_session')).toMatchObject({ httpOnly: true, sameSite: 'Strict' });

    // Register worker-01: the install panel with both QR codes and the install link.
    await page.getByTestId('register-link').click();
    await page.locator('#field-node_id').fill('worker-01');
    await page.locator('#field-description').fill('GPU Server #1');
    await page.locator('#field-central_server_url').fill('http://192.168.0.88:8000');
    await page.getByRole('button', { name: 'Register' }).click();
    const panel = page.getByTestId('install-panel');
    await panel.waitFor();
    const qrs = panel.locator('img.qr');
    await expect.poll(() => qrs.count()).toBe(2);
    for (const src of await qrs.evaluateAll((imgs) => imgs.map((i) => (i as HTMLImageElement).src))) expect(src).toMatch(/^data:image\/svg\+xml/);
    expect(await qrs.evaluateAll((imgs) => imgs.every((i) => (i as HTMLImageElement).naturalWidth > 0))).toBe(true);
    const installUrl = await page.getByTestId('install-url').inputValue();
    expect(installUrl).toMatch(/^http:\/\/198\.18\.9\.1:8090\/install\/[A-Za-z0-9_-]{43}$/);
    for (const name of ['windows.bat', 'linux.sh', 'wg0.conf']) await expect.poll(() => page.getByTestId(`download-${name}`).count()).toBe(1);
    const download = page.waitForEvent('download');
    await page.getByTestId('download-wg0.conf').click();
    expect((await download).suggestedFilename()).toBe('worker-01-wg0.conf');
    await shot('03-install-panel');

    // The same ID again: the error shows beside the field.
    await page.locator('#field-node_id').fill('worker-01');
    await page.getByRole('button', { name: 'Register' }).click();
    await expect.poll(() => page.getByTestId('error-node_id').textContent()).toBe('node worker-01 is already registered');

    // A description that is markup is shown as text.
    await page.locator('#field-node_id').fill('worker-xss');
    await page.locator('#field-description').fill(XSS);
    await page.getByRole('button', { name: 'Register' }).click();
    await page.getByTestId('install-panel').getByText('Install worker-xss').waitFor();

    // The nodes view: worker-01 pending, until its worker comes up.
    await page.locator('nav').getByRole('link', { name: 'Nodes' }).click();
    const row = page.locator('tr[data-node-id="worker-01"]');
    await expect.poll(() => row.locator('.badge').textContent()).toBe('pending');
    expect(await row.locator('[data-field="dns_name"]').textContent()).toBe('worker-01.wg.internal'); // its name in the hub's DNS
    const xssRow = page.locator('tr[data-node-id="worker-xss"]');
    expect(await xssRow.locator('td').nth(1).textContent()).toBe(XSS);
    expect(await page.locator('table img').count()).toBe(0);
    await page.evaluate(() => ((window as unknown as { marker: number }).marker = 42));

    // The worker installs from the link with wireguard-go; the row turns online without a reload.
    const conf = httpIn(nsW, 'GET', `${installUrl}/wg0.conf`);
    expect(conf.status).toBe(200);
    await bringUpWorker(t.world, t.dir, nsW, 'E', conf.text, 'wireguard-go');
    expect(received(nsW, '10.100.0.1', 3)).toBe(3);
    await expect.poll(() => row.locator('.badge').textContent(), { timeout: 10_000 }).toBe('online');
    expect(await page.evaluate(() => (window as unknown as { marker?: number }).marker)).toBe(42);
    await expect.poll(() => row.locator('td.col-endpoint').textContent()).toMatch(/^198\.18\.9\.2:\d+$/);
    expect(await row.locator('td.col-last_handshake').textContent()).toMatch(/just now|\d+ s ago/);
    expect(await row.locator('td.col-paths').textContent()).toBe('no agent: relayed'); // wg-quick by hand: no agent
    await expect.poll(() => page.getByTestId('hub-peers').textContent()).toBe('1 / 2');

    // Filter and sort.
    const nodeRows = page.getByTestId('nodes-table').locator('tbody tr');
    await page.getByTestId('filter').fill('gpu');
    await expect.poll(() => nodeRows.count()).toBe(1);
    await page.getByTestId('filter').fill('');
    await page.getByTestId('status-filter').selectOption('pending');
    await expect.poll(() => nodeRows.evaluateAll((rows) => rows.map((r) => r.getAttribute('data-node-id')))).toEqual(['worker-xss']);
    await page.getByTestId('status-filter').selectOption('all');
    await page.getByRole('button', { name: 'Node ID' }).click(); // descending
    await expect.poll(() => nodeRows.first().getAttribute('data-node-id')).toBe('worker-xss');
    await page.getByRole('button', { name: 'Node ID' }).click();
    await shot('02-nodes');

    // Node detail: chart and handshake history.
    await row.getByRole('link', { name: 'worker-01' }).click();
    await page.getByTestId('traffic-chart').waitFor();
    await expect.poll(() => page.getByTestId('detail-status').textContent()).toBe('online');
    expect(await page.locator('dd[data-field="dns_name"]').textContent()).toBe('worker-01.wg.internal');
    await expect.poll(() => page.getByTestId('handshake-history').locator('li').first().textContent()).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d/);
    await shot('04-node-detail');

    // The same page on a phone and in the dark.
    const phone = await browser.newPage({ viewport: { width: 390, height: 844 }, colorScheme: 'dark', storageState: await page.context().storageState() });
    await phone.goto(DASHBOARD);
    await phone.locator('tr[data-node-id="worker-01"]').waitFor();
    const background = await phone.evaluate(() => getComputedStyle(document.body).backgroundColor);
    expect(background).not.toBe(await page.evaluate(() => getComputedStyle(document.body).backgroundColor));
    expect(await phone.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await shot('05-phone-dark', phone);
    await phone.close();

    // Delete worker-xss, confirmed in the dialog; its row goes.
    await page.goto(`${DASHBOARD}#/node/worker-xss`);
    await page.getByTestId('delete-node').click();
    await page.locator('dialog.confirm [data-confirm]').click();
    await page.getByTestId('nodes-table').waitFor();
    await expect.poll(() => page.locator('tr[data-node-id="worker-xss"]').count()).toBe(0);
    expect(httpIn(nsHub, 'GET', 'http://127.0.0.1:8090/api/nodes/status/worker-xss', undefined, { 'x-api-key': TOKEN }).status).toBe(404);

    // Signing out ends the session.
    await page.getByTestId('sign-out').click();
    await page.getByTestId('signin-form').waitFor();

    expect(dialogs).toEqual([]); // no alert() from the markup
    // The only console errors are the browser's notes on the two refusals this test caused.
    expect(consoleErrors.filter((e) => !/Failed to load resource: the server responded with a status of (401|409)/.test(e))).toEqual([]);
  }, 180_000);

  it('stays quick with 10,000 nodes: first render, filtering, paging, a live change', async () => {
    const NODES = 10_000;
    const { nsHub, page, consoleErrors } = await start({ WORKER_IP_RANGE: '10.100.1.2-10.100.40.254' });
    await page.goto(DASHBOARD);
    await page.getByTestId('secret').fill(TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByTestId('nodes-table').waitFor();
    // 10,000 registrations through the API (as a script would make them), 32 at a time.
    const script = `
      let failed = 0;
      let next = 0;
      const one = async () => {
        for (let i = next++; i < ${NODES}; i = next++) {
          const r = await fetch('http://127.0.0.1:8090/api/nodes/register', {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'x-api-key': process.env.TOKEN },
            body: JSON.stringify({ node_id: 'node-' + String(i).padStart(5, '0'), description: 'rack ' + (i % 40) }),
          });
          if (r.status !== 201) failed++;
        }
      };
      const t = Date.now();
      await Promise.all(Array.from({ length: 32 }, one));
      process.stdout.write(JSON.stringify({ failed, ms: Date.now() - t }));`;
    const registered = JSON.parse(nsHub.exec('env', [`TOKEN=${TOKEN}`, process.execPath, '--input-type=module', '-e', script])) as { failed: number; ms: number };
    expect(registered.failed).toBe(0);

    const rows = page.getByTestId('nodes-table').locator('tbody tr');
    const count = page.getByTestId('node-count');
    const t0 = Date.now();
    await page.reload();
    await expect.poll(() => count.textContent(), { timeout: 30_000 }).toBe(`${NODES} nodes`);
    await expect.poll(() => rows.count()).toBe(PAGE_SIZE); // one page of rows in the document, not 10,000
    const firstRender = Date.now() - t0;
    expect(await rows.first().getAttribute('data-node-id')).toBe('node-00000');
    expect(await page.getByTestId('page-info').textContent()).toBe(`1–${PAGE_SIZE} of ${NODES}`);

    // Filtering: "rack 7" is one node in 40; its first page, then the next.
    const t1 = Date.now();
    await page.getByTestId('filter').fill('rack 7');
    await expect.poll(() => count.textContent()).toBe(`${NODES / 40} of ${NODES} nodes`);
    const filtering = Date.now() - t1;
    expect(await rows.count()).toBe(PAGE_SIZE);
    expect(await rows.first().getAttribute('data-node-id')).toBe('node-00007');
    await page.getByTestId('page-next').click();
    await expect.poll(() => page.getByTestId('page-info').textContent()).toBe(`${PAGE_SIZE + 1}–${2 * PAGE_SIZE} of ${NODES / 40}`);
    expect(await rows.first().getAttribute('data-node-id')).toBe(`node-${String(7 + 40 * PAGE_SIZE).padStart(5, '0')}`);
    await page.screenshot({ path: join(ARTIFACTS, '06-ten-thousand-nodes.png') });

    // A change made elsewhere (through the API) arrives as one small event and updates one row.
    await page.getByTestId('filter').fill('node-05000');
    await expect.poll(() => rows.count()).toBe(1);
    const t2 = Date.now();
    await page.evaluate(() => fetch('/api/nodes/node-05000/disable', { method: 'POST' }));
    await expect.poll(() => page.locator('tr[data-node-id="node-05000"] .badge').textContent()).toBe('disabled');
    const liveChange = Date.now() - t2;
    await page.getByTestId('status-filter').selectOption('disabled');
    await page.getByTestId('filter').fill('');
    await expect.poll(() => count.textContent()).toBe(`1 of ${NODES} nodes`);

    const timings = { nodes: NODES, registrationMs: registered.ms, firstRender, filtering, liveChange };
    writeFileSync(join(ARTIFACTS, 'ten-thousand-nodes.json'), `${JSON.stringify(timings, null, 2)}\n`);
    process.stdout.write(
      `dashboard with ${NODES} nodes: first render ${firstRender} ms, filter ${filtering} ms, live change ${liveChange} ms ` +
        `(registered in ${registered.ms} ms)\n`,
    );
    // Generous bounds: what a user would call broken, not a benchmark.
    expect(firstRender).toBeLessThan(10_000);
    expect(filtering).toBeLessThan(2_000);
    expect(liveChange).toBeLessThan(3_000);
    expect(consoleErrors).toEqual([]);
  }, 420_000);
});
