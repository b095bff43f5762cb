/**
 * The one place where an Azure SDK or network failure becomes a coded error.
 * Duck-typed on the SDK's `RestError` (`statusCode`, `code`,
 * `details.errorCode`), so this module does not load the SDK.
 *
 * - Refusals fail at once, never retried: 403 (a wrong key, an expired or
 *   too narrow SAS: PERMISSION_DENIED, as the S3 sink says for its 403s), a
 *   missing container (LOCATION_NOT_FOUND: the location itself is not
 *   there), a missing blob (OBJECT_NOT_FOUND), an existing blob where none
 *   may be (OBJECT_EXISTS), any other 4xx.
 * - What may pass is retryable REMOTE_FAILED: 408, 429, 5xx (Azure's
 *   ServerBusy is 503), dropped, reset or refused connections, timeouts.
 * - The caller's abort is ABORTED.
 *
 * Never a secret in the result: the SDK's error is not kept as the cause (its
 * `request` holds the URL, which carries a SAS, and the headers); the cause
 * is a plain Error with the service's code, status and the first line of its
 * message, with every secret value scrubbed out.
 */
import {
  CONNECTION_ERROR_CODES,
  errAborted,
  errLocationNotFound,
  errObjectExists,
  errObjectNotFound,
  errPermissionDenied,
  errPluginFailed,
  errRemoteFailed,
  isShmsnapError,
  type ShmsnapError,
} from '@shmsnap/core/plugin-kit';

export interface AzureStep {
  /** What was being done: `put block 3`, `put block list`, `list`, `read`. */
  readonly step: string;
  /** The sink's printable location (`azblob://account/container/prefix`). */
  readonly location: string;
  readonly container: string;
  /** The object's name below the location, when the step concerns one. */
  readonly object?: string;
  /** The object as messages name it: `azblob://account/container/prefix/name`. */
  readonly where: string;
  /** The caller's signal: a failure after it aborted is the abort. */
  readonly signal?: AbortSignal | undefined;
  /** Values to scrub from any text kept (`ResolvedAzureOptions.secrets`). */
  readonly secrets: readonly string[];
}

const RETRYABLE_CODES = new Set(['ServerBusy', 'InternalError', 'OperationTimedOut', 'TimeoutError', 'REQUEST_SEND_ERROR']);
/** The SDK's name for a request that never got an answer, beside Node's connection codes. */
const CONNECTION_CODES: ReadonlySet<string> = new Set([...CONNECTION_ERROR_CODES, 'REQUEST_SEND_ERROR']);
const CONNECTION_MESSAGES = /socket hang up|^aborted$|premature close|ECONNRESET|ECONNREFUSED|EPIPE|timed? ?out/i;

function field(value: unknown, name: string): unknown {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[name] : undefined;
}

/** The service's error code (`BlobNotFound`, `AuthenticationFailed`…), or the network's (`ECONNRESET`). */
export function azureCodeOf(error: unknown): string | undefined {
  const fromDetails = field(field(error, 'details'), 'errorCode');
  if (typeof fromDetails === 'string' && fromDetails !== '') return fromDetails;
  const code = field(error, 'code');
  return typeof code === 'string' && code !== '' ? code : undefined;
}

export function httpStatusOf(error: unknown): number | undefined {
  const status = field(error, 'statusCode') ?? field(field(error, 'response'), 'status');
  return typeof status === 'number' ? status : undefined;
}

/** `text` with every secret replaced, and any `sig=` value besides (a SAS the caller did not list). */
export function scrubSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) if (secret.length >= 4) out = out.split(secret).join('<secret>');
  return out.replace(/([?&;]sig=)[^&\s"';]+/gi, '$1<secret>').replace(/(AccountKey=)[^;\s"']+/gi, '$1<secret>').replace(/(SharedAccessSignature=)[^;\s"']+/gi, '$1<secret>');
}

function isAbort(error: unknown): boolean {
  return field(error, 'name') === 'AbortError' || field(error, 'code') === 'ABORT_ERR';
}

function isConnectionFailure(error: unknown): boolean {
  for (let at: unknown = error, depth = 0; at !== undefined && at !== null && depth < 4; at = field(at, 'cause'), depth += 1) {
    const code = field(at, 'code');
    if (typeof code === 'string' && CONNECTION_CODES.has(code)) return true;
    const message = field(at, 'message');
    if (typeof message === 'string' && CONNECTION_MESSAGES.test(message)) return true;
  }
  return false;
}

/** A cause safe to keep: the code, the status and the first line of the message, scrubbed. */
function safeCause(error: unknown, code: string | undefined, status: number | undefined, secrets: readonly string[]): Error {
  const raw = field(error, 'message');
  const first = typeof raw === 'string' ? raw.split('\n')[0]!.trim() : String(error);
  const label = [code, status === undefined ? undefined : `HTTP ${status}`].filter((s) => s !== undefined).join(', ');
  const text = label === '' ? first : first === '' || first === code ? label : `${label}: ${first}`;
  return new Error(scrubSecrets(text, secrets).slice(0, 300));
}

export function mapAzureError(error: unknown, at: AzureStep): ShmsnapError {
  if (isShmsnapError(error)) return error;
  const what = `azblob ${at.step}`;
  if (at.signal?.aborted) {
    const reason: unknown = at.signal.reason;
    return isShmsnapError(reason) ? reason : errAborted(`${what} of ${at.where}`);
  }
  if (isAbort(error)) {
    // Nobody of ours aborted: the SDK says AbortError when the connection under an answer's body is cut (measured
    // with Azurite behind a proxy that closes mid-body), so it is the network's failure, and passes.
    return errRemoteFailed(what, at.where, true, new Error('the connection was closed before the answer was complete')).withDetails({ azureCode: 'AbortError' });
  }
  const status = httpStatusOf(error);
  const code = azureCodeOf(error);
  const details = { ...(code === undefined ? {} : { azureCode: code }), ...(status === undefined ? {} : { httpStatus: status }) };
  const cause = safeCause(error, code, status, at.secrets);

  if (status === 403) {
    return errPermissionDenied(`${at.step} of`, `${at.where} (${code ?? 'HTTP 403'}: check the account key, SAS token or connection string, and what it allows)`, cause).withDetails(details);
  }
  if (code === 'ContainerNotFound') {
    return errLocationNotFound(at.location, `container '${at.container}' does not exist in this storage account (create it first: shmsnap does not create containers)`).withDetails(details);
  }
  if (code === 'BlobNotFound' || (status === 404 && code !== 'ContainerNotFound')) {
    return errObjectNotFound(at.object ?? at.where, at.location).withDetails(details);
  }
  if (code === 'BlobAlreadyExists' || (status === 409 && code === undefined) || status === 412) {
    return errObjectExists(at.object ?? at.where, at.location).withDetails(details);
  }
  const retryable =
    (code !== undefined && RETRYABLE_CODES.has(code)) ||
    status === 408 ||
    status === 429 ||
    (status !== undefined && status >= 500 && status !== 501 && status !== 505) ||
    (status === undefined && isConnectionFailure(error));
  if (retryable || status !== undefined) return errRemoteFailed(what, at.where, retryable, cause).withDetails(details);
  return errPluginFailed('azblob', `${at.step} of ${at.object ?? at.location}`, cause);
}
