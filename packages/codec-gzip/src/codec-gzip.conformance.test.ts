import { finished } from 'node:stream/promises';
import { hasPieceIndex, type Codec, type PieceIndex } from '@shmsnap/core';
import { describeCodecConformance } from '@shmsnap/core/testkit';
import { codecGzip } from './index.js';

describeCodecConformance({
  codec: codecGzip,
  // The inflater pauses as soon as the 64 KiB readable buffer is full (measured: 64 KiB held); 1 MiB is the bound gzip has always been held to.
  maxBufferedBytes: 1024 * 1024,
});

/**
 * The same kit through the parallel piece decoder: every object the kit
 * encodes has its index remembered, and decoding an object of that raw size
 * gets it, as a restore gets it from the manifest: truncated, flipped and
 * extended objects are then decoded against the index of the intact one.
 */
function indexedGzip(): Codec {
  const indexes = new Map<number, PieceIndex>();
  return {
    ...codecGzip,
    createEncoder(options) {
      const encoder = codecGzip.createEncoder(options);
      void finished(encoder, { readable: true, writable: false }).then(
        () => {
          const index = hasPieceIndex(encoder) ? encoder.pieceIndex() : undefined;
          if (index) indexes.set(options.rawSize, index);
        },
        () => undefined,
      );
      return encoder;
    },
    createDecoder(options) {
      const pieces = indexes.get(options.rawSize);
      return codecGzip.createDecoder(pieces ? { ...options, pieces } : options);
    },
  };
}

describeCodecConformance({
  codec: indexedGzip(),
  name: 'gzip (indexed, parallel decode)',
  // At most 2 groups of 2 MiB in flight and one pushed ahead: the bound is by design, not the stream's 64 KiB.
  maxBufferedBytes: 8 * 1024 * 1024,
});
