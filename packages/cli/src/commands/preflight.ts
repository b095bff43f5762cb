/**
 * `shmsnap preflight --from <location>`: what the next start of asd will do
 * with what a restore from the location puts into shared memory, per
 * namespace (warm, cold, crash risk, unknown: core's location/preflight.ts),
 * and the checks restore would make now (its own prepare, as a dry run).
 * Parse → preparePreflight → render. Exit status 0 only when a warm start is
 * expected for every namespace and no check fails; EXIT_NOT_WARM otherwise.
 */
import { Option, type Command } from 'commander';
import {
  DEFAULT_AEROSPIKE_CONF,
  DEFAULT_MAX_AGE_MS,
  formatAge,
  preparePreflight,
  readAerospikeHostFacts,
  type NamespacePreflight,
  type PreflightReport,
  type Registry,
} from '@shmsnap/core';
import { createShmTarget } from '@shmsnap/shm-native';
import { addGuardOptions, guardFrom, instanceOption, namespaceOption, parseDepth, parseLocation, type GuardFlags } from '../cli-options.js';
import { execute, sinkOpener, type CliContext, type SinkOpener } from '../context.js';
import { parseDuration } from '../duration.js';
import { EXIT_NOT_WARM, EXIT_OK } from '../exit-codes.js';
import type { Output } from '../render/output.js';
import { formatTable } from '../render/table.js';
import { addSinkOptions, type SinkFlags } from '../sink-options.js';
import { latestOf } from './restore.js';

export interface PreflightCommandOptions {
  readonly from: string;
  readonly instance?: number;
  readonly namespaces?: readonly string[];
  readonly latest?: boolean;
  readonly depth?: number;
  readonly maxAgeMs?: number;
  /** Only the configuration: restore's checks (segments in the way, space, lock, asd) are skipped. @default false */
  readonly configOnly?: boolean;
  readonly guard?: GuardFlags;
}

/** The JSON shape of one namespace's assessment (restore's dry run uses it too). */
export function preflightNamespaceJson(ns: NamespacePreflight) {
  return { name: ns.name, nsid: ns.nsid, expect: ns.expect, findings: ns.findings.map((f) => ({ ...f })) };
}

/** The assessment as restore's `preflight` member: what the next start does, without restore's own checks. */
export function preflightJson(report: PreflightReport) {
  return { expect: report.expect, conf: report.conf, build: report.build, namespaces: report.namespaces.map(preflightNamespaceJson), notes: report.notes };
}

const EXPECT_TEXT = { warm: 'warm start expected', cold: 'COLD START expected', 'crash-risk': 'CRASH RISK', unknown: 'unknown' } as const;

/** The per-namespace table: each namespace, then what was compared, both values and the reason. */
export function printPreflight(output: Output, report: Pick<PreflightReport, 'namespaces'>, prefix: string): void {
  for (const ns of report.namespaces) {
    output.line(`${prefix}: namespace '${ns.name}' (nsid ${ns.nsid}): ${EXPECT_TEXT[ns.expect]}`);
    const rows = ns.findings.map((f) => [f.expect, f.what, f.backup ?? '?', f.now ?? '?', `${f.derived ? '[derived] ' : ''}${f.reason}`]);
    for (const line of formatTable(['expect', 'what', 'backup', 'now', 'why'], rows, '  ')) output.line(line);
  }
}

