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

  it('says the code and HTTP status when the store sends an empty message (Ceph RGW), never "UnknownError" alone', () => {
    // RGW's error bodies have an empty Message: the SDK's error then reads "UnknownError", or nothing.
    for (const [name, message] of [['EntityTooLarge', ''], ['InvalidPart', 'UnknownError'], ['UnknownError', 'UnknownError'], ['Error', '']] as const) {
      const mapped = mapS3Error(answer(name, 400, message), at);
      assert.ok(isShmsnapError(mapped, 'REMOTE_FAILED'), name);
      assert.match(mapped.message, /\(HTTP 400\)$/, mapped.message);
      assert.doesNotMatch(mapped.message, /UnknownError|: $/, mapped.message);
      if (name === 'EntityTooLarge' || name === 'InvalidPart') assert.match(mapped.message, new RegExp(`${name} \\(HTTP 400\\)$`));
    }
    assert.match(mapS3Error(answer('InternalError', 500, ''), at).message, /InternalError \(HTTP 500\)$/);
  });

  it('turns a 411 for a streamed body into one line that says to use checksumMode when-required', () => {
    for (const error of [answer('MissingContentLength', 411, ''), answer('UnknownError', 411, 'UnknownError')]) {
      const mapped = mapS3Error(error, at);
      assert.ok(isShmsnapError(mapped, 'REMOTE_FAILED'));
      assert.equal(mapped.retryable, false);
      assert.match(mapped.message, /use checksumMode when-required$/);
      assert.ok(!mapped.message.includes('\n'));
      assert.deepEqual(mapped.details['mentions'], ['checksumMode'], 'a frontend names the option its way');
    }
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

  it('makes a TLS failure a non-retryable REMOTE_FAILED that says what to change', () => {
    for (const code of ['DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY']) {
      const mapped = mapS3Error(network(code, 'self-signed certificate'), at);
      assert.ok(isShmsnapError(mapped, 'REMOTE_FAILED'), code);
      assert.equal(mapped.retryable, false, 'another attempt meets the same certificate');
      assert.equal(mapped.fault, 'remote');
      assert.match(mapped.message, new RegExp(`^s3 upload part 3 failed for s3://bkt/node1/ae001100\\.dat\\.gz: TLS: .*\\(${code}\\); .*caBundle or AWS_CA_BUNDLE$`));
      assert.deepEqual(mapped.details['mentions'], ['caBundle'], 'the frontend names the option its way');
      assert.equal(mapped.details['tls'], code);
    }
    // Wrapped by a caller: the cause chain is searched.
    assert.equal(mapS3Error(new Error('request failed', { cause: network('DEPTH_ZERO_SELF_SIGNED_CERT') }), at).details['tls'], 'DEPTH_ZERO_SELF_SIGNED_CERT');

    const mismatch = mapS3Error(Object.assign(network('ERR_TLS_CERT_ALTNAME_INVALID', "Hostname/IP does not match certificate's altnames"), { host: '127.0.0.1', cert: { subjectaltname: 'DNS:store.test' } }), at);
    assert.ok(isShmsnapError(mismatch, 'REMOTE_FAILED') && !mismatch.retryable);
    assert.match(mismatch.message, /TLS: the store's certificate is not for the endpoint's host name: it is for DNS:store\.test, not 127\.0\.0\.1 \(ERR_TLS_CERT_ALTNAME_INVALID\); use a host name the certificate holds/);
    assert.equal(mismatch.details['mentions'], undefined, 'a CA bundle would not help');

    const expired = mapS3Error(network('CERT_HAS_EXPIRED', 'certificate has expired'), at);
    assert.match(expired.message, /TLS: the store's certificate has expired/);
    const plain = mapS3Error(network('EPROTO', 'write EPROTO 80DC:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:ssl3_record.c:350:'), at);
    assert.ok(isShmsnapError(plain, 'REMOTE_FAILED'));
    assert.match(plain.message, /TLS: the endpoint does not answer TLS: does it take http:\/\/ rather than https:\/\/\?/);
    const handshake = mapS3Error(network('EPROTO', 'write EPROTO 80DC:error:0A000410:SSL routines:ssl3_read_bytes:sslv3 alert handshake failure:ssl3_record.c:1:'), at);
    assert.match(handshake.message, /TLS: the handshake with the endpoint failed \(sslv3 alert handshake failure\)$/);
  });

  it('wraps anything else with the plugin name and the step', () => {
    const mapped = mapS3Error(new TypeError('cannot read x of undefined'), at);
    assert.ok(isShmsnapError(mapped, 'PLUGIN_FAILED'));
    assert.equal(mapped.message, 's3 failed during upload part 3 of node1/ae001100.dat.gz: cannot read x of undefined');
  });
});
