import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { nodeAsync, ok, TRIB, tempDir } from './support/trib';

/**
 * The chunker's hot loop stays optimized through a commit. Without the priming in fastcdc.ts, V8 deoptimized
 * `scan` over and over in the commit's chunking workers (measured here: 15 to 27 times for two 16 MiB files; none
 * with it), each time running the loop in the interpreter for a while. Counted from V8's own trace, not timed.
 */
describe('trib commit, as V8 runs the chunker', () => {
  const t = tempDir('trib-jit-');
  afterAll(() => t.cleanup());

  it('does not deoptimize the content-defined chunking loop over and over', async () => {
    const dir = path.join(t.dir, 'repo');
    ok(t.dir, ['init', dir]);
    for (const name of ['a.bin', 'b.bin']) writeFileSync(path.join(dir, name), randomBytes(16 * 1024 * 1024));
    const args = ['--trace-opt', '--trace-deopt', TRIB, 'commit', '-m', 'two files'];
    const env = { CI: '1', TRIB_AUTHOR: 'Test <test@example.org>' };
    const { code, stdout, stderr } = await nodeAsync(args, { cwd: dir, env });
    if (code !== 0) throw new Error(`commit exited ${code}: ${stderr}`);
    // V8 writes its trace to stdout, the workers' included; a flag it did not know would show on stderr.
    expect(stderr).not.toMatch(/unrecognized flag/);
    const lines = stdout.split('\n');
    // The trace is on and the loop was optimized at all...
    expect(lines.some((l) => /completed (compiling|optimizing) .*<JSFunction scan /.test(l))).toBe(true);
    // ...and it stayed so.
    expect(lines.filter((l) => /deoptimizing .*<JSFunction scan /.test(l)).length).toBeLessThanOrEqual(2);
  });
});
