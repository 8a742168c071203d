/**
 * Branches may not nest (`a` and `a/b`, as in git), also when two processes create them at the same moment. On an
 * object store the two are unrelated keys, so only the ref store's check after its write keeps one of them out.
 * Each backend gets two clients of its own, as two processes would.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { CommitId, ConflictError } from '@tributary/core';
import { branchRef, RefStore } from '@tributary/repository';
import { ObjectStore, openStore } from '@tributary/storage';
import { startAzurite } from './support/azurite-harness';
import { setEnv } from './support/cloud-store-helpers';
import { startFakeGcs } from './support/fake-gcs-server';
import { startS3Emulator } from './support/s3rver-harness';

const PAIRS = 20;
const c1 = 'c'.repeat(64) as CommitId;

type Backend = { url: string; stop(): Promise<void> };

async function start(scheme: string): Promise<Backend> {
  switch (scheme) {
    case 's3': {
      const e = await startS3Emulator();
      const restore = setEnv(e.env);
      return { url: 's3://refs-race/repo', stop: async () => (restore(), await e.stop()) };
    }
    case 'az': {
      const e = await startAzurite();
      const restore = setEnv(e.env);
      return { url: 'az://refs-race/repo', stop: async () => (restore(), await e.stop()) };
    }
    case 'gs': {
      const e = await startFakeGcs();
      const restore = setEnv(e.env);
      return { url: 'gs://refs-race/repo', stop: async () => (restore(), await e.stop()) };
    }
    default: {
      const dir = mkdtempSync(path.join(tmpdir(), 'trib-refs-race-'));
      return { url: pathToFileURL(dir).href, stop: async () => rmSync(dir, { recursive: true, force: true }) };
    }
  }
}

describe.each(['s3', 'az', 'gs', 'file'])('branches created nested at once on %s', (scheme) => {
  let backend: Backend;
  const opened: ObjectStore[] = [];
  beforeAll(async () => {
    backend = await start(scheme);
    opened.push(await openStore(backend.url, { create: true }));
  });
  afterAll(async () => {
    await Promise.all(opened.map((s) => s.close()));
    await backend?.stop();
  });
  async function client(): Promise<RefStore> {
    const store = await openStore(backend.url);
    opened.push(store);
    return new RefStore(store);
  }

  it('never both stay; each side that fails gets the nesting conflict, and a retry of a pair that both lost succeeds', async () => {
    const [left, right] = [await client(), await client()];
    // The outer name is created by either side, so both orders of the two clients' requests are raced.
    const pairs = Array.from({ length: PAIRS }, (_, i) => ({ outer: `race-${i}`, inner: `race-${i}/b`, outerBy: i % 2 ? left : right, innerBy: i % 2 ? right : left }));
    const settled = await Promise.all(
      pairs.map((p) => Promise.allSettled([p.outerBy.create(branchRef(p.outer), { commit: c1 }), p.innerBy.create(branchRef(p.inner), { commit: c1 })])),
    );

    const stored = new Set((await left.list('refs/heads/')).map((r) => r.name.slice('refs/heads/'.length)));
    const bothLost: string[] = [];
    pairs.forEach((p, i) => {
      const [outer, inner] = settled[i];
      expect([p.outer, p.inner].filter((n) => stored.has(n)).length).toBeLessThanOrEqual(1);
      for (const [name, other, outcome] of [
        [p.outer, p.inner, outer],
        [p.inner, p.outer, inner],
      ] as const) {
        if (outcome.status === 'fulfilled') {
          expect(stored.has(name)).toBe(true);
        } else {
          expect(outcome.reason).toBeInstanceOf(ConflictError);
          expect((outcome.reason as Error).message).toBe(`cannot create branch ${name}: branch ${other} exists`);
          expect(stored.has(name)).toBe(false);
        }
      }
      if (!stored.has(p.outer) && !stored.has(p.inner)) bothLost.push(p.outer);
    });
    for (const name of bothLost) await left.create(branchRef(name), { commit: c1 });
  });

  it('one process alone: a nested branch is refused either way round, and nothing of it is left behind', async () => {
    const refs = await client();
    await refs.create(branchRef('solo'), { commit: c1 });
    await expect(refs.create(branchRef('solo/b'), { commit: c1 })).rejects.toThrow(new ConflictError('cannot create branch solo/b: branch solo exists'));
    await refs.create(branchRef('deep/x/y'), { commit: c1 });
    await expect(refs.update(branchRef('deep/x'), undefined, { commit: c1 })).rejects.toThrow(new ConflictError('cannot create branch deep/x: branch deep/x/y exists'));
    await expect(refs.create(branchRef('deep'), { commit: c1 })).rejects.toThrow(new ConflictError('cannot create branch deep: branch deep/x/y exists'));
    const names = (await refs.list('refs/heads/')).map((r) => r.name);
    expect(names.filter((n) => /^refs\/heads\/(solo|deep)/.test(n))).toEqual(['refs/heads/deep/x/y', 'refs/heads/solo']);
  });
});
