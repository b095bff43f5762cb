// One shmsnap command, run in this process exactly as the CLI runs it, with
// what it cost: wall time, CPU seconds (all threads), and peak RSS without
// attached shared memory (RssAnon + RssFile, sampled every 10 ms by a worker
// thread so that a busy main thread cannot hide a peak). Prints one JSON line
// on stdout: { status, seconds, cpuSeconds, peakRssBytes, result }.
import { Writable } from 'node:stream';
import { Worker } from 'node:worker_threads';
import { runCli } from '@shmsnap/cli';

const sampler = new Worker(
  `const { parentPort } = require('node:worker_threads');
   const { readFileSync } = require('node:fs');
   let peak = 0;
   const sample = () => {
     const status = readFileSync('/proc/self/status', 'utf8');
     const kb = (field) => Number(new RegExp(field + ':\\\\s+(\\\\d+)').exec(status)?.[1] ?? 0);
     peak = Math.max(peak, (kb('RssAnon') + kb('RssFile')) * 1024);
   };
   sample();
   const timer = setInterval(sample, 10);
   parentPort.on('message', () => { sample(); clearInterval(timer); parentPort.postMessage(peak); });`,
  { eval: true },
);

let stdout = '';
const streams = {
  stdout: new Writable({ write: (chunk: Buffer, _e, cb) => ((stdout += chunk.toString()), cb()) }),
  stderr: new Writable({ write: (_chunk, _e, cb) => cb() }),
};
const cpu0 = process.cpuUsage();
const t0 = performance.now();
const status = await runCli(['node', 'shmsnap', ...process.argv.slice(2), '--json'], { streams });
const seconds = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
sampler.postMessage('stop');
const peakRssBytes = await new Promise<number>((resolve) => sampler.once('message', resolve));
await sampler.terminate();
process.stdout.write(`${JSON.stringify({ status, seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, peakRssBytes, result: JSON.parse(stdout || '{}') })}\n`);
