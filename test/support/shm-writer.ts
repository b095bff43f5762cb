// A process other than the test's (run as a child, in the test's IPC
// namespace): attaches one segment read-write with the project's addon,
// writes a byte, prints `attached <pid>`, and detaches at once (`detach`) or
// when its stdin closes (`hold`, at most 30 s), then prints `detached <pid>` and exits.
//   node --import tsx test/support/shm-writer.ts <key> <offset> <byte> detach|hold
import { once } from 'node:events';
import { attachShm, lookupShm } from '@shmsnap/shm-native';

const [keyText, offsetText, byteText, mode] = process.argv.slice(2);
const key = Number(keyText);
const shmid = lookupShm(key);
if (shmid === undefined) throw new Error(`no segment with key 0x${key.toString(16)}`);
const attachment = attachShm(shmid, key, false);
attachment.view(Number(offsetText), 1)[0] = Number(byteText);
process.stdout.write(`attached ${process.pid}\n`);
if (mode === 'hold') {
  process.stdin.resume();
  // A test that fails before it lets go must not leave this process (and the test) hanging.
  await Promise.race([once(process.stdin, 'end'), new Promise((resolve) => setTimeout(resolve, 30_000).unref())]);
}
await attachment.detach();
process.stdout.write(`detached ${process.pid}\n`);
