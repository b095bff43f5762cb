/**
 * `shmsnap backup --to <location>`: the namespaces of one instance, from
 * shared memory to a location, in ASMT's layout plus a manifest. Parse →
 * prepare (every check) → render the plan → run → render the result; a dry
 * run stops after the plan.
 */
import { Option, type Command } from 'commander';
import { DEFAULT_AEROSPIKE_CONF, errConfigInvalid, formatBytes, readAerospikeHostFacts, manifestTotals, prepareBackup, readHostIdentity, type Codec, type HostIdentity, type InstanceGuard, type KeyProvider, type Registry, type Sink } from '@shmsnap/core';
import { createShmSource } from '@shmsnap/shm-native';
import { addGuardOptions, codecOption, guardFrom, instanceOption, type GuardFlags, namespaceOption, parseInstance, parseLocation, parsePositiveInteger, threadsOption } from '../cli-options.js';
import { execute, sinkOpener, type CliContext, type SinkOpener } from '../context.js';
import { onAbandon, type OnCommitted } from '../interrupt.js';
import type { Output } from '../render/output.js';
import { codecJson, namespaceJson } from '../render/json.js';
import { planJson, printPlan } from '../render/plan-table.js';
import { summaryJson, summaryLine } from '../render/summary.js';
import { addProgressOptions, type ProgressFlags } from '../progress-options.js';
import { addRunReportOptions } from '../run-report/report.js';
import { addSinkOptions, type SinkFlags } from '../sink-options.js';
import { TOOL } from '../version.js';
import { addKeyOptions, frameCipherFor, keyFrom, KEY_FLAGS, type KeyFlags } from '../key-options.js';

export interface BackupCommandOptions {
  readonly to: string;
  readonly instance: number;
  readonly namespaces?: readonly string[];
  readonly codec: string;
  readonly level?: number;
  readonly threads: number;
  readonly dryRun: boolean;
  /** The host guard's flags: lock directory, asd pid file, aerospike.conf, --allow-running-asd. @default {} */
  readonly guard?: GuardFlags;
  /** The key flags: any of them encrypts the backup. @default {} */
  readonly key?: KeyFlags;
  /** Refuse to run unless a key is given (a script's guard against an unencrypted backup). @default false */
  readonly encrypt?: boolean;
  readonly hash?: 'sha256';
}

export const LOCATION_PLACEHOLDERS = ['host', 'instance', 'timestamp'] as const;

/**
 * Fills in {host}, {instance} and {timestamp} (UTC, 20261121T101500Z). Any
 * other `{...}` is refused rather than kept literally: `{hostname}` or
 * `{date}` would otherwise name one fixed directory for every run.
 */
export function expandLocation(template: string, values: { host: string; instance: number; time: Date }): string {
  const unknown = [...new Set([...template.matchAll(/\{([^{}]*)\}/g)].map((m) => m[1]!).filter((name) => !(LOCATION_PLACEHOLDERS as readonly string[]).includes(name)))];
  if (unknown.length > 0) {
    throw errConfigInvalid('to', `unknown placeholder${unknown.length > 1 ? 's' : ''} ${unknown.map((n) => `{${n}}`).join(', ')} in '${template}' (known: ${LOCATION_PLACEHOLDERS.map((n) => `{${n}}`).join(', ')})`);
  }
  const timestamp = values.time.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  return template.replaceAll('{host}', values.host).replaceAll('{instance}', String(values.instance)).replaceAll('{timestamp}', timestamp);
}

export async function runBackupCommand(
  options: BackupCommandOptions,
  output: Output,
  registry: Registry,
  openSink: SinkOpener,
  signal: AbortSignal,
  onCommitted?: OnCommitted,
): Promise<void> {
  const codec = registry.codec(options.codec);
  const key = await keyFrom(options.key ?? {});
  if (options.encrypt === true && !key) throw errConfigInvalid('--encrypt', `needs the key to encrypt with: ${KEY_FLAGS}`);
  const host = await readHostIdentity();
  const sink = await openSink(expandLocation(options.to, { host: host.hostname, instance: options.instance, time: new Date() }));
  // Held from prepare to the end of the run; a dry run takes it too, so it refuses when the run would.
  const guard = guardFrom(options.guard ?? {});
  try {
    await backupWith(guard, sink, codec, host, { ...options, ...(key ? { keyProvider: key } : {}) }, output, signal, onCommitted);
  } finally {
    guard.release();
  }
}

