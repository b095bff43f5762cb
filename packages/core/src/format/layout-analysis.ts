/**
 * Groups Aerospike segments (live ones, or the files of a backup) into
 * namespaces and finds every reason a namespace must not be backed up or
 * restored: each check ASMT makes (docs/asmt-format.md §6, §18), and the ones it
 * should make (§23, §26).
 *
 * The analysis never throws: it returns each namespace with its problems as
 * coded errors, so `inspect` can show all of them and `requireNamespaces`
 * can refuse with the first.
 */
import type { SegmentKind } from '../contracts/segment.js';
import {
  errConfigInvalid,
  errNamespaceNotFound,
  errNothingSelected,
  errSegmentAttached,
  errSegmentInvalid,
  errSegmentNotClean,
  errSegmentSetInvalid,
  errSegmentVersion,
  errSizeMismatch,
  listSome,
  combineErrors,
  type ShmsnapError,
} from '../errors.js';
import { BASE_MIN_BYTES, BASE_VERSIONS, META_MIN_BYTES, SHUTDOWN_CLEAN, type BaseInfo, type LayoutFields } from './segment-fields.js';
import { decodeKey, type DecodedKey } from './aerospike-key.js';

/** One segment or file, with the fields read from it. */
export interface LayoutEntry extends LayoutFields {
  readonly key: number;
  readonly size: number;
  /** How messages name it: `0xae001100` (segment) or `ae001100.dat.gz` (file). */
  readonly label: string;
  readonly nattch?: number;
  /** Why this entry cannot be used at all (a file missing, unreadable, not a regular file, in conflict): reported first, its fields unread. */
  readonly problem?: ShmsnapError;
  /** The namespace a record (a manifest) gives it: the name of a base whose own bytes could not be read. */
  readonly recordedNamespace?: string;
}

export interface NamespaceMember<E extends LayoutEntry = LayoutEntry> {
  readonly entry: E;
  readonly kind: SegmentKind;
  readonly stage: number | null;
}

export interface NamespaceAnalysis<E extends LayoutEntry = LayoutEntry> {
  readonly instance: number;
  readonly nsid: number;
  /** From the base; '' when there is no readable base. */
  readonly namespace: string;
  readonly base: BaseInfo | undefined;
  /** In I/O order: base, treex, primary stages, meta, secondary stages, data stages. */
  readonly members: readonly NamespaceMember<E>[];
  /** Entries whose key fits no segment kind. */
  readonly unexpected: readonly E[];
  readonly problems: readonly ShmsnapError[];
  /** Facts that do not refuse (a stage size the base records that no stage has: the base's layout may differ from the one we read). */
  readonly warnings: readonly string[];
}

export interface InstanceAnalysis<E extends LayoutEntry = LayoutEntry> {
  readonly instance: number;
  /** Namespaces with a base entry. */
  readonly namespaces: readonly NamespaceAnalysis<E>[];
  /** Groups of entries whose namespace has no base entry. */
  readonly orphans: readonly NamespaceAnalysis<E>[];
}

export interface AnalyzeOptions {
  /** Require the clean-shutdown status in bases (backup; also restore, stricter than ASMT). */
  readonly requireClean: boolean;
  /** Refuse members attached by any process (live segments). */
  readonly requireDetached: boolean;
  /** 'segment' or 'segment file', for messages. */
  readonly noun: string;
}

const ORDER: Readonly<Record<SegmentKind, number>> = {
  'primary-base': 0,
  'primary-treex': 1,
  'primary-stage': 2,
  'secondary-meta': 3,
  'secondary-stage': 4,
  'data-stage': 5,
};

const SAME_SIZE = (what: string) => `Aerospike gives every ${what} of a namespace the same size`;

/**
 * Every primary stage of a namespace has one size (index-stage-size), and
 * every secondary stage too (sindex-stage-size): a stage that differs was cut
 * short or is not this namespace's (ASMT restores it as a smaller segment,
 * §23.13). The reference is the size the base records when at least one stage
 * has it (that confirms the field), else the size most stages share; with no
 * majority, the stages are listed. Entries that cannot be used are left out.
 */
