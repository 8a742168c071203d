import { ObjectId, sha256 } from '@tributary/core';
import { MemoryStore } from '@tributary/storage';
import { ObjectDatabase } from '../objects/object-database';
import { RECORD_DELTA, RECORD_FULL } from '../packs/pack-format';
import { PackIndex } from '../packs/pack-index';
import { PackWriter } from '../packs/pack-writer';

/**
 * Golden vectors: fixed objects -> fixed pack and index bytes. If one of these fails, the on-store format changed
 * and every existing repository would become unreadable: bump the version instead.
 */
const HELLO = Buffer.from('hello\n');
const EMPTY = Buffer.alloc(0);
const TREE = Buffer.from('tree 1\n');
const TARGET = Buffer.from('hello\nworld\n');
/** Delta bytes are opaque to the pack format; these stand in for `encodeChunkDelta` output. */
const DELTA = Buffer.from('DELTA');

const ID = {
  hello: '5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03',
  empty: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  tree: 'd2f2a960df4c3a5b3fa08474cfe532896072e517c4b89ade2c1f145c507e487b',
  target: '4a1e67f2fe1d1cc7b31d0ca2ec441da4778203a036a77da10344c85e24ff0f92',
};

const PACK_FULL_RECORDS = [
  '545249425041434b' /* TRIBPACK */ + '00000001',
  '01' + ID.hello + '00000006' + '68656c6c6f0a',
  '01' + ID.empty + '00000000',
  '01' + ID.tree + '00000007' + '7472656520310a',
].join('');
const PACK = PACK_FULL_RECORDS + '02' + ID.target + '00000025' + ID.hello + '44454c5441';

const IDX = [
  '5452494249445831' /* TRIBIDX1 */ + '00000004',
  // id | payload offset (u64) | stored length | type | object size | depth, sorted by id
  ID.target + '00000000000000ad' + '00000025' + '02' + '0000000c' + '01',
  ID.hello + '0000000000000031' + '00000006' + '01' + '00000006' + '00',
  ID.tree + '0000000000000081' + '00000007' + '01' + '00000007' + '00',
  ID.empty + '000000000000005c' + '00000000' + '01' + '00000000' + '00',
  'b3ed9316efa9c10ef6546431e2ac57bd8f239115d9bf2e4d8d38ad93cbfa4836' /* sha256 of the above */,
].join('');

describe('pack format golden vectors', () => {
  it('fixed objects give fixed ids', () => {
    expect(sha256(HELLO)).toBe(ID.hello);
    expect(sha256(EMPTY)).toBe(ID.empty);
    expect(sha256(TREE)).toBe(ID.tree);
    expect(sha256(TARGET)).toBe(ID.target);
  });

  it('PackWriter writes the fixed pack and index bytes', async () => {
    const store = new MemoryStore();
    const w = PackWriter.open(store, `pack-${'0'.repeat(32)}`);
    for (const o of [HELLO, EMPTY, TREE]) await w.append(RECORD_FULL, sha256(o), [o], o.length, 0);
    await w.append(RECORD_DELTA, sha256(TARGET), [Buffer.from(ID.hello, 'hex'), DELTA], TARGET.length, 1);
    const done = await w.finish();
    expect(done.packKey).toBe(`packs/pack-${'0'.repeat(32)}.pack`);
    expect(done.idxKey).toBe(`packs/pack-${'0'.repeat(32)}.idx`);
    expect((await store.get(done.packKey)).toString('hex')).toBe(PACK);
    expect((await store.get(done.idxKey)).toString('hex')).toBe(IDX);
  });

  it('the fixed index decodes to the fixed entries', () => {
    const index = PackIndex.decode(Buffer.from(IDX, 'hex'), 'golden.idx');
    expect([...index.entries()]).toEqual([
      { id: ID.target, offset: 173, storedLength: 37, type: RECORD_DELTA, size: 12, depth: 1 },
      { id: ID.hello, offset: 49, storedLength: 6, type: RECORD_FULL, size: 6, depth: 0 },
      { id: ID.tree, offset: 129, storedLength: 7, type: RECORD_FULL, size: 7, depth: 0 },
      { id: ID.empty, offset: 92, storedLength: 0, type: RECORD_FULL, size: 0, depth: 0 },
    ]);
  });

  it('the object database writes the same bytes for the same puts', async () => {
    const store = new MemoryStore();
    const db = await ObjectDatabase.open(store);
    for (const o of [HELLO, EMPTY, TREE]) await db.put(o);
    await db.flush();
    const pack = db.packs()[0];
    expect((await store.get(pack.packKey)).toString('hex')).toBe(PACK_FULL_RECORDS);
    const fresh = await ObjectDatabase.open(store);
    expect((await fresh.get(ID.hello as ObjectId)).toString()).toBe('hello\n');
  });
});
