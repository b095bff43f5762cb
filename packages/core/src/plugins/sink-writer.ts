/**
 * The commit-or-vanish skeleton of a sink writer. A sink brings what is its
 * own (a Writable that stores bytes somewhere invisible, a `publish` that
 * makes them the object, a `discard` that removes every trace); this owns
 * the lifecycle the contract in `contracts/sink.ts` asks of every writer, so
 * no sink has to get it right again.
 *
 * States: `open` → `committing` → `committed`, or → `failed` (a commit that
 * failed, a stream that broke) or `aborted` (`abort()`, the signal).
 * `committed`, `failed` and `aborted` are final.
 *
 * Guarantees to the writer's caller
 * - `commit()` is idempotent: every call returns the same promise, so the
 *   object is published at most once, and a second caller learns the real
 *   outcome. A failed commit is final: open a new writer to try again.
 * - `commit()` fails with SIZE_MISMATCH, before publishing, unless exactly
 *   `expectedBytes` were written (when given).
 * - `commit()` after `abort()` or after the signal aborted fails with
 *   ABORTED and publishes nothing.
 * - `commit()` before `stream.end()` fails with INTERNAL (a caller's bug);
 *   after `end()` it waits for the stream to finish.
 * - `abort()` is idempotent and may be called in any state. After
 *   `committed` it does nothing. Before, it wins: a commit in progress is
 *   cancelled and rejects with ABORTED, and once `abort()` resolves the
 *   object is not visible, even if `publish` had already made it so.
 * - The signal aborting is `abort()` with the signal's reason (kept as it is
 *   when it is a ShmsnapError, as the CLI's Ctrl-C is).
 * - A stream that errors or is destroyed before it finished dooms the
 *   writer: it is discarded at once, without waiting for `abort()`, and
 *   `commit()` rejects with the stream's error (ABORTED if that was not a
 *   coded error).
 * - A failed commit discards. A discard that fails is reported, never
 *   swallowed: `abort()` rejects with it, and the failed commit's error
 *   carries it as `details.discardError`.
 * - Errors are ShmsnapErrors; foreign ones from the hooks are wrapped with
 *   the plugin's name and the stage (`commit`, `abort`).
 * - The stream's errors never crash the process: a caller writing without
 *   `pipeline()` learns them from `commit()`.
 *
 * Guarantees to the sink (what its hooks can rely on)
 * - `publish` is called at most once, only after the stream finished, has
 *   emitted 'close' (so no write of it still runs) and held exactly
 *   `expectedBytes`. Its signal aborts when `abort()` is called during it.
 * - `discard` is called at most once, only after the stream has emitted
 *   'close' (it is destroyed first if need be), and never after a commit
 *   succeeded. It MUST remove everything the writer made, including an
 *   object `publish` already made visible (an abort that won over the
 *   commit, a publish that failed after its last step).
 * - The stream MUST delay 'close' until its in-flight I/O is over, and
 *   SHOULD refuse bytes beyond `expectedBytes` as they come (only it sees
 *   them); `bytesWritten()` reports how many it accepted.
 */
import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { ObjectInfo, SinkWriter } from '../contracts/sink.js';
import { errAborted, errInternal, errSizeMismatch, isShmsnapError, withPluginContext, type PluginStage, type ShmsnapError } from '../errors.js';
import { abortReason } from '../pipeline/settle.js';

export interface SinkWriterOptions {
  /** The sink's name (`local`, `s3`): foreign errors from the hooks are wrapped with it. */
  readonly plugin: string;
  /** The object as messages name it: `/backups/n1/ae001100.dat`, `s3://bucket/key`. */
  readonly object: string;
  /** Where the caller writes the bytes; nothing written to it is visible before `publish`. */
  readonly stream: Writable;
  /** Bytes the stream has accepted so far. */
  bytesWritten(): number;
  /** When given, nothing is published unless exactly this many bytes were written. */
  readonly expectedBytes?: number | undefined;
  /** Aborting it aborts the writer. */
  readonly signal?: AbortSignal | undefined;
  /** Makes the written bytes the object, without overwriting one; `signal` aborts when the writer is aborted meanwhile. */
  publish(signal: AbortSignal): Promise<ObjectInfo>;
  /** Removes every trace of the writer, a published object included. */
  discard(): Promise<void>;
}

type WriterState = 'open' | 'committing' | 'committed' | 'failed' | 'aborted';

