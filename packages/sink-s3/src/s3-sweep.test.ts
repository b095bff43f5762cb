// The S3 sweep's logic against a scripted client: pages of ListMultipartUploads followed by their
// markers, only uploads under the sink's prefix (never a sibling's), older than the threshold and no
// deeper than `depth`, aborted one by one; a store that does not implement the listing said as such.
// (The real stores run the conformance case `sweep`, s3-sink.integ.test.ts.)
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AbortMultipartUploadCommand, ListMultipartUploadsCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { createS3Sink } from './s3-sink.js';

const old = new Date('2026-11-01T00:00:00Z');
const young = new Date('2026-12-02T00:00:00Z');
const threshold = new Date('2026-12-01T00:00:00Z');

type Sent = { name: string; input: Record<string, unknown> };

function scriptedClient(pages: Record<string, unknown>[], abort: (input: Record<string, unknown>) => void = () => undefined): { client: S3Client; sent: Sent[] } {
  const sent: Sent[] = [];
  const client = {
    async send(command: { input: Record<string, unknown> }) {
      if (command instanceof ListMultipartUploadsCommand) {
        sent.push({ name: 'list', input: command.input });
        const page = pages.shift();
        if (!page) throw new Error('no more pages scripted');
        return page;
      }
      if (command instanceof AbortMultipartUploadCommand) {
        sent.push({ name: 'abort', input: command.input });
        abort(command.input);
        return {};
      }
      throw new Error(`unexpected ${command.constructor.name}`);
    },
    destroy() {},
  } as unknown as S3Client;
  return { client, sent };
}

describe('s3 sweep', () => {
  it('follows the key and upload-id markers, and aborts only old uploads under the prefix, no deeper than depth', async () => {
    const { client, sent } = scriptedClient([
      {
        IsTruncated: true, NextKeyMarker: 'nodes/a/0/t/ae001100.dat', NextUploadIdMarker: 'u2',
        Uploads: [
          { Key: 'nodes/a/0/t/ae001100.dat', UploadId: 'u1', Initiated: old },
          { Key: 'nodes/a/0/t/ae001100.dat', UploadId: 'u2', Initiated: young },
        ],
      },
      {
        IsTruncated: false,
        Uploads: [
          { Key: 'nodes/b/0/t/ae001000.dat', UploadId: 'u3', Initiated: old },
          { Key: 'nodes/b/0/t/deeper/ae001000.dat', UploadId: 'u4', Initiated: old },
          { Key: 'nodes2/x.dat', UploadId: 'u5', Initiated: old },
        ],
      },
    ]);
    const sink = await createS3Sink('s3://bucket/nodes', { client });
    const result = await sink.sweep!({ olderThan: threshold, depth: 3 });
    assert.deepEqual(sent.filter((s) => s.name === 'list').map((s) => [s.input.Prefix, s.input.KeyMarker, s.input.UploadIdMarker]), [
      ['nodes/', undefined, undefined],
      ['nodes/', 'nodes/a/0/t/ae001100.dat', 'u2'],
    ]);
    assert.deepEqual(sent.filter((s) => s.name === 'abort').map((s) => [s.input.Key, s.input.UploadId]), [['nodes/a/0/t/ae001100.dat', 'u1'], ['nodes/b/0/t/ae001000.dat', 'u3']]);
    assert.deepEqual(result.entries.map((e) => [e.name, e.kind, e.removed, e.startedAt?.toISOString()]), [
      ['a/0/t/ae001100.dat', 'write', true, old.toISOString()],
      ['b/0/t/ae001000.dat', 'write', true, old.toISOString()],
    ]);
  });

  it('a dry run aborts nothing; a refused abort is reported, not thrown; an upload gone meanwhile is no leftover', async () => {
    const page = { IsTruncated: false, Uploads: [{ Key: 'p/a.dat', UploadId: 'u1', Initiated: old }, { Key: 'p/b.dat', UploadId: 'u2', Initiated: old }] };
    const dry = scriptedClient([page]);
    const result = await (await createS3Sink('s3://bucket/p', { client: dry.client })).sweep!({ olderThan: threshold, dryRun: true });
    assert.deepEqual(result.entries.map((e) => [e.name, e.removed]), [['a.dat', false], ['b.dat', false]]);
    assert.equal(dry.sent.filter((s) => s.name === 'abort').length, 0);

    const refusing = scriptedClient([page], (input) => {
      const status = input.UploadId === 'u1' ? 405 : 404;
      throw new S3ServiceException({ name: status === 405 ? 'MethodNotAllowed' : 'NoSuchUpload', $fault: 'client', $metadata: { httpStatusCode: status }, message: 'no' });
    });
    const swept = await (await createS3Sink('s3://bucket/p', { client: refusing.client })).sweep!({ olderThan: threshold });
    assert.deepEqual(swept.entries.map((e) => [e.name, e.removed, typeof e.error]), [['a.dat', false, 'string']]);
  });

  it('a store without ListMultipartUploads (501 NotImplemented) is said as unsupported', async () => {
    const client = {
      async send() {
        throw new S3ServiceException({ name: 'NotImplemented', $fault: 'server', $metadata: { httpStatusCode: 501 }, message: 'A parameter you provided implies functionality that is not implemented' });
      },
      destroy() {},
    } as unknown as S3Client;
    const result = await (await createS3Sink('s3://bucket/p', { client })).sweep!({ olderThan: threshold });
    assert.deepEqual(result.entries, []);
    assert.match(result.unsupported ?? '', /does not list multipart uploads \(NotImplemented\)/);
  });
});
