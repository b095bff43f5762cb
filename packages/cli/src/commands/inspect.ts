/**
 * `shmsnap inspect`: the Aerospike segments in shared memory, by instance and
 * namespace, and whether each namespace may be backed up (if not, why).
 */
import type { Command } from 'commander';
import { errNamespaceNotFound, formatBytes, formatKey, type NamespaceAnalysis } from '@shmsnap/core';
import { analyzeLiveSegments, discoverSegments, hiddenShmSegments, type HiddenSegments, type LiveSegment } from '@shmsnap/shm-native';
import { instanceOption, namespaceOption } from '../cli-options.js';
import { execute, type CliContext } from '../context.js';
import type { Output } from '../render/output.js';
import { groupName, userName } from '../owners.js';
import { formatTable } from '../render/table.js';

export interface InspectOptions {
  readonly instance?: number;
  readonly namespaces?: readonly string[];
}

const octal = (mode: number): string => `0${(mode & 0o7777).toString(8)}`;

function segmentJson(ns: NamespaceAnalysis<LiveSegment>) {
  return ns.members.map((m) => {
    const stat = m.entry.stat;
    return {
      key: formatKey(m.entry.key),
      kind: m.kind,
      stage: m.stage,
      size: m.entry.size,
      shmid: stat.shmid,
      uid: stat.uid,
      gid: stat.gid,
      user: userName(stat.uid),
      group: groupName(stat.gid),
      mode: octal(stat.mode & 0o777),
      locked: (stat.mode & 0o2000) !== 0,
      nattch: stat.nattch,
    };
  });
}

function namespaceJson(ns: NamespaceAnalysis<LiveSegment>) {
  return {
    namespace: ns.namespace || null,
    nsid: ns.nsid,
    version: ns.base?.version ?? null,
    shutdownStatus: ns.base?.shutdownStatus ?? null,
    stageSize: ns.base?.stageSize ?? null,
    backupAllowed: ns.problems.length === 0,
    problems: ns.problems.map((p) => ({ code: p.code, message: p.message })),
    warnings: ns.warnings,
    segments: segmentJson(ns),
    unexpected: ns.unexpected.map((e) => formatKey(e.key)),
  };
}

/**
 * What this user cannot see, and what it takes to: SHM_STAT needs read
 * permission, so root's 0600 segments are simply absent for anyone else.
 */
function describeHidden(hidden: HiddenSegments): string | undefined {
  const who = `this user (uid ${process.getuid?.() ?? '?'})`;
  const privilege = 'run as root, as their owner or creator, or with CAP_IPC_OWNER';
  if (hidden.detailed) {
    const n = hidden.aerospike.length;
    if (n === 0) return undefined;
    const owners = [...new Set(hidden.aerospike.map((e) => `${userName(e.uid)} (uid ${e.uid})`))].join(', ');
    const keys = hidden.aerospike.map((e) => formatKey(e.key)).join(', ');
    return `${n} Aerospike segment${n > 1 ? 's' : ''} in shared memory cannot be read by ${who}: ${keys}, owned by ${owners}; to inspect or back ${n > 1 ? 'them' : 'it'} up, ${privilege}`;
  }
  if (hidden.count === 0) return undefined;
  return `${hidden.count} segment${hidden.count > 1 ? 's' : ''} in shared memory cannot be read by ${who} (whether they are Aerospike's is unknown: /proc/sysvipc/shm is not readable); to see them, ${privilege}`;
}

export async function runInspectCommand(options: InspectOptions, output: Output): Promise<void> {
  const analysis = analyzeLiveSegments(await discoverSegments(options.instance));
  const hidden = hiddenShmSegments(options.instance === undefined ? {} : { instance: options.instance });
  const hiddenNote = describeHidden(hidden);
  const wanted = options.namespaces;
  if (wanted) {
    for (const name of wanted) {
      if (!analysis.some((i) => i.namespaces.some((n) => n.namespace === name))) {
        throw errNamespaceNotFound(name, options.instance ?? 0, hiddenNote ? `shared memory that this user can read (${hiddenNote})` : 'shared memory');
      }
    }
  }
  const instances = analysis.map((i) => ({
    instance: i.instance,
    namespaces: i.namespaces.filter((n) => !wanted || wanted.includes(n.namespace)),
    orphans: wanted ? [] : i.orphans,
  }));

  if (instances.every((i) => i.namespaces.length === 0 && i.orphans.length === 0)) {
    output.line(`no Aerospike segments in shared memory${options.instance === undefined ? '' : ` for instance ${options.instance}`}${hiddenNote ? ' that this user can read' : ''}`);
  }
  if (hiddenNote) output.note(`inspect: ${hiddenNote}`);
  for (const instance of instances) {
    for (const ns of [...instance.namespaces, ...instance.orphans]) {
      const title = ns.namespace ? `namespace '${ns.namespace}'` : 'segments without a base';
      const verdict = ns.problems.length === 0 ? 'backup allowed' : 'backup refused';
      const stageSize = ns.base?.stageSize === undefined ? '' : `, stage size ${formatBytes(ns.base.stageSize)}`;
      const version = ns.base ? `, version ${ns.base.version}, shutdown status ${ns.base.shutdownStatus}${stageSize}` : '';
      output.line(`instance ${instance.instance}, ${title} (nsid ${ns.nsid}${version}): ${verdict}`);
      for (const problem of ns.problems) output.line(`  ${problem.code}: ${problem.message}`);
      for (const warning of ns.warnings) output.line(`  note: ${warning}`);
      const rows = segmentJson(ns).map((s) => [
        s.key, s.kind, s.stage === null ? '-' : `0x${s.stage.toString(16).padStart(3, '0')}`, formatBytes(s.size), `${s.user}:${s.group}`,
        s.mode + (s.locked ? ' locked' : ''), String(s.nattch), String(s.shmid),
      ]);
      for (const line of formatTable(['key', 'kind', 'stage', 'size', 'owner', 'mode', 'nattch', 'shmid'], rows, '  ')) output.line(line);
      output.line();
    }
  }
  output.result({
    unreadable: {
      count: hidden.count,
      aerospikeKeys: hidden.detailed ? hidden.aerospike.map((e) => formatKey(e.key)) : null,
      owners: hidden.detailed ? [...new Set(hidden.aerospike.map((e) => e.uid))] : null,
    },
    instances: instances.map((i) => ({
      instance: i.instance,
      namespaces: i.namespaces.map(namespaceJson),
      orphans: i.orphans.map(namespaceJson),
    })),
  });
}

export function defineInspectCommand(program: Command, context: CliContext): void {
  program
    .command('inspect')
    .description('List the Aerospike segments in shared memory by instance and namespace: kind, key, size, owner, mode, attachments, and whether a backup is allowed (if not, why).')
    .addOption(instanceOption('only this instance (0..15)'))
    .addOption(namespaceOption('only these namespaces, comma-separated'))
    .option('--json', 'print the result as JSON')
    .action(async (flags: { instance?: number; namespace?: string[]; json?: boolean }) => {
      await execute(context, flags, 'inspect', (output) =>
        runInspectCommand({ ...(flags.instance === undefined ? {} : { instance: flags.instance }), ...(flags.namespace ? { namespaces: flags.namespace } : {}) }, output),
      );
    });
}
