/**
 * What an S3 sink can be told, and the checked, defaulted form the sink uses.
 * Every refusal is CONFIG_INVALID naming the option, before any request.
 */
import type { S3Client, StorageClass } from '@aws-sdk/client-s3';
import { errConfigInvalid, type RetryPolicy, type ShmsnapError } from '@shmsnap/core/plugin-kit';
import { expandHome, type S3Profile } from './s3-profile.js';

export const MiB = 1024 * 1024;
/** S3's limits: object size, part size, part count, smallest part but the last. */
export const S3_MAX_OBJECT_BYTES = 5 * 1024 * 1024 * MiB;
export const S3_MAX_PART_BYTES = 5 * 1024 * MiB;
export const S3_MAX_PARTS = 10_000;
export const S3_MIN_PART_BYTES = 5 * MiB;
/**
 * With the default upload concurrency (4 parts in flight for the whole sink)
 * and 2 more parts per writer (one filling, one kept for reuse), the sink's 4
 * writers at once (S3_MAX_WRITERS) hold at most 12 parts: 96 MiB, so a
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
      /** The most part memory the writer held at once: at most (uploadConcurrency + 1) parts, and with other writers at most its share of the sink's slots + 2. */
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
  /** AWS region. @default AWS_REGION, else AWS_DEFAULT_REGION, else the profile's `region`, else 'us-east-1' */
  readonly region?: string;
  /**
   * Endpoint of an S3-compatible store (`http://127.0.0.1:9000`).
   * @default AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL, else the profile's (its `services` section's `s3` endpoint_url, else its endpoint_url), else AWS's own; none of these but this option with AWS_IGNORE_CONFIGURED_ENDPOINT_URLS or the profile's ignore_configured_endpoint_urls
   */
  readonly endpoint?: string;
  /** Bucket in the path rather than the host name, which most S3-compatible stores need. @default the profile's `s3` addressing_style, else true when an endpoint is set (from any source) */
  readonly forcePathStyle?: boolean;
  /** Profile of the shared AWS config files, for credentials and the settings above. @default AWS_PROFILE, else 'default' */
  readonly profile?: string;
  /**
   * A PEM file of the CA certificates to trust for an https endpoint, instead of Node's (a store with a private CA or a self-signed certificate).
   * @default AWS_CA_BUNDLE, else the profile's ca_bundle
   */
  readonly caBundle?: string;
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
  /** Parts uploaded at once by the sink, all objects together; memory is about (this + 2 × objects in flight) × part size. @default 4 */
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

/** A CA bundle to read, and the name of the setting it came from (for messages). */
export interface CaBundleSetting {
  readonly path: string;
  readonly from: string;
}

