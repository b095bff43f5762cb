// Raw objects straight into the segment, in ranges: the CRC-32 is combined
// across ranges in order, sizes are exact, and a failure in one range stops
// the others before the copy reports it.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import type { RandomReader } from '../contracts/sink.js';
import type { DirectWindows } from '../contracts/target.js';
import { isShmsnapError } from '../errors.js';
import { crc32 } from './checksum.js';
import { copyDirect } from './direct-copy.js';

interface Probe {
  inFlight: number;
  maxInFlight: number;
  reads: number;
}

function readerOf(data: Buffer, probe: Probe, options: { size?: number; failAt?: number; shortAt?: number } = {}): RandomReader {
  return {
    size: options.size ?? data.length,
    async read(target, position) {
      probe.inFlight += 1;
      probe.maxInFlight = Math.max(probe.maxInFlight, probe.inFlight);
      probe.reads += 1;
      try {
        await new Promise((resolve) => setImmediate(resolve));
        if (options.failAt !== undefined && position === options.failAt) throw Object.assign(new Error('EIO'), { code: 'EIO' });
        const end = options.shortAt !== undefined && position >= options.shortAt ? position : Math.min(data.length, position + target.length);
        const got = Math.max(0, end - position);
        data.copy(target, 0, position, position + got);
        return got;
      } finally {
        probe.inFlight -= 1;
      }
    },
    close: async () => undefined,
  };
}

function windowsOf(memory: Buffer): DirectWindows & { written: number } {
  const windows = {
    written: 0,
    maxViewBytes: 1 << 20,
    view: (offset: number, length: number) => memory.subarray(offset, offset + length),
    wrote: (bytes: number) => {
      windows.written += bytes;
    },
  };
  return windows;
}

const signal = new AbortController().signal;
const probe = (): Probe => ({ inFlight: 0, maxInFlight: 0, reads: 0 });

describe('copyDirect', () => {
  it('copies every byte in ranges, several at once, and combines their CRC-32s in order', async () => {
    const data = randomBytes(3 * 65_536 + 5);
    const memory = Buffer.alloc(data.length);
    const p = probe();
    const windows = windowsOf(memory);
    const crc = await copyDirect(readerOf(data, p), windows, { object: 'x.dat', size: data.length, expectedCrc32: crc32(data), rangeBytes: 65_536, inFlight: 3, signal });
    assert.equal(crc, crc32(data));
    assert.ok(memory.equals(data));
    assert.equal(windows.written, data.length);
    assert.equal(p.maxInFlight, 3, 'ranges ran in parallel, bounded');
  });

  it('handles a segment of zero bytes', async () => {
    assert.equal(await copyDirect(readerOf(Buffer.alloc(0), probe()), windowsOf(Buffer.alloc(0)), { object: 'x.dat', size: 0, expectedCrc32: 0, signal }), 0);
  });

  it('refuses an object whose size differs before writing a byte', async () => {
    const data = randomBytes(1000);
    const windows = windowsOf(Buffer.alloc(1000));
    await assert.rejects(copyDirect(readerOf(data, probe(), { size: 999 }), windows, { object: 'x.dat', size: 1000, signal }), (e: unknown) => isShmsnapError(e, 'SIZE_MISMATCH') && e.details.actual === 999);
    assert.equal(windows.written, 0);
  });

  it('fails on a wrong CRC-32, on an object that shrinks, and on bytes past the recorded size', async () => {
    const data = randomBytes(200_000);
    await assert.rejects(copyDirect(readerOf(data, probe()), windowsOf(Buffer.alloc(data.length)), { object: 'x.dat', size: data.length, expectedCrc32: crc32(data) ^ 1, rangeBytes: 65_536, signal }), (e: unknown) => isShmsnapError(e, 'CHECKSUM_MISMATCH'));
    await assert.rejects(copyDirect(readerOf(data, probe(), { shortAt: 131_072 }), windowsOf(Buffer.alloc(data.length)), { object: 'x.dat', size: data.length, rangeBytes: 65_536, signal }), (e: unknown) => isShmsnapError(e, 'SIZE_MISMATCH'));
    const longer = Buffer.concat([data, Buffer.from([7])]);
    await assert.rejects(copyDirect(readerOf(longer, probe(), { size: data.length }), windowsOf(Buffer.alloc(data.length)), { object: 'x.dat', size: data.length, rangeBytes: 65_536, signal }), (e: unknown) => isShmsnapError(e, 'SIZE_MISMATCH') && /or more/.test(e.message));
  });

  it('a failure in one range stops the others, and is reported only once every range in flight settled', async () => {
    const data = randomBytes(10 * 65_536);
    const p = probe();
    await assert.rejects(copyDirect(readerOf(data, p, { failAt: 2 * 65_536 }), windowsOf(Buffer.alloc(data.length)), { object: 'x.dat', size: data.length, rangeBytes: 65_536, inFlight: 3, signal }), (e: unknown) => (e as { code?: string }).code === 'EIO');
    assert.equal(p.inFlight, 0, 'nothing still writes into the segment');
    assert.ok(p.reads < 10, `the other ranges were not all read (${p.reads})`);
  });

  it('with prefault, faults each read range in while it is read, and settles every prefault before it resolves, even on failure', async () => {
    const data = Buffer.concat([randomBytes(3 * 65_536), Buffer.alloc(65_536)]);
    for (const failAt of [undefined, 65_536]) {
      const windows = windowsOf(Buffer.alloc(data.length));
      const asked: number[] = [];
      let running = 0;
      const prefault = async (offset: number): Promise<void> => {
        asked.push(offset);
        running += 1;
        await new Promise((resolve) => setTimeout(resolve, 5));
        running -= 1;
      };
      const copy = copyDirect(readerOf(data, probe(), failAt === undefined ? {} : { failAt }), { ...windows, prefault }, { object: 'x.dat', size: data.length, rangeBytes: 65_536, inFlight: 2, prefault: true, zeroRanges: [[3 * 65_536, 65_536]], signal });
      if (failAt === undefined) assert.equal(await copy, crc32(data));
      else await assert.rejects(copy, (e: unknown) => (e as { code?: string }).code === 'EIO');
      assert.equal(running, 0, 'no prefault still touches the segment');
      if (failAt === undefined) assert.deepEqual([...asked].sort((a, b) => a - b), [0, 65_536, 2 * 65_536], 'every read range, and no zero range');
    }
  });

  it('without the prefault option, never calls prefault (pread faults in the kernel)', async () => {
    const data = randomBytes(2 * 65_536);
    let calls = 0;
    const windows = { ...windowsOf(Buffer.alloc(data.length)), prefault: async () => void (calls += 1) };
    await copyDirect(readerOf(data, probe()), windows, { object: 'x.dat', size: data.length, rangeBytes: 65_536, signal });
    assert.equal(calls, 0);
  });

  it('stops on abort', async () => {
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(copyDirect(readerOf(randomBytes(1000), probe()), windowsOf(Buffer.alloc(1000)), { object: 'x.dat', size: 1000, signal: controller.signal }), (e: unknown) => isShmsnapError(e, 'ABORTED'));
  });
});
