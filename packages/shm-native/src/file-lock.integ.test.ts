// The addon's flock under core's host lock, on the real kernel: a second
// open file of the same lock is refused (naming this pid), closing the
// first lets the next one in, and a child process killed with SIGKILL
// while holding it leaves nothing behind that blocks.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { acquireInstanceLock, isShmsnapError } from '@shmsnap/core';
import { loadFileLock } from './file-lock.js';

const lockDir = mkdtempSync(join(tmpdir(), 'shmsnap-file-lock-'));
after(() => rmSync(lockDir, { recursive: true, force: true }));

describe('flock through the addon', () => {
  it('refuses a second holder, and lets the next in once the first closed its file', () => {
    const tryLock = loadFileLock();
    const first = acquireInstanceLock(4, { lockDir, tryLock });
    assert.throws(
      () => acquireInstanceLock(4, { lockDir, tryLock }),
      (error: unknown) => isShmsnapError(error, 'INSTANCE_LOCKED') && error.details.pid === process.pid && error.message.includes(first.path),
    );
    acquireInstanceLock(5, { lockDir, tryLock }).release();
    first.release();
    acquireInstanceLock(4, { lockDir, tryLock }).release();
  });

  it('a holder killed with SIGKILL blocks nothing', { timeout: 30_000 }, async () => {
    const script = `
      const { acquireInstanceLock } = await import(${JSON.stringify(import.meta.resolve('@shmsnap/core'))});
      const { loadFileLock } = await import(${JSON.stringify(new URL('../dist/file-lock.js', import.meta.url).href)});
      acquireInstanceLock(6, { lockDir: ${JSON.stringify(lockDir)}, tryLock: loadFileLock() });
      process.stdout.write('locked\\n');
      setInterval(() => {}, 1000);
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => chunk.toString().includes('locked') && resolve());
      child.on('exit', () => reject(new Error('the holder ended before locking')));
    });
    assert.throws(() => acquireInstanceLock(6, { lockDir, tryLock: loadFileLock() }), (error: unknown) => isShmsnapError(error, 'INSTANCE_LOCKED') && error.details.pid === child.pid);
    const ended = new Promise((resolve) => child.on('exit', resolve));
    child.kill('SIGKILL');
    await ended;
    acquireInstanceLock(6, { lockDir, tryLock: loadFileLock() }).release();
  });
});
