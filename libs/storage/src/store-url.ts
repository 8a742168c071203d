import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { InvalidArgumentError, NotFoundError, UnavailableError } from '@tributary/core';
import { LocalStore } from './local.store';
import { MemoryStore } from './memory.store';
import { ObjectStore } from './object-store.port';
import { validateStoreKey } from './store-keys';
import { beforeDeadline } from './cloud/deadline';

/** Where a store lives, parsed from its URL. `url` is the normalized form. */
export type StoreLocation =
  | { readonly scheme: 'file'; readonly url: string; readonly path: string }
  | { readonly scheme: 'mem'; readonly url: string; readonly name: string }
  | {
      readonly scheme: 's3' | 'gs' | 'az';
      readonly url: string;
      /** Bucket (s3, gs) or container (az). */
      readonly bucket: string;
      /** Key prefix inside the bucket, without leading or trailing `/`; may be empty. */
      readonly prefix: string;
      /** Query parameters, such as an emulator endpoint override. */
      readonly params: Readonly<Record<string, string>>;
    };

const FORMS = 'file:///absolute/path, mem://name, s3://bucket/prefix, gs://bucket/prefix or az://container/prefix';
/** The forms a user may give (mem:// is for tests within one process). */
const DURABLE_FORMS = 'file:///absolute/path, s3://bucket/prefix, gs://bucket/prefix or az://container/prefix';
const NAME = /^[A-Za-z0-9._-]+$/;
const BUCKET = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/**
 * Parses a storage URL: `file:///absolute/path` (a bare absolute path is taken as one), `mem://name`,
 * `s3://bucket/prefix`, `gs://bucket/prefix`, `az://container/prefix`. The scheme may be in any case (RFC 3986), and
 * a trailing `/` is no part of a path or prefix: `url` is the normal form, lower-case scheme and no trailing `/`, so
 * two spellings of one store compare equal. Throws InvalidArgumentError naming the URL and the accepted forms.
 */
export function parseStoreUrl(url: string): StoreLocation {
  return parseLocation(url, FORMS);
}