function stageSizeProblems(stages: readonly NamespaceMember<LayoutEntry>[], recorded: number | undefined, what: string, where: string, noun: string): { problems: ShmsnapError[]; warnings: string[] } {
  const usable = stages.filter((m) => m.entry.problem === undefined);
  const problems: ShmsnapError[] = [];
  const warnings: string[] = [];
  if (usable.length === 0) return { problems, warnings };
  const bySize = new Map<number, number>();
  for (const m of usable) bySize.set(m.entry.size, (bySize.get(m.entry.size) ?? 0) + 1);
  let reference: number | undefined;
  let why = '';
  if (recorded !== undefined && bySize.has(recorded)) {
    reference = recorded;
    why = `the ${what} size the base records; ${SAME_SIZE(what)}`;
  } else {
    if (recorded !== undefined) {
      warnings.push(`the base records a ${what} size of ${recorded} bytes, which no ${what} ${noun} has (${[...bySize.keys()].join(', ')} bytes): not refused, as the base may be laid out otherwise`);
    }
    const counts = [...bySize].sort((a, b) => b[1] - a[1]);
    if (counts.length > 1 && counts[0]![1] === counts[1]![1]) {
      const sizes = listSome(usable.map((m) => `${m.entry.label} ${m.entry.size} bytes`));
      problems.push(errSegmentSetInvalid(where, `the ${what} ${noun}s differ in size (${sizes}); ${SAME_SIZE(what)}`));
      return { problems, warnings };
    }
    reference = counts[0]![0];
    why = `the size of the other ${what} ${noun}s of ${where}; ${SAME_SIZE(what)}`;
  }
  for (const m of usable) if (m.entry.size !== reference) problems.push(errSizeMismatch(m.entry.label, reference, m.entry.size, 'bytes', why));
  return { problems, warnings };
}

function isBaseInfo(value: BaseInfo | ShmsnapError | undefined): value is BaseInfo {
  return value !== undefined && typeof (value as BaseInfo).version === 'number';
}

function describeNamespace(instance: number, nsid: number, name: string): string {
  return `instance ${instance}, namespace ${name ? `'${name}'` : '(unnamed)'} (nsid ${nsid})`;
}

/** Stages numbered 0..count-1 with none missing and none extra; returns the problems. */
function stageProblems(stages: readonly NamespaceMember<LayoutEntry>[], expected: number | undefined, what: string, where: string, noun: string): ShmsnapError[] {
  const problems: ShmsnapError[] = [];
  const numbers = new Set(stages.map((m) => m.stage!));
  const count = stages.length;
  for (let stage = 0; stage < count; stage++) {
    if (!numbers.has(stage)) problems.push(errSegmentSetInvalid(where, `missing ${what} ${noun} ${stage} (0x${(0x100 + stage).toString(16)})`));
  }
  if (expected !== undefined && expected !== count) {
    problems.push(errSegmentSetInvalid(where, `wrong number of ${what}s: the header says ${expected}, found ${count}`));
  }
  return problems;
}

