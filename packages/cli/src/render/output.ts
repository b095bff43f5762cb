/**
 * Everything the CLI prints goes through here: results on stdout, progress
 * and errors on stderr; with `--json`, exactly one JSON document on stdout
 * (the result or the error) and nothing else on stdout.
 */
import { isShmsnapError, errInternal, type OptionNamer, type ProgressEvent, type ShmsnapError } from '@shmsnap/core';
import { EXIT_STATUS_BY_CODE } from '../exit-codes.js';
import { namerOf, renderMessage, SHMSNAP_FLAGS } from '../flags.js';
import { formatBytes, formatDuration, formatRate } from '@shmsnap/core';

export interface OutputStreams {
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean };
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
}

export class Output {
  constructor(
    readonly json: boolean,
    private readonly streams: OutputStreams = process,
    private readonly program = 'shmsnap',
    /** How this frontend names core's options in messages. */
    readonly flag: OptionNamer = namerOf(SHMSNAP_FLAGS),
  ) {}

  /** A line of the human result (suppressed under --json). */
  line(text = ''): void {
    if (!this.json) this.streams.stdout.write(`${text}\n`);
  }

  /** A side remark for people (stderr, also under --json: it never pollutes the JSON). */
  note(text: string): void {
    this.streams.stderr.write(`${text}\n`);
  }

  /** The JSON result (under --json); `ok: false` for a command that ran but found problems (verify). */
  result(value: Record<string, unknown>, ok = true): void {
    if (this.json) this.streams.stdout.write(`${JSON.stringify({ ok, ...value }, null, 2)}\n`);
  }

  /**
   * Prints the error and returns the exit status for it. A check that found
   * several problems carries the others in `details.more`: a dry run
   * (`listAll`) lists them, one line each under the error; otherwise the
   * error stays one line and says how many more there are.
   */
  error(error: unknown, options: { readonly listAll?: boolean } = {}): number {
    const coded: ShmsnapError = isShmsnapError(error) ? error : errInternal(error instanceof Error ? error.message : String(error), error);
    const more = Array.isArray(coded.details.more) ? coded.details.more.map(String) : [];
    const rendered = renderMessage(coded, this.flag);
    const message = more.length > 0 && !options.listAll ? `${rendered} (and ${more.length} more problem${more.length > 1 ? 's' : ''}; ${this.flag('dryRun')} lists them all)` : rendered;
    if (this.json) {
      this.streams.stdout.write(`${JSON.stringify({ ok: false, error: { ...coded.toJSON(), message } }, null, 2)}\n`);
    } else {
      this.streams.stderr.write(`${this.program}: ${coded.code}: ${message}\n`);
      if (options.listAll) for (const line of more) this.streams.stderr.write(`  and: ${line}\n`);
      if (!isShmsnapError(error) && process.env.SHMSNAP_DEBUG && error instanceof Error) this.streams.stderr.write(`${error.stack}\n`);
    }
    return EXIT_STATUS_BY_CODE[coded.code];
  }

  /** A progress renderer: a live bar on a terminal, a line per 10% otherwise, nothing under --json. */
  progress(): (event: ProgressEvent) => void {
    if (this.json) return () => undefined;
    const stderr = this.streams.stderr;
    if (stderr.isTTY) {
      let last = 0;
      return (event) => {
        const now = Date.now();
        if (!event.done && now - last < 100) return;
        last = now;
        const fraction = event.bytesTotal > 0 ? event.bytesDone / event.bytesTotal : 1;
        const width = 24;
        const filled = Math.round(fraction * width);
        const eta = event.etaMs === null ? '--' : formatDuration(event.etaMs);
        const text = `${event.phase.padEnd(7)} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}%  ${formatBytes(event.bytesDone)} / ${formatBytes(event.bytesTotal)}  ${formatRate(event.bytesPerSecond)}  ETA ${eta}`;
        stderr.write(`\r${text.slice(0, (stderr.columns ?? 120) - 1)}\x1b[K${event.done ? '\n' : ''}`);
      };
    }
    let lastTenth = 0;
    return (event) => {
      // 100% only once the run is complete, with every segment counted.
      const tenth = event.done ? 10 : event.bytesTotal > 0 ? Math.min(9, Math.floor((event.bytesDone * 10) / event.bytesTotal)) : 0;
      if (tenth <= lastTenth) return;
      lastTenth = tenth;
      const eta = event.done ? '' : event.etaMs === null ? ', ETA --' : `, ETA ${formatDuration(event.etaMs)}`;
      stderr.write(
        `${event.phase}: ${lastTenth * 10}% (${formatBytes(event.bytesDone)} of ${formatBytes(event.bytesTotal)}, ${event.segmentsDone}/${event.segmentsTotal} segments, ${formatRate(event.bytesPerSecond)}${eta})\n`,
      );
    };
  }
}
