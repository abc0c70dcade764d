// Throughput with 10,000 idle peers on each side, against the same pair bare: one world per run,
// TCP 1 stream through the bare pair, then the idle peers loaded into both devices, then the same
// transfer again. Measured in the same processes, so the ratio is the peers' cost alone.
import { IDLE_PEERS, loadIdlePeers } from './idle-peers.js';
import { tcp } from './measure.js';
import { withWorld } from './netns.js';
import { pairLabel, setUpPair, type Contenders } from './pairs.js';
import type { IdlePeersResult } from './report-rows.js';
import { summarize } from './stats.js';

export async function measureIdlePeers(
  name: 'wgvm' | 'wireguard-go',
  contenders: Contenders,
  runs: number,
  seconds: number,
  report: (line: string) => void,
): Promise<IdlePeersResult> {
  const label = pairLabel(name, contenders);
  const bare: number[] = [];
  const loaded: number[] = [];
  const kept: number[] = [];
  const loading: number[] = [];
  for (let run = 1; run <= runs; run++) {
    await withWorld('wgvmb', async (world) => {
      const p = await setUpPair(world, name, contenders);
      const before = await tcp(world, p.client, p.server, p.target, seconds, 1);
      loading.push(await loadIdlePeers(p.client, p.ifaces[0]!));
      loading.push(await loadIdlePeers(p.server, p.ifaces[1]!));
      const after = await tcp(world, p.client, p.server, p.target, seconds, 1);
      bare.push(before.gbps);
      loaded.push(after.gbps);
      kept.push((100 * after.gbps) / before.gbps);
      report(
        `${label} run ${run}/${runs}: TCP 1 stream ${before.gbps.toFixed(2)} Gbit/s bare, ${after.gbps.toFixed(2)} Gbit/s with ${IDLE_PEERS} idle peers ` +
          `on each side (${kept.at(-1)!.toFixed(0)} %; loaded in ${loading.at(-2)!.toFixed(1)} + ${loading.at(-1)!.toFixed(1)} s)`,
      );
    });
  }
  return {
    label,
    implementation: contenders[name]!,
    idlePeers: IDLE_PEERS,
    bareGbps: summarize(bare),
    loadedGbps: summarize(loaded),
    keptPercent: summarize(kept),
    loadSeconds: summarize(loading),
  };
}
