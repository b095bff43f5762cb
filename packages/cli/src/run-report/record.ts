/**
 * The run record: one JSON line per backup or restore, appended to the file
 * `--run-log` names (cli/schemas/run-record.json, docs/json.md). What ran,
 * where, how much, how long, and how it ended, built from what the command
 * itself reported (its result document, the same numbers `--json` prints, or
 * its error) so the record cannot disagree with the run's output.
 */
import { mkdir, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { EXIT_INTERRUPTED, EXIT_OK, EXIT_REFUSED } from '../exit-codes.js';

export const RUN_RECORD_SCHEMA = 'shmsnap.run-record/1';

export const RUN_OPERATIONS = ['backup', 'restore'] as const;
export type RunOperation = (typeof RUN_OPERATIONS)[number];

/**
 * How a run ended, from its exit status (exit-codes.ts), so that a record,
 * the metrics and the shell always agree: 0 ok, 3 refused (a safety check
 * said no, nothing was written), 130 interrupted, anything else failed.
 */
export const RUN_OUTCOMES = ['ok', 'refused', 'failed', 'interrupted'] as const;
export type RunOutcome = (typeof RUN_OUTCOMES)[number];

export function outcomeOf(exitStatus: number): RunOutcome {
  if (exitStatus === EXIT_OK) return 'ok';
  if (exitStatus === EXIT_REFUSED) return 'refused';
  if (exitStatus === EXIT_INTERRUPTED) return 'interrupted';
  return 'failed';
}

export interface RunRecord {
  readonly schema: typeof RUN_RECORD_SCHEMA;
  readonly operation: RunOperation;
  readonly outcome: RunOutcome;
  readonly exitStatus: number;
  /** The error that decided the exit status; null for a run that succeeded. */
  readonly error: { readonly code: string; readonly message: string } | null;
  /** null: a restore not told its instance that ended before it learnt it from the location. */
  readonly instance: number | null;
  /** The namespaces the run covered (or was asked for); null: every namespace of the instance, not known because the run ended before its plan. */
  readonly namespaces: readonly string[] | null;
  /** The codec a backup wrote (as asked, when it ended before its plan); null for a restore (its manifests name theirs). */
  readonly codec: { readonly name: string; readonly level: number | null } | null;
  /** The location, as shmsnap prints it (secrets redacted by its sink's provider). */
  readonly location: string | null;
  readonly hostname: string;
  /** The transfer's numbers; null where the run did not get that far (or, `storedBytes`, for a restore). */
  readonly segments: number | null;
  readonly rawBytes: number | null;
  readonly storedBytes: number | null;
  /** Seconds of the transfer itself (the result's `seconds`), null without one. */
  readonly transferSeconds: number | null;
  /** Seconds from the command's start to its end: planning, checks and the transfer. */
  readonly seconds: number;
  readonly startedAt: string;
  readonly endedAt: string;
  readonly pid: number;
  readonly tool: { readonly name: string; readonly version: string };
}

/** What the run-report hook saw of one run (report.ts gathers it). */
export interface ObservedRun {
  readonly operation: RunOperation;
  readonly exitStatus: number;
  readonly error?: { readonly code: string; readonly message: string };
  readonly instance: number | null;
  readonly namespaces: readonly string[] | null;
  readonly codec: { readonly name: string; readonly level: number | null } | null;
  readonly location: string | null;
  readonly hostname: string;
  readonly transfer?: { readonly segments: number; readonly rawBytes: number; readonly storedBytes?: number; readonly seconds: number };
  readonly startedAt: Date;
  readonly endedAt: Date;
  readonly pid: number;
  readonly tool: { readonly name: string; readonly version: string };
}

/** Longest error message kept in a record: a record stays one short line (a `details.more` list can be long). */
export const RECORD_MESSAGE_MAX = 1000;

function oneLine(text: string): string {
  const line = text.replace(/\s*[\r\n]+\s*/g, ' ');
  return line.length > RECORD_MESSAGE_MAX ? `${line.slice(0, RECORD_MESSAGE_MAX - 1)}…` : line;
}

export function runRecord(run: ObservedRun): RunRecord {
  const exitStatus = run.exitStatus;
  return {
    schema: RUN_RECORD_SCHEMA,
    operation: run.operation,
    outcome: outcomeOf(exitStatus),
    exitStatus,
    error: exitStatus === EXIT_OK || !run.error ? null : { code: run.error.code, message: oneLine(run.error.message) },
    instance: run.instance,
    namespaces: run.namespaces,
    codec: run.codec,
    location: run.location,
    hostname: run.hostname,
    segments: run.transfer?.segments ?? null,
    rawBytes: run.transfer?.rawBytes ?? null,
    storedBytes: run.transfer?.storedBytes ?? null,
    transferSeconds: run.transfer?.seconds ?? null,
    seconds: Math.max(0, run.endedAt.getTime() - run.startedAt.getTime()) / 1000,
    startedAt: run.startedAt.toISOString(),
    endedAt: run.endedAt.toISOString(),
    pid: run.pid,
    tool: run.tool,
  };
}

/**
 * Appends `record` as one line: the directory is created (0755), the file
 * opened with O_APPEND (0644 when new) and the line given to one write(2),
 * then fsync'd. On a local file system O_APPEND makes each write land
 * whole at the end, so concurrent runs (two instances at once) never
 * interleave within a line, whatever its length (PIPE_BUF bounds atomic
 * writes to pipes, not to regular files); records stay short anyway
 * (messages are cut at RECORD_MESSAGE_MAX). Over NFS O_APPEND is not atomic.
 */
export async function appendRunRecord(file: string, record: RunRecord): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o755 });
  const handle = await open(file, 'a', 0o644);
  try {
    const line = Buffer.from(`${JSON.stringify(record)}\n`);
    const { bytesWritten } = await handle.write(line, 0, line.length);
    // A short write to a regular file means no space (or a quota): the line is not whole, so say so.
    if (bytesWritten !== line.length) throw new Error(`wrote ${bytesWritten} of ${line.length} bytes (disk full?)`);
    await handle.sync();
  } finally {
    await handle.close();
  }
}