/** Resolves on 'close'; a stream not yet destroyed is destroyed, so that it closes (a finished one loses nothing). */
function closed(stream: Writable): Promise<void> {
  if (stream.closed) return Promise.resolve();
  return new Promise((resolve) => {
    stream.once('close', resolve);
    if (!stream.destroyed) stream.destroy();
  });
}

export function createSinkWriter(options: SinkWriterOptions): SinkWriter {
  const { plugin, object, stream, expectedBytes, signal } = options;
  const what = `write of ${object}`;
  let state: WriterState = 'open';
  /** Why the writer is failed or aborted: what commit() rejects with. */
  let failure: ShmsnapError | undefined;
  /** Set by abort() while committing: the commit must not succeed after it. */
  let abortedDuringCommit: ShmsnapError | undefined;
  let committing: Promise<ObjectInfo> | undefined;
  let discarding: Promise<void> | undefined;
  const cancelPublish = new AbortController();

  const coded = (error: unknown, stage: PluginStage): ShmsnapError => withPluginContext(error, plugin, stage, object);
  const asAbort = (reason: unknown): ShmsnapError => (isShmsnapError(reason, 'ABORTED') ? reason : errAborted(what, reason));

  /** What is wrong with the stream, or undefined once it finished cleanly. */
  function streamFailure(): ShmsnapError | undefined {
    const error = stream.errored;
    if (error) return isShmsnapError(error) ? error : errAborted(what, error);
    if (stream.writableFinished) return undefined;
    if (stream.destroyed) return errAborted(what);
    return errInternal(`commit() of ${object} came before its stream ended: end() it first`);
  }

  function discard(): Promise<void> {
    discarding ??= (async () => {
      try {
        await closed(stream);
        await options.discard();
      } catch (error) {
        throw coded(error, 'abort');
      } finally {
        signal?.removeEventListener('abort', onSignal);
      }
    })();
    return discarding;
  }

  async function run(): Promise<ObjectInfo> {
    if (state === 'aborted' || state === 'failed') throw failure ?? errAborted(what);
    state = 'committing';
    try {
      if (stream.writableEnded && !stream.destroyed) await finished(stream).catch(() => undefined);
      const broken = streamFailure();
      if (broken) throw broken;
      await closed(stream);
      if (abortedDuringCommit) throw abortedDuringCommit;
      const written = options.bytesWritten();
      if (expectedBytes !== undefined && written !== expectedBytes) throw errSizeMismatch(object, expectedBytes, written);
      let info: ObjectInfo;
      try {
        info = await options.publish(cancelPublish.signal);
      } catch (error) {
        throw coded(error, 'commit');
      }
      // Checked in the same turn as the state change: an abort() that came first always wins.
      if (abortedDuringCommit) throw abortedDuringCommit;
      state = 'committed';
      signal?.removeEventListener('abort', onSignal);
      return info;
    } catch (error) {
      failure = abortedDuringCommit ?? (isShmsnapError(error) ? error : coded(error, 'commit'));
      state = abortedDuringCommit ? 'aborted' : 'failed';
      const cleaned = await discard().then(
        () => undefined,
        (discardError: unknown) => discardError,
      );
      throw cleaned === undefined ? failure : failure.withDetails({ discardError: cleaned });
    }
  }

  async function abort(reason?: unknown): Promise<void> {
    if (state === 'committed') return;
    const aborted = asAbort(reason);
    if (state === 'open') {
      state = 'aborted';
      failure = aborted;
      // With the error, so a pipeline still writing into the stream fails with ABORTED rather than a premature close.
      stream.destroy(aborted);
    } else if (state === 'committing') {
      abortedDuringCommit ??= aborted;
      cancelPublish.abort(aborted);
      // The commit sees the abort, fails and discards; its own rejection is its caller's.
      await committing?.catch(() => undefined);
    }
    await discard();
  }

  function onSignal(): void {
    if (signal) abort(abortReason(signal, what)).catch(() => undefined);
  }

  // Reported again by commit(); a caller writing without pipeline() must not crash on it.
  stream.on('error', () => undefined);
  stream.once('close', () => {
    if (state !== 'open' || stream.writableFinished) return;
    // Closed before it finished: the object can never be whole, and nobody may call abort().
    state = 'failed';
    failure = streamFailure() ?? errAborted(what);
    discard().catch(() => undefined);
  });
  signal?.addEventListener('abort', onSignal, { once: true });
  if (signal?.aborted) onSignal();

  return {
    stream,
    commit() {
      committing ??= run();
      return committing;
    },
    abort,
  };
}
