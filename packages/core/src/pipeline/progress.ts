/**
 * Progress of a backup, restore or verify, as events the CLI renders (a bar
 * on a terminal, a line per 10% otherwise) and `--json` users can consume.
 * Byte counts are raw segment bytes, so the totals are known in advance.
 */

export type Phase = 'backup' | 'restore' | 'verify';

export interface ProgressEvent {
  readonly phase: Phase;
  readonly bytesDone: number;
  readonly bytesTotal: number;
  readonly segmentsDone: number;
  readonly segmentsTotal: number;
  /** Objects being transferred right now. */
  readonly active: readonly string[];
  readonly elapsedMs: number;
  readonly bytesPerSecond: number;
  /** Estimated time left; null until there is a rate to go by. */
  readonly etaMs: number | null;
  readonly done: boolean;
}

export type ProgressListener = (event: ProgressEvent) => void;

export interface ProgressTracker {
  started(object: string): void;
  advance(bytes: number): void;
  finished(object: string): void;
  end(): void;
  readonly bytesDone: number;
  readonly elapsedMs: number;
}

export function createProgressTracker(
  phase: Phase,
  totals: { bytes: number; segments: number },
  listener: ProgressListener | undefined,
  intervalMs = 250,
): ProgressTracker {
  const startedAt = performance.now();
  const active = new Set<string>();
  let bytesDone = 0;
  let segmentsDone = 0;
  let lastEmit = -Infinity;

  function emit(done: boolean): void {
    if (!listener) return;
    const now = performance.now();
    const elapsedMs = now - startedAt;
    const bytesPerSecond = elapsedMs > 0 ? (bytesDone * 1000) / elapsedMs : 0;
    const etaMs = bytesPerSecond > 0 && bytesDone > 0 ? ((totals.bytes - bytesDone) * 1000) / bytesPerSecond : null;
    lastEmit = now;
    listener({
      phase,
      bytesDone,
      bytesTotal: totals.bytes,
      segmentsDone,
      segmentsTotal: totals.segments,
      active: [...active],
      elapsedMs,
      bytesPerSecond,
      etaMs: done ? 0 : etaMs,
      done,
    });
  }

  return {
    started(object) {
      active.add(object);
    },
    advance(bytes) {
      bytesDone += bytes;
      if (performance.now() - lastEmit >= intervalMs) emit(false);
    },
    finished(object) {
      active.delete(object);
      segmentsDone += 1;
      emit(false);
    },
    end() {
      emit(true);
    },
    get bytesDone() {
      return bytesDone;
    },
    get elapsedMs() {
      return performance.now() - startedAt;
    },
  };
}
