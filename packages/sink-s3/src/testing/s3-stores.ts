/**
 * The S3 stores a test run covers, chosen by the environment, so the same
 * tests run against s3rver, Ceph RGW, or any S3-compatible store a user
 * points them at (MinIO, AWS itself) without code changes:
 *
 * - `SHMSNAP_TEST_S3=s3rver|rgw|both` (default `both`);
 * - `SHMSNAP_TEST_S3_ENDPOINT` (+ `SHMSNAP_TEST_S3_ACCESS_KEY`,
 *   `SHMSNAP_TEST_S3_SECRET`, `SHMSNAP_TEST_S3_BUCKET`, optional
 *   `SHMSNAP_TEST_S3_REGION`) replaces them all with that one store; its
 *   bucket must exist, and the tests write below prefixes of their own and
 *   remove what they wrote;
 * - `SHMSNAP_TEST_RGW_STATE`: the file where the test runner's one RGW
 *   (`rgw-serve.ts`) says where it listens, or why it could not start. Without
 *   it, a test file starts its own cluster.
 *
 * A store that cannot run here is returned as skipped, with the reason, for
 * the tests to print.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { startRgw, RgwUnavailable } from './rgw.js';
import { startS3Server, type S3TestServer } from './s3-server.js';

export type S3StoreKind = 's3rver' | 'rgw' | 'endpoint';

export interface S3TestStore {
  readonly kind: S3StoreKind;
  /** `http://127.0.0.1:<port>` or the given endpoint. */
  readonly endpoint: string;
  /** A bucket that exists. */
  readonly bucket: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly region: string;
  /** s3rver in this process, for tests that stop and restart the server; undefined for the others. */
  readonly s3rver?: S3TestServer;
  /** Sets the AWS_* variables the sink's default credential chain reads to this store's keys. */
  useCredentials(): void;
  /** The AWS_* variables for a CLI run against this store. */
  readonly env: { readonly AWS_ACCESS_KEY_ID: string; readonly AWS_SECRET_ACCESS_KEY: string; readonly AWS_REGION: string };
  /** Writes `body` at `key` straight through the SDK, past the sink: another writer, for tests of what guards a backup. */
  rawPut(key: string, body: Buffer): Promise<void>;
  /** The bytes at `key`, straight through the SDK, past the sink (a test that alters an object in place). */
  rawGet(key: string): Promise<Buffer>;
  /** The keys below `prefix` with their sizes, straight from ListObjectsV2 (one page: up to 1,000). */
  rawList(prefix: string): Promise<{ key: string; size: number }[]>;
  /** What a killed writer leaves: a multipart upload begun at `key` with one part, never completed; resolves to its id. */
  rawStartUpload(key: string): Promise<string>;
  /** The keys of the multipart uploads in progress below `prefix`; undefined where the store cannot list them (s3rver). */
  rawListUploads(prefix: string): Promise<string[] | undefined>;
  /** Stops what was started for this file (s3rver, an own RGW); a shared RGW or a given endpoint stays. */
  stop(): Promise<void>;
}

export interface SkippedS3Store {
  readonly kind: S3StoreKind;
  readonly reason: string;
}

/** What the runner's RGW wrote to SHMSNAP_TEST_RGW_STATE. */
export type RgwState = { readonly endpoint: string; readonly accessKeyId: string; readonly secretAccessKey: string; readonly buckets: readonly string[] } | { readonly unavailable: string };

export interface S3StoreOptions {
  /** The bucket the tests use; s3rver and RGW create it. @default 'test' */
  readonly bucket?: string;
}

function store(kind: S3StoreKind, fields: Omit<S3TestStore, 'kind' | 'useCredentials' | 'env' | 'stop' | 'rawPut' | 'rawGet' | 'rawList' | 'rawStartUpload' | 'rawListUploads'>, stop: () => Promise<void> = async () => {}): S3TestStore {
  const env = { AWS_ACCESS_KEY_ID: fields.accessKeyId, AWS_SECRET_ACCESS_KEY: fields.secretAccessKey, AWS_REGION: fields.region };
  return {
    kind,
    ...fields,
    env,
    useCredentials() {
      Object.assign(process.env, env);
      delete process.env['AWS_SESSION_TOKEN'];
    },
    async rawPut(key, body) {
      const { PutObjectCommand } = await import('@aws-sdk/client-s3');
      await withClient(fields, (client) => client.send(new PutObjectCommand({ Bucket: fields.bucket, Key: key, Body: body, ContentLength: body.length })));
    },
    async rawGet(key) {
      const { GetObjectCommand } = await import('@aws-sdk/client-s3');
      // Read inside: the client goes when the callback ends, and its body with it.
      return withClient(fields, async (client) => Buffer.from(await (await client.send(new GetObjectCommand({ Bucket: fields.bucket, Key: key }))).Body!.transformToByteArray()));
    },
    async rawList(prefix) {
      const { ListObjectsV2Command } = await import('@aws-sdk/client-s3');
      const page = await withClient(fields, (client) => client.send(new ListObjectsV2Command({ Bucket: fields.bucket, Prefix: prefix })));
      return (page.Contents ?? []).map((o) => ({ key: o.Key ?? '', size: o.Size ?? 0 })).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    },
    async rawStartUpload(key) {
      const { CreateMultipartUploadCommand, UploadPartCommand } = await import('@aws-sdk/client-s3');
      return withClient(fields, async (client) => {
        const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: fields.bucket, Key: key }));
        const body = Buffer.alloc(1024, 1);
        await client.send(new UploadPartCommand({ Bucket: fields.bucket, Key: key, UploadId, PartNumber: 1, Body: body, ContentLength: body.length }));
        return UploadId!;
      });
    },
    async rawListUploads(prefix) {
      const { ListMultipartUploadsCommand } = await import('@aws-sdk/client-s3');
      return withClient(fields, async (client) => {
        try {
          const page = await client.send(new ListMultipartUploadsCommand({ Bucket: fields.bucket, Prefix: prefix }));
          return (page.Uploads ?? []).map((u) => u.Key ?? '').sort();
        } catch (error) {
          if ((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 501) return undefined;
          throw error;
        }
      });
    },
    stop,
  };
}

