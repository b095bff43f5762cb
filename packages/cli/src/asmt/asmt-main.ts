/**
 * `asmt`: ASMT's command line on shmsnap's engine. Same options, meaning,
 * messages and exit statuses (0 success, 1 error) as ASMT 2.2.1, with its
 * data-losing bugs fixed (§23): every namespace of `-n` is processed on its
 * own and in order, a failure makes the exit status 1 while the others still
 * run (as ASMT), and a missing namespace, an attached base or an empty name
 * is a failure (ASMT exits 0). Failures are always named on stderr, also
 * without -v.
 */
import { access, constants as fsConstants, mkdir, stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { basename } from 'node:path';
import {
  errInternal,
  formatKey,
  isShmsnapError,
  manifestTotals,
  prepareBackup,
  prepareRestore,
  readHostIdentity,
  type ProgressEvent,
  type Registry,
  type RestoreEntry,
} from '@shmsnap/core';
import { analyzeLiveSegments, createShmSource, createShmTarget, discoverSegments, type LiveSegment, type ShmTarget } from '@shmsnap/shm-native';
import type { InstanceGuard, NamespaceAnalysis } from '@shmsnap/core';
import { guardFrom } from '../cli-options.js';
import { ASMT_CLEAR, ASMT_FLAGS, namerOf, renderMessage } from '../flags.js';
import { createDefaultRegistry } from '../default-registry.js';
import { abandonNote } from '../commands/restore.js';
import { onAbandon, withInterrupt } from '../interrupt.js';
import { groupName, userName } from '../owners.js';
import { formatTable } from '../render/table.js';
import { TOOL_VERSION } from '../version.js';
import { EXIT_OK, EXIT_STATUS_BY_CODE } from '../exit-codes.js';
import { observeRun, reportRun } from '../run-report/report.js';
import { withRunFacts, type RunFacts } from '../run-report/run-facts.js';
import type { RunOperation } from '../run-report/record.js';
import { ALL_INSTANCES, isAsmtExit, parseAsmtArguments, type AsmtOptions } from './asmt-options.js';
import { useAddonCrc32 } from '../native-engines.js';

interface Streams {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
}

const TYPE_NAMES = {
  'primary-base': 'pi-base',
  'primary-treex': 'pi-treex',
  'primary-stage': 'pi-stage',
  'secondary-meta': 'si-meta',
  'secondary-stage': 'si-stage',
  'data-stage': 'data-stage',
} as const;
const TABLE_ORDER = ['primary-base', 'primary-treex', 'secondary-meta', 'primary-stage', 'secondary-stage', 'data-stage'] as const;

/** ASMT's elapsed-time format: 2.3s, 1m:2.3s, 1h:0m:2.3s. */
export function asmtTime(ms: number): string {
  const tenths = Math.floor(ms / 100);
  const hours = Math.floor(tenths / 36000);
  const minutes = Math.floor((tenths % 36000) / 600);
  const seconds = ((tenths % 600) / 10).toFixed(1);
  if (hours > 0) return `${hours}h:${minutes}m:${seconds}s`;
  if (minutes > 0) return `${minutes}m:${seconds}s`;
  return `${seconds}s`;
}

function progressLines(out: (text: string) => void): (event: ProgressEvent) => void {
  let lastTenth = 0;
  return (event) => {
    const tenth = event.bytesTotal > 0 ? Math.floor((event.bytesDone * 10) / event.bytesTotal) : 10;
    if (tenth > lastTenth) {
      lastTenth = tenth;
      out(`Transferred ${String(tenth * 10).padStart(3)}% of data in ${asmtTime(event.elapsedMs)}.\n`);
    }
  };
}

function backupTable(ns: NamespaceAnalysis<LiveSegment>): string[] {
  const rows = TABLE_ORDER.flatMap((kind) => ns.members.filter((m) => m.kind === kind)).map((m) => {
    const stat = m.entry.stat;
    return [
      formatKey(m.entry.key), String(stat.shmid), userName(stat.uid), groupName(stat.gid), `0${(stat.mode & 0o7777).toString(8)}`,
      String(stat.nattch), String(stat.size), String(ns.instance), String(ns.nsid), ns.namespace || '-', TYPE_NAMES[m.kind],
      m.stage === null ? '-' : `0x${m.stage.toString(16).padStart(3, '0')}`,
    ];
  });
  return formatTable(['key', 'shmid', 'user', 'group', 'mode', 'natt', 'segsz', 'inst', 'nsid', 'name', 'type', 'stage'], rows);
}

function restoreTable(entries: readonly RestoreEntry[]): string[] {
  const order = (e: RestoreEntry): number => TABLE_ORDER.indexOf(e.segment.kind);
  const rows = [...entries].sort((a, b) => order(a) - order(b) || a.segment.key - b.segment.key).map(({ segment, storedBytes }) => [
    formatKey(segment.key), userName(segment.uid), groupName(segment.gid), `0100${segment.mode.toString(8).padStart(3, '0')}`,
    String(storedBytes ?? '-'), String(segment.size), String(segment.instance), String(segment.nsid), segment.namespace || '-',
    segment.kind === 'data-stage' ? 'data' : TYPE_NAMES[segment.kind], segment.stage === null ? '-' : `0x${segment.stage.toString(16).padStart(3, '0')}`,
  ]);
  return formatTable(['key', 'user', 'group', 'mode', 'filsz', 'segsz', 'inst', 'nsid', 'name', 'type', 'stage'], rows);
}

/** What a completed run moved, in the shape of shmsnap's result documents (run-report/report.ts reads it). */
interface Transfer {
  readonly instance: number;
  readonly location: string;
  readonly segments: number;
  readonly rawBytes: number;
  readonly storedBytes?: number;
  readonly seconds: number;
}

class AsmtRun {
  readonly #registry: Registry = createDefaultRegistry();
  constructor(
    readonly options: AsmtOptions,
    readonly streams: Streams,
    readonly commandLine: string,
  ) {}

  out(text: string): void {
    this.streams.stdout.write(text);
  }

  /** Verbose output only (ASMT prints almost nothing without -v). */
  verbose(text: string): void {
    if (this.options.verbose) this.out(text);
  }

  /** Failures are always named, also without -v (ASMT is silent there). */
  fail(error: unknown): void {
    const text = isShmsnapError(error) ? `${error.code}: ${renderMessage(error, namerOf(ASMT_FLAGS), ASMT_CLEAR)}` : error instanceof Error ? error.message : String(error);
    this.streams.stderr.write(`asmt: ${text}\n`);
  }

  suggestedCommand(instance: number): string {
    const { operation, directory, namespaces, compress, crc } = this.options;
    return `asmt -${operation === 'backup' ? 'b' : 'r'} -i ${instance} -p ${directory} -n ${namespaces.join(',')}${compress ? ' -z' : ''}${crc ? ' -c' : ''}`;
  }

  async checkDirectory(): Promise<boolean> {
    const { directory, operation, analyze } = this.options;
    const isDirectory = await stat(directory).then((s) => s.isDirectory(), () => undefined);
    if (operation === 'restore') {
      const readable = isDirectory === true && (await access(directory, fsConstants.R_OK | fsConstants.X_OK).then(() => true, () => false));
      if (!readable) this.out(`Cannot read from directory '${directory}': either it does not exist or we don't have read permission.\n`);
      return readable;
    }
    if (isDirectory === undefined && !analyze) {
      // As ASMT: one level, 0700; the parent must exist.
      const made = await mkdir(directory, { mode: 0o700 }).then(() => true, () => false);
      if (made) {
        this.verbose(`\nCreated backup directory '${directory}'.\n`);
        return true;
      }
    }
    if (isDirectory === undefined && analyze) {
      this.out(`Cannot write to directory '${directory}': either it does not exist, we don't have write permission, or we're running with '-a'.\n`);
      return false;
    }
    const writable = isDirectory === true && (await access(directory, fsConstants.W_OK | fsConstants.X_OK).then(() => true, () => false));
    if (!writable) this.out(`Cannot write to directory '${directory}': either it does not exist or we don't have write permission.\n`);
    return writable;
  }

  threads(): number {
    return this.options.threads ?? availableParallelism();
  }

  async instancesForBackup(namespace: string): Promise<number[]> {
    if (this.options.instance !== ALL_INSTANCES) return [this.options.instance];
    const analysis = analyzeLiveSegments(await discoverSegments());
    const found = analysis.filter((i) => i.namespaces.some((n) => n.namespace === namespace)).map((i) => i.instance);
    return found.length > 0 ? found : [0];
  }

  /**
   * Runs one namespace's backup or restore; with SHMSNAP_RUN_LOG or
   * SHMSNAP_METRICS_FILE set (asmt has no such flags: ASMT's command line is
   * kept as it is), reports it as shmsnap's commands do (run-report/), one
   * record per namespace and instance. Not for -a, which moves nothing.
   */
  async reported(operation: RunOperation, namespace: string, instance: number | undefined, body: (done: (transfer: Transfer) => void) => Promise<void>): Promise<void> {
    const runLog = process.env.SHMSNAP_RUN_LOG || undefined;
    const metricsFile = process.env.SHMSNAP_METRICS_FILE || undefined;
    if (this.options.analyze || (runLog === undefined && metricsFile === undefined)) return body(() => undefined);
    const startedAt = new Date();
    const facts: RunFacts = {};
    let transfer: Transfer | undefined;
    let failure: unknown;
    try {
      await withRunFacts(facts, () => body((t) => (transfer = t)));
    } catch (error) {
      failure = error;
      throw error;
    } finally {
      const coded = failure === undefined ? undefined : isShmsnapError(failure) ? failure : errInternal(failure instanceof Error ? failure.message : String(failure), failure);
      const run = observeRun({
        operation,
        // shmsnap's status for the error (asmt itself exits 1 for any), so the outcome tells a refusal from a failure.
        exitStatus: coded ? EXIT_STATUS_BY_CODE[coded.code] : EXIT_OK,
        ...(coded ? { error: coded, message: renderMessage(coded, namerOf(ASMT_FLAGS), ASMT_CLEAR) } : {}),
        ...(transfer ? { result: transfer } : {}),
        fallback: {
          location: this.#registry.redact(this.options.directory),
          ...((instance ?? facts.instance) === undefined ? {} : { instance: (instance ?? facts.instance)! }),
          namespaces: [namespace],
          codec: { name: this.options.compress ? 'gzip' : 'none', level: this.options.compress ? 1 : null },
        },
        startedAt,
        endedAt: new Date(),
        tool: { name: 'shmsnap-asmt', version: TOOL_VERSION },
      });
      await reportRun({ ...(runLog ? { runLog } : {}), ...(metricsFile ? { metricsFile } : {}) }, run, (text) => this.streams.stderr.write(`asmt: warning: ${text}\n`));
    }
  }

  async backup(namespace: string, instance: number, signal: AbortSignal): Promise<void> {
    return this.reported('backup', namespace, instance, (done) => this.backupOne(namespace, instance, signal, done));
  }

  async backupOne(namespace: string, instance: number, signal: AbortSignal, done: (transfer: Transfer) => void): Promise<void> {
    const source = createShmSource({ instance, namespaces: [namespace] });
    // The same prepare as `shmsnap backup`: every check, free space included; -a stops after it.
    const plan = await prepareBackup({
      guard: this.guard,
      instance,
      source,
      sink: await this.#registry.openSink(this.options.directory),
      codec: this.#registry.codec(this.options.compress ? 'gzip' : 'none'),
      concurrency: this.threads(),
      host: await readHostIdentity(),
      tool: { name: 'shmsnap-asmt', version: TOOL_VERSION },
      signal,
    });
    for (const ns of await source.selected()) for (const line of backupTable(ns)) this.verbose(`${line}\n`);
    // Not ASMT's output, and on stderr: what this backup holds that older ASMT releases would lose on restore.
    for (const warning of plan.warnings) this.streams.stderr.write(`asmt: warning: ${warning}\n`);
    if (this.options.analyze) {
      this.verbose(`\n${this.suggestedCommand(instance)}\n`);
      return;
    }
    try {
      const result = await plan.run({ signal, ...(this.options.verbose ? { onProgress: progressLines((t) => this.out(t)) } : {}) });
      const totals = manifestTotals(result.manifest);
      done({ instance, segments: totals.segments, rawBytes: totals.rawBytes, storedBytes: totals.storedBytes, seconds: result.elapsedMs / 1000, location: plan.location });
    } catch (error) {
      this.verbose(`\nFailed to back up ${plan.entries.length} Aerospike database segments.\n`);
      throw error;
    }
    this.verbose(`\nSuccessfully backed up ${plan.entries.length} Aerospike database segments.\n`);
  }

  async restore(namespace: string, signal: AbortSignal): Promise<void> {
    const instance = this.options.instance === ALL_INSTANCES ? undefined : this.options.instance;
    return this.reported('restore', namespace, instance, (done) => this.restoreOne(namespace, instance, signal, done));
  }

  async restoreOne(namespace: string, instance: number | undefined, signal: AbortSignal, done: (transfer: Transfer) => void): Promise<void> {
    const target = createShmTarget();
    const release = onAbandon(() => abandonNote(target.abandon()));
    try {
      await this.restoreWith(target, namespace, instance, signal, done);
    } finally {
      release();
    }
  }

  async restoreWith(target: ShmTarget, namespace: string, instance: number | undefined, signal: AbortSignal, done: (transfer: Transfer) => void): Promise<void> {
    // ASMT has no provenance guard (any host, any age, any date): force lifts every finding that has an override,
    // and without maxAge no other can arise, so nothing refuses, as with ASMT.
    const plan = await prepareRestore({
      guard: this.guard,
      // ASMT restores a directory as often as it is asked: no consumed check (the marker is still written).
      allowConsumed: true,
      sink: await this.#registry.openSink(this.options.directory),
      codecs: this.#registry,
      target,
      namespaces: [namespace],
      force: true,
      concurrency: this.threads(),
      signal,
      ...(instance === undefined ? {} : { instance }),
    });
    for (const line of restoreTable(plan.entries)) this.verbose(`${line}\n`);
    if (this.options.analyze) {
      this.verbose(`\n${this.suggestedCommand(plan.instance)}\n`);
      return;
    }
    try {
      const result = await plan.run({ signal, ...(this.options.verbose ? { onProgress: progressLines((t) => this.out(t)) } : {}) });
      done({ instance: plan.instance, segments: result.segments, rawBytes: result.rawBytes, seconds: result.elapsedMs / 1000, location: plan.location });
    } catch (error) {
      this.verbose(`\nFailed to restore ${plan.entries.length} Aerospike database segment files.\n`);
      throw error;
    }
    this.verbose(`\nSuccessfully restored ${plan.entries.length} Aerospike database segment files.\n`);
  }

  async run(): Promise<number> {
    const o = this.options;
    for (const warning of o.warnings) this.out(`${warning}\n`);
    const doing = o.analyze
      ? `Performing analyze operation with ${o.operation} option.`
      : o.operation === 'backup'
        ? `Performing backup operation${o.compress && o.crc ? ' with compression and crc32 checking' : o.compress ? ' with compression' : o.crc ? ' with crc32 checking' : ''}.`
        : `Performing restore operation${o.crc ? ' with crc32 checking' : ''}.`;
    this.verbose(`Aerospike Shared Memory Tool, Version 2.2.1 (shmsnap ${TOOL_VERSION})\nCopyright (C) 2022-2024 Aerospike, Inc.  All rights reserved.\n\n${this.commandLine}\n\n${doing}\n`);
    if (o.namespaces.length === 0) {
      this.out('Failed to extract namespace names from list.\n');
      return 1;
    }
    if (o.namespaces.some((n) => n === '')) {
      this.out('\nInvalid namespace name(s) provided.\n');
      return 1;
    }
    if (!(await this.checkDirectory())) return 1;
    let status = 0;
    // The same host lock and asd check as shmsnap's (its directory and pid file from SHMSNAP_LOCK_DIR, SHMSNAP_ASD_PID_FILE).
    this.guard = guardFrom({
      ...(process.env.SHMSNAP_LOCK_DIR ? { lockDir: process.env.SHMSNAP_LOCK_DIR } : {}),
      ...(process.env.SHMSNAP_ASD_PID_FILE ? { asdPidFile: process.env.SHMSNAP_ASD_PID_FILE } : {}),
    });
    try {
      status = await this.eachNamespace();
    } finally {
      this.guard.release();
    }
    return status;
  }

  guard: InstanceGuard | undefined;

  async eachNamespace(): Promise<number> {
    const o = this.options;
    let status = 0;
    for (const namespace of o.namespaces) {
      try {
        await withInterrupt(`asmt ${o.operation}`, (text) => this.streams.stderr.write(`${text}\n`), async (signal) => {
          if (o.operation === 'restore') await this.restore(namespace, signal);
          else for (const instance of await this.instancesForBackup(namespace)) await this.backup(namespace, instance, signal);
        });
      } catch (error) {
        this.fail(error);
        status = 1;
        if (isShmsnapError(error, 'ABORTED')) break;
      }
    }
    return status;
  }
}

export async function runAsmt(argv: readonly string[], streams: Streams = process): Promise<number> {
  useAddonCrc32();
  const args = argv.slice(2);
  const program = basename(argv[1] ?? 'asmt').replace(/\.js$/, '');
  const parsed = parseAsmtArguments(args, availableParallelism(), program);
  if (isAsmtExit(parsed)) {
    streams.stderr.write(parsed.stderr);
    streams.stdout.write(parsed.stdout);
    return parsed.status;
  }
  return new AsmtRun(parsed, streams, [program, ...args].join(' ')).run();
}
