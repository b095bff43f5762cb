// Progress as an operator sees it, from the built CLI on real shared memory:
// --quiet and --no-progress; lines on a time basis off a terminal (also while
// a stalled fsync holds every byte); the bar on a real pseudo-terminal
// (script(1)) at 60 and 40 columns, with TERM=dumb, and a Ctrl-C note on its
// own line; --events ndjson, whose result and error carry the --json document.
import assert from 'node:assert/strict';
import { enterPrivateIpcNamespace } from '@shmsnap/shm-native';

await enterPrivateIpcNamespace();

const { spawn, spawnSync } = await import('node:child_process');
const { readdir } = await import('node:fs/promises');
const { afterEach, describe, it } = await import('node:test');
const { createFixture } = await import('@shmsnap/shm-native/fixture');
const { useScratch } = await import('./support/scratch.js');
const { runShmsnap, SHMSNAP_BIN, stallFirstSync, startCli } = await import('./support/cli.js');
const { clearSegments } = await import('./support/shm.js');

type FixtureOptions = import('@shmsnap/shm-native/fixture').FixtureOptions;

const small: FixtureOptions = { namespaces: [{ name: 'test', nsid: 1, stages: 2, stageBytes: 2 * 1024 * 1024 }] };
// Slow enough for several redraws and a Ctrl-C mid-way: gzip level 9 on one thread.
const slow: FixtureOptions = { namespaces: [{ name: 'test', nsid: 1, stages: 4, stageBytes: 12 * 1024 * 1024 }] };
const slowBackup = ['--codec', 'gzip', '--level', '9', '--threads', '1'];

const scratch = useScratch('progress');
afterEach(clearSegments);

interface Event {
  schema: string;
  type: string;
  time: string;
  command: string;
  phase?: string;
  bytesDone?: number;
  percent?: number;
  done?: boolean;
  message?: string;
  exitStatus?: number;
  document?: Record<string, unknown>;
}

function events(stdout: string): Event[] {
  const lines = stdout.split('\n');
  assert.equal(lines.pop(), '', 'every line ends with a newline');
  return lines.map((line, i) => {
    const event = JSON.parse(line) as Event;
    assert.equal(event.schema, 'shmsnap.event/1', `line ${i + 1}`);
    assert.ok(['phase', 'progress', 'result', 'error', 'note'].includes(event.type), `line ${i + 1}: type ${event.type}`);
    assert.ok(!Number.isNaN(Date.parse(event.time)), `line ${i + 1}: time ${event.time}`);
    return event;
  });
}

/** The JSON results with what differs between two runs of the same backup taken out. */
function stable(document: Record<string, unknown>): Record<string, unknown> {
  const { location: _l, seconds: _s, megabytesPerSecond: _m, ...rest } = document;
  return rest;
}

describe('--quiet and --no-progress', () => {
  it('--quiet: a successful backup prints nothing at all; the backup is there', async () => {
    await createFixture(small);
    const dir = scratch.fresh();
    const run = await runShmsnap(['backup', '--to', dir, '--quiet']);
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout, '');
    assert.equal(run.stderr, '');
    assert.ok((await readdir(dir)).includes('shmsnap-manifest-i0-n1.json'));
  });

  it('--quiet still prints the error', async () => {
    await createFixture(small);
    const dir = scratch.fresh();
    assert.equal((await runShmsnap(['backup', '--to', dir])).status, 0);
    const again = await runShmsnap(['backup', '--to', dir, '-q']);
    assert.equal(again.status, 3);
    assert.equal(again.stdout, '');
    assert.match(again.stderr, /^shmsnap: BACKUP_EXISTS: /);
  });

  it('--no-progress: the result lines, no progress line', async () => {
    await createFixture(slow);
    const dir = scratch.fresh();
    const run = await runShmsnap(['backup', '--to', dir, '--no-progress', '--threads', '1']);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /^backup: committed shmsnap-manifest-i0-n1\.json$/m);
    assert.doesNotMatch(run.stderr, /%/);
    const withProgress = await runShmsnap(['verify', dir, '--threads', '1']);
    assert.match(withProgress.stderr, /^verify: 100% /m, 'without the flag there is progress');
  });
});

