/**
 * A sink in an S3 bucket (or any S3-compatible store) below a key prefix:
 * `s3://bucket/prefix`, object `name` at key `prefix/name`.
 *
 * Writes are streaming multipart uploads that commit or vanish (see
 * `s3-writer.ts`); reads stream GetObject bodies, ranged when asked. This
 * sink does not retry reads, listings or removals itself: compose it with
 * core's `withRetry(sink, policy)`, which also resumes a download that
 * drops mid-way (`provider.ts` composes the two). Its writer retries its own
 * requests, since a write stream cannot be replayed from outside.
 */
import { Readable } from 'node:stream';
import { AbortMultipartUploadCommand, DeleteObjectCommand, GetObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import {
  assertObjectName,
  assertObjectPath,
  errAborted,
  errConfigInvalid,
  errObjectExists,
  errObjectNotFound,
  errRemoteFailed,
  isObjectName,
  isShmsnapError,
  retryOperation,
  type ListOptions,
  type ObjectInfo,
  type ReaderOptions,
  type Sink,
  type SweepEntry,
  type WriterOptions,
} from '@shmsnap/core/plugin-kit';
import { bodyStream } from './body-stream.js';
import { planParts } from './part-plan.js';
import { callS3, createS3Client, headObject, readCaBundle } from './s3-client.js';
import { isNotImplemented, mapS3Error } from './s3-errors.js';
import { formatS3Location, keyOf, parseS3Location } from './s3-location.js';
import { resolveS3SinkOptions, S3_MAX_OBJECT_BYTES, type S3SinkOptions, S3_MAX_WRITERS } from './s3-options.js';
import { loadS3Profile } from './s3-profile.js';
import { createS3Writer } from './s3-writer.js';
import { createUploadSlots } from './upload-slots.js';

const byName = (a: ObjectInfo, b: ObjectInfo): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

function checkByteCount(option: string, value: number | undefined): void {
  if (value !== undefined && (!Number.isSafeInteger(value) || value < 0)) {
    throw errConfigInvalid(option, `must be a whole number of bytes, got ${String(value)}`);
  }
}

/**
 * Reads the shared AWS files for the profile's settings (none when a client
 * is given: it owns its settings) and the CA bundle, before any request.
 */
export async function createS3Sink(location: string, options: S3SinkOptions = {}): Promise<Sink> {
  const parsed = parseS3Location(location);
  const profile = options.client === undefined ? await loadS3Profile(options.profile) : undefined;
  const resolved = resolveS3SinkOptions(options, process.env, profile);
  const ca = resolved.client === undefined && resolved.caBundle !== undefined ? await readCaBundle(resolved.caBundle) : undefined;
  const client = resolved.client ?? createS3Client(resolved, ca);
  const ownsClient = resolved.client === undefined;
  const printable = formatS3Location(parsed);
  const { bucket } = parsed;
  const conditionalWrites = { supported: true };
  const uploadSlots = createUploadSlots(resolved.uploadConcurrency);
  const listBase = parsed.prefix === '' ? '' : `${parsed.prefix}/`;

  async function head(name: string, signal: AbortSignal | undefined): Promise<ObjectInfo | undefined> {
    const answer = await headObject({ client, bucket, key: keyOf(parsed, name) }, 'stat', signal);
    if (answer === undefined) return undefined;
    return { name, size: answer.ContentLength ?? 0, ...(answer.LastModified ? { modified: answer.LastModified } : {}) };
  }

  const emptyStream = (): Readable => Readable.from([], { objectMode: false });

  return {
    name: 's3',
    location: printable,
    capabilities: {
      rangedReads: true,
      maxConcurrency: S3_MAX_WRITERS,
      maxObjectSize: S3_MAX_OBJECT_BYTES,
      posixAttributes: false,
    },

    async openWriter(name: string, writerOptions: WriterOptions = {}) {
      assertObjectName(name);
      const key = keyOf(parsed, name);
      const where = `s3://${bucket}/${key}`;
      const { signal, expectedBytes, sizeHint } = writerOptions;
      checkByteCount('expectedBytes', expectedBytes);
      checkByteCount('sizeHint', sizeHint);
      if (signal?.aborted) throw errAborted(`write of ${where}`, signal.reason);
      const plan = planParts({
        partSizeBytes: resolved.partSizeBytes,
        maxParts: resolved.maxParts,
        object: where,
        ...(expectedBytes === undefined ? {} : { expectedBytes }),
        ...(sizeHint === undefined ? {} : { sizeHint }),
      });
      const existing = await retryOperation(() => head(name, signal), resolved.retry, { what: `s3 check for an existing ${where}`, ...(signal ? { signal } : {}) });
      if (existing) throw errObjectExists(name, printable);
      return createS3Writer({ client, bucket, key, name, location: printable, options: resolved, plan, conditionalWrites, uploadSlots }, writerOptions);
    },

    async openReader(name: string, readerOptions: ReaderOptions = {}) {
      assertObjectPath(name);
      const key = keyOf(parsed, name);
      const where = `s3://${bucket}/${key}`;
      const { range, signal } = readerOptions;
      if (signal?.aborted) throw errAborted(`read of ${where}`, signal.reason);
      if (range && (!Number.isSafeInteger(range.start) || !Number.isSafeInteger(range.end) || range.start < 0)) {
        throw errConfigInvalid('range', `must be whole byte offsets from 0, got ${range.start}..${range.end}`);
      }
      if (range && range.end <= range.start) {
        // No bytes to ask for, but a missing object is still missing.
        if (!(await head(name, signal))) throw errObjectNotFound(name, printable);
        return emptyStream();
      }
      let answer;
      try {
        answer = await callS3({ step: 'read', bucket, key, signal }, (abortSignal) =>
          client.send(new GetObjectCommand({ Bucket: bucket, Key: key, ...(range ? { Range: `bytes=${range.start}-${range.end - 1}` } : {}) }), { abortSignal }),
        );
      } catch (error) {
        if (isShmsnapError(error, 'OBJECT_NOT_FOUND')) throw errObjectNotFound(name, printable);
        // A range that starts at or past the end holds no bytes.
        if (isShmsnapError(error) && (error.details['s3Code'] === 'InvalidRange' || error.details['httpStatus'] === 416)) return emptyStream();
        throw error;
      }
      const body = answer.Body as Readable | undefined;
      let skip = 0;
      if (range) {
        // Where the answer really starts: `bytes a-b/total`, or the whole object without it.
        const first = /^bytes (\d+)-/.exec(answer.ContentRange ?? '');
        const answeredFrom = first ? Number(first[1]) : 0;
        if (answeredFrom > range.start) {
          body?.destroy();
          throw errRemoteFailed('s3 read', where, false, new Error(`asked for bytes from ${range.start}, the store answered ${answer.ContentRange}`));
        }
        skip = range.start - answeredFrom;
      }
      return bodyStream(body, {
        expectedBytes: answer.ContentLength,
        skip,
        ...(range ? { limit: range.end - range.start } : {}),
        where,
        mapError: (error) => mapS3Error(error, { step: 'read', bucket, key, ...(signal ? { signal } : {}) }),
      });
    },

    async stat(name: string, statOptions: { readonly signal?: AbortSignal } = {}) {
      assertObjectPath(name);
      return head(name, statOptions.signal);
    },

    async list(prefix = '', listOptions: ListOptions = {}) {
      const depth = listOptions.depth ?? 0;
      const { signal } = listOptions;
      const out: ObjectInfo[] = [];
      let token: string | undefined;
      do {
        const page = await callS3({ step: 'list', bucket, key: parsed.prefix === '' ? undefined : parsed.prefix, signal }, (abortSignal) =>
          client.send(
            new ListObjectsV2Command({
              Bucket: bucket,
              Prefix: listBase + prefix,
              // Depth 0 needs no walk through deeper keys: S3 folds them into common prefixes.
              ...(depth === 0 ? { Delimiter: '/' } : {}),
              ...(token === undefined ? {} : { ContinuationToken: token }),
            }),
            { abortSignal },
          ),
        );
        for (const object of page.Contents ?? []) {
          if (object.Key === undefined || !object.Key.startsWith(listBase)) continue;
          const name = object.Key.slice(listBase.length);
          const parts = name.split('/');
          // Keys other tools left (folder markers, odd names) are not objects of ours.
          if (parts.length - 1 > depth || !parts.every(isObjectName)) continue;
          out.push({ name, size: object.Size ?? 0, ...(object.LastModified ? { modified: object.LastModified } : {}) });
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token !== undefined);
      return out.sort(byName);
    },

    async remove(name: string, removeOptions: { readonly signal?: AbortSignal } = {}) {
      assertObjectName(name);
      const key = keyOf(parsed, name);
      try {
        await callS3({ step: 'remove', bucket, key, signal: removeOptions.signal }, (abortSignal) => client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }), { abortSignal }));
      } catch (error) {
        if (isShmsnapError(error, 'OBJECT_NOT_FOUND')) return;
        throw error;
      }
    },

    /**
     * Multipart uploads begun under this prefix before `olderThan` and never
     * completed (a writer killed mid-upload: its parts are stored and billed
     * until aborted), aborted one by one; `Prefix` is the sink's prefix with
     * its `/`, so a sibling prefix (`nodes2` beside `nodes`) is never touched.
     * S3 has no directories to remove.
     */
    async sweep(sweepOptions) {
      const { signal, olderThan } = sweepOptions;
      const depth = sweepOptions.depth ?? 0;
      const found: { key: string; name: string; uploadId: string; initiated: Date }[] = [];
      let keyMarker: string | undefined;
      let uploadIdMarker: string | undefined;
      do {
        let page;
        try {
          page = await callS3({ step: 'list uploads', bucket, key: parsed.prefix === '' ? undefined : parsed.prefix, signal }, (abortSignal) =>
            client.send(
              new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: listBase, ...(keyMarker === undefined ? {} : { KeyMarker: keyMarker }), ...(uploadIdMarker === undefined ? {} : { UploadIdMarker: uploadIdMarker }) }),
              { abortSignal },
            ),
          );
        } catch (error) {
          // s3rver answers NotImplemented: say so, as the contract asks, rather than fail the prune it serves.
          if (isNotImplemented(error)) return { entries: [], unsupported: `the store does not list multipart uploads (${String((error as { details: Record<string, unknown> }).details['s3Code'] ?? 'HTTP 501')})` };
          throw error;
        }
        for (const upload of page.Uploads ?? []) {
          const { Key: key, UploadId: uploadId, Initiated: initiated } = upload;
          if (key === undefined || uploadId === undefined || initiated === undefined || !key.startsWith(listBase)) continue;
          const name = key.slice(listBase.length);
          const parts = name.split('/');
          if (parts.length - 1 > depth || !parts.every(isObjectName)) continue;
          if (initiated < olderThan) found.push({ key, name, uploadId, initiated });
        }
        const more = page.IsTruncated === true && (page.NextKeyMarker !== undefined || page.NextUploadIdMarker !== undefined);
        keyMarker = more ? page.NextKeyMarker : undefined;
        uploadIdMarker = more ? page.NextUploadIdMarker : undefined;
      } while (keyMarker !== undefined || uploadIdMarker !== undefined);
      const entries: SweepEntry[] = [];
      for (const upload of found) {
        const base = { name: upload.name, kind: 'write' as const, what: `multipart upload ${upload.uploadId} of s3://${bucket}/${upload.key}`, startedAt: upload.initiated };
        if (sweepOptions.dryRun === true) {
          entries.push({ ...base, removed: false });
          continue;
        }
        try {
          await callS3({ step: 'abort upload', bucket, key: upload.key, signal }, (abortSignal) =>
            client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: upload.key, UploadId: upload.uploadId }), { abortSignal }),
          );
          entries.push({ ...base, removed: true });
        } catch (error) {
          if (signal?.aborted) throw error;
          // Gone meanwhile (its writer completed or aborted it): nothing is left to sweep.
          if (isShmsnapError(error) && error.details['s3Code'] === 'NoSuchUpload') continue;
          entries.push({ ...base, removed: false, error: error instanceof Error ? error.message : String(error) });
        }
      }
      return { entries };
    },

    async close() {
      if (ownsClient) client.destroy();
    },
  };
}
