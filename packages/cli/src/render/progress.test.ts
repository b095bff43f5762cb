// How progress is shown: the bar's layout by terminal width, TERM=dumb, the
// time basis off a terminal (also while nothing moves), events, and notes that
// start on their own line. Time is a fake clock; the streams are recorders.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ProgressEvent } from '@shmsnap/core';
import { EventWriter } from './events.js';
import { Output, type OutputStreams } from './output.js';
import { barLine, createProgressRenderer, drawsBar, LiveLine, type ProgressClock } from './progress.js';

const MiB = 1024 * 1024;

function event(done: number, total = 1000 * MiB, extra: Partial<ProgressEvent> = {}): ProgressEvent {
  return {
    phase: 'backup',
    bytesDone: done,
    bytesTotal: total,
    segmentsDone: 0,
    segmentsTotal: 8,
    active: [],
    elapsedMs: 1000,
    bytesPerSecond: 123.4e6,
    etaMs: 12_000,
    done: false,
    ...extra,
  };
}

function recorder(tty = false, columns?: number) {
  const chunks: string[] = [];
  return {
    chunks,
    text: () => chunks.join(''),
    write: (text: string) => chunks.push(text),
    isTTY: tty,
    ...(columns === undefined ? {} : { columns }),
  };
}

/** Recorders as the Output's streams (it only writes and reads isTTY and columns). */
const streams = (stdout: ReturnType<typeof recorder>, stderr: ReturnType<typeof recorder>): OutputStreams => ({ stdout, stderr }) as unknown as OutputStreams;

/** A clock that moves only when told, running the interval ticks it passes. */
function fakeClock() {
  let now = 0;
  const timers: { every: number; next: number; tick: () => void; live: boolean }[] = [];
  const clock: ProgressClock = {
    now: () => now,
    every(ms, tick) {
      const timer = { every: ms, next: now + ms, tick, live: true };
      timers.push(timer);
      return () => {
        timer.live = false;
      };
    },
  };
  return {
    clock,
    advance(ms: number) {
      const end = now + ms;
      for (;;) {
        const due = timers.filter((t) => t.live && t.next <= end).sort((a, b) => a.next - b.next)[0];
        if (!due) break;
        now = due.next;
        due.next += due.every;
        due.tick();
      }
      now = end;
    },
    live: () => timers.filter((t) => t.live).length,
  };
}

