/** One queued send: `ready` (a read already running) resolves to the bytes `send` puts on the stream. */
export interface QueuedSend {
  /** Bytes it holds in memory once read, counted against the queue's bound. */
  readonly bytes: number;
  readonly ready: Promise<Buffer[]>;
  send(bytes: Buffer[]): Promise<void>;
}

/**
 * Sends in the order queued while letting reads run ahead: `push` returns at once unless more than `limit` bytes
 * are queued, in which case it first sends from the head until they fit. So the store is read while the stream
 * drains, and memory stays bounded. A failed read surfaces when its turn to be sent comes.
 */
export class SendQueue {
  private readonly queue: QueuedSend[] = [];
  private queuedBytes = 0;

  constructor(private readonly limit: number) {}

  async push(item: QueuedSend): Promise<void> {
    item.ready.catch(() => undefined);
    this.queue.push(item);
    this.queuedBytes += item.bytes;
    while (this.queuedBytes > this.limit && this.queue.length > 0) await this.sendHead();
  }

  /** Sends everything queued. */
  async drain(): Promise<void> {
    while (this.queue.length > 0) await this.sendHead();
  }

  private async sendHead(): Promise<void> {
    const item = this.queue.shift()!;
    try {
      await item.send(await item.ready);
    } finally {
      this.queuedBytes -= item.bytes;
    }
  }
}
