// `pnpm bench` (or `npm run bench`): shmsnap's backup and restore per codec,
// beside reference tools run in the same session on the same bytes, on the
// same disk. Not part of the test suite: it prints numbers, it asserts
// nothing.
//
//   npm run bench -- [--size-mib 2048] [--codecs none,gzip,zstd] [--encrypted-codecs zstd] [--s3-codecs none,zstd] [--s3-servers s3rver,rgw] [--dir .bench] [--repeat 3] [--engine-mib 256] [--runs 3] [--no-engines]
//
// Every row is the median of --repeat runs: these machines are noisy (the
// same `cat` has measured 750 and 1500 MB/s minutes apart).
//
// - A fixture of realistic index content is created in a private IPC
//   namespace (8 primary stages) and dumped to one raw file for the
//   references.
// - shmsnap runs through its real CLI code (bench/measure.ts) with
//   `--threads` = CPUs; restores start from a cold page cache (caches are
//   dropped, as after a reboot), and so do the references' decompressions.
// - References: `cat` (file → file + fsync; file → /dev/shm), `gzip -1` /
//   `gzip -d`, `zstd -1 -T0` / `zstd -d`, each writing to the same disk
//   (fsynced) or to memory like a restore.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { enterPrivateIpcNamespace, attachShm, lookupShm } from '@shmsnap/shm-native';
import { createFixture } from '@shmsnap/shm-native/fixture';
import { fillIndexContent } from '@shmsnap/core/testkit';
import { RgwUnavailable, startRgw, startS3Server } from '@shmsnap/sink-s3/testing';
import { measureEngines, type EngineRow } from './engines.js';

await enterPrivateIpcNamespace();

function option(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 && process.argv[at + 1] ? process.argv[at + 1]! : fallback;
}
const sizeMib = Number(option('size-mib', '2048'));
const codecs = option('codecs', 'none,gzip,zstd').split(',');
const dir = resolve(option('dir', '.bench'));
const engineMib = Number(option('engine-mib', '256'));
const runs = Number(option('runs', '3'));
const withEngines = !process.argv.includes('--no-engines');
const repeat = Math.max(1, Number(option('repeat', '3')));
const s3Codecs = option('s3-codecs', 'none,zstd').split(',').filter(Boolean);
// Encryption (docs/encryption.md) beside the same codec without it: the target is < 10% of zstd's throughput.
const encryptedCodecs = option('encrypted-codecs', 'zstd').split(',').filter(Boolean);
const s3Servers = option('s3-servers', 's3rver,rgw').split(',').filter(Boolean);
const threads = availableParallelism();
const work = join(dir, 'work');
const note = (line: string): void => {
  process.stderr.write(`bench: ${line}\n`);
};

interface Row {
  readonly operation: string;
  readonly tool: string;
  readonly megabytesPerSecond: number;
  readonly ratio: number | null;
  readonly peakRssMiB: number | null;
  readonly cpuSeconds: number;
  readonly seconds: number;
}

function dropCaches(): void {
  spawnSync('sync');
  try {
    spawnSync('sh', ['-c', 'echo 3 > /proc/sys/vm/drop_caches']);
  } catch {
    // Not root: restores then read from a warm cache (said in the report).
  }
}

/** Runs a shell command; its wall time and its children's CPU (bash `times`). */
function shell(command: string): { seconds: number; cpuSeconds: number } {
  const started = performance.now();
  const run = spawnSync('bash', ['-c', `${command}\ntimes`], { encoding: 'utf8', maxBuffer: 1 << 20 });
  const seconds = (performance.now() - started) / 1000;
  if (run.status !== 0) throw new Error(`${command}: ${run.stderr}`);
  const lines = run.stdout.trim().split('\n');
  const parse = (text: string): number => [...text.matchAll(/(\d+)m([\d.]+)s/g)].reduce((sum, [, m, s]) => sum + Number(m) * 60 + Number(s), 0);
  return { seconds, cpuSeconds: parse(lines[lines.length - 1]!) };
}

interface Measured {
  status: number;
  seconds: number;
  cpuSeconds: number;
  peakRssBytes: number;
  result: Record<string, unknown>;
}

