/**
 * `shmsnap verify <location>`: runs restore's planning checks on every
 * backup at the location (core's prepareVerify: objects present and of the
 * recorded size, no conflicting files, readable manifests, complete and
 * consistent segment sets), then reads every object and checks it against
 * what is recorded (manifest sizes and CRC-32s; for ASMT files, the header's
 * size and CRC-32 and the gzip trailer). Touches no shared memory. Names each
 * problem; exits non-zero if there is one.
 */
import type { Command } from 'commander';
import { prepareVerify, type Registry } from '@shmsnap/core';
import { locationArgument, threadsOption } from '../cli-options.js';
import { execute, sinkOpener, type CliContext, type SinkOpener } from '../context.js';
import { EXIT_OK, EXIT_STATUS_BY_CODE } from '../exit-codes.js';
import { errorJson } from '../render/json.js';
import type { Output } from '../render/output.js';
import { summaryJson, summaryLine } from '../render/summary.js';
import { addProgressOptions, type ProgressFlags } from '../progress-options.js';
import { addSinkOptions, type SinkFlags } from '../sink-options.js';
import { addKeyOptions, frameCipherFor, keyFrom, type KeyFlags } from '../key-options.js';

export async function runVerifyCommand(location: string, threads: number, output: Output, registry: Registry, openSink: SinkOpener, signal: AbortSignal, keyFlags: KeyFlags = {}): Promise<number> {
  const key = await keyFrom(keyFlags);
  const plan = await prepareVerify({ sink: await openSink(location), codecs: registry, signal, ...(key ? { key } : {}), ...frameCipherFor(key) });
  output.line(`verify: ${plan.entries.length} objects in ${plan.location} (${plan.backups} shmsnap backup${plan.backups === 1 ? '' : 's'})`);
  const result = await plan.run({ concurrency: threads, signal, onProgress: output.progress() });
  const { failures } = result;
  // The subject only where the message does not already name it.
  for (const f of failures) output.note(`verify: BAD ${f.error.message.includes(f.object) ? '' : `${f.object}: `}${f.error.code}: ${f.error.message}`);
  const summary = { phase: 'verify', segments: result.segments, rawBytes: result.rawBytes, elapsedMs: result.elapsedMs };
  output.line(summaryLine(summary));
  output.line(failures.length === 0 ? `verify: all ${plan.entries.length} objects are intact` : `verify: ${failures.length} problem(s); restore would refuse this location`);
  output.result(
    'verify',
    {
      location: plan.location,
      objects: plan.entries.length,
      failures: failures.map((f) => ({ object: f.object, error: errorJson(f.error, output.flag) })),
      ...summaryJson(summary),
    },
    failures.length === 0,
  );
  return failures.length === 0 ? EXIT_OK : EXIT_STATUS_BY_CODE[failures[0]!.error.code];
}

export function defineVerifyCommand(program: Command, context: CliContext): void {
  const command = program
    .command('verify')
    .description("Check every backup at a location as restore would (objects present, of the recorded size, no stray segment files, readable manifests, complete and consistent segment sets), then read every object and check sizes and CRC-32s against the manifest (or, for ASMT files, their header and gzip trailer). Touches no shared memory. Names each problem; exit status 4 for damaged data (3 for a set restore refuses, such as a missing stage of an ASMT directory).")
    .addArgument(locationArgument())
    .addOption(threadsOption())
    .option('--json', 'print the result as JSON');
  addKeyOptions(command, 'the key of encrypted backups: their manifest MAC and every frame of every object are authenticated');
  addProgressOptions(command);
  addSinkOptions(command, context.registry, false).action(async (location: string, flags: SinkFlags & ProgressFlags & KeyFlags & { threads: number; json?: boolean }) => {
    await execute(context, flags, 'verify', (output, signal) => runVerifyCommand(location, flags.threads, output, context.registry, sinkOpener(context.registry, flags, false, process.env, (attribute) => command.getOptionValueSource(attribute)), signal, flags));
  });
}
