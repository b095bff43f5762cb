#!/usr/bin/env node
// Runs the test files with Node's built-in runner, once, from the root.
// Tiers are named by suffix (STYLE.md):
//   unit   packages/*/src/**/*.test.ts, not *.integ.test.ts: pure logic, no
//          root, no shared memory, no server;
//   integ  *.integ.test.ts: real SysV shared memory (each file in its own
//          `unshare --ipc`), a real file system, S3-protocol servers on
//          127.0.0.1 that the tests start;
//   e2e    test/*.e2e.test.ts: the built CLI, checked by exit status, output
//          and the bytes on disk, in shared memory and in S3.
// `--tier unit|integ|e2e` (repeatable, or comma-separated) runs only those;
// without it every tier runs, as `npm test` and CI do. Node 20 does not
// expand globs itself, so the files are collected here. Other arguments are
// passed to `node --test` (e.g. --test-name-pattern); SHMSNAP_TEST_FILTER
// keeps only files whose path contains it.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const TIERS = ['unit', 'integ', 'e2e'];

function collect(dir, out) {
  for (const name of readdirSync(dir).sort()) {
    if (name === 'node_modules' || name === 'dist' || name === 'build' || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) collect(path, out);
    else if (name.endsWith('.test.ts')) out.push(relative(root, path));
  }
  return out;
}

function tierOf(file) {
  if (file.endsWith('.e2e.test.ts')) return 'e2e';
  if (file.endsWith('.integ.test.ts')) return 'integ';
  return 'unit';
}

const passThrough = [];
const tiers = new Set();
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  const arg = args[i];
  const value = arg === '--tier' ? args[++i] : arg.startsWith('--tier=') ? arg.slice('--tier='.length) : undefined;
  if (value === undefined) {
    passThrough.push(arg);
    continue;
  }
  for (const tier of value.split(',')) {
    if (!TIERS.includes(tier)) {
      process.stderr.write(`run-tests: unknown tier '${tier}' (tiers: ${TIERS.join(', ')})\n`);
      process.exit(2);
    }
    tiers.add(tier);
  }
}

const filter = process.env.SHMSNAP_TEST_FILTER;
const files = [...collect(join(root, 'packages'), []), ...collect(join(root, 'plugins'), []), ...collect(join(root, 'test'), [])].filter(
  (file) => (!filter || file.includes(filter)) && (tiers.size === 0 || tiers.has(tierOf(file))),
);
if (files.length === 0) {
  process.stderr.write('run-tests: no test files found\n');
  process.exit(1);
}
const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', ...passThrough, ...files], { cwd: root, stdio: 'inherit' });
process.exit(result.status ?? 1);
