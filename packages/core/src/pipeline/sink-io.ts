/**
 * Small reads and writes of whole objects (manifests, markers) and of object
 * heads (headers), bounded in size so that a hostile or mistaken object
 * cannot exhaust memory.
 */
import { once } from 'node:events';
import { Writable } from 'node:stream';
import type { Codec } from '../contracts/codec.js';
import type { Sink } from '../contracts/sink.js';
import { errSizeMismatch, isShmsnapError, toShmsnapError } from '../errors.js';
import { pipelineSettled } from './settle.js';
import { createObjectDecryptor, type ObjectCipher } from '../crypto/backup-cipher.js';

export async function writeObject(sink: Sink, name: string, bytes: Buffer, signal?: AbortSignal): Promise<void> {
  const writer = await sink.openWriter(name, { expectedBytes: bytes.length, ...(signal ? { signal } : {}) });
  try {
    const finished = once(writer.stream, 'finish');
    writer.stream.end(bytes);
    await finished;
    await writer.commit();
  } catch (error) {
    await writer.abort(error).catch(() => undefined);
    throw toShmsnapError(error, 'write', name);
  }
}

/** The object's bytes, or `undefined` when it does not exist. Fails if it is larger than `maxBytes`. */
export async function readObject(sink: Sink, name: string, maxBytes: number, signal?: AbortSignal): Promise<Buffer | undefined> {
  try {
    const info = await sink.stat(name, signal ? { signal } : {});
    if (!info) return undefined;
    if (info.size > maxBytes) throw errSizeMismatch(name, maxBytes, info.size, 'bytes at most');
    const stream = await sink.openReader(name, signal ? { signal } : {});
    const chunks: Buffer[] = [];
    let total = 0;
    for await (const chunk of stream) {
      total += (chunk as Buffer).length;
      if (total > maxBytes) {
        stream.destroy();
        throw errSizeMismatch(name, maxBytes, total, 'bytes at most');
      }
      chunks.push(chunk as Buffer);
    }
    return Buffer.concat(chunks);
  } catch (error) {
    if (isShmsnapError(error)) throw error;
    throw toShmsnapError(error, 'read', name);
  }
}

/** Stored bytes [start, end) of an object. */
export async function readRange(sink: Sink, object: string, start: number, end: number, signal?: AbortSignal): Promise<Buffer> {
  const stream = await sink.openReader(object, { range: { start, end }, ...(signal ? { signal } : {}) });
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).subarray(0, end - start);
}

/** Raw bytes from the start of an object, through its cipher (authenticated frames only) and codec (at most `bytes`, at most `rawSize`). */
export async function readRawHead(sink: Sink, object: string, codec: Codec, rawSize: number, bytes: number, signal?: AbortSignal, cipher?: ObjectCipher): Promise<Buffer> {
  const wanted = Math.min(bytes, rawSize);
  if (codec.identity && !cipher) return readRange(sink, object, 0, wanted, signal);
  // Decode only as far as needed, then stop the transfer.
  const stop = new AbortController();
  const chunks: Buffer[] = [];
  let got = 0;
  const collect = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(Buffer.from(chunk.subarray(0, wanted - got)));
      got += Math.min(chunk.length, wanted - got);
      callback();
      if (got >= wanted) stop.abort();
    },
  });
  const reader = await sink.openReader(object, signal ? { signal } : {});
  const decoder = codec.identity ? undefined : codec.createDecoder({ rawSize, objectName: object, signal: stop.signal });
  const decipher = cipher ? createObjectDecryptor(cipher, object) : undefined;
  try {
    await pipelineSettled([reader, decipher, decoder, collect].filter((s) => s !== undefined), signal ? AbortSignal.any([signal, stop.signal]) : stop.signal);
  } catch (error) {
    if (got < wanted) throw error;
  }
  return Buffer.concat(chunks);
}