/** Async: the S3 server of the S3 rows runs in this process and must keep serving. */
async function shmsnap(args: string[]): Promise<Measured> {
  // Each backup is restored several times (rounds, --threads 8): a consumed one is restored again on purpose.
  if (args[0] === 'restore') args = [...args, '--allow-consumed'];
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'measure.ts'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
  const line = stdout.trim().split('\n').pop() ?? '';
  const measured = JSON.parse(line || '{}') as Measured;
  if (status !== 0 || measured.status !== 0) throw new Error(`shmsnap ${args.join(' ')} failed: ${JSON.stringify(measured.result)} ${stderr}`);
  return measured;
}

/** Async for the same reason: plain parallel ranged GETs of a prefix's objects (bench/s3-ranged-get.ts). */
async function rangedGets(endpoint: string, bucket: string, prefix: string, concurrency: number, rangeMib: number): Promise<{ seconds: number; cpuSeconds: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 's3-ranged-get.ts'), endpoint, bucket, prefix, String(concurrency), String(rangeMib)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (status !== 0) throw new Error(`ranged GETs of ${prefix} failed: ${stderr}`);
  return JSON.parse(stdout.trim().split('\n').pop()!) as { seconds: number; cpuSeconds: number };
}

const MiB = 1024 * 1024;
const samples = new Map<string, Row[]>();
function record(row: Row): void {
  const key = `${row.operation}\u0000${row.tool}`;
  samples.set(key, [...(samples.get(key) ?? []), row]);
}
/** The median run of each (operation, tool), by speed. */
function medianRows(): Row[] {
  return [...samples.values()].map((runs) => [...runs].sort((a, b) => a.megabytesPerSecond - b.megabytesPerSecond)[Math.floor(runs.length / 2)]!);
}
await rm(work, { recursive: true, force: true });
await mkdir(work, { recursive: true });
const stages = 8;
const stageBytes = Math.floor((sizeMib * MiB) / stages / 4096) * 4096;
note(`creating a fixture of ${stages} × ${(stageBytes / MiB).toFixed(0)} MiB of index-like content`);
const fixture = await createFixture({ namespaces: [{ name: 'bench', nsid: 1, stages, stageBytes, treexBytes: 4 * MiB }] });
const rawBytes = fixture.segments.reduce((sum, s) => sum + s.descriptor.size, 0);
const rawMB = rawBytes / 1e6;

// The references get the very same bytes, as one file.
const rawPath = join(work, 'raw.bin');
{
  const out = createWriteStream(rawPath);
  for (const segment of fixture.segments) {
    const { key, size } = segment.descriptor;
    const attachment = attachShm(lookupShm(key)!, key, true);
    for (let offset = 0; offset < size; offset += 8 * MiB) {
      const chunk = Buffer.from(attachment.view(offset, Math.min(8 * MiB, size - offset)));
      if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
    }
    await attachment.detach();
  }
  await new Promise<void>((r, j) => out.end((e?: Error | null) => (e ? j(e) : r())));
}

