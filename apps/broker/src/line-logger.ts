import { LoggerService } from '@nestjs/common';

/** The contexts of our own lines; Nest's start-up chatter (module and route loading) says nothing an operator needs. */
const OWN_CONTEXTS = new Set([undefined, 'broker']);

/**
 * The broker's log in the hub's and the agents' format: one line per event, `<ISO time> broker: <message>`, with
 * warnings and errors marked as such, and no colour codes.
 */
export class LineLogger implements LoggerService {
  log(message: unknown, context?: string): void {
    if (OWN_CONTEXTS.has(context)) write('', message);
  }

  warn(message: unknown): void {
    write('warning: ', message);
  }

  /** Nest passes an exception's stack after the message: kept, as only a bug reaches this. */
  error(message: unknown, stack?: string): void {
    write('error: ', message);
    if (typeof stack === 'string' && stack.includes('\n')) console.error(stack);
  }
}

function write(mark: string, message: unknown): void {
  console.log(`${new Date().toISOString()} broker: ${mark}${String(message)}`);
}
