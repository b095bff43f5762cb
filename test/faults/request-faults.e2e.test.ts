// S3 at the request level: a small backup and a small restore through the
// fault proxy (packages/sink-s3/src/testing) in front of s3rver, with request
// number k answered 500, reset after the store acted (the client never hears
// the answer), or the CLI killed as request k arrives (it never reaches the
// store), for every k of a plain run. The same invariants as the syscall
// faults: the location lists as a complete backup that verifies (CRC-32s of
// the segments) or as interrupted or nothing; shared memory holds the whole
// set, nothing of the run's, or a set inspect marks unusable; other
// segments untouched; a failed run ends with one coded line. `npm test`
// samples SHMSNAP_FAULTS_S3_SAMPLE cases per operation and codec (default 3);
// `npm run faults` (SHMSNAP_FAULTS=all) tries every request.
import assert from 'node:assert/strict';
import { enterPrivateIpcNamespace } from '@shmsnap/shm-native';

await enterPrivateIpcNamespace();

const { after, before, describe, it } = await import('node:test');
const { createFixture } = await import('@shmsnap/shm-native/fixture');
const { listShmSegments, removeShm } = await import('@shmsnap/shm-native');
const { decodeKey, parseManifest } = await import('@shmsnap/core');
const { createS3Sink } = await import('@shmsnap/sink-s3');
const { s3TestClientOptions, startFaultProxy, startS3Server, useS3rverCredentials } = await import('@shmsnap/sink-s3/testing');
const { runShmsnap, startCli } = await import('../support/cli.js');
const { sampleEvenly } = await import('./harness.js');

type Fixture = import('@shmsnap/shm-native/fixture').Fixture;
type CliRun = import('../support/cli.js').CliRun;
type Mode = '500' | 'reset' | 'kill';

const FULL = process.env.SHMSNAP_FAULTS === 'all';
// Fewer than the syscall faults: a retried request waits out the sink's backoff (~10 s a case on a loaded machine).
const SAMPLE = Number(process.env.SHMSNAP_FAULTS_S3_SAMPLE ?? 3);
const CODECS = (process.env.SHMSNAP_FAULTS_S3_CODECS ?? 'none,zstd').split(',');
const MODES: readonly Mode[] = ['500', 'reset', 'kill'];
const TINY = { namespaces: [{ name: 'test', nsid: 1, stages: 1, stageBytes: 64 * 1024 }] };
const OTHER = { namespaces: [{ name: 'other', nsid: 2, stages: 1, stageBytes: 64 * 1024 }] };
const ENV = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_SESSION_TOKEN: '', AWS_REGION: 'us-east-1' };

let server: Awaited<ReturnType<typeof startS3Server>>;
let other: Fixture;
before(async () => {
  server = await startS3Server({ buckets: ['faults'] });
  other = await createFixture(OTHER);
});
after(async () => {
  await other?.remove();
  await server?.stop();
});

/** Runs `args` against `endpoint` through a proxy that injects `mode` at request `k` (none when k is 0); the run and the requests seen. */
async function throughProxy(args: readonly string[], k: number, mode: Mode): Promise<{ run: CliRun; requests: number; injected: boolean }> {
  let seen = 0;
  let injected = false;
  let child: ReturnType<typeof startCli>['child'] | undefined;
  const fault = mode === '500' ? 'internal-error' : mode === 'reset' ? 'drop-after' : 'drop-before';
  const proxy = await startFaultProxy(server.endpoint, [
    {
      fault,
      when: () => {
        if (++seen !== k) return false;
        injected = true;
        if (mode === 'kill') child?.kill('SIGKILL');
        return true;
      },
    },
  ]);
  try {
    const running = startCli([...args, '--s3-endpoint', proxy.endpoint, '--lock-dir', '/tmp/shmsnap-request-faults-lock'], { env: ENV });
    child = running.child;
    running.child.stdin.end();
    const timer = setTimeout(() => running.child.kill('SIGKILL'), 60_000);
    const run = await running.done;
    clearTimeout(timer);
    return { run, requests: proxy.counts.requests, injected };
  } finally {
    await proxy.stop();
  }
}

function endProblems(run: CliRun, injected: boolean, mode: Mode): string[] {
  if (run.signal === 'SIGKILL') return mode === 'kill' && injected ? [] : ['killed (hung for 60 s?)'];
  if (run.signal !== null) return [`died of ${run.signal}`];
  if (!injected && run.status !== 0) return [`nothing injected, yet exit ${run.status}: ${run.stderr}`];
  if (run.status === 0) return [];
  const lines = run.stderr.trimEnd().split('\n');
  return lines.length === 1 && /^shmsnap: [A-Z][A-Z_]+: \S/.test(lines[0]!) ? [] : [`not one coded line: ${JSON.stringify(run.stderr)}`];
}

async function removeNamespace(nsid: number): Promise<void> {
  for (const s of listShmSegments().filter((x) => decodeKey(x.key)?.nsid === nsid)) await removeShm(s.shmid, s.key);
}

const s3 = (...args: string[]) =>
  runShmsnap([...args, '--s3-endpoint', server.endpoint, ...(args[0] === 'backup' || args[0] === 'restore' ? ['--lock-dir', '/tmp/shmsnap-request-faults-lock'] : [])], { env: ENV });

