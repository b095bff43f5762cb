// Loading the addon: the default path, SHMSNAP_NATIVE_PATH and the explicit
// path, and the coded errors when what is there is not the addon. Loading
// makes no syscall, so this needs no root and touches no shared memory.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, it } from 'node:test';
import { isShmsnapError } from '@shmsnap/core';
import { isShmBinding, loadShmBinding, NATIVE_PATH_ENV } from './binding.js';
import { createFakeShmBinding } from './testing/fake-binding.js';

const builtAddon = fileURLToPath(new URL('../build/Release/shmsnap_shm.node', import.meta.url));
const saved = process.env[NATIVE_PATH_ENV];

afterEach(() => {
  if (saved === undefined) delete process.env[NATIVE_PATH_ENV];
  else process.env[NATIVE_PATH_ENV] = saved;
});

describe('loadShmBinding', () => {
  it('loads the built addon by default, once', () => {
    delete process.env[NATIVE_PATH_ENV];
    const binding = loadShmBinding();
    assert.ok(isShmBinding(binding));
    assert.equal(binding.maxViewBytes, 2 ** 31);
    assert.equal(loadShmBinding(), binding);
    assert.equal(loadShmBinding({ path: builtAddon }), binding, 'the same file is the same binding');
  });

  it('honours SHMSNAP_NATIVE_PATH, and an explicit path over it', () => {
    process.env[NATIVE_PATH_ENV] = join(tmpdir(), 'no-such-dir', 'shmsnap_shm.node');
    assert.throws(() => loadShmBinding(), (e: unknown) => {
      assert.ok(isShmsnapError(e, 'ADDON_MISSING'));
      assert.match(e.message, /no-such-dir\/shmsnap_shm\.node \(from SHMSNAP_NATIVE_PATH\) is not installed or does not load on this host .*check SHMSNAP_NATIVE_PATH/);
      return true;
    });
    assert.ok(isShmBinding(loadShmBinding({ path: builtAddon })), 'the option wins over the variable');
    process.env[NATIVE_PATH_ENV] = '';
    assert.ok(isShmBinding(loadShmBinding()), 'an empty variable means the default');
  });

  it('refuses a module that is not the addon', () => {
    const dir = mkdtempSync(join(tmpdir(), 'shmsnap-binding-'));
    try {
      const impostor = join(dir, 'impostor.cjs');
      writeFileSync(impostor, 'module.exports = { shmInfo() {} };\n');
      assert.throws(() => loadShmBinding({ path: impostor }), (e: unknown) => isShmsnapError(e, 'INTERNAL') && /is not shmsnap's addon/.test(e.message) && !/SHMSNAP_NATIVE_PATH/.test(e.message));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('recognises the fake as a binding', () => {
    assert.ok(isShmBinding(createFakeShmBinding()));
    assert.equal(isShmBinding({}), false);
    assert.equal(isShmBinding(null), false);
  });
});