async function withClient<T>(at: { endpoint: string; region: string; accessKeyId: string; secretAccessKey: string }, use: (client: import('@aws-sdk/client-s3').S3Client) => Promise<T>): Promise<T> {
  const { S3Client } = await import('@aws-sdk/client-s3');
  const client = new S3Client({ endpoint: at.endpoint, forcePathStyle: true, region: at.region, credentials: { accessKeyId: at.accessKeyId, secretAccessKey: at.secretAccessKey } });
  try {
    return await use(client);
  } finally {
    client.destroy();
  }
}

/** The kinds SHMSNAP_TEST_S3 selects. */
export function selectedS3Kinds(): S3StoreKind[] {
  if (process.env['SHMSNAP_TEST_S3_ENDPOINT']) return ['endpoint'];
  const choice = process.env['SHMSNAP_TEST_S3'] || 'both';
  if (choice === 'both') return ['s3rver', 'rgw'];
  if (choice === 's3rver' || choice === 'rgw') return [choice];
  throw new Error(`SHMSNAP_TEST_S3 must be s3rver, rgw or both, not '${choice}'`);
}

/** Waits for the runner's RGW to be up (or to have failed): its state file appears once it knows. */
export async function readRgwState(file: string, timeoutMs = 300_000): Promise<RgwState> {
  for (const deadline = Date.now() + timeoutMs; !existsSync(file); ) {
    if (Date.now() > deadline) return { unavailable: `the test runner's RGW did not come up within ${timeoutMs / 1000} s` };
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return JSON.parse(await readFile(file, 'utf8')) as RgwState;
}

/** A bucket of this file's own on the shared RGW (already ours is fine: another file may have made it). */
async function createBucket(at: { endpoint: string; accessKeyId: string; secretAccessKey: string }, bucket: string): Promise<void> {
  const { S3Client, CreateBucketCommand } = await import('@aws-sdk/client-s3');
  const client = new S3Client({ endpoint: at.endpoint, forcePathStyle: true, region: 'us-east-1', credentials: { accessKeyId: at.accessKeyId, secretAccessKey: at.secretAccessKey } });
  try {
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
  } catch (error) {
    if ((error as { name?: string }).name !== 'BucketAlreadyOwnedByYou') throw error;
  } finally {
    client.destroy();
  }
}

async function rgwStore(bucket: string): Promise<S3TestStore | SkippedS3Store> {
  const stateFile = process.env['SHMSNAP_TEST_RGW_STATE'];
  if (stateFile) {
    const state = await readRgwState(stateFile);
    if ('unavailable' in state) return { kind: 'rgw', reason: state.unavailable };
    if (!state.buckets.includes(bucket)) await createBucket(state, bucket);
    return store('rgw', { endpoint: state.endpoint, bucket, accessKeyId: state.accessKeyId, secretAccessKey: state.secretAccessKey, region: 'us-east-1' });
  }
  try {
    const rgw = await startRgw({ buckets: [bucket], log: (line) => console.log(`rgw: ${line}`) });
    return store('rgw', { endpoint: rgw.endpoint, bucket, accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey, region: 'us-east-1' }, () => rgw.stop());
  } catch (error) {
    if (error instanceof RgwUnavailable) return { kind: 'rgw', reason: error.message };
    throw error;
  }
}

/**
 * Brings up (or finds) the selected stores for one test file. Call `stop()`
 * on each in the file's `after`.
 */
export async function startS3TestStores(options: S3StoreOptions = {}): Promise<{ stores: S3TestStore[]; skipped: SkippedS3Store[] }> {
  const stores: S3TestStore[] = [];
  const skipped: SkippedS3Store[] = [];
  for (const kind of selectedS3Kinds()) {
    if (kind === 'endpoint') {
      const env = process.env;
      const [accessKeyId, secretAccessKey, bucket] = [env['SHMSNAP_TEST_S3_ACCESS_KEY'], env['SHMSNAP_TEST_S3_SECRET'], env['SHMSNAP_TEST_S3_BUCKET']];
      if (!accessKeyId || !secretAccessKey || !bucket) throw new Error('SHMSNAP_TEST_S3_ENDPOINT needs SHMSNAP_TEST_S3_ACCESS_KEY, SHMSNAP_TEST_S3_SECRET and SHMSNAP_TEST_S3_BUCKET');
      stores.push(store('endpoint', { endpoint: env['SHMSNAP_TEST_S3_ENDPOINT']!, bucket, accessKeyId, secretAccessKey, region: env['SHMSNAP_TEST_S3_REGION'] || 'us-east-1' }));
    } else if (kind === 's3rver') {
      const bucket = options.bucket ?? 'test';
      const server = await startS3Server({ buckets: [bucket] });
      // s3rver checks no signatures: any secret works with access key S3RVER.
      stores.push(store('s3rver', { endpoint: server.endpoint, bucket, accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER', region: 'us-east-1', s3rver: server }, () => server.stop()));
    } else {
      const found = await rgwStore(options.bucket ?? 'test');
      if ('reason' in found) skipped.push(found);
      else stores.push(found);
    }
  }
  for (const skip of skipped) console.log(`# skipping the S3 tests on ${skip.kind}: ${skip.reason}`);
  return { stores, skipped };
}
