/**
 * Ctrl-C and SIGTERM abort the running operation through one AbortSignal;
 * the operation then removes what it wrote and the CLI exits 130. A second
 * Ctrl-C only reminds that cleanup is running; a third one ends the process
 * at once.
 *
 * A run always ends within a bounded time after the first signal, even when
 * a read or write is blocked in the kernel (a hung file system): such a call
 * holds a libuv pool thread that no signal reaches, the pipeline cannot
 * settle until it returns, and even `process.exit()` waits for that thread.
 * So once `deadlineMs` has passed (or at the third Ctrl-C), the abandon
 * hooks run (the restore marks every segment it created for removal, which
 * the kernel completes as the process ends), and the process ends itself by
 * the signal it was sent, with the default action: a shell then sees 130 for
 * SIGINT and 143 for SIGTERM. Nothing in user space can stop that.
 */
import { errAborted } from '@shmsnap/core';

/** How long cleanup may take after the first signal before the process ends anyway. */
export const INTERRUPT_DEADLINE_MS = 30_000;

/**
 * Run synchronously just before the process ends without finishing its
 * cleanup; returns what it did (or left), to tell the user.
 */
export type AbandonHook = () => string | undefined;

const abandonHooks = new Set<AbandonHook>();

/** Registers `hook` until the returned function is called (when the run cleaned up by itself). */
export function onAbandon(hook: AbandonHook): () => void {
  abandonHooks.add(hook);
  return () => {
    abandonHooks.delete(hook);
  };
}

/** Runs the abandon hooks, then ends the process by `signal` (default action); never returns normally. */
function endNow(signal: NodeJS.Signals, note: (text: string) => void): void {
  for (const hook of [...abandonHooks]) {
    try {
      const text = hook();
      if (text) note(text);
    } catch (error) {
      note(`cleanup failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  abandonHooks.clear();
  // With no listener left, the signal takes its default action: the kernel ends every thread, blocked or not.
  process.removeAllListeners('SIGINT');
  process.removeAllListeners('SIGTERM');
  process.kill(process.pid, signal);
  // Should the signal somehow not end us (a listener added behind our back), nothing may keep us alive.
  setTimeout(() => process.kill(process.pid, 'SIGKILL'), 1000);
}

export interface InterruptOptions {
  /** @default INTERRUPT_DEADLINE_MS */
  readonly deadlineMs?: number;
}

export async function withInterrupt<T>(what: string, note: (text: string) => void, body: (signal: AbortSignal) => Promise<T>, options: InterruptOptions = {}): Promise<T> {
  const deadlineMs = options.deadlineMs ?? INTERRUPT_DEADLINE_MS;
  const controller = new AbortController();
  let count = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    count += 1;
    if (count === 1) {
      note(`${signal}: stopping ${what}, removing what it wrote...`);
      controller.abort(errAborted(what));
      // Unreferenced: a run that cleans up in time exits as usual; one held up by a blocked call does not outlive it.
      setTimeout(() => {
        note(`${what} did not finish cleaning up within ${deadlineMs / 1000} s (a read or write is blocked in the kernel); ending now`);
        endNow(signal, note);
      }, deadlineMs).unref();
    } else if (count === 2) {
      note(`still cleaning up after ${what}; press Ctrl-C again to end now (segments it created are still removed; objects it wrote may remain)`);
    } else {
      endNow(signal, note);
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