describe('the bar', () => {
  it('fits the terminal: all parts at 80 columns, rate and ETA kept at 60, dropped only when narrower', () => {
    const sample = event(400 * MiB);
    for (const columns of [200, 120, 80, 72, 60, 55, 50, 45, 40, 30, 20, 10]) {
      const line = barLine(sample, columns);
      assert.ok(line.length <= Math.max(20, columns) - 1, `${columns} columns: ${line.length} characters: '${line}'`);
      // Too narrow for a bar beside the percentage: the percentage alone.
      assert.match(line, columns >= 30 ? /^backup  \[#+\.+\]  40%/ : /^backup +40%$/, `${columns}: '${line}'`);
      const hasRate = line.includes('123 MB/s') && line.includes('ETA 12s');
      // How far down each part lasts depends on the widths of the numbers; these bounds hold for any.
      if (columns >= 60) assert.ok(hasRate, `${columns} columns: rate and ETA kept: '${line}'`);
      if (columns <= 40) assert.ok(!hasRate, `${columns} columns: rate and ETA dropped for the bar: '${line}'`);
      const hasBytes = line.includes('400 MiB / 1000 MiB');
      if (columns >= 80) assert.ok(hasBytes, `${columns} columns: byte counts shown: '${line}'`);
      if (columns <= 60) assert.ok(!hasBytes, `${columns} columns: byte counts dropped first: '${line}'`);
    }
  });

  it('reads 100% only when complete, and -- for an unknown ETA', () => {
    assert.match(barLine(event(999.9 * MiB), 80), / 99%/);
    assert.match(barLine(event(10, 1000, { etaMs: null }), 80), /ETA --/);
  });

  it('is drawn on a terminal, never with TERM=dumb or off a terminal', () => {
    assert.equal(drawsBar({ write: () => true, isTTY: true }, { TERM: 'xterm-256color' }), true);
    assert.equal(drawsBar({ write: () => true, isTTY: true }, { TERM: 'dumb' }), false);
    assert.equal(drawsBar({ write: () => true, isTTY: false }, { TERM: 'xterm' }), false);
  });

  it('follows a resize: each redraw is laid out for the width at that moment', () => {
    const stderr = recorder(true, 100);
    const { clock, advance } = fakeClock();
    const renderer = createProgressRenderer({ stderr, live: new LiveLine(stderr) }, { show: true, intervalMs: 5000 }, { env: { TERM: 'xterm' }, clock });
    renderer.listener(event(100 * MiB));
    (stderr as { columns: number }).columns = 40;
    advance(200);
    renderer.listener(event(200 * MiB));
    const [wide, narrow] = stderr.chunks.map((c) => c.replace(/^\r/, '').replace(/\x1b\[K$/, ''));
    assert.ok(wide!.length > 60 && wide!.length <= 99, wide);
    assert.ok(narrow!.length <= 39, narrow);
  });

  it('with TERM=dumb on a terminal: lines, no carriage return or escape', () => {
    const stderr = recorder(true, 80);
    const { clock, advance } = fakeClock();
    const renderer = createProgressRenderer({ stderr, live: new LiveLine(stderr) }, { show: true, intervalMs: 5000 }, { env: { TERM: 'dumb' }, clock });
    for (let i = 1; i <= 10; i++) {
      advance(300);
      renderer.listener(event(i * 100 * MiB, 1000 * MiB, { done: i === 10 }));
    }
    assert.doesNotMatch(stderr.text(), /[\r\x1b]/);
    assert.equal(stderr.text().split('\n').filter(Boolean).length, 10);
    assert.match(stderr.text(), /^backup: 10% \(100 MiB of 1000 MiB/);
  });
});

describe('a note or an error while the bar is drawn', () => {
  it('starts on a line of its own (the bar stays above), and the bar goes on below', () => {
    const stderr = recorder(true, 80);
    const stdout = recorder();
    const output = new Output(false, streams(stdout, stderr));
    const previous = process.env.TERM;
    process.env.TERM = 'xterm';
    try {
      const listener = output.progress();
      listener(event(300 * MiB));
      output.note('SIGINT: stopping backup, removing what it wrote...');
      listener(event(300 * MiB, 1000 * MiB, { done: true }));
      output.error(new Error('boom'));
    } finally {
      process.env.TERM = previous;
    }
    const text = stderr.text();
    assert.match(text, /ETA 12s\x1b\[K\nSIGINT: stopping backup/, 'the note begins after a line break, not glued to the bar');
    assert.match(text, /\nSIGINT: stopping backup, removing what it wrote\.\.\.\n\rbackup  \[/, 'the bar is redrawn below the note');
    assert.match(text, /\x1b\[K\nshmsnap: INTERNAL: internal error: boom\n$/, 'the finished bar ended its line; the error does not add a blank one');
  });

  it('an error after a bar that did not finish starts on its own line too', () => {
    const stderr = recorder(true, 80);
    const output = new Output(false, streams(recorder(), stderr));
    const previous = process.env.TERM;
    process.env.TERM = 'xterm';
    try {
      output.progress()(event(300 * MiB));
      output.error(new Error('disk on fire'));
    } finally {
      process.env.TERM = previous;
    }
    assert.match(stderr.text(), /\x1b\[K\nshmsnap: INTERNAL: internal error: disk on fire\n$/);
  });
});

describe('off a terminal', () => {
  it('prints a line at every 10% and, in between, every interval', () => {
    const { clock, advance } = fakeClock();
    const lines: { at: number; text: string }[] = [];
    const stderr = { write: (text: string) => lines.push({ at: clock.now(), text }), isTTY: false };
    const renderer = createProgressRenderer({ stderr, live: new LiveLine(stderr) }, { show: true, intervalMs: 5000 }, { clock });
    // 1% a second, in events every half second: 10% lines come every 10 s; the interval adds one in between.
    for (let step = 1; step <= 50; step++) {
      advance(500);
      renderer.listener(event(step * 5 * MiB, 1000 * MiB, { elapsedMs: step * 500 }));
    }
    const percents = lines.map((l) => Number(/^backup: (\d+)%/.exec(l.text)![1]));
    assert.deepEqual(percents, [5, 10, 15, 20, 25]);
    assert.deepEqual(lines.map((l) => l.at), [5500, 10000, 15000, 20000, 25000]);
  });

  it('keeps printing while nothing moves (a stalled upload shows life), with the rate falling', () => {
    const stderr = recorder();
    const { clock, advance, live } = fakeClock();
    const renderer = createProgressRenderer({ stderr, live: new LiveLine(stderr) }, { show: true, intervalMs: 5000 }, { clock });
    renderer.listener(event(420 * MiB, 1000 * MiB, { elapsedMs: 4000, bytesPerSecond: 110e6 }));
    advance(16_000);
    const lines = stderr.text().trim().split('\n');
    assert.equal(lines.length, 4, lines.join('\n'));
    assert.match(lines[0]!, /^backup: 40% \(420 MiB of 1000 MiB, 0\/8 segments, 110 MB\/s, ETA 12s\)$/, 'the 10% line of the last event');
    // Every 5 s without a byte: 420 MiB in 9, 14, 19 s; the ETA grows.
    assert.deepEqual(
      lines.slice(1).map((l) => /^backup: 42% \(420 MiB of 1000 MiB, 0\/8 segments, (.*)\)$/.exec(l)?.[1]),
      ['48.9 MB/s, ETA 12s', '31.5 MB/s, ETA 19s', '23.2 MB/s, ETA 26s'],
    );
    renderer.listener(event(1000 * MiB, 1000 * MiB, { done: true, etaMs: 0 }));
    assert.match(stderr.text(), /backup: 100% \(1000 MiB of 1000 MiB, 0\/8 segments, 123 MB\/s\)\n$/);
    assert.equal(live(), 0, 'the final event stops the time basis');
    advance(60_000);
    assert.equal(stderr.text().trim().split('\n').length, 5, 'nothing after the end');
  });

  it('stops when the run fails (no final event comes)', () => {
    const stderr = recorder();
    const { clock, advance, live } = fakeClock();
    const renderer = createProgressRenderer({ stderr, live: new LiveLine(stderr) }, { show: true, intervalMs: 1000 }, { clock });
    renderer.listener(event(100));
    renderer.stop();
    advance(10_000);
    assert.equal(stderr.text(), '');
    assert.equal(live(), 0);
  });

  it('shows nothing with --no-progress or --quiet', () => {
    const stderr = recorder(true, 80);
    const renderer = createProgressRenderer({ stderr, live: new LiveLine(stderr) }, { show: false, intervalMs: 1000 }, { env: { TERM: 'xterm' } });
    renderer.listener(event(100));
    renderer.listener(event(1000, 1000, { done: true }));
    assert.equal(stderr.text(), '');
  });
});

describe('--events', () => {
  const writer = (stdout: { write: (t: string) => unknown }) => {
    let t = Date.parse('2026-11-21T10:00:00.000Z');
    return new EventWriter(stdout, 'backup', () => new Date((t += 1000)));
  };

  it('a phase line at the start of a transfer, a progress line at once, then every interval (also while stalled) and at the end', () => {
    const stdout = recorder();
    const stderr = recorder();
    const { clock, advance } = fakeClock();
    const renderer = createProgressRenderer({ stderr, live: new LiveLine(stderr), events: writer(stdout) }, { show: true, intervalMs: 2000 }, { clock });
    renderer.listener(event(0, 1000));
    advance(500);
    renderer.listener(event(100, 1000));
    advance(4500);
    renderer.listener(event(1000, 1000, { done: true, segmentsDone: 8, etaMs: 0 }));
    const lines = stdout.text().trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(
      lines.map((l) => [l.type, l.phase, l.percent, l.done]),
      [
        ['phase', 'backup', undefined, undefined],
        ['progress', 'backup', 0, false],
        ['progress', 'backup', 10, false],
        ['progress', 'backup', 10, false],
        ['progress', 'backup', 100, true],
      ],
    );
    for (const line of lines) {
      assert.equal(line.schema, 'shmsnap.event/1');
      assert.equal(line.command, 'backup');
      assert.match(String(line.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    }
    assert.equal(stderr.text(), '', 'nothing on stderr');
  });

  it('the result and error lines carry the very document --json prints', () => {
    const value = { location: '/b', segments: 3, codec: { name: 'gzip', level: 1 } };
    const json = recorder();
    new Output(true, streams(json, recorder())).result('backup', value);
    const events = recorder();
    const output = new Output(false, streams(events, recorder()), undefined, undefined, { events: writer(events) });
    output.line('a human line');
    output.note('a note');
    output.result('backup', value);
    const lines = events.text().trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(lines.map((l) => l.type), ['note', 'result']);
    assert.equal(lines[0]!.message, 'a note');
    assert.deepEqual(lines[1]!.document, JSON.parse(json.text()));

    const jsonError = recorder();
    const status = new Output(true, streams(jsonError, recorder())).error(new Error('boom'));
    const errorEvents = recorder();
    const stderr = recorder();
    new Output(false, streams(errorEvents, stderr), undefined, undefined, { events: writer(errorEvents) }).error(new Error('boom'));
    const line = JSON.parse(errorEvents.text()) as Record<string, unknown>;
    assert.equal(line.type, 'error');
    assert.equal(line.exitStatus, status);
    assert.deepEqual(line.document, JSON.parse(jsonError.text()));
    assert.equal(stderr.text(), '');
  });

  it('--quiet keeps phases, results and errors but no progress lines', () => {
    const stdout = recorder();
    const { clock } = fakeClock();
    const renderer = createProgressRenderer({ stderr: recorder(), live: new LiveLine(recorder()), events: writer(stdout) }, { show: false, intervalMs: 1000 }, { clock });
    renderer.listener(event(0, 1000));
    renderer.listener(event(1000, 1000, { done: true }));
    assert.deepEqual(stdout.text().trim().split('\n').map((l) => JSON.parse(l).type), ['phase']);
  });
});

describe('--quiet', () => {
  it('drops the result lines; notes (warnings) and errors still print', () => {
    const stdout = recorder();
    const stderr = recorder();
    const output = new Output(false, streams(stdout, stderr), undefined, undefined, { quiet: true, progress: { show: false, intervalMs: 5000 } });
    output.line('backup: committed x');
    output.note('backup: warning: something');
    output.progress()(event(1, 2, { done: true }));
    assert.equal(stdout.text(), '');
    assert.equal(stderr.text(), 'backup: warning: something\n');
  });
});