function analyzeGroup<E extends LayoutEntry>(instance: number, nsid: number, entries: readonly E[], options: AnalyzeOptions): NamespaceAnalysis<E> {
  const problems: ShmsnapError[] = [];
  const warnings: string[] = [];
  const members: NamespaceMember<E>[] = [];
  const unexpected: E[] = [];
  const seen = new Map<number, E>();
  // Entries that cannot be used come first: what restore refuses on is the damaged file, not what follows from it.
  for (const entry of entries) if (entry.problem) problems.push(entry.problem);
  for (const entry of entries) {
    const decoded = decodeKey(entry.key) as DecodedKey;
    const twin = seen.get(entry.key);
    if (twin) {
      problems.push(errSegmentSetInvalid(describeNamespace(instance, nsid, ''), `${twin.label} and ${entry.label} are the same segment; keep one`));
      continue;
    }
    seen.set(entry.key, entry);
    if (decoded.kind === null) {
      unexpected.push(entry);
      continue;
    }
    members.push({ entry, kind: decoded.kind, stage: decoded.stage });
  }
  members.sort((a, b) => ORDER[a.kind] - ORDER[b.kind] || a.entry.key - b.entry.key);
  const baseMember = members.find((m) => m.kind === 'primary-base');
  const base = isBaseInfo(baseMember?.entry.base) ? baseMember.entry.base : undefined;
  const namespace = base?.namespace ?? baseMember?.entry.recordedNamespace ?? '';
  const where = describeNamespace(instance, nsid, namespace);
  const of = (kind: SegmentKind): NamespaceMember<E>[] => members.filter((m) => m.kind === kind);

  for (const entry of unexpected) {
    if (entry.problem) continue;
    problems.push(errSegmentInvalid(entry.label, `unexpected ${options.noun} in ${where}: its key (low bits 0x${(entry.key & 0xfff).toString(16).padStart(3, '0')}) fits no Aerospike segment kind`));
  }
  if (options.requireDetached) {
    for (const m of members) if ((m.entry.nattch ?? 0) > 0) problems.push(errSegmentAttached(m.entry.label, m.entry.nattch!));
  }

  if (!baseMember) {
    const labels = listSome(members.map((m) => m.entry.label));
    if (labels) {
      problems.push(
        errSegmentSetInvalid(where, `${labels} ${members.length === 1 ? 'has' : 'have'} no primary base ${options.noun} (a treex or stages without their base)`).withDetails({
          keys: members.map((m) => m.entry.label),
        }),
      );
    }
    return { instance, nsid, namespace, base, members, unexpected, problems, warnings };
  }

  const baseLabel = baseMember.entry.label;
  if (baseMember.entry.problem) {
    // Reported above; nothing of the base could be read.
  } else if (!base) {
    const reason = baseMember.entry.base;
    problems.push(reason !== undefined && !isBaseInfo(reason) ? reason : errSegmentInvalid(baseLabel, 'base could not be read'));
  } else {
    if (baseMember.entry.size < BASE_MIN_BYTES) problems.push(errSegmentInvalid(baseLabel, `base is too small (${baseMember.entry.size} bytes)`));
    if (base.version < BASE_VERSIONS.min || base.version > BASE_VERSIONS.max) {
      problems.push(errSegmentVersion(baseLabel, base.version, `${BASE_VERSIONS.min} to ${BASE_VERSIONS.max}`));
    }
    if (options.requireClean && base.shutdownStatus !== SHUTDOWN_CLEAN) problems.push(errSegmentNotClean(baseLabel, base.shutdownStatus));
    if (base.namespace === '') problems.push(errSegmentInvalid(baseLabel, 'base holds no namespace name'));
  }

  const treex = of('primary-treex');
  if (treex.length === 0) problems.push(errSegmentSetInvalid(where, `base ${baseLabel} without its treex ${options.noun}`));
  const primaryStages = of('primary-stage');
  if (primaryStages.length === 0) problems.push(errSegmentSetInvalid(where, `no primary stage ${options.noun}s`));
  problems.push(...stageProblems(primaryStages, base?.primaryStageCount, 'primary stage', where, options.noun));
  const primarySizes = stageSizeProblems(primaryStages, base?.stageSize, 'primary stage', where, options.noun);
  problems.push(...primarySizes.problems);
  warnings.push(...primarySizes.warnings);

  const meta = of('secondary-meta')[0];
  const secondaryStages = of('secondary-stage');
  if (meta) {
    if (meta.entry.problem) {
      // Reported above.
    } else if (meta.entry.size < META_MIN_BYTES || meta.entry.metaStageCount === undefined) {
      problems.push(errSegmentInvalid(meta.entry.label, `secondary meta is too small (${meta.entry.size} bytes, needs ${META_MIN_BYTES})`));
    }
    if (secondaryStages.length === 0) problems.push(errSegmentSetInvalid(where, `secondary meta ${meta.entry.label} without secondary stage ${options.noun}s`));
    problems.push(...stageProblems(secondaryStages, meta.entry.metaStageCount, 'secondary stage', where, options.noun));
  } else if (secondaryStages.length > 0) {
    problems.push(errSegmentSetInvalid(where, `secondary stages ${listSome(secondaryStages.map((m) => m.entry.label))} without their meta ${options.noun}`));
  }

  // Secondary stages share one size (sindex-stage-size); the meta records none we know of. Data stripes may
  // differ (one per shadow device, each its device's size), so they have no such rule.
  problems.push(...stageSizeProblems(secondaryStages, undefined, 'secondary stage', where, options.noun).problems);

  for (const m of of('data-stage')) {
    if (m.entry.problem) continue;
    if (m.entry.dataName === undefined) problems.push(errSegmentInvalid(m.entry.label, 'data segment is too small to hold a namespace name'));
    else if (m.entry.dataName === '') problems.push(errSegmentInvalid(m.entry.label, 'data segment holds no namespace name'));
    else if (namespace !== '' && m.entry.dataName !== namespace) {
      problems.push(errSegmentSetInvalid(where, `data ${options.noun} ${m.entry.label} names namespace '${m.entry.dataName}', not '${namespace}'`));
    }
  }
  return { instance, nsid, namespace, base, members, unexpected, problems, warnings };
}

