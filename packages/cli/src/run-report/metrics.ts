/**
 * `--metrics-file`: Prometheus metrics in the text exposition format, for
 * node_exporter's textfile collector (it reads every `*.prom` file of one
 * directory at each scrape). docs/metrics.md lists the metrics.
 *
 * The file is rewritten by every run, so what it must remember (the
 * counters, the last success, the other operations and instances it holds)
 * is read back from the previous file and merged with this run; prom-client
 * writes the result (escaping, HELP and TYPE lines). Reading back is strict
 * about what this module writes: a line that is not the format, a metric of
 * ours with another type or other labels, a duplicate series, a negative
 * counter make the file corrupt, and a corrupt file starts over (the caller
 * warns). A family that is not ours (another shmsnap version's) is dropped
 * with a note.
 *
 * Labels: `operation` and `instance` (and `outcome` or `code` where a metric
 * is per outcome or error code). Not the location: a location with
 * `{timestamp}` is a new one each run, which would add series without bound.
 */
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { RUN_OUTCOMES, type RunRecord } from './record.js';

export type MetricType = 'gauge' | 'counter';

export interface MetricFamily {
  readonly name: string;
  readonly type: MetricType;
  readonly help: string;
  readonly labels: readonly string[];
}

const RUN = ['operation', 'instance'] as const;

/** Every metric the file holds, in the order it is written. */
export const METRIC_FAMILIES: readonly MetricFamily[] = [
  { name: 'shmsnap_last_run_timestamp_seconds', type: 'gauge', labels: RUN, help: 'When the last run of this operation on this instance ended, in seconds since the Unix epoch, whatever its outcome.' },
  { name: 'shmsnap_last_run_outcome', type: 'gauge', labels: [...RUN, 'outcome'], help: 'How the last run ended: 1 for its outcome (ok, refused, failed, interrupted), 0 for the others.' },
  { name: 'shmsnap_last_run_duration_seconds', type: 'gauge', labels: RUN, help: 'Seconds the last run took, from the command\'s start to its end, whatever its outcome.' },
  { name: 'shmsnap_last_success_timestamp_seconds', type: 'gauge', labels: RUN, help: 'When the last successful run ended, in seconds since the Unix epoch.' },
  { name: 'shmsnap_last_success_duration_seconds', type: 'gauge', labels: RUN, help: 'Seconds the last successful run took, from the command\'s start to its end.' },
  { name: 'shmsnap_last_success_segments', type: 'gauge', labels: RUN, help: 'Shared-memory segments the last successful run moved.' },
  { name: 'shmsnap_last_success_raw_bytes', type: 'gauge', labels: RUN, help: 'Bytes of shared memory the last successful run moved (the segments\' sizes).' },
  { name: 'shmsnap_last_success_stored_bytes', type: 'gauge', labels: RUN, help: 'Bytes the last successful backup stored (after its codec); backups only.' },
  { name: 'shmsnap_last_success_throughput_bytes_per_second', type: 'gauge', labels: RUN, help: 'Raw bytes per second of the last successful run\'s transfer (planning not included).' },
  { name: 'shmsnap_runs_total', type: 'counter', labels: [...RUN, 'outcome'], help: 'Runs, by outcome (ok, refused, failed, interrupted).' },
  { name: 'shmsnap_refusals_total', type: 'counter', labels: [...RUN, 'code'], help: 'Runs refused by a safety check (exit status 3), by error code.' },
  { name: 'shmsnap_failures_total', type: 'counter', labels: [...RUN, 'code'], help: 'Runs that failed (exit status other than 0, 3 and 130), by error code.' },
];

const FAMILY_BY_NAME = new Map(METRIC_FAMILIES.map((f) => [f.name, f]));

export type Labels = Readonly<Record<string, string>>;
export interface Sample {
  readonly labels: Labels;
  readonly value: number;
}

/** The metrics: per family, per series (keyed by its labels). */
export type MetricsState = Map<string, Map<string, Sample>>;

function seriesKey(family: MetricFamily, labels: Labels): string {
  return JSON.stringify(family.labels.map((l) => labels[l] ?? ''));
}

export function emptyMetrics(): MetricsState {
  return new Map(METRIC_FAMILIES.map((f) => [f.name, new Map()]));
}

export class MetricsFileCorrupt extends Error {
  constructor(readonly line: number, reason: string) {
    super(`line ${line}: ${reason}`);
  }
}

