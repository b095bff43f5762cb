/**
 * The flags of the commands that show progress (backup, restore, verify,
 * demo): `--quiet`, `--no-progress`, `--progress-interval` and `--events`,
 * and what they make of the output (render/output.ts, render/progress.ts,
 * render/events.ts).
 */
import { Option, type Command } from 'commander';
import { parseDuration } from './duration.js';
import { EVENT_FORMATS, EventWriter, type EventFormat, type EventStream } from './render/events.js';
import type { OutputSettings } from './render/output.js';
import { DEFAULT_PROGRESS_INTERVAL_MS } from './render/progress.js';

const GROUP = 'Progress and output:';

export interface ProgressFlags {
  readonly quiet?: boolean;
  /** False with `--no-progress`. */
  readonly progress?: boolean;
  readonly progressInterval?: number;
  readonly events?: EventFormat;
}

export function addProgressOptions(command: Command): Command {
  const options = [
    new Option('-q, --quiet', 'print only warnings and errors: no progress and no result lines (the --json document is still printed; --events keeps all but its progress lines)'),
    new Option('--no-progress', 'show no progress (otherwise: a bar on a terminal; a line at every 10% and every --progress-interval elsewhere)'),
    new Option('--progress-interval <duration>', 'when stderr is not a terminal (or TERM=dumb), also print a progress line this often, also while nothing moves (e.g. 2s, 1m); how often --events prints progress')
      .default(DEFAULT_PROGRESS_INTERVAL_MS, '5s')
      .argParser(parseDuration),
    new Option('--events <format>', 'print what happens as JSON lines on stdout (one per phase, progress tick, note and the result or error; see docs/events.md) instead of the human output').choices(EVENT_FORMATS),
  ];
  for (const option of options) command.addOption(option.helpGroup(GROUP));
  return command;
}

/** What the flags make of the output of `command`. */
export function outputSettings(flags: ProgressFlags, command: string, stdout: EventStream): OutputSettings {
  return {
    quiet: flags.quiet === true,
    progress: { show: flags.progress !== false && flags.quiet !== true, intervalMs: flags.progressInterval ?? DEFAULT_PROGRESS_INTERVAL_MS },
    ...(flags.events === 'ndjson' ? { events: new EventWriter(stdout, command) } : {}),
  };
}
