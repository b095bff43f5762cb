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
 *
 * Once the operation has committed (the manifest is written; every segment
 * restored), nothing is left that an interrupt could undo: the signal is no
 * longer passed on, the run ends as it would have, and a note says the
 * interrupt came after the commit. The same holds after the operation:
 * `holdInterruptsUntilExit()` (the bin calls it, and ends with
 * `process.exit`) keeps a handler installed until the process is gone, so a
 * signal in its last moments cannot kill it by the default action (status
 * 130 to the shell) with the result already printed.
 */
import { errAborted } from '@shmsnap/core';
import { EXIT_INTERRUPTED, EXIT_OK } from './exit-codes.js';

/** Called by the operation at its commit point; afterwards an interrupt changes nothing. */
export type OnCommitted = () => void;

/** Operations running under `withInterrupt` now (the hold leaves signals to them). */
let running = 0;

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

export async function withInterrupt<T>(
  what: string,
  note: (text: string) => void,
  body: (signal: AbortSignal, onCommitted: OnCommitted) => Promise<T>,
  options: InterruptOptions = {},
): Promise<T> {
  const deadlineMs = options.deadlineMs ?? INTERRUPT_DEADLINE_MS;
  const controller = new AbortController();
  let count = 0;
  let committed = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    count += 1;
    if (committed) {
      if (count === 1) note(`${signal}: ${what} had already committed: finishing; it is complete and nothing is removed`);
      // Nothing of the result is left to lose: only tidying up (a pending marker beside its manifest is harmless).
      else if (count >= 3) process.exit(process.exitCode ?? EXIT_OK);
      return;
    }
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
  const onCommitted: OnCommitted = () => {
    committed = true;
  };
  running += 1;
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const result = await body(controller.signal, onCommitted);
    // Asked to stop, but the operation got past its commit point first (or had nothing left to stop): nothing was removed.
    if (controller.signal.aborted) note(`${what} was complete before the interrupt could stop it: nothing was removed`);
    return result;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    running -= 1;
  }
}

let holding = false;

/**
 * Keeps a SIGINT/SIGTERM handler from now until the process exits. While an
 * operation runs, `withInterrupt` handles the signal; outside one, the
 * process exits at once: with the status already decided
 * (`process.exitCode`), or 130 before there is one. Idempotent.
 *
 * Why it must stay until the very end: with no handler, the signal's default
 * action kills the process. Node closes its signal handles when the event
 * loop drains and the environment is torn down, so the caller ends with
 * `process.exit()`, which keeps them until the process is gone (measured:
 * SIGINT sent as a backup printed "committed" killed 7 of 20 runs without
 * the handler, 2 of 60 with it and a drained loop, none of 60 with both).
 */
export function holdInterruptsUntilExit(): void {
  if (holding) return;
  holding = true;
  const onSignal = (): void => {
    if (running > 0) return;
    process.exit(process.exitCode ?? EXIT_INTERRUPTED);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}
