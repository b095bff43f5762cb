// Runs one shmsnap command of the built CLI under strace, either plainly (to
// list the calls it makes) or with one call failing or killing the process.
//
// How calls are counted: strace counts injectable calls per syscall and per
// tracee (thread). The CLI is started through launch.mjs, which loads every
// module first and then waits; strace attaches (`-f -p PID`, all threads and
// any started later) and only then is the run released. So call N of a
// syscall is the N-th call the run makes in some thread, never one of Node's
// start-up. A failure point is (syscall, N) for N = 1 … the most calls of
// that syscall any one thread made in the plain run; the injection hits the
// N-th call of every thread that makes that many (for file I/O almost
// always the one libuv thread: UV_THREADPOOL_SIZE=1 keeps the counts stable).
// Each injected run is traced too (`-y`: paths of descriptors), so the test
// knows which call failed: one on the location, the lock directory or shared
// memory ("of interest"), or elsewhere (an eventfd, stdout, /proc, V8's own
// madvise), where only the invariants are asserted, not the message.
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

export const LAUNCHER = fileURLToPath(new URL('./launch.mjs', import.meta.url));
export const STRACE = '/usr/bin/strace';

/** Every I/O call of the issue's list that a backup or restore makes (close is left out: its failures change nothing on Linux). */
export const SYSCALLS = [
  'openat', 'read', 'pread64', 'write', 'pwrite64', 'fsync', 'fdatasync', 'link', 'linkat', 'rename', 'renameat', 'renameat2', 'unlink', 'unlinkat',
  'mkdir', 'mkdirat', 'rmdir', 'fchown', 'fchmod', 'ftruncate', 'getdents64', 'flock', 'shmget', 'shmat', 'shmdt', 'shmctl', 'madvise',
] as const;
export type Syscall = (typeof SYSCALLS)[number];
const WRITES = new Set<string>(['write', 'pwrite64', 'ftruncate', 'fsync', 'fdatasync', 'link', 'linkat', 'rename', 'renameat', 'renameat2', 'mkdir', 'mkdirat']);

export type FaultMode = 'EIO' | 'ENOSPC' | 'SIGKILL';

/** The modes tried at a point: EIO and SIGKILL everywhere, ENOSPC where a full disk can answer. */
export function modesFor(syscall: string): FaultMode[] {
  return WRITES.has(syscall) ? ['EIO', 'ENOSPC', 'SIGKILL'] : ['EIO', 'SIGKILL'];
}

export interface TracedCall {
  readonly tid: number;
  readonly syscall: string;
  readonly line: string;
  readonly injected: boolean;
}

export interface TracedRun {
  readonly status: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
  readonly calls: readonly TracedCall[];
  /** The call the injection hit (the first marked INJECTED, or for a kill the last call before the process died). */
  readonly hit?: TracedCall;
}

export interface TraceOptions {
  readonly args: readonly string[];
  readonly traceFile: string;
  readonly inject?: { readonly syscall: string; readonly n: number; readonly mode: FaultMode };
  /** @default 60000 */
  readonly timeoutMs?: number;
}

