import { createHook } from 'node:async_hooks';

/**
 * The requests to libuv's thread pool made while `fn` runs, by async resource type: every fs call given a callback
 * or a promise (FSREQCALLBACK, FSREQPROMISE) and every FileHandle. For tests that pin the synchronous-I/O rule
 * (SYNC_IO_MAX_BYTES): a count, never a time.
 */
export async function poolRequestsDuring(fn: () => Promise<unknown>): Promise<string[]> {
  const types: string[] = [];
  const hook = createHook({ init: (_id, type) => void (/^FSREQ|^FILEHANDLE/.test(type) && types.push(type)) });
  hook.enable();
  try {
    await fn();
  } finally {
    hook.disable();
  }
  return types;
}
