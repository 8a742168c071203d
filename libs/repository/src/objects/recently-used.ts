/**
 * The most recently used values by key, under a budget of their total weight (`weigh`: bytes for buffers, 1 each to
 * bound a count); adding one past the budget drops the least recently used first. A `get` counts as a use.
 */
export class RecentlyUsed<V> {
  private readonly map = new Map<string, V>();
  private weight = 0;
  /**
   * Where eviction goes on from: the map in insertion order, oldest first (a `get` re-inserts, so it is use order).
   * Kept across calls because a walk from the start passes every entry deleted since the table was last rebuilt:
   * a cache turning over its entries spent seconds per thousand evictions that way.
   */
  private oldest: Iterator<[string, V]> = this.map.entries();

  constructor(
    private readonly budget: number,
    private readonly weigh: (value: V) => number,
  ) {}

  has(key: string): boolean {
    return this.map.has(key);
  }

  get(key: string): V | undefined {
    const value = this.map.get(key);
    if (value !== undefined) {
      this.map.delete(key);
      this.map.set(key, value);
    }
    return value;
  }

  /** Keeps `value` under `key` (replacing what was there), then drops the least recently used past the budget. */
  set(key: string, value: V): void {
    this.delete(key);
    this.map.set(key, value);
    this.weight += this.weigh(value);
    while (this.weight > this.budget) {
      let next = this.oldest.next();
      // A finished iterator stays finished, whatever is added after: start again from the oldest.
      if (next.done) next = (this.oldest = this.map.entries()).next();
      if (next.done) break;
      const [k, v] = next.value;
      this.map.delete(k);
      this.weight -= this.weigh(v);
    }
  }

  delete(key: string): void {
    const value = this.map.get(key);
    if (value !== undefined) {
      this.map.delete(key);
      this.weight -= this.weigh(value);
    }
  }
}
