import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isShmsnapError } from '@shmsnap/core';
import { createS3Client } from './s3-client.js';
import { resolveS3SinkOptions } from './s3-options.js';

describe('S3 client and options', () => {
  it('silences only the SDK Node version warning, and leaves the environment as it was', async () => {
    // Recorded rather than printed; no filter may swallow the unrelated one.
    const warnings: string[] = [];
    const emitWarning = process.emitWarning;
    process.emitWarning = ((warning: string | Error) => {
      warnings.push(String(warning).split('\n')[0]!);
    }) as typeof process.emitWarning;
    try {
      const client = createS3Client(resolveS3SinkOptions({ endpoint: 'http://127.0.0.1:9' }, {}));
      process.emitWarning('an unrelated warning');
      assert.equal(process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'], undefined);
      assert.deepEqual(warnings, ['an unrelated warning']);
      assert.equal(await client.config.maxAttempts(), 1, 'retries belong to one layer: ours');
      assert.equal(await client.config.requestChecksumCalculation(), 'WHEN_REQUIRED');
      assert.equal(await client.config.responseChecksumValidation(), 'WHEN_REQUIRED');
      assert.equal(client.config.forcePathStyle, true);
      client.destroy();
    } finally {
      process.emitWarning = emitWarning;
    }
  });

  it('defaults from the environment and checks every option', () => {
    const fromEnv = resolveS3SinkOptions({}, { AWS_REGION: 'eu-west-3', AWS_ENDPOINT_URL_S3: 'http://minio:9000' });
    assert.equal(fromEnv.region, 'eu-west-3');
    assert.equal(fromEnv.endpoint, 'http://minio:9000');
    assert.equal(fromEnv.forcePathStyle, true);
    const plain = resolveS3SinkOptions({}, {});
    assert.equal(plain.region, 'us-east-1');
    assert.equal(plain.forcePathStyle, false);
    assert.equal(plain.partSizeBytes, 8 * 1024 * 1024);
    assert.equal(plain.maxParts, 10_000);
    assert.equal(plain.uploadConcurrency, 4);
    assert.equal(plain.checksumMode, 'when-required');
    assert.equal(resolveS3SinkOptions({ partSizeBytes: 5 * 1024 * 1024 + 1 }, {}).partSizeBytes, 6 * 1024 * 1024);
    for (const bad of [
      { partSizeBytes: 4 * 1024 * 1024 },
      { maxParts: 0 },
      { maxParts: 10_001 },
      { uploadConcurrency: 0 },
      { sseKmsKeyId: 'key' },
      { serverSideEncryption: 'rot13' as 'AES256' },
      { checksumMode: 'always' as 'when-required' },
      { endpoint: 'minio:9000' },
    ]) {
      assert.throws(() => resolveS3SinkOptions(bad, {}), (error) => isShmsnapError(error, 'CONFIG_INVALID'), JSON.stringify(bad));
    }
  });
});
