/**
 * The provenance guard of a restore, as a pure function: where each part of
 * the restore comes from (host, time, boot), and the findings that refuse it
 * unless the caller overrides them. It prints nothing and decides nothing:
 * `prepareRestore` records the findings, the frontends render them with
 * their own option names, and `plan.run()` refuses while any stands without
 * its override.
 *
 * Each finding names the one option that overrides it, or none: overrides
 * are split by reason, so lifting one guard (another host) never lifts
 * another (the age). A limit the caller gave (`maxAge`) is not a default to
 * be waived: nothing overrides it.
 */
import { foreignHostReason } from '../host-identity.js';
import type { HostIdentity } from '../format/manifest.js';
import { formatAge } from '../units.js';

/**
 * How far a creation time may lie ahead of now before it is a finding. Two
 * hosts' clocks (or one host's across a reboot, before NTP caught up) differ
 * by seconds, rarely by minutes; more than this means the clock was wrong
 * when the backup was made, or the manifest was edited, and its age cannot
 * be trusted. Within it, the backup counts as made now.
 */
export const CLOCK_SKEW_ALLOWANCE_MS = 5 * 60_000;

/**
 * The age limit when the caller gives none (`maxAge`): a day. A restore is
 * meant to bring back the index a node had just before a planned reboot or
 * an upgrade; a backup older than that is most likely a forgotten one whose
 * data Aerospike would warm-start from as if it were current. `allowOlder`
 * lifts this default; `maxAge` replaces it (larger or smaller).
 */
export const DEFAULT_MAX_AGE_MS = 24 * 3_600_000;

/** The option that lifts one kind of finding; `force` is all of them. */
export type RestoreOverride = 'allowOtherHost' | 'allowOlder' | 'allowFuture';

/** Every override, in the order `force` stands for them. */
export const RESTORE_OVERRIDES: readonly RestoreOverride[] = ['allowOtherHost', 'allowOlder', 'allowFuture'];

export type RestoreOverrides = { readonly [K in RestoreOverride]?: boolean };

/** One source of a restore: a manifest, or the ASMT files without one. */
export interface RestoreSource {
  readonly namespaces: readonly string[];
  /** The manifest's name, or a description of the files. */
  readonly what: string;
  /** The manifest's `createdAt`; for ASMT files, the newest file's modification time. */
  readonly createdAt: Date | undefined;
  /** Who made it; undefined for ASMT files (ASMT records none). */
  readonly host: HostIdentity | undefined;
}

export interface RestoreProvenance extends RestoreSource {
  /** Age at assessment time; negative when the creation time lies ahead of now; undefined when unknown. */
  readonly ageMs: number | undefined;
  /** Made in the current boot; undefined when either boot id is unknown. */
  readonly sameBoot: boolean | undefined;
}

interface FindingBase {
  readonly namespaces: readonly string[];
  /** The option that lifts this finding; null when none does. */
  readonly override: RestoreOverride | null;
}

export type RestoreFinding =
  | (FindingBase & { readonly guard: 'host'; readonly override: 'allowOtherHost'; readonly reason: string })
  /** Older than the limit: the default one (`allowOlder` lifts it) or the caller's `maxAge` (nothing does). */
  | (FindingBase & { readonly guard: 'age'; readonly override: 'allowOlder' | null; readonly ageMs: number; readonly maxAgeMs: number; readonly limit: 'default' | 'maxAge' })
  | (FindingBase & { readonly guard: 'future'; readonly override: 'allowFuture'; readonly aheadMs: number; readonly createdAt: Date; readonly allowanceMs: number })
  /**
   * `maxAge` was given but the age is unknown: no creation time, or one more than the allowance ahead of now
   * (`aheadMs`). The check asked for cannot be made, and nothing overrides that.
   */
  | (FindingBase & { readonly guard: 'age-unknown'; readonly override: null; readonly what: string; readonly aheadMs?: number });

export interface RestorePolicy {
  /** The caller's limit: replaces the default, and no override lifts it. */
  readonly maxAgeMs?: number;
  /** The limit without `maxAgeMs`; undefined for none. @default DEFAULT_MAX_AGE_MS */
  readonly defaultMaxAgeMs?: number | undefined;
  /** @default CLOCK_SKEW_ALLOWANCE_MS */
  readonly clockSkewMs?: number;
}

