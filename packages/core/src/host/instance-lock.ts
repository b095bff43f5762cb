/**
 * The host lock: two shmsnap runs that touch the same instance's segments
 * (backup, restore, clear, and `asmt -b`/`-r`) never run at once.
 *
 * Why flock(2) on a file, through the shm addon (`TryLockFile`), and not a
 * pid file created with `open(O_EXCL)`: the kernel drops an flock with the
 * last descriptor of its holder, however the holder ends (SIGKILL, OOM
 * kill, power loss takes /run with it), so a crashed run never blocks the
 * next one and there is nothing to judge stale. A pid file needs exactly
 * that judgement, and two runs that both find the same stale file can both
 * take it over (or a reused pid keeps a dead run's lock alive). Node has no
 * flock; the addon's is 15 lines of C++.
 *
 * - One file per instance and IPC namespace: `instance-<N>.lock` in the
 *   host's initial IPC namespace, `ipc-<inode>-instance-<N>.lock` in any
 *   other (runs in different IPC namespaces see different segments, and
 *   must not block each other: the tests run in one namespace each).
 * - The file is never removed: unlinking it while another run has it open
 *   would let a third lock a new file beside the old one.
 * - The holder writes its pid and command line into it, for the refusal;
 *   the refusal prefers /proc/<pid>/cmdline, which proves the pid is alive.
 * - Directory: `lockDir` (SHMSNAP_LOCK_DIR through the CLI), default
 *   /run/shmsnap (created 0755). When the default cannot be used (no
 *   /run, not writable for an unprivileged user), an existing lock file
 *   there is still locked read-only (flock needs no write access), else the
 *   lock goes to $XDG_RUNTIME_DIR/shmsnap or <tmpdir>/shmsnap-<uid> (0700),
 *   with a note: that lock excludes only this user's runs.
 */
