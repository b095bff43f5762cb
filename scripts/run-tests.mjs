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
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
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
// One Ceph RGW for every S3 test file of the run (bring-up takes 16-18 s, too
// slow to pay per file): started beside the tests, which wait for its state
// file (packages/sink-s3/src/testing/s3-stores.ts), and stopped by PID at the
// end. Not when SHMSNAP_TEST_S3 leaves RGW out or an endpoint replaces it.
const env = { ...process.env };
const wantsRgw = !env.SHMSNAP_TEST_S3_ENDPOINT && ['rgw', 'both', undefined, ''].includes(env.SHMSNAP_TEST_S3) && !env.SHMSNAP_TEST_RGW_STATE;
const usesS3 = files.some((file) => /(^|\/)s3[^/]*\.(integ|e2e)\.test\.ts$/.test(file));
let rgw;
let stateDir;
if (wantsRgw && usesS3) {
  stateDir = mkdtempSync(join(tmpdir(), 'shmsnap-rgw-state-'));
  env.SHMSNAP_TEST_RGW_STATE = join(stateDir, 'rgw.json');
  const stateFile = env.SHMSNAP_TEST_RGW_STATE;
  rgw = spawn(process.execPath, ['--import', 'tsx', join(root, 'packages/sink-s3/src/testing/rgw-serve.ts'), stateFile], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
  // Should it die before saying anything, the tests learn why at once instead of waiting for it.
  rgw.once('exit', (code, signal) => {
    if (!existsSync(stateFile)) writeFileSync(stateFile, JSON.stringify({ unavailable: `the runner's RGW process exited (${code ?? signal}) before RGW was up` }));
  });
}
const stopRgw = async () => {
  if (rgw && rgw.exitCode === null && rgw.signalCode === null) {
    const exited = new Promise((resolve) => rgw.once('exit', resolve));
    rgw.kill('SIGTERM');
    await exited;
  }
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
};
for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => void stopRgw().then(() => process.exit(130)));

let status = 1;
try {
  const tests = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', ...passThrough, ...files], { cwd: root, stdio: 'inherit', env });
  status = await new Promise((resolve) => tests.once('exit', (code) => resolve(code ?? 1)));
} finally {
  await stopRgw();
}
process.exit(status);
