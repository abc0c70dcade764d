// How the dashboard writes times and sizes. Pure functions: unit-tested without a browser.

/** "just now", "12 s ago", "5 min ago", "3 h ago", "2 d ago"; "never" for null. */
export function formatAge(iso: string | null, nowMs: number): string {
  if (!iso) return 'never';
  const then = Date.parse(iso);
  if (Number.isNaN(then)) return 'unknown';
  const s = Math.floor((nowMs - then) / 1000);
  if (s < 0) return 'just now'; // the browser's clock is behind the hub's
  if (s < 5) return 'just now';
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86_400)} d ago`;
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** Bytes in binary units with three significant digits: "0 B", "512 B", "1.50 KiB", "23.4 MiB", "118 GiB". */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '–';
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  if (u === 0) return `${v} B`;
  // Round first, so that 1023.9 KiB does not print as "1024 KiB".
  let text = v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
  if (Number(text) >= 1024 && u < UNITS.length - 1) {
    text = '1.00';
    u++;
  }
  return `${text} ${UNITS[u]}`;
}

/** A rate in bits per second from bytes over an interval: "0 bit/s", "8.00 kbit/s", "1.20 Mbit/s". */
export function formatBitRate(bytes: number, seconds: number): string {
  const bits = seconds > 0 ? (bytes * 8) / seconds : 0;
  const units = ['bit/s', 'kbit/s', 'Mbit/s', 'Gbit/s', 'Tbit/s'];
  let v = bits;
  let u = 0;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  if (u === 0) return `${Math.round(v)} bit/s`;
  return `${v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)} ${units[u]}`;
}

/** An uptime: "42 s", "5 min", "3 h 12 min", "4 d 2 h". */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86_400)} d ${Math.floor((s % 86_400) / 3600)} h`;
}

/** When something ends: "in 23 h", "in 5 min", "expired". */
export function formatExpiry(iso: string, nowMs: number): string {
  const s = Math.floor((Date.parse(iso) - nowMs) / 1000);
  if (Number.isNaN(s)) return 'unknown';
  if (s <= 0) return 'expired';
  if (s < 60) return `in ${s} s`;
  if (s < 3600) return `in ${Math.floor(s / 60)} min`;
  if (s < 86_400) return `in ${Math.floor(s / 3600)} h`;
  return `in ${Math.floor(s / 86_400)} d`;
}

/** A local date and time, "2026-11-26 14:05:09", for tooltips and lists. */
export function formatTimestamp(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return 'unknown';
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** What a node's paths come to, for the node list: "2 direct · 1 relayed", or why there are none. */
export function pathSummary(n: { agent: { reported_at: string | null; credential_issued_at: string | null }; paths: { state: string }[] }): string {
  if (!n.agent.reported_at) return n.agent.credential_issued_at ? 'agent silent: relayed' : 'no agent: relayed';
  const count = (state: string) => n.paths.filter((p) => p.state === state).length;
  const parts = (['direct', 'trying', 'relayed'] as const).filter((s) => count(s) > 0).map((s) => `${count(s)} ${s}`);
  return parts.length > 0 ? parts.join(' · ') : 'agent, no pairs';
}
