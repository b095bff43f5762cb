// Loaded into the CLI under test (`node --import`, see stallFirstSync() in
// cli.ts) to make the first fsync(2) of a file of 1 MiB or more (a segment's
// object, not the pending marker or a directory) take SHMSNAP_TEST_STALL_MS
// longer: a backup to a local directory then stops moving bytes for that long,
// mid-way, as one does when a disk or a network mount stalls, while the
// process lives on.
import { open } from 'node:fs/promises';

const stallMs = Number(process.env.SHMSNAP_TEST_STALL_MS);
if (!(stallMs > 0)) throw new Error('stall.mjs needs SHMSNAP_TEST_STALL_MS');

const handle = await open(process.execPath, 'r');
const prototype = Object.getPrototypeOf(handle);
await handle.close();
const sync = prototype.sync;
let stalled = false;
prototype.sync = async function stallingSync(...args) {
  if (!stalled && (await this.stat()).size >= 1024 * 1024) {
    stalled = true;
    process.stderr.write(`stall: holding the first fsync of a segment's object for ${stallMs} ms\n`);
    await new Promise((resolve) => setTimeout(resolve, stallMs));
  }
  return sync.apply(this, args);
};
