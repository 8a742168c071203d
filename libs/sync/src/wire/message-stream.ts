import type { EventEmitter } from 'node:events';
import { TribError, UnavailableError } from '@tributary/core';
import { fromGrpcError } from './status-mapping';

/** What both grpc-js duplex calls (server and client side) offer: an object-mode Readable and Writable. */
export interface DuplexLike extends EventEmitter {
  read(): unknown;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  write(msg: any): boolean;
  readonly writableNeedDrain: boolean;
  readonly writableEnded: boolean;
}

/**
 * Pull-style access to one gRPC stream (either end): `receive()` takes the next message, `send()` writes one and
 * waits while the transport's buffer is full. Reading pulls from the stream only when asked, and writing honours
 * `write()` returning false, so a slow peer slows this stream only and nothing queues without bound.
 */
export class MessageStream<In, Out> {
  private error: TribError | undefined;
  private ended = false;
  private closed = false;
  private stopped = false;
  /** Readers and writers waiting for the stream to change; each wake-up wakes all, who re-check their condition. */
  private waiters: (() => void)[] = [];

  constructor(readonly stream: DuplexLike) {
    const notify = () => {
      const ws = this.waiters;
      this.waiters = [];
      for (const w of ws) w();
    };
    stream.on('readable', notify);
    stream.on('drain', notify);
    stream.on('end', () => {
      this.ended = true;
      notify();
    });
    stream.on('error', (e: unknown) => {
      this.error ??= fromGrpcError(e);
      notify();
    });
    stream.on('cancelled', () => {
      this.error ??= new UnavailableError('the peer cancelled the call');
      notify();
    });
    stream.on('close', () => {
      this.closed = true;
      notify();
    });
  }

  /** The next message, or undefined once the peer has half-closed. Rejects with the call's error (a TribError). */
  async receive(): Promise<In | undefined> {
    for (;;) {
      if (this.stopped) return undefined;
      const msg = this.stream.read() as In | null;
      if (msg !== null) return msg;
      if (this.error) throw this.error;
      if (this.ended) return undefined;
      if (this.closed) throw new UnavailableError('the call closed before its end');
      await this.changed();
    }
  }

  /** Writes one message; resolves once the transport can take more. Rejects if the call has failed or closed. */
  async send(msg: Out): Promise<void> {
    if (this.error) throw this.error;
    if (this.closed || this.stream.writableEnded) throw new UnavailableError('the call is closed');
    if (this.stream.write(msg)) return;
    while (this.stream.writableNeedDrain) {
      if (this.error) throw this.error;
      if (this.closed) throw new UnavailableError('the call closed while writing');
      await this.changed();
    }
  }

  /** Makes a pending and every later `receive` resolve undefined: for a reader that should give up. */
  stopReading(): void {
    this.stopped = true;
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) w();
  }

  private changed(): Promise<void> {
    return new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  /** The error the call failed with, if it has. */
  get failure(): TribError | undefined {
    return this.error;
  }
}
