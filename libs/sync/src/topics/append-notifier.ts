import { EventEmitter } from 'node:events';
import Redis from 'ioredis';
import { TopicName } from '@tributary/core';

/**
 * Tells waiting subscribers that a topic grew. Appends made in this process wake waiters at once; appends made by
 * other brokers arrive through Redis pub/sub on `<prefix>appended:<topic>`. Notifications are only a shortcut:
 * a waiter also wakes after `timeoutMs` and re-reads the log, so a lost message (Redis down, a restart) costs a
 * delay, never an entry.
 */
export class AppendNotifier {
  private readonly local = new EventEmitter();
  private subscribed = false;

  /**
   * `publisher` is a normal connection; `subscriber` a dedicated one this notifier puts in subscriber mode (or
   * undefined to stay in-process, for tests).
   */
  constructor(
    private readonly publisher: Redis | undefined,
    private readonly subscriber: Redis | undefined,
    readonly prefix: string,
  ) {
    this.local.setMaxListeners(0);
  }

  channel(topic: TopicName): string {
    return `${this.prefix}appended:${topic}`;
  }

  /**
   * Starts listening to other brokers' appends, and again after every reconnect of the subscriber connection, which
   * should be made with `autoResubscribe: false`. Failures are ignored: waiters fall back to polling.
   */
  async start(): Promise<void> {
    const subscriber = this.subscriber;
    if (!subscriber || this.subscribed) return;
    this.subscribed = true;
    subscriber.on('pmessage', (_pattern: string, channel: string, message: string) => {
      if (channel.startsWith(`${this.prefix}appended:`)) {
        this.local.emit(channel.slice(`${this.prefix}appended:`.length), Number(message));
      }
    });
    const subscribe = () => subscriber.psubscribe(`${this.prefix}appended:*`).catch(() => undefined);
    subscriber.on('ready', () => void subscribe());
    await subscribe();
  }

  /** Announces that `topic` now has `seq` entries. Never throws. */
  notify(topic: TopicName, seq: number): void {
    this.local.emit(topic, seq);
    this.publisher?.publish(this.channel(topic), String(seq)).catch(() => undefined);
  }

  /** Resolves on the next append to `topic`, after `timeoutMs`, or when `signal` aborts, whichever is first. */
  wait(topic: TopicName, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.local.off(topic, done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.local.on(topic, done);
      signal?.addEventListener('abort', done);
      if (signal?.aborted) done();
    });
  }
}
