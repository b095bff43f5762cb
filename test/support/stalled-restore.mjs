// A `shmsnap restore` (the built CLI's own runCli, restore command, shm
// target and signal handling) from a backup whose one object never yields a
// byte: reading it opens a FIFO the blocking way, so a thread of libuv's pool
// waits in open(2) forever — what a hung file system does to a read. The
// local sink refuses FIFOs, so this sink stands in for such a file system.
//
//   node stalled-restore.mjs <backup dir> <blocked object> <fifo> <interrupt deadline ms>
import { createReadStream } from 'node:fs';
import { createLocalSink } from '@shmsnap/sink-local';
import { createDefaultRegistry, runCli } from '../../packages/cli/dist/index.js';

const [dir, blocked, fifo, deadlineMs] = process.argv.slice(2);
const registry = createDefaultRegistry();
registry.registerSink({
  schemes: ['stalled'],
  create() {
    const local = createLocalSink(dir);
    return {
      name: 'stalled',
      location: local.location,
      // Streams only: no positional or ranged reads, so every object goes through openReader.
      capabilities: { ...local.capabilities, rangedReads: false },
      openWriter: (name, options) => local.openWriter(name, options),
      stat: (name, options) => local.stat(name, options),
      list: (prefix, options) => local.list(prefix, options),
      remove: (name, options) => local.remove(name, options),
      async openReader(name, options) {
        if (name !== blocked) return local.openReader(name, options);
        return createReadStream(fifo, options?.signal ? { signal: options.signal } : {});
      },
    };
  },
});
process.exitCode = await runCli(['node', 'shmsnap', 'restore', '--from', 'stalled://backup', '--threads', '1'], {
  registry,
  interruptDeadlineMs: Number(deadlineMs),
});
