/**
 * What an S3 sink can be told, and the checked, defaulted form the sink uses.
 * Every refusal is CONFIG_INVALID naming the option, before any request.
 */
import type { S3Client, StorageClass } from '@aws-sdk/client-s3';
import { errConfigInvalid, type RetryPolicy, type ShmsnapError } from '@shmsnap/core/plugin-kit';

export const MiB = 1024 * 1024;
/** S3's limits: object size, part size, part count, smallest part but the last. */
export const S3_MAX_OBJECT_BYTES = 5 * 1024 * 1024 * MiB;
export const S3_MAX_PART_BYTES = 5 * 1024 * MiB;
export const S3_MAX_PARTS = 10_000;
export const S3_MIN_PART_BYTES = 5 * MiB;
/**
 * With the default upload concurrency (4) a writer holds about 5 parts, and
 * the sink allows 4 writers at once (S3_MAX_WRITERS): 160 MiB in all, so a
 * backup stays under its memory budget whatever --threads is.
 */
export const DEFAULT_PART_BYTES = 8 * MiB;
/** Writers (objects in flight) the sink declares it takes at once; the pipeline never opens more. */
export const S3_MAX_WRITERS = 4;

/** What a writer reports as it goes: for progress, logs and tests. */
export type S3SinkEvent =
  | {
      readonly type: 'part-started';
      readonly key: string;
      readonly partNumber: number;
      readonly bytes: number;
      /** Parts being uploaded, this one included. */
      readonly inFlight: number;
      /** Part memory the writer holds now: parts in flight, the one being filled, and memory kept for reuse. */
      readonly bufferedBytes: number;
    }
  | {
      /** The store accepted the object (an abort() that still wins over the commit then removes it). */
      readonly type: 'upload-completed';
      readonly key: string;
      readonly bytes: number;
      /** 0 for a single PutObject. */
      readonly parts: number;
      /** The most part memory the writer held at once: at most (uploadConcurrency + 1) parts. */
      readonly peakBufferedBytes: number;
    }
  | {
      readonly type: 'upload-aborted';
      readonly key: string;
      readonly uploadId: string;
      /** Set when AbortMultipartUpload failed (some stores answer 405); the parts then wait for a lifecycle rule. */
      readonly error?: ShmsnapError;
    };

export interface S3SinkOptions {
  /** AWS region. @default AWS_REGION, else AWS_DEFAULT_REGION, else 'us-east-1' */
  readonly region?: string;
  /** Endpoint of an S3-compatible store (`http://127.0.0.1:9000`). @default AWS_ENDPOINT_URL_S3, else AWS's own */
  readonly endpoint?: string;
  /** Bucket in the path rather than the host name, which most S3-compatible stores need. @default true when an endpoint is set */
  readonly forcePathStyle?: boolean;
  /** Profile of the shared AWS config files to take credentials from. @default AWS_PROFILE, else 'default' */
  readonly profile?: string;
  /** Storage class of new objects (`STANDARD_IA`, `GLACIER_IR`...). @default the bucket's default */
  readonly storageClass?: StorageClass;
  /** Server-side encryption of new objects. @default the bucket's default */
  readonly serverSideEncryption?: 'AES256' | 'aws:kms';
  /** KMS key for `serverSideEncryption: 'aws:kms'`. @default the account's AWS-managed key */
  readonly sseKmsKeyId?: string;
  /** Bytes per uploaded part (at least 5 MiB; rounded up to a MiB); larger when the object needs it. @default 8 MiB */
  readonly partSizeBytes?: number;
  /** Most parts one object may have; lower it for stores that allow fewer than S3. @default 10_000 */
  readonly maxParts?: number;
  /** Parts uploaded at once per object; memory is about (this + 1) × part size per writer. @default 4 */
  readonly uploadConcurrency?: number;
  /**
   * `when-required` sends checksums only where S3 demands them: the AWS
   * SDK's default (`when-supported`) breaks many S3-compatible stores, and
   * shmsnap checks its own CRC-32 end to end. @default 'when-required'
   */
  readonly checksumMode?: 'when-required' | 'when-supported';
  /** How the writer retries its requests (parts, commit). @default core's RetryPolicy defaults */
  readonly retry?: RetryPolicy;
  /** A client to use instead of one built from these options (tests); the caller then owns its settings and its lifetime. */
  readonly client?: S3Client;
  /** Called as writers make progress. */
  readonly onEvent?: (event: S3SinkEvent) => void;
}

