// `shmsnap inspect` as a user who may not read root's segments (`nobody`,
// through setpriv, in this test's own IPC namespace): it is told how many
// Aerospike segments exist that it cannot see, and what it takes to see
// them, instead of "no Aerospike segments".
import assert from 'node:assert/strict';
import { enterPrivateIpcNamespace } from '@shmsnap/shm-native';

await enterPrivateIpcNamespace();

const { execFileSync } = await import('node:child_process');
const { afterEach, describe, it } = await import('node:test');
const { createFixture } = await import('@shmsnap/shm-native/fixture');
const { runShmsnap } = await import('./support/cli.js');
const { clearSegments } = await import('./support/shm.js');

const NOBODY = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];
const unavailable = ((): string | false => {
  if (process.getuid?.() !== 0) return 'changing to user nobody needs root';
  try {
    execFileSync(NOBODY[0]!, [...NOBODY.slice(1), 'true'], { stdio: 'pipe' });
    return false;
  } catch (error) {
    return `setpriv cannot run as nobody here: ${String(error)}`;
  }
})();

afterEach(clearSegments);
const recipe = (mode: number) => ({ owner: { uid: 0, gid: 0, mode }, namespaces: [{ name: 'test', nsid: 1, stages: 2, stageBytes: 65536 }] });

describe('inspect by a user who cannot read the segments', { skip: unavailable }, () => {
  it("root's 0600 segments: says how many exist, which, whose, and the privilege it takes (exit 0)", async () => {
    await createFixture(recipe(0o600));
    const run = await runShmsnap(['inspect'], { wrapper: NOBODY });
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /^no Aerospike segments in shared memory that this user can read$/m);
    assert.match(
      run.stderr,
      /^inspect: 4 Aerospike segments in shared memory cannot be read by this user \(uid 65534\): 0xae001000, 0xae001001, 0xae001100, 0xae001101, owned by root \(uid 0\); to inspect or back them up, run as root, as their owner or creator, or with CAP_IPC_OWNER$/m,
    );
    const json = await runShmsnap(['inspect', '--json'], { wrapper: NOBODY });
    assert.deepEqual(JSON.parse(json.stdout).unreadable, { count: 4, aerospikeKeys: ['0xae001000', '0xae001001', '0xae001100', '0xae001101'], owners: [0] });
    const named = await runShmsnap(['inspect', '--namespace', 'test'], { wrapper: NOBODY });
    assert.equal(named.status, 3);
    assert.match(named.stderr, /NAMESPACE_NOT_FOUND: namespace 'test' of instance 0 not found in shared memory that this user can read \(4 Aerospike segments .*CAP_IPC_OWNER\)/);
  });

  it('root itself sees them all, with no such note', async () => {
    await createFixture(recipe(0o600));
    const run = await runShmsnap(['inspect']);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /^instance 0, namespace 'test' .*: backup allowed$/m);
    assert.doesNotMatch(run.stderr, /cannot be read/);
  });

  it('segments readable by others (0644) are shown to nobody as to anyone, with no note', async () => {
    await createFixture(recipe(0o644));
    const run = await runShmsnap(['inspect'], { wrapper: NOBODY });
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /^instance 0, namespace 'test' .*: backup allowed$/m);
    assert.doesNotMatch(run.stderr, /cannot be read/);
  });
});
