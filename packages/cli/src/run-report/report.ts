/**
 * `--run-log FILE` and `--metrics-file FILE` for backup and restore: after
 * the run, one record appended to the log (record.ts) and the metrics file
 * rewritten with this run merged in (metrics.ts). Called from one place,
 * `execute` (context.ts), which sees every outcome of every command; the
 * asmt frontend calls `reportRun` itself, per namespace run.
 *
 * Reporting never changes a run's exit status: a backup that committed must
 * not read as failed (a systemd unit would take the failure path) because a
 * monitoring file could not be written. A failure to write either file is
 * one warning line on stderr; the metrics' last-success timestamp, which
 * then stops advancing, is what alerting watches.
 */
import { mkdir, open, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { isShmsnapError, type TryLockFile } from '@shmsnap/core';
import { loadFileLock } from '@shmsnap/shm-native';
import { emptyMetrics, mergeRun, MetricsFileCorrupt, parseMetrics, renderMetrics, writeFileAtomic, type MetricsState } from './metrics.js';
import { appendRunRecord, runRecord, RUN_OPERATIONS, type ObservedRun, type RunOperation, type RunRecord } from './record.js';

const GROUP = 'Run records and metrics:';

export interface RunReportFlags {
  readonly runLog?: string;
  readonly metricsFile?: string;
}

/**
 * A file to write, as typed: refused when empty or blank (an unset shell
 * variable, which would otherwise only be a warning after the run) or when
 * it names a directory (a trailing slash).
 */
export function parseReportFile(value: string): string {
  if (value.trim() === '') throw new InvalidArgumentError('the file name is empty (an unset shell variable?)');
  if (value.endsWith('/')) throw new InvalidArgumentError(`'${value}' names a directory; give a file in it`);
  return value;
}

export function addRunReportOptions(command: Command): Command {
  command.addOption(
    new Option('--run-log <file>', 'append one JSON line describing this run (what, where, bytes, seconds, outcome, error code) to this file; its directory is created (docs/json.md, shmsnap.run-record/1)')
      .argParser(parseReportFile)
      .helpGroup(GROUP),
  );
  command.addOption(
    new Option('--metrics-file <file>', 'write Prometheus metrics of this run, merged with the file\'s earlier runs, to this file, atomically (for node_exporter\'s textfile collector: a *.prom file in its directory; docs/metrics.md)')
      .argParser(parseReportFile)
      .helpGroup(GROUP),
  );
  return command;
}

export function isRunOperation(what: string): what is RunOperation {
  return (RUN_OPERATIONS as readonly string[]).includes(what);
}

/** What the command's own output said (render/output.ts keeps its result document). */
export interface RunResultDocument {
  readonly location?: unknown;
  readonly instance?: unknown;
  readonly namespaces?: unknown;
  readonly codec?: unknown;
  readonly segments?: unknown;
  readonly rawBytes?: unknown;
  readonly storedBytes?: unknown;
  readonly seconds?: unknown;
}

/** The flags a record falls back on when the run ended before its result (the location redacted by the caller). */
export interface RunFallback {
  readonly location: string | null;
  readonly instance?: number;
  readonly namespaces?: readonly string[];
  readonly codec?: { readonly name: string; readonly level: number | null };
}

const num = (value: unknown): number | undefined => (typeof value === 'number' && Number.isFinite(value) ? value : undefined);

/** One run as the record sees it: the result document where there is one, else what the flags asked for. */
export function observeRun(input: {
  readonly operation: RunOperation;
  readonly exitStatus: number;
  readonly error?: unknown;
  readonly message?: string;
  readonly result?: RunResultDocument;
  readonly fallback: RunFallback;
  readonly startedAt: Date;
  readonly endedAt: Date;
  readonly tool: { readonly name: string; readonly version: string };
}): ObservedRun {
  const { result, fallback } = input;
  const namespaces = Array.isArray(result?.namespaces)
    ? (result.namespaces as { name: string | null; nsid: number }[]).map((n) => n.name ?? `nsid ${n.nsid}`)
    : (fallback.namespaces ?? null);
  const codec =
    input.operation === 'restore'
      ? null
      : result?.codec && typeof result.codec === 'object'
        ? (result.codec as { name: string; level: number | null })
        : (fallback.codec ?? null);
  const segments = num(result?.segments);
  const rawBytes = num(result?.rawBytes);
  const seconds = num(result?.seconds);
  const storedBytes = num(result?.storedBytes);
  const error = input.error === undefined ? undefined : { code: isShmsnapError(input.error) ? input.error.code : 'INTERNAL', message: input.message ?? (input.error instanceof Error ? input.error.message : String(input.error)) };
  return {
    operation: input.operation,
    exitStatus: input.exitStatus,
    ...(error ? { error } : {}),
    // A restore told no instance learns it from the location: a refusal before its result may still name it (ASD_RUNNING, INSTANCE_LOCKED).
    instance: num(result?.instance) ?? fallback.instance ?? (isShmsnapError(input.error) ? num(input.error.details.instance) : undefined) ?? null,
    namespaces,
    codec,
    location: typeof result?.location === 'string' ? result.location : fallback.location,
    hostname: hostname(),
    ...(segments !== undefined && rawBytes !== undefined && seconds !== undefined ? { transfer: { segments, rawBytes, seconds, ...(storedBytes === undefined ? {} : { storedBytes }) } } : {}),
    startedAt: input.startedAt,
    endedAt: input.endedAt,
    pid: process.pid,
    tool: input.tool,
  };
}

/** Takes the lock beside the metrics file; resolves to its release. */
export type MetricsLock = (path: string) => Promise<() => Promise<void>>;

/** How long a run waits for another one's metrics update (each holds it for a few milliseconds). */
export const METRICS_LOCK_WAIT_MS = 10_000;

/**
 * flock(2) on `<file>.lock` (not `*.prom`: the collector ignores it), so two
 * runs at once (two instances) never lose each other's counts between
 * reading the file back and replacing it.
 */
export function flockMetricsLock(tryLock: TryLockFile = loadFileLock(), waitMs = METRICS_LOCK_WAIT_MS): MetricsLock {
  return async (path) => {
    const handle = await open(path, 'a', 0o644);
    const until = Date.now() + waitMs;
    while (!tryLock(handle.fd)) {
      if (Date.now() > until) {
        await handle.close();
        throw new Error(`another shmsnap run held ${path} for more than ${waitMs / 1000} s`);
      }
      await sleep(20);
    }
    // Closing the file drops the lock; the lock file itself stays (removing it would race a waiter).
    return () => handle.close();
  };
}

/** Reads the previous metrics back; a missing file is none, a corrupt one is none with a warning. */
export async function previousMetrics(file: string, warn: (text: string) => void): Promise<MetricsState> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return emptyMetrics();
    throw error;
  }
  try {
    const parsed = parseMetrics(text);
    if (parsed.unknown.length > 0) warn(`the metrics file ${file} held metrics this version does not write (${parsed.unknown.join(', ')}): they are dropped`);
    return parsed.state;
  } catch (error) {
    if (!(error instanceof MetricsFileCorrupt)) throw error;
    warn(`the metrics file ${file} is not one shmsnap wrote (${error.message}): its counters start over`);
    return emptyMetrics();
  }
}

