import { describeFrameCipherConformance } from '../testkit/frame-cipher-conformance.js';
import { nodeFrameCipher } from './node-frame-cipher.js';

describeFrameCipherConformance({ cipher: nodeFrameCipher });