describe('off a terminal: lines on a time basis', () => {
  it('while a stalled fsync holds every byte, a line every --progress-interval', async () => {
    await createFixture(small);
    const dir = scratch.fresh();
    const running = startCli(['backup', '--to', dir, '--threads', '1', '--progress-interval', '1s'], { env: stallFirstSync(4500) });
    const arrivals: { at: number; line: string }[] = [];
    let pending = '';
    running.child.stderr.on('data', (chunk: Buffer) => {
      pending += chunk.toString();
      for (let end = pending.indexOf('\n'); end >= 0; end = pending.indexOf('\n')) {
        arrivals.push({ at: performance.now(), line: pending.slice(0, end) });
        pending = pending.slice(end + 1);
      }
    });
    const run = await running.done;
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stderr, /^stall: holding the first fsync/m);
    // The lines printed while nothing moved: the same byte counts, one after the other.
    // What moved: percentage, bytes and segments (the rate and ETA change while nothing does).
    const progress = arrivals.filter((a) => /^backup: \d+% /.test(a.line)).map((a) => ({ ...a, done: /^backup: .*? segments/.exec(a.line)![0] }));
    const stalled = progress.filter((p, i) => i > 0 && p.done === progress[i - 1]!.done);
    assert.ok(stalled.length >= 3, `at least 3 lines while stalled for 4.5 s:\n${progress.map((p) => p.line).join('\n')}`);
    for (const [i, line] of stalled.entries()) {
      const before = progress[progress.indexOf(line) - 1]!;
      const gap = line.at - before.at;
      assert.ok(gap > 700 && gap < 2000, `line ${i}: ${Math.round(gap)} ms after the one before:\n${progress.map((p) => `${Math.round(p.at)} ${p.line}`).join('\n')}`);
    }
  });

  it('--events: progress events on the same time basis while stalled', async () => {
    await createFixture(small);
    const dir = scratch.fresh();
    const run = await runShmsnap(['backup', '--to', dir, '--threads', '1', '--progress-interval', '1s', '--events', 'ndjson'], { env: stallFirstSync(3500) });
    assert.equal(run.status, 0, run.stderr);
    const ticks = events(run.stdout).filter((e) => e.type === 'progress' && !e.done);
    const stalled = ticks.filter((t, i) => i > 0 && t.bytesDone === ticks[i - 1]!.bytesDone);
    assert.ok(stalled.length >= 2, JSON.stringify(ticks));
    for (const tick of stalled) {
      const gap = Date.parse(tick.time) - Date.parse(ticks[ticks.indexOf(tick) - 1]!.time);
      assert.ok(gap >= 900 && gap < 2000, `${gap} ms between progress events`);
    }
  });
});

describe('--events ndjson', () => {
  it('phases, progress and the result, each a JSON line; the result is the document --json prints', async () => {
    await createFixture(small);
    const viaJson = await runShmsnap(['backup', '--to', scratch.fresh(), '--json']);
    assert.equal(viaJson.status, 0, viaJson.stderr);
    await clearSegments();
    await createFixture(small);
    const dir = scratch.fresh();
    const run = await runShmsnap(['backup', '--to', dir, '--events', 'ndjson']);
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stderr, '', 'nothing on stderr: notes are events too');
    const lines = events(run.stdout);
    assert.ok(lines.every((e) => e.command === 'backup'));
    const shape = lines.map((e) => (e.type === 'phase' ? `phase:${e.phase}` : e.type));
    assert.deepEqual(shape.slice(0, 3), ['phase:plan', 'phase:backup', 'progress']);
    assert.equal(shape.at(-1), 'result');
    assert.equal(shape.at(-2), 'progress');
    assert.equal(lines.at(-2)!.done, true);
    assert.equal(lines.at(-2)!.percent, 100);
    const result = lines.at(-1)!.document!;
    assert.equal(result.location, dir);
    assert.deepEqual(stable(result), stable(JSON.parse(viaJson.stdout)));
    const times = lines.map((e) => Date.parse(e.time));
    assert.deepEqual(times, [...times].sort((a, b) => a - b), 'in time order');
  });

  it('a failure is an error event carrying the --json error document and the exit status', async () => {
    await createFixture(small);
    const dir = scratch.fresh();
    assert.equal((await runShmsnap(['backup', '--to', dir])).status, 0);
    const viaJson = await runShmsnap(['backup', '--to', dir, '--json']);
    const run = await runShmsnap(['backup', '--to', dir, '--events', 'ndjson']);
    assert.equal(run.status, 3);
    assert.equal(run.stderr, '');
    const lines = events(run.stdout);
    assert.deepEqual(lines.map((e) => e.type), ['phase', 'error']);
    assert.equal(lines[1]!.exitStatus, 3);
    assert.deepEqual(lines[1]!.document, JSON.parse(viaJson.stdout));
  });
});

