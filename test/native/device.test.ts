// The addon's Device class, run inside a namespace of its own: two devices in one process handshake
// over loopback; events arrive through the thread-safe callback; snapshots scale to 10,000 peers.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isRoot, World, type Namespace } from '../helpers/netns.js';
import { inCI } from '../helpers/tools.js';

const addon = fileURLToPath(new URL('../../build/Release/wgvm_native.node', import.meta.url));

// Runs `body` (JavaScript using `Device` and `hex`) in the namespace and returns what it prints as JSON.
function inNamespace(ns: Namespace, body: string): unknown {
  const script = `
    const { Device } = require(${JSON.stringify(addon)});
    const crypto = require('node:crypto');
    const hex = (b) => Buffer.from(b).toString('hex');
    (async () => { ${body} })().then((r) => { console.log(JSON.stringify(r)); process.exit(0); },
      (e) => { console.error(e.stack); process.exit(1); });`;
  const r = spawnSync('ip', ['netns', 'exec', ns.name, process.execPath, '-e', script], { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(r.stderr || `exit ${r.status}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

describe.skipIf(!isRoot && !inCI)('native Device', () => {
  let world: World;
  let ns: Namespace;
  beforeEach(() => {
    if (!isRoot) throw new Error('needs root');
    world = new World();
    ns = world.namespace('dev');
  });
  afterEach(() => world.cleanup());

  it('two devices handshake over loopback and report it through events and snapshots', () => {
    const result = inNamespace(ns, `
      const keys = [0, 1].map(() => { const k = crypto.randomBytes(32); k[0] &= 248; k[31] = (k[31] & 127) | 64; return k; });
      const events = [];
      const a = new Device('wgev-a${world.id}'.slice(0, 15), { onEvent: (e) => events.push({ ...e, publicKey: e.publicKey && hex(e.publicKey) }) });
      const b = new Device('wgev-b${world.id}'.slice(0, 15));
      const bad = a.set('listen_port=70000\\n');
      a.set('private_key=' + hex(keys[0]) + '\\nlisten_port=52001\\n');
      b.set('private_key=' + hex(keys[1]) + '\\nlisten_port=52002\\n');
      const pub = (k) => crypto.createPublicKey({ key: Buffer.concat([Buffer.from('302e020100300506032b656e04220420', 'hex'), k]), format: 'der', type: 'pkcs8' })
        .export({ format: 'der', type: 'spki' }).subarray(-32);
      const [pubA, pubB] = keys.map(pub);
      b.set('public_key=' + hex(pubA) + '\\nallowed_ip=10.9.0.1/32\\n');
      a.set('public_key=' + hex(pubB) + '\\nallowed_ip=10.9.0.2/32\\nendpoint=127.0.0.1:52002\\npersistent_keepalive_interval=25\\n');
      for (let i = 0; i < 50 && !events.some((e) => e.type === 'handshake'); i++) await new Promise((r) => setTimeout(r, 100));
      const peers = a.peers().map((p) => ({ ...p, publicKey: hex(p.publicKey), lastHandshakeNs: String(p.lastHandshakeNs), rxBytes: Number(p.rxBytes), txBytes: Number(p.txBytes) }));
      const counters = a.counters();
      const get = a.get();
      a.close(); b.close();
      let closedError = '';
      try { a.get(); } catch (e) { closedError = e.message; }
      return { bad, events, peers, counters, get, pubB: hex(pubB), closedError };
    `) as any;
    expect(result.bad.errno).toBe(22);
    expect(result.bad.message).toMatch(/^line 1 \(listen_port\)/);
    expect(result.events.map((e: any) => e.type)).toContain('handshake');
    expect(result.events.find((e: any) => e.type === 'handshake').publicKey).toBe(result.pubB);
    expect(result.peers).toHaveLength(1);
    expect(result.peers[0].publicKey).toBe(result.pubB);
    expect(result.peers[0].endpoint).toBe('127.0.0.1:52002');
    expect(BigInt(result.peers[0].lastHandshakeNs)).toBeGreaterThan(0n);
    expect(result.peers[0].txBytes).toBeGreaterThanOrEqual(148 + 32);
    expect(result.peers[0].rxBytes).toBe(92);
    expect(result.counters.drops.decrypt).toBe(0);
    expect(result.get).toContain('listen_port=52001\n');
    // get stays what `wg` parses; the DoS figures are counters: one handshake message (b's response)
    // given a Diffie-Hellman, not under load.
    expect(result.get).not.toContain('wgvm');
    expect(result.counters.handshakesAdmitted).toBe(1);
    expect(result.counters.underLoad).toBe(false);
    expect(result.closedError).toBe('device is closed');
    // close() removed both interfaces.
    expect(ns.ip('-o', 'link', 'show').split('\n').filter(Boolean)).toHaveLength(1);
  });

  it('fences itself: stops by its own thread when fenceAfter is not called again in time, even while JavaScript is stuck', () => {
    const result = inNamespace(ns, `
      const stopped = [];
      const d = new Device('wgfence${world.id}'.slice(0, 15), { onEvent: (e) => e.type === 'stopped' && stopped.push({ at: Date.now(), reason: e.reason }) });
      let bad = '';
      try { d.fenceAfter(-1); } catch (e) { bad = e.message; }
      // Renewed twice in time: still up after 900 ms.
      const t0 = Date.now();
      d.fenceAfter(500);
      await new Promise((r) => setTimeout(r, 300));
      d.fenceAfter(500);
      await new Promise((r) => setTimeout(r, 300));
      d.fenceAfter(500);
      await new Promise((r) => setTimeout(r, 300));
      const upAfterRenewals = stopped.length === 0;
      // Not renewed, and this thread blocked the whole time: the device stops on its own.
      const last = Date.now();
      d.fenceAfter(300);
      const blockedUntil = last + 1200;
      while (Date.now() < blockedUntil) {} // a synchronous database call that does not come back
      await new Promise((r) => setTimeout(r, 100)); // the event is delivered once this thread is free
      // Cancelled: a second device with 0 never stops.
      const e = new Device('wgfenc2${world.id}'.slice(0, 15), { onEvent: (ev) => ev.type === 'stopped' && stopped.push({ at: 0, reason: 'second' }) });
      e.fenceAfter(200);
      e.fenceAfter(0);
      await new Promise((r) => setTimeout(r, 600));
      d.close(); e.close();
      return { bad, upAfterRenewals, stopped, t0 };
    `) as any;
    expect(result.bad).toMatch(/fenceAfter: milliseconds must be 0 to/);
    expect(result.upAfterRenewals).toBe(true);
    expect(result.stopped).toHaveLength(1); // the first device only: the cancelled one keeps running
    expect(result.stopped[0].reason).toMatch(/lease on the shared registry was not renewed in time/);
  });

  it('holds 10,000 peers and snapshots them all', () => {
    const result = inNamespace(ns, `
      const d = new Device('wgbig${world.id}'.slice(0, 15));
      const lines = [];
      for (let i = 0; i < 10000; i++) {
        lines.push('public_key=' + hex(crypto.randomBytes(32)));
        lines.push('allowed_ip=10.' + (100 + (i >> 16)) + '.' + ((i >> 8) & 255) + '.' + (i & 255) + '/32');
      }
      const set = d.set(lines.join('\\n') + '\\n');
      const t0 = process.hrtime.bigint();
      const peers = d.peers();
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      const get = d.get();
      d.close();
      return { set, count: peers.length, distinct: new Set(peers.map((p) => hex(p.publicKey))).size, allowed: get.split('allowed_ip=').length - 1, ms };
    `) as any;
    expect(result.set.errno).toBe(0);
    expect(result.count).toBe(10000);
    expect(result.distinct).toBe(10000);
    expect(result.allowed).toBe(10000);
    console.log(`peers() snapshot of 10,000 peers: ${result.ms.toFixed(1)} ms`);
  });
});
