import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { errAborted, isShmsnapError } from '@shmsnap/core';
import { isNotImplemented, mapS3Error } from './s3-errors.js';

const at = { step: 'upload part 3', bucket: 'bkt', key: 'node1/ae001100.dat.gz' };
const answer = (name: string, status: number, message = 'store said no') => Object.assign(new Error(message), { name, $metadata: { httpStatusCode: status } });
const network = (code: string, message = code) => Object.assign(new Error(message), { code });

describe('mapS3Error', () => {
  it('maps refusals to PERMISSION_DENIED naming bucket and key', () => {
    for (const error of [answer('AccessDenied', 403), answer('InvalidAccessKeyId', 403), answer('SignatureDoesNotMatch', 403), answer('Forbidden', 403), answer('UnknownError', 403)]) {
      const mapped = mapS3Error(error, at);
      assert.ok(isShmsnapError(mapped, 'PERMISSION_DENIED'), error.name);
      assert.equal(mapped.retryable, false);
      assert.match(mapped.message, /s3:\/\/bkt\/node1\/ae001100\.dat\.gz/);
      assert.match(mapped.message, /credentials and their permissions/);
    }
  });

  it('names a missing bucket, not retryable', () => {
    const mapped = mapS3Error(answer('NoSuchBucket', 404), { step: 'list', bucket: 'gone' });
    assert.ok(isShmsnapError(mapped, 'REMOTE_FAILED'));
    assert.equal(mapped.retryable, false);
    assert.match(mapped.message, /bucket gone does not exist/);
  });

  it('makes throttling, 5xx and connection failures retryable REMOTE_FAILED', () => {
    const cases = [
      answer('SlowDown', 503),
      answer('ServiceUnavailable', 503),
      answer('TooManyRequestsException', 429),
      answer('InternalError', 500),
      answer('UnknownError', 502),
      network('ECONNRESET'),
      network('ECONNREFUSED'),
      network('EPIPE'),
      Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }),
      new Error('aborted'),
      Object.assign(new Error('timed out'), { name: 'TimeoutError' }),
    ];
    for (const error of cases) {
      const mapped = mapS3Error(error, at);
      assert.ok(isShmsnapError(mapped, 'REMOTE_FAILED') && mapped.retryable, `${error.name} ${error.message}`);
      assert.match(mapped.message, /^s3 upload part 3 failed for s3:\/\/bkt\/node1\/ae001100\.dat\.gz/);
    }
  });

  it('keeps other answers as non-retryable REMOTE_FAILED with the code, and 501 recognisable', () => {
    const mapped = mapS3Error(answer('NotImplemented', 501, 'A header you provided implies functionality that is not implemented'), at);
    assert.ok(isShmsnapError(mapped, 'REMOTE_FAILED'));
    assert.equal(mapped.retryable, false);
    assert.match(mapped.message, /NotImplemented \(HTTP 501\)/);
    assert.ok(isNotImplemented(mapped));
    assert.ok(!isNotImplemented(mapS3Error(answer('InternalError', 500), at)));
    assert.ok(isShmsnapError(mapS3Error(answer('EntityTooSmall', 400), at), 'REMOTE_FAILED'));
  });

  it('maps missing objects, existing objects and aborts', () => {
    assert.ok(isShmsnapError(mapS3Error(answer('NoSuchKey', 404), at), 'OBJECT_NOT_FOUND'));
    assert.ok(isShmsnapError(mapS3Error(answer('NotFound', 404), at), 'OBJECT_NOT_FOUND'));
    assert.ok(isShmsnapError(mapS3Error(answer('NoSuchUpload', 404), at), 'REMOTE_FAILED'));
    assert.ok(isShmsnapError(mapS3Error(answer('PreconditionFailed', 412), at), 'OBJECT_EXISTS'));
    const controller = new AbortController();
    const reason = errAborted('backup');
    controller.abort(reason);
    assert.equal(mapS3Error(Object.assign(new Error('Request aborted'), { name: 'AbortError' }), { ...at, signal: controller.signal }), reason);
    assert.ok(isShmsnapError(mapS3Error(Object.assign(new Error('Request aborted'), { name: 'AbortError' }), at), 'ABORTED'));
  });

  it('wraps anything else with the plugin name and the step', () => {
    const mapped = mapS3Error(new TypeError('cannot read x of undefined'), at);
    assert.ok(isShmsnapError(mapped, 'PLUGIN_FAILED'));
    assert.equal(mapped.message, 's3 failed during upload part 3 of node1/ae001100.dat.gz: cannot read x of undefined');
  });
});
