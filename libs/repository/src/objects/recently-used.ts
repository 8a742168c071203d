/**
 * The most recently used byte buffers under a budget of total bytes, by key; adding one past the budget drops the
 * least recently used first. A `get` counts as a use.
 */
export class RecentlyUsed {
  private readonly map = new Map<string, Buffer>();
  private bytes = 0;

  constructor(private readonly budget: number) {}

  has(key: string): boolean {
    return this.map.has(key);
  }

  get(key: string): Buffer | undefined {
    const value = this.map.get(key);
    if (value) {
      this.map.delete(key);
      this.map.set(key, value);
    }
    return value;
  }

  /** Keeps `value` under `key` (replacing what was there), then drops the least recently used past the budget. */
  set(key: string, value: Buffer): void {
    this.delete(key);
    this.map.set(key, value);
    this.bytes += value.length;
    for (const [k, v] of this.map) {
      if (this.bytes <= this.budget) break;
      this.map.delete(k);
      this.bytes -= v.length;
    }
  }

  delete(key: string): void {
    const value = this.map.get(key);
    if (value) {
      this.map.delete(key);
      this.bytes -= value.length;
    }
  }
}
