// Runs the built CLIs as a user would, capturing exit status and output.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const SHMSNAP_BIN = fileURLToPath(new URL('../../packages/cli/dist/bin/shmsnap.js', import.meta.url));
export const ASMT_BIN = fileURLToPath(new URL('../../packages/cli/dist/bin/asmt.js', import.meta.url));

/**
 * Where the CLIs look for asd's pid file unless a test says otherwise: a path
 * that does not exist, so a pid file the host happens to hold
 * (/var/run/aerospike/asd.pid, the default) cannot make a run refuse with
 * ASD_RUNNING. Seen once in a full run: a test that never meant to test the
 * guard failed on a pid file no test wrote.
 */
export const NO_ASD_PID_FILE = join(tmpdir(), 'shmsnap-tests-no-such-dir', 'asd.pid');

export interface CliRun {
  readonly status: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly bin?: string;
  /** Run as this user and group (the tests run as root; a non-root run needs both). */
  readonly user?: { readonly uid: number; readonly gid: number };
  /** @default this process's */
  readonly cwd?: string;
  /** Runs the CLI through this command first (`setpriv --reuid=65534 ...`). */
  readonly wrapper?: readonly string[];
}

export interface RunningCli {
  readonly child: ChildProcessWithoutNullStreams;
  /** Resolves once stdout or stderr matched `pattern` (rejects if the process ends first). */
  waitFor(pattern: RegExp): Promise<void>;
  readonly done: Promise<CliRun>;
}

export function startCli(args: readonly string[], options: RunOptions = {}): RunningCli {
  const command = [...(options.wrapper ?? []), process.execPath, options.bin ?? SHMSNAP_BIN, ...args];
  const child = spawn(command[0]!, command.slice(1), {
    env: { SHMSNAP_ASD_PID_FILE: NO_ASD_PID_FILE, ...process.env, ...options.env },
    ...(options.cwd ? { cwd: options.cwd } : {}),
    stdio: ['pipe', 'pipe', 'pipe'],
    ...(options.user ? { uid: options.user.uid, gid: options.user.gid } : {}),
  });
  let stdout = '';
  let stderr = '';
  const waiters: { pattern: RegExp; resolve: () => void; reject: (error: Error) => void }[] = [];
  const check = (): void => {
    for (const waiter of [...waiters]) {
      if (waiter.pattern.test(stdout) || waiter.pattern.test(stderr)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    }
  };
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    check();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    check();
  });
  const done = new Promise<CliRun>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (status, signal) => {
      for (const waiter of waiters.splice(0)) waiter.reject(new Error(`exited (${status ?? signal}) before ${waiter.pattern}: ${stdout}${stderr}`));
      resolve({ status, signal, stdout, stderr });
    });
  });
  return {
    child,
    done,
    waitFor: (pattern) =>
      new Promise<void>((resolve, reject) => {
        waiters.push({ pattern, resolve, reject });
        check();
      }),
  };
}

/**
 * The environment that makes the CLI hold at `moment` (test/support/hold.mjs)
 * until it is sent SIGUSR2, or at `exit` until the file `release` exists: a
 * signal sent while it holds lands exactly there.
 */
export function holdAt(moment: 'exit' | 'pending-removal', release?: string): NodeJS.ProcessEnv {
  const preload = new URL('./hold.mjs', import.meta.url).href;
  return {
    NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import=${preload}`.trim(),
    SHMSNAP_TEST_HOLD: moment,
    ...(release === undefined ? {} : { SHMSNAP_TEST_HOLD_RELEASE: release }),
  };
}

export function runShmsnap(args: readonly string[], options: RunOptions = {}): Promise<CliRun> {
  const running = startCli(args, options);
  running.child.stdin.end();
  return running.done;
}

export function runAsmt(args: readonly string[], options: RunOptions = {}): Promise<CliRun> {
  return runShmsnap(args, { ...options, bin: ASMT_BIN });
}

/** The environment that makes the CLI's first fsync of a segment's object take `ms` longer (test/support/stall.mjs): its bytes stop moving. */
export function stallFirstSync(ms: number): NodeJS.ProcessEnv {
  const preload = new URL('./stall.mjs', import.meta.url).href;
  return { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import=${preload}`.trim(), SHMSNAP_TEST_STALL_MS: String(ms) };
}
