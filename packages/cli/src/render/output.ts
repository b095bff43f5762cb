/**
 * Everything the CLI prints goes through here: results on stdout, progress
 * and errors on stderr; with `--json`, exactly one JSON document on stdout
 * (the result or the error, docs/json.md) and nothing else on stdout.
 */
import { isShmsnapError, errInternal, type OptionNamer, type ProgressEvent, type ShmsnapError } from '@shmsnap/core';
import { EXIT_STATUS_BY_CODE } from '../exit-codes.js';
import { namerOf, renderMessage, SHMSNAP_FLAGS } from '../flags.js';
import { formatBytes, formatDuration, formatRate } from '@shmsnap/core';
import { errorJson, schemaName, type JsonDocument } from './json.js';

export interface OutputStreams {
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean };
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
}

/**
 * Output outlives whoever reads it: `shmsnap ls | head -1` closes the pipe
 * after one line, and a write after that fails with EPIPE, which Node emits
 * as an 'error' event on process.stdout: without a listener, an uncaught
 * exception (a stack trace, exit 1) in place of the command's own status, and
 * a backup that had committed would look failed. Once a stream's reader is
 * gone there is no one left to tell, so its later output is dropped; the
 * command runs on and exits with its real status. Any other error on these
 * streams is not ours to hide.
 */
export function surviveClosedPipes(streams: readonly NodeJS.WritableStream[] = [process.stdout, process.stderr]): void {
  for (const stream of streams) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EPIPE' || error.code === 'ERR_STREAM_DESTROYED') return;
      throw error;
    });
  }
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

  /**
   * The JSON result (under --json), as `document`'s schema (docs/json.md);
   * `ok: false` for a command that ran but found problems (verify).
   */
  result(document: JsonDocument, value: Record<string, unknown>, ok = true): void {
    if (this.json) this.streams.stdout.write(`${JSON.stringify({ schema: schemaName(document), ok, ...value }, null, 2)}\n`);
  }

  /**
   * Prints the error and returns the exit status for it. A check that found
   * several problems carries the others in `details.more`: a dry run
   * (`listAll`) lists them, one line each under the error; otherwise the
   * error stays one line and says how many more there are.
   */
  error(error: unknown, options: { readonly listAll?: boolean; readonly command?: string } = {}): number {
    const coded: ShmsnapError = isShmsnapError(error) ? error : errInternal(error instanceof Error ? error.message : String(error), error);
    const more = Array.isArray(coded.details.more) ? coded.details.more.map(String) : [];
    const rendered = renderMessage(coded, this.flag);
    const message = more.length > 0 && !options.listAll ? `${rendered} (and ${more.length} more problem${more.length > 1 ? 's' : ''}; ${this.flag('dryRun')} lists them all)` : rendered;
    const status = EXIT_STATUS_BY_CODE[coded.code];
    if (this.json) {
      const document = { schema: schemaName('error'), ok: false, command: options.command ?? null, exitStatus: status, error: errorJson(coded, this.flag, message) };
      this.streams.stdout.write(`${JSON.stringify(document, null, 2)}\n`);
    } else {
      this.streams.stderr.write(`${this.program}: ${coded.code}: ${message}\n`);
      if (options.listAll) for (const line of more) this.streams.stderr.write(`  and: ${line}\n`);
      if (!isShmsnapError(error) && process.env.SHMSNAP_DEBUG && error instanceof Error) this.streams.stderr.write(`${error.stack}\n`);
    }
    return status;
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