const q = (path: string): string => `'${path}'`;
/** A read-only reference: the bytes it reads count as the raw bytes. */
async function referenceRead(tool: string, command: string): Promise<void> {
  const timing = shell(command);
  record({ operation: 'restore', tool, megabytesPerSecond: rawMB / timing.seconds, ratio: null, peakRssMiB: null, cpuSeconds: timing.cpuSeconds, seconds: timing.seconds });
}
/** C zlib on one core (Python's zlib module links the system zlib ASMT uses): deflate level 1 of raw.bin, then inflate; in memory, file reads excluded. */
const ZLIB_SCRIPT = `
import sys, time, zlib
data = open(sys.argv[1], 'rb').read()
t = time.process_time(); c = zlib.compressobj(1, zlib.DEFLATED, -15); out = [c.compress(data[i:i + (8 << 20)]) for i in range(0, len(data), 8 << 20)]; out.append(c.flush()); deflate = time.process_time() - t
stored = b''.join(out); del out
t = time.process_time(); d = zlib.decompressobj(-15); n = sum(len(d.decompress(stored[i:i + (8 << 20)])) for i in range(0, len(stored), 8 << 20)); inflate = time.process_time() - t
assert n == len(data)
print(deflate, inflate, len(stored))
`;
const shmCopy = '/dev/shm/shmsnap-bench-copy';
const keyFile = join(work, 'bench.key');
await writeFile(keyFile, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
for (let round = 0; round < repeat; round++) {
  const step = (what: string): void => note(`round ${round + 1}/${repeat}: ${what}`);
  for (const codec of codecs) {
    const location = join(work, `backup-${codec}`);
    step(`shmsnap backup --codec ${codec}`);
    const backup = await shmsnap(['backup', '--to', location, '--codec', codec, '--threads', String(threads)]);
    const stored = Number(backup.result.storedBytes);
    record({ operation: 'backup', tool: `shmsnap ${codec}`, megabytesPerSecond: rawMB / backup.seconds, ratio: rawBytes / stored, peakRssMiB: backup.peakRssBytes / MiB, cpuSeconds: backup.cpuSeconds, seconds: backup.seconds });
    {
      // Memory is bounded by design, whatever --threads: the same backup at 4× the threads, for its peak RSS.
      const wideLocation = join(work, `backup-${codec}-wide`);
      step(`shmsnap backup --codec ${codec} --threads ${threads * 4}`);
      const wide = await shmsnap(['backup', '--to', wideLocation, '--codec', codec, '--threads', String(threads * 4)]);
      record({ operation: 'backup', tool: `shmsnap ${codec}, --threads ${threads * 4}`, megabytesPerSecond: rawMB / wide.seconds, ratio: rawBytes / Number(wide.result.storedBytes), peakRssMiB: wide.peakRssBytes / MiB, cpuSeconds: wide.cpuSeconds, seconds: wide.seconds });
      await rm(wideLocation, { recursive: true, force: true });
    }
    await fixture.remove();
    dropCaches();
    step(`shmsnap restore (${codec})`);
    const restore = await shmsnap(['restore', '--from', location, '--threads', String(threads)]);
    record({ operation: 'restore', tool: `shmsnap ${codec}`, megabytesPerSecond: rawMB / restore.seconds, ratio: null, peakRssMiB: restore.peakRssBytes / MiB, cpuSeconds: restore.cpuSeconds, seconds: restore.seconds });
    if (round === 0) {
      const differences = await fixture.compare();
      if (differences.length > 0) throw new Error(`restore (${codec}) differs: ${JSON.stringify(differences)}`);
    }
    {
      // Memory is bounded by design, whatever --threads: the same restore at 4× the threads, for its peak RSS.
      await fixture.remove();
      dropCaches();
      step(`shmsnap restore (${codec}) --threads ${threads * 4}`);
      const wide = await shmsnap(['restore', '--from', location, '--threads', String(threads * 4)]);
      record({ operation: 'restore', tool: `shmsnap ${codec}, --threads ${threads * 4}`, megabytesPerSecond: rawMB / wide.seconds, ratio: null, peakRssMiB: wide.peakRssBytes / MiB, cpuSeconds: wide.cpuSeconds, seconds: wide.seconds });
    }
    if (codec === 'none') {
      // What a C tool can read of the same files: the ceiling for a raw restore.
      dropCaches();
      await referenceRead('cold read (cat FILES > /dev/null)', `cat ${q(location)}/*.dat > /dev/null`);
      dropCaches();
      await referenceRead('cold read, 2 parallel readers', `ls ${q(location)}/*.dat | xargs -P 2 -n 1 cat > /dev/null`);
    }
    if (codec === 'gzip') {
      // The same files without the piece index, as ASMT wrote them: segments in parallel, each inflated in order.
      await fixture.remove();
      await rm(join(location, 'shmsnap-manifest-i0-n1.json'));
      dropCaches();
      step('shmsnap restore (gzip files without an index, as ASMT writes them)');
      const asmtStyle = await shmsnap(['restore', '--from', location, '--threads', String(threads)]);
      record({ operation: 'restore', tool: 'shmsnap gzip, no index (ASMT files)', megabytesPerSecond: rawMB / asmtStyle.seconds, ratio: null, peakRssMiB: asmtStyle.peakRssBytes / MiB, cpuSeconds: asmtStyle.cpuSeconds, seconds: asmtStyle.seconds });
    }
    await rm(location, { recursive: true, force: true });
    if (encryptedCodecs.includes(codec)) {
      // The same backup and restore, encrypted (AES-256-GCM frames after the codec; restores take the stream path).
      const encrypted = join(work, `backup-${codec}-encrypted`);
      step(`shmsnap backup --codec ${codec} --key-file`);
      const sealed = await shmsnap(['backup', '--to', encrypted, '--codec', codec, '--key-file', keyFile, '--threads', String(threads)]);
      record({ operation: 'backup', tool: `shmsnap ${codec}, encrypted`, megabytesPerSecond: rawMB / sealed.seconds, ratio: rawBytes / Number(sealed.result.storedBytes), peakRssMiB: sealed.peakRssBytes / MiB, cpuSeconds: sealed.cpuSeconds, seconds: sealed.seconds });
      await fixture.remove();
      dropCaches();
      step(`shmsnap restore (${codec}, encrypted)`);
      const opened = await shmsnap(['restore', '--from', encrypted, '--key-file', keyFile, '--threads', String(threads)]);
      record({ operation: 'restore', tool: `shmsnap ${codec}, encrypted`, megabytesPerSecond: rawMB / opened.seconds, ratio: null, peakRssMiB: opened.peakRssBytes / MiB, cpuSeconds: opened.cpuSeconds, seconds: opened.seconds });
      if (round === 0) {
        const differences = await fixture.compare();
        if (differences.length > 0) throw new Error(`restore (${codec}, encrypted) differs: ${JSON.stringify(differences)}`);
      }
      await rm(encrypted, { recursive: true, force: true });
    }
  }

  const reference = (operation: string, tool: string, command: string, ratioOf?: () => Promise<number>): Promise<void> => {
    step(`${tool}: ${operation}`);
    const timing = shell(command);
    return (ratioOf ? ratioOf() : Promise.resolve(null)).then((ratio) => {
      record({ operation, tool, megabytesPerSecond: rawMB / timing.seconds, ratio, peakRssMiB: null, cpuSeconds: timing.cpuSeconds, seconds: timing.seconds });
    });
  };
  const copy = join(work, 'copy.bin');
  await reference('backup', 'cat', `cat ${q(rawPath)} > ${q(copy)} && sync ${q(copy)}`);
  dropCaches();
  await reference('restore', 'cat', `cat ${q(copy)} > ${shmCopy}; rm -f ${shmCopy}`);
  await rm(copy);
  {
    // The disk's write limit with fsync: the same bytes by two parallel dd, half each.
    const half = Math.ceil(rawBytes / 2 / (8 * MiB));
    const a = join(work, 'dd-a.bin');
    const b = join(work, 'dd-b.bin');
    await reference('backup', 'dd ×2 conv=fsync', `dd if=${q(rawPath)} of=${q(a)} bs=8M count=${half} conv=fsync status=none & dd if=${q(rawPath)} of=${q(b)} bs=8M skip=${half} conv=fsync status=none & wait`);
    await rm(a, { force: true });
    await rm(b, { force: true });
  }
  {
    step('C zlib, one core: deflate -1 and inflate');
    const run = spawnSync('python3', ['-c', ZLIB_SCRIPT, rawPath], { encoding: 'utf8' });
    if (run.status === 0) {
      const [deflate, inflate, storedBytes] = run.stdout.trim().split(' ').map(Number) as [number, number, number];
      record({ operation: 'backup', tool: 'C zlib deflate -1, one core', megabytesPerSecond: rawMB / deflate, ratio: rawBytes / storedBytes, peakRssMiB: null, cpuSeconds: deflate, seconds: deflate });
      record({ operation: 'restore', tool: 'C zlib inflate, one core', megabytesPerSecond: rawMB / inflate, ratio: null, peakRssMiB: null, cpuSeconds: inflate, seconds: inflate });
    } else note(`C zlib reference skipped: python3 failed (${run.stderr.trim().split('\n').pop()})`);
  }
  for (const [tool, compress, decompressTool, decompress, ext] of [
    ['gzip -1', 'gzip -1 -c', 'gzip -d', 'gzip -d -c', 'gz'],
    ['zstd -1 -T0', 'zstd -1 -T0 -q -c', 'zstd -d', 'zstd -d -q -c', 'zst'],
  ] as const) {
    const stored = join(work, `raw.${ext}`);
    await reference('backup', tool, `${compress} ${q(rawPath)} > ${q(stored)} && sync ${q(stored)}`, async () => rawBytes / (await stat(stored)).size);
    dropCaches();
    await reference('restore', decompressTool, `${decompress} ${q(stored)} > ${shmCopy}; rm -f ${shmCopy}`);
    await rm(stored);
  }
}
// S3 on loopback, on each server of --s3-servers (default both): s3rver (a
// Node process: it, not the network, is the limit) and Ceph RGW, a production
// S3 server (a single-node cluster brought up here, ~17 s, installed with apt
// when missing and root; skipped with the reason otherwise).
interface BenchS3Server {
  readonly label: string;
  readonly endpoint: string;
  readonly env: Readonly<Record<string, string>>;
  stop(): Promise<void>;
}
async function startBenchS3Server(kind: string): Promise<BenchS3Server | undefined> {
  if (kind === 's3rver') {
    const server = await startS3Server({ buckets: ['shmsnap-bench'] });
    return { label: 's3rver', endpoint: server.endpoint, env: { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1' }, stop: () => server.stop() };
  }
  if (kind === 'rgw') {
    try {
      const rgw = await startRgw({ buckets: ['shmsnap-bench'], log: (line) => note(`rgw: ${line}`) });
      return { label: 'Ceph RGW', endpoint: rgw.endpoint, env: { AWS_ACCESS_KEY_ID: rgw.accessKeyId, AWS_SECRET_ACCESS_KEY: rgw.secretAccessKey, AWS_REGION: 'us-east-1' }, stop: () => rgw.stop() };
    } catch (error) {
      if (!(error instanceof RgwUnavailable)) throw error;
      note(`S3 rows on Ceph RGW skipped: ${error.message}`);
      return undefined;
    }
  }
  throw new Error(`--s3-servers: unknown server '${kind}' (s3rver, rgw)`);
}
const s3Labels: string[] = [];
for (const kind of s3Codecs.length > 0 ? s3Servers : []) {
  const server = await startBenchS3Server(kind);
  if (server === undefined) continue;
  s3Labels.push(server.label);
  Object.assign(process.env, server.env);
  try {
    for (let round = 0; round < repeat; round++) {
      for (const codec of s3Codecs) {
        const location = `s3://shmsnap-bench/round${round}-${codec}`;
        note(`round ${round + 1}/${repeat}: shmsnap backup to S3 on ${server.label} (${codec})`);
        const backup = await shmsnap(['backup', '--to', location, '--codec', codec, '--threads', String(threads), '--s3-endpoint', server.endpoint]);
        record({ operation: 'backup', tool: `shmsnap ${codec} → S3 (${server.label}, loopback)`, megabytesPerSecond: rawMB / backup.seconds, ratio: rawBytes / Number(backup.result.storedBytes), peakRssMiB: backup.peakRssBytes / MiB, cpuSeconds: backup.cpuSeconds, seconds: backup.seconds });
        await fixture.remove();
        note(`round ${round + 1}/${repeat}: shmsnap restore from S3 on ${server.label} (${codec})`);
        const restore = await shmsnap(['restore', '--from', location, '--threads', String(threads), '--s3-endpoint', server.endpoint]);
        record({ operation: 'restore', tool: `shmsnap ${codec} ← S3 (${server.label}, loopback)`, megabytesPerSecond: rawMB / restore.seconds, ratio: null, peakRssMiB: restore.peakRssBytes / MiB, cpuSeconds: restore.cpuSeconds, seconds: restore.seconds });
        if (round === 0) {
          const differences = await fixture.compare();
          if (differences.length > 0) throw new Error(`restore from S3 on ${server.label} (${codec}) differs: ${JSON.stringify(differences)}`);
        }
        // The same objects fetched by plain parallel ranged GETs: what the server sustains, nothing done to the bytes.
        const concurrency = threads * 2;
        note(`round ${round + 1}/${repeat}: ${concurrency} parallel ranged GETs of the same objects on ${server.label} (${codec})`);
        const fetched = await rangedGets(server.endpoint, 'shmsnap-bench', `round${round}-${codec}/`, concurrency, 16);
        record({ operation: 'restore', tool: `ranged GETs ×${concurrency}, 16 MiB, of the ${codec} objects (${server.label})`, megabytesPerSecond: rawMB / fetched.seconds, ratio: null, peakRssMiB: null, cpuSeconds: fetched.cpuSeconds, seconds: fetched.seconds });
      }
    }
  } finally {
    await server.stop();
  }
}
const rows = medianRows();
await fixture.remove();

let engines: EngineRow[] = [];
if (withEngines) {
  const sample = Buffer.alloc(engineMib * MiB);
  fillIndexContent(sample, 2026);
  engines = await measureEngines(sample, runs, note);
}
await rm(work, { recursive: true, force: true });

// ---- report ----------------------------------------------------------------
const find = (operation: string, tool: string): Row | undefined => rows.find((r) => r.operation === operation && r.tool === tool);
const targets: { target: string; value: number | null; goal: number; unit: string }[] = [];
const ratioOf = (a: Row | undefined, b: Row | undefined): number | null => (a && b ? a.megabytesPerSecond / b.megabytesPerSecond : null);
targets.push({ target: 'none backup vs cat', value: ratioOf(find('backup', 'shmsnap none'), find('backup', 'cat')), goal: 0.9, unit: '×' });
targets.push({ target: 'none restore vs cold read, 2 readers', value: ratioOf(find('restore', 'shmsnap none'), find('restore', 'cold read, 2 parallel readers')), goal: 0.9, unit: '×' });
targets.push({ target: 'none backup vs dd ×2 conv=fsync', value: ratioOf(find('backup', 'shmsnap none'), find('backup', 'dd ×2 conv=fsync')), goal: 0.9, unit: '×' });
targets.push({ target: 'gzip-1 backup vs C zlib deflate -1 (one core)', value: ratioOf(find('backup', 'shmsnap gzip'), find('backup', 'C zlib deflate -1, one core')), goal: 1.8, unit: '×' });
targets.push({ target: 'gzip restore (indexed) vs C zlib inflate (one core)', value: ratioOf(find('restore', 'shmsnap gzip'), find('restore', 'C zlib inflate, one core')), goal: 1.8, unit: '×' });
targets.push({ target: 'gzip restore (ASMT files) vs C zlib inflate (one core)', value: ratioOf(find('restore', 'shmsnap gzip, no index (ASMT files)'), find('restore', 'C zlib inflate, one core')), goal: 1.8, unit: '×' });
targets.push({ target: 'zstd restore vs zstd -d', value: ratioOf(find('restore', 'shmsnap zstd'), find('restore', 'zstd -d')), goal: 1.8, unit: '×' });
for (const label of s3Labels) {
  for (const codec of s3Codecs) {
    const concurrency = threads * 2;
    targets.push({ target: `S3 ${codec} restore vs ranged GETs ×${concurrency} of the same objects (${label})`, value: ratioOf(find('restore', `shmsnap ${codec} ← S3 (${label}, loopback)`), find('restore', `ranged GETs ×${concurrency}, 16 MiB, of the ${codec} objects (${label})`)), goal: 0.8, unit: '×' });
  }
}
targets.push({ target: 'none restore vs cat', value: ratioOf(find('restore', 'shmsnap none'), find('restore', 'cat')), goal: 0.9, unit: '×' });
targets.push({ target: 'gzip-1 backup vs gzip -1', value: ratioOf(find('backup', 'shmsnap gzip'), find('backup', 'gzip -1')), goal: 1.8, unit: '×' });
targets.push({ target: 'gzip-1 restore vs gzip -d', value: ratioOf(find('restore', 'shmsnap gzip'), find('restore', 'gzip -d')), goal: 1.0, unit: '×' });
for (const codec of encryptedCodecs) {
  // Encryption must cost less than 10% of the codec's throughput (issue 15).
  targets.push({ target: `${codec} backup encrypted vs not`, value: ratioOf(find('backup', `shmsnap ${codec}, encrypted`), find('backup', `shmsnap ${codec}`)), goal: 0.9, unit: '×' });
  targets.push({ target: `${codec} restore encrypted vs not`, value: ratioOf(find('restore', `shmsnap ${codec}, encrypted`), find('restore', `shmsnap ${codec}`)), goal: 0.9, unit: '×' });
}
targets.push({ target: 'zstd-1 backup vs zstd -1 -T0', value: ratioOf(find('backup', 'shmsnap zstd'), find('backup', 'zstd -1 -T0')), goal: 1.0, unit: '×' });
targets.push({ target: 'zstd-1 restore vs zstd -d', value: ratioOf(find('restore', 'shmsnap zstd'), find('restore', 'zstd -d')), goal: 0.9, unit: '×' });
/** How much larger (%) tool a's stored bytes are than tool b's; negative when smaller. */
const sizeRatio = (a: string, b: string): number | null => {
  const x = find('backup', a)?.ratio;
  const y = find('backup', b)?.ratio;
  return x && y ? (y / x - 1) * 100 : null;
};
const peak = Math.max(...rows.filter((r) => r.peakRssMiB !== null).map((r) => r.peakRssMiB!));
const checks = [
  ...targets.map((t) => ({ target: `${t.target} ≥ ${t.goal}×`, value: t.value === null ? 'n/a' : `${t.value.toFixed(2)}×`, ok: t.value === null ? null : t.value >= t.goal })),
  { target: "gzip stored size at most 1% above gzip -1's", value: sizeRatio("shmsnap gzip", "gzip -1") === null ? "n/a" : `${sizeRatio("shmsnap gzip", "gzip -1")!.toFixed(2)}%`, ok: sizeRatio("shmsnap gzip", "gzip -1") === null ? null : sizeRatio("shmsnap gzip", "gzip -1")! <= 1 },
  { target: "zstd stored size at most 1% above zstd -1's", value: sizeRatio('shmsnap zstd', 'zstd -1 -T0') === null ? 'n/a' : `${sizeRatio('shmsnap zstd', 'zstd -1 -T0')!.toFixed(2)}%`, ok: sizeRatio('shmsnap zstd', 'zstd -1 -T0') === null ? null : sizeRatio('shmsnap zstd', 'zstd -1 -T0')! <= 1 },
  { target: 'peak RSS (without shared memory) < 300 MiB', value: `${peak.toFixed(0)} MiB`, ok: peak < 300 },
];

const machine = `${cpus().length} × ${cpus()[0]?.model.trim() ?? 'cpu'}, ${(totalmem() / 1024 ** 3).toFixed(0)} GiB RAM, Node ${process.version}, disk under ${dir}`;
const cell = (value: number | null, digits = 0): string => (value === null ? '-' : value.toFixed(digits));
const lines: string[] = [];
lines.push(`shmsnap benchmark: ${(rawBytes / MiB).toFixed(0)} MiB of index-like data (${fixture.segments.length} segments), --threads ${threads}, median of ${repeat} runs`);
lines.push(`machine: ${machine}`);
lines.push('');
lines.push('| operation | tool | MB/s | ratio | peak RSS MiB | CPU s | wall s |');
lines.push('|---|---|---:|---:|---:|---:|---:|');
for (const r of rows) lines.push(`| ${r.operation} | ${r.tool} | ${cell(r.megabytesPerSecond)} | ${cell(r.ratio, 3)} | ${cell(r.peakRssMiB)} | ${cell(r.cpuSeconds, 1)} | ${cell(r.seconds, 2)} |`);
lines.push('');
lines.push('| target | measured | met |');
lines.push('|---|---:|:---:|');
for (const c of checks) lines.push(`| ${c.target} | ${c.value} | ${c.ok === null ? '-' : c.ok ? 'yes' : 'NO'} |`);
if (engines.length > 0) {
  lines.push('');
  lines.push(`Engines, one core, in memory, ${engineMib} MiB of the same kind of data, median of ${runs}:`);
  lines.push('');
  lines.push('| engine | level | compress MB/s | decompress MB/s | ratio |');
  lines.push('|---|---|---:|---:|---:|');
  for (const e of engines) lines.push(`| ${e.engine} | ${e.level} | ${cell(e.compressMBps)} | ${cell(e.decompressMBps)} | ${cell(e.ratio, 3)} |`);
}
const report = lines.join('\n');
process.stdout.write(`${report}\n`);
const json = { date: new Date().toISOString(), machine, rawBytes, threads, repeat, rows, samples: [...samples.values()].flat(), checks, engines };
await mkdir(dir, { recursive: true });
await writeFile(join(dir, 'results.json'), `${JSON.stringify(json, null, 2)}\n`);
await writeFile(join(dir, 'results.md'), `${report}\n`);
note(`wrote ${join(dir, 'results.json')} and results.md`);