const CALL = /^(\d+)\s+(?:<\.\.\. )?([a-z0-9_]+)[( ]/;

export async function tracedRun(options: TraceOptions): Promise<TracedRun> {
  const cli = spawn(process.execPath, [LAUNCHER, ...options.args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, UV_THREADPOOL_SIZE: '1', NODE_OPTIONS: '' },
  });
  let stdout = '';
  let stderr = '';
  cli.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const exited = new Promise<{ status: number | null; signal: NodeJS.Signals | null }>((resolve) => cli.once('exit', (status, signal) => resolve({ status, signal })));
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      stderr += chunk.toString();
      if (stderr.includes('FAULTS-READY\n')) {
        cli.stderr.off('data', onData);
        resolve();
      }
    };
    cli.stderr.on('data', onData);
    cli.once('exit', () => reject(new Error(`the launcher exited before it was ready: ${stderr}`)));
  });
  stderr = stderr.replace('FAULTS-READY\n', '');
  cli.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));

  const { inject } = options;
  const injection = inject ? ['-e', `inject=${inject.syscall}:${inject.mode === 'SIGKILL' ? 'signal=SIGKILL' : `error=${inject.mode}`}:when=${inject.n}`] : [];
  const tracer = spawn(STRACE, ['-f', '-y', '-o', options.traceFile, '-e', `trace=${SYSCALLS.join(',')}`, ...injection, '-p', String(cli.pid)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let tracerErr = '';
  const traced = new Promise<void>((resolve) => tracer.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    tracer.stderr.on('data', (chunk: Buffer) => {
      tracerErr += chunk.toString();
      if (/attached/.test(tracerErr)) resolve();
    });
    tracer.once('exit', (code) => reject(new Error(`strace exited (${code}) before attaching: ${tracerErr}`)));
  });
  cli.kill('SIGUSR2');

  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    cli.kill('SIGKILL');
  }, options.timeoutMs ?? 60_000);
  const { status, signal } = await exited;
  clearTimeout(timer);
  await traced;

  const calls: { tid: number; syscall: string; line: string; injected: boolean }[] = [];
  for (const line of (await readFile(options.traceFile, 'utf8')).split('\n')) {
    const match = CALL.exec(line);
    if (!match) continue;
    const tid = Number(match[1]);
    if (line.includes(' resumed>')) {
      // When threads interleave, strace ends a call on a line of its own; the injection shows there
      // (missing it once made an injected eventfd write look like "not reached").
      const begun = calls.findLast((c) => c.tid === tid && c.syscall === match[2]);
      if (begun && line.includes('(INJECTED)')) {
        begun.injected = true;
        begun.line = `${begun.line.replace(/<unfinished \.\.\.>$/, '')}${line.replace(/^\d+\s+<\.\.\. [a-z0-9_]+ resumed>/, '')}`;
      }
      continue;
    }
    calls.push({ tid, syscall: match[2]!, line, injected: line.includes('(INJECTED)') });
  }
  let hit = calls.find((c) => c.injected);
  if (!hit && inject?.mode === 'SIGKILL' && signal === 'SIGKILL' && !timedOut) {
    hit = [...calls].reverse().find((c) => c.syscall === inject.syscall);
  }
  return { status, signal, stdout, stderr, timedOut, calls, ...(hit ? { hit } : {}) };
}

export interface FailurePoint {
  readonly syscall: string;
  readonly n: number;
  /** The call of the plain run it stands for. */
  readonly line: string;
}

/**
 * The failure points of a plain run: (syscall, N) for every call of interest,
 * N its index among that thread's calls of the syscall. Calls elsewhere (the
 * ESM loader's lazy imports, /proc of every process on the host, stdout, the
 * event loop's eventfd) are counted but are not points.
 */
export function failurePoints(calls: readonly TracedCall[], paths: readonly string[]): FailurePoint[] {
  const perThread = new Map<string, number>();
  const points = new Map<string, FailurePoint>();
  for (const call of calls) {
    const key = `${call.tid}/${call.syscall}`;
    const n = (perThread.get(key) ?? 0) + 1;
    perThread.set(key, n);
    if (ofInterest(call, paths) && !points.has(`${call.syscall}/${n}`)) points.set(`${call.syscall}/${n}`, { syscall: call.syscall, n, line: call.line });
  }
  const order = (p: FailurePoint): number => SYSCALLS.indexOf(p.syscall as Syscall);
  return [...points.values()].sort((a, b) => order(a) - order(b) || a.n - b.n);
}

/** `count` points spread evenly over `points` (all of them when there are fewer). */
export function sampleEvenly<T>(points: readonly T[], count: number): T[] {
  if (count >= points.length) return [...points];
  const out: T[] = [];
  for (let i = 0; i < count; i++) out.push(points[Math.floor(((i + 0.5) * points.length) / count)]!);
  return out;
}

/** Whether the call touched what the run is about: the location, the lock directory, or shared memory. */
export function ofInterest(call: TracedCall, paths: readonly string[]): boolean {
  if (call.syscall.startsWith('shm') || call.syscall === 'flock') return true;
  if (call.syscall === 'madvise') return call.line.includes('MADV_POPULATE');
  return paths.some((p) => call.line.includes(p));
}
