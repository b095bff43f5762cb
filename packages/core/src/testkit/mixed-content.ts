/** Compressible, deterministic bytes for the engine suites: hash noise, runs and counters in turn. */
import { createHash } from 'node:crypto';

export function contentOf(length: number, seed: string): Buffer {
  const out = Buffer.alloc(length);
  for (let at = 0, n = 0; at < length; n++) {
    const block = createHash('sha256').update(`${seed}:${n}`).digest();
    const kind = n % 4;
    if (kind === 0) at += block.copy(out, at);
    else if (kind === 1) {
      const end = Math.min(length, at + 200);
      out.fill(block[0]!, at, end);
      at = end;
    }
    else for (let i = 0; i < 32 && at < length; i++, at++) out[at] = (n + i) & 0xff;
  }
  return out;
}
