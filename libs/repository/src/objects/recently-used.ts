/**
 * The most recently used values by key, under a budget of their total weight (`weigh`: bytes for buffers, 1 each to
 * bound a count); adding one past the budget drops the least recently used first. A `get` counts as a use.
 */
export class RecentlyUsed<V> {
  private readonly map = new Map<string, V>();
  private weight = 0;

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
    for (const [k, v] of this.map) {
      if (this.weight <= this.budget) break;
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
