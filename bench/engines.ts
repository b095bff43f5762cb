// Engines measured on one core, in memory, on the same index-like bytes:
// the numbers behind the engine choices in ARCHITECTURE.md (node:zlib for
// gzip, zstd-napi for zstd, zlib.crc32 for CRC-32), with the alternatives the
// design named. Median of `runs`.
import { createRequire } from 'node:module';
import zlib from 'node:zlib';
import * as zstdWasm from '@bokuweb/zstd-wasm';
import CRC32 from 'crc-32';
import * as fflate from 'fflate';

const require = createRequire(import.meta.url);
const zstd = require('zstd-napi/binding') as {
  CCtx: new () => { setParameter(p: number, v: number): void; compress2(dst: Uint8Array, src: Uint8Array): number };
  DCtx: new () => { decompress(dst: Uint8Array, src: Uint8Array): number };
  CParameter: Record<string, number>;
  compressBound(n: number): number;
};

export interface EngineRow {
  readonly engine: string;
  readonly level: string;
  readonly compressMBps: number | null;
  readonly decompressMBps: number | null;
  readonly ratio: number | null;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function timed(runs: number, body: () => unknown): { seconds: number; value: unknown } {
  const times: number[] = [];
  let value: unknown;
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    value = body();
    times.push((performance.now() - t) / 1000);
  }
  return { seconds: median(times), value };
}

export async function measureEngines(data: Buffer, runs: number, note: (line: string) => void): Promise<EngineRow[]> {
  const mb = data.length / 1e6;
  const rows: EngineRow[] = [];
  const codec = (engine: string, level: string, compress: () => Uint8Array, decompress: (stored: Uint8Array) => Uint8Array): void => {
    note(`engines: ${engine} ${level}`);
    const c = timed(runs, compress);
    const stored = c.value as Uint8Array;
    const d = timed(runs, () => decompress(stored));
    if ((d.value as Uint8Array).length !== data.length) throw new Error(`${engine}: round trip lost bytes`);
    rows.push({ engine, level, compressMBps: mb / c.seconds, decompressMBps: mb / d.seconds, ratio: data.length / stored.length });
  };

  codec('node:zlib gzip', '1', () => zlib.gzipSync(data, { level: 1 }), (s) => zlib.gunzipSync(s));
  codec('fflate gzip', '1', () => fflate.gzipSync(data, { level: 1 }), (s) => fflate.gunzipSync(s));
  for (const [level, workers] of [[1, 0], [3, 0], [1, 2]] as const) {
    const cctx = new zstd.CCtx();
    cctx.setParameter(zstd.CParameter.compressionLevel!, level);
    if (workers) cctx.setParameter(zstd.CParameter.nbWorkers!, workers);
    const out = Buffer.allocUnsafe(zstd.compressBound(data.length));
    const dctx = new zstd.DCtx();
    const back = Buffer.allocUnsafe(data.length);
    codec('zstd-napi', workers ? `${level}, 2 workers` : String(level), () => out.subarray(0, cctx.compress2(out, data)), (s) => back.subarray(0, dctx.decompress(back, s)));
  }
  await zstdWasm.init();
  codec('@bokuweb/zstd-wasm', '1', () => zstdWasm.compress(data, 1), (s) => zstdWasm.decompress(s));

  const crcEngines: [string, (chunk: Buffer, previous: number) => number][] = [
    ['zlib.crc32 (chosen)', (chunk, previous) => zlib.crc32(chunk, previous)],
    ['crc-32 (pure JS, the design\'s)', (chunk, previous) => CRC32.buf(chunk, previous)],
  ];
  const slice = 8 << 20;
  for (const [engine, crc] of crcEngines) {
    note(`engines: ${engine}`);
    const t = timed(runs, () => {
      let value = 0;
      for (let offset = 0; offset < data.length; offset += slice) value = crc(data.subarray(offset, offset + slice), value);
      return value;
    });
    rows.push({ engine: `CRC-32: ${engine}`, level: '-', compressMBps: mb / t.seconds, decompressMBps: null, ratio: null });
  }
  return rows;
}
