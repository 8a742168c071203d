import { mkdirSync, mkdtempSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { CommitId, ObjectId, readTree, TreeEntry } from '@tributary/core';
import { commitWorktree, Repository } from '@tributary/repository';
import { LocalStore, ObjectInfo } from '@tributary/storage';
import { startBroker, RunningBroker } from '../broker/start-broker';
import type { SyncServiceClient } from '../generated/tributary/v1/SyncService';
import { CHANNEL_OPTIONS } from '../wire/grpc-options';
import { loadTributaryProto } from '../wire/proto-loader';

/** Test-only helpers for the sync integration tests (test/sync-*.test.ts). Exported from no index. */

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

export interface TempDir {
  readonly dir: string;
  cleanup(): void;
}

export function tempDir(prefix = 'trib-sync-'): TempDir {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A broker on a fresh LocalStore under `dir`, listening on a free loopback port. */
export async function startTestBroker(
  storeDir: string,
  opts: { redisUrl?: string; pollMs?: number } = {},
): Promise<RunningBroker & { store: LocalStore }> {
  const store = await LocalStore.open(storeDir, { create: true });
  const log = process.env.TRIB_TEST_BROKER_LOG ? (level: string, msg: string) => process.stderr.write(`[broker ${level}] ${msg}\n`) : undefined;
  const broker = await startBroker({ store, redisUrl: opts.redisUrl ?? REDIS_URL, listen: '127.0.0.1:0', pollMs: opts.pollMs ?? 200, log });
  return Object.assign(broker, { store });
}

/** Every key in a store with its size, sorted: to show that an operation stored nothing. */
export async function storeKeys(store: LocalStore): Promise<string[]> {
  const out: string[] = [];
  for await (const info of store.list('') as AsyncIterable<ObjectInfo>) out.push(`${info.key}:${info.size}`);
  return out.sort();
}

export async function newRepo(dir: string): Promise<Repository> {
  mkdirSync(dir, { recursive: true });
  return Repository.init(dir);
}

/** Writes `files` (relative path -> content) into the working tree and commits; returns the new commit. */
export async function commitFiles(repo: Repository, files: Record<string, string | Buffer>, message = 'batch'): Promise<CommitId> {
  for (const [p, content] of Object.entries(files)) {
    const full = path.join(repo.workdir, p);
    mkdirSync(path.dirname(full), { recursive: true });
    writeFileSync(full, content);
  }
  const out = await commitWorktree(repo, { message, author: 'test', now: new Date() });
  if (!out.commit) throw new Error('nothing to commit');
  return out.commit;
}

/** Appends to files and commits. */
export async function appendAndCommit(repo: Repository, files: Record<string, string | Buffer>, message = 'append'): Promise<CommitId> {
  for (const [p, content] of Object.entries(files)) appendFileSync(path.join(repo.workdir, p), content);
  const out = await commitWorktree(repo, { message, author: 'test', now: new Date() });
  if (!out.commit) throw new Error('nothing to commit');
  return out.commit;
}

/** Top-level entries of a commit's tree, by name. */
export async function treeOf(repo: Repository, commit: CommitId): Promise<Record<string, TreeEntry>> {
  const out: Record<string, TreeEntry> = {};
  for await (const e of readTree(repo.objects, (await repo.readCommit(commit)).tree)) out[e.name] = e;
  return out;
}

/** A raw SyncService client, for driving the protocol by hand. */
export function rawSyncClient(address: string, options: grpc.ChannelOptions = CHANNEL_OPTIONS): SyncServiceClient {
  return new (loadTributaryProto().tributary.v1.SyncService)(address, grpc.credentials.createInsecure(), options);
}

/** Resolves with the status a call ends with (code and details). */
export function callStatus(call: NodeJS.EventEmitter): Promise<grpc.StatusObject> {
  return new Promise((resolve) => {
    call.on('error', () => undefined);
    call.on('status', (s: grpc.StatusObject) => resolve(s));
  });
}

/** CSV-ish rows of pseudo-random digits, `bytes` long: realistic for chunking, cheap to make. */
export function rows(bytes: number, seed: number): string {
  let x = seed >>> 0 || 7;
  const lines: string[] = [];
  let total = 0;
  while (total < bytes) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    const line = `${x},${(x >>> 8) % 1000},${(x >>> 3) % 97},${x.toString(36)}\n`;
    lines.push(line);
    total += line.length;
  }
  return lines.join('').slice(0, bytes);
}

export function hexToWire(id: ObjectId): Buffer {
  return Buffer.from(id, 'hex');
}
