// `shmsnap completion bash|zsh` and `shmsnap man`, from the built CLI: the
// scripts are valid for their shells and complete commands, flags and their
// choices; the man page renders without a warning and names every command and
// flag the program defines (read here from the definitions themselves).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createDefaultRegistry } from '../packages/cli/src/default-registry.js';
import { createProgram } from '../packages/cli/src/program.js';
import { runShmsnap } from './support/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'shmsnap-completion-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Every command and its long flags, as the program defines them. */
const defined = createProgram({ registry: createDefaultRegistry(), streams: process, setExit: () => undefined }).commands.map((c) => ({
  name: c.name(),
  flags: [...c.options.map((o) => o.long!).filter(Boolean), '--help'],
}));

const has = (command: string): boolean => spawnSync('sh', ['-c', `command -v ${command}`]).status === 0;

describe('bash completion', () => {
  let script = '';
  before(async () => {
    const run = await runShmsnap(['completion', 'bash']);
    assert.equal(run.status, 0, run.stderr);
    script = join(dir, 'shmsnap.bash');
    writeFileSync(script, run.stdout);
  });

  /** What bash completes for the words typed so far (the last one being completed). */
  function complete(...words: string[]): string[] {
    const array = words.map((w) => `'${w}'`).join(' ');
    const run = spawnSync('bash', ['-c', `source ${script}; COMP_WORDS=(${array}); COMP_CWORD=${words.length - 1}; _shmsnap; printf '%s\\n' "\${COMPREPLY[@]}"`], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stderr, '');
    return run.stdout.split('\n').filter(Boolean);
  }

  it('is valid bash (bash -n) and registers itself', () => {
    const check = spawnSync('bash', ['-n', script], { encoding: 'utf8' });
    assert.equal(check.status, 0, check.stderr);
    const registered = spawnSync('bash', ['-c', `source ${script}; complete -p shmsnap`], { encoding: 'utf8' });
    assert.match(registered.stdout, /-F _shmsnap shmsnap/);
  });

  it('completes a command, a flag, a flag\'s choices and an argument\'s', () => {
    assert.deepEqual(complete('shmsnap', 'res'), ['restore']);
    assert.deepEqual(complete('shmsnap', 'backup', '--co'), ['--codec']);
    assert.deepEqual(complete('shmsnap', 'backup', '--codec', 'z'), ['zstd']);
    assert.deepEqual(complete('shmsnap', 'restore', '--allow-o').sort(), ['--allow-older', '--allow-other-host']);
    assert.deepEqual(complete('shmsnap', 'completion', ''), ['bash', 'zsh']);
    assert.deepEqual(complete('shmsnap', 'backup', '--threads', ''), [], 'a number: nothing to offer');
    assert.deepEqual(complete('shmsnap', 'verify', '--json', `${dir}/shmsnap.b`), [`${dir}/shmsnap.bash`], 'a location: file names');
  });

  it('offers every command, and every flag of each command', () => {
    assert.deepEqual(complete('shmsnap', '').filter((w) => !w.startsWith('-')).sort(), [...defined.map((c) => c.name), 'help'].sort());
    for (const { name, flags } of defined) {
      const offered = complete('shmsnap', name, '--');
      for (const flag of flags) assert.ok(offered.includes(flag), `${name} ${flag}`);
    }
  });
});

describe('zsh completion', () => {
  it('is valid zsh (zsh -n)', async (t) => {
    if (!has('zsh')) {
      t.skip('zsh is not installed: the zsh script is not checked');
      return;
    }
    const run = await runShmsnap(['completion', 'zsh']);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /^#compdef shmsnap\n/);
    const file = join(dir, '_shmsnap');
    writeFileSync(file, run.stdout);
    const check = spawnSync('zsh', ['-n', file], { encoding: 'utf8' });
    assert.equal(check.status, 0, check.stderr);
    for (const { name, flags } of defined) {
      assert.match(run.stdout, new RegExp(`^        ${name}\\)$`, 'm'), name);
      for (const flag of flags) assert.ok(run.stdout.includes(`'${flag}`) || run.stdout.includes(`,${flag}`), `${name} ${flag}`);
    }
  });
});

describe('the man page', () => {
  let roff = '';
  before(async () => {
    const run = await runShmsnap(['man']);
    assert.equal(run.status, 0, run.stderr);
    roff = run.stdout;
  });

  /** The page as a reader sees it (overstrikes taken out), rendered by groff or, failing that, man -l. */
  function rendered(): { text: string; warnings: string } | undefined {
    const file = join(dir, 'shmsnap.1');
    writeFileSync(file, roff);
    const run = has('groff')
      ? spawnSync('groff', ['-man', '-Tutf8', '-ww', file], { encoding: 'utf8', env: { ...process.env, GROFF_NO_SGR: '1' } })
      : has('man')
        ? spawnSync('man', ['-l', file], { encoding: 'utf8', env: { ...process.env, MANPAGER: 'cat', MAN_KEEP_FORMATTING: '0' } })
        : undefined;
    if (run === undefined) return undefined;
    assert.equal(run.status, 0, run.stderr);
    return { text: run.stdout.replace(/.\x08/g, '').replace(/[\u2010\u2212]/g, '-'), warnings: run.stderr };
  }

  it('is a man page: title, and the sections a reader looks for', () => {
    assert.match(roff, /^\.TH SHMSNAP 1 /m);
    for (const section of ['NAME', 'SYNOPSIS', 'DESCRIPTION', 'OPTIONS', 'COMMANDS', 'CONFIGURATION', 'ENVIRONMENT', 'FILES', '"EXIT STATUS"']) {
      assert.match(roff, new RegExp(`^\\.SH ${section}$`, 'm'), section);
    }
    assert.doesNotMatch(roff, /[^\x00-\x7f]/, 'plain ASCII roff: other characters are escaped');
  });

  it('renders without a warning, and names every command and flag, the exit statuses and variables', (t) => {
    const page = rendered();
    if (page === undefined) {
      t.skip('neither groff nor man is installed: the page is not rendered');
      return;
    }
    assert.equal(page.warnings, '');
    for (const { name, flags } of defined) {
      assert.match(page.text, new RegExp(`^ +shmsnap ${name} `, 'm'), `the command ${name}`);
      // The command's subsection: from its heading to the next heading.
      const start = page.text.search(new RegExp(`^ {3}${name}$`, 'm'));
      assert.ok(start >= 0, `a subsection for ${name}`);
      const rest = page.text.slice(page.text.indexOf('\n', start) + 1);
      const section = rest.slice(0, rest.search(/^ {0,3}\S/m));
      for (const flag of flags) assert.match(section, new RegExp(`^ +(-\\w, )?${flag}\\b`, 'm'), `${name} ${flag}`);
    }
    for (const status of ['0', '1', '2', '3', '4', '130']) assert.match(page.text, new RegExp(`^ {7}${status} `, 'm'), `exit status ${status}`);
    for (const variable of ['SHMSNAP_CONFIG', 'SHMSNAP_THREADS', 'SHMSNAP_MAX_AGE', 'AWS_PROFILE', '/etc/shmsnap/config.json']) assert.ok(page.text.includes(variable), variable);
  });
});
