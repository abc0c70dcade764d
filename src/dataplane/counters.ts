// The data plane's counters, described once: the field the addon reports (native/addon/
// device_binding.cpp, Counters), the Prometheus metric and its help text, and the dashboard's label.
// /metrics, the dashboard (server and page) and `wgvm counters` (the UAPI socket's
// `wgvm_counters=1`) all read this list; a new counter is a line here and its field in the C++.
// Pure: the web front end imports it for the labels.

/**
 * Every counter but the drops, in the order `wgvm counters` prints them. A `flag` is a boolean
 * state (exported as a 0/1 gauge), anything else a monotonic count.
 */
export const DEVICE_COUNTERS = [
  {
    field: 'tunWriteErrors',
    metric: 'wgvm_device_tun_write_errors_total',
    help: 'Decrypted packets the TUN interface refused.',
    label: 'TUN write errors',
  },
  {
    field: 'tunMalformed',
    metric: 'wgvm_device_tun_malformed_total',
    help: 'TUN frames with an offload header that could not be segmented.',
    label: 'TUN frames that could not be segmented',
  },
  {
    field: 'udpSendErrors',
    metric: 'wgvm_device_udp_send_errors_total',
    help: 'Datagrams the kernel refused to send.',
    label: 'UDP send errors',
  },
  {
    field: 'relayed',
    metric: 'wgvm_device_relayed_packets_total',
    help: 'Packets relayed between peers inside the device.',
    label: 'Relayed between peers',
  },
  {
    field: 'relayedBytes',
    metric: 'wgvm_device_relayed_bytes_total',
    help: 'Bytes of inner packets relayed between peers inside the device.',
    label: 'Bytes relayed between peers',
  },
  {
    field: 'handshakesAdmitted',
    metric: 'wgvm_device_handshakes_admitted_total',
    help: 'Handshake messages given a Diffie-Hellman.',
    label: 'Handshake messages given a Diffie-Hellman',
  },
  {
    field: 'underLoad',
    kind: 'flag',
    metric: 'wgvm_device_under_load',
    help: '1 while the device answers initiations with cookies (a handshake flood).',
    label: 'Under load: asking for cookies (1 = yes)',
  },
] as const;

/** The drops: one count per reason, the reasons named by the data plane (protocol::drop_name). */
export const DROP_COUNTERS = {
  prefix: 'drop_',
  metric: 'wgvm_device_drops_total',
  help: 'Packets the data plane dropped, by reason.',
} as const;

export type CounterDescriptor = (typeof DEVICE_COUNTERS)[number];

/** What the addon's `counters()` returns. */
export type DeviceCounters = { drops: Record<string, number> } & {
  -readonly [C in CounterDescriptor as C['field']]: C extends { kind: 'flag' } ? boolean : number;
};

/** A counter's name outside the process (`wgvm counters`, the dashboard): tunWriteErrors → tun_write_errors. */
export const counterName = (c: CounterDescriptor): string => c.field.replace(/[A-Z]/g, (ch) => `_${ch.toLowerCase()}`);

/** A boolean state rather than a count. */
export const isFlag = (c: CounterDescriptor): boolean => 'kind' in c && c.kind === 'flag';

/** A counter's value as a number (a flag is 1 or 0). */
export const counterValue = (c: CounterDescriptor, counters: DeviceCounters): number => Number(counters[c.field]);

/** Every counter by name, drops first (`drop_<reason>`), then the list's order. */
export function namedCounters(counters: DeviceCounters): Array<[name: string, value: number]> {
  return [
    ...Object.entries(counters.drops).map(([reason, n]): [string, number] => [`${DROP_COUNTERS.prefix}${reason}`, n]),
    ...DEVICE_COUNTERS.map((c): [string, number] => [counterName(c), counterValue(c, counters)]),
  ];
}

const LABELS = new Map<string, string>(DEVICE_COUNTERS.map((c) => [counterName(c), c.label]));

/** The dashboard's label for a counter name; a drop is "Dropped: <reason>". */
export function counterLabel(name: string): string {
  const label = LABELS.get(name);
  if (label !== undefined) return label;
  const words = (s: string) => s.replace(/_/g, ' ');
  return name.startsWith(DROP_COUNTERS.prefix) ? `Dropped: ${words(name.slice(DROP_COUNTERS.prefix.length))}` : words(name);
}
