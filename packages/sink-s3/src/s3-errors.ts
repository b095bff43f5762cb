/**
 * The one place where an AWS SDK or network failure becomes a coded error.
 *
 * - Refusals fail at once: bad credentials or missing permissions
 *   (PERMISSION_DENIED), a missing bucket, any other 4xx answer.
 * - What may pass is retryable REMOTE_FAILED: throttling (SlowDown, 503,
 *   429), 5xx, dropped or refused connections, timeouts.
 * - The caller's abort is ABORTED.
 * - Anything that is not an answer from the store nor a network error is
 *   wrapped with the plugin's name and the step (`withPluginContext`).
 *
 * Messages name the step, bucket and key and the store's error code; they
 * never carry credentials (the SDK's errors do not hold the secret, and
 * locations are printed redacted).
 */
import {
  errAborted,
  errObjectExists,
  errObjectNotFound,
  errPermissionDenied,
  errRemoteFailed,
  isShmsnapError,
  errPluginFailed,
  type ShmsnapError,
} from '@shmsnap/core/plugin-kit';

export interface S3Step {
  /** What was being done: `upload part 3`, `list`, `read`. */
  readonly step: string;
  readonly bucket: string;
  /** The object's key, when the step concerns one. */
  readonly key?: string;
  /** The caller's signal: a failure after it aborted is the abort. */
  readonly signal?: AbortSignal;
}

interface SdkErrorLike {
  readonly name?: unknown;
  readonly code?: unknown;
  readonly Code?: unknown;
  readonly message?: unknown;
  readonly $metadata?: { readonly httpStatusCode?: unknown };
  readonly $retryable?: unknown;
}

const PERMISSION_CODES = new Set(['AccessDenied', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'InvalidToken', 'ExpiredToken', 'TokenRefreshRequired', 'AllAccessDisabled', 'Forbidden']);
const RETRYABLE_CODES = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestTimeout',
  'RequestTimeoutException',
  'InternalError',
  'ServiceUnavailable',
  'ConditionalRequestConflict',
  'OperationAborted',
  'TimeoutError',
]);
const CONNECTION_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'ERR_STREAM_PREMATURE_CLOSE',
  'UND_ERR_SOCKET',
]);
const CONNECTION_MESSAGES = /socket hang up|^aborted$|premature close|ECONNRESET|EPIPE|timed? ?out/i;

function field(error: unknown, name: keyof SdkErrorLike): unknown {
  return typeof error === 'object' && error !== null ? (error as SdkErrorLike)[name] : undefined;
}

/** The store's error code (`NoSuchKey`, `SlowDown`...), if the failure is an answer from the store. */
export function s3CodeOf(error: unknown): string | undefined {
  const code = field(error, 'Code') ?? field(error, 'name');
  return typeof code === 'string' && code !== 'Error' && code !== 'UnknownError' ? code : undefined;
}

export function httpStatusOf(error: unknown): number | undefined {
  const status = (field(error, '$metadata') as SdkErrorLike['$metadata'])?.httpStatusCode;
  return typeof status === 'number' ? status : undefined;
}

function isConnectionFailure(error: unknown): boolean {
  const code = field(error, 'code');
  if (typeof code === 'string' && CONNECTION_CODES.has(code)) return true;
  const message = field(error, 'message');
  return typeof message === 'string' && CONNECTION_MESSAGES.test(message);
}

function isAbort(error: unknown): boolean {
  return field(error, 'name') === 'AbortError' || field(error, 'code') === 'ABORT_ERR';
}

export function mapS3Error(error: unknown, at: S3Step): ShmsnapError {
  if (isShmsnapError(error)) return error;
  const where = at.key === undefined ? `s3://${at.bucket}` : `s3://${at.bucket}/${at.key}`;
  const what = `s3 ${at.step}`;
  if (at.signal?.aborted || isAbort(error)) {
    const reason: unknown = at.signal?.aborted ? at.signal.reason : error;
    return isShmsnapError(reason) ? reason : errAborted(`${what} of ${where}`, reason);
  }
  const status = httpStatusOf(error);
  const code = s3CodeOf(error);
  const details = { ...(code === undefined ? {} : { s3Code: code }), ...(status === undefined ? {} : { httpStatus: status }) };

  if (code === 'CredentialsProviderError') {
    return errPermissionDenied(`${at.step} of`, `${where} (no AWS credentials found: set them in the environment, a profile or an instance role)`, error).withDetails(details);
  }
  if ((code !== undefined && PERMISSION_CODES.has(code)) || status === 403) {
    return errPermissionDenied(`${at.step} of`, `${where} (${code ?? `HTTP ${status}`}: check the AWS credentials and their permissions)`, error).withDetails(details);
  }
  if (code === 'NoSuchBucket') {
    return errRemoteFailed(what, where, false, new Error(`bucket ${at.bucket} does not exist`, { cause: error })).withDetails(details);
  }
  if (code === 'NoSuchKey' || code === 'NotFound' || (status === 404 && code !== 'NoSuchUpload')) {
    return errObjectNotFound(at.key ?? at.bucket, `s3://${at.bucket}`).withDetails(details);
  }
  if (code === 'PreconditionFailed' || status === 412) {
    return errObjectExists(at.key ?? at.bucket, `s3://${at.bucket}`).withDetails(details);
  }
  const retryable =
    (code !== undefined && RETRYABLE_CODES.has(code)) ||
    status === 429 ||
    (status !== undefined && status >= 500 && status !== 501) ||
    isConnectionFailure(error) ||
    (status === undefined && field(error, '$retryable') !== undefined);
  if (retryable || status !== undefined) {
    const cause = code !== undefined && status !== undefined ? Object.assign(new Error(`${code} (HTTP ${status}): ${String(field(error, 'message'))}`), { cause: error }) : error;
    return errRemoteFailed(what, where, retryable, cause).withDetails(details);
  }
  return errPluginFailed('s3', `${at.step} of ${at.key ?? at.bucket}`, error);
}

/** The store does not support what was asked (a conditional write): 501 NotImplemented. */
export function isNotImplemented(error: unknown): boolean {
  if (!isShmsnapError(error)) return false;
  return error.details['httpStatus'] === 501 || error.details['s3Code'] === 'NotImplemented';
}
