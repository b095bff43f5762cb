import { describeCodecConformance } from '@shmsnap/core/testkit';
import { codecZstd } from './index.js';

describeCodecConformance({
  codec: codecZstd,
  // By design (zstd-worker-stream.ts): the 4 MiB readable buffer plus the worker's 8 credits of ≤ 1 MiB outputs (measured: 11 MiB held).
  maxBufferedBytes: 13 * 1024 * 1024,
});