export interface RestoreAssessment {
  readonly provenance: readonly RestoreProvenance[];
  /** Reasons to refuse, each naming its override (or none). */
  readonly findings: readonly RestoreFinding[];
}

export function assessRestore(sources: readonly RestoreSource[], current: HostIdentity, now: Date, policy: RestorePolicy = {}): RestoreAssessment {
  const findings: RestoreFinding[] = [];
  const allowanceMs = policy.clockSkewMs ?? CLOCK_SKEW_ALLOWANCE_MS;
  const explicit = policy.maxAgeMs;
  const limit = explicit ?? ('defaultMaxAgeMs' in policy ? policy.defaultMaxAgeMs : DEFAULT_MAX_AGE_MS);
  const provenance = sources.map((source): RestoreProvenance => {
    const { namespaces } = source;
    const ageMs = source.createdAt ? now.getTime() - source.createdAt.getTime() : undefined;
    const host = source.host;
    const sameBoot = host === undefined || host.bootId === null || current.bootId === null ? undefined : host.bootId === current.bootId;
    if (host) {
      const foreign = foreignHostReason(host, current);
      if (foreign) findings.push({ guard: 'host', namespaces, reason: foreign, override: 'allowOtherHost' });
    }
    const future = ageMs !== undefined && -ageMs > allowanceMs;
    if (ageMs === undefined || future) {
      // A limit the caller gave needs an age to check against: none recorded, or one that cannot be trusted, refuses.
      // Without one, an unknown age refuses nothing (ASMT records none, and its files may carry no time), and a
      // future date is its own finding.
      if (explicit !== undefined) findings.push({ guard: 'age-unknown', namespaces, what: source.what, ...(future ? { aheadMs: -ageMs! } : {}), override: null });
      else if (future) findings.push({ guard: 'future', namespaces, aheadMs: -ageMs!, createdAt: source.createdAt!, allowanceMs, override: 'allowFuture' });
    } else if (limit !== undefined && ageMs > limit) {
      findings.push(
        explicit === undefined
          ? { guard: 'age', namespaces, ageMs, maxAgeMs: limit, limit: 'default', override: 'allowOlder' }
          : { guard: 'age', namespaces, ageMs, maxAgeMs: limit, limit: 'maxAge', override: null },
      );
    }
    return { ...source, ageMs, sameBoot };
  });
  return { provenance, findings };
}

/** The findings that still refuse once `overrides` are applied. */
export function standingFindings(findings: readonly RestoreFinding[], overrides: RestoreOverrides): RestoreFinding[] {
  return findings.filter((f) => f.override === null || overrides[f.override] !== true);
}

/** Names an option for people; each frontend passes its own flag names (`maxAge` → `--max-age`). */
export type OptionNamer = (option: string) => string;

/** One finding in words, naming options through `name`, ending with what overrides it (or that nothing does). */
export function describeFinding(finding: RestoreFinding, name: OptionNamer = (option) => option): string {
  const names = finding.namespaces.map((n) => `'${n}'`).join(', ');
  switch (finding.guard) {
    case 'host':
      return `${names}: ${finding.reason} (${name('allowOtherHost')} restores it anyway)`;
    case 'age':
      return finding.limit === 'default'
        ? `${names}: the backup is ${formatAge(finding.ageMs)} old, older than the default limit of ${formatAge(finding.maxAgeMs)} (${name('allowOlder')} restores it anyway, ${name('maxAge')} sets another limit)`
        : `${names}: the backup is ${formatAge(finding.ageMs)} old, older than ${name('maxAge')} (${formatAge(finding.maxAgeMs)}) (no override: a limit given with ${name('maxAge')} always applies)`;
    case 'future':
      return `${names}: the backup is dated ${formatAge(finding.aheadMs)} in the future (${finding.createdAt.toISOString()}), more than the ${formatAge(finding.allowanceMs)} of clock skew allowed: the clock was wrong when it was made, or its time was edited, so its age is unknown (${name('allowFuture')} restores it anyway)`;
    case 'age-unknown':
      return `${names}: the age of ${finding.what} is unknown (${finding.aheadMs === undefined ? 'no creation time recorded' : `dated ${formatAge(finding.aheadMs)} in the future: a wrong clock or an edited time`}) and ${name('maxAge')} was given (no override: the age check asked for cannot be made; restore without ${name('maxAge')})`;
  }
}
