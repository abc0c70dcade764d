// The hub interface's link settings (address, MTU, up), applied with iproute2 as wg-quick does.
import { execFileSync } from 'node:child_process';

function ip(args: string[]): void {
  try {
    execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`ip ${args.join(' ')}: ${(e.stderr || e.message).trim()}`);
  }
}

/** Gives `iface` its address (e.g. 10.100.0.1/16), sets the MTU and brings it up. */
export function configureLink(iface: string, address: string, prefix: number, mtu: number): void {
  ip(['address', 'replace', `${address}/${prefix}`, 'dev', iface]);
  ip(['link', 'set', 'dev', iface, 'mtu', String(mtu), 'up']);
}
