import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { ROOT, tempDir, trib } from './support/trib';

describe('README walk-through', () => {
  it('runs the trib commands the README shows, in the same order, and no others', () => {
    const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const block = /### The CLI walk-through[\s\S]*?```sh\n([\s\S]*?)```/.exec(readme)![1];
    const shown = block
      .split('\n')
      .flatMap((line) => line.replace(/\s+#.*$/, '').split('&&'))
      .map((c) => c.trim())
      .filter((c) => c.startsWith('trib '));
    const script = readFileSync(path.join(ROOT, 'scripts/walkthrough.sh'), 'utf8');
    const run = [...script.matchAll(/^step (trib .*)$/gm)].map((m) => m[1].trim());
    expect(shown.length).toBeGreaterThan(10);
    expect(run).toEqual(shown);
  });

  it('runs start to finish on the MIT-BIH sample and leaves a verified, tagged merge', () => {
    const t = tempDir();
    try {
      const r = spawnSync('bash', [path.join(ROOT, 'scripts/walkthrough.sh')], {
        env: { ...process.env, WALKTHROUGH_DIR: t.dir, TRIB_AUTHOR: 'Walk Through', CI: 'true' },
        encoding: 'utf8',
      });
      expect(r.stderr).toContain('checkout is byte-identical');
      expect(r.status).toBe(0);
      const repo = path.join(t.dir, 'heart');
      const show = JSON.parse(trib(repo, ['show', 'train-v1', '--json']).stdout);
      expect(show.parents).toHaveLength(2);
      expect(show.message).toBe('Merge PVC labels');
      const log = JSON.parse(trib(repo, ['log', '--json']).stdout);
      expect(log.map((c: { message: string }) => c.message)).toEqual([
        'Merge PVC labels',
        'More beats for record 100',
        "Cardiologists' PVC labels",
        'Five MIT-BIH records',
      ]);
    } finally {
      t.cleanup();
    }
  });
});
