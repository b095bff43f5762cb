import { describeCodecConformance } from '@shmsnap/core/testkit';
import { codecGzip } from './index.js';

describeCodecConformance({
  codec: codecGzip,
  // The inflater pauses as soon as the 64 KiB readable buffer is full (measured: 64 KiB held); 1 MiB is the bound gzip has always been held to.
  maxBufferedBytes: 1024 * 1024,
});