const hasScript = spawnSync('script', ['--version']).status === 0;
const noScript = hasScript ? false : 'script(1) (util-linux) is not installed: no pseudo-terminal to test the bar on';

/** Runs the CLI on a pseudo-terminal `columns` wide (script(1)); resolves to what the terminal showed of its stderr. */
function onTerminal(args: readonly string[], options: { columns: number; env?: NodeJS.ProcessEnv; interruptWhen?: RegExp }): Promise<{ status: number | null; screen: string }> {
  const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
  // stdout to /dev/null: the terminal shows stderr, where the bar is.
  const command = `stty cols ${options.columns} rows 24; exec ${[process.execPath, SHMSNAP_BIN, ...args].map(quote).join(' ')} >/dev/null`;
  const child = spawn('script', ['-qec', command, '/dev/null'], { env: { ...process.env, TERM: 'xterm', ...options.env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let screen = '';
  let interrupted = false;
  child.stdout.on('data', (chunk: Buffer) => {
    screen += chunk.toString();
    if (options.interruptWhen && !interrupted && options.interruptWhen.test(screen)) {
      interrupted = true;
      child.stdin.write('\x03'); // Ctrl-C, typed on the terminal: SIGINT to its foreground process
    }
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (status) => {
      child.stdin.destroy();
      resolve({ status, screen });
    });
  });
}

/** Each state of the bar drawn on the terminal, without the carriage returns and the erase-to-end-of-line. */
const frames = (screen: string): string[] =>
  screen
    .split(/[\r\n]+/)
    .map((f) => f.replace(/\x1b\[K/g, ''))
    .filter((f) => f.startsWith('backup  ['));

describe('on a terminal', { skip: noScript }, () => {
  it('60 columns: the bar fits, with rate and ETA', async () => {
    await createFixture(slow);
    const { status, screen } = await onTerminal(['backup', '--to', scratch.fresh(), ...slowBackup], { columns: 60 });
    assert.equal(status, 0, screen);
    const drawn = frames(screen);
    assert.ok(drawn.length >= 3, screen);
    for (const frame of drawn) assert.ok(frame.length <= 59, `${frame.length} characters: '${frame}'`);
    assert.ok(drawn.some((f) => /  [\d.]+ MB\/s  ETA \S+$/.test(f)), drawn.join('\n'));
    assert.match(drawn.at(-1)!, / 100% /);
  });

  it('40 columns: the bar fits, rate and ETA give way', async () => {
    await createFixture(slow);
    const { status, screen } = await onTerminal(['backup', '--to', scratch.fresh(), ...slowBackup], { columns: 40 });
    assert.equal(status, 0, screen);
    const drawn = frames(screen);
    assert.ok(drawn.length >= 3, screen);
    for (const frame of drawn) {
      assert.ok(frame.length <= 39, `${frame.length} characters: '${frame}'`);
      assert.match(frame, /^backup  \[[#.]+\] +\d+%$/);
    }
  });

  it('TERM=dumb: lines, never a carriage return redraw or an escape sequence', async () => {
    await createFixture(slow);
    const { status, screen } = await onTerminal(['backup', '--to', scratch.fresh(), ...slowBackup], { columns: 80, env: { TERM: 'dumb' } });
    assert.equal(status, 0, screen);
    // The terminal turns each newline into \r\n; any other \r would be a redraw.
    assert.doesNotMatch(screen.replace(/\r\n/g, '\n'), /[\r\x1b]/);
    assert.ok((screen.match(/^backup: \d+% \(/gm) ?? []).length >= 3, screen);
    assert.match(screen, /^backup: 100% \(/m);
  });

  it('Ctrl-C: the note starts on its own line, below the bar', async () => {
    await createFixture(slow);
    const dir = scratch.fresh();
    const { status, screen } = await onTerminal(['backup', '--to', dir, ...slowBackup], { columns: 80, interruptWhen: /backup  \[#+/ });
    assert.equal(status, 130, screen);
    const lines = screen.split('\n').map((l) => l.replace(/\r$/, ''));
    const note = lines.find((l) => l.includes('SIGINT: stopping backup'));
    assert.equal(note, 'SIGINT: stopping backup, removing what it wrote...', `the note's line: ${JSON.stringify(note)}`);
    assert.ok(lines.includes('shmsnap: ABORTED: backup was interrupted; everything it had written was removed'), screen);
    assert.equal(await readdir(dir).then(() => 'exists', (e: NodeJS.ErrnoException) => e.code), 'ENOENT');
  });
});
