/**
 * Clearing a leftover segment set: what a restore killed mid-way (SIGKILL, a
 * power cut) leaves in shared memory, and what the next restore then refuses
 * to overwrite (SEGMENT_EXISTS). `prepareClear` finds the set of one
 * instance and namespace and refuses what is not a leftover; `run()` removes
 * it. A dry run is prepare alone.
 *
 * The set is every segment whose key carries the instance and namespace id
 * (what a restore would collide with), and when the namespace is named, the
 * members its analysis gives it (a data stripe naming it under another id).
 *
 * Refused, every reason at once (the first decides the code):
 * - any segment attached by a process (SEGMENT_ATTACHED): a running server,
 *   or a restore in progress, is using it;
 * - a base whose shutdown status is clean (SEGMENT_IN_USE): an index that
 *   Aerospike can warm-start from, not a leftover (a restore holds that
 *   status at zero until it completes, so its leftovers never read clean).
 *   The `force` option removes it anyway; nothing removes an attached one.
 *
 * The base goes last, so a run cut short leaves a set that is still found by
 * its name. Each segment is looked at again just before it is removed: one
 * attached since the plan stops the run there.
 */
import {
  combineErrors,
  decodeKey,
  errConfigInvalid,
  errNamespaceNotFound,
  errNothingSelected,
  errSegmentAttached,
  errSegmentInUse,
  formatKey,
  isShmsnapError,
  SHUTDOWN_CLEAN,
  type OptionNamer,
  type SegmentKind,
  type ShmsnapError,
} from '@shmsnap/core';
import { loadShmBinding, type ShmBindingOptions } from './binding.js';
import { removeShm, statShm } from './shm.js';
import { analyzeLiveSegments, discoverSegments, type LiveSegment } from './shm-source.js';

export interface ClearOptions extends ShmBindingOptions {
  readonly instance: number;
  /** The namespace's name, as its base records it. One of `namespace` and `nsid` is required. */
  readonly namespace?: string;
  /** The namespace id: for segments without their base, which carry no name. */
  readonly nsid?: number;
  /** Also remove a base that was cleanly shut down (never an attached segment). @default false */
  readonly force?: boolean;
  /** How the caller's frontend names options in messages. @default the option's own name */
  readonly name?: OptionNamer;
}

export interface ClearSegment {
  readonly key: number;
  /** null for a key that fits no segment kind. */
  readonly kind: SegmentKind | null;
  readonly stage: number | null;
  readonly size: number;
  readonly shmid: number;
  readonly nattch: number;
  /** For a base: its shutdown status (1 is clean); null otherwise, or when it could not be read. */
  readonly shutdownStatus: number | null;
}

export interface ClearResult {
  /** The keys removed, in the order they went. */
  readonly removed: readonly number[];
}

export interface ClearPlan {
  readonly instance: number;
  readonly nsid: number;
  /** The namespace's name, from its base; null when the set has no readable base. */
  readonly namespace: string | null;
  /** In removal order: the base last. */
  readonly segments: readonly ClearSegment[];
  run(): Promise<ClearResult>;
}

function describeSet(instance: number, nsid: number, namespace: string | null): string {
  return `instance ${instance} nsid ${nsid}${namespace ? ` ('${namespace}')` : ''}`;
}

export async function prepareClear(options: ClearOptions): Promise<ClearPlan> {
  const name = options.name ?? ((option: string) => option);
  const binding = options.binding ?? loadShmBinding();
  const { instance } = options;
  if (options.namespace === undefined && options.nsid === undefined) throw errConfigInvalid('namespace', 'name the namespace whose segments to remove (or give its nsid)');
  const live = await discoverSegments(instance, { binding });
  const analysis = analyzeLiveSegments(live).find((i) => i.instance === instance);

  let nsid = options.nsid;
  let named: LiveSegment[] = [];
  let namespace: string | null = null;
  if (options.namespace !== undefined) {
    const found = analysis?.namespaces.find((ns) => ns.namespace === options.namespace);
    if (!found) {
      const orphans = analysis?.orphans.map((o) => o.nsid) ?? [];
      const hint = orphans.length > 0 ? ` (segments without a base, which carry no name, are there for nsid ${orphans.join(', ')}: give ${name('nsid')})` : '';
      throw errNamespaceNotFound(options.namespace, instance, `shared memory${hint}`);
    }
    if (nsid !== undefined && nsid !== found.nsid) throw errConfigInvalid('nsid', `namespace '${options.namespace}' of instance ${instance} has nsid ${found.nsid}, not ${nsid}`, 'namespace');
    nsid = found.nsid;
    namespace = found.namespace;
    named = [...found.members.map((m) => m.entry), ...found.unexpected];
  }
  const byKey = live.filter((s) => decodeKey(s.key)?.nsid === nsid);
  const chosen = [...new Map([...byKey, ...named].map((s) => [s.key, s])).values()];
  if (chosen.length === 0) throw errNothingSelected('shared memory', `no segment of instance ${instance} nsid ${nsid}`);
  if (namespace === null) {
    // Named by id: the set's base, when there is one, still gives its name.
    const base = analysis?.namespaces.find((ns) => ns.nsid === nsid);
    if (base) namespace = base.namespace || null;
  }

  const segments: ClearSegment[] = chosen
    .map((s): ClearSegment => {
      const decoded = decodeKey(s.key);
      const base = s.base !== undefined && !isShmsnapError(s.base) ? s.base : undefined;
      return { key: s.key, kind: decoded?.kind ?? null, stage: decoded?.stage ?? null, size: s.size, shmid: s.stat.shmid, nattch: s.stat.nattch, shutdownStatus: base ? base.shutdownStatus : null };
    })
    // Keys in order, the base last.
    .sort((a, b) => Number(a.kind === 'primary-base') - Number(b.kind === 'primary-base') || a.key - b.key);

  const problems: ShmsnapError[] = [];
  for (const s of segments) if (s.nattch > 0) problems.push(errSegmentAttached(formatKey(s.key), s.nattch));
  for (const s of segments) {
    if (s.kind === 'primary-base' && s.shutdownStatus === SHUTDOWN_CLEAN && options.force !== true) {
      problems.push(
        errSegmentInUse(
          formatKey(s.key),
          `is the base of ${describeSet(instance, nsid!, namespace)}, cleanly shut down (shutdown status ${SHUTDOWN_CLEAN}): an index Aerospike can warm-start from, not a leftover; refusing to remove it (${name('force')} removes it anyway)`,
        ),
      );
    }
  }
  if (problems.length > 0) throw combineErrors(problems);

  return {
    instance,
    nsid: nsid!,
    namespace,
    segments,
    async run() {
      const removed: number[] = [];
      for (const s of segments) {
        let now;
        try {
          now = statShm(s.shmid, s.key, binding);
        } catch (error) {
          // Gone already (removed by someone else): what we wanted. Anything else is a failure to report.
          if (isShmsnapError(error) && (error.details.errno === 'EINVAL' || error.details.errno === 'EIDRM')) continue;
          throw error;
        }
        if (now.key !== s.key) continue; // the id was reused by another segment: not ours to remove
        if (now.nattch > 0) {
          throw errSegmentAttached(formatKey(s.key), now.nattch).withDetails({ removed: removed.map(formatKey) });
        }
        await removeShm(s.shmid, s.key, binding);
        removed.push(s.key);
      }
      return { removed };
    },
  };
}
