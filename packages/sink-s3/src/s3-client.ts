/**
 * The S3Client a sink talks through, built from checked options.
 *
 * - `maxAttempts: 1`: retries happen in one layer, ours (`retryOperation`,
 *   `withRetry`), which knows which steps are safe to repeat.
 * - Checksums follow `checksumMode`: the SDK's default flexible checksums
 *   make s3rver store streamed bodies corrupt and are refused by many
 *   S3-compatible stores.
 * - Credentials come only from the SDK's default chain (or `profile`).
 * - The endpoint, region and CA bundle are resolved by us, from the same
 *   profile the credentials come from (`s3-profile.ts`), so the client is
 *   told not to look for endpoint URLs of its own.
 * - A CA bundle replaces Node's trusted CAs, as `ca_bundle` does for the AWS
 *   CLI; the SDK for JavaScript reads neither AWS_CA_BUNDLE nor `ca_bundle`,
 *   so its request handler is given an https agent with it.
 */
import { HeadObjectCommand, S3Client, type HeadObjectCommandOutput, type S3ClientConfig } from '@aws-sdk/client-s3';
import { readFile } from 'node:fs/promises';
import { errConfigInvalid, isShmsnapError } from '@shmsnap/core/plugin-kit';
import { mapS3Error, type S3Step } from './s3-errors.js';
import type { CaBundleSetting, ResolvedS3SinkOptions } from './s3-options.js';

/** One object's address, and the client that reaches it. */
export interface S3ObjectAddress {
  readonly client: S3Client;
  readonly bucket: string;
  readonly key: string;
}

/** A connection that cannot be made in this time is a failure (and retryable). */
const CONNECT_TIMEOUT_MS = 10_000;
/** A socket silent this long is dead: better to fail and retry than to hang a backup. */
const IDLE_TIMEOUT_MS = 120_000;

const WARNING_SWITCH = 'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED';

/**
 * The SDK warns on every run under Node 20 that its releases from 2027 need
 * Node 22 (we pin a release that supports 20). It checks this environment
 * variable while a client is being constructed, once per process; setting it
 * only for that synchronous moment silences this warning and no other, and
 * leaves the environment our child processes inherit as it was.
 */
function withoutNodeVersionWarning<T>(construct: () => T): T {
  if (process.env[WARNING_SWITCH] !== undefined) return construct();
  process.env[WARNING_SWITCH] = 'true';
  try {
    return construct();
  } finally {
    delete process.env[WARNING_SWITCH];
  }
}

/**
 * The PEM text of a CA bundle, checked to hold a certificate: a wrong path
 * is CONFIG_INVALID naming the setting, not a TLS failure at the first request.
 */
export async function readCaBundle(bundle: CaBundleSetting): Promise<string> {
  let text: string;
  try {
    text = await readFile(bundle.path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw errConfigInvalid(bundle.from, `cannot read ${bundle.path}${code === 'ENOENT' ? ' (no such file)' : code ? ` (${code})` : ''}`);
  }
  if (!text.includes('-----BEGIN CERTIFICATE-----')) throw errConfigInvalid(bundle.from, `${bundle.path} holds no PEM certificate`);
  return text;
}

/** `ca`: the PEM text of the CA bundle (`readCaBundle`), when one is set. */
export function createS3Client(options: ResolvedS3SinkOptions, ca?: string): S3Client {
  const checksums = options.checksumMode === 'when-supported' ? 'WHEN_SUPPORTED' : 'WHEN_REQUIRED';
  const config: S3ClientConfig = {
    region: options.region,
    forcePathStyle: options.forcePathStyle,
    maxAttempts: 1,
    requestChecksumCalculation: checksums,
    responseChecksumValidation: checksums,
    // Options, not a handler: the SDK's own agents (keep-alive, 50 sockets) then take the CA too.
    requestHandler: { connectionTimeout: CONNECT_TIMEOUT_MS, socketTimeout: IDLE_TIMEOUT_MS, ...(ca === undefined ? {} : { httpsAgent: { ca } }) },
    ignoreConfiguredEndpointUrls: true,
    // A region we guessed may be wrong for the bucket; AWS then tells the right one.
    followRegionRedirects: !options.regionGiven && options.endpoint === undefined,
    ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
    ...(options.profile === undefined ? {} : { profile: options.profile }),
  };
  return withoutNodeVersionWarning(() => new S3Client(config));
}

/**
 * Sends one request, cancelled by `at.signal`; its failure becomes a coded
 * error naming the step, bucket and key. Every request of the sink and its
 * writers goes through here, so the mapping happens in one place.
 */
export async function callS3<T>(at: S3Step, send: (abortSignal: AbortSignal | undefined) => Promise<T>): Promise<T> {
  try {
    return await send(at.signal);
  } catch (error) {
    throw mapS3Error(error, at);
  }
}

/** HeadObject's answer, or undefined when no object has that key. */
export async function headObject(address: S3ObjectAddress, step: string, signal: AbortSignal | undefined): Promise<HeadObjectCommandOutput | undefined> {
  const { client, bucket, key } = address;
  try {
    return await callS3({ step, bucket, key, signal }, (abortSignal) => client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }), { abortSignal }));
  } catch (error) {
    if (isShmsnapError(error, 'OBJECT_NOT_FOUND')) return undefined;
    throw error;
  }
}
