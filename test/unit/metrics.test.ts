// /metrics as Prometheus itself reads it: `promtool check metrics` (Debian's prometheus package)
// parses the exposition and lints the names (`_total` on counters, base units). Every data-plane
// counter the device reports is exported.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { prometheusText } from '../../src/http/metrics.js';
import { counterLabel, DEVICE_COUNTERS, namedCounters } from '../../src/dataplane/counters.js';
import type { DeviceCounters } from '../../src/dataplane/native.js';
import { aNode } from '../helpers/node.js';
import { requireTools, skipWithout } from '../helpers/tools.js';


const counters: DeviceCounters = {
  drops: { replay: 3, decrypt: 1, bad_mac1: 7 },
  tunWriteErrors: 11,
  tunMalformed: 12,
  udpSendErrors: 13,
  relayed: 14,
  relayedBytes: 1400,
  handshakesAdmitted: 15,
  underLoad: true,
};

const NOW = Date.parse('2026-12-01T12:00:00Z');
const text = prometheusText({
  nodes: [aNode('worker-01', { rxBytes: 1234, txBytes: 5678, lastHandshakeAt: '2026-12-01T11:59:30Z' }), aNode('we"ird\\id')],
  counters,
  handshakes: 9,
  dnsMessages: { answered: 21, refused: 22, limited: 23, dropped: 24, failed: 0 },
  paths: { direct: 31, trying: 32, relayed: 33, agents: 34 },
  now: NOW,
});

const sample = (name: string, labels = '') => {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
};

describe('the /metrics exposition', () => {
  it('carries every data-plane counter and the nodes', () => {
    expect(sample('wgvm_device_tun_write_errors_total')).toBe(11);
    expect(sample('wgvm_device_tun_malformed_total')).toBe(12);
    expect(sample('wgvm_device_udp_send_errors_total')).toBe(13);
    expect(sample('wgvm_device_relayed_packets_total')).toBe(14);
    expect(sample('wgvm_device_relayed_bytes_total')).toBe(1400);
    expect(sample('wgvm_paths', '{state="direct"}')).toBe(31);
    expect(sample('wgvm_paths', '{state="trying"}')).toBe(32);
    expect(sample('wgvm_paths', '{state="relayed"}')).toBe(33);
    expect(sample('wgvm_agents')).toBe(34);
    expect(sample('wgvm_device_handshakes_admitted_total')).toBe(15);
    expect(sample('wgvm_device_under_load')).toBe(1);
    expect(sample('wgvm_device_drops_total', '{reason="bad_mac1"}')).toBe(7);
    expect(sample('wgvm_handshakes_total')).toBe(9);
    expect(sample('wgvm_dns_messages_total', '{result="answered"}')).toBe(21);
    expect(sample('wgvm_dns_messages_total', '{result="limited"}')).toBe(23);
    expect(sample('wgvm_node_rx_bytes_total', '{node_id="worker-01"}')).toBe(1234);
    expect(sample('wgvm_node_last_handshake_timestamp_seconds', '{node_id="worker-01"}')).toBe(NOW / 1000 - 30);
    expect(sample('wgvm_node_online', '{node_id="worker-01"}')).toBe(1);
    // Label values are escaped, not cut.
    expect(sample('wgvm_node_online', '{node_id="we\\"ird\\\\id"}')).toBe(0);
    expect(sample('process_cpu_seconds_total')).toBeGreaterThan(0);
    expect(sample('process_open_fds')).toBeGreaterThan(0);
    expect(sample('process_max_fds')).toBeGreaterThan(0);
    expect(sample('process_virtual_memory_bytes')).toBeGreaterThan(sample('process_resident_memory_bytes')!);
  });

  it('has no DNS metric while VPN_DNS is off', () => {
    expect(prometheusText({ nodes: [], counters: null, handshakes: 0, dnsMessages: null, now: NOW })).not.toContain('wgvm_dns_');
  });

  it.skipIf(skipWithout('promtool'))('passes promtool check metrics (parser and naming lint)', () => {
    requireTools('promtool');
    const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
    // The check can fail: the old names were refused.
    const old = spawnSync('promtool', ['check', 'metrics'], { input: '# HELP wgvm_node_rx_bytes x\n# TYPE wgvm_node_rx_bytes counter\nwgvm_node_rx_bytes 1\n', encoding: 'utf8' });
    expect(old.status).not.toBe(0);
  });
});

describe('the one list of data-plane counters (src/dataplane/counters.ts)', () => {
  it('names each counter once for /metrics, `wgvm counters` and the dashboard', () => {
    for (const c of DEVICE_COUNTERS) expect(sample(c.metric), c.metric).toBe(Number(counters[c.field]));
    expect(namedCounters(counters)).toEqual([
      ['drop_replay', 3], ['drop_decrypt', 1], ['drop_bad_mac1', 7],
      ['tun_write_errors', 11], ['tun_malformed', 12], ['udp_send_errors', 13], ['relayed', 14], ['relayed_bytes', 1400], ['handshakes_admitted', 15], ['under_load', 1],
    ]);
    expect(counterLabel('relayed')).toBe('Relayed between peers');
    expect(counterLabel('drop_bad_mac1')).toBe('Dropped: bad mac1');
    expect(counterLabel('something_new')).toBe('something new');
  });
});
