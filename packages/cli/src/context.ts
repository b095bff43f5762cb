/**
 * What every command is given: the registry, the output streams, and a way
 * to report its exit status. Commands import this, never program.ts, so
 * there is no cycle between the composition and its parts.
 */
import { errConfigInvalid, type Registry, type Sink } from '@shmsnap/core';
import { EXIT_OK } from './exit-codes.js';
import type { LoadedSettings } from './config.js';
import { withInterrupt, type OnCommitted } from './interrupt.js';
import { outputSettings, type ProgressFlags } from './progress-options.js';
import { Output, type OutputStreams } from './render/output.js';
import { sinkRequest, type SinkFlags, type ValueSourceOf } from './sink-options.js';
import { reportCommandRun, type CommandRunFlags } from './run-report/command.js';
import { withRunFacts, type RunFacts } from './run-report/run-facts.js';

export interface CliContext {
  readonly registry: Registry;
  readonly streams: OutputStreams;
  /** Records the exit status of the command that ran. */
  readonly setExit: (status: number) => void;
  /** How long cleanup may take after Ctrl-C before the process ends anyway. @default INTERRUPT_DEADLINE_MS */
  readonly interruptDeadlineMs?: number;
  /**
   * The configuration file and SHMSNAP_* variables, as applied to the command
   * about to run (config.ts; set as the command is dispatched); a problem found there is that command's error.
   */
  settings?: LoadedSettings;
}

/** Opens the sink of `location`, with the options its provider declares. */
export type SinkOpener = (location: string) => Promise<Sink>;

/**
 * The declared options (flags, else SHMSNAP_<SCHEME>_* and the provider's
 * own variables: sink-options.ts) go to the sink of the location's scheme;
 * given for another scheme they are a usage error, before anything is
 * opened (values from the configuration file for another scheme are left
 * out instead: `sourceOf`, see sinkRequest). `writes`: the command has the
 * options of writers (backup).
 */
export function sinkOpener(registry: Registry, flags: SinkFlags, writes = false, env: NodeJS.ProcessEnv = process.env, sourceOf?: ValueSourceOf): SinkOpener {
  return async (location) => {
    const request = sinkRequest(registry, flags, env, writes, location, sourceOf);
    if (request.misplaced.length > 0) {
      const names = request.misplaced.map((m) => m.name);
      const what = names.length === 1 ? names[0]! : `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`;
      const schemes = [...new Set(request.misplaced.map((m) => m.scheme))];
      const rest = names.slice(1);
      const where = schemes.map((scheme) => `${scheme}://`).join(' or ');
      throw errConfigInvalid(what, `${rest.length === 0 ? 'applies' : 'apply'} only to ${where} locations, not to ${registry.redact(location)}`);
    }
    try {
      return await registry.openSink(location, Object.keys(request.options).length === 0 ? undefined : { ...request.options });
    } catch (error) {
      throw request.nameSource(error);
    }
  };
}

/**
 * Runs `body` (the command `what`) with output set up from `--json`, `--events`, `--quiet` and `--no-progress`,
 * under Ctrl-C handling; records the exit status. A body that commits passes `onCommitted` to its run: an interrupt
 * after that point no longer stops it. A dry run's error lists every problem found. A problem in the configuration
 * (file or environment) is reported here, as the command's error, in the form the command's flags ask for. A backup
 * or restore given --run-log or --metrics-file is reported here too, whatever its outcome (run-report/).
 */
export async function execute(
  context: CliContext,
  options: { json?: boolean; dryRun?: boolean } & ProgressFlags & CommandRunFlags,
  what: string,
  body: (output: Output, signal: AbortSignal, onCommitted: OnCommitted) => Promise<number | void>,
): Promise<void> {
  const startedAt = new Date();
  let failure: unknown;
  const facts: RunFacts = {};
  const output = new Output(options.json === true, context.streams, undefined, undefined, outputSettings(options, what, context.streams.stdout));
  let status: number;
  try {
    output.settings.events?.phase('plan');
    const problem = context.settings?.problems[0];
    if (problem) throw problem;
    const interrupt = context.interruptDeadlineMs === undefined ? {} : { deadlineMs: context.interruptDeadlineMs };
    status = (await withRunFacts(facts, () => withInterrupt(what, (text) => output.note(text), (signal, onCommitted) => body(output, signal, onCommitted), interrupt))) ?? EXIT_OK;
  } catch (error) {
    failure = error;
    status = output.error(error, { listAll: options.dryRun === true, command: what });
  } finally {
    output.endProgress();
  }
  // --run-log and --metrics-file (backup and restore): after the output, never changing the status.
  await reportCommandRun(context.registry, options, what, { status, failure, output, startedAt, facts, stderr: context.streams.stderr });
  context.setExit(status);
}
