#!/usr/bin/env node
// Runs every test file with Node's built-in runner, once, from the root: unit
// tests beside the code (packages/*/src/**/*.test.ts, including
// *.integ.test.ts) and the end-to-end tests in test/. Node 20 does not expand
// globs itself, so the files are collected here. Extra arguments are passed
// to `node --test` (e.g. --test-name-pattern).
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

function collect(dir, out) {
  for (const name of readdirSync(dir).sort()) {
    if (name === 'node_modules' || name === 'dist' || name === 'build' || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) collect(path, out);
    else if (name.endsWith('.test.ts')) out.push(relative(root, path));
  }
  return out;
}

const filter = process.env.SHMSNAP_TEST_FILTER;
const files = [...collect(join(root, 'packages'), []), ...collect(join(root, 'test'), [])].filter(
  (file) => !filter || file.includes(filter),
);
if (files.length === 0) {
  process.stderr.write('run-tests: no test files found\n');
  process.exit(1);
}
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=2', ...process.argv.slice(2), ...files],
  { cwd: root, stdio: 'inherit' },
);
process.exit(result.status ?? 1);