/**
 * The namespace id an entry belongs to. For primary and secondary keys it is
 * the key's. Data stripes (Aerospike 7+) have a key base of their own, so the
 * nsid in a data key need not be the base's: as ASMT (2.1.0 on), a data stage
 * that names a namespace whose base is in the same instance under another
 * nsid belongs to that namespace (docs/asmt-format.md §6, §25). One whose name
 * fits no base, or two bases, stays with its key's nsid, where the analysis
 * reports it.
 */
function groupNsid(entry: LayoutEntry, decoded: DecodedKey, baseNsidsByName: ReadonlyMap<string, readonly number[]>): number {
  if (decoded.kind !== 'data-stage' || !entry.dataName) return decoded.nsid;
  const owners = baseNsidsByName.get(entry.dataName) ?? [];
  return owners.length === 1 ? owners[0]! : decoded.nsid;
}

/** Analyzes every Aerospike entry, grouped by instance then namespace (id, or name for data stripes). */
export function analyzeLayout<E extends LayoutEntry>(entries: readonly E[], options: AnalyzeOptions): InstanceAnalysis<E>[] {
  const baseNames = new Map<number, Map<string, number[]>>();
  for (const entry of entries) {
    const decoded = decodeKey(entry.key);
    const name = isBaseInfo(entry.base) ? entry.base.namespace : (entry.recordedNamespace ?? '');
    if (decoded?.kind !== 'primary-base' || name === '') continue;
    const byName = baseNames.get(decoded.instance) ?? new Map<string, number[]>();
    baseNames.set(decoded.instance, byName);
    byName.set(name, [...(byName.get(name) ?? []), decoded.nsid]);
  }
  const groups = new Map<number, Map<number, E[]>>();
  for (const entry of entries) {
    const decoded = decodeKey(entry.key);
    if (!decoded) continue;
    const byNsid = groups.get(decoded.instance) ?? new Map<number, E[]>();
    groups.set(decoded.instance, byNsid);
    const nsid = groupNsid(entry, decoded, baseNames.get(decoded.instance) ?? new Map());
    const list = byNsid.get(nsid) ?? [];
    byNsid.set(nsid, list);
    list.push(entry);
  }
  const out: InstanceAnalysis<E>[] = [];
  for (const [instance, byNsid] of [...groups].sort(([a], [b]) => a - b)) {
    const analyses = [...byNsid].sort(([a], [b]) => a - b).map(([nsid, list]) => analyzeGroup(instance, nsid, list, options));
    const namespaces = analyses.filter((a) => a.members.some((m) => m.kind === 'primary-base'));
    // The same name on two namespace ids makes "namespace X" ambiguous.
    const withName = new Map<string, NamespaceAnalysis<E>[]>();
    for (const a of namespaces) if (a.namespace) withName.set(a.namespace, [...(withName.get(a.namespace) ?? []), a]);
    const finalNamespaces = namespaces.map((a) => {
      const twins = withName.get(a.namespace) ?? [];
      if (twins.length < 2) return a;
      const problem = errSegmentSetInvalid(describeNamespace(instance, a.nsid, a.namespace), `namespace name '${a.namespace}' is also used by nsid ${twins.filter((t) => t !== a).map((t) => t.nsid).join(', ')}`);
      return { ...a, problems: [...a.problems, problem] };
    });
    out.push({ instance, namespaces: finalNamespaces, orphans: analyses.filter((a) => !namespaces.includes(a)) });
  }
  return out;
}

