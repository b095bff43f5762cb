#!/usr/bin/env node
// Brings a fresh clone (Node 20 + npm, nothing else) to a runnable state:
// the pinned pnpm, the workspace's dependencies, the native addon and the
// TypeScript build. Every step is skipped when its inputs have not changed, so
// the README's commands stay fast on the second run. Any failure stops here
// with one line saying which step failed: a half-built tree is never run.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const rootPackage = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const pnpmVersion = String(rootPackage.packageManager).replace(/^pnpm@/, '');
const toolsDir = join(root, '.tools', 'pnpm');
const pnpmEntry = join(toolsDir, 'node_modules', 'pnpm', 'bin', 'pnpm.cjs');

const quiet = process.env.SHMSNAP_BOOTSTRAP_QUIET === '1';
const say = (line) => { if (!quiet) process.stderr.write(`bootstrap: ${line}\n`); };

function fail(step, detail) {
  process.stderr.write(`bootstrap: FAILED at ${step}${detail ? `: ${detail}` : ''}\n`);
  process.exit(1);
}

function run(step, command, args, options = {}) {
  const started = Date.now();
  const result = spawnSync(command, args, {
    cwd: root,
    stdio: quiet ? ['ignore', 'pipe', 'pipe'] : ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, ...buildEnv(), ...options.env },
    encoding: 'utf8',
  });
  if (result.error) fail(step, result.error.message);
  if (result.status !== 0) {
    if (quiet) process.stderr.write(`${result.stdout ?? ''}${result.stderr ?? ''}`);
    fail(step, `exit status ${result.status ?? result.signal}`);
  }
  say(`${step} done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

// node-gyp must compile against the headers that ship with this Node: nothing
// may be downloaded. Debian's and the official builds put them in different
// places; pick the one whose node.h exists.
function buildEnv() {
  const candidates = [process.env.npm_config_nodedir, dirname(dirname(process.execPath)), '/usr'];
  const nodedir = candidates.find((dir) => dir && existsSync(join(dir, 'include', 'node', 'node.h')));
  return nodedir ? { npm_config_nodedir: nodedir } : {};
}

function hashOf(paths) {
  const hash = createHash('sha256');
  for (const path of paths) {
    hash.update(path);
    hash.update(existsSync(path) ? readFileSync(path) : Buffer.alloc(0));
  }
  return hash.digest('hex');
}

function workspaceManifests() {
  const found = [join(root, 'package.json'), join(root, 'pnpm-workspace.yaml'), join(root, 'pnpm-lock.yaml')];
  for (const group of ['packages', 'plugins']) {
    const dir = join(root, group);
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir).sort()) found.push(join(dir, name, 'package.json'));
  }
  found.push(join(root, 'test', 'package.json'), join(root, 'bench', 'package.json'));
  return found;
}

function stampMatches(stampPath, value) {
  return existsSync(stampPath) && readFileSync(stampPath, 'utf8') === value;
}

// 1. pnpm, pinned, installed into the repository (never globally).
function ensurePnpm() {
  const installed = join(toolsDir, 'node_modules', 'pnpm', 'package.json');
  if (existsSync(installed) && JSON.parse(readFileSync(installed, 'utf8')).version === pnpmVersion) return;
  mkdirSync(toolsDir, { recursive: true });
  writeFileSync(join(toolsDir, 'package.json'), '{"private":true}\n');
  say(`installing pnpm ${pnpmVersion} into .tools/pnpm`);
  run('install pnpm', 'npm', ['install', '--prefix', toolsDir, '--no-audit', '--no-fund', '--loglevel=error', `pnpm@${pnpmVersion}`]);
}

// 2. Dependencies, exactly as locked.
function ensureDependencies() {
  const stamp = join(root, 'node_modules', '.shmsnap-install-stamp');
  const value = hashOf(workspaceManifests());
  if (stampMatches(stamp, value)) return;
  const frozen = existsSync(join(root, 'pnpm-lock.yaml')) ? ['--frozen-lockfile'] : [];
  run('pnpm install', process.execPath, [pnpmEntry, 'install', ...frozen, '--reporter=append-only'], {
    env: { CI: '1' },
  });
  writeFileSync(stamp, value);
}

// Outputs of modules since renamed or removed stay in dist/ (tsc -b never
// deletes), and would ship in a packed package: remove what has no source.
function pruneStaleOutputs() {
  const groups = [join(root, 'packages'), join(root, 'plugins')].filter((dir) => existsSync(dir));
  for (const packages of groups) for (const name of readdirSync(packages)) {
    const dist = join(packages, name, 'dist');
    if (!existsSync(dist)) continue;
    const walk = (dir, rel) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        const relative = rel ? `${rel}/${entry.name}` : entry.name;
        if (entry.isDirectory()) {
          walk(path, relative);
          if (readdirSync(path).length === 0) rmSync(path, { recursive: true });
          continue;
        }
        const stem = relative.replace(/(\.d\.[cm]?ts|\.[cm]?js)(\.map)?$/, '');
        if (stem === relative) continue;
        if (!['.ts', '.mts', '.cts', '.tsx'].some((ext) => existsSync(join(packages, name, 'src', stem + ext)))) rmSync(path);
      }
    };
    walk(dist, '');
  }
}

// 3. Native addons, then TypeScript (tsc -b is incremental by itself).
function build() {
  pruneStaleOutputs();
  run('native build', process.execPath, [pnpmEntry, '-r', '--if-present', '--reporter=append-only', 'run', 'build:native']);
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  run('typescript build', process.execPath, [tsc, '-b', join(root, 'tsconfig.json')]);
  // Tests run through tsx, which strips types without checking them: check them here,
  // so a renamed contract field breaks the build, not a test at run time (or not at all).
  run('typescript check of the tests', process.execPath, [tsc, '-p', join(root, 'tsconfig.tests.json')]);
}

ensurePnpm();
ensureDependencies();
build();
