/**
 * `--events ndjson`: what a command does, as one JSON object per line on
 * stdout, for supervisors and journald (as restic's `--json` status lines).
 * Each line names its schema and carries a type and a timestamp; docs/events.md
 * documents them. The result and error lines carry the very document `--json`
 * prints (the Output builds it once and hands it here), so a consumer parses
 * one shape either way.
 */
import type { ProgressEvent } from '@shmsnap/core';

export const EVENT_SCHEMA = 'shmsnap.event/1';

/** The one format `--events` takes; others may come (a new schema version if a line changes). */
export const EVENT_FORMATS = ['ndjson'] as const;
export type EventFormat = (typeof EVENT_FORMATS)[number];

export type EventType = 'phase' | 'progress' | 'result' | 'error' | 'note';

/**
 * Phases of a command: `plan` (every check, before anything is read or
 * written), then the transfers it runs (`backup`, `restore`, `verify`; demo
 * runs a backup and a restore).
 */
export type EventPhase = 'plan' | ProgressEvent['phase'];

export interface EventStream {
  readonly write: (text: string) => unknown;
}

/** The fields of a progress line: raw segment bytes, as the human progress counts them. */
export function progressFields(event: ProgressEvent): Record<string, unknown> {
  return {
    phase: event.phase,
    percent: event.bytesTotal > 0 ? Math.floor((event.bytesDone * 1000) / event.bytesTotal) / 10 : event.done ? 100 : 0,
    bytesDone: event.bytesDone,
    bytesTotal: event.bytesTotal,
    segmentsDone: event.segmentsDone,
    segmentsTotal: event.segmentsTotal,
    bytesPerSecond: Math.round(event.bytesPerSecond),
    elapsedSeconds: Math.round(event.elapsedMs) / 1000,
    etaSeconds: event.etaMs === null ? null : Math.round(event.etaMs) / 1000,
    done: event.done,
  };
}

export class EventWriter {
  constructor(
    private readonly stdout: EventStream,
    /** The command the lines are about (`backup`, `restore`...). */
    readonly command: string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  #line(type: EventType, fields: Record<string, unknown>): void {
    this.stdout.write(`${JSON.stringify({ schema: EVENT_SCHEMA, type, time: this.now().toISOString(), command: this.command, ...fields })}\n`);
  }

  phase(phase: EventPhase): void {
    this.#line('phase', { phase });
  }

  progress(event: ProgressEvent): void {
    this.#line('progress', progressFields(event));
  }

  note(message: string): void {
    this.#line('note', { message });
  }

  /** `document`: exactly what `--json` would print as the result. */
  result(document: Record<string, unknown>): void {
    this.#line('result', { document });
  }

  /** `document`: exactly what `--json` would print for the error. */
  error(document: Record<string, unknown>, exitStatus: number): void {
    this.#line('error', { exitStatus, document });
  }
}
