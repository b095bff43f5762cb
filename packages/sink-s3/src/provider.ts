/**
 * The S3 sink as a registry provider, light to load: neither this file nor
 * what it imports loads the AWS SDK (about 90 ms), so a program that
 * registers it pays for the SDK only once a location is on S3. This is the
 * `@shmsnap/sink-s3/provider` entry, and the package's plugin object;
 * nothing registers itself.
 *
 * `create` imports the sink then, and composes it with core's `withRetry`:
 * a remote store fails transiently (throttling, 5xx, dropped connections),
 * so reads, listings and removals are retried by the wrapper, and the
 * writer retries its own requests under the same policy.
 *
 * The options a host offers as flags and variables are declared here
 * (`S3_HOST_OPTIONS`: `--s3-<name>`, `SHMSNAP_S3_<NAME>`). The AWS settings
 * with a variable of their own (AWS_REGION, AWS_ENDPOINT_URL_S3,
 * AWS_PROFILE, AWS_CA_BUNDLE) are not declared as `env`: the sink reads them,
 * and the profile, as the AWS tools do, so `--s3-profile x` and
 * `AWS_PROFILE=x` mean the same. Credentials come only from the SDK's
 * standard chain (environment, shared files and profile, instance or
 * container role), never from an option.
 */
import { definePlugin, errConfigInvalid, isShmsnapError, PLUGIN_API_VERSION, withRetry, type RetryPolicy, type SinkOptionSpec, type SinkProvider } from '@shmsnap/core/plugin-kit';
import { redactS3Location } from './s3-location.js';
import type { S3SinkOptions } from './s3-options.js';

/** Long enough to ride out throttling and a store restarting, short enough to fail a dead one within a minute. */
export const S3_REMOTE_RETRY: RetryPolicy = { maxAttempts: 6, baseDelayMs: 200, maxDelayMs: 10_000 };

export interface S3SinkProviderOptions {
  /**
   * How the sink's calls and its writers' requests are retried. A location's
   * own `retry` option still decides for its writers.
   * @default S3_REMOTE_RETRY
   */
  readonly retry?: RetryPolicy;
}

/** What a host passes, keyed by the declared names (`S3_HOST_OPTIONS`): only what the user gave. */
export interface S3HostOptions {
  readonly endpoint?: string;
  readonly region?: string;
  readonly pathStyle?: boolean;
  readonly profile?: string;
  readonly caBundle?: string;
  readonly checksum?: 'when-required' | 'when-supported';
  readonly storageClass?: string;
  readonly sse?: 'AES256' | 'aws:kms';
  readonly sseKmsKeyId?: string;
  readonly partSizeMib?: number;
  readonly maxParts?: number;
  readonly uploadConcurrency?: number;
}

export const S3_HOST_OPTIONS: readonly SinkOptionSpec[] = [
  { name: 'endpoint', type: 'string', argument: '<url>', description: "S3-compatible endpoint (MinIO, Ceph RGW, R2...) (default: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, the profile's endpoint_url)" },
  { name: 'region', type: 'string', argument: '<region>', description: "region (default: AWS_REGION, AWS_DEFAULT_REGION, the profile's region, us-east-1)" },
  {
    name: 'pathStyle',
    type: 'boolean',
    description: 'bucket in the path, not the host name (default when an endpoint is set, by flag, environment or profile)',
    negation: 'bucket in the host name (virtual-hosted), even with a custom endpoint',
  },
  { name: 'profile', type: 'string', argument: '<name>', description: 'profile of the shared AWS files, as AWS_PROFILE: credentials, region, endpoint_url, ca_bundle' },
  { name: 'caBundle', type: 'string', argument: '<file>', description: "PEM file of the CAs to trust for an https endpoint (default: AWS_CA_BUNDLE, the profile's ca_bundle)" },
  {
    name: 'checksum',
    type: 'choice',
    choices: ['when-required', 'when-supported'],
    argument: '<mode>',
    description: 'when-required (default: works with S3-compatible stores; shmsnap checks its own CRC-32 end to end) or when-supported',
  },
  { name: 'storageClass', type: 'string', argument: '<class>', description: 'storage class of the objects (STANDARD_IA, ...)', writes: true },
  { name: 'sse', type: 'choice', choices: ['AES256', 'aws:kms'], argument: '<kind>', description: 'server-side encryption: AES256 or aws:kms', writes: true },
  { name: 'sseKmsKeyId', type: 'string', argument: '<id>', description: 'KMS key for --s3-sse aws:kms', writes: true },
  { name: 'partSizeMib', type: 'integer', min: 1, argument: '<n>', description: 'upload part size in MiB, 5 to 5120; grows as an object needs (default 8)', writes: true },
  { name: 'maxParts', type: 'integer', min: 1, argument: '<n>', description: 'most parts per object, for stores allowing fewer than 10000', writes: true },
  {
    name: 'uploadConcurrency',
    type: 'integer',
    min: 1,
    argument: '<n>',
    description: 'parts uploaded at once, all objects together; memory is about (n + 2 × segments in flight) × part size (default 4)',
    writes: true,
  },
];

