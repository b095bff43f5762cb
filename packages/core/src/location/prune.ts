/**
 * Retention: `preparePrune` decides, per host and instance, which backups
 * under a location (a directory or prefix holding many, as
 * `<host>/<instance>/<timestamp>`) go, and `plan.run()` removes them.
 *
 * The decision (`decideRetention`) is a pure function over a list:
 * - a complete backup stays when it is among the `keepLast` newest of its
 *   host and instance, or no older than `keepWithinMs`; the newest complete,
 *   unconsumed one of a host and instance (what `restore --latest` would
 *   pick) always stays, whatever the rules say;
 * - a backup dated more than CLOCK_SKEW_ALLOWANCE_MS ahead of now stays (a
 *   clock is wrong somewhere; its age says nothing), and neither counts
 *   among the newest nor stands in for the newest unconsumed one;
 * - an interrupted backup (a pending marker without a manifest) goes once
 *   its last sign of life (the newest of its marker's start time and the
 *   times of its objects) is older than `interruptedOlderThanMs`: a younger
 *   one may be a backup still running, on this host or another, so it
 *   stays. One a prune began removing (its marker says so) goes at once.
 * - Anything else (ASMT's files, a backup restore would refuse, objects of
 *   other tools) stays and is reported: nothing of shmsnap's decides what is
 *   current for it.
 *
 * No host lock is taken: a location is often shared by many hosts, and the
 * lock covers only this one's runs. The age threshold on interrupted
 * backups is what keeps a running backup's objects, on any host.
 *
 * Removal is commit-safe, per backup: a pending marker saying a prune is
 * removing it is written first (an untidied one is replaced), then the
 * manifest goes, then the segment objects, then the consumed marker, then
 * the pending marker. From the manifest's removal on, the backup reads as
 * interrupted (catalog: a pending marker without its manifest), never as
 * complete with objects missing, and never as ASMT files either; a crash at
 * any step leaves a state a rerun of prune finishes. Last, the sink's
 * optional `sweep` removes leftovers of writes older than the threshold
 * (S3 multipart uploads, local temp files) and empty sub-locations.
 */
import type { Sink, SweepResult } from '../contracts/sink.js';
import { errConfigInvalid } from '../errors.js';
import type { CodecLookup } from '../format/asmt-directory.js';
import { lenientField, lenientJsonObject, pendingName, PENDING_MARKER_MAX_BYTES, type HostIdentity, type Manifest } from '../format/manifest.js';
import { readObject, writeObject } from '../pipeline/sink-io.js';
import { withSinkContext } from '../plugins/with-plugin-context.js';
import { checkLocationExists, listBackupsIn, type BackupListing } from './catalog.js';
import { CLOCK_SKEW_ALLOWANCE_MS } from './restore-guard.js';

/** 24 hours: no backup of an index runs that long, so an older pending marker is a leftover. */
export const DEFAULT_INTERRUPTED_OLDER_THAN_MS = 24 * 3_600_000;

export interface RetentionPolicy {
  /** Keep the N newest complete backups of each host and instance. */
  readonly keepLast?: number;
  /** Keep every complete backup no older than this. */
  readonly keepWithinMs?: number;
  /** Remove interrupted backups whose last sign of life is older than this. @default DEFAULT_INTERRUPTED_OLDER_THAN_MS */
  readonly interruptedOlderThanMs?: number;
}

/** One backup, as the decision sees it. */
export interface RetentionCandidate {
  /** Which host and instance it belongs to: the decision counts within a series. */
  readonly series: string;
  readonly status: 'complete' | 'interrupted';
  /** When it was made (complete); null when unknown. */
  readonly createdAt: Date | null;
  /** Interrupted: its last sign of life; null when nothing tells. */
  readonly lastActivity?: Date | null;
  readonly consumed: boolean;
  /** Interrupted: a prune began removing it (its marker says so). */
  readonly pruning?: boolean;
  /** Breaks ties between equal times (its location). */
  readonly name: string;
}

/**
 * Why a backup stays or goes:
 * keep-last, keep-within, newest-unconsumed (kept whatever the rules say), future (dated ahead of now),
 * outside-rules (complete, neither among the newest nor recent enough), interrupted-recent (may be running),
 * interrupted-unknown-age, interrupted-stale, prune-unfinished (a prune began removing it).
 */
export type RetentionReason =
  | 'keep-last'
  | 'keep-within'
  | 'newest-unconsumed'
  | 'future'
  | 'outside-rules'
  | 'interrupted-recent'
  | 'interrupted-unknown-age'
  | 'interrupted-stale'
  | 'prune-unfinished';

export interface RetentionDecision<C extends RetentionCandidate = RetentionCandidate> {
  readonly candidate: C;
  readonly action: 'keep' | 'remove';
  /** Every reason that applies (a kept backup may be kept for several). */
  readonly reasons: readonly RetentionReason[];
}

