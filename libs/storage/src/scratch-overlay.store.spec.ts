import { MemoryStore } from './memory.store';
import { ScratchOverlayStore } from './scratch-overlay.store';

async function keys(store: { list(prefix: string): AsyncIterable<{ key: string }> }, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for await (const info of store.list(prefix)) out.push(info.key);
  return out.sort();
}

describe('ScratchOverlayStore', () => {
  let base: MemoryStore;
  let scratch: MemoryStore;
  let overlay: ScratchOverlayStore;
  beforeEach(async () => {
    base = new MemoryStore('mem://base');
    scratch = new MemoryStore('mem://scratch');
    await base.putIfAbsent('packs/old.pack', Buffer.from('old pack'));
    await base.compareAndSwap('refs/heads/main', undefined, Buffer.from('c1'));
    overlay = new ScratchOverlayStore(base, scratch);
  });

  it('writes new objects to scratch only, and reads them back through the overlay', async () => {
    await overlay.putIfAbsent('packs/new.pack', Buffer.from('new pack'));
    expect(await keys(base)).toEqual(['packs/old.pack', 'refs/heads/main']);
    expect(await keys(scratch)).toEqual(['packs/new.pack']);
    expect((await overlay.get('packs/new.pack')).toString()).toBe('new pack');
    expect((await overlay.getRange('packs/new.pack', { offset: 4, length: 4 })).toString()).toBe('pack');
    expect((await overlay.get('packs/old.pack')).toString()).toBe('old pack');
    expect(await overlay.head('packs/new.pack')).toMatchObject({ size: 8 });
    expect(await keys(overlay, 'packs/')).toEqual(['packs/new.pack', 'packs/old.pack']);
  });

  it('keeps create-if-absent across both stores', async () => {
    await expect(overlay.putIfAbsent('packs/old.pack', Buffer.from('other'))).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
    await overlay.putIfAbsent('packs/new.pack', Buffer.from('one'));
    await expect(overlay.putIfAbsent('packs/new.pack', Buffer.from('two'))).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
    expect(await keys(scratch)).toEqual(['packs/new.pack']);
  });

  it('reads refs from the store and refuses to change them or to delete what the store holds', async () => {
    expect((await overlay.readVersioned('refs/heads/main'))?.data.toString()).toBe('c1');
    const { version } = (await base.readVersioned('refs/heads/main'))!;
    await expect(overlay.compareAndSwap('refs/heads/main', version, Buffer.from('c2'))).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
    await expect(overlay.deleteVersioned('refs/heads/main', version)).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
    await overlay.delete('packs/old.pack');
    expect((await base.readVersioned('refs/heads/main'))?.data.toString()).toBe('c1');
    expect(await keys(base)).toEqual(['packs/old.pack', 'refs/heads/main']);
  });

  it('says NotFound for a key neither holds', async () => {
    await expect(overlay.get('packs/none.pack')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(await overlay.head('packs/none.pack')).toBeUndefined();
  });
});
