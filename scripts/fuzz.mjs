#!/usr/bin/env node
// `npm run fuzz -- [--runs N] [--seed S] [--shrink]`: the property tests of test/fuzz/
// as a longer campaign. `npm test` runs the same properties with a fixed seed
// and a few hundred runs each; here every property runs N times (default
// 5,000) from seed S (default: a fresh one, printed so a failure can be
// replayed). A failure prints fast-check's seed and path: keep the
// counterexample as a regression case beside its property.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
let runs = 5000;
// A campaign stops at its first failure and prints the seed and path to replay (shrinking a large
// manifest took over 30 minutes once); `--shrink` shrinks to a minimal counterexample instead.
let shrink = false;
let seed = Math.floor(Math.random() * 0x7fffffff);
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--shrink') {
    shrink = true;
    continue;
  }
  const [flag, inline] = args[i].split('=', 2);
  const value = inline ?? args[++i];
  if ((flag !== '--runs' && flag !== '--seed') || value === undefined || !/^-?\d+$/.test(value)) {
    process.stderr.write(`fuzz: usage: npm run fuzz -- [--runs N] [--seed S] [--shrink] (got '${args.join(' ')}')\n`);
    process.exit(2);
  }
  if (flag === '--runs') runs = Number(value);
  else seed = Number(value);
}
process.stdout.write(`fuzz: every property ${runs} runs from seed ${seed}\n`);
const child = spawn(process.execPath, ['scripts/run-tests.mjs', '--tier', 'unit'], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, SHMSNAP_TEST_FILTER: 'test/fuzz/', SHMSNAP_FUZZ_RUNS: String(runs), SHMSNAP_FUZZ_SEED: String(seed), ...(shrink ? {} : { SHMSNAP_FUZZ_END_ON_FAILURE: '1' }) },
});
child.once('exit', (code, signal) => {
  if (code !== 0) process.stderr.write(`fuzz: a property failed (seed ${seed}, ${runs} runs): replay with npm run fuzz -- --runs ${runs} --seed ${seed}\n`);
  process.exit(code ?? (signal ? 1 : 0));
});