export async function runPreflightCommand(options: PreflightCommandOptions, output: Output, registry: Registry, openSink: SinkOpener, signal: AbortSignal): Promise<number> {
  const sink = await latestOf({ from: options.from, latest: options.latest === true, ...(options.depth === undefined ? {} : { depth: options.depth }), ...(options.instance === undefined ? {} : { instance: options.instance }) }, registry, openSink, signal);
  const guardFlags = options.guard ?? {};
  // The asd check is pre-flight's own (so a running asd does not hide the other checks): the guard only takes the lock.
  const guard = options.configOnly === true ? undefined : guardFrom({ ...guardFlags, allowRunningAsd: true });
  try {
    const report = await preparePreflight({
      sink,
      codecs: registry,
      aerospike: await readAerospikeHostFacts(guardFlags.aerospikeConf ?? DEFAULT_AEROSPIKE_CONF),
      ...(options.configOnly === true ? {} : { restoreChecks: { target: createShmTarget(), ...(guard ? { guard } : {}), allowRunningAsd: guardFlags.allowRunningAsd === true, ...(guardFlags.asdPidFile === undefined ? {} : { asdPidFile: guardFlags.asdPidFile }) } }),
      ...(options.instance === undefined ? {} : { instance: options.instance }),
      ...(options.namespaces ? { namespaces: options.namespaces } : {}),
      ...(options.maxAgeMs === undefined ? {} : { maxAgeMs: options.maxAgeMs }),
      name: output.flag,
      signal,
    });
    output.line(`preflight: ${report.location}, instance ${report.instance}; ${report.conf.path}${report.conf.error === null ? '' : ` (not read: ${report.conf.error})`}; asd build now ${report.build.now ?? 'unknown'}, at backup ${report.build.backup ?? 'unknown'}`);
    printPreflight(output, report, 'preflight');
    output.line('preflight: checks restore makes:');
    for (const line of formatTable(['check', 'status', 'detail'], report.checks.map((c) => [c.check, c.status, c.code === null ? c.message : `${c.code}: ${c.message}`]), '  ')) output.line(line);
    for (const note of report.notes) output.note(`preflight: note: ${note}`);
    const bad = report.namespaces.filter((n) => n.expect !== 'warm').map((n) => `'${n.name}' ${EXPECT_TEXT[n.expect]}`);
    const failed = report.checks.filter((c) => c.status === 'fail').map((c) => c.check);
    output.line(
      report.warmStart
        ? `preflight: a warm start is expected for every namespace (${report.namespaces.length})`
        : `preflight: NO warm start expected: ${[...bad, ...(failed.length > 0 ? [`failing checks: ${[...new Set(failed)].join(', ')}`] : [])].join('; ')}`,
    );
    output.result(
      'preflight',
      {
        location: report.location,
        instance: report.instance,
        warmStart: report.warmStart,
        expect: report.expect,
        conf: report.conf,
        build: report.build,
        namespaces: report.namespaces.map(preflightNamespaceJson),
        checks: report.checks,
        notes: report.notes,
      },
      report.warmStart,
    );
    return report.warmStart ? EXIT_OK : EXIT_NOT_WARM;
  } finally {
    guard?.release();
  }
}

type PreflightFlags = SinkFlags &
  GuardFlags & { from: string; instance?: number; namespace?: string[]; latest?: boolean; depth?: number; maxAge?: number; configOnly?: boolean; json?: boolean };

export function definePreflightCommand(program: Command, context: CliContext): void {
  const command = program
    .command('preflight')
    .description(
      `What the next start of asd will do after a restore from a location, per namespace, comparing aerospike.conf now with what the backup recorded (its manifest) and holds: a warm start, a cold start (partition-tree-sprigs or index-type changed, the namespace gone from the conf, a base not cleanly shut down), a crash risk (the data stripes' size or count no longer what the conf gives: data-size, filesize, shadows), or unknown (ASMT files and older manifests record no settings). Also runs the checks restore would make now (segments in the way, kernel.shmmax/shmall and memory, the host lock, a running asd, age, host, consumed, index checkpoint). Changes nothing. Exit status 0 when a warm start is expected for every namespace and no check fails, ${EXIT_NOT_WARM} otherwise.`,
    )
    .addOption(new Option('--from <location>', 'a directory, file:// URL or s3://bucket/prefix').argParser(parseLocation).makeOptionMandatory())
    .addOption(instanceOption('Aerospike instance (0..15) (default: the one the location holds)'))
    .addOption(namespaceOption('only these namespaces, comma-separated (default: every namespace of the instance)'))
    .option('--latest', 'the location holds many backups: assess the newest complete, unconsumed one of this host and instance (as restore --latest)')
    .addOption(new Option('--depth <n>', 'with --latest: levels below the location to look into (default 3)').argParser(parseDepth))
    .addOption(new Option('--max-age <duration>', `as restore's: the age limit the age check uses instead of ${formatAge(DEFAULT_MAX_AGE_MS)}`).argParser(parseDuration))
    .option('--config-only', "assess the configuration only; skip restore's checks of this host now (segments in the way, space, lock, asd): for a change ticket written before asd is stopped")
    .option('--json', 'print the result as JSON');
  addGuardOptions(command, { conf: true });
  addSinkOptions(command, context.registry, false).action(async (flags: PreflightFlags) => {
    await execute(context, flags, 'preflight', (output, signal) =>
      runPreflightCommand(
        {
          from: flags.from,
          latest: flags.latest === true,
          configOnly: flags.configOnly === true,
          guard: flags,
          ...(flags.depth === undefined ? {} : { depth: flags.depth }),
          ...(flags.instance === undefined ? {} : { instance: flags.instance }),
          ...(flags.namespace ? { namespaces: flags.namespace } : {}),
          ...(flags.maxAge === undefined ? {} : { maxAgeMs: flags.maxAge }),
        },
        output,
        context.registry,
        sinkOpener(context.registry, flags, false, process.env, (attribute) => command.getOptionValueSource(attribute)),
        signal,
      ),
    );
  });
}
