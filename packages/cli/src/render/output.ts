/**
 * Everything the CLI prints goes through here: results on stdout, progress
 * and errors on stderr; with `--json`, exactly one JSON document on stdout
 * (the result or the error, docs/json.md) and nothing else on stdout; with `--events
 * ndjson`, only event lines on stdout (render/events.ts), the result and
 * error events carrying the document `--json` prints.
 */
import { isShmsnapError, errInternal, type OptionNamer, type ProgressEvent, type ShmsnapError } from '@shmsnap/core';
import { EXIT_STATUS_BY_CODE } from '../exit-codes.js';
import { namerOf, renderMessage, SHMSNAP_FLAGS } from '../flags.js';
import type { EventWriter } from './events.js';
import { errorJson, schemaName, type JsonDocument } from './json.js';
import { createProgressRenderer, DEFAULT_PROGRESS_SETTINGS, LiveLine, type ProgressRenderer, type ProgressSettings } from './progress.js';

export interface OutputStreams {
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean };
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
}

export interface OutputSettings {
  /** `--quiet`: no result lines and no progress; warnings, notes and errors still print. */
  readonly quiet?: boolean;
  readonly progress?: ProgressSettings;
  /** `--events ndjson`: notes, phases, progress, the result and errors as event lines on stdout, and nothing else. */
  readonly events?: EventWriter;
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

/** The document `--json` prints for a result, as `document`'s schema (docs/json.md); `--events` carries the same one. */
export function resultDocument(document: JsonDocument, value: Record<string, unknown>, ok = true): Record<string, unknown> {
  return { schema: schemaName(document), ok, ...value };
}

/** The document `--json` prints for an error (`shmsnap.error/1`); `--events` carries the same one. */
export function errorDocument(error: ShmsnapError, flag: OptionNamer, message: string, command: string | null, exitStatus: number): Record<string, unknown> {
  return { schema: schemaName('error'), ok: false, command, exitStatus, error: errorJson(error, flag, message) };
}

export class Output {
  /** The progress bar's line: ended before anything else goes to stderr. */
  readonly #live: LiveLine;
  readonly #renderers: ProgressRenderer[] = [];

  constructor(
    readonly json: boolean,
    private readonly streams: OutputStreams = process,
    private readonly program = 'shmsnap',
    /** How this frontend names core's options in messages. */
    readonly flag: OptionNamer = namerOf(SHMSNAP_FLAGS),
    readonly settings: OutputSettings = {},
  ) {
    this.#live = new LiveLine(streams.stderr);
  }

  /** A line of the human result (suppressed under --json, --events and --quiet). */
  line(text = ''): void {
    if (!this.json && !this.settings.quiet && !this.settings.events) this.streams.stdout.write(`${text}\n`);
  }

  /** A side remark for people (stderr, also under --json: it never pollutes the JSON; a note event under --events). */
  note(text: string): void {
    if (this.settings.events) return this.settings.events.note(text);
    this.#live.breakLine();
    this.streams.stderr.write(`${text}\n`);
  }

  /** The last result document given (also without --json): what the run report reads (run-report/report.ts). */
  lastResult: Readonly<Record<string, unknown>> | undefined;

  /**
   * The JSON result (under --json, or as the result event), as `document`'s
   * schema (docs/json.md); `ok: false` for a command that ran but found problems (verify).
   */
  result(document: JsonDocument, value: Record<string, unknown>, ok = true): void {
    const json = resultDocument(document, value, ok);
    this.lastResult = json;
    if (this.settings.events) this.settings.events.result(json);
    else if (this.json) this.streams.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
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
    this.endProgress();
    const document = errorDocument(coded, this.flag, message, options.command ?? null, status);
    if (this.settings.events) {
      this.settings.events.error(document, status);
    } else if (this.json) {
      this.streams.stdout.write(`${JSON.stringify(document, null, 2)}\n`);
    } else {
      this.streams.stderr.write(`${this.program}: ${coded.code}: ${message}\n`);
      if (options.listAll) for (const line of more) this.streams.stderr.write(`  and: ${line}\n`);
      if (!isShmsnapError(error) && process.env.SHMSNAP_DEBUG && error instanceof Error) this.streams.stderr.write(`${error.stack}\n`);
    }
    return status;
  }

  /** The progress of one transfer, as render/progress.ts shows it (nothing under --json). */
  progress(): (event: ProgressEvent) => void {
    if (this.json && !this.settings.events) return () => undefined;
    const renderer = createProgressRenderer(
      { stderr: this.streams.stderr, live: this.#live, ...(this.settings.events ? { events: this.settings.events } : {}) },
      this.settings.progress ?? DEFAULT_PROGRESS_SETTINGS,
    );
    this.#renderers.push(renderer);
    return renderer.listener;
  }

  /** Stops the time basis of every progress shown (a failed run sends no final event); ends a drawn bar's line. */
  endProgress(): void {
    for (const renderer of this.#renderers.splice(0)) renderer.stop();
    this.#live.breakLine();
  }
}
