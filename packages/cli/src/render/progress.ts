/**
 * How the progress of a backup, restore or verify is shown:
 *
 * - on a terminal (stderr a TTY, TERM not `dumb`): one bar redrawn in place,
 *   laid out for the terminal's width at each redraw (a resize is followed);
 *   the byte counts go first when space is short, then rate and ETA;
 * - otherwise (a pipe, a file, journald, `TERM=dumb`, which cannot take a
 *   carriage return): a line at every 10%, and also every `intervalMs` (5 s
 *   by default) whatever the percentage, also while nothing moves (a stalled
 *   upload still shows the process alive, with its rate falling);
 * - under `--events ndjson`: a progress event at the start of a transfer,
 *   every `intervalMs`, and at its end (render/events.ts);
 * - nothing under `--json`, `--quiet` or `--no-progress`.
 *
 * A drawn bar leaves the cursor at the end of its line; anything else
 * written to stderr (a Ctrl-C note, an error) first ends that line through
 * `LiveLine.breakLine()`, so it starts on a line of its own.
 */
import { formatBytes, formatDuration, formatRate, type ProgressEvent, type ProgressListener } from '@shmsnap/core';
import type { EventWriter } from './events.js';

/** Lines (and events) while not on a terminal: often enough for journald to show life, rarely enough not to flood it. */
export const DEFAULT_PROGRESS_INTERVAL_MS = 5000;

export interface ProgressSettings {
  /** False under `--quiet` and `--no-progress`: no progress at all (phases and results still are events). */
  readonly show: boolean;
  /** The time basis of progress lines and events when not drawing a bar. @default DEFAULT_PROGRESS_INTERVAL_MS */
  readonly intervalMs: number;
}

export const DEFAULT_PROGRESS_SETTINGS: ProgressSettings = { show: true, intervalMs: DEFAULT_PROGRESS_INTERVAL_MS };

/** Time, injectable so the logic can be tested without waiting. */
export interface ProgressClock {
  now(): number;
  /** Calls `tick` every `ms` until the returned function is called; never keeps the process alive. */
  every(ms: number, tick: () => void): () => void;
}

export const systemClock: ProgressClock = {
  now: () => performance.now(),
  every(ms, tick) {
    const timer = setInterval(tick, ms);
    timer.unref();
    return () => clearInterval(timer);
  },
};

export interface ProgressStderr {
  write(text: string): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

/** The bar's line on stderr: whether it is drawn and not yet ended. */
export class LiveLine {
  #open = false;
  constructor(private readonly stderr: ProgressStderr) {}

  /** Draws `text` over the current line (clearing what a longer text left). */
  draw(text: string): void {
    this.stderr.write(`\r${text}\x1b[K`);
    this.#open = true;
  }

  /** Draws `text` a last time and ends the line. */
  finish(text: string): void {
    this.stderr.write(`\r${text}\x1b[K\n`);
    this.#open = false;
  }

