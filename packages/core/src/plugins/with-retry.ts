/**
 * Retry is a wrapper, not something each sink invents: `withRetry(sink,
 * policy)` retries a sink's idempotent calls, and `retryOperation` is the one
 * loop behind it, which a sink may also use for its own idempotent
 * sub-operations (an S3 part held in memory can be sent again).
 *
 * Backoff is exponential with full jitter (a random delay between zero and
 * the exponential bound), so many writers that failed together do not come
 * back together. Only errors that say they are retryable are retried; a
 * refusal (permission denied, no such object) fails at once.
 */
import { Readable } from 'node:stream';
import { errConfigInvalid, errObjectNotFound, isShmsnapError } from '../errors.js';
import { abortReason } from '../pipeline/settle.js';
import type { ReaderOptions, Sink } from '../contracts/sink.js';

export interface RetryEvent {
  /** What is being retried, e.g. `s3 stat node1/ae001100.dat`. */
  readonly what: string;
  /** The attempt that just failed, from 1. */
  readonly attempt: number;
  readonly delayMs: number;
  readonly error: unknown;
}

export interface RetryPolicy {
  /** Attempts in all, the first one included; 1 turns retrying off. @default 5 */
  readonly maxAttempts?: number;
  /** Upper bound of the first delay; each further delay doubles it. @default 100 */
  readonly baseDelayMs?: number;
  /** No delay is longer than this. @default 10_000 */
  readonly maxDelayMs?: number;
  /** Whether a failure may go away by trying again. @default isShmsnapError(error) && error.retryable */
  readonly isRetryable?: (error: unknown) => boolean;
  /** Called before each backoff sleep: for logs and tests. */
  readonly onRetry?: (event: RetryEvent) => void;
}

export interface RetryOptions {
  /** Aborting it ends a backoff sleep at once, with the abort reason. */
  readonly signal?: AbortSignal;
  /** Names the operation in abort errors and retry events. @default 'operation' */
  readonly what?: string;
}

interface ResolvedPolicy {
  readonly maxAttempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  readonly isRetryable: (error: unknown) => boolean;
  readonly onRetry: ((event: RetryEvent) => void) | undefined;
}

const isRetryableByDefault = (error: unknown): boolean => isShmsnapError(error) && error.retryable;

function resolvePolicy(policy: RetryPolicy): ResolvedPolicy {
  const maxAttempts = policy.maxAttempts ?? 5;
  const baseDelayMs = policy.baseDelayMs ?? 100;
  const maxDelayMs = policy.maxDelayMs ?? 10_000;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) throw errConfigInvalid('retry.maxAttempts', `must be an integer of at least 1, got ${maxAttempts}`);
  if (!(baseDelayMs >= 0)) throw errConfigInvalid('retry.baseDelayMs', `must be 0 or more, got ${baseDelayMs}`);
  if (!(maxDelayMs >= 0)) throw errConfigInvalid('retry.maxDelayMs', `must be 0 or more, got ${maxDelayMs}`);
  return { maxAttempts, baseDelayMs, maxDelayMs, isRetryable: policy.isRetryable ?? isRetryableByDefault, onRetry: policy.onRetry };
}

/** The delay after failed attempt `attempt` (from 1): full jitter under an exponential bound. */
export function retryDelayMs(attempt: number, policy: RetryPolicy = {}, random: () => number = Math.random): number {
  const { baseDelayMs, maxDelayMs } = resolvePolicy(policy);
  const bound = Math.min(maxDelayMs, baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.floor(random() * bound);
}

function sleep(ms: number, what: string, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortReason(signal, what));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortReason(signal!, what));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Runs `fn` until it succeeds, fails with an error the policy does not retry,
 * or has failed `maxAttempts` times; then throws that last error. `fn` gets
 * the attempt number (from 1).
 */
export async function retryOperation<T>(
  fn: (attempt: number) => Promise<T>,
  policy: RetryPolicy = {},
  options: RetryOptions = {},
): Promise<T> {
  const resolved = resolvePolicy(policy);
  const what = options.what ?? 'operation';
  const { signal } = options;
  for (let attempt = 1; ; attempt += 1) {
    if (signal?.aborted) throw abortReason(signal, what);
    try {
      return await fn(attempt);
    } catch (error) {
      // A failure caused by the caller's abort is the abort, whatever shape the callee gave it.
      if (signal?.aborted && !isShmsnapError(error)) throw abortReason(signal, what);
      if (attempt >= resolved.maxAttempts || signal?.aborted || !resolved.isRetryable(error)) throw error;
      const delayMs = retryDelayMs(attempt, resolved);
      resolved.onRetry?.({ what, attempt, delayMs, error });
      await sleep(delayMs, what, signal);
    }
  }
}

