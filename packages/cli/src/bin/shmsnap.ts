#!/usr/bin/env node
import { holdInterruptsUntilExit } from '../interrupt.js';
import { runCli } from '../program.js';
import { surviveClosedPipes } from '../render/output.js';

// From the first line to the last: a signal as the process ends cannot turn a printed result into a kill.
// process.exit, not a drained event loop: Node would close its signal handles first (see interrupt.ts).
// Output is written synchronously on Linux (files, pipes, terminals), so none is lost.
holdInterruptsUntilExit();
// `shmsnap ls | head -1`: a reader that leaves early changes nothing but what it reads (render/output.ts).
surviveClosedPipes();
process.exit(await runCli(process.argv));
