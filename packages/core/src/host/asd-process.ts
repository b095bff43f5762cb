/**
 * Is an Aerospike server (`asd`) alive for an instance? Backup and restore
 * must not run beside one even when no segment is attached: Aerospike 8.2's
 * index checkpoint leaves asd alive and detached ("parked") after
 * `checkpoint-save`, and an asd starting mid-restore breaks both.
 *
 * Two sources, because either can miss one:
 * - /proc: every process whose comm is `asd`, in this IPC namespace (an asd
 *   in another one — a container, an `unshare --ipc` — cannot see our
 *   segments), whose `--instance N` (asd's option; 0 when absent) is ours.
 *   An instance we cannot parse counts as ours: fail closed.
 * - the pid file (service `pidfile` of aerospike.conf; Aerospike's default
 *   /var/run/aerospike/asd.pid): with /proc mounted `hidepid`, another
 *   user's asd is invisible there, but kill(pid, 0) still tells it exists
 *   (EPERM). A pid whose comm we can read and is not `asd` is a stale file.
 */
import { readFileSync } from 'node:fs';
import { commandLineOf, DEFAULT_PROC_ROOT, ipcNamespaceOf, isProcessAlive, listPids, readProcess, type ProcessFacts } from './proc.js';

export const DEFAULT_ASD_PID_FILE = '/var/run/aerospike/asd.pid';

export interface RunningAsd {
  readonly pid: number;
  /** Its command line, or null where it cannot be read (hidepid). */
  readonly commandLine: string | null;
  /** Its `--instance`, null when unknown. */
  readonly instance: number | null;
  /** How it was found. */
  readonly via: 'proc' | 'pid-file';
}

export interface FindAsdOptions {
  /** @default DEFAULT_PROC_ROOT */
  readonly procRoot?: string;
  /** @default DEFAULT_ASD_PID_FILE; null: none */
  readonly pidFile?: string | null;
  /** @default isProcessAlive (kill(pid, 0)) */
  readonly isAlive?: (pid: number) => boolean;
}

/** asd's `--instance N` or `--instance=N` (getopt_long); 0 when absent (asd's default), null when unparsable. */
export function asdInstanceOf(argv: readonly string[]): number | null {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    let value: string | undefined;
    if (arg === '--instance') value = argv[i + 1];
    else if (arg.startsWith('--instance=')) value = arg.slice('--instance='.length);
    else continue;
    return value !== undefined && /^\d{1,2}$/.test(value) && Number(value) <= 15 ? Number(value) : null;
  }
  return 0;
}

const isAsd = (p: ProcessFacts): boolean => p.comm === 'asd';

/** Every asd alive for `instance` in this IPC namespace, as far as /proc and the pid file tell. */
export function findRunningAsd(instance: number, options: FindAsdOptions = {}): RunningAsd[] {
  const procRoot = options.procRoot ?? DEFAULT_PROC_ROOT;
  const ours = ipcNamespaceOf(procRoot, 'self');
  const sameNamespace = (p: ProcessFacts): boolean => ours === null || p.ipcNamespace === null || p.ipcNamespace === ours;
  const found = new Map<number, RunningAsd>();
  const consider = (p: ProcessFacts, via: RunningAsd['via']): void => {
    if (!isAsd(p) || !sameNamespace(p) || found.has(p.pid)) return;
    const of = p.argv === null ? null : asdInstanceOf(p.argv);
    if (of !== null && of !== instance) return;
    found.set(p.pid, { pid: p.pid, commandLine: commandLineOf(p.argv), instance: of, via });
  };
  for (const pid of listPids(procRoot)) {
    const p = readProcess(procRoot, pid);
    if (p) consider(p, 'proc');
  }
  const pidFile = options.pidFile === undefined ? DEFAULT_ASD_PID_FILE : options.pidFile;
  const pid = pidFile === null ? undefined : pidFromFile(pidFile);
  if (pid !== undefined && !found.has(pid)) {
    const p = readProcess(procRoot, pid);
    if (p && p.comm !== null) consider(p, 'pid-file');
    // Hidden from us (hidepid) but alive: the pid file is all we have, and we believe it.
    else if ((options.isAlive ?? isProcessAlive)(pid)) found.set(pid, { pid, commandLine: null, instance: null, via: 'pid-file' });
  }
  return [...found.values()].sort((a, b) => a.pid - b.pid);
}

function pidFromFile(path: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'latin1');
  } catch {
    return undefined;
  }
  const match = /^\s*(\d{1,10})\s*$/.exec(text);
  const pid = match ? Number(match[1]) : NaN;
  return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
}