async function backupWith(
  guard: InstanceGuard,
  sink: Sink,
  codec: Codec,
  host: HostIdentity,
  options: BackupCommandOptions & { readonly keyProvider?: KeyProvider },
  output: Output,
  signal: AbortSignal,
  onCommitted: OnCommitted | undefined,
): Promise<void> {
  const plan = await prepareBackup({
    ...(options.keyProvider ? { encryption: options.keyProvider } : {}),
    ...frameCipherFor(options.keyProvider),
    ...(options.hash ? { hash: options.hash } : {}),
    guard,
    instance: options.instance,
    source: createShmSource({ instance: options.instance, ...(options.namespaces ? { namespaces: options.namespaces } : {}) }),
    sink,
    codec,
    ...(options.level === undefined ? {} : { level: options.level }),
    concurrency: options.threads,
    host,
    tool: TOOL,
    signal,
    // Recorded in the manifest for pre-flight (location/preflight.ts).
    aerospike: await readAerospikeHostFacts(options.guard?.aerospikeConf ?? DEFAULT_AEROSPIKE_CONF),
    aerospikeConfExplicit: options.guard?.aerospikeConf !== undefined,
  });

  const described = plan.namespaces.map((n) => `'${n.name}' (nsid ${n.nsid})`).join(', ');
  output.line(
    `backup: instance ${plan.instance}, namespace${plan.namespaces.length > 1 ? 's' : ''} ${described}: ${plan.entries.length} segments, ${formatBytes(plan.rawBytes)} → ${plan.location} (codec ${codec.name}${plan.level === null ? '' : ` level ${plan.level}`}${plan.encryption ? `, encrypted with the key from ${plan.encryption.describe}` : ''}${plan.hash ? `, ${plan.hash} per object` : ''})`,
  );
  for (const note of plan.notes) output.note(`backup: note: ${note}`);
  if (plan.encryption) output.note('backup: note: encrypted objects end in .enc: ASMT cannot read or restore them; restore and verify them with shmsnap and this key');
  for (const warning of plan.warnings) output.note(`backup: warning: ${warning}`);
  const common = {
    location: plan.location,
    instance: plan.instance,
    namespaces: plan.namespaces.map(namespaceJson),
    codec: codecJson(codec.name, plan.level),
    encrypted: plan.encryption !== undefined,
    notes: plan.notes,
    warnings: plan.warnings,
  };
  if (options.dryRun) {
    printPlan(output, plan.entries);
    output.line('dry run: every check passed; no segment was read and nothing was written');
    output.result('backup', { dryRun: true, ...common, plan: planJson(plan.entries, plan.namespaces) });
    return;
  }

  // Ended before it could remove what it wrote (a write blocked in the kernel): say what is left.
  const release = onAbandon(() => `the objects this backup wrote so far remain in ${plan.location} beside its pending marker (ls shows it as interrupted); remove them before backing up there again`);
  const result = await plan.run({ signal, onProgress: output.progress(), ...(onCommitted ? { onCommitted } : {}) }).finally(release);
  const totals = manifestTotals(result.manifest);
  const summary = { phase: 'backup', segments: totals.segments, rawBytes: totals.rawBytes, storedBytes: totals.storedBytes, elapsedMs: result.elapsedMs };
  output.line(summaryLine(summary));
  output.line(`backup: committed ${result.manifestObject}`);
  output.result('backup', {
    dryRun: false,
    ...common,
    namespaces: result.manifest.namespaces.map(namespaceJson),
    codec: codecJson(result.manifest.codec.name, result.manifest.codec.level),
    manifest: result.manifestObject,
    ...summaryJson(summary),
  });
}

type BackupFlags = SinkFlags & ProgressFlags & GuardFlags & KeyFlags & { encrypt?: boolean; hash?: 'sha256'; to: string; instance: number; namespace?: string[]; codec: string; level?: number; threads: number; dryRun?: boolean; json?: boolean };

export function defineBackupCommand(program: Command, context: CliContext): void {
  const command = program
    .command('backup')
    .description(
      "Back up the Aerospike namespaces of one instance from shared memory to a location, in ASMT's layout (one file per segment, named by its key) plus a manifest written last. Refuses attached or not-cleanly-shut-down segments, incomplete segment sets, and locations already holding a backup of these namespaces, a running asd of the instance (--allow-running-asd), and another shmsnap run on the instance (host lock). A segment attached or changed by another process during the backup fails it. On failure or Ctrl-C, everything it wrote is removed, with the directories it created.",
    )
    .addOption(new Option('--to <location>', 'a directory, file:///absolute/path or s3://bucket/prefix; {host}, {instance} and {timestamp} are filled in, any other {...} is refused (e.g. s3://bucket/aerospike/{host}/{instance}/{timestamp})').argParser(parseLocation).makeOptionMandatory())
    .addOption(instanceOption('Aerospike instance (0..15)').default(0).argParser(parseInstance))
    .addOption(namespaceOption('only these namespaces, comma-separated (default: every namespace of the instance)'))
    .addOption(codecOption(context.registry))
    .addOption(new Option('--level <n>', 'codec level (gzip 1..9, default 1 as ASMT; zstd 1..19, default 1)').argParser(parsePositiveInteger('--level', 22)))
    .addOption(threadsOption())
    .option('--encrypt', `encrypt the backup (AES-256-GCM, after the codec; every object's name then ends in .enc, which ASMT CANNOT read, and the manifest is authenticated); needs a key: ${KEY_FLAGS}. Giving a key flag alone encrypts too: --encrypt only makes a missing key an error`)
    .addOption(new Option('--hash <algorithm>', "also record each object's SHA-256 (of its stored bytes) in the manifest, checked by restore and verify beside the CRC-32s").choices(['sha256']))
    .option('--dry-run', 'run every check and print the plan (segments, sizes, files) without reading a segment or writing anything')
    .option('--json', 'print the result as JSON');
  addKeyOptions(command, 'encrypt the backup with this key');
  addGuardOptions(command, { conf: true });
  addProgressOptions(command);
  addRunReportOptions(command);
  addSinkOptions(command, context.registry, true).action(async (flags: BackupFlags) => {
    await execute(context, flags, 'backup', (output, signal, onCommitted) =>
      runBackupCommand(
        {
          to: flags.to,
          instance: flags.instance,
          codec: flags.codec,
          threads: flags.threads,
          dryRun: flags.dryRun === true,
          guard: flags,
          key: flags,
          ...(flags.encrypt === true ? { encrypt: true } : {}),
          ...(flags.hash ? { hash: flags.hash } : {}),
          ...(flags.namespace ? { namespaces: flags.namespace } : {}),
          ...(flags.level === undefined ? {} : { level: flags.level }),
        },
        output,
        context.registry,
        sinkOpener(context.registry, flags, true, process.env, (attribute) => command.getOptionValueSource(attribute)),
        signal,
        onCommitted,
      ),
    );
  });
}
