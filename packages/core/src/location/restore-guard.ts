/**
 * The provenance guard of a restore, as a pure function: where each part of
 * the restore comes from (host, time, boot), and the findings that refuse it
 * unless the caller overrides them. It prints nothing and decides nothing:
 * `prepareRestore` records the findings, the frontends render them with
 * their own option names, and `plan.run()` refuses while any stands without
 * the override.
 */
import { foreignHostReason } from '../host-identity.js';
import type { HostIdentity } from '../format/manifest.js';
import { formatAge } from '../units.js';

/** One source of a restore: a manifest, or the ASMT files without one. */
export interface RestoreSource {
  readonly namespaces: readonly string[];
  /** The manifest's name, or a description of the files. */
  readonly what: string;
  readonly createdAt: Date | undefined;
  /** Who made it; undefined for ASMT files (ASMT records none). */
  readonly host: HostIdentity | undefined;
}

export interface RestoreProvenance extends RestoreSource {
  /** Age at assessment time, never negative; undefined when unknown. */
  readonly ageMs: number | undefined;
  /** Made in the current boot; undefined when either boot id is unknown. */
  readonly sameBoot: boolean | undefined;
}

export type RestoreFinding =
  | { readonly guard: 'host'; readonly namespaces: readonly string[]; readonly reason: string }
  | { readonly guard: 'age'; readonly namespaces: readonly string[]; readonly ageMs: number; readonly maxAgeMs: number }
  | { readonly guard: 'age-unknown'; readonly namespaces: readonly string[]; readonly what: string };

export interface RestorePolicy {
  /** Refuse a backup older than this. */
  readonly maxAgeMs?: number;
}

export interface RestoreAssessment {
  readonly provenance: readonly RestoreProvenance[];
  /** Reasons to refuse; the override for all of them is the `force` option. */
  readonly findings: readonly RestoreFinding[];
}

export function assessRestore(sources: readonly RestoreSource[], current: HostIdentity, now: Date, policy: RestorePolicy): RestoreAssessment {
  const findings: RestoreFinding[] = [];
  const provenance = sources.map((source): RestoreProvenance => {
    const ageMs = source.createdAt ? Math.max(0, now.getTime() - source.createdAt.getTime()) : undefined;
    const host = source.host;
    const sameBoot = host === undefined || host.bootId === null || current.bootId === null ? undefined : host.bootId === current.bootId;
    if (host) {
      const foreign = foreignHostReason(host, current);
      if (foreign) findings.push({ guard: 'host', namespaces: source.namespaces, reason: foreign });
    }
    if (policy.maxAgeMs !== undefined) {
      if (ageMs === undefined) findings.push({ guard: 'age-unknown', namespaces: source.namespaces, what: source.what });
      else if (ageMs > policy.maxAgeMs) findings.push({ guard: 'age', namespaces: source.namespaces, ageMs, maxAgeMs: policy.maxAgeMs });
    }
    return { ...source, ageMs, sameBoot };
  });
  return { provenance, findings };
}

/** Names an option for people; each frontend passes its own flag names (`maxAge` → `--max-age`). */
export type OptionNamer = (option: string) => string;

/** One finding in words, naming options through `name`. */
export function describeFinding(finding: RestoreFinding, name: OptionNamer = (option) => option): string {
  const names = finding.namespaces.map((n) => `'${n}'`).join(', ');
  switch (finding.guard) {
    case 'host':
      return `${names}: ${finding.reason}`;
    case 'age':
      return `${names}: the backup is ${formatAge(finding.ageMs)} old, older than ${name('maxAge')} (${formatAge(finding.maxAgeMs)})`;
    case 'age-unknown':
      return `${names}: the age of ${finding.what} is unknown and ${name('maxAge')} was given`;
  }
}
