import { promises as fs } from 'node:fs';
import * as path from 'node:path';

/** Whether `p` is `folder` or lies beneath it (paths as given: symlinks not resolved). */
export function isWithin(folder: string, p: string): boolean {
  const rel = path.relative(folder, p);
  return rel !== '..' && !rel.startsWith('..' + path.sep) && !path.isAbsolute(rel);
}

/** `p` with symlinks resolved as far as it exists (a folder about to be made may not exist yet). */
export async function realPathOf(p: string): Promise<string> {
  try {
    return await fs.realpath(p);
  } catch (e) {
    const parent = path.dirname(p);
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || parent === p) throw e;
    return path.join(await realPathOf(parent), path.basename(p));
  }
}