export interface ResolvedS3SinkOptions {
  readonly region: string;
  readonly regionGiven: boolean;
  readonly endpoint: string | undefined;
  readonly forcePathStyle: boolean;
  /** The profile the client is given: the option's, or AWS_PROFILE's (the SDK then reads the same one). */
  readonly profile: string | undefined;
  readonly caBundle: CaBundleSetting | undefined;
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

const inMiB = (bytes: number): string => `${Number.isInteger(bytes / MiB) ? bytes / MiB : (bytes / MiB).toFixed(2)} MiB`;

/** Part sizes are said in MiB: the unit operators give them in (`--s3-part-size-mib`), not a byte count. */
function partSizeIn(value: number): number {
  if (!Number.isSafeInteger(value) || value < S3_MIN_PART_BYTES || value > S3_MAX_PART_BYTES) {
    const got = Number.isSafeInteger(value) && value > 0 ? inMiB(value) : String(value);
    throw errConfigInvalid('partSizeBytes', `must be from ${S3_MIN_PART_BYTES / MiB} to ${S3_MAX_PART_BYTES / MiB} MiB, got ${got}`);
  }
  return value;
}

export function roundUpToMiB(bytes: number): number {
  return Math.ceil(bytes / MiB) * MiB;
}

/** The first setting that has a value, with its name. */
function firstOf(candidates: readonly (readonly [string, string | undefined])[]): { value: string; from: string } | undefined {
  for (const [from, value] of candidates) if (value) return { value, from };
  return undefined;
}

const TRUE = 'true';

/**
 * Options, else the environment, else the profile (`loadS3Profile`, which
 * read the same `profile ?? AWS_PROFILE ?? default`), else the defaults.
 * Every refusal names the setting it came from.
 */
export function resolveS3SinkOptions(options: S3SinkOptions = {}, env: NodeJS.ProcessEnv = process.env, profile?: S3Profile): ResolvedS3SinkOptions {
  const of = profile === undefined ? undefined : `of profile '${profile.name}'`;
  const ignoreConfigured = env['AWS_IGNORE_CONFIGURED_ENDPOINT_URLS']?.toLowerCase() === TRUE || profile?.ignoreConfiguredEndpointUrls === true;
  const endpointSetting = firstOf([
    ['endpoint', options.endpoint],
    ...(ignoreConfigured
      ? []
      : ([
          ['AWS_ENDPOINT_URL_S3', env['AWS_ENDPOINT_URL_S3']],
          ['AWS_ENDPOINT_URL', env['AWS_ENDPOINT_URL']],
          [profile?.endpointUrlFrom ?? '', profile?.endpointUrl],
        ] as const)),
  ]);
  const endpoint = endpointSetting?.value;
  if (endpointSetting !== undefined && !/^https?:\/\/[^/\s]+/i.test(endpointSetting.value)) {
    throw errConfigInvalid(endpointSetting.from, `must be an http:// or https:// URL, got ${JSON.stringify(endpointSetting.value.replace(/\/\/[^@/]*@/, '//'))}`);
  }
  const regionSetting = firstOf([
    ['region', options.region],
    ['AWS_REGION', env['AWS_REGION']],
    ['AWS_DEFAULT_REGION', env['AWS_DEFAULT_REGION']],
    [`region ${of}`, profile?.region],
  ]);
  const region = regionSetting?.value ?? 'us-east-1';
  if (!/^[a-z0-9-]+$/i.test(region)) throw errConfigInvalid(regionSetting?.from ?? 'region', `${JSON.stringify(region)} is not a region name`);

  const style = profile?.addressingStyle;
  if (style !== undefined && style !== 'path' && style !== 'virtual' && style !== 'auto') {
    throw errConfigInvalid(`s3 addressing_style ${of}`, `must be path, virtual or auto, got ${JSON.stringify(style)}`);
  }
  const forcePathStyle = options.forcePathStyle ?? (style === 'path' ? true : style === 'virtual' ? false : endpoint !== undefined);
  const caSetting = firstOf([
    ['caBundle', options.caBundle],
    ['AWS_CA_BUNDLE', env['AWS_CA_BUNDLE']],
    [`ca_bundle ${of}`, profile?.caBundle],
  ]);

  const sse = options.serverSideEncryption;
  if (sse !== undefined && sse !== 'AES256' && sse !== 'aws:kms') {
    throw errConfigInvalid('serverSideEncryption', `must be 'AES256' or 'aws:kms', got ${JSON.stringify(sse)}`);
  }
  if (options.sseKmsKeyId !== undefined && sse !== 'aws:kms') {
    throw errConfigInvalid('sseKmsKeyId', "only applies with serverSideEncryption 'aws:kms'").withDetails({ mentions: ['serverSideEncryption'] });
  }
  const checksumMode = options.checksumMode ?? 'when-required';
  if (checksumMode !== 'when-required' && checksumMode !== 'when-supported') {
    throw errConfigInvalid('checksumMode', `must be 'when-required' or 'when-supported', got ${JSON.stringify(checksumMode)}`);
  }
  const partSizeBytes = roundUpToMiB(partSizeIn(options.partSizeBytes ?? DEFAULT_PART_BYTES));
  return {
    region,
    regionGiven: regionSetting !== undefined,
    endpoint,
    forcePathStyle,
    profile: options.profile || (profile?.chosenBy === 'AWS_PROFILE' ? profile.name : undefined) || undefined,
    caBundle: caSetting === undefined ? undefined : { path: expandHome(caSetting.value), from: caSetting.from },
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
