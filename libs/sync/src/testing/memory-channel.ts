import { ReceiverChannel, SenderChannel, TransferMessage } from '../transfer/transfer-channel';

/** An unbounded in-process queue with an async `take`; test-only. */
export class AsyncQueue<T> {
  private readonly items: T[] = [];
  private readonly takers: ((v: T) => void)[] = [];

  put(item: T): void {
    const taker = this.takers.shift();
    if (taker) taker(item);
    else this.items.push(item);
  }

  take(): Promise<T> {
    if (this.items.length > 0) return Promise.resolve(this.items.shift()!);
    return new Promise((resolve) => this.takers.push(resolve));
  }
}

/**
 * A sender and a receiver channel joined in memory, for specs of the transfer protocol without gRPC. `tap` sees
 * (and may replace) every message the sender sends. `roundTrips()` counts the times the sender waited for an
 * answer to a query it had just sent: what a link's latency would cost it.
 */
export function memoryChannels(tap?: (msg: TransferMessage) => TransferMessage): {
  sender: SenderChannel;
  receiver: ReceiverChannel;
  sent: TransferMessage[];
  roundTrips: () => number;
} {
  const toReceiver = new AsyncQueue<TransferMessage>();
  const toSender = new AsyncQueue<Buffer>();
  const sent: TransferMessage[] = [];
  let roundTrips = 0;
  let queried = false;
  return {
    sent,
    roundTrips: () => roundTrips,
    sender: {
      async send(msg) {
        const m = tap ? tap(msg) : msg;
        sent.push(m);
        if (m.haveQuery) queried = true;
        toReceiver.put(m);
      },
      receiveHaveReply: () => {
        if (queried) roundTrips++;
        queried = false;
        return toSender.take();
      },
    },
    receiver: {
      receive: () => toReceiver.take(),
      async sendHaveReply(bits) {
        toSender.put(bits);
      },
    },
  };
}
