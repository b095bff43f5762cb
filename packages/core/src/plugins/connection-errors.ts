/**
 * The `code`s Node and undici give an error when the connection itself
 * failed (refused, reset, cut, timed out, name lookup retried): the request
 * may or may not have reached the store, so a network sink treats them as
 * retryable failures of the remote side, whatever its SDK calls them.
 */
export const CONNECTION_ERROR_CODES: ReadonlySet<string> = new Set([
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
