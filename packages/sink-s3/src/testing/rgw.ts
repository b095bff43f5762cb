/**
 * Ceph's RADOS Gateway, a production S3 server, for tests: a single-node
 * cluster (one monitor, one bluestore OSD on a sparse file, no mgr, no
 * cephx) and radosgw (beast) on 127.0.0.1, all in one temp directory, every
 * daemon started here and stopped here by PID. Bring-up takes 16–18 s on
 * this machine (toolchain.md), so one cluster serves a whole test run when
 * the runner starts it (`rgw-serve.ts`, SHMSNAP_TEST_RGW_STATE).
 *
 * The packages come from Debian (`radosgw ceph-mon ceph-osd`, ~14 s, 61 MB)
 * when missing; apt needs root, and a lock keeps parallel test processes
 * from running it twice. Without root or apt, `startRgw` says why instead
 * (an `RgwUnavailable`), and the caller skips with that reason.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { closeSync, openSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { freeLoopbackPort } from '@shmsnap/core/testkit';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RgwServer {
  /** `http://127.0.0.1:<port>` */
  readonly endpoint: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** The buckets created at start. */
  readonly buckets: readonly string[];
  /** The cluster's directory (config, logs, mon and OSD data). */
  readonly directory: string;
  /** The PIDs of the daemons this harness started. */
  readonly pids: readonly number[];
  /** Stops every daemon by PID (TERM, then KILL after 10 s) and removes the directory. */
  stop(): Promise<void>;
}

/** Why RGW cannot run here: the tests print it and skip. */
export class RgwUnavailable extends Error {
  override readonly name = 'RgwUnavailable';
}

export interface RgwOptions {
  /** Buckets to create. @default ['test'] */
  readonly buckets?: readonly string[];
  /** Where progress lines go (the bring-up is slow enough to be worth telling). @default nothing */
  readonly log?: (line: string) => void;
}

const BINARIES = ['ceph-mon', 'ceph-osd', 'radosgw', 'radosgw-admin', 'monmaptool', 'ceph'];
const APT_PACKAGES = ['radosgw', 'ceph-mon', 'ceph-osd'];
const APT_LOCK = join(tmpdir(), 'shmsnap-rgw-apt.lock');
/** apt-get update + install measured ~14 s here; a slow mirror gets ten times that. */
const APT_WAIT_MS = 300_000;
/** Bring-up measured 16–18 s alone; with the suite's other work on 2 cores, far more. */
const READY_WAIT_MS = 180_000;

