import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mapAzureError } from './azure-errors.js';
import { withDeadline } from './deadline.js';

/** A request that never answers: it settles only when its signal aborts, as the SDK's do. */
const silent = (signal: AbortSignal): Promise<never> =>
  new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(Object.assign(new Error('The operation was aborted.'), { name: 'AbortError' })), { once: true }));

const at = { step: 'stat', location: 'azblob://a/c', container: 'c', where: 'azblob://a/c/x', secrets: [] };

describe('request deadline', () => {
  it('a request without an answer fails at the deadline, as a retryable network failure', async () => {
    const error = await withDeadline(undefined, 20, silent).then(
      () => assert.fail('must fail'),
      (e: unknown) => e,
    );
    const mapped = mapAzureError(error, at);
    assert.equal(mapped.code, 'REMOTE_FAILED');
    assert.equal(mapped.retryable, true);
  });

  it("the caller's abort is still the caller's (ABORTED), and an answer in time passes", async () => {
    const controller = new AbortController();
    const pending = withDeadline(controller.signal, 60_000, silent);
    controller.abort();
    const error = await pending.then(
      () => assert.fail('must fail'),
      (e: unknown) => e,
    );
    assert.equal(mapAzureError(error, { ...at, signal: controller.signal }).code, 'ABORTED');
    assert.equal(await withDeadline(undefined, 60_000, async () => 7), 7);
  });
});
