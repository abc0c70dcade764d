// Direct paths against the hub's relay: the NAT lab with the real product (agent-lab.ts): `wgvm
// serve` on the public address, W1 behind nat1 and W2 behind nat2 (port-preserving), both installed
// from their install links with wgvm-userspace and running the agent. One iperf3 TCP stream W1 → W2
// while the agents hold each other as direct peers, then the same with W2's node set to
// `direct_paths: false` (PATCH /api/nodes/w2): the agents drop the direct peers and the hub relays.
// Figures: throughput, the hub process's CPU seconds over each transfer (utime + stime, all
// threads: data plane and control plane), and what the hub's relayed-bytes counter grew by.
import { AgentLab, type LabWorker } from './agent-lab.js';
import { cpuSeconds } from './measure.js';
import type { Contenders } from './pairs.js';
import type { DirectPathsResult } from './report-rows.js';
import { summarize } from './stats.js';

interface Sample {
  gbps: number;
  hubCpuSeconds: number;
  relayedBytes: number;
}

async function transfer(t: AgentLab, from: LabWorker, to: LabWorker, seconds: number): Promise<Sample> {
  const server = to.s.spawn('iperf3', ['-s', '-1', '-B', to.vpnIp]);
  await t.until(`the iperf3 server in ${to.name}`, async () => (await to.s.execAsync('ss', ['-ltn'])).includes(`${to.vpnIp}:5201`), 5000);
  const hubPid = t.hub!.pid!;
  const relayed0 = await t.relayedBytes();
  const cpu0 = cpuSeconds(hubPid);
  const r = await from.s.runAsync('iperf3', ['-c', to.vpnIp, '-t', String(seconds), '-J'], { timeout: (seconds + 30) * 1000 });
  const cpu1 = cpuSeconds(hubPid);
  const relayed1 = await t.relayedBytes();
  if (r.status !== 0) throw new Error(`iperf3 ${from.name} → ${to.name}: ${r.stderr || r.stdout.slice(-500)} (server ${server.exitCode ?? 'running'})`);
  const received = JSON.parse(r.stdout).end.sum_received;
  return { gbps: received.bits_per_second / 1e9, hubCpuSeconds: cpu1 - cpu0, relayedBytes: relayed1 - relayed0 };
}

export async function measureDirectPaths(contenders: Contenders, runs: number, seconds: number, report: (line: string) => void): Promise<DirectPathsResult> {
  const info = contenders.wgvm!;
  const label = 'hub wgvm, W1 and W2 wgvm-userspace';
  const direct: Sample[] = [];
  const relayed: Sample[] = [];
  const t = await AgentLab.create('wgvmb');
  try {
    await t.startHub();
    const w1 = await t.install('w1', 'wgvm');
    const w2 = await t.install('w2', 'wgvm');
    t.startAgent('w1');
    t.startAgent('w2');
    const bothDirect = async () => (await t.isDirect(w1, w2)) && (await t.isDirect(w2, w1));
    const noPeers = async () => (await t.wgField(w1, 'allowed-ips', w2.publicKey)).length === 0 && (await t.wgField(w2, 'allowed-ips', w1.publicKey)).length === 0;
    const setDirect = async (on: boolean) => {
      const r = await t.api('PATCH', '/api/nodes/w2', { direct_paths: on });
      if (r.status !== 200) throw new Error(`PATCH /api/nodes/w2 direct_paths=${on}: HTTP ${r.status} ${r.text}`);
    };
    for (let run = 1; run <= runs; run++) {
      await t.until('W1 and W2 as direct peers', bothDirect, 60_000);
      direct.push(await transfer(t, w1, w2, seconds));
      const d = direct.at(-1)!;
      report(`${label} run ${run}/${runs}: direct ${d.gbps.toFixed(2)} Gbit/s, hub ${d.hubCpuSeconds.toFixed(2)} CPU s, relayed ${d.relayedBytes} bytes`);
      await setDirect(false);
      await t.until('the agents to drop the direct peers', noPeers, 30_000);
      relayed.push(await transfer(t, w1, w2, seconds));
      const r = relayed.at(-1)!;
      report(`${label} run ${run}/${runs}: relayed ${r.gbps.toFixed(2)} Gbit/s, hub ${r.hubCpuSeconds.toFixed(2)} CPU s, relayed ${(r.relayedBytes / 1e6).toFixed(1)} MB`);
      await setDirect(true);
    }
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${t.diagnostics()}`);
  } finally {
    await t.close();
  }
  const of = (samples: Sample[]) => ({
    gbps: summarize(samples.map((s) => s.gbps)),
    hubCpuSeconds: summarize(samples.map((s) => s.hubCpuSeconds)),
    hubRelayedBytes: summarize(samples.map((s) => s.relayedBytes)),
  });
  return { label, hub: info, workers: info, seconds, direct: of(direct), relayed: of(relayed) };
}
