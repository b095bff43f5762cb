#!/usr/bin/env node
import { runAsmt } from '../asmt/asmt-main.js';
import { surviveClosedPipes } from '../render/output.js';

// A reader that leaves early (`asmt -a ... | head -1`) must not turn the run into a stack trace.
surviveClosedPipes();
process.exitCode = await runAsmt(process.argv);
