// Loaded into the CLI under test (`node --import`, see holdAt() in cli.ts) to
// stop it at one chosen moment, so that a test can send it a signal exactly
// there instead of racing it. It says on stderr when it holds, and lets go on
// SIGUSR2 (at exit: when a file appears). It installs no SIGINT or SIGTERM handler: what the CLI does with
// those is what the test checks. SHMSNAP_TEST_HOLD picks the moment:
// - `exit`: the command has finished and printed its result, and the
//   process is exiting ('exit' event). JavaScript cannot run any more, so
//   this hold waits synchronously, until the file SHMSNAP_TEST_HOLD_RELEASE
//   exists, instead of for SIGUSR2.
// - `pending-removal`: a backup's manifest is written (committed) and the
//   pending marker is about to be removed.
import { existsSync } from 'node:fs';
import { createRequire, syncBuiltinESMExports } from 'node:module';

const require = createRequire(import.meta.url);
const moment = process.env.SHMSNAP_TEST_HOLD;

function hold(what) {
  process.stderr.write(`hold: ${what}\n`);
  return new Promise((resolve) => {
    // A timer keeps the event loop alive while held; SIGUSR2 lets go.
    const alive = setInterval(() => undefined, 1000);
    process.once('SIGUSR2', () => {
      clearInterval(alive);
      resolve();
    });
  });
}

if (moment === 'exit') {
  const release = process.env.SHMSNAP_TEST_HOLD_RELEASE;
  if (!release) throw new Error('SHMSNAP_TEST_HOLD=exit needs SHMSNAP_TEST_HOLD_RELEASE');
  process.on('exit', () => {
    process.stderr.write('hold: exiting\n');
    const pause = new Int32Array(new SharedArrayBuffer(4));
    while (!existsSync(release)) Atomics.wait(pause, 0, 0, 10);
  });
} else if (moment === 'pending-removal') {
  const fsp = require('node:fs/promises');
  const unlink = fsp.unlink;
  fsp.unlink = async (path, ...rest) => {
    if (/\/shmsnap-pending-i\d+-n[\d-]+\.json$/.test(String(path))) await hold('removing the pending marker');
    return unlink(path, ...rest);
  };
  syncBuiltinESMExports();
} else if (moment !== undefined) {
  throw new Error(`SHMSNAP_TEST_HOLD: unknown moment '${moment}'`);
}
