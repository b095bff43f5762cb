/**
 * An Azure writer that commits or vanishes on Azure's own terms:
 *
 * - the bytes go out as staged blocks (`block-stream.ts`), which Azure keeps
 *   uncommitted: invisible to listings, lookups and reads;
 * - `publish` is ONE Put Block List naming exactly this writer's blocks with
 *   `If-None-Match: *`, so it creates the blob or fails with 409
 *   BlobAlreadyExists (OBJECT_EXISTS) leaving the existing blob untouched;
 *   an empty object is an empty block list, the same way;
 * - `discard` commits nothing. Uncommitted blocks cannot be deleted one by
 *   one: Azure drops them when another block list is committed for that
 *   name, or after a week without one. If a publish had already made the
 *   blob visible (an abort that won over the commit), it is deleted, but
 *   only if it is still ours (`If-Match` on the ETag we created).
 *
 * A commit whose answer is lost is retried; if the retry then finds the blob
 * existing, the committed block list tells whether it is ours (the IDs carry
 * this writer's nonce): ours is success, anything else is OBJECT_EXISTS.
 */
import { retryOperation, createSinkWriter, isShmsnapError, type RetryPolicy, type SinkWriter, type WriterOptions } from '@shmsnap/core/plugin-kit';
import type { BlockBlobClient } from '@azure/storage-blob';
import { mapAzureError, type AzureStep } from './azure-errors.js';
import type { BlockSlots } from './block-slots.js';
import { BlockStream } from './block-stream.js';
import { AZURE_MAX_BLOCKS } from './azure-options.js';
import { REQUEST_DEADLINE_MS, withDeadline } from './deadline.js';

/** A block's deadline: the base one plus a second per MiB (a link of 1 MiB/s still gets any block through). */
const blockDeadlineMs = (bytes: number): number => REQUEST_DEADLINE_MS + Math.ceil(bytes / (1024 * 1024)) * 1000;

export interface AzureWriterContext {
  readonly blob: BlockBlobClient;
  /** The object's name below the location. */
  readonly name: string;
  readonly blockBytes: number;
  readonly slots: BlockSlots;
  readonly retry: RetryPolicy;
  /** For error mapping: location, container, where, secrets. */
  readonly step: Omit<AzureStep, 'step' | 'signal'>;
}

export function createAzureWriter(ctx: AzureWriterContext, writerOptions: WriterOptions): SinkWriter {
  const { blob, retry, step } = ctx;
  const { expectedBytes, signal } = writerOptions;
  const at = (what: string, stepSignal?: AbortSignal): AzureStep => ({ ...step, step: what, signal: stepSignal });

  const stream = new BlockStream({
    blockBytes: ctx.blockBytes,
    maxBlocks: AZURE_MAX_BLOCKS,
    slots: ctx.slots,
    expectedBytes,
    object: step.where,
    location: step.location,
    stage: (index, blockId, body, blockSignal) =>
      retryOperation(
        async () => {
          try {
            // The SDK's own download/upload retries are off (azure-client.ts): one policy, here.
            await withDeadline(blockSignal, blockDeadlineMs(body.length), (abortSignal) => blob.stageBlock(blockId, body, body.length, { abortSignal }));
          } catch (error) {
            throw mapAzureError(error, at(`put block ${index + 1}`, blockSignal));
          }
        },
        retry,
        { what: `azblob put block ${index + 1} of ${step.where}`, signal: blockSignal },
      ),
  });

  /** The ETag of the blob we created, once a Put Block List succeeded; 'unknown' when one may have. */
  let created: string | 'unknown' | undefined;

  async function committedIsOurs(blockIds: readonly string[], listSignal?: AbortSignal): Promise<string | undefined> {
    try {
      const answer = await withDeadline(listSignal, REQUEST_DEADLINE_MS, (abortSignal) => blob.getBlockList('committed', { abortSignal }));
      const committed = (answer.committedBlocks ?? []).map((b) => b.name);
      const same = committed.length === blockIds.length && committed.every((id, i) => id === blockIds[i]);
      // An empty list cannot be told from another writer's empty object: only a non-empty one proves it ours.
      return same && blockIds.length > 0 ? (answer.etag ?? 'unknown') : undefined;
    } catch (error) {
      throw mapAzureError(error, at('get block list', listSignal));
    }
  }

  return createSinkWriter({
    plugin: 'azblob',
    object: step.where,
    stream,
    bytesWritten: () => stream.bytes,
    expectedBytes,
    signal,
    async publish(publishSignal) {
      const blockIds = stream.blockIds;
      await retryOperation(
        async (attempt) => {
          // Until an answer says otherwise, an attempt may have committed (its answer lost on the way back).
          created ??= 'unknown';
          try {
            const answer = await withDeadline(publishSignal, REQUEST_DEADLINE_MS, (abortSignal) => blob.commitBlockList([...blockIds], { conditions: { ifNoneMatch: '*' }, abortSignal }));
            created = answer.etag ?? 'unknown';
          } catch (error) {
            const mapped = mapAzureError(error, at('put block list', publishSignal));
            const answered = mapped.details['httpStatus'] !== undefined;
            if (attempt > 1 && isShmsnapError(mapped, 'OBJECT_EXISTS')) {
              const ours = await committedIsOurs(blockIds, publishSignal);
              if (ours !== undefined) {
                created = ours;
                return;
              }
              created = undefined;
            } else if (attempt === 1 && answered) {
              // The service refused the only attempt: nothing of ours was committed.
              created = undefined;
            }
            throw mapped;
          }
        },
        retry,
        { what: `azblob put block list of ${step.where}`, signal: publishSignal },
      );
      return { name: ctx.name, size: stream.bytes };
    },
    async discard() {
      if (created === undefined) return;
      const etag = created;
      try {
        if (etag === 'unknown') {
          const ours = await committedIsOurs(stream.blockIds);
          if (ours === undefined) return;
          await withDeadline(undefined, REQUEST_DEADLINE_MS, (abortSignal) => blob.delete({ conditions: { ifMatch: ours }, abortSignal }));
        } else {
          await withDeadline(undefined, REQUEST_DEADLINE_MS, (abortSignal) => blob.delete({ conditions: { ifMatch: etag }, abortSignal }));
        }
      } catch (error) {
        const mapped = mapAzureError(error, at('delete'));
        // Gone already, or no longer ours (412 reads as OBJECT_EXISTS here): nothing of ours to remove.
        if (isShmsnapError(mapped, 'OBJECT_NOT_FOUND') || isShmsnapError(mapped, 'OBJECT_EXISTS')) return;
        throw mapped;
      }
    },
  });
}
