/**
 * Ctrl-C and SIGTERM abort the running operation through one AbortSignal;
 * the operation then removes what it wrote and the CLI exits 130. A second
 * Ctrl-C only reminds that cleanup is running (leaving now would leave a
 * partial backup or half-restored segments); a third one exits at once.
 */
import { errAborted } from '@shmsnap/core';
import { EXIT_INTERRUPTED } from './exit-codes.js';

export async function withInterrupt<T>(what: string, note: (text: string) => void, body: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  let count = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    count += 1;
    if (count === 1) {
      note(`${signal}: stopping ${what}, removing what it wrote...`);
      controller.abort(errAborted(what));
    } else if (count === 2) {
      note(`still cleaning up after ${what}; press Ctrl-C again to exit now and leave partial data behind`);
    } else {
      process.exit(EXIT_INTERRUPTED);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await body(controller.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