function checkPolicy(policy: RetentionPolicy): Required<Pick<RetentionPolicy, 'interruptedOlderThanMs'>> & RetentionPolicy {
  if (policy.keepLast === undefined && policy.keepWithinMs === undefined) {
    throw errConfigInvalid('keepLast', 'give keepLast or keepWithin (or both): without a rule for what to keep, prune would remove every backup but the newest').withDetails({ mentions: ['keepLast', 'keepWithin'] });
  }
  if (policy.keepLast !== undefined && (!Number.isSafeInteger(policy.keepLast) || policy.keepLast < 1)) throw errConfigInvalid('keepLast', `must be a whole number of at least 1, got ${String(policy.keepLast)}`);
  for (const [option, value] of [['keepWithin', policy.keepWithinMs], ['interruptedOlderThan', policy.interruptedOlderThanMs]] as const) {
    if (value !== undefined && (!Number.isFinite(value) || value <= 0)) throw errConfigInvalid(option, `must be a positive duration, got ${String(value)} ms`);
  }
  return { ...policy, interruptedOlderThanMs: policy.interruptedOlderThanMs ?? DEFAULT_INTERRUPTED_OLDER_THAN_MS };
}

/** Newest first; unknown times last; ties by name, so the order never depends on the listing's. */
function newestFirst(a: RetentionCandidate, b: RetentionCandidate): number {
  const ta = a.createdAt?.getTime() ?? -Infinity;
  const tb = b.createdAt?.getTime() ?? -Infinity;
  if (ta !== tb) return tb - ta;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** The retention decision over `candidates`, in their order. Pure: `now` is given. */
export function decideRetention<C extends RetentionCandidate>(candidates: readonly C[], policy: RetentionPolicy, now: Date): RetentionDecision<C>[] {
  const { keepLast, keepWithinMs, interruptedOlderThanMs } = checkPolicy(policy);
  const reasons = new Map<C, RetentionReason[]>(candidates.map((c) => [c, []]));
  const series = new Map<string, C[]>();
  for (const c of candidates) if (c.status === 'complete') series.set(c.series, [...(series.get(c.series) ?? []), c]);
  for (const members of series.values()) {
    let rank = 0;
    let protectedOne = false;
    for (const c of [...members].sort(newestFirst)) {
      const why = reasons.get(c)!;
      const ageMs = c.createdAt === null ? undefined : now.getTime() - c.createdAt.getTime();
      if (ageMs !== undefined && ageMs < -CLOCK_SKEW_ALLOWANCE_MS) {
        why.push('future');
        continue;
      }
      if (keepLast !== undefined && rank < keepLast) why.push('keep-last');
      rank += 1;
      if (keepWithinMs !== undefined && ageMs !== undefined && ageMs <= keepWithinMs) why.push('keep-within');
      if (!protectedOne && !c.consumed) {
        protectedOne = true;
        why.push('newest-unconsumed');
      }
      if (why.length === 0) why.push('outside-rules');
    }
  }
  for (const c of candidates) {
    if (c.status !== 'interrupted') continue;
    const why = reasons.get(c)!;
    const last = c.lastActivity ?? null;
    if (c.pruning === true) why.push('prune-unfinished');
    else if (last === null) why.push('interrupted-unknown-age');
    else why.push(now.getTime() - last.getTime() >= interruptedOlderThanMs ? 'interrupted-stale' : 'interrupted-recent');
  }
  const removing = new Set<RetentionReason>(['outside-rules', 'interrupted-stale', 'prune-unfinished']);
  return candidates.map((candidate) => {
    const why = reasons.get(candidate)!;
    return { candidate, action: why.every((r) => removing.has(r)) ? 'remove' : 'keep', reasons: why };
  });
}

// ---- the plan over a location ---------------------------------------------------

/** The series a backup belongs to: its host's name (`{host}` of the backup's location) and instance. */
export function seriesOf(hostname: string | null, instance: number): string {
  return `${hostname ?? '?'}\u0000${instance}`;
}

export interface PruneCandidate extends RetentionCandidate {
  /** The backup as the catalog listed it (`objects`: what goes with it). */
  readonly listing: BackupListing;
  readonly hostname: string | null;
  readonly instance: number;
}

/** Objects prune does not recognise as part of a complete or interrupted shmsnap backup: left alone, said. */
export interface LeftAlone {
  /** The sub-location, safe to print. */
  readonly location: string;
  readonly objects: readonly string[];
  /** `asmt` (ASMT's files), `invalid` (restore would refuse it), `unknown` (no shmsnap or ASMT object). */
  readonly kind: 'asmt' | 'invalid' | 'unknown';
  readonly reason: string;
}

export interface PrunePlan {
  readonly location: string;
  readonly now: Date;
  readonly policy: Required<Pick<RetentionPolicy, 'interruptedOlderThanMs'>> & RetentionPolicy;
  /** Every complete and interrupted backup, newest first within each host and instance, with what happens to it. */
  readonly decisions: readonly RetentionDecision<PruneCandidate>[];
  readonly leftAlone: readonly LeftAlone[];
  /** What the sink's sweep would remove (a dry sweep in prepare); undefined for a sink without one. */
  readonly sweep: SweepResult | undefined;
  /** Removes what the decisions say, each backup commit-safe, then sweeps. Stops at the first failure: a rerun finishes. */
  run(options?: { readonly signal?: AbortSignal; readonly onRemoved?: (decision: RetentionDecision<PruneCandidate>) => void }): Promise<PruneResult>;
}

export interface PruneResult {
  readonly removed: readonly RetentionDecision<PruneCandidate>[];
  readonly sweep: SweepResult | undefined;
}

export interface PreparePruneOptions extends RetentionPolicy {
  readonly sink: Sink;
  readonly codecs: CodecLookup;
  /** Levels below the location to look into. @default 3 (`<host>/<instance>/<timestamp>`) */
  readonly depth?: number;
  /** A sink at a sub-location (`host/0/20261201T000000Z/`, with its `/`): removals go through it, since object names hold no `/`. */
  readonly openSubLocation: (prefix: string) => Promise<Sink>;
  /** Who prunes, written in the marker of a backup being removed. */
  readonly host: HostIdentity;
  readonly tool: { readonly name: string; readonly version: string };
  /** @default new Date() */
  readonly now?: Date;
  readonly signal?: AbortSignal;
}

/** What a pending marker's body says of a prune that began removing the backup. */
const PRUNE_FIELD = 'prune';

function newestTime(times: readonly (Date | undefined | null)[]): Date | null {
  let best: Date | null = null;
  for (const t of times) if (t && !Number.isNaN(t.getTime()) && (best === null || t > best)) best = t;
  return best;
}

const parsedDate = (text: string | null): Date | null => {
  if (text === null) return null;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? null : new Date(ms);
};

export async function preparePrune(options: PreparePruneOptions): Promise<PrunePlan> {
  const policy = checkPolicy(options);
  const { signal } = options;
  const now = options.now ?? new Date();
  const sink = withSinkContext(options.sink);
  const depth = options.depth ?? 3;
  const objects = await sink.list('', { depth, ...(signal ? { signal } : {}) });
  await checkLocationExists(sink, objects, signal);
  const rows = await listBackupsIn(sink, objects, { codecs: options.codecs, ...(signal ? { signal } : {}) });
  const byName = new Map(objects.map((o) => [o.name, o]));
  const candidates: PruneCandidate[] = [];
  const leftAlone: LeftAlone[] = [];
  const claimed = new Set<string>();
  for (const row of rows) {
    for (const name of row.objects) claimed.add(row.prefix + name);
    if (row.status === 'asmt' || row.status === 'invalid') {
      leftAlone.push({
        location: row.location, objects: row.objects, kind: row.status,
        reason: row.status === 'asmt' ? 'ASMT files without a manifest: nothing of shmsnap\'s says which are current' : `a backup restore would refuse (${row.problems[0]?.code ?? 'invalid'}): left for an operator to look at`,
      });
      continue;
    }
    const infos = row.objects.map((n) => byName.get(row.prefix + n));
    const hostname = row.host?.hostname ?? null;
    const common = { series: seriesOf(hostname, row.instance), name: row.location + '/' + row.objects[0], consumed: row.consumed !== null, listing: row, hostname, instance: row.instance };
    if (row.status === 'complete') {
      candidates.push({ ...common, status: 'complete', createdAt: parsedDate(row.createdAt) });
      continue;
    }
    const marker = lenientJsonObject(await readObject(sink, row.prefix + row.objects[0]!, PENDING_MARKER_MAX_BYTES, signal).catch(() => undefined));
    const pruning = Object.keys(lenientField(marker, PRUNE_FIELD)).length > 0;
    candidates.push({ ...common, status: 'interrupted', createdAt: parsedDate(row.createdAt), lastActivity: newestTime([parsedDate(row.createdAt), ...infos.map((i) => i?.modified)]), pruning });
  }
  const unknown = new Map<string, string[]>();
  for (const object of objects) {
    if (claimed.has(object.name)) continue;
    const cut = object.name.lastIndexOf('/') + 1;
    const prefix = object.name.slice(0, cut);
    unknown.set(prefix, [...(unknown.get(prefix) ?? []), object.name.slice(cut)]);
  }
  for (const [prefix, names] of [...unknown].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    leftAlone.push({ location: `${sink.location}${prefix ? `/${prefix.slice(0, -1)}` : ''}`, objects: names, kind: 'unknown', reason: 'not part of a shmsnap backup (another tool\'s, or a consumed marker without its manifest)' });
  }
  const ordered = decideRetention(candidates, policy, now).sort((a, b) => {
    const sa = a.candidate.series;
    const sb = b.candidate.series;
    if (sa !== sb) return sa < sb ? -1 : 1;
    if (a.candidate.status !== b.candidate.status) return a.candidate.status === 'complete' ? -1 : 1;
    return newestFirst(a.candidate, b.candidate);
  });
  const olderThan = new Date(now.getTime() - policy.interruptedOlderThanMs);
  const sweep = sink.sweep ? await sink.sweep({ olderThan, depth, dryRun: true, ...(signal ? { signal } : {}) }) : undefined;
  return {
    location: sink.location,
    now,
    policy,
    decisions: ordered,
    leftAlone,
    sweep,
    async run(runOptions = {}) {
      const runSignal = runOptions.signal ?? signal;
      const removed: RetentionDecision<PruneCandidate>[] = [];
      for (const decision of ordered) {
        if (decision.action !== 'remove') continue;
        runSignal?.throwIfAborted();
        const { listing } = decision.candidate;
        const sub = listing.prefix === '' ? sink : withSinkContext(await options.openSubLocation(listing.prefix));
        try {
          if (listing.status === 'complete') await removeComplete(sub, listing, options, now, runSignal);
          else await removeInterrupted(sub, listing, runSignal);
        } finally {
          if (sub !== sink) await sub.close?.();
        }
        removed.push(decision);
        runOptions.onRemoved?.(decision);
      }
      const swept = sink.sweep ? await sink.sweep({ olderThan, depth, dryRun: false, ...(runSignal ? { signal: runSignal } : {}) }) : undefined;
      return { removed, sweep: swept };
    },
  };
}

const opts = (signal: AbortSignal | undefined) => (signal ? { signal } : {});

/** Manifest first (with a marker saying so already there), segment objects, consumed marker, the marker last. */
async function removeComplete(sub: Sink, listing: BackupListing, options: PreparePruneOptions, now: Date, signal: AbortSignal | undefined): Promise<void> {
  const manifest = listing.manifest as Manifest;
  const [manifestObject, ...rest] = listing.objects;
  const marker = pendingName(manifest.instance, manifest.namespaces.map((n) => n.nsid));
  // An untidied marker of the backup's own run goes first: the manifest is still there, so it reads complete meanwhile.
  if (rest.includes(marker)) await sub.remove(marker, opts(signal));
  await writeObject(sub, marker, serializePruneMarker(manifest, options, now), signal);
  await sub.remove(manifestObject!, opts(signal));
  for (const name of rest) if (name !== marker && !name.startsWith('shmsnap-')) await sub.remove(name, opts(signal));
  for (const name of rest) if (name !== marker && name.startsWith('shmsnap-')) await sub.remove(name, opts(signal));
  await sub.remove(marker, opts(signal));
}

/** The segment files it left and any orphan consumed marker, then its pending marker: until that goes, it reads interrupted. */
async function removeInterrupted(sub: Sink, listing: BackupListing, signal: AbortSignal | undefined): Promise<void> {
  const [marker, ...rest] = listing.objects;
  for (const name of rest) await sub.remove(name, opts(signal));
  await sub.remove(marker!, opts(signal));
}

/** A pending marker as backup writes one (catalog reads it the same), with what the prune is doing. */
function serializePruneMarker(manifest: Manifest, options: PreparePruneOptions, now: Date): Buffer {
  return Buffer.from(
    `${JSON.stringify({ startedAt: manifest.createdAt, host: manifest.host, tool: options.tool, pid: process.pid, [PRUNE_FIELD]: { at: now.toISOString(), host: options.host, backupCreatedAt: manifest.createdAt } })}\n`,
  );
}

/** For frontends: what each reason means, in words. */
export const RETENTION_REASONS: Readonly<Record<RetentionReason, string>> = {
  'keep-last': 'among the newest kept (keepLast)',
  'keep-within': 'recent enough (keepWithin)',
  'newest-unconsumed': 'the newest complete, unconsumed backup of its host and instance: always kept',
  future: `dated more than ${CLOCK_SKEW_ALLOWANCE_MS / 60_000} minutes ahead of now (a clock is wrong): kept, not counted`,
  'outside-rules': 'neither among the newest kept nor recent enough',
  'interrupted-recent': 'interrupted, but recently active: it may still be running',
  'interrupted-unknown-age': 'interrupted, of unknown age: it may still be running',
  'interrupted-stale': 'interrupted, and inactive for longer than interruptedOlderThan',
  'prune-unfinished': 'a prune began removing it and stopped part-way',
};
