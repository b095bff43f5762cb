// `shmsnap prune` and `shmsnap status`, the built CLI against a directory and S3 prefixes holding many
// nodes' backups (written through core with fake host names and dates: test/support/fleet.ts). Checked
// by exit status, the table, the --json documents (validated against packages/cli/schemas/) and the
// objects left on disk and in the bucket.
import assert from 'node:assert/strict';
import { readdir, readFile, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { Sink } from '@shmsnap/core';
import { createLocalSink } from '@shmsnap/sink-local';
import { createS3Sink } from '@shmsnap/sink-s3';
import { s3TestClientOptions, startS3TestStores } from '@shmsnap/sink-s3/testing';
import { runShmsnap, type CliRun } from './support/cli.js';
import { filesBelow, markConsumed, subLocation, writeBackup, writeInterrupted } from './support/fleet.js';
import { useScratch } from './support/scratch.js';

const DAY = 86_400_000;
const now = Date.now();
const ago = (ms: number): Date => new Date(Math.floor((now - ms) / 1000) * 1000);
const scratch = useScratch('prune-e2e');

const SCHEMAS = fileURLToPath(new URL('../packages/cli/schemas/', import.meta.url));
const ajv = new Ajv2020({ allErrors: true, strict: true });
ajv.addFormat('date-time', /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/);
before(async () => {
  for (const file of (await readdir(SCHEMAS)).filter((f) => f.endsWith('.json'))) ajv.addSchema(JSON.parse(await readFile(join(SCHEMAS, file), 'utf8')));
});

/** stdout as the one JSON document `schema` names, validated. */
function documentOf(run: CliRun, schema: 'prune' | 'status' | 'error'): Record<string, unknown> {
  const document = JSON.parse(run.stdout) as Record<string, unknown>;
  assert.equal(document.schema, `shmsnap.${schema}/1`, run.stdout);
  const validate = ajv.getSchema(`urn:shmsnap:schema:${schema}`)!;
  assert.ok(validate(document), `${schema}: ${ajv.errorsText(validate.errors)}\n${run.stdout}`);
  return document;
}

const files = (dir: string): Promise<string[]> => filesBelow(dir);

/** node-a/0: three backups (newest consumed); node-b/0: one old backup; plus what `extra` adds. */
async function fleet(open: (sub: string) => Promise<Sink>): Promise<Record<string, string>> {
  const at: Record<string, string> = {};
  for (const [id, host, age] of [['a-1d', 'node-a', 1 * DAY], ['a-2d', 'node-a', 2 * DAY], ['a-3d', 'node-a', 3 * DAY], ['b-20d', 'node-b', 20 * DAY]] as const) {
    at[id] = subLocation(host, 0, ago(age));
    await writeBackup(await open(at[id]!), host, 0, ago(age));
  }
  await markConsumed(await open(at['a-1d']!), 'node-a', 0, ago(1 * DAY));
  at['a-stale'] = subLocation('node-a', 0, ago(5 * DAY));
  await writeInterrupted(await open(at['a-stale']!), 'node-a', 0, ago(5 * DAY));
  return at;
}

describe('shmsnap status and prune on a directory', () => {
  let root = '';
  let at: Record<string, string> = {};
  before(async () => {
    root = scratch.fresh();
    at = await fleet(async (sub) => createLocalSink(join(root, sub)));
    for (const name of await readdir(join(root, at['a-stale']!))) await utimes(join(root, at['a-stale']!, name), ago(5 * DAY), ago(5 * DAY));
    await writeFile(join(root, 'node-b', 'notes.txt'), 'an operator was here\n');
  });

  it('status: one row per host and instance, as a table and as JSON', async () => {
    const table = await runShmsnap(['status', root]);
    assert.equal(table.status, 0, table.stderr);
    const lines = table.stdout.trim().split('\n').filter((l) => !l.startsWith('--'));
    assert.match(lines[0]!, /^host\s+inst\s+newest\s+created\s+age\s+consumed/);
    assert.match(lines[1]!, new RegExp(`^node-a\\s+0\\s+${join(root, at['a-1d']!)}\\s+\\S+\\s+24 hours\\s+yes\\s`));
    assert.match(lines[2]!, /^node-b\s+0\s.*20 days\s+no\s/);
    assert.match(table.stderr, /the newest backup was restored already; restore --latest would pick .*node-a\/0\//);
    const json = documentOf(await runShmsnap(['status', root, '--json']), 'status');
    const hosts = json.hosts as { hostname: string; counts: Record<string, number>; newest: { consumed: unknown; ageSeconds: number } }[];
    assert.deepEqual(hosts.map((h) => [h.hostname, h.counts.complete, h.counts.consumed, h.counts.interrupted, h.counts.older]), [['node-a', 3, 1, 1, 2], ['node-b', 1, 0, 0, 0]]);
    assert.ok(hosts[0]!.newest.consumed !== null && Math.abs(hosts[0]!.newest.ageSeconds - 86_400) < 600);
  });

  it('prune refuses to run without --keep-last or --keep-within, in one line, removing nothing', async () => {
    const before = await files(root);
    const run = await runShmsnap(['prune', root]);
    assert.equal(run.status, 2, run.stderr);
    assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr);
    assert.match(run.stderr, /CONFIG_INVALID: --keep-last: give --keep-last or --keep-within/);
    const zero = await runShmsnap(['prune', root, '--keep-last', '0']);
    assert.equal(zero.status, 2);
    documentOf(await runShmsnap(['prune', root, '--json']), 'error');
    assert.deepEqual(await files(root), before);
  });

  it('prune --dry-run says what would go and what stays, and why; nothing changes', async () => {
    const before = await files(root);
    const run = await runShmsnap(['prune', root, '--keep-last', '1', '--dry-run']);
    assert.equal(run.status, 0, run.stderr);
    const line = (id: string) => run.stdout.split('\n').find((l) => l.includes(at[id]!)) ?? '';
    assert.match(line('a-1d'), /keep\s+among the newest kept/);
    assert.match(line('a-2d'), /keep\s+kept although the rules would remove it: the newest complete, unconsumed backup/);
    assert.match(line('a-3d'), /would remove\s+neither among the newest kept nor recent enough/);
    assert.match(line('b-20d'), /keep/);
    assert.match(line('a-stale'), /would remove\s+interrupted, and inactive/);
    assert.match(run.stdout, /prune: would remove 2 backups \(.*\), kept 3 \(dry run: nothing removed\)/);
    assert.match(run.stderr, /left alone in .*node-b: notes\.txt: not part of a shmsnap backup/);
    const json = documentOf(await runShmsnap(['prune', root, '--keep-last', '1', '--dry-run', '--json']), 'prune');
    assert.equal(json.dryRun, true);
    assert.deepEqual((json.backups as { action: string; removed: boolean }[]).map((b) => [b.action, b.removed]).filter(([a]) => a === 'remove'), [['remove', false], ['remove', false]]);
    assert.deepEqual(await files(root), before);
  });

  it('prune removes them, keeps the rest byte for byte, and a rerun removes nothing', async () => {
    const keep = (await files(root)).filter((f) => !f.startsWith(at['a-3d']!) && !f.startsWith(at['a-stale']!));
    const kept = await Promise.all(keep.map((f) => readFile(join(root, f))));
    const json = documentOf(await runShmsnap(['prune', root, '--keep-last', '1', '--json']), 'prune');
    assert.deepEqual(json.summary, { kept: 3, removed: 2, removedStoredBytes: 4096 + 8192 + 65536 + 1000 });
    assert.deepEqual(await files(root), keep);
    for (const [i, f] of keep.entries()) assert.ok((await readFile(join(root, f))).equals(kept[i]!), f);
    const ls = await runShmsnap(['ls', root, '--depth', '3']);
    assert.equal(ls.stdout.match(/complete/g)?.length, 3, ls.stdout);
    const again = await runShmsnap(['prune', root, '--keep-last', '1']);
    assert.match(again.stdout, /prune: removed 0 backups/);
  });
});

const { stores, skipped } = await startS3TestStores({ bucket: 'shmsnap-e2e' });
after(async () => {
  for (const store of stores) await store.stop();
});
for (const skip of skipped) describe(`prune on ${skip.kind}`, { skip: skip.reason }, () => {});

for (const store of stores) {
  describe(`shmsnap status and prune on ${store.kind}`, () => {
    const base = `prune-e2e-${process.pid}`;
    const location = `s3://${store.bucket}/${base}/fleet`;
    const cli = (...args: string[]) => runShmsnap([...args, '--s3-endpoint', store.endpoint], { env: store.env });
    const opened: Sink[] = [];
    after(async () => {
      for (const sink of opened) await sink.close?.();
    });

    it('status and prune on a prefix: backups and a stale multipart upload go, the sibling prefix stays', async () => {
      store.useCredentials();
      const at = await fleet(async (sub) => {
        const sink = await createS3Sink(`${location}/${sub}`, s3TestClientOptions(store.endpoint));
        opened.push(sink);
        return sink;
      });
      await store.rawStartUpload(`${base}/fleet/${at['a-3d']}/ae001100.dat`);
      await store.rawStartUpload(`${base}/fleet-other/ae001100.dat`);
      const status = documentOf(await cli('status', location, '--json'), 'status');
      assert.deepEqual((status.hosts as { hostname: string; counts: { complete: number } }[]).map((h) => [h.hostname, h.counts.complete]), [['node-a', 3], ['node-b', 1]]);

      // S3 dates the interrupted backup's objects now: with a threshold of 1 s, they (and the upload) are stale a moment later.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const run = await cli('prune', location, '--keep-last', '1', '--interrupted-older-than', '1s', '--json');
      const json = documentOf(run, 'prune');
      assert.deepEqual(json.summary, { kept: 3, removed: 2, removedStoredBytes: 4096 + 8192 + 65536 + 1000 });
      const keys = (await store.rawList(`${base}/`)).map((o) => o.key);
      assert.ok(!keys.some((k) => k.includes(at['a-3d']!) || k.includes(at['a-stale']!)), keys.join(' '));
      assert.equal(keys.filter((k) => k.endsWith('.json') && k.includes('manifest')).length, 3);
      const stale = json.staleWrites as { unsupported: string | null; entries: { name: string; removed: boolean }[] };
      if (store.kind === 's3rver') assert.match(stale.unsupported ?? '', /does not list multipart uploads/);
      else {
        assert.deepEqual(stale.entries.map((e) => [e.name, e.removed]), [[`${at['a-3d']}/ae001100.dat`, true]]);
        assert.deepEqual(await store.rawListUploads(`${base}/`), [`${base}/fleet-other/ae001100.dat`]);
      }
      const table = await cli('prune', location, '--keep-last', '1', '--dry-run');
      assert.equal(table.status, 0, table.stderr);
      assert.match(table.stdout, /prune: would remove 0 backups/);
    });
  });
}