function missingBinaries(): string[] {
  return BINARIES.filter((name) => spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status !== 0);
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Takes the apt lock (a file created exclusively, holding our PID; a dead holder's lock is taken over). */
async function withAptLock<T>(work: () => T): Promise<T> {
  const deadline = Date.now() + APT_WAIT_MS;
  for (;;) {
    try {
      const fd = openSync(APT_LOCK, 'wx');
      writeFileSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      let text: string;
      try {
        text = readFileSync(APT_LOCK, 'utf8');
      } catch {
        continue; // released meanwhile
      }
      const holder = Number(text);
      if (!Number.isInteger(holder) || holder <= 0 || !pidAlive(holder)) {
        // Just created and not yet filled in, or its holder died: give a writer a moment, then take it over.
        await sleep(200);
        try {
          if (readFileSync(APT_LOCK, 'utf8') === text) unlinkSync(APT_LOCK);
        } catch {
          /* gone already */
        }
        continue;
      }
      if (Date.now() > deadline) throw new RgwUnavailable(`another process (PID ${holder}) has been installing Ceph for over ${APT_WAIT_MS / 1000} s`);
      await sleep(500);
    }
  }
  try {
    return work();
  } finally {
    try {
      unlinkSync(APT_LOCK);
    } catch {
      /* removed by someone who took it over */
    }
  }
}

/** Installs radosgw, ceph-mon and ceph-osd from apt when missing; throws RgwUnavailable saying why it cannot. */
export async function ensureRgwInstalled(log: (line: string) => void = () => {}): Promise<void> {
  if (missingBinaries().length === 0) return;
  if (process.getuid?.() !== 0) throw new RgwUnavailable(`Ceph RGW is not installed (${missingBinaries().join(', ')} missing) and installing it with apt needs root`);
  await withAptLock(() => {
    if (missingBinaries().length === 0) return; // another process installed it while we waited
    log(`installing ${APT_PACKAGES.join(' ')} with apt-get (~15 s)`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const run = (args: string[]): void => {
      const result = spawnSync('apt-get', args, { env, encoding: 'utf8', timeout: APT_WAIT_MS });
      if (result.status !== 0) {
        const why = result.error?.message ?? (result.stderr || result.stdout).trim().split('\n').slice(-1)[0] ?? `exit ${result.status}`;
        throw new RgwUnavailable(`apt-get ${args[0]} failed: ${why}`);
      }
    };
    run(['update']);
    run(['install', '-y', '--no-install-recommends', ...APT_PACKAGES]);
  });
  const still = missingBinaries();
  if (still.length > 0) throw new RgwUnavailable(`apt installed Ceph but ${still.join(', ')} are still missing`);
}


function cephConf(dir: string, fsid: string, monPort: number, rgwPort: number): string {
  return `[global]
fsid = ${fsid}
mon host = v2:127.0.0.1:${monPort}
auth cluster required = none
auth service required = none
auth client required = none
ms bind ipv6 = false
run dir = ${dir}/run
admin socket = ${dir}/run/$name.asok
log file = ${dir}/log/$name.log
# One OSD and no mgr (toolchain.md): one copy, few PGs, no autoscaler, no host level in CRUSH;
# radosgw creates 7 pools, over the default PG limit per OSD.
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon max pg per osd = 1000
mon allow pool delete = true
[mon]
mon data = ${dir}/mon
[osd]
osd data = ${dir}/osd
osd objectstore = bluestore
# Beside the data dir, not at its own 'block' path: mkfs fails with ELOOP there.
bluestore block path = ${dir}/osd.block
bluestore block create = true
# Sparse: only what is written takes disk.
bluestore block size = ${20 * 1024 ** 3}
[client]
# Without cephx, radosgw loops on 'get_initial_auth_request returned -13' unless the client side is plain crc.
ms mon client mode = crc
rgw frontends = beast endpoint=127.0.0.1:${rgwPort}
rgw data = ${dir}/rgw
`;
}

/** Every daemon this process started, for the exit and signal handlers. */
const running = new Set<ChildProcess>();
const directories = new Set<string>();
let handlersInstalled = false;

function killAllNow(): void {
  for (const child of running) {
    if (child.pid !== undefined && child.exitCode === null) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }
  running.clear();
  for (const dir of directories) rmSync(dir, { recursive: true, force: true });
  directories.clear();
}

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.once('exit', killAllNow);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      killAllNow();
      // Die of the signal as we would have, unless someone else handles it.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    });
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) {
    running.delete(child);
    return;
  }
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const signal = (name: NodeJS.Signals): void => {
    try {
      process.kill(child.pid!, name);
    } catch {
      /* exited meanwhile */
    }
  };
  signal('SIGTERM');
  const timer = setTimeout(() => signal('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
  running.delete(child);
}

async function tail(file: string, lines = 5): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).trim().split('\n').slice(-lines).join(' | ');
  } catch {
    return '(no log)';
  }
}

