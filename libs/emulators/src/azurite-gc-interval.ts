/**
 * Preloaded into Azurite's process (`node -r`) by `startAzurite({ gcIntervalMs })`: sets how often Azurite's blob
 * garbage collector frees the bytes of deleted blobs, fixed at 10 minutes in Azurite 3.35 (DEFAULT_GC_INTERVAL_MS,
 * read when the collector is built). Until it runs, an in-memory Azurite keeps every deleted byte, and on some hosts
 * that makes each later upload cost it far more CPU: a bench that deletes what each figure wrote would still tax
 * the figures that come later.
 */
const ms = Number(process.env.AZURITE_GC_INTERVAL_MS);
if (ms > 0) {
  const constants = require('azurite/dist/src/blob/utils/constants') as { DEFAULT_GC_INTERVAL_MS?: unknown };
  if (typeof constants.DEFAULT_GC_INTERVAL_MS !== 'number') {
    throw new Error('Azurite has no DEFAULT_GC_INTERVAL_MS any more: update azurite-gc-interval.ts for this version');
  }
  constants.DEFAULT_GC_INTERVAL_MS = ms;
}