/** The sink's own option name for each declared one that differs (the others are the same name). */
const SINK_OPTION_OF: Readonly<Record<string, keyof S3SinkOptions>> = {
  pathStyle: 'forcePathStyle',
  checksum: 'checksumMode',
  sse: 'serverSideEncryption',
  partSizeMib: 'partSizeBytes',
};

/** The sink options for what a host gave (declared names); a caller's own S3SinkOptions keys pass as they are. */
export function s3SinkOptionsOf(options: S3SinkOptions & S3HostOptions): S3SinkOptions {
  const { pathStyle, checksum, sse, partSizeMib, ...rest } = options;
  return {
    ...rest,
    ...(pathStyle === undefined ? {} : { forcePathStyle: pathStyle }),
    ...(checksum === undefined ? {} : { checksumMode: checksum }),
    ...(sse === undefined ? {} : { serverSideEncryption: sse }),
    ...(partSizeMib === undefined ? {} : { partSizeBytes: partSizeMib * 1024 * 1024 }),
    ...(rest.storageClass === undefined ? {} : { storageClass: rest.storageClass as S3SinkOptions['storageClass'] & string }),
  };
}

/**
 * The sink's refusal of an option the host gave by its declared name, told in
 * that name (`partSizeBytes` → `partSizeMib`), so the host can name the flag
 * or the variable the value came from. Options the host did not give keep
 * the sink's names.
 */
export function inDeclaredNames(error: unknown, given: ReadonlySet<string>): unknown {
  if (!isShmsnapError(error, 'CONFIG_INVALID')) return error;
  const { option, reason, mentions } = error.details;
  if (typeof option !== 'string' || typeof reason !== 'string') return error;
  const declared = new Map(Object.entries(SINK_OPTION_OF).filter(([name]) => given.has(name)).map(([name, own]) => [own as string, name]));
  const rename = (name: string): string => declared.get(name) ?? name;
  let text = reason;
  for (const [own, name] of declared) text = text.replace(new RegExp(`\\b${own}\\b`, 'g'), name);
  if (rename(option) === option && text === reason) return error;
  const renamed = errConfigInvalid(rename(option), text);
  return Array.isArray(mentions) ? renamed.withDetails({ mentions: mentions.map((m) => (typeof m === 'string' ? rename(m) : m)) }) : renamed;
}

export function createS3SinkProvider(providerOptions: S3SinkProviderOptions = {}): SinkProvider<S3SinkOptions & S3HostOptions> {
  const retry = providerOptions.retry ?? S3_REMOTE_RETRY;
  return {
    schemes: ['s3'],
    description: 'S3 and S3-compatible stores, s3://bucket/prefix',
    options: S3_HOST_OPTIONS,
    async create(location, options = {}) {
      const { createS3Sink } = await import('./s3-sink.js');
      const given = new Set(Object.keys(options));
      try {
        return withRetry(await createS3Sink(location, { retry, ...s3SinkOptionsOf(options) }), retry);
      } catch (error) {
        throw inDeclaredNames(error, given);
      }
    },
    redact: redactS3Location,
  };
}

/** The provider with the default retry policy. */
export const s3SinkProvider: SinkProvider<S3SinkOptions & S3HostOptions> = createS3SinkProvider();

/** This package as a plugin (contracts/plugin.ts). Its version is package.json's (checked by a test). */
export const plugin = definePlugin({ name: '@shmsnap/sink-s3', version: '0.1.0', apiVersion: PLUGIN_API_VERSION, sinks: [s3SinkProvider] });
