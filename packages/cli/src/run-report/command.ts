/**
 * The hook `execute` (context.ts) calls after every command: for a backup or
 * restore given `--run-log` or `--metrics-file` (a dry run is neither: it
 * moves nothing, and would reset the last-run metrics), what the command's
 * output said (its result document, or its error) becomes the run's record
 * and metrics (report.ts).
 */
import { errInternal, isShmsnapError, type Registry } from '@shmsnap/core';
import { renderMessage } from '../flags.js';
import type { Output } from '../render/output.js';
import { TOOL } from '../version.js';
import type { RunFacts } from './run-facts.js';
import type { RunOperation } from './record.js';
import { isRunOperation, observeRun, reportRun, type ReportTargets, type RunReportFlags, type RunResultDocument } from './report.js';

/**
 * The flags of backup and restore the hook reads. Typed `unknown` where
 * other commands have a flag of the same name and another type (clear's
 * `--namespace` is one name): they are checked here, and only read for a
 * backup or restore.
 */
export interface CommandRunFlags extends RunReportFlags {
  readonly dryRun?: boolean;
  readonly instance?: unknown;
  readonly to?: unknown;
  readonly from?: unknown;
  readonly namespace?: unknown;
  readonly codec?: unknown;
  readonly level?: unknown;
}

const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);
const integer = (value: unknown): number | undefined => (Number.isInteger(value) ? (value as number) : undefined);

export async function reportCommandRun(
  registry: Registry,
  flags: CommandRunFlags,
  what: string,
  run: CommandRun,
): Promise<void> {
  if (!isRunOperation(what) || flags.dryRun === true) return;
  if (flags.runLog === undefined && flags.metricsFile === undefined) return;
  const warn = (text: string): void => {
    const line = `${what}: warning: ${text}`;
    if (run.output.settings.events && run.stderr) run.stderr.write(`${line}\n`);
    else run.output.note(line);
  };
  try {
    await reportWith(registry, flags, what, run, warn);
  } catch (error) {
    // Whatever went wrong here, the run's status stands (report.ts).
    warn(`the run could not be reported: ${error instanceof Error ? error.message : String(error)}`);
  }
}

export interface CommandRun {
  readonly status: number;
  readonly failure: unknown;
  readonly output: Output;
  readonly startedAt: Date;
  readonly facts?: RunFacts;
  readonly lock?: ReportTargets['lock'];
  /** Where warnings go under --events: stderr, so the result or error stays the last event line (docs/events.md: "the last line says how it ended"). */
  readonly stderr?: NodeJS.WritableStream;
}

async function reportWith(registry: Registry, flags: CommandRunFlags, what: RunOperation, run: CommandRun, warn: (text: string) => void): Promise<void> {
  const { output } = run;
  const coded = run.failure === undefined ? undefined : isShmsnapError(run.failure) ? run.failure : errInternal(run.failure instanceof Error ? run.failure.message : String(run.failure), run.failure);
  const asked = text(what === 'backup' ? flags.to : flags.from);
  const instance = integer(flags.instance) ?? run.facts?.instance;
  const codec = text(flags.codec);
  let location: string | null = null;
  try {
    location = asked === undefined ? null : registry.redact(asked);
  } catch {
    // An unknown scheme (the run's own error already said so): a location that cannot be redacted is not kept.
    location = null;
  }
  const observed = observeRun({
    operation: what,
    exitStatus: run.status,
    ...(coded ? { error: coded, message: renderMessage(coded, output.flag) } : {}),
    ...(output.lastResult ? { result: output.lastResult as RunResultDocument } : {}),
    fallback: {
      location,
      ...(instance === undefined ? {} : { instance }),
      ...(Array.isArray(flags.namespace) ? { namespaces: flags.namespace.map(String) } : {}),
      ...(what === 'backup' && codec !== undefined ? { codec: { name: codec, level: integer(flags.level) ?? null } } : {}),
    },
    startedAt: run.startedAt,
    endedAt: new Date(),
    tool: TOOL,
  });
  const targets: ReportTargets = {
    ...(flags.runLog === undefined ? {} : { runLog: flags.runLog }),
    ...(flags.metricsFile === undefined ? {} : { metricsFile: flags.metricsFile }),
    ...(run.lock ? { lock: run.lock } : {}),
  };
  await reportRun(targets, observed, warn);
}
