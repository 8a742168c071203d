import fc from 'fast-check';
import * as path from 'node:path';
import { splitRelativePath, validateEntryName, validateRefName } from './path-rules';

describe('path rules', () => {
  it('rejects the names a hostile tree would use', () => {
    for (const bad of ['', '.', '..', '.trib', 'a/b', 'a\\b', 'a\0b', 'x'.repeat(256)]) {
      expect(() => validateEntryName(bad)).toThrow(/unsafe path/);
    }
    for (const good of ['a.csv', '.tribignore', '..a', 'a..', ' spaced name ', 'ünï.csv', '.trib2']) {
      expect(() => validateEntryName(good)).not.toThrow();
    }
  });

  it('property: an accepted relative path never escapes its root', () => {
    const seg = fc.oneof(fc.constantFrom('.', '..', '.trib', '', 'a', 'b', '..a', '\\', '/'), fc.string({ maxLength: 4 }));
    fc.assert(
      fc.property(fc.array(seg, { minLength: 1, maxLength: 6 }), (segs) => {
        const p = segs.join('/');
        let parts: string[];
        try {
          parts = splitRelativePath(p);
        } catch {
          return true;
        }
        const root = '/srv/root';
        const resolved = path.resolve(root, ...parts);
        return resolved.startsWith(root + '/') && !parts.includes('.trib');
      }),
      { numRuns: 2000 },
    );
  });

  it('ref names: [A-Za-z0-9._/-], no "..", no leading "-" or "/", no trailing "/"', () => {
    for (const good of ['main', 'feature/x', 'v1.0', 'conflicts/eu-azure/12', 'topics/datasets/heart/na-aws']) {
      expect(() => validateRefName(good)).not.toThrow();
    }
    for (const bad of ['', '-x', '/x', 'x/', 'a..b', 'a b', 'a\\b', 'a//b', 'x.lock', 'ü']) {
      expect(() => validateRefName(bad)).toThrow(/invalid/);
    }
  });

  it('property: any accepted ref name matches the documented grammar', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 12 }), (s) => {
        try {
          validateRefName(s);
        } catch {
          return true;
        }
        return /^[A-Za-z0-9._/-]+$/.test(s) && !s.includes('..') && !s.startsWith('-') && !s.startsWith('/') && !s.endsWith('/');
      }),
      { numRuns: 5000 },
    );
  });
});
