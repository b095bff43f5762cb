// The local sink's commit, as the kernel sees it (strace of a real backup):
// for every object, its bytes are written to a temporary file, the file is
// fsynced, linked to its name, and the directory fsynced; the manifest is
// linked only after every segment object's directory fsync returned, and the
// CLI reports the backup committed only after the manifest's directory
// fsync returned (and the pending marker was removed, durably). A call that
// strace shows unfinished counts from its start; "returned" is its end.
import assert from 'node:assert/strict';
import { enterPrivateIpcNamespace } from '@shmsnap/shm-native';

await enterPrivateIpcNamespace();

const { existsSync } = await import('node:fs');
const { readFile } = await import('node:fs/promises');
const { join } = await import('node:path');
const { describe, it } = await import('node:test');
const { createFixture } = await import('@shmsnap/shm-native/fixture');
const { useScratch } = await import('../support/scratch.js');
const { STRACE, tracedRun } = await import('./harness.js');

interface Call {
  readonly tid: number;
  readonly syscall: string;
  /** The call's text: arguments and result, joined when strace split it. */
  readonly text: string;
  readonly start: number;
  readonly end: number;
}

/** Calls with their start and end positions in the trace (strace writes `<unfinished ...>` and `<... resumed>` when threads interleave). */
function callsOf(trace: string): Call[] {
  const calls: Call[] = [];
  const open = new Map<number, { syscall: string; text: string; start: number }>();
  trace.split('\n').forEach((line, index) => {
    const resumed = /^(\d+)\s+<\.\.\. ([a-z0-9_]+) resumed>(.*)$/.exec(line);
    if (resumed) {
      const tid = Number(resumed[1]);
      const begun = open.get(tid);
      open.delete(tid);
      if (begun) calls.push({ tid, syscall: begun.syscall, text: begun.text.trimEnd() + resumed[3]!.trimStart(), start: begun.start, end: index });
      return;
    }
    const match = /^(\d+)\s+([a-z0-9_]+)\((.*)$/.exec(line);
    if (!match) return;
    const tid = Number(match[1]);
    if (match[3]!.endsWith('<unfinished ...>')) open.set(tid, { syscall: match[2]!, text: match[3]!.replace(/<unfinished \.\.\.>$/, ''), start: index });
    else calls.push({ tid, syscall: match[2]!, text: match[3]!, start: index, end: index });
  });
  return calls.sort((a, b) => a.start - b.start);
}

const scratch = useScratch('durability');
const skip = existsSync(STRACE) ? false : `${STRACE} is not installed (apt-get install strace)`;

describe('durability order of a local backup (strace)', { skip }, () => {
  for (const codec of ['none', 'zstd']) {
    it(`codec ${codec}: data → file fsync → link → directory fsync for every object, the manifest last, "committed" after its directory fsync`, async () => {
      const fixture = await createFixture({ namespaces: [{ name: 'test', nsid: 1, stages: 2, stageBytes: 64 * 1024 }] });
      try {
        const loc = join(scratch.root(), `loc-${codec}`);
        const traceFile = join(scratch.root(), `${codec}.trace`);
        const run = await tracedRun({ args: ['backup', '--to', loc, '--codec', codec, '--threads', '2', '--no-progress', '--lock-dir', join(scratch.root(), 'lock')], traceFile });
        assert.equal(run.status, 0, run.stderr);
        const calls = callsOf(await readFile(traceFile, 'utf8'));
        const onFd = (call: Call, path: string): boolean => call.text.startsWith(`${call.text.match(/^\d+/)?.[0]}<${path}>`);
        const links = calls.filter((c) => c.syscall === 'link' || c.syscall === 'linkat');
        const commits = links.map((link) => {
          const [, temp, name] = /"([^"]+)", "([^"]+)"\)\s*= 0/.exec(link.text) ?? [];
          assert.ok(temp && name, `a link that succeeded: ${link.text}`);
          assert.equal(join(name, '..'), loc, 'objects are linked in the location');
          const creates = calls.filter((c) => c.syscall === 'openat' && c.text.includes(`"${temp}", O_WRONLY|O_CREAT|O_EXCL`));
          assert.equal(creates.length, 1, `${temp} is created once`);
          const writes = calls.filter((c) => (c.syscall === 'write' || c.syscall === 'pwrite64') && onFd(c, temp));
          const fsyncs = calls.filter((c) => c.syscall === 'fsync' && onFd(c, temp));
          assert.equal(fsyncs.length, 1, `${name}: its temporary file is fsynced once`);
          const fsync = fsyncs[0]!;
          assert.match(fsync.text, /\)\s*= 0$/);
          assert.ok(writes.length > 0, `${name}: its bytes were written to the temporary file`);
          for (const write of writes) assert.ok(write.end < fsync.start, `${name}: every write ends before the fsync starts`);
          assert.ok(creates[0]!.end < fsync.start && fsync.end < link.start, `${name}: fsync returned before the link`);
          const dirSync = calls.find((c) => c.syscall === 'fsync' && onFd(c, loc) && c.start > link.end);
          assert.ok(dirSync, `${name}: the directory is fsynced after the link`);
          assert.match(dirSync.text, /\)\s*= 0$/);
          return { name: name.slice(loc.length + 1), link, dirSync };
        });
        const manifest = commits.find((c) => c.name.startsWith('shmsnap-manifest-'));
        const segments = commits.filter((c) => /^[0-9a-f]{8}\.dat/.test(c.name));
        assert.ok(manifest, 'the manifest was linked');
        assert.equal(segments.length, fixture.segments.length, 'every segment object was linked');
        for (const s of segments) assert.ok(s.dirSync.end < manifest.link.start, `${s.name}: its directory fsync returned before the manifest was linked`);
        const pendingRemoved = calls.find((c) => c.syscall === 'unlink' && c.text.startsWith(`"${loc}/shmsnap-pending-`));
        assert.ok(pendingRemoved && pendingRemoved.start > manifest.dirSync.end, 'the pending marker goes only after the manifest is durable');
        const pendingSync = calls.find((c) => c.syscall === 'fsync' && onFd(c, loc) && c.start > pendingRemoved.end);
        const committed = calls.find((c) => c.syscall === 'write' && c.text.includes('backup: committed'));
        assert.ok(committed, 'the CLI said committed');
        assert.ok(committed.start > manifest.dirSync.end, '"committed" is written after the manifest\'s directory fsync returned');
        assert.ok(pendingSync && committed.start > pendingSync.end, '… and after the pending marker\'s removal was made durable');
      } finally {
        await fixture.remove();
      }
    });
  }
});
