#!/usr/bin/env node
import { runAsmt } from '../asmt/asmt-main.js';

process.exitCode = await runAsmt(process.argv);
