/**
 * Whole small objects (manifests, markers) in and out of a sink, bounded in
 * size so that a hostile or mistaken object cannot exhaust memory.
 */
import { once } from 'node:events';
import { errSizeMismatch, isShmsnapError, withPluginContext } from './errors.js';
import type { Sink } from './sink.js';

export async function writeObject(sink: Sink, name: string, bytes: Buffer, signal?: AbortSignal): Promise<void> {
  let writer;
  try {
    writer = await sink.openWriter(name, { expectedBytes: bytes.length, ...(signal ? { signal } : {}) });
  } catch (error) {
    throw withPluginContext(error, sink.name, `openWriter ${name}`);
  }
  try {
    const finished = once(writer.stream, 'finish');
    writer.stream.end(bytes);
    await finished;
    await writer.commit();
  } catch (error) {
    await writer.abort(error).catch(() => undefined);
    throw withPluginContext(error, sink.name, `write ${name}`);
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
    throw withPluginContext(error, sink.name, `read ${name}`);
  }
}