export interface Selection {
  readonly instance: number;
  /** Namespace names; all namespaces of the instance when omitted. */
  readonly namespaces?: readonly string[];
}

/** The namespaces a selection names, and every problem that stands in the way of using them. */
export interface SelectedNamespaces<E extends LayoutEntry = LayoutEntry> {
  readonly namespaces: NamespaceAnalysis<E>[];
  /** The selected namespaces' problems and, with no explicit names, those of groups without a base. */
  readonly problems: ShmsnapError[];
}

/**
 * The selected namespaces with their problems; throws only when there is
 * nothing to select: an empty name in the list, a name that is not there,
 * nothing at all for the instance. With no explicit names, a group without a
 * base in the instance is a problem too: "everything" would silently leave
 * it out.
 */
export function selectNamespaces<E extends LayoutEntry>(analysis: readonly InstanceAnalysis<E>[], selection: Selection, where: string): SelectedNamespaces<E> {
  const names = selection.namespaces;
  if (names !== undefined) {
    if (names.length === 0 || names.some((n) => n.trim() === '')) {
      throw errConfigInvalid('namespaces', `empty namespace name in ${JSON.stringify(names.join(','))}`);
    }
  }
  const instance = analysis.find((a) => a.instance === selection.instance);
  if (!instance || (instance.namespaces.length === 0 && instance.orphans.length === 0)) {
    throw errNothingSelected(where, `no Aerospike segments of instance ${selection.instance}`);
  }
  let selected: NamespaceAnalysis<E>[];
  const problems: ShmsnapError[] = [];
  if (names === undefined) {
    selected = [...instance.namespaces];
    for (const orphan of instance.orphans) problems.push(...orphan.problems);
  } else {
    selected = [];
    for (const name of new Set(names)) {
      const found = instance.namespaces.find((n) => n.namespace === name);
      if (!found) {
        const known = instance.namespaces.map((n) => n.namespace).filter(Boolean);
        const error = errNamespaceNotFound(name, selection.instance, where);
        throw known.length > 0 ? error.withDetails({ available: known }) : error;
      }
      selected.push(found);
    }
  }
  if (selected.length === 0 && problems.length === 0) throw errNothingSelected(where, `no namespace with a base of instance ${selection.instance}`);
  for (const ns of selected) problems.push(...ns.problems);
  return { namespaces: selected, problems };
}

/**
 * The selected namespaces, or a coded error: what `selectNamespaces` throws,
 * or the first problem of a selected namespace (further ones in
 * `details.more`).
 */
export function requireNamespaces<E extends LayoutEntry>(analysis: readonly InstanceAnalysis<E>[], selection: Selection, where: string): NamespaceAnalysis<E>[] {
  const { namespaces, problems } = selectNamespaces(analysis, selection, where);
  if (problems.length > 0) throw combineErrors(problems);
  return namespaces;
}
