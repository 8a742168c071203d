import { Commit, CommitId, encodeCommit, FileRef, ObjectSink, TreeId, writeFileContent, writeTreeFromPaths } from '@tributary/core';

/** Writes files (path -> bytes, any order) as a tree and a commit on top of `parents`; test-only. */
export async function commitFiles(
  sink: ObjectSink,
  files: Record<string, Buffer>,
  parents: CommitId[] = [],
  message = 'test',
): Promise<{ commit: CommitId; tree: TreeId; files: Map<string, FileRef> }> {
  const refs = new Map<string, FileRef>();
  const paths = Object.keys(files).sort(comparePathStrings);
  for (const p of paths) refs.set(p, await writeFileContent(sink, [files[p]]));
  const tree = await writeTreeFromPaths(
    sink,
    paths.map((p) => {
      const f = refs.get(p)!;
      return { path: p, entry: { kind: 'file' as const, executable: false, chunked: f.chunked, id: f.id, size: f.size } };
    }),
  );
  const c: Commit = { tree: tree.id, parents, author: 'test', time: '2026-11-24T00:00:00.000Z', message, annotations: {} };
  const commit = (await sink.put(encodeCommit(c))) as CommitId;
  return { commit, tree: tree.id, files: refs };
}

/** Orders paths component by component (the order writeTreeFromPaths wants). */
export function comparePathStrings(a: string, b: string): number {
  const pa = a.split('/');
  const pb = b.split('/');
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    if (pa[i] !== pb[i]) return Buffer.compare(Buffer.from(pa[i]), Buffer.from(pb[i]));
  }
  return pa.length - pb.length;
}

/** Deterministic pseudo-random bytes (xorshift), so chunk boundaries are realistic and reproducible. */
export function randomBytesSeeded(n: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}