/**
 * A reader that, when the stream fails mid-way with a retryable error,
 * re-opens the object from the byte it had reached. Failures that follow
 * progress start the count again: a long download over a link that drops now
 * and then still completes, one that makes no progress gives up.
 */
function resumableReader(sink: Sink, name: string, options: ReaderOptions, policy: ResolvedPolicy, first: Readable): Readable {
  const what = `${sink.name} read ${name}`;
  const { signal } = options;
  async function* relay(): AsyncGenerator<Buffer> {
    let stream = first;
    let position = options.range?.start ?? 0;
    let end = options.range?.end;
    let failures = 0;
    for (;;) {
      let progressed = false;
      try {
        for await (const chunk of stream) {
          const bytes = chunk as Buffer;
          if (bytes.length === 0) continue;
          position += bytes.length;
          progressed = true;
          yield bytes;
        }
        return;
      } catch (error) {
        stream.destroy();
        if (signal?.aborted && !isShmsnapError(error)) throw abortReason(signal, what);
        if (progressed) failures = 0;
        failures += 1;
        if (failures >= policy.maxAttempts || signal?.aborted || !policy.isRetryable(error)) throw error;
        const delayMs = retryDelayMs(failures, policy);
        policy.onRetry?.({ what, attempt: failures, delayMs, error });
        await sleep(delayMs, what, signal);
      }
      if (end === undefined) {
        const info = await retryOperation(() => sink.stat(name, signal ? { signal } : {}), policy, { what: `${sink.name} stat ${name}`, ...(signal ? { signal } : {}) });
        if (!info) throw errObjectNotFound(name, sink.location);
        end = info.size;
      }
      if (position >= end) return;
      const range = { start: position, end };
      stream = await retryOperation(() => sink.openReader(name, { range, ...(signal ? { signal } : {}) }), policy, { what, ...(signal ? { signal } : {}) });
    }
  }
  return Readable.from(relay(), { objectMode: false });
}

/**
 * `sink` with its idempotent calls retried under `policy`: `stat`, `list`,
 * `remove`, `openReader` (which also resumes a stream that fails mid-way,
 * when the sink has ranged reads) and `freeBytes`. `openWriter` is passed
 * through: a write stream cannot be replayed, so a sink retries what it
 * buffered itself (through `retryOperation`).
 */
export function withRetry(sink: Sink, policy: RetryPolicy = {}): Sink {
  const resolved = resolvePolicy(policy);
  const retried = <T>(what: string, signal: AbortSignal | undefined, fn: () => Promise<T>): Promise<T> =>
    retryOperation(fn, resolved, { what: `${sink.name} ${what}`, ...(signal ? { signal } : {}) });

  const { freeBytes, close, openRandomReader, checkWritable, checkExists, sweep } = sink;
  return {
    name: sink.name,
    location: sink.location,
    capabilities: sink.capabilities,
    openWriter: (name, options) => sink.openWriter(name, options),
    async openReader(name, options = {}) {
      const first = await retried(`read ${name}`, options.signal, () => sink.openReader(name, options));
      return sink.capabilities.rangedReads ? resumableReader(sink, name, options, resolved, first) : first;
    },
    stat: (name, options = {}) => retried(`stat ${name}`, options.signal, () => sink.stat(name, options)),
    list: (prefix, options = {}) => retried(`list ${prefix ?? ''}`.trimEnd(), options.signal, () => sink.list(prefix, options)),
    remove: (name, options = {}) => retried(`remove ${name}`, options.signal, () => sink.remove(name, options)),
    ...(freeBytes ? { freeBytes: () => retried('freeBytes', undefined, () => freeBytes.call(sink)) } : {}),
    ...(close ? { close: () => close.call(sink) } : {}),
    ...(checkWritable ? { checkWritable: (options?: Parameters<NonNullable<Sink['checkWritable']>>[0]) => retried('checkWritable', options?.signal, () => checkWritable.call(sink, options)) } : {}),
    ...(checkExists ? { checkExists: (options?: Parameters<NonNullable<Sink['checkExists']>>[0]) => retried('checkExists', options?.signal, () => checkExists.call(sink, options)) } : {}),
    // A sweep removes only what it finds again: repeating one that failed part-way is safe.
    ...(sweep ? { sweep: (options: Parameters<NonNullable<Sink['sweep']>>[0]) => retried('sweep', options.signal, () => sweep.call(sink, options)) } : {}),
    ...(openRandomReader ? { openRandomReader: (name: string, options: { signal?: AbortSignal } = {}) => retried(`open ${name}`, options.signal, () => openRandomReader.call(sink, name, options)) } : {}),
  };
}
