/**
 * A sink in an Azure Blob Storage container below a name prefix:
 * `azblob://account/container/prefix`, object `name` at blob `prefix/name`.
 *
 * Writes stage blocks and publish them with one conditional Put Block List
 * (`azure-writer.ts`); reads stream Get Blob answers, ranged when asked.
 * This sink does not retry reads, listings or removals itself: the provider
 * composes it with core's `withRetry`, which also resumes a download that
 * drops mid-way (ranged reads). Its writer retries its own requests, since a
 * write stream cannot be replayed from outside.
 *
 * No `openRandomReader`: core gives sinks with ranged reads the same direct
 * copy into the segment (`rangedRandomReader`), which is all a positional
 * read over HTTP would be.
 */
import { Readable } from 'node:stream';
import {
  assertObjectName,
  assertObjectPath,
  errAborted,
  errConfigInvalid,
  errObjectExists,
  errObjectNotFound,
  errObjectTooLarge,
  errRemoteFailed,
  isObjectName,
  isShmsnapError,
  retryOperation,
  type ListOptions,
  type ObjectInfo,
  type ReaderOptions,
  type Sink,
  type WriterOptions,
} from '@shmsnap/core/plugin-kit';
import { createContainerClient } from './azure-client.js';
import { mapAzureError, type AzureStep } from './azure-errors.js';
import { blobNameOf, formatAzureLocation, parseAzureLocation } from './azure-location.js';
import { AZURE_MAX_BLOCK_MIB, AZURE_REMOTE_RETRY, AZURE_MAX_BLOCKS, AZURE_MAX_WRITERS, resolveAzureOptions, type AzureSinkOptions } from './azure-options.js';
import { createBlockSlots } from './block-slots.js';
import { createAzureWriter } from './azure-writer.js';
import { REQUEST_DEADLINE_MS, withDeadline } from './deadline.js';

const MiB = 1024 * 1024;
const MAX_BLOCK_BYTES = AZURE_MAX_BLOCK_MIB * MiB;


const byName = (a: ObjectInfo, b: ObjectInfo): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

function checkByteCount(option: string, value: number | undefined): void {
  if (value !== undefined && (!Number.isSafeInteger(value) || value < 0)) throw errConfigInvalid(option, `must be a whole number of bytes, got ${String(value)}`);
}

/**
 * The block size for an object of (at most) `size` bytes: the configured one,
 * or larger when 50,000 of it would not hold the object (Azure's limit),
 * rounded up to whole MiB.
 */
export function blockBytesFor(configured: number, size: number | undefined): number {
  if (size === undefined || size <= configured * AZURE_MAX_BLOCKS) return configured;
  return Math.min(MAX_BLOCK_BYTES, Math.ceil(size / AZURE_MAX_BLOCKS / MiB) * MiB);
}

/** The SDK's answer body as a Readable that fails, retryably, when it ends short (so `withRetry` resumes it). */
function answerStream(body: NodeJS.ReadableStream | undefined, expected: number | undefined, where: string, mapError: (error: unknown) => Error): Readable {
  async function* relay(): AsyncGenerator<Buffer> {
    let got = 0;
    try {
      if (body !== undefined) {
        for await (const chunk of body as AsyncIterable<Buffer>) {
          got += chunk.length;
          yield chunk;
        }
      }
    } catch (error) {
      throw mapError(error);
    } finally {
      (body as Readable | undefined)?.destroy?.();
    }
    if (expected !== undefined && got !== expected) {
      throw errRemoteFailed('azblob read', where, true, new Error(`the answer ended after ${got} of ${expected} bytes`));
    }
  }
  return Readable.from(relay(), { objectMode: false });
}

