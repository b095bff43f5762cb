/**
 * Verify in two phases: `prepareVerify` assesses the location as restore
 * planning does (`restore-set.ts`: every manifest, its objects' presence and
 * sizes, conflicting files, unreadable manifests, ASMT files through their
 * headers, the layout analysis of every namespace of every instance) without
 * the provenance guard (that is about where a backup is restored, not whether
 * it is intact) and without touching shared memory; `plan.run()` then reads
 * every byte of every usable object through its codec and checks sizes and
 * CRC-32s, writing nothing. So a backup restore refuses is one verify fails.
 * Problems found while preparing are reported with the run's, not instead
 * of it.
 */
import type { Sink } from '../contracts/sink.js';
import type { FrameCipher } from '../contracts/frame-cipher.js';
import type { KeyProvider } from '../contracts/key-provider.js';
import { isShmsnapError } from '../errors.js';
import { openBackups } from './backup-keys.js';
import { errBackupIncomplete, errBackupNotFound, type ShmsnapError } from '../errors.js';
import { type CodecLookup } from '../format/asmt-directory.js';
import type { RestoreEntry, RestoreRunOptions } from '../pipeline/restore.js';
import { runVerify, type VerifyResult } from '../pipeline/verify.js';
import { withSinkContext } from '../plugins/with-plugin-context.js';
import { checkLocationExists, readLocation } from './catalog.js';
import { assessInstance, groupEntries, instancesIn, problemSubject } from './restore-set.js';

export interface VerifyFailure {
  /** The object the problem is about, or the place (a namespace, a manifest) when it is about a set. */
  readonly object: string;
  readonly error: ShmsnapError;
}

export interface VerifyPlan {
  readonly location: string;
  /** Complete shmsnap backups (manifests) at the location. */
  readonly backups: number;
  readonly entries: readonly RestoreEntry[];
  /** Problems found before reading any object's content: what restore would refuse on. */
  readonly failures: readonly VerifyFailure[];
  run(options?: RestoreRunOptions & { readonly concurrency?: number }): Promise<VerifyResult>;
}

export async function prepareVerify(options: { readonly sink: Sink; readonly codecs: CodecLookup; readonly signal?: AbortSignal; readonly key?: KeyProvider; readonly frameCipher?: FrameCipher }): Promise<VerifyPlan> {
  const { codecs, signal } = options;
  const sink = withSinkContext(options.sink);
  const state = await readLocation(sink, signal);
  const failures: VerifyFailure[] = [
    ...state.interrupted.map((i) => ({ object: i.name, error: errBackupIncomplete(sink.location, `${i.name} without a manifest: the backup was interrupted`) })),
    ...state.invalid.map((i) => ({ object: i.name, error: i.error })),
  ];
  // Encrypted backups: key unwrapped and MAC checked first; one that does not open is one failure naming it.
  const ciphers = await openBackups(sink, state.backups, options.key, signal, options.frameCipher);
  for (const [name, opened] of ciphers) if (isShmsnapError(opened)) failures.push({ object: name, error: opened });
  const entries: RestoreEntry[] = [];
  for (const instance of instancesIn(state, codecs)) {
    const set = await assessInstance(sink, codecs, state, instance, signal, ciphers);
    for (const group of [...set.analysis.namespaces, ...set.analysis.orphans]) {
      for (const problem of group.problems) {
        // Said once, above, per backup: not again for each of its objects that could not be read.
        if (failures.some((f) => f.error === problem)) continue;
        failures.push({ object: problemSubject(problem, sink.location), error: problem });
      }
      // Every object that can be read is read, whatever its namespace's problems: verify names every bad one.
      for (const entry of groupEntries(group)) {
        const restore = set.candidates.get(entry)?.restore;
        if (restore) entries.push(restore(group.namespace));
      }
    }
  }
  if (entries.length === 0 && failures.length === 0) {
    await checkLocationExists(sink, state.objects, signal);
    throw errBackupNotFound(sink.location, 'no shmsnap manifest and no ASMT segment files');
  }
  return {
    location: sink.location,
    backups: state.backups.length,
    entries,
    failures,
    async run(runOptions = {}) {
      const result = await runVerify({ sink, entries, ...runOptions });
      // What planning found first (what restore refuses on), then what reading found.
      return { ...result, failures: [...failures, ...result.failures] };
    },
  };
}
