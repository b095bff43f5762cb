import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { isShmsnapError } from '@shmsnap/core';
import { type RetryEvent } from '@shmsnap/core/plugin-kit';
import { createS3SinkProvider, s3SinkProvider } from './provider.js';
import { useS3rverCredentials } from './testing/index.js';

/** A module hook that makes loading any AWS SDK package fail, registered before the test's code runs. */
const refuseSdk = `data:text/javascript,${encodeURIComponent(`
export async function resolve(specifier, context, next) {
  if (specifier.startsWith('@aws-sdk/')) throw new Error('the AWS SDK was loaded: ' + specifier);
  return next(specifier, context);
}`)}`;
const register = `data:text/javascript,${encodeURIComponent(`import { register } from 'node:module'; register(${JSON.stringify(refuseSdk)});`)}`;

describe('s3SinkProvider', () => {
  it('loads without the AWS SDK, which only create() loads', () => {
    // The built entry, as a program that registers the provider imports it.
    const entry = new URL('../dist/provider.js', import.meta.url).href;
    const script = `
      const { s3SinkProvider } = await import(${JSON.stringify(entry)});
      console.log('schemes ' + s3SinkProvider.schemes.join(','));
      await s3SinkProvider.create('s3://bucket/prefix').then(() => console.log('created'), (error) => console.log('create: ' + error.message));
    `;
    const child = spawnSync(process.execPath, ['--import', register, '--input-type=module', '-e', script], { encoding: 'utf8' });
    assert.equal(child.status, 0, child.stderr);
    assert.match(child.stdout, /^schemes s3$/m);
    assert.match(child.stdout, /^create: the AWS SDK was loaded: @aws-sdk\//m);
  });

  it('composes withRetry: listings and the writer retry under the provider policy', async () => {
    useS3rverCredentials();
    const events: RetryEvent[] = [];
    const provider = createS3SinkProvider({ retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 2, onRetry: (event) => events.push(event) } });
    // Nothing listens on port 9: every request fails with a retryable connection error.
    const sink = await provider.create('s3://bucket/prefix', { endpoint: 'http://127.0.0.1:9' });
    try {
      assert.equal(sink.name, 's3');
      assert.equal(sink.location, 's3://bucket/prefix');
      await assert.rejects(sink.list(''), (error) => isShmsnapError(error, 'REMOTE_FAILED') && error.retryable);
      assert.deepEqual(events.map((e) => [e.what, e.attempt]), [['s3 list', 1], ['s3 list', 2]]);
      events.length = 0;
      await assert.rejects(sink.openWriter('ae001100.dat', { expectedBytes: 1 }), (error) => isShmsnapError(error, 'REMOTE_FAILED'));
      assert.equal(events.length, 2, events.map((e) => e.what).join('; '));
    } finally {
      await sink.close?.();
    }
  });

  it('redacts locations without loading the sink', () => {
    assert.equal(s3SinkProvider.redact?.('s3://key:secret@bucket/prefix?X-Amz-Signature=abc'), 's3://bucket/prefix');
  });
});