export async function createAzureSink(location: string, options: AzureSinkOptions = {}): Promise<Sink> {
  const parsed = parseAzureLocation(location);
  const resolved = resolveAzureOptions(parsed, options);
  const retry = options.retry ?? AZURE_REMOTE_RETRY;
  const container = createContainerClient(resolved, parsed.container);
  const printable = formatAzureLocation(parsed);
  const slots = createBlockSlots(resolved.uploadConcurrency);
  const listBase = parsed.prefix === '' ? '' : `${parsed.prefix}/`;
  const stepOf = (step: string, name: string | undefined, signal: AbortSignal | undefined): AzureStep => ({
    step,
    location: printable,
    container: parsed.container,
    ...(name === undefined ? {} : { object: name }),
    where: name === undefined ? printable : `${printable}/${name}`,
    signal,
    secrets: resolved.secrets,
  });
  /** One request under the caller's signal and a deadline (`deadline.ts`); `deadlineMs` 0 for none. */
  async function call<T>(step: string, name: string | undefined, signal: AbortSignal | undefined, fn: (requestSignal: AbortSignal) => Promise<T>, deadlineMs = REQUEST_DEADLINE_MS): Promise<T> {
    if (signal?.aborted) throw errAborted(`azblob ${step} of ${stepOf(step, name, signal).where}`, signal.reason);
    try {
      return deadlineMs === 0 ? await fn(signal ?? new AbortController().signal) : await withDeadline(signal, deadlineMs, fn);
    } catch (error) {
      throw mapAzureError(error, stepOf(step, name, signal));
    }
  }

  async function head(name: string, signal: AbortSignal | undefined): Promise<ObjectInfo | undefined> {
    const blob = container.getBlockBlobClient(blobNameOf(parsed, name));
    try {
      const answer = await call('stat', name, signal, (abortSignal) => blob.getProperties({ abortSignal }));
      return { name, size: answer.contentLength ?? 0, ...(answer.lastModified ? { modified: answer.lastModified } : {}) };
    } catch (error) {
      if (isShmsnapError(error, 'OBJECT_NOT_FOUND')) return undefined;
      throw error;
    }
  }

  return {
    name: 'azblob',
    location: printable,
    capabilities: {
      rangedReads: true,
      maxConcurrency: AZURE_MAX_WRITERS,
      maxObjectSize: AZURE_MAX_BLOCKS * MAX_BLOCK_BYTES,
      posixAttributes: false,
    },

    async openWriter(name: string, writerOptions: WriterOptions = {}) {
      assertObjectName(name);
      const { signal, expectedBytes, sizeHint } = writerOptions;
      checkByteCount('expectedBytes', expectedBytes);
      checkByteCount('sizeHint', sizeHint);
      const where = `${printable}/${name}`;
      if (signal?.aborted) throw errAborted(`write of ${where}`, signal.reason);
      const size = expectedBytes ?? sizeHint;
      if (size !== undefined && size > AZURE_MAX_BLOCKS * MAX_BLOCK_BYTES) throw errObjectTooLarge(name, size, AZURE_MAX_BLOCKS * MAX_BLOCK_BYTES, printable);
      // Refused before any block goes out: the commit would refuse it too (If-None-Match), after the upload.
      const existing = await retryOperation(() => head(name, signal), retry, { what: `azblob check for an existing ${where}`, ...(signal ? { signal } : {}) });
      if (existing) throw errObjectExists(name, printable);
      return createAzureWriter(
        {
          blob: container.getBlockBlobClient(blobNameOf(parsed, name)),
          name,
          blockBytes: blockBytesFor(resolved.blockSizeBytes, size),
          slots,
          retry,
          step: { location: printable, container: parsed.container, object: name, where, secrets: resolved.secrets },
        },
        writerOptions,
      );
    },

    async openReader(name: string, readerOptions: ReaderOptions = {}) {
      assertObjectPath(name);
      const { range, signal } = readerOptions;
      const where = `${printable}/${name}`;
      if (signal?.aborted) throw errAborted(`read of ${where}`, signal.reason);
      if (range && (!Number.isSafeInteger(range.start) || !Number.isSafeInteger(range.end) || range.start < 0)) {
        throw errConfigInvalid('range', `must be whole byte offsets from 0, got ${range.start}..${range.end}`);
      }
      const emptyStream = (): Readable => Readable.from([], { objectMode: false });
      if (range && range.end <= range.start) {
        // No bytes to ask for, but a missing object is still missing.
        if (!(await head(name, signal))) throw errObjectNotFound(name, printable);
        return emptyStream();
      }
      const blob = container.getBlockBlobClient(blobNameOf(parsed, name));
      let answer;
      try {
        // The deadline covers the wait for the answer's headers only: the body streams under the caller's signal.
        answer = await call('read', name, signal, (headersSignal) => {
          const body = new AbortController();
          const forward = (): void => body.abort(signal?.reason);
          signal?.addEventListener('abort', forward, { once: true });
          headersSignal.addEventListener('abort', () => body.abort(headersSignal.reason), { once: true });
          // maxRetryRequests 0: the SDK would otherwise re-request a broken body itself; withRetry resumes it instead.
          return blob.download(range?.start ?? 0, range ? range.end - range.start : undefined, { abortSignal: body.signal, maxRetryRequests: 0 });
        });
      } catch (error) {
        // A range that starts at or past the end holds no bytes (416 InvalidRange).
        if (isShmsnapError(error) && (error.details['azureCode'] === 'InvalidRange' || error.details['httpStatus'] === 416)) return emptyStream();
        throw error;
      }
      return answerStream(answer.readableStreamBody, answer.contentLength, where, (error) => mapAzureError(error, stepOf('read', name, signal)));
    },

    async stat(name: string, statOptions: { readonly signal?: AbortSignal } = {}) {
      assertObjectPath(name);
      return head(name, statOptions.signal);
    },

    async list(prefix = '', listOptions: ListOptions = {}) {
      const depth = listOptions.depth ?? 0;
      const { signal } = listOptions;
      // No deadline for the whole listing (it may be many pages); each page is one request of its own.
      return call('list', undefined, signal, async (listSignal) => {
        const out: ObjectInfo[] = [];
        const settings = { maxPageSize: resolved.listPageSize };
        // Depth 0 needs no walk through deeper names: the service folds them into prefixes.
        const pages =
          depth === 0
            ? container.listBlobsByHierarchy('/', { prefix: listBase + prefix, abortSignal: listSignal }).byPage(settings)
            : container.listBlobsFlat({ prefix: listBase + prefix, abortSignal: listSignal }).byPage(settings);
        // Each page after the first is asked for with the previous page's continuation token (NextMarker).
        for await (const page of pages) {
          for (const blob of page.segment.blobItems) {
            if (!blob.name.startsWith(listBase)) continue;
            const name = blob.name.slice(listBase.length);
            const parts = name.split('/');
            // Blobs other tools left (odd names, deeper levels than asked) are not objects of ours.
            if (parts.length - 1 > depth || !parts.every(isObjectName)) continue;
            const { contentLength, lastModified } = blob.properties;
            out.push({ name, size: contentLength ?? 0, ...(lastModified ? { modified: lastModified } : {}) });
          }
        }
        return out.sort(byName);
      }, 0);
    },

    async remove(name: string, removeOptions: { readonly signal?: AbortSignal } = {}) {
      assertObjectName(name);
      const { signal } = removeOptions;
      const blob = container.getBlockBlobClient(blobNameOf(parsed, name));
      try {
        await call('remove', name, signal, (abortSignal) => blob.delete({ abortSignal }));
      } catch (error) {
        if (isShmsnapError(error, 'OBJECT_NOT_FOUND')) return;
        throw error;
      }
    },

    async checkExists(checkOptions: { readonly signal?: AbortSignal } = {}) {
      const { signal } = checkOptions;
      await call('check', undefined, signal, (abortSignal) => container.getProperties({ abortSignal }));
    },
  };
}
