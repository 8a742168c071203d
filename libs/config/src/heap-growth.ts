import { setFlagsFromString } from 'node:v8';

/**
 * After each full garbage collection V8 lets the heap grow this many percent above what survived before it
 * collects again. The Buffers of a transfer live outside the JavaScript heap but count towards that limit, so
 * with V8's own choice a process moving hundreds of MiB through a heap of a few tens of MiB collected every
 * 12 MiB or so: a 512 MiB publish ran about 44 full collections, some 350 ms, a fifth of the sender's CPU. At
 * 300 (a factor of 4, the top of the range V8 picks from itself) it ran 16, some 160 ms, and peak RSS stayed
 * within the run-to-run spread.
 */
export const HEAP_GROWING_PERCENT = 300;

/**
 * Sets V8's heap growth for a process that streams data: the trib CLI and every app call it first thing. V8 reads
 * the flag each time it sets its next limit, so setting it at start-up takes full effect.
 */
export function configureHeapGrowth(): void {
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
}