  /** Ends a drawn bar's line (it stays visible) so that what comes next starts on its own. */
  breakLine(): void {
    if (!this.#open) return;
    this.stderr.write('\n');
    this.#open = false;
  }
}

/** A bar redrawn in place: stderr is a terminal that understands a carriage return and an erase. */
export function drawsBar(stderr: ProgressStderr, env: NodeJS.ProcessEnv = process.env): boolean {
  return stderr.isTTY === true && env.TERM !== 'dumb';
}

const MIN_BAR = 10;
const MAX_BAR = 40;
/** Narrower than this, lay out as if it were this wide (the terminal wraps; nothing is lost). */
const MIN_COLUMNS = 20;

/**
 * The bar for a terminal `columns` wide, never writing into the last column
 * (a terminal wraps there). Rate and ETA are dropped only when even a short bar
 * and the percentage would not fit beside them (below about 50 columns); the
 * byte counts go first (below about 70).
 */
export function barLine(event: ProgressEvent, columns: number | undefined): string {
  const width = Math.max(MIN_COLUMNS, columns ?? 80) - 1;
  const fraction = event.bytesTotal > 0 ? Math.min(1, event.bytesDone / event.bytesTotal) : 1;
  const phase = event.phase.padEnd(7);
  const percent = `${Math.floor(fraction * 100)}%`.padStart(4);
  const bytes = `${formatBytes(event.bytesDone)} / ${formatBytes(event.bytesTotal)}`;
  const rate = formatRate(event.bytesPerSecond);
  const eta = `ETA ${event.etaMs === null ? '--' : formatDuration(event.etaMs)}`;
  for (const parts of [[percent, bytes, rate, eta], [percent, rate, eta], [percent]]) {
    const tail = parts.join('  ');
    const room = width - phase.length - ' [] '.length - tail.length;
    if (room < MIN_BAR) continue;
    const size = Math.min(MAX_BAR, room);
    const filled = Math.round(fraction * size);
    return `${phase} [${'#'.repeat(filled)}${'.'.repeat(size - filled)}] ${tail}`;
  }
  return `${phase} ${percent.trim()}`.slice(0, width);
}

/** A progress line for a log: `backup: 40% (…)`; `percent` is the decile a 10% line reports. */
export function progressLine(event: ProgressEvent, percent: number): string {
  const eta = event.done ? '' : event.etaMs === null ? ', ETA --' : `, ETA ${formatDuration(event.etaMs)}`;
  return `${event.phase}: ${percent}% (${formatBytes(event.bytesDone)} of ${formatBytes(event.bytesTotal)}, ${event.segmentsDone}/${event.segmentsTotal} segments, ${formatRate(event.bytesPerSecond)}${eta})`;
}

/** `event` as it stands `sinceMs` later with no byte moved: the rate falls, the ETA grows. */
export function stalled(event: ProgressEvent, sinceMs: number): ProgressEvent {
  const elapsedMs = event.elapsedMs + sinceMs;
  const bytesPerSecond = elapsedMs > 0 ? (event.bytesDone * 1000) / elapsedMs : 0;
  const etaMs = bytesPerSecond > 0 ? ((event.bytesTotal - event.bytesDone) * 1000) / bytesPerSecond : null;
  return { ...event, elapsedMs, bytesPerSecond, etaMs };
}

export interface ProgressRenderer {
  readonly listener: ProgressListener;
  /** Stops the time basis (the run failed or was interrupted: no final event will come). Idempotent. */
  stop(): void;
}

export interface ProgressTarget {
  readonly stderr: ProgressStderr;
  readonly live: LiveLine;
  /** Under `--events`: progress goes there, never to stderr. */
  readonly events?: EventWriter;
}

export interface ProgressRendererOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly clock?: ProgressClock;
}

const NO_PROGRESS: ProgressRenderer = { listener: () => undefined, stop: () => undefined };

/** The renderer of one transfer (one `plan.run`), as the module comment describes. */
export function createProgressRenderer(target: ProgressTarget, settings: ProgressSettings, options: ProgressRendererOptions = {}): ProgressRenderer {
  const clock = options.clock ?? systemClock;
  const { events } = target;
  if (events) {
    return timed(clock, settings.intervalMs, {
      first: (event) => events.phase(event.phase),
      emit: settings.show ? (event) => events.progress(event) : () => undefined,
      atOnce: true,
      deciles: false,
    });
  }
  if (!settings.show) return NO_PROGRESS;
  if (drawsBar(target.stderr, options.env)) return bar(target, clock);
  return timed(clock, settings.intervalMs, {
    first: () => undefined,
    emit: (event, percent) => target.stderr.write(`${progressLine(event, percent)}\n`),
    atOnce: false,
    deciles: true,
  });
}

function bar(target: ProgressTarget, clock: ProgressClock): ProgressRenderer {
  let lastDraw = -Infinity;
  return {
    listener: (event) => {
      const now = clock.now();
      if (!event.done && now - lastDraw < 100) return;
      lastDraw = now;
      const text = barLine(event, target.stderr.columns);
      if (event.done) target.live.finish(text);
      else target.live.draw(text);
    },
    stop: () => target.live.breakLine(),
  };
}

interface TimedOutput {
  /** Once, at the first event. */
  readonly first: (event: ProgressEvent) => void;
  readonly emit: (event: ProgressEvent, percent: number) => void;
  /** Emit the first event at once (events), or wait for a decile or the interval (lines). */
  readonly atOnce: boolean;
  /** Also emit at every 10%. */
  readonly deciles: boolean;
}

function timed(clock: ProgressClock, intervalMs: number, output: TimedOutput): ProgressRenderer {
  let last: { event: ProgressEvent; at: number } | undefined;
  let lastEmit = -Infinity;
  let lastTenth = 0;
  let cancel: (() => void) | undefined;
  let stopped = false;
  const percentOf = (event: ProgressEvent): number => (event.bytesTotal > 0 ? Math.min(100, Math.floor((event.bytesDone * 100) / event.bytesTotal)) : 0);
  const emit = (event: ProgressEvent, percent = percentOf(event)): void => {
    lastEmit = clock.now();
    output.emit(event, percent);
  };
  const stop = (): void => {
    stopped = true;
    cancel?.();
    cancel = undefined;
  };
  // The time basis while nothing moves (while events flow, they check it themselves): checked a few times per
  // interval, so a line is at most a quarter interval (and a second) late.
  const tickMs = Math.max(50, Math.min(1000, intervalMs / 4));
  const heartbeat = (): void => {
    const now = clock.now();
    if (stopped || last === undefined || now - lastEmit < intervalMs || now - last.at < tickMs) return;
    emit(stalled(last.event, now - last.at));
  };
  return {
    listener: (event) => {
      if (stopped) return;
      const now = clock.now();
      if (last === undefined) {
        output.first(event);
        cancel = clock.every(tickMs, heartbeat);
        if (!output.atOnce) lastEmit = now;
      }
      last = { event, at: now };
      if (event.done) {
        // 100% only once the run is complete, with every segment counted.
        emit(event, 100);
        stop();
        return;
      }
      const tenth = event.bytesTotal > 0 ? Math.min(9, Math.floor((event.bytesDone * 10) / event.bytesTotal)) : 0;
      if (output.deciles && tenth > lastTenth) {
        lastTenth = tenth;
        emit(event, tenth * 10);
      } else if (now - lastEmit >= intervalMs) {
        emit(event);
      }
    },
    stop,
  };
}