/** parseStoreUrl, its messages listing `forms` as the accepted ones. */
function parseLocation(url: string, forms: string): StoreLocation {
  if (path.isAbsolute(url) && !url.includes('://')) {
    const abs = path.resolve(url);
    return { scheme: 'file', url: pathToFileURL(abs).href, path: abs };
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw bad(url, `expected ${forms}`);
  }
  if (parsed.username || parsed.password) throw bad(url, 'credentials do not belong in a store URL');
  const scheme = parsed.protocol.slice(0, -1);
  switch (scheme) {
    case 'file': {
      if (parsed.search || parsed.hash) throw bad(url, 'a file URL takes no query or fragment');
      // URL parsing reads `file:relative` and `file://relative` as paths from the root: a store somewhere else.
      if (!/^file:\/\/(localhost)?\//i.test(url)) throw bad(url, 'expected file:///absolute/path');
      let abs: string;
      try {
        abs = path.resolve(fileURLToPath(parsed));
      } catch {
        throw bad(url, 'expected file:///absolute/path');
      }
      if (abs.includes('\0')) throw bad(url, 'a path holds no NUL character');
      return { scheme, url: pathToFileURL(abs).href, path: abs };
    }
    case 'mem': {
      const name = parsed.host;
      if (!NAME.test(name) || parsed.pathname !== '' || parsed.search || parsed.hash) {
        throw bad(url, 'expected mem://name with a name of [A-Za-z0-9._-]');
      }
      return { scheme, url: `mem://${name}`, name };
    }
    case 's3':
    case 'gs':
    case 'az': {
      const bucket = parsed.host;
      const holder = scheme === 'az' ? 'container' : 'bucket';
      if (!BUCKET.test(bucket)) throw bad(url, `expected ${scheme}://${holder}/prefix`);
      if (parsed.hash) throw bad(url, 'a store URL takes no fragment');
      // The raw path, because URL parsing would quietly resolve `.` and `..` segments.
      const rawPath = url.slice(url.indexOf('://') + 3).split(/[?#]/)[0];
      const tail = rawPath.slice(rawPath.indexOf('/') + 1 || rawPath.length);
      const prefix = tail.replace(/\/$/, '');
      // `s3://bucket//`: the one segment there is empty.
      if (prefix !== '' || tail === '/') {
        try {
          validateStoreKey(prefix);
        } catch {
          throw bad(url, 'the prefix must be /-separated segments of [A-Za-z0-9._-], none empty, . or ..');
        }
      }
      const params = Object.fromEntries(parsed.searchParams);
      const normalized = `${scheme}://${bucket}${prefix ? `/${prefix}` : ''}${parsed.search}`;
      return { scheme, url: normalized, bucket, prefix, params };
    }
    default:
      throw bad(url, `unknown scheme ${JSON.stringify(scheme)}, expected ${forms}`);
  }
}

/**
 * parseStoreUrl for a store that must outlive the process (a repository, an app's store): mem:// is refused, since
 * its data would be gone when the process ends. Throws InvalidArgumentError.
 */
export function parseDurableStoreUrl(url: string): StoreLocation {
  const location = parseLocation(url, DURABLE_FORMS);
  if (location.scheme === 'mem') {
    throw new InvalidArgumentError('a mem:// store lives only as long as one process; use file://, s3://, gs:// or az://', { url });
  }
  return location;
}

export interface OpenStoreOptions {
  /** Create the store if missing (only `trib init` passes it). */
  readonly create?: boolean;
  /** How long a cloud store may take to open (default OPEN_DEADLINE_MS). */
  readonly openTimeoutMs?: number;
}

/**
 * The longest a cloud store may take to open. An endpoint that accepts connections and never answers would
 * otherwise hold a command for each SDK's whole retry budget: 30 s for S3, 96 s for GCS, three minutes for Azure.
 */
export const OPEN_DEADLINE_MS = 10_000;

const memoryStores = new Map<string, MemoryStore>();

/**
 * Opens the store at `url` (see parseStoreUrl). A missing store is a NotFoundError naming the URL, unless
 * `create` is set, which creates it (a directory for file://, a process-wide named store for mem://, shared by
 * every later open of the same name). Throws InvalidArgumentError for a malformed URL or a scheme whose adapter
 * is not available yet.
 */
export async function openStore(url: string, opts: OpenStoreOptions = {}): Promise<ObjectStore> {
  const location = parseStoreUrl(url);
  switch (location.scheme) {
    case 'file':
      return LocalStore.open(location.path, { create: opts.create });
    case 'mem': {
      let store = memoryStores.get(location.name);
      if (!store) {
        if (!opts.create) throw new NotFoundError(`no store at ${location.url}`, { url: location.url });
        store = new MemoryStore(location.name);
        memoryStores.set(location.name, store);
      }
      return store;
    }
    // Each cloud SDK loads only when a store of its kind is opened, so local commands keep a fast start-up.
    case 's3': {
      const { S3Store } = await import('./s3.store');
      return withinDeadline(location.url, opts, S3Store.open(url, { create: opts.create }));
    }
    case 'gs': {
      const { GcsStore } = await import('./gcs.store');
      return withinDeadline(location.url, opts, GcsStore.open(url, { create: opts.create }));
    }
    case 'az': {
      const { AzureBlobStore } = await import('./azure.store');
      return withinDeadline(location.url, opts, AzureBlobStore.open(url, { create: opts.create }));
    }
  }
}

/** `opening`, unless it takes longer than the deadline: then UnavailableError naming the URL (a late store is closed). */
function withinDeadline(url: string, opts: OpenStoreOptions, opening: Promise<ObjectStore>): Promise<ObjectStore> {
  const ms = opts.openTimeoutMs ?? OPEN_DEADLINE_MS;
  const late = () => new UnavailableError(`cannot open store ${url}: no answer from its endpoint within ${ms / 1000} s`, { url });
  return beforeDeadline(opening, ms, late, (store) => void store.close());
}

function bad(url: string, why: string): InvalidArgumentError {
  return new InvalidArgumentError(`bad store URL ${JSON.stringify(url)}: ${why}`, { url });
}
