import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { FailedPreconditionError, NotFoundError } from '@tributary/core';
import { startFakeGcs } from '@tributary/emulators';
import { openStore } from '@tributary/storage';
import { openStoreRepository, processHome } from './store-repository';

describe('openStoreRepository', () => {
  let root: string;
  beforeEach(async () => {
    root = await fs.mkdtemp(path.join(tmpdir(), 'trib-home-'));
  });
  afterEach(() => fs.rm(root, { recursive: true, force: true }));

  it('picks the home: TRIB_HOME, the trib-init repository of a .trib/store, else one per store URL', () => {
    expect(processHome('file:///x/y', '/h')).toBe('/h');
    expect(processHome(pathToFileURL('/data/agent/.trib/store').href)).toBe('/data/agent');
    const a = processHome('file:///data/na-aws');
    const b = processHome('file:///data/na-gcp');
    expect(a).not.toBe(b);
    expect(processHome('/data/na-aws')).toBe(a);
    expect(path.dirname(a)).toBe(path.join(tmpdir(), 'tributary'));
  });

  it('creates the repository on first start and reopens it after, on the same store', async () => {
    const store = pathToFileURL(path.join(root, 'stores', 'na-aws')).href;
    const home = path.join(root, 'home');
    const first = await openStoreRepository(store, { home });
    // A process commits in the store, never to files: its home has none, and says so to a trib command run there.
    expect(first.bare).toBe(true);
    const id = first.storeConfig.id;
    await first.close();
    const again = await openStoreRepository(store, { home });
    expect(again.storeConfig.id).toBe(id);
    expect((await again.head()).branch).toBe('main');
    await again.close();
    await expect(openStoreRepository(pathToFileURL(path.join(root, 'stores', 'other')).href, { home })).rejects.toThrow(FailedPreconditionError);
  });

  it('shares the repository a `trib init` made when the store is its .trib/store', async () => {
    const store = pathToFileURL(path.join(root, 'repo', '.trib', 'store')).href;
    const repo = await openStoreRepository(store);
    expect(repo.workdir).toBe(path.join(root, 'repo'));
    await repo.close();
    expect(JSON.parse(await fs.readFile(path.join(root, 'repo', '.trib', 'config.json'), 'utf8')).store).toBeUndefined();
  });

  it('never creates a missing cloud bucket (only trib init does): NotFound naming the URL, and no bucket after', async () => {
    const gcs = await startFakeGcs({ inProcess: true });
    const saved = { ...process.env };
    Object.assign(process.env, gcs.env);
    try {
      const url = 'gs://no-such-bucket/na-gcp';
      const failure = openStoreRepository(url, { home: path.join(root, 'home') });
      await expect(failure).rejects.toThrow(NotFoundError);
      await expect(failure).rejects.toThrow(url);
      await expect(openStore(url)).rejects.toThrow(NotFoundError);
      await expect(fs.access(path.join(root, 'home', '.trib', 'config.json'))).rejects.toThrow();
    } finally {
      process.env = saved;
      await gcs.stop();
    }
  });
});
