/**
 * Verify in two phases: `prepareVerify` reads what the location holds and
 * builds one entry per object to check (from every manifest, and from ASMT
 * files no manifest claims, through their headers); `plan.run()` reads every
 * byte through its codec and checks sizes and CRC-32s, writing nothing.
 * Problems found while preparing (an interrupted backup, an unreadable
 * header) are reported with the run's, not instead of it.
 */
import type { Sink } from '../contracts/sink.js';
import { errBackupIncomplete, errBackupNotFound, toShmsnapError, type ShmsnapError } from '../errors.js';
import { asmtFiles, asmtFileSegment, readFileHeader, type CodecLookup } from '../format/asmt-directory.js';
import type { RestoreEntry, RestoreRunOptions } from '../pipeline/restore.js';
import { runVerify, type VerifyResult } from '../pipeline/verify.js';
import { withSinkContext } from '../plugins/with-plugin-context.js';
import { readLocation } from './catalog.js';
import { planFromManifest } from './plan-restore.js';

export interface VerifyFailure {
  readonly object: string;
  readonly error: ShmsnapError;
}

export interface VerifyPlan {
  readonly location: string;
  /** Complete shmsnap backups (manifests) at the location. */
  readonly backups: number;
  readonly entries: readonly RestoreEntry[];
  /** Problems found before reading any object's content. */
  readonly failures: readonly VerifyFailure[];
  run(options?: RestoreRunOptions & { readonly concurrency?: number }): Promise<VerifyResult>;
}

export async function prepareVerify(options: { readonly sink: Sink; readonly codecs: CodecLookup; readonly signal?: AbortSignal }): Promise<VerifyPlan> {
  const { codecs, signal } = options;
  const sink = withSinkContext(options.sink);
  const state = await readLocation(sink, signal);
  const failures: VerifyFailure[] = state.interrupted.map((i) => ({
    object: i.name,
    error: errBackupIncomplete(sink.location, `${i.name} without a manifest: the backup was interrupted`),
  }));
  const entries: RestoreEntry[] = state.backups.flatMap((b) => planFromManifest(b.manifest, (name) => codecs.codec(name), `${sink.location}/${b.name}`));
  const claimed = new Set(entries.map((e) => e.object));
  for (const file of asmtFiles(state.objects.filter((o) => !claimed.has(o.name)), codecs)) {
    const object = file.info.name;
    try {
      const { rawSize, rawCrc32 } = await readFileHeader(sink, object, file, signal);
      const segment = asmtFileSegment(file, rawSize, '');
      entries.push({ segment, object, codec: file.codec, storedBytes: file.info.size, ...(rawCrc32 === undefined ? {} : { rawCrc32 }) });
    } catch (error) {
      failures.push({ object, error: toShmsnapError(error, 'verify', object) });
    }
  }
  if (entries.length === 0 && failures.length === 0) throw errBackupNotFound(sink.location, 'no shmsnap manifest and no ASMT segment files');
  return {
    location: sink.location,
    backups: state.backups.length,
    entries,
    failures,
    async run(runOptions = {}) {
      const result = await runVerify({ sink, entries, ...runOptions });
      const all = [...failures, ...result.failures].sort((a, b) => a.object.localeCompare(b.object));
      return { ...result, failures: all };
    },
  };
}
