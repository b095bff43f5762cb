import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { describe, it } from 'node:test';
import { mapAzureError, scrubSecrets, type AzureStep } from './azure-errors.js';

const at: AzureStep = { step: 'read', location: 'azblob://acct/c/p', container: 'c', object: 'a.dat', where: 'azblob://acct/c/p/a.dat', secrets: ['TOPSECRETKEY'] };

/** What the SDK throws: a RestError with the service's code, and a request holding the URL (with its SAS) and headers. */
function restError(statusCode: number | undefined, code: string | undefined, message = 'failed'): Error {
  return Object.assign(new Error(message), {
    name: 'RestError',
    statusCode,
    code,
    ...(code ? { details: { errorCode: code } } : {}),
    request: { url: 'https://acct.blob.core.windows.net/c/p/a.dat?sv=1&sig=TOPSECRETSIG', headers: { authorization: 'SharedKey acct:TOPSECRETKEY' } },
  });
}

describe('azblob error mapping', () => {
  it('maps the service answers to codes, retrying only what may pass', () => {
    const cases: [Error, string, boolean][] = [
      [restError(403, 'AuthenticationFailed'), 'PERMISSION_DENIED', false],
      [restError(403, 'AuthorizationPermissionMismatch'), 'PERMISSION_DENIED', false],
      [restError(404, 'ContainerNotFound'), 'LOCATION_NOT_FOUND', false],
      [restError(404, 'BlobNotFound'), 'OBJECT_NOT_FOUND', false],
      [restError(409, 'BlobAlreadyExists'), 'OBJECT_EXISTS', false],
      [restError(412, 'ConditionNotMet'), 'OBJECT_EXISTS', false],
      [restError(400, 'InvalidBlockList'), 'REMOTE_FAILED', false],
      [restError(500, 'InternalError'), 'REMOTE_FAILED', true],
      [restError(503, 'ServerBusy'), 'REMOTE_FAILED', true],
      [restError(429, undefined), 'REMOTE_FAILED', true],
      [restError(undefined, 'REQUEST_SEND_ERROR', 'connect ECONNREFUSED 127.0.0.1:1'), 'REMOTE_FAILED', true],
      [Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }), 'REMOTE_FAILED', true],
      [Object.assign(new Error('The operation was aborted.'), { name: 'AbortError' }), 'REMOTE_FAILED', true],
      [new TypeError('a bug'), 'PLUGIN_FAILED', false],
    ];
    for (const [error, code, retryable] of cases) {
      const mapped = mapAzureError(error, at);
      assert.equal(mapped.code, code, `${String(error)} → ${mapped.code}`);
      assert.equal(mapped.retryable, retryable, `${String(error)} retryable`);
      assert.doesNotMatch(mapped.message, /\n/);
    }
  });

  it('the caller abort is ABORTED, whatever the SDK made of it', () => {
    const controller = new AbortController();
    controller.abort();
    assert.equal(mapAzureError(restError(500, 'InternalError'), { ...at, signal: controller.signal }).code, 'ABORTED');
  });

  it('keeps no secret: not the key, not the SAS, not the request', () => {
    for (const error of [restError(403, 'AuthenticationFailed', 'Server failed to authenticate TOPSECRETKEY\nRequestId:1'), restError(500, 'InternalError', 'at ?sig=TOPSECRETSIG'), new TypeError('AccountKey=TOPSECRETKEY;')]) {
      const mapped = mapAzureError(error, at);
      const text = [mapped.message, JSON.stringify(mapped), inspect(mapped, { depth: 8 })].join('\n');
      assert.ok(!text.includes('TOPSECRET'), text);
    }
    assert.equal(scrubSecrets('x?sv=1&sig=abc&se=2 AccountKey=k1; SharedAccessSignature=s2;', []), 'x?sv=1&sig=<secret>&se=2 AccountKey=<secret>; SharedAccessSignature=<secret>;');
  });

  it('names the step, the object and the service code', () => {
    const mapped = mapAzureError(restError(500, 'InternalError', 'boom\nRequestId:1'), { ...at, step: 'put block 3' });
    assert.match(mapped.message, /azblob put block 3 failed for azblob:\/\/acct\/c\/p\/a\.dat: InternalError, HTTP 500: boom$/);
    assert.deepEqual([mapped.details['azureCode'], mapped.details['httpStatus']], ['InternalError', 500]);
  });
});
