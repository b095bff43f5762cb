// Runs the built shmsnap CLI, but only once its modules are loaded and a
// tracer is attached: it imports the CLI (and libzstd's binding, loaded
// lazily otherwise), prints FAULTS-READY on stderr, and waits for SIGUSR2.
// The fault harness attaches `strace -f -p` in between, so strace's per-call
// counting starts after Node's start-up and module loading: every counted
// call is one the run itself makes (harness.ts).
const cli = new URL('../../packages/cli/dist/', import.meta.url);
const { holdInterruptsUntilExit } = await import(new URL('interrupt.js', cli).href);
const { runCli } = await import(new URL('program.js', cli).href);
const { surviveClosedPipes } = await import(new URL('render/output.js', cli).href);
const { codecZstd } = await import('@shmsnap/codec-zstd');
try {
  codecZstd.readHeader(Buffer.from('28b52ffd2401090000', 'hex'), 'warm-up');
} catch {
  // Only the binding's loading matters here.
}
const keepAlive = setInterval(() => undefined, 1 << 30);
await new Promise((resolve) => {
  process.once('SIGUSR2', resolve);
  process.stderr.write('FAULTS-READY\n');
});
clearInterval(keepAlive);
holdInterruptsUntilExit();
surviveClosedPipes();
const bin = new URL('bin/shmsnap.js', cli).pathname;
process.exit(await runCli([process.execPath, bin, ...process.argv.slice(2)]));
