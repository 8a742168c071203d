import { MemoryStore } from './memory.store';
import { describeObjectStoreContract } from './testing/store-contract';

describeObjectStoreContract('MemoryStore', async () => ({
  store: new MemoryStore('contract'),
  cleanup: async () => {},
}));

describe('MemoryStore', () => {
  it('names itself with a mem:// URL', () => {
    expect(new MemoryStore('bench').url).toBe('mem://bench');
  });

  it('keeps separate instances apart', async () => {
    const a = new MemoryStore('same');
    const b = new MemoryStore('same');
    await a.putIfAbsent('k', Buffer.from('a'));
    expect(await b.head('k')).toBeUndefined();
  });

  it('gives a value written back a new version, so a stale swap still conflicts', async () => {
    const store = new MemoryStore();
    const v1 = await store.compareAndSwap('ref', undefined, Buffer.from('x'));
    const v2 = await store.compareAndSwap('ref', v1, Buffer.from('y'));
    const v3 = await store.compareAndSwap('ref', v2, Buffer.from('x'));
    expect(v3).not.toBe(v1);
    await expect(store.compareAndSwap('ref', v1, Buffer.from('z'))).rejects.toMatchObject({ code: 'CONFLICT' });
  });

  it('returns copies, so a caller cannot change stored bytes', async () => {
    const store = new MemoryStore();
    await store.putIfAbsent('k', Buffer.from('abc'));
    (await store.get('k')).fill(0);
    (await store.getRange('k', { offset: 0, length: 2 })).fill(0);
    (await store.readVersioned('k'))!.data.fill(0);
    expect((await store.get('k')).toString()).toBe('abc');
  });
});
