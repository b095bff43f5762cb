// A temporary directory per test file, removed when the file's tests end.
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';

export interface Scratch {
  /** The directory itself (valid from the moment useScratch returns). */
  root(): string;
  /** A new path inside it that does not exist yet. */
  fresh(): string;
}

export function useScratch(name: string): Scratch {
  // Made now, not in a before() hook: Node 20's runner starts a file's
  // top-level before() hooks without waiting for one another, so a hook that
  // used root() could see '' and write into the working directory (it did:
  // test keys landed in the checkout's d1/).
  const root = mkdtempSync(join(tmpdir(), `shmsnap-${name}-`));
  let counter = 0;
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });
  return { root: () => root, fresh: () => join(root, `d${++counter}`) };
}
