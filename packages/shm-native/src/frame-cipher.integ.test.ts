import assert from 'node:assert/strict';
import { it } from 'node:test';
import { describeFrameCipherConformance } from '@shmsnap/core/testkit';
import { loadShmBinding } from './binding.js';
import { addonFrameCipher } from './frame-cipher.js';
import { createFakeShmBinding } from './testing/index.js';

// The real addon, built by the test run's bootstrap: its AES-256-GCM against node:crypto's.
const cipher = addonFrameCipher(loadShmBinding());
assert.ok(cipher, 'the addon built from this tree has gcmSeal and gcmOpen');
describeFrameCipherConformance({ cipher });

it('offers no frame cipher on the in-memory binding (the pipelines keep node:crypto)', () => {
  assert.equal(addonFrameCipher(createFakeShmBinding()), undefined);
});
