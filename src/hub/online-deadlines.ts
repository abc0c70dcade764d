// When each node that is online turns offline if nothing more is heard from it (its last handshake
// plus the online window). Nothing in the registry changes at that moment, so the dashboards would
// not learn of it; the status loop asks this queue every second which nodes are due, at a cost of
// the nodes due, not of the fleet: a binary heap of (time, node), with entries that were moved or
// deleted since skipped when they come up.

export class OnlineDeadlines {
  /** The deadline that counts for each node. */
  private readonly at = new Map<string, number>();
  /** Min-heap on time; may hold stale entries (a later deadline or none for that node). */
  private readonly heap: Array<{ at: number; nodeId: string }> = [];

  get size(): number {
    return this.at.size;
  }

  /** The node turns offline at `at` (ms since the epoch) unless set again before. */
  set(nodeId: string, at: number): void {
    if (this.at.get(nodeId) === at) return;
    this.at.set(nodeId, at);
    this.push({ at, nodeId });
    // Stale entries are dropped when they surface; bound them when most of the heap is stale.
    if (this.heap.length > 2 * this.at.size + 64) this.rebuild();
  }

  delete(nodeId: string): void {
    this.at.delete(nodeId);
  }

  /** The nodes whose deadline is at or before `now`, each once, earliest first. */
  due(now: number): string[] {
    const out: string[] = [];
    while (this.heap.length > 0 && this.heap[0]!.at <= now) {
      const top = this.pop();
      if (this.at.get(top.nodeId) !== top.at) continue; // moved or deleted since
      this.at.delete(top.nodeId);
      out.push(top.nodeId);
    }
    return out;
  }

  private rebuild(): void {
    this.heap.length = 0;
    for (const [nodeId, at] of this.at) this.push({ at, nodeId });
  }

  private push(entry: { at: number; nodeId: string }): void {
    const h = this.heap;
    h.push(entry);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (h[parent]!.at <= entry.at) break;
      h[i] = h[parent]!;
      i = parent;
    }
    h[i] = entry;
  }

  private pop(): { at: number; nodeId: string } {
    const h = this.heap;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        if (left >= h.length) break;
        const right = left + 1;
        const child = right < h.length && h[right]!.at < h[left]!.at ? right : left;
        if (h[child]!.at >= last.at) break;
        h[i] = h[child]!;
        i = child;
      }
      h[i] = last;
    }
    return top;
  }
}
