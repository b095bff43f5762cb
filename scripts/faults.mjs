#!/usr/bin/env node
// `npm run faults [-- --codecs none,gzip,zstd]`: every failure point of a
// small backup and restore (test/faults/syscalls.e2e.test.ts) for each codec,
// each I/O call failing with EIO (ENOSPC for writes) and the process killed
// there, instead of the evenly sampled few that `npm test` tries: 1,490 runs
// of the CLI under strace for the three codecs (codec none's 441 took 21
// minutes on two busy cores), then every S3 request of a backup and a restore
// (none and zstd: 180 cases, ~10 s each: retries wait out the backoff).
// `--codecs` narrows the syscall part.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const env = { ...process.env, SHMSNAP_FAULTS: 'all', SHMSNAP_TEST_FILTER: 'test/faults/' };
for (let i = 0; i < args.length; i++) {
  const [flag, inline] = args[i].split('=', 2);
  const value = inline ?? args[++i];
  if (flag !== '--codecs' || !value || !/^(none|gzip|zstd)(,(none|gzip|zstd))*$/.test(value)) {
    process.stderr.write(`faults: usage: npm run faults -- [--codecs none,gzip,zstd] (got '${args.join(' ')}')\n`);
    process.exit(2);
  }
  env.SHMSNAP_FAULTS_CODECS = value;
}
const child = spawn(process.execPath, ['scripts/run-tests.mjs', '--tier', 'e2e', '--test-timeout=7200000'], { cwd: root, stdio: 'inherit', env });
child.once('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
