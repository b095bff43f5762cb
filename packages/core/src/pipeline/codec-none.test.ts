import { describeCodecConformance } from '../testkit/codec-conformance.js';
import { codecNone } from './codec-none.js';

describeCodecConformance({ codec: codecNone });
