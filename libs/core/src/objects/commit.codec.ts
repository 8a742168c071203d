import { IntegrityError, InvalidArgumentError } from '../errors/trib-error';
import { sha256 } from '../hashing/sha256';
import { CommitId, isObjectId, ObjectId, TagId } from '../ids/ids';
import { Annotations, Commit, Tag } from './object-types';

/** The first bytes of every commit, and of every tag. */
export const COMMIT_HEADER = 'commit 1\n';
export const TAG_HEADER = 'tag 1\n';
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

function sortedAnnotations(a: Annotations): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(a).sort()) {
    if (typeof a[k] !== 'string') throw new InvalidArgumentError(`annotation ${k} must be a string`);
    out[k] = a[k];
  }
  return out;
}

/** True when `text` holds a control character (a newline, a tab, NUL...): it would not print as one line. */
export function hasControlCharacters(text: string): boolean {
  return /[\x00-\x1f\x7f]/.test(text);
}

/** Canonical bytes of a commit: fixed key order, annotations sorted by key. */
export function encodeCommit(c: Commit): Buffer {
  if (!isObjectId(c.tree)) throw new InvalidArgumentError(`bad tree id ${c.tree}`);
  for (const p of c.parents) if (!isObjectId(p)) throw new InvalidArgumentError(`bad parent id ${p}`);
  if (!ISO_UTC.test(c.time)) throw new InvalidArgumentError(`commit time must be UTC ISO 8601: ${c.time}`);
  // One line, as every log shows it: a newline in it could pass for more lines of the log.
  if (hasControlCharacters(c.author)) {
    throw new InvalidArgumentError(`author ${JSON.stringify(c.author)} holds a control character (a newline?)`);
  }
  const body = JSON.stringify({
    tree: c.tree,
    parents: [...c.parents],
    author: c.author,
    time: c.time,
    message: c.message,
    annotations: sortedAnnotations(c.annotations),
  });
  return Buffer.from(COMMIT_HEADER + body, 'utf8');
}

export function decodeCommit(bytes: Buffer, id?: ObjectId): Commit {
  const text = bytes.toString('utf8');
  if (!text.startsWith(COMMIT_HEADER)) throw new IntegrityError(`object ${id ?? ''} is not a commit`.trim(), { id });
  let v: any;
  try {
    v = JSON.parse(text.slice(COMMIT_HEADER.length));
  } catch {
    throw new IntegrityError(`commit ${id ?? ''} is malformed`.trim(), { id });
  }
  const ok =
    v && isObjectId(v.tree) && Array.isArray(v.parents) && v.parents.every((p: unknown) => typeof p === 'string' && isObjectId(p)) &&
    typeof v.author === 'string' && typeof v.time === 'string' && typeof v.message === 'string' &&
    v.annotations && typeof v.annotations === 'object' && Object.values(v.annotations).every((x) => typeof x === 'string');
  if (!ok) throw new IntegrityError(`commit ${id ?? ''} is malformed`.trim(), { id });
  const c: Commit = { tree: v.tree, parents: v.parents, author: v.author, time: v.time, message: v.message, annotations: v.annotations };
  requireCanonical(bytes, () => encodeCommit(c), 'commit', id);
  return c;
}

/**
 * Refuses an object that is not the bytes its own encoder makes of what it holds: such bytes come only from another
 * writer (a peer's publish), and may hold what the encoder refuses (an author with a newline, to forge log lines; a
 * time that is no time) or fields no reader knows.
 */
function requireCanonical(bytes: Buffer, encode: () => Buffer, kind: string, id: ObjectId | undefined): void {
  let canonical: Buffer | undefined;
  try {
    canonical = encode();
  } catch (e) {
    throw new IntegrityError(`${kind} ${id ?? ''} is malformed: ${(e as Error).message}`.replace(/  +/, ' '), { id });
  }
  if (!canonical.equals(bytes)) throw new IntegrityError(`${kind} ${id ?? ''} is not in canonical form`.replace(/  +/, ' '), { id });
}

export function commitId(c: Commit): CommitId {
  return sha256(encodeCommit(c));
}

export function isCommitBytes(bytes: Buffer): boolean {
  return bytes.subarray(0, COMMIT_HEADER.length).toString('latin1') === COMMIT_HEADER;
}

export function encodeTag(t: Tag): Buffer {
  if (!isObjectId(t.object)) throw new InvalidArgumentError(`bad tagged id ${t.object}`);
  if (!ISO_UTC.test(t.time)) throw new InvalidArgumentError(`tag time must be UTC ISO 8601: ${t.time}`);
  const body = JSON.stringify({
    object: t.object,
    name: t.name,
    tagger: t.tagger,
    time: t.time,
    message: t.message,
    annotations: sortedAnnotations(t.annotations),
  });
  return Buffer.from(TAG_HEADER + body, 'utf8');
}

export function decodeTag(bytes: Buffer, id?: ObjectId): Tag {
  const text = bytes.toString('utf8');
  if (!text.startsWith(TAG_HEADER)) throw new IntegrityError(`object ${id ?? ''} is not a tag`.trim(), { id });
  let v: any;
  try {
    v = JSON.parse(text.slice(TAG_HEADER.length));
  } catch {
    throw new IntegrityError(`tag ${id ?? ''} is malformed`.trim(), { id });
  }
  if (!v || !isObjectId(v.object) || typeof v.name !== 'string' || typeof v.message !== 'string') {
    throw new IntegrityError(`tag ${id ?? ''} is malformed`.trim(), { id });
  }
  return { object: v.object, name: v.name, tagger: v.tagger, time: v.time, message: v.message, annotations: v.annotations ?? {} };
}

export function isTagBytes(bytes: Buffer): boolean {
  return bytes.subarray(0, TAG_HEADER.length).toString('latin1') === TAG_HEADER;
}

export function tagId(t: Tag): TagId {
  return sha256(encodeTag(t));
}
