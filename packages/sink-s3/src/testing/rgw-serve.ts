/**
 * One RGW for a whole test run: `node --import tsx rgw-serve.ts <state-file>`.
 * Started by scripts/run-tests.mjs alongside the tests (bring-up is 16–18 s,
 * too slow to pay once per S3 test file), it writes where RGW listens, or
 * why it cannot run, to the state file (tmp + rename, so a reader never sees
 * half of it), then keeps the cluster up until SIGTERM or SIGINT, when it
 * stops every daemon by PID and removes the cluster's directory.
 */
import { renameSync, writeFileSync } from 'node:fs';
import { startRgw, RgwUnavailable, type RgwServer } from './rgw.js';
import type { RgwState } from './s3-stores.js';

const stateFile = process.argv[2];
if (!stateFile) {
  process.stderr.write('usage: rgw-serve.ts <state-file>\n');
  process.exit(2);
}
const publish = (state: RgwState): void => {
  writeFileSync(`${stateFile}.tmp`, JSON.stringify(state));
  renameSync(`${stateFile}.tmp`, stateFile);
};

let server: RgwServer | undefined;
let stopping = false;
const stop = async (): Promise<void> => {
  if (stopping) return;
  stopping = true;
  await server?.stop();
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());

try {
  server = await startRgw({ buckets: ['test'], log: (line) => process.stderr.write(`run-tests: rgw: ${line}\n`) });
  if (stopping) await server.stop();
  else publish({ endpoint: server.endpoint, accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey, buckets: server.buckets });
} catch (error) {
  const reason = error instanceof RgwUnavailable ? error.message : `RGW failed to start: ${error instanceof Error ? error.message : String(error)}`;
  process.stderr.write(`run-tests: rgw: ${reason}\n`);
  publish({ unavailable: reason });
}
// Stays up (the signal handlers hold the process) until the runner stops it.
setInterval(() => {}, 1 << 30);
