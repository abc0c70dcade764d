// What start-up acquired, released in the reverse order: a later part may use an earlier one (the
// API writes to the registry, the sync reads the device) until it is itself gone.
export class Releases {
  private readonly stack: Array<() => unknown> = [];

  /** Registers how to release what was just acquired. */
  add(release: () => unknown): void {
    this.stack.push(release);
  }

  /** Releases everything, newest first. One that fails does not keep the others from running. */
  async releaseAll(): Promise<void> {
    for (let release = this.stack.pop(); release; release = this.stack.pop()) {
      try {
        await release();
      } catch {
        // closed already, or gone with its peer (the device takes its interface along): nothing left to do
      }
    }
  }
}