export interface ParsedMetrics {
  readonly state: MetricsState;
  /** Families in the file that this version does not write (dropped). */
  readonly unknown: readonly string[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** The labels of a sample, `{a="x",b="y\"z"}` from `text` at `start` (just after `{`); returns them and the index after `}`. */
function parseLabels(text: string, start: number, line: number): { labels: Record<string, string>; end: number } {
  const labels: Record<string, string> = {};
  let i = start;
  const fail = (reason: string): never => {
    throw new MetricsFileCorrupt(line, reason);
  };
  while (text[i] !== '}') {
    const eq = text.indexOf('=', i);
    if (eq < 0) fail('a label without a value');
    const name = text.slice(i, eq);
    if (!LABEL_NAME.test(name)) fail(`bad label name '${name}'`);
    if (name in labels) fail(`label '${name}' twice`);
    if (text[eq + 1] !== '"') fail(`label '${name}': the value is not quoted`);
    let value = '';
    let j = eq + 2;
    for (;;) {
      const c = text[j];
      if (c === undefined) fail(`label '${name}': the value is not closed`);
      if (c === '"') break;
      if (c === '\\') {
        const next = text[j + 1];
        if (next === 'n') value += '\n';
        else if (next === '\\' || next === '"') value += next;
        else fail(`label '${name}': bad escape`);
        j += 2;
        continue;
      }
      value += c;
      j += 1;
    }
    labels[name] = value;
    i = j + 1;
    if (text[i] === ',') i += 1;
    else if (text[i] !== '}') fail('labels not separated by a comma');
  }
  return { labels, end: i + 1 };
}

function parseValue(text: string, line: number): number {
  // Ours are finite numbers as JavaScript prints them; no timestamps (a second field) are written.
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new MetricsFileCorrupt(line, `bad value '${text}'`);
  return Number(text);
}

/** Reads back a file this module wrote. Throws MetricsFileCorrupt on anything it would not have written. */
export function parseMetrics(text: string): ParsedMetrics {
  const state = emptyMetrics();
  const types = new Map<string, string>();
  const unknown = new Set<string>();
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  else if (text.length > 0) throw new MetricsFileCorrupt(lines.length, 'the file does not end with a newline (cut short?)');
  lines.forEach((raw, index) => {
    const line = index + 1;
    if (raw === '') return;
    if (raw.startsWith('#')) {
      const match = /^# (HELP|TYPE) (\S+)(?: (.*))?$/.exec(raw);
      if (!match) throw new MetricsFileCorrupt(line, 'a comment that is neither HELP nor TYPE');
      const [, kind, name, rest] = match;
      if (!NAME.test(name!)) throw new MetricsFileCorrupt(line, `bad metric name '${name}'`);
      if (kind === 'TYPE') {
        if (types.has(name!)) throw new MetricsFileCorrupt(line, `TYPE of ${name} twice`);
        types.set(name!, rest ?? '');
        const ours = FAMILY_BY_NAME.get(name!);
        if (ours && ours.type !== rest) throw new MetricsFileCorrupt(line, `${name} is a ${rest}, not a ${ours.type}`);
      }
      return;
    }
    const nameEnd = raw.search(/[{ ]/);
    if (nameEnd <= 0) throw new MetricsFileCorrupt(line, 'not a sample line');
    const name = raw.slice(0, nameEnd);
    if (!NAME.test(name)) throw new MetricsFileCorrupt(line, `bad metric name '${name}'`);
    let labels: Record<string, string> = {};
    let rest = raw.slice(nameEnd);
    if (rest.startsWith('{')) {
      const parsed = parseLabels(raw, nameEnd + 1, line);
      labels = parsed.labels;
      rest = raw.slice(parsed.end);
    }
    if (!rest.startsWith(' ')) throw new MetricsFileCorrupt(line, 'no value after the labels');
    const value = parseValue(rest.slice(1), line);
    if (!types.has(name)) throw new MetricsFileCorrupt(line, `${name} has no TYPE line before its samples`);
    const family = FAMILY_BY_NAME.get(name);
    if (!family) {
      unknown.add(name);
      return;
    }
    const names = Object.keys(labels).sort();
    if (names.join(',') !== [...family.labels].sort().join(',')) throw new MetricsFileCorrupt(line, `${name} has labels ${names.join(',') || 'none'}, not ${family.labels.join(',')}`);
    if (family.type === 'counter' && value < 0) throw new MetricsFileCorrupt(line, `counter ${name} is negative`);
    const series = state.get(name)!;
    const key = seriesKey(family, labels);
    if (series.has(key)) throw new MetricsFileCorrupt(line, `${name} has this series twice`);
    series.set(key, { labels, value });
  });
  return { state, unknown: [...unknown] };
}

/** The label value of the instance: the number, or `unknown` for a run that ended before it knew it (docs/metrics.md). */
export function instanceLabel(instance: number | null): string {
  return instance === null ? 'unknown' : String(instance);
}

/** `state` with `record`'s run in it (a new state; `state` is left as it was). */
export function mergeRun(state: MetricsState, record: RunRecord): MetricsState {
  const next: MetricsState = new Map([...state].map(([name, series]) => [name, new Map(series)]));
  const run = { operation: record.operation, instance: instanceLabel(record.instance) };
  const set = (name: string, value: number, extra: Labels = {}): void => {
    const family = FAMILY_BY_NAME.get(name)!;
    const labels = { ...run, ...extra };
    next.get(name)!.set(seriesKey(family, labels), { labels, value });
  };
  const add = (name: string, value: number, extra: Labels = {}): void => {
    const family = FAMILY_BY_NAME.get(name)!;
    const labels = { ...run, ...extra };
    const key = seriesKey(family, labels);
    next.get(name)!.set(key, { labels, value: (next.get(name)!.get(key)?.value ?? 0) + value });
  };
  const ended = new Date(record.endedAt).getTime() / 1000;
  set('shmsnap_last_run_timestamp_seconds', ended);
  for (const outcome of RUN_OUTCOMES) set('shmsnap_last_run_outcome', outcome === record.outcome ? 1 : 0, { outcome });
  set('shmsnap_last_run_duration_seconds', record.seconds);
  // Every outcome's counter exists from the first run on, so rate() and increase() see the first refusal as one.
  for (const outcome of RUN_OUTCOMES) add('shmsnap_runs_total', outcome === record.outcome ? 1 : 0, { outcome });
  const code = record.error?.code ?? 'UNKNOWN';
  if (record.outcome === 'refused') add('shmsnap_refusals_total', 1, { code });
  if (record.outcome === 'failed') add('shmsnap_failures_total', 1, { code });
  if (record.outcome === 'ok') {
    set('shmsnap_last_success_timestamp_seconds', ended);
    set('shmsnap_last_success_duration_seconds', record.seconds);
    if (record.segments !== null) set('shmsnap_last_success_segments', record.segments);
    if (record.rawBytes !== null) set('shmsnap_last_success_raw_bytes', record.rawBytes);
    if (record.storedBytes !== null) set('shmsnap_last_success_stored_bytes', record.storedBytes);
    if (record.rawBytes !== null && record.transferSeconds !== null && record.transferSeconds > 0) {
      set('shmsnap_last_success_throughput_bytes_per_second', record.rawBytes / record.transferSeconds);
    }
  }
  return next;
}

/** The exposition text of `state`, written by prom-client (loaded here: only runs with --metrics-file pay for it, ~80–200 ms). */
export async function renderMetrics(state: MetricsState): Promise<string> {
  const { Registry, Gauge, Counter } = await import('prom-client');
  const registry = new Registry();
  for (const family of METRIC_FAMILIES) {
    const series = [...(state.get(family.name)?.values() ?? [])].sort((a, b) => compareLabels(family, a.labels, b.labels));
    if (series.length === 0) continue;
    const options = { name: family.name, help: family.help, labelNames: family.labels, registers: [registry] };
    if (family.type === 'counter') {
      const counter = new Counter(options);
      for (const s of series) counter.inc({ ...s.labels }, s.value);
    } else {
      const gauge = new Gauge(options);
      for (const s of series) gauge.set({ ...s.labels }, s.value);
    }
  }
  return registry.metrics();
}

function compareLabels(family: MetricFamily, a: Labels, b: Labels): number {
  for (const name of family.labels) {
    const x = a[name] ?? '';
    const y = b[name] ?? '';
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

/**
 * Replaces `file` atomically: a temporary file in the same directory (named
 * so the textfile collector, which reads `*.prom`, never sees it half
 * written), mode 0644 whatever the umask (node_exporter often runs as
 * another user), fsync'd, renamed over `file`, the directory fsync'd. On a
 * failure the temporary file is removed and `file` is left as it was.
 * Callers hold the file's lock (report.ts), so one temporary name per
 * process is enough.
 */
export async function writeFileAtomic(file: string, text: string): Promise<void> {
  const directory = dirname(file);
  await mkdir(directory, { recursive: true, mode: 0o755 });
  const temporary = join(directory, `.${basename(file)}.${process.pid}.tmp`);
  // One left by a killed run whose pid this one reuses goes first; O_EXCL then refuses anything planted there (a link).
  await unlink(temporary).catch(() => undefined);
  const handle = await open(temporary, 'wx', 0o644);
  try {
    try {
      await handle.chmod(0o644);
      await handle.writeFile(text);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, file);
  } catch (error) {
    await unlink(temporary).catch(() => undefined);
    throw error;
  }
  const dir = await open(directory, 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}