export async function startRgw(options: RgwOptions = {}): Promise<RgwServer> {
  const log = options.log ?? (() => {});
  await ensureRgwInstalled(log);
  installHandlers();
  const started = Date.now();
  const dir = await mkdtemp(join(tmpdir(), 'shmsnap-rgw-'));
  directories.add(dir);
  const children: ChildProcess[] = [];
  const conf = join(dir, 'ceph.conf');

  /** A short tool run (mkfs, admin), failing with its output. */
  const tool = (command: string, args: string[]): string => {
    const result = spawnSync(command, ['-c', conf, ...args], { encoding: 'utf8', timeout: 120_000 });
    if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (${result.error?.message ?? `exit ${result.status}`}): ${(result.stderr || result.stdout).trim().split('\n').slice(-3).join(' | ')}`);
    return result.stdout;
  };
  /** A daemon in the foreground (-f), so the PID is the daemon's own; output to its log. */
  const daemon = async (command: string, args: string[], name: string): Promise<ChildProcess> => {
    const out = openSync(join(dir, 'log', `${name}.out`), 'a');
    const child = spawn(command, ['-c', conf, '-f', ...args], { stdio: ['ignore', out, out] });
    closeSync(out);
    running.add(child);
    children.push(child);
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
    return child;
  };
  const stopAll = async (): Promise<void> => {
    // radosgw first, the monitor last: each one's clients go before it.
    for (const child of [...children].reverse()) await stopChild(child);
    rmSync(dir, { recursive: true, force: true });
    directories.delete(dir);
  };

  try {
    const [monPort, rgwPort] = [await freeLoopbackPort(), await freeLoopbackPort()];
    for (const sub of ['mon', 'osd', 'run', 'log', 'rgw']) await mkdir(join(dir, sub));
    const fsid = randomUUID();
    await writeFile(conf, cephConf(dir, fsid, monPort, rgwPort));

    spawnSync('monmaptool', ['--create', '--add', 'a', `v2:127.0.0.1:${monPort}`, '--fsid', fsid, join(dir, 'monmap')], { stdio: 'ignore' });
    tool('ceph-mon', ['--mkfs', '-i', 'a', '--monmap', join(dir, 'monmap')]);
    const mon = await daemon('ceph-mon', ['-i', 'a'], 'mon');
    log(`mon up (PID ${mon.pid})`);

    const osdUuid = randomUUID();
    const id = tool('ceph', ['--connect-timeout', '60', 'osd', 'new', osdUuid]).trim();
    tool('ceph-osd', ['-i', id, '--mkfs', '--osd-uuid', osdUuid]);
    const osd = await daemon('ceph-osd', ['-i', id], 'osd');
    log(`osd.${id} up (PID ${osd.pid})`);

    const rgw = await daemon('radosgw', ['-n', 'client.rgw.shmsnap'], 'rgw');
    const endpoint = `http://127.0.0.1:${rgwPort}`;
    // radosgw listens once it has created its pools, which needs the OSD up.
    for (const deadline = Date.now() + READY_WAIT_MS; ; ) {
      const dead = children.find((child) => child.exitCode !== null || child.signalCode !== null);
      if (dead) throw new Error(`${dead.spawnfile} exited (${dead.exitCode ?? dead.signalCode}) during bring-up: ${await tail(join(dir, 'log', `${dead === rgw ? 'rgw' : dead === osd ? 'osd' : 'mon'}.out`))}`);
      try {
        await fetch(endpoint, { signal: AbortSignal.timeout(2000) });
        break;
      } catch {
        if (Date.now() > deadline) throw new Error(`radosgw did not answer on ${endpoint} within ${READY_WAIT_MS / 1000} s: ${await tail(join(dir, 'log', 'client.rgw.shmsnap.log'))}`);
        await sleep(250);
      }
    }
    log(`radosgw up on ${endpoint} (PID ${rgw.pid}) after ${((Date.now() - started) / 1000).toFixed(1)} s`);

    const accessKeyId = `SHMSNAP${randomBytes(6).toString('hex').toUpperCase()}`;
    const secretAccessKey = randomBytes(20).toString('base64url');
    tool('radosgw-admin', ['user', 'create', '--uid', 'shmsnap', '--display-name', 'shmsnap tests', '--access-key', accessKeyId, '--secret', secretAccessKey]);
    const buckets = options.buckets ?? ['test'];
    const { S3Client, CreateBucketCommand } = await import('@aws-sdk/client-s3');
    const client = new S3Client({ endpoint, forcePathStyle: true, region: 'us-east-1', credentials: { accessKeyId, secretAccessKey } });
    try {
      for (const bucket of buckets) await client.send(new CreateBucketCommand({ Bucket: bucket }));
    } finally {
      client.destroy();
    }
    return {
      endpoint,
      accessKeyId,
      secretAccessKey,
      buckets,
      directory: dir,
      pids: children.map((child) => child.pid!),
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
