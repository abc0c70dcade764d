// WGVM_THREADS and `wgvm up --threads`: how many threads seal and open packets. Packets of one peer
// keep their order whatever the number; more threads than cores only adds switching.
export const MAX_THREADS = 256;
export const THREADS_RULE = `an integer from 1 to ${MAX_THREADS}, or "auto" for one per core`;

/** The number of threads, `auto` (one per core the process may use), or null when `text` is neither. */
export function parseThreads(text: string): number | 'auto' | null {
  if (text === 'auto') return 'auto';
  if (!/^[1-9][0-9]{0,2}$/.test(text)) return null;
  const n = Number(text);
  return n <= MAX_THREADS ? n : null;
}

/** The device option for a parsed value: undefined leaves the choice to the data plane. */
export function threadsOption(threads: number | 'auto'): number | undefined {
  return threads === 'auto' ? undefined : threads;
}