export interface ResolvedS3SinkOptions {
  readonly region: string;
  readonly regionGiven: boolean;
  readonly endpoint: string | undefined;
  readonly forcePathStyle: boolean;
  readonly profile: string | undefined;
  readonly storageClass: StorageClass | undefined;
  readonly serverSideEncryption: 'AES256' | 'aws:kms' | undefined;
  readonly sseKmsKeyId: string | undefined;
  readonly partSizeBytes: number;
  readonly maxParts: number;
  readonly uploadConcurrency: number;
  readonly checksumMode: 'when-required' | 'when-supported';
  readonly retry: RetryPolicy;
  readonly client: S3Client | undefined;
  readonly onEvent: (event: S3SinkEvent) => void;
}

/** What every new object is stored with (PutObject, CreateMultipartUpload): storage class and encryption, where given. */
export function objectSettings(options: ResolvedS3SinkOptions): { StorageClass?: StorageClass; ServerSideEncryption?: 'AES256' | 'aws:kms'; SSEKMSKeyId?: string } {
  const { storageClass, serverSideEncryption, sseKmsKeyId } = options;
  return {
    ...(storageClass === undefined ? {} : { StorageClass: storageClass }),
    ...(serverSideEncryption === undefined ? {} : { ServerSideEncryption: serverSideEncryption }),
    ...(sseKmsKeyId === undefined ? {} : { SSEKMSKeyId: sseKmsKeyId }),
  };
}

/** The checksum the store verifies on upload: only in `when-supported` mode (see `checksumMode`). */
export function uploadChecksum(options: ResolvedS3SinkOptions): { ChecksumAlgorithm?: 'CRC32' } {
  return options.checksumMode === 'when-supported' ? { ChecksumAlgorithm: 'CRC32' } : {};
}

function integerIn(option: string, value: number, min: number, max: number): number {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw errConfigInvalid(option, `must be an integer from ${min} to ${max}, got ${String(value)}`);
  }
  return value;
}

export function roundUpToMiB(bytes: number): number {
  return Math.ceil(bytes / MiB) * MiB;
}

export function resolveS3SinkOptions(options: S3SinkOptions = {}, env: NodeJS.ProcessEnv = process.env): ResolvedS3SinkOptions {
  const endpoint = options.endpoint ?? (env['AWS_ENDPOINT_URL_S3'] || undefined);
  if (endpoint !== undefined && !/^https?:\/\/[^/\s]+/i.test(endpoint)) {
    throw errConfigInvalid('endpoint', `must be an http:// or https:// URL, got ${JSON.stringify(endpoint.replace(/\/\/[^@/]*@/, '//'))}`);
  }
  const envRegion = env['AWS_REGION'] || env['AWS_DEFAULT_REGION'] || undefined;
  const region = options.region ?? envRegion ?? 'us-east-1';
  if (!/^[a-z0-9-]+$/i.test(region)) throw errConfigInvalid('region', `${JSON.stringify(region)} is not a region name`);

  const sse = options.serverSideEncryption;
  if (sse !== undefined && sse !== 'AES256' && sse !== 'aws:kms') {
    throw errConfigInvalid('serverSideEncryption', `must be 'AES256' or 'aws:kms', got ${JSON.stringify(sse)}`);
  }
  if (options.sseKmsKeyId !== undefined && sse !== 'aws:kms') {
    throw errConfigInvalid('sseKmsKeyId', "only applies with serverSideEncryption: 'aws:kms'");
  }
  const checksumMode = options.checksumMode ?? 'when-required';
  if (checksumMode !== 'when-required' && checksumMode !== 'when-supported') {
    throw errConfigInvalid('checksumMode', `must be 'when-required' or 'when-supported', got ${JSON.stringify(checksumMode)}`);
  }
  const partSizeBytes = roundUpToMiB(integerIn('partSizeBytes', options.partSizeBytes ?? DEFAULT_PART_BYTES, S3_MIN_PART_BYTES, S3_MAX_PART_BYTES));
  return {
    region,
    regionGiven: options.region !== undefined || envRegion !== undefined,
    endpoint,
    forcePathStyle: options.forcePathStyle ?? endpoint !== undefined,
    profile: options.profile,
    storageClass: options.storageClass,
    serverSideEncryption: sse,
    sseKmsKeyId: options.sseKmsKeyId,
    partSizeBytes,
    maxParts: integerIn('maxParts', options.maxParts ?? S3_MAX_PARTS, 1, S3_MAX_PARTS),
    uploadConcurrency: integerIn('uploadConcurrency', options.uploadConcurrency ?? 4, 1, 64),
    checksumMode,
    retry: options.retry ?? {},
    client: options.client,
    onEvent: options.onEvent ?? (() => undefined),
  };
}
