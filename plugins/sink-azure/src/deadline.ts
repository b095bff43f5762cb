/**
 * A deadline for one request, so a store that accepts a connection and then
 * never answers cannot hang a backup: the SDK has no client-side timeout of
 * its own (its `tryTimeoutInMs` only asks the server for one), and its
 * retries are off (`azure-client.ts`). The request gets a signal that aborts
 * when the caller's does or when `ms` pass without an answer; the caller's
 * own signal stays the one errors are judged by, so a deadline reads as a
 * retryable network failure (`azure-errors.ts`), not as the user's abort.
 *
 * The timer stops once `fn` resolves: for a download that is when the
 * answer's headers arrived, and its body then streams for as long as it
 * takes (a stalled body fails by its connection, and `withRetry` resumes it).
 */
export const REQUEST_DEADLINE_MS = 120_000;

export async function withDeadline<T>(signal: AbortSignal | undefined, ms: number, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new Error(`no answer within ${ms / 1000} s`)), ms);
  const onAbort = (): void => controller.abort(signal?.reason);
  if (signal?.aborted) onAbort();
  else signal?.addEventListener('abort', onAbort, { once: true });
  try {
    return await fn(controller.signal);
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  }
}
