/**
 * The few facts shmsnap reads about processes, from a /proc root that unit
 * tests replace with a directory of their own (`procRoot`). Everything here
 * is best effort: a process may end between two reads, and /proc mounted
 * with `hidepid` hides other users' processes, so "unknown" is a value.
 */
import { readFileSync, readlinkSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

export const DEFAULT_PROC_ROOT = '/proc';

/** The inode of Linux's initial IPC namespace (PROC_IPC_INIT_INO): a host's own, outside any `unshare --ipc` or container. */
export const INITIAL_IPC_NAMESPACE = 4026531839;

export interface ProcessFacts {
  readonly pid: number;
  /** /proc/<pid>/comm: the executable's name, at most 15 characters. */
  readonly comm: string | null;
  /** /proc/<pid>/cmdline split at NULs; null when it cannot be read. */
  readonly argv: readonly string[] | null;
  /** The inode of its IPC namespace (/proc/<pid>/ns/ipc → `ipc:[N]`); null when hidden. */
  readonly ipcNamespace: number | null;
}

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'latin1');
  } catch {
    return null;
  }
}

/** `ipc:[4026531839]` → 4026531839. */
export function ipcNamespaceOf(procRoot: string, pid: number | 'self'): number | null {
  try {
    const match = /^ipc:\[(\d+)\]$/.exec(readlinkSync(join(procRoot, String(pid), 'ns', 'ipc')));
    return match ? Number(match[1]) : null;
  } catch {
    return null;
  }
}

export function readProcess(procRoot: string, pid: number): ProcessFacts | undefined {
  const comm = readText(join(procRoot, String(pid), 'comm'));
  const cmdline = readText(join(procRoot, String(pid), 'cmdline'));
  if (comm === null && cmdline === null) return undefined;
  const argv = cmdline === null ? null : cmdline.split('\0').filter((arg, i, all) => !(arg === '' && i === all.length - 1));
  return { pid, comm: comm === null ? null : comm.replace(/\n$/, ''), argv, ipcNamespace: ipcNamespaceOf(procRoot, pid) };
}

/** The pids /proc lists (thread-group leaders only). */
export function listPids(procRoot: string): number[] {
  try {
    return readdirSync(procRoot).filter((name) => /^\d+$/.test(name)).map(Number);
  } catch {
    return [];
  }
}

/** A command line as one printable line (NULs as spaces, control characters escaped), at most 200 characters. */
export function commandLineOf(argv: readonly string[] | null): string | null {
  if (argv === null || argv.length === 0) return null;
  const text = argv.join(' ').replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return text.length > 200 ? `${text.slice(0, 197)}...` : text;
}

/** kill(pid, 0): a process exists when it succeeds or is refused (EPERM: another user's). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
