/**
 * Stream plumbing the pipelines rely on for memory safety.
 *
 * Chunks read from shared memory are views of mapped memory. A source may
 * only unmap once nothing can touch those views any more, so a pipeline is
 * not over when `pipeline()` settles: it is over when every stage has
 * emitted 'close' (stages delay 'close' until their in-flight I/O is done).
 */
import type { Stream } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setMaxListeners } from 'node:events';
import { errAborted, errConfigInvalid, isShmsnapError, type ShmsnapError } from '../errors.js';

interface ClosableStream {
  closed?: boolean;
  destroyed?: boolean;
  destroy(error?: Error): unknown;
  once(event: 'close', listener: () => void): unknown;
}

function whenClosed(stream: ClosableStream): Promise<void> {
  if (stream.closed === true) return Promise.resolve();
  return new Promise((resolve) => {
    stream.once('close', resolve);
    // A stage that finished normally closes by itself; one left half-open
    // (the pipeline failed elsewhere) is destroyed so that it closes.
    if (stream.destroyed !== true) stream.destroy();
  });
}

/**
 * `pipeline()` with one AbortSignal, resolving or rejecting only after every
 * stream has closed.
 */
export async function pipelineSettled(streams: readonly Stream[], signal?: AbortSignal): Promise<void> {
  try {
    await pipeline(streams as unknown as [NodeJS.ReadableStream, NodeJS.WritableStream], signal ? { signal } : {});
  } finally {
    await Promise.all(streams.map((stream) => whenClosed(stream as unknown as ClosableStream)));
  }
}

/**
 * What to throw once `signal` fired: the reason it was aborted with when that
 * is one of ours (the CLI aborts with ABORTED on Ctrl-C), otherwise ABORTED.
 */
export function abortReason(signal: AbortSignal, what: string): ShmsnapError {
  return isShmsnapError(signal.reason) ? signal.reason : errAborted(what, signal.reason);
}

/**
 * Runs `task` for every item with at most `limit` running at once. The first
 * failure aborts the signal handed to the other tasks; the call settles only
 * when every started task has settled (so their cleanup is done), then
 * rejects with that first failure, or with the abort reason when `signal`
 * fired.
 */
export async function runBounded<T, R>(
  items: readonly T[],
  limit: number,
  task: (item: T, signal: AbortSignal, index: number) => Promise<R>,
  options: { signal?: AbortSignal; what: string },
): Promise<R[]> {
  const failed = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, failed.signal]) : failed.signal;
  // Every task in flight listens on this one signal (its pipeline, codec and reader do): at --threads 8
  // that passed Node's default of 10 and printed a false "possible memory leak" warning to the user.
  setMaxListeners(Math.max(10, limit * 8), signal);
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  let firstError: unknown;
  let hasError = false;

  async function worker(): Promise<void> {
    while (next < items.length && !signal.aborted) {
      const index = next++;
      try {
        results[index] = await task(items[index]!, signal, index);
      } catch (error) {
        if (!hasError) {
          hasError = true;
          firstError = error;
          failed.abort(error);
        }
      }
    }
  }

  const workers = Math.max(1, Math.min(limit, items.length));
  await Promise.all(Array.from({ length: workers }, worker));
  if (options.signal?.aborted) throw abortReason(options.signal, options.what);
  if (hasError) throw firstError;
  return results;
}

/** How many tasks `runBounded` may run at once: a positive integer, named `concurrency` in every option set. */
export function checkConcurrency(concurrency: number): void {
  if (!Number.isInteger(concurrency) || concurrency < 1) throw errConfigInvalid('concurrency', `expected a positive integer, got ${concurrency}`);
}
