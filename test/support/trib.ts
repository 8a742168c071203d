import { spawn, spawnSync, SpawnSyncOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

export const ROOT = path.resolve(__dirname, '../..');
export const TRIB = path.join(ROOT, 'bin/trib');

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs the real `bin/trib` in a child process, as a user would; `opts.runner` is a command that runs it in turn, such
 * as `setpriv` to run it as another user.
 */
export function trib(cwd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string; runner?: readonly string[] } = {}): RunResult {
  const o: SpawnSyncOptions = {
    cwd,
    env: { ...process.env, TRIB_AUTHOR: 'Test <test@example.org>', CI: 'true', ...opts.env },
    encoding: 'utf8',
    input: opts.input,
    maxBuffer: 256 * 1024 * 1024,
  };
  const [command, ...rest] = [...(opts.runner ?? []), process.execPath, TRIB, ...args];
  const r = spawnSync(command, rest, o);
  return { code: r.status ?? (r.signal ? 128 : -1), stdout: String(r.stdout), stderr: String(r.stderr) };
}

/** Like `trib` but fails the test with the command's stderr when the exit code is not `expect`. */
export function ok(cwd: string, args: string[], expect = 0, opts?: { env?: NodeJS.ProcessEnv }): RunResult {
  const r = trib(cwd, args, opts);
  if (r.code !== expect) throw new Error(`trib ${args.join(' ')} exited ${r.code}, wanted ${expect}\n${r.stderr}${r.stdout}`);
  return r;
}

export function lastLine(s: string): string {
  const lines = s.trim().split('\n');
  return lines[lines.length - 1];
}

export function tempDir(prefix = 'trib-test-'): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * `node ARGS` in a child process, without blocking this one; resolves with its exit code (128 when a signal ended
 * it) and everything it printed. The environment is this process's with `opts.env` on top.
 */
export function nodeAsync(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, args, { cwd: opts.cwd, env: { ...process.env, ...opts.env } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    p.on('error', reject);
    p.on('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : -1), stdout, stderr }));
  });
}

/**
 * `trib` without blocking this process: needed when the test itself hosts a server the CLI talks to (spawnSync would
 * freeze that server's event loop).
 */
export function tribAsync(cwd: string, args: string[], opts: { env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  return nodeAsync([TRIB, ...args], { cwd, env: { TRIB_AUTHOR: 'Test <test@example.org>', CI: 'true', ...opts.env } });
}

export async function okAsync(cwd: string, args: string[], expect = 0, opts?: { env?: NodeJS.ProcessEnv }): Promise<RunResult> {
  const r = await tribAsync(cwd, args, opts);
  if (r.code !== expect) throw new Error(`trib ${args.join(' ')} exited ${r.code}, wanted ${expect}\n${r.stderr}${r.stdout}`);
  return r;
}

/** `trib init` of `parent/name`, then `count` commits each adding `batch-<i>.bin` of `bytes` random bytes; the repo and the commit ids in order. */
export function repoWithRandomBatches(parent: string, name: string, count: number, bytes: number): { dir: string; heads: string[] } {
  const dir = path.join(parent, name);
  ok(parent, ['init', dir]);
  const heads: string[] = [];
  for (let i = 0; i < count; i++) {
    writeFileSync(path.join(dir, `batch-${i}.bin`), randomBytes(bytes));
    heads.push(lastLine(ok(dir, ['commit', '-m', `batch ${i}`]).stdout));
  }
  return { dir, heads };
}

/**
 * A runner for `trib` (or an app) under which permissions apply: none for a user who is not root; for root (whom
 * chmod does not stop), `setpriv` dropping the capabilities that let root past file modes (and past a sticky folder's
 * hold on other users' files), so root is held to them as the owner of the test's folders. (Not a switch to user nobody: a clone in a 0700 folder, as CI's is, is closed to
 * nobody.) Undefined when that cannot run trib here.
 */
export const UNPRIVILEGED: readonly string[] | undefined = (() => {
  if (process.getuid?.() !== 0) return [];
  const runner = ['setpriv', '--bounding-set', '-dac_override,-dac_read_search,-fowner'];
  const r = spawnSync(runner[0], [...runner.slice(1), process.execPath, TRIB, '--version'], { encoding: 'utf8' });
  return r.status === 0 ? runner : undefined;
})();