import { closeSync, constants, fstatSync, ftruncateSync, lstatSync, mkdirSync, openSync, readSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { errInstanceLocked, errIoFailed, errPermissionDenied } from '../errors.js';
import { commandLineOf, DEFAULT_PROC_ROOT, INITIAL_IPC_NAMESPACE, ipcNamespaceOf, readProcess } from './proc.js';

export const DEFAULT_LOCK_DIR = '/run/shmsnap';

/** flock(fd, LOCK_EX | LOCK_NB): true when taken, false when another open file holds it; throws on any other failure. */
export type TryLockFile = (fd: number) => boolean;

export interface InstanceLockOptions {
  readonly tryLock: TryLockFile;
  /** @default DEFAULT_LOCK_DIR, with the fallback above */
  readonly lockDir?: string;
  /** @default DEFAULT_PROC_ROOT */
  readonly procRoot?: string;
}

export interface HeldInstanceLock {
  readonly instance: number;
  readonly path: string;
  /** Why the lock is not where it is by default, if it is not. */
  readonly note?: string;
  /** Closes the file, which drops the lock. Idempotent. */
  release(): void;
}

/** The lock file's name for `instance` in the IPC namespace `ipcNamespace` (null: unknown, taken as the host's). */
export function lockFileName(instance: number, ipcNamespace: number | null): string {
  return ipcNamespace === null || ipcNamespace === INITIAL_IPC_NAMESPACE ? `instance-${instance}.lock` : `ipc-${ipcNamespace}-instance-${instance}.lock`;
}

const UNUSABLE = new Set(['EACCES', 'EPERM', 'EROFS', 'ENOENT', 'ENOTDIR']);
const codeOf = (error: unknown): string | undefined => (error as NodeJS.ErrnoException | undefined)?.code;

function failure(what: string, path: string, error: unknown): Error {
  return codeOf(error) === 'EACCES' || codeOf(error) === 'EPERM' ? errPermissionDenied(what, path, error) : errIoFailed(what, path, error);
}

/** Opens (creating if need be) the lock file; read-only when it exists but is not ours to write. */
function openLockFile(dir: string, name: string, mode: number): { fd: number; writable: boolean } {
  mkdirSync(dir, { recursive: true, mode });
  const path = join(dir, name);
  const nofollow = constants.O_NOFOLLOW | constants.O_NONBLOCK;
  let opened: { fd: number; writable: boolean };
  try {
    opened = { fd: openSync(path, constants.O_RDWR | constants.O_CREAT | nofollow, 0o644), writable: true };
  } catch (error) {
    if (codeOf(error) !== 'EACCES' && codeOf(error) !== 'EROFS') throw error;
    opened = { fd: openSync(path, constants.O_RDONLY | nofollow), writable: false };
  }
  if (!fstatSync(opened.fd).isFile()) {
    closeSync(opened.fd);
    throw Object.assign(new Error(`${path} is not a regular file`), { code: 'EINVAL' });
  }
  return opened;
}

/** A per-user directory for when the shared one cannot be used: ours, 0700, not a link. */
function userLockDir(): string {
  const runtime = process.env.XDG_RUNTIME_DIR;
  const dir = runtime ? join(runtime, 'shmsnap') : join(tmpdir(), `shmsnap-${process.getuid?.() ?? 'user'}`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = lstatSync(dir);
  if (!st.isDirectory() || (process.getuid && st.uid !== process.getuid())) throw Object.assign(new Error(`${dir} is not a directory of this user`), { code: 'EPERM' });
  return dir;
}

function readHolder(fd: number): { pid: number | null; commandLine: string | null } {
  const buffer = Buffer.alloc(4096);
  let text = '';
  try {
    text = buffer.subarray(0, readSync(fd, buffer, 0, buffer.length, 0)).toString('utf8');
  } catch {
    // unreadable: the holder is unknown
  }
  try {
    const value = JSON.parse(text) as { pid?: unknown; commandLine?: unknown };
    return {
      pid: typeof value.pid === 'number' && Number.isSafeInteger(value.pid) ? value.pid : null,
      commandLine: typeof value.commandLine === 'string' ? value.commandLine : null,
    };
  } catch {
    return { pid: null, commandLine: null };
  }
}

/**
 * Takes the lock of `instance`, or refuses with INSTANCE_LOCKED naming the
 * holder (pid, command line) and the lock file. Never waits.
 */
export function acquireInstanceLock(instance: number, options: InstanceLockOptions): HeldInstanceLock {
  const procRoot = options.procRoot ?? DEFAULT_PROC_ROOT;
  const name = lockFileName(instance, ipcNamespaceOf(procRoot, 'self'));
  let dir = options.lockDir ?? DEFAULT_LOCK_DIR;
  let note: string | undefined;
  let opened: { fd: number; writable: boolean };
  try {
    opened = openLockFile(dir, name, 0o755);
  } catch (error) {
    // A directory the caller chose is used or refused, never silently replaced.
    if (options.lockDir !== undefined || !UNUSABLE.has(codeOf(error) ?? '')) throw failure('opening the lock file', join(dir, name), error);
    const fallback = dir;
    try {
      dir = userLockDir();
      opened = openLockFile(dir, name, 0o700);
    } catch (second) {
      throw failure('opening the lock file', join(dir, name), second);
    }
    note = `${fallback} cannot be used (${codeOf(error)}): the lock is ${join(dir, name)}, which excludes only this user's runs`;
  }
  const path = join(dir, name);
  let taken: boolean;
  try {
    taken = options.tryLock(opened.fd);
  } catch (error) {
    closeSync(opened.fd);
    throw failure('locking', path, error);
  }
  if (!taken) {
    const recorded = readHolder(opened.fd);
    closeSync(opened.fd);
    const live = recorded.pid === null ? undefined : readProcess(procRoot, recorded.pid);
    throw errInstanceLocked(instance, path, { pid: recorded.pid, commandLine: commandLineOf(live?.argv ?? null) ?? recorded.commandLine });
  }
  if (opened.writable) {
    try {
      const record = Buffer.from(`${JSON.stringify({ pid: process.pid, startedAt: new Date().toISOString(), commandLine: commandLineOf(process.argv) })}\n`);
      ftruncateSync(opened.fd, 0);
      writeSync(opened.fd, record, 0, record.length, 0);
    } catch {
      // The lock holds without the record; a refused run then names no pid.
    }
  }
  let fd: number | undefined = opened.fd;
  return {
    instance,
    path,
    ...(note === undefined ? {} : { note }),
    release() {
      if (fd === undefined) return;
      closeSync(fd);
      fd = undefined;
    },
  };
}
