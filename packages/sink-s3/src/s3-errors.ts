/**
 * The one place where an AWS SDK or network failure becomes a coded error.
 *
 * - Refusals fail at once: bad credentials or missing permissions
 *   (PERMISSION_DENIED), a missing bucket, any other 4xx answer.
 * - What may pass is retryable REMOTE_FAILED: throttling (SlowDown, 503,
 *   429), 5xx, dropped or refused connections, timeouts.
 * - A TLS failure (a certificate this host does not trust, one for another
 *   host name, one out of date, an endpoint that does not speak TLS) is
 *   REMOTE_FAILED, not retried, saying what to change; its hint names the
 *   `caBundle` option (`details.mentions`), which a frontend names its way.
 * - The caller's abort is ABORTED.
 * - Anything that is not an answer from the store nor a network error is
 *   wrapped with the plugin's name and the step (`withPluginContext`).
 *
 * Messages name the step, bucket and key and the store's error code; they
 * never carry credentials (the SDK's errors do not hold the secret, and
 * locations are printed redacted).
 */
import {
  CONNECTION_ERROR_CODES,
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
const CONNECTION_MESSAGES = /socket hang up|^aborted$|premature close|ECONNRESET|EPIPE|timed? ?out/i;

/** Node's (OpenSSL's) codes for a certificate chain this host does not trust. */
const UNTRUSTED_CERTIFICATE: Readonly<Record<string, string>> = {
  DEPTH_ZERO_SELF_SIGNED_CERT: "the store's certificate is self-signed",
  SELF_SIGNED_CERT_IN_CHAIN: "the store's certificate chain ends in a CA this host does not trust",
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "the store's certificate is signed by a CA this host does not know",
  UNABLE_TO_GET_ISSUER_CERT: "the store's certificate is signed by a CA this host does not know",
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "the store's certificate is signed by a CA this host does not know",
  CERT_UNTRUSTED: "the store's certificate is not trusted",
  CERT_SIGNATURE_FAILURE: "the store's certificate signature does not verify against the trusted CAs",
};
const CA_HINT = "if the store is yours, give its CA's certificate (PEM) with caBundle or AWS_CA_BUNDLE";
const OTHER_TLS: Readonly<Record<string, string>> = {
  ERR_TLS_CERT_ALTNAME_INVALID: "the store's certificate is not for the endpoint's host name",
  CERT_HAS_EXPIRED: "the store's certificate has expired (or this host's clock is wrong)",
  CERT_NOT_YET_VALID: "the store's certificate is not valid yet (or this host's clock is wrong)",
  ERR_SSL_WRONG_VERSION_NUMBER: 'the endpoint does not answer TLS: does it take http:// rather than https://?',
  ERR_SSL_PACKET_LENGTH_TOO_LONG: 'the endpoint does not answer TLS: does it take http:// rather than https://?',
};

/** The TLS failure in `error` or its causes, worded with what to do; undefined for any other failure. */
function tlsFailure(error: unknown): { code: string; text: string; mentions: readonly string[] } | undefined {
  for (let at: unknown = error, depth = 0; at !== undefined && at !== null && depth < 4; at = (at as { cause?: unknown }).cause, depth += 1) {
    const code = field(at, 'code');
    if (typeof code !== 'string') continue;
    const message = String(field(at, 'message') ?? code);
    const untrusted = UNTRUSTED_CERTIFICATE[code];
    if (untrusted !== undefined) return { code, text: `TLS: ${untrusted} (${code}); ${CA_HINT}`, mentions: ['caBundle'] };
    if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
      // Node's error holds the host asked for and the certificate's names.
      const host = (at as { host?: unknown }).host;
      const names = (at as { cert?: { subjectaltname?: unknown } }).cert?.subjectaltname;
      const which = typeof host === 'string' && typeof names === 'string' ? `it is for ${names}, not ${host}` : message.replace(/[:\s]+$/, '');
      return { code, text: `TLS: ${OTHER_TLS[code]}: ${which} (${code}); use a host name the certificate holds in the endpoint (a CA bundle does not change this)`, mentions: [] };
    }
    // OpenSSL's words when the other end answers plain HTTP (Node gives them the code EPROTO).
    if (code === 'EPROTO') {
      if (/wrong version number|packet length too long|http request/i.test(message)) return { code, text: `TLS: ${OTHER_TLS['ERR_SSL_WRONG_VERSION_NUMBER']} (${code})`, mentions: [] };
      const reason = /SSL routines:[^:]*:([^:]+)/.exec(message)?.[1] ?? message;
      return { code, text: `TLS: the handshake with the endpoint failed (${reason})`, mentions: [] };
    }
    const other = OTHER_TLS[code];
    if (other !== undefined) return { code, text: `TLS: ${other} (${code})`, mentions: [] };
  }
  return undefined;
}

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

/**
 * The store's answer in words: its code and HTTP status, then its message
 * when it gave one. Ceph RGW sends error bodies with an empty Message, which
 * the SDK reports as "UnknownError": the code and status are what say anything.
 */
function answerText(code: string | undefined, status: number, message: unknown): string {
  const said = typeof message === 'string' && message.trim() !== '' && message !== 'UnknownError' && message !== code ? `: ${message.trim()}` : '';
  return `${code ?? 'error'} (HTTP ${status})${said}`;
}

function isConnectionFailure(error: unknown): boolean {
  const code = field(error, 'code');
  if (typeof code === 'string' && CONNECTION_ERROR_CODES.has(code)) return true;
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
  const tls = tlsFailure(error);
  if (tls !== undefined) {
    return errRemoteFailed(what, where, false, new Error(tls.text, { cause: error })).withDetails({ tls: tls.code, ...(tls.mentions.length > 0 ? { mentions: tls.mentions } : {}) });
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
  if (code === 'MissingContentLength' || status === 411) {
    // Ceph RGW (16.2) answers 411 to the aws-chunked bodies the SDK streams with trailing checksums (when-supported).
    const text = `the store refused a streamed body without a length (${code ?? 'HTTP'} ${status ?? 411}): it does not take aws-chunked uploads; use checksumMode when-required`;
    return errRemoteFailed(what, where, false, new Error(text, { cause: error })).withDetails({ ...details, mentions: ['checksumMode'] });
  }
  if (retryable || status !== undefined) {
    const cause = status !== undefined ? Object.assign(new Error(answerText(code, status, field(error, 'message'))), { cause: error }) : error;
    return errRemoteFailed(what, where, retryable, cause).withDetails(details);
  }
  return errPluginFailed('s3', `${at.step} of ${at.key ?? at.bucket}`, error);
}

/** The store does not support what was asked (a conditional write): 501 NotImplemented. */
export function isNotImplemented(error: unknown): boolean {
  if (!isShmsnapError(error)) return false;
  return error.details['httpStatus'] === 501 || error.details['s3Code'] === 'NotImplemented';
}
