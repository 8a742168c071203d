import { spawn } from 'node:child_process';
import * as path from 'node:path';

// Specs run TypeScript sources; the child runs the compiled module (`tsc -b` runs before jest in `npm test`).
const MODULE = path.resolve(__dirname, '../../dist/process/exit-on-signals.js');

/** A process that calls exitOnSignals with `stop`'s body, says "ready", and is sent SIGTERM. */
async function stoppedBySigterm(stopBody: string): Promise<{ code: number | null; output: string }> {
  const script = [
    `const { exitOnSignals } = require(${JSON.stringify(MODULE)});`,
    `exitOnSignals((l) => console.log(l), async () => { ${stopBody} });`,
    "console.log('ready');",
    'setInterval(() => undefined, 1000);',
  ].join('\n');
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const onData = (d: Buffer) => {
    output += d.toString();
    if (output.startsWith('ready\n')) child.kill('SIGTERM');
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  return { code, output: output.replace(/^ready\n/, '') };
}

describe('exitOnSignals', () => {
  it('stops and exits 0 on SIGTERM', async () => {
    expect(await stoppedBySigterm('')).toEqual({ code: 0, output: 'SIGTERM: stopping\n' });
  });

  it('a stop that fails is one line and exit 1, never a stack trace', async () => {
    const r = await stoppedBySigterm("throw Object.assign(new Error('EACCES: permission denied, open /s/packs/x'), { code: 'EACCES' });");
    expect(r).toEqual({ code: 1, output: 'SIGTERM: stopping\nSIGTERM: stopped, but not cleanly: EACCES: permission denied, open /s/packs/x\n' });
  });
});
