/**
 * What every command is given: the registry, the output streams, and a way
 * to report its exit status. Commands import this, never program.ts, so
 * there is no cycle between the composition and its parts.
 */
import { schemeOf, type Registry, type Sink } from '@shmsnap/core';
import { EXIT_OK } from './exit-codes.js';
import { withInterrupt, type OnCommitted } from './interrupt.js';
import { Output, type OutputStreams } from './render/output.js';
import { s3SinkOptions, type S3Flags } from './s3-options.js';

export interface CliContext {
  readonly registry: Registry;
  readonly streams: OutputStreams;
  /** Records the exit status of the command that ran. */
  readonly setExit: (status: number) => void;
}

/** Opens the sink of `location`, with the S3 flags for S3 locations. */
export type SinkOpener = (location: string) => Promise<Sink>;

export function sinkOpener(registry: Registry, flags: S3Flags): SinkOpener {
  return (location) => registry.openSink(location, schemeOf(location) === 's3' ? { ...s3SinkOptions(flags) } : undefined);
}

/**
 * Runs `body` (the command `what`) with output set up from `--json`, under Ctrl-C handling; records the exit status. A body that
 * commits passes `onCommitted` to its run: an interrupt after that point no longer stops it. A dry run's error lists
 * every problem found.
 */
export async function execute(
  context: CliContext,
  options: { json?: boolean; dryRun?: boolean },
  what: string,
  body: (output: Output, signal: AbortSignal, onCommitted: OnCommitted) => Promise<number | void>,
): Promise<void> {
  const output = new Output(options.json === true, context.streams);
  let status: number;
  try {
    status = (await withInterrupt(what, (text) => output.note(text), (signal, onCommitted) => body(output, signal, onCommitted))) ?? EXIT_OK;
  } catch (error) {
    status = output.error(error, { listAll: options.dryRun === true, command: what });
  }
  context.setExit(status);
}
