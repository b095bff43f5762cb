// A temporary directory per test file, removed when the file's tests end.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';

export interface Scratch {
  /** The directory itself (valid once the tests run). */
  root(): string;
  /** A new path inside it that does not exist yet. */
  fresh(): string;
}

export function useScratch(name: string): Scratch {
  let root = '';
  let counter = 0;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), `shmsnap-${name}-`));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });
  return { root: () => root, fresh: () => join(root, `d${++counter}`) };
}