/** The segments' keys and CRC-32s as the location's manifest records them (read straight from s3rver). */
async function manifestCrcs(location: string): Promise<string> {
  useS3rverCredentials();
  const sink = await createS3Sink(location, s3TestClientOptions(server.endpoint));
  const chunks: Buffer[] = [];
  for await (const chunk of await sink.openReader('shmsnap-manifest-i0-n1.json')) chunks.push(chunk as Buffer);
  return JSON.stringify(parseManifest(Buffer.concat(chunks), { where: location }).segments.map((s) => [s.key, s.rawCrc32]));
}

describe('S3 request faults (s3rver behind the fault proxy)', () => {
  for (const codec of CODECS) {
    it(`backup, codec ${codec}: every request failing or killed leaves a complete verified backup or an interrupted one`, async (t) => {
      const fixture = await createFixture(TINY);
      try {
        const args = (location: string): string[] => ['backup', '--to', location, '--namespace', 'test', '--codec', codec, '--threads', '1', '--no-progress'];
        const plain = await throughProxy(args(`s3://faults/plain-${codec}`), 0, '500');
        assert.equal(plain.run.status, 0, plain.run.stderr);
        const expectedCrcs = await manifestCrcs(`s3://faults/plain-${codec}`);
        const cases = Array.from({ length: plain.requests }, (_, i) => MODES.map((mode) => ({ k: i + 1, mode }))).flat();
        const tried = FULL ? cases : sampleEvenly(cases, SAMPLE);
        const problems: string[] = [];
        for (const c of tried) {
          const location = `s3://faults/b-${codec}-${c.k}-${c.mode}`;
          const { run, injected } = await throughProxy(args(location), c.k, c.mode);
          const found = endProblems(run, injected, c.mode);
          if ((await fixture.compare()).length > 0) found.push('segments changed');
          if (!listShmSegments().every((s) => s.nattch === 0)) found.push('a segment is still attached');
          const ls = await s3('ls', location, '--json');
          const statuses: string[] = ls.status === 0 ? JSON.parse(ls.stdout).backups.map((b: { status: string }) => b.status) : [`ls failed: ${ls.stderr}`];
          for (const status of statuses) if (status !== 'complete' && status !== 'interrupted') found.push(`the location lists a backup as ${status}`);
          if (statuses.includes('complete')) {
            const verify = await s3('verify', location);
            if (verify.status !== 0) found.push(`complete but does not verify: ${verify.stderr}`);
            if ((await manifestCrcs(location)) !== expectedCrcs) found.push('complete with other segments or CRC-32s than the plain run');
          } else if (run.status === 0) found.push('exit 0 without a complete backup');
          for (const problem of found) problems.push(`request ${c.k} ${c.mode}: ${problem}`);
        }
        assert.deepEqual(problems, []);
        t.diagnostic(`request failure points (S3 backup, ${codec}): ${plain.requests} requests × 3 modes = ${cases.length} cases; ${FULL ? 'all' : 'evenly sampled'} ${tried.length} tried, all held`);
      } finally {
        await fixture.remove();
      }
    });

    it(`restore, codec ${codec}: every request failing or killed leaves the whole set, nothing of its own, or a refused set`, async (t) => {
      const fixture = await createFixture(TINY);
      const from = `s3://faults/src-${codec}`;
      const made = await s3('backup', '--to', from, '--namespace', 'test', '--codec', codec);
      assert.equal(made.status, 0, made.stderr);
      await fixture.remove();
      const args = ['restore', '--from', from, '--threads', '1', '--no-progress', '--allow-consumed'];
      const plain = await throughProxy(args, 0, '500');
      assert.equal(plain.run.status, 0, plain.run.stderr);
      const cases = Array.from({ length: plain.requests }, (_, i) => MODES.map((mode) => ({ k: i + 1, mode }))).flat();
      const tried = FULL ? cases : sampleEvenly(cases, SAMPLE);
      const problems: string[] = [];
      try {
        for (const c of tried) {
          await removeNamespace(1);
          const { run, injected } = await throughProxy(args, c.k, c.mode);
          const found = endProblems(run, injected, c.mode);
          if ((await other.compare()).length > 0) found.push("another namespace's segments changed");
          const present = listShmSegments().filter((s) => decodeKey(s.key)?.nsid === 1);
          const complete = present.length > 0 && (await fixture.compare()).length === 0;
          if (present.length > 0 && !complete) {
            const inspect = JSON.parse((await runShmsnap(['inspect', '--json'])).stdout);
            const instance = inspect.instances.find((x: { instance: number }) => x.instance === 0);
            const groups = [...(instance?.namespaces ?? []), ...(instance?.orphans ?? [])].filter((g: { nsid?: number; name?: string }) => g.nsid === 1 || g.name === 'test');
            if (groups.length === 0 || groups.some((g: { backupAllowed: boolean }) => g.backupAllowed)) found.push('a partial set that reads as usable');
          }
          if (run.status === 0 && run.signal === null && !complete) found.push('exit 0 without the complete set');
          for (const problem of found) problems.push(`request ${c.k} ${c.mode}: ${problem}`);
        }
        const verify = await s3('verify', from);
        assert.equal(verify.status, 0, `the backup still verifies: ${verify.stderr}`);
      } finally {
        await removeNamespace(1);
      }
      assert.deepEqual(problems, []);
      t.diagnostic(`request failure points (S3 restore, ${codec}): ${plain.requests} requests × 3 modes = ${cases.length} cases; ${FULL ? 'all' : 'evenly sampled'} ${tried.length} tried, all held`);
    });
  }
});
