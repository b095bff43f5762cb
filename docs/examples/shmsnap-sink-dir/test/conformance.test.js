// The plugin's own tests: core's sink conformance kit, on a fresh directory per case.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeSinkConformance } from '@shmsnap/core/testkit';
import { createDirSink } from '../dir-sink.js';

describeSinkConformance({
  name: 'dir',
  async setup() {
    const root = await mkdtemp(join(tmpdir(), 'shmsnap-sink-dir-'));
    return { sink: createDirSink(`dir://${root}/location`), cleanup: () => rm(root, { recursive: true, force: true }) };
  },
});
