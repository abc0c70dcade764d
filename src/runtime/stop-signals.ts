// SIGINT and SIGTERM for the long-running commands (`wgvm up`, `wgvm-userspace`, `wgvm serve`).
// They are caught from the first line of the command, before anything that needs cleaning up (a TUN
// interface, a control socket, an open registry) exists: a signal during start-up is kept and handed
// to the command once it says how to stop, instead of killing the process half-built.
export type StopSignal = 'SIGINT' | 'SIGTERM';

const STOP_SIGNALS: readonly StopSignal[] = ['SIGINT', 'SIGTERM'];

/** The shell's convention for a command ended by a signal: 128 + its number (SIGINT 130, SIGTERM 143). */
export function signalExitCode(signal: StopSignal): number {
  return signal === 'SIGINT' ? 130 : 143;
}

export class StopSignals {
  private received: StopSignal | undefined;
  private handler: ((signal: StopSignal) => void) | undefined;
  private readonly listener = (signal: StopSignal) => {
    if (this.received !== undefined) return; // the first signal decides; later ones change nothing
    this.received = signal;
    this.handler?.(signal);
  };

  constructor() {
    for (const signal of STOP_SIGNALS) process.on(signal, this.listener);
  }

  /** The signal received so far, if any. */
  get signal(): StopSignal | undefined {
    return this.received;
  }

  /** Calls `handler` once with the first stop signal: at once if one came already. */
  onStop(handler: (signal: StopSignal) => void): void {
    this.handler = handler;
    if (this.received !== undefined) handler(this.received);
  }

  /** Gives the signals back to Node's default action (the process then dies of them). */
  dispose(): void {
    for (const signal of STOP_SIGNALS) process.off(signal, this.listener);
    this.handler = undefined;
  }
}
