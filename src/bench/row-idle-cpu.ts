// CPU an idle device spends on 10,000 configured peers: one namespace, the device up with a private
// key and the peers, no traffic; utime + stime of its process over a window, as % of one core.
import { generatePrivateKey } from '../domain/keys.js';
import { uapiSet } from '../uapi/client.js';
import { IDLE_PEERS, loadIdlePeers } from './idle-peers.js';
import { cpuSeconds } from './measure.js';
import { withWorld } from './netns.js';
import { interfaceName, type Contender, type Contenders } from './pairs.js';
import type { IdleCpuResult } from './report-rows.js';
import { summarize } from './stats.js';
import { startImplementation } from './tunnel.js';
import { describeImplementation } from './versions.js';

/** Time for the device to finish what loading the peers set off, before the window opens. */
const SETTLE_MS = 1000;

export async function measureIdleCpu(contender: Contender, contenders: Contenders, runs: number, seconds: number, report: (line: string) => void): Promise<IdleCpuResult> {
  const info = contenders[contender]!;
  const label = describeImplementation(info);
  const percents: number[] = [];
  for (let run = 1; run <= runs; run++) {
    await withWorld('wgvmb', async (world) => {
      const ns = world.namespace('i');
      const iface = interfaceName('wbi', world);
      const child = await startImplementation(world, ns, iface, info.implementation, { wireguardGo: info.binary, threads: info.threads });
      await uapiSet(iface, `private_key=${Buffer.from(generatePrivateKey()).toString('hex')}\nlisten_port=51820`);
      await loadIdlePeers(ns, iface);
      ns.ip('addr', 'add', '10.230.0.1/16', 'dev', iface);
      ns.ip('link', 'set', iface, 'mtu', '1420', 'up');
      await new Promise((r) => setTimeout(r, SETTLE_MS));
      const cpu0 = cpuSeconds(child.pid!);
      const t0 = performance.now();
      await new Promise((r) => setTimeout(r, seconds * 1000));
      const cpu1 = cpuSeconds(child.pid!);
      const elapsed = (performance.now() - t0) / 1000;
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${label} exited while idle`);
      percents.push((100 * (cpu1 - cpu0)) / elapsed);
      report(`${label} run ${run}/${runs}: idle with ${IDLE_PEERS} peers, ${percents.at(-1)!.toFixed(2)} % of one core over ${elapsed.toFixed(1)} s`);
    });
  }
  return { label, implementation: info, idlePeers: IDLE_PEERS, seconds, cpuPercent: summarize(percents) };
}
