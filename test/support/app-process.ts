import { ChildProcess, spawn } from 'node:child_process';
import * as path from 'node:path';
import { ROOT } from './trib';

export interface AppProcess {
  readonly proc: ChildProcess;
  /** `host:port` from the app's `listening on HOST:PORT` line. */
  readonly address: string;
  /** Everything the app printed so far (stdout and stderr). */
  output(): string;
  /** Resolves when a line matching `re` has been printed. */
  waitFor(re: RegExp, timeoutMs?: number): Promise<string>;
  /** Signals the process and resolves its exit code; SIGKILL follows after `graceMs` (default 5 s). */
  kill(signal?: NodeJS.Signals, graceMs?: number): Promise<number | null>;
}

/**
 * Starts `apps/<name>/dist/main.js` as its own process, as `npm run start:<name>` would (or through that script
 * itself with `viaNpm`, `proc` then being npm, leading a process group of its own), and waits for its `listening on HOST:PORT` line. Tests must call
 * kill() in a finally/afterEach.
 */
export async function startApp(
  name: 'broker' | 'hub' | 'edge-agent',
  env: NodeJS.ProcessEnv,
  timeoutMs = 20_000,
  opts: { viaNpm?: boolean; cwd?: string } = {},
): Promise<AppProcess> {
  const [command, args] = opts.viaNpm ? ['npm', ['run', '--silent', `start:${name}`]] : [process.execPath, [path.join(ROOT, `apps/${name}/dist/main.js`)]];
  const proc = spawn(command, args, {
    cwd: opts.cwd ?? ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: opts.viaNpm === true,
  });
  let out = '';
  const waiters: { re: RegExp; resolve(line: string): void }[] = [];
  const onData = (d: Buffer) => {
    out += d.toString('utf8');
    for (const w of [...waiters]) {
      const m = w.re.exec(out);
      if (m) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m[0]);
      }
    }
  };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  const waitFor = (re: RegExp, ms = timeoutMs) =>
    new Promise<string>((resolve, reject) => {
      const m = re.exec(out);
      if (m) return resolve(m[0]);
      const timer = setTimeout(() => reject(new Error(`${name} did not print ${re} within ${ms} ms:\n${out}`)), ms);
      waiters.push({ re, resolve: (l) => (clearTimeout(timer), resolve(l)) });
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`${name} exited with ${code} before printing ${re}:\n${out}`));
      });
    });
  const line = await waitFor(/listening on (\S+:\d+)/).catch((e) => {
    proc.kill('SIGKILL');
    throw e;
  });
  return {
    proc,
    address: /listening on (\S+:\d+)/.exec(line)![1].replace(/[;,]$/, ''),
    output: () => out,
    waitFor,
    async kill(signal: NodeJS.Signals = 'SIGTERM', graceMs = 5000) {
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
      proc.kill(signal);
      const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}