export async function updateMetricsFile(file: string, record: RunRecord, warn: (text: string) => void, lock: MetricsLock = flockMetricsLock()): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o755 });
  const release = await lock(`${file}.lock`);
  try {
    const state = mergeRun(await previousMetrics(file, warn), record);
    await writeFileAtomic(file, await renderMetrics(state));
  } finally {
    await release();
  }
}

function describe(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return isShmsnapError(error) ? `${error.code}: ${text}` : text;
}

export interface ReportTargets extends RunReportFlags {
  /** The metrics file's lock. @default flockMetricsLock() */
  readonly lock?: MetricsLock;
}

/** Writes the record and the metrics the flags ask for. Never throws: a failure is a warning (`warn`, one line each). */
export async function reportRun(targets: ReportTargets, run: ObservedRun, warn: (text: string) => void): Promise<RunRecord> {
  const record = runRecord(run);
  if (targets.runLog !== undefined) {
    await appendRunRecord(targets.runLog, record).catch((error: unknown) => warn(`the run record could not be appended to ${targets.runLog}: ${describe(error)}; the run's exit status is unchanged`));
  }
  if (targets.metricsFile !== undefined) {
    const file = targets.metricsFile;
    try {
      await updateMetricsFile(file, record, warn, targets.lock ?? flockMetricsLock());
    } catch (error) {
      warn(`the metrics file ${file} could not be written: ${describe(error)}; the run's exit status is unchanged`);
    }
  }
  return record;
}
