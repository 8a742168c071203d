import { Stats, statSync } from 'node:fs';
import * as path from 'node:path';
import { hasControlCharacters, isSubscriberName, SUBSCRIBER_NAME_RULE, TOPIC_NAME_RULE, topicNameProblem } from '@tributary/core';
import { parseDurableStoreUrl } from '@tributary/storage';

/** `HOST:PORT` with a port in 0..65535 (0 picks a free port). */
export function hostPort(raw: string): { host: string; port: number; address: string } {
  const m = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(raw);
  if (!m) throw new Error('expected HOST:PORT, such as 127.0.0.1:7070');
  const port = Number(m[2]);
  if (port > 65535) throw new Error('port must be 0..65535');
  return { host: m[1], port, address: raw };
}

/** A HOST:PORT to connect to: as hostPort, but port 0 (which only a listener may ask for) is refused. */
export function peerHostPort(raw: string): { host: string; port: number; address: string } {
  const hp = hostPort(raw);
  if (hp.port === 0) throw new Error('port must be 1..65535 (0 only means "any" for a listener)');
  return hp;
}

/**
 * A redis:// or rediss:// URL whose database, if it names one (the path, or a `db` parameter as ioredis reads it), is
 * decimal digits. Whether Redis has that database only Redis can say: BrokerContext.open asks it at start-up.
 */
export function redisUrl(raw: string): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new Error('expected a URL such as redis://127.0.0.1:6379');
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new Error('expected a redis:// or rediss:// URL');
  // ioredis reads the database with parseInt: "abc" is NaN, whose SELECT fails uncaught, and "1.5" is database 1.
  if (!/^(\/\d*)?$/.test(u.pathname) || u.searchParams.getAll('db').some((db) => !/^\d+$/.test(db))) {
    throw new Error('expected the database, if any, as a whole number, such as redis://127.0.0.1:6379/1');
  }
  return raw;
}

/**
 * A storage URL, checked as the store will read it (parseDurableStoreUrl): file:///path (or a bare path),
 * s3://bucket/prefix, gs://bucket/prefix, az://container/prefix. Returns its normal form, a local path made absolute
 * against the working folder, as every folder variable is.
 */
export function storeUrl(raw: string): string {
  return parseDurableStoreUrl(relativeStoreResolved(raw)).url;
}

/**
 * A store given as a folder relative to `cwd` (`./x`, `../x`, `.`) made absolute; any other form as it is. A bare
 * relative path (`tributary/na-aws`) is refused (Error): it may be a cloud URL missing its scheme, and a local store
 * would be made there (by the apps, or `trib init`).
 */
export function relativeStoreResolved(raw: string, cwd = process.cwd()): string {
  if (/^\.\.?(\/|$)/.test(raw)) return path.resolve(cwd, raw);
  if (!path.isAbsolute(raw) && !raw.includes(':')) throw new Error(bareRelativeStore(raw));
  return raw;
}

/**
 * Why a relative store path without ./ or ../ is refused. It suggests ./RAW and s3://RAW only where each is a fix:
 * ./RAW only for a plausible folder name (`.\x` is a Windows path, and with a control character or a backslash
 * s3://RAW is no store URL either), s3://RAW only when the store reads it as just that URL (not `st3/` as
 * s3://st3, `x#y` refused, nor a tab that URL parsing drops).
 */
function bareRelativeStore(raw: string): string {
  const folder = raw !== '' && !hasControlCharacters(raw) && !raw.includes('\\');
  if (!folder) return 'a relative folder starts with ./ or ../; a cloud store needs its scheme (s3://, gs://, az://)';
  const url = `s3://${raw}`;
  let cloud: boolean;
  try {
    cloud = parseDurableStoreUrl(url).url === url;
  } catch {
    cloud = false;
  }
  return `expected ./${raw} for a folder (a relative path starts with ./ or ../), or a URL with its scheme${cloud ? `, such as ${url}` : ' (s3://, gs://, az://)'}`;
}

/** A name that is also one segment of a topic or ref (a region, a dataset). */
export function simpleName(raw: string): string {
  if (!/^[a-z0-9][a-z0-9._-]{0,62}$/.test(raw)) {
    throw new Error('expected 1 to 63 lowercase letters, digits, ".", "_" or "-", the first a letter or digit');
  }
  // As in a ref name (validateRefName), which a topic built from it must be.
  if (raw.includes('..') || raw.endsWith('.lock')) throw new Error('a name may not contain ".." nor end in ".lock"');
  return raw;
}

/** A subscriber name (TRIB_NAME): the one rule the CLI and the broker apply too. */
export function subscriberName(raw: string): string {
  if (!isSubscriberName(raw)) throw new Error(`expected ${SUBSCRIBER_NAME_RULE}`);
  return raw;
}

/** Topic names, by the one rule (TOPIC_NAME_RULE). */
export function topicName(raw: string): string {
  const problem = topicNameProblem(raw);
  if (problem !== undefined) throw new Error(`${problem}; ${TOPIC_NAME_RULE}`);
  return raw;
}

export function list<T>(item: (raw: string) => T): (raw: string) => T[] {
  return (raw) => {
    const parts = raw.split(',').map((s) => s.trim()).filter(Boolean);
    if (parts.length === 0) throw new Error('expected a comma-separated list');
    return parts.map((p, i) => {
      try {
        return item(p);
      } catch (e) {
        throw new Error(`item ${i + 1} (${JSON.stringify(p)}): ${(e as Error).message}`);
      }
    });
  };
}

export function oneOf<T extends string>(...values: T[]): (raw: string) => T {
  return (raw) => {
    if (!(values as string[]).includes(raw)) throw new Error(`expected one of ${values.join(', ')}`);
    return raw as T;
  };
}

/** A whole number of milliseconds from 0 to `max`. */
export function milliseconds(max: number): (raw: string) => number {
  return (raw) => {
    if (!/^\d{1,10}$/.test(raw) || Number(raw) > max) throw new Error(`expected a whole number of milliseconds from 0 to ${max}`);
    return Number(raw);
  };
}

/** A commit author, as one line: '' for the process's own default. */
export function author(raw: string): string {
  const name = raw.trim();
  if (hasControlCharacters(name)) throw new Error('expected one line, without control characters');
  return name;
}

export function text(raw: string): string {
  return raw;
}

/**
 * A folder a process uses, created later if absent: '' for none. What is there already, or the nearest parent that
 * is, must be a folder. Returns it absolute: a relative path is resolved once, here, against the working folder.
 */
export function folderPath(raw: string): string {
  if (raw === '') return '';
  const abs = path.resolve(raw);
  for (let p = abs; ; p = path.dirname(p)) {
    const st = statOrMissing(p);
    if (st) {
      if (!st.isDirectory()) throw new Error(p === abs ? 'not a folder' : `${p} is not a folder`);
      return abs;
    }
    if (path.dirname(p) === p) return abs;
  }
}

/** `stat`, or undefined when nothing is there (a file on the way, ENOTDIR, counts as nothing there). */
function statOrMissing(p: string): Stats | undefined {
  try {
    return statSync(p, { throwIfNoEntry: false });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    throw e;
  }
}
