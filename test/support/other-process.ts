// Runs test/support/shm-writer.ts as a separate process: another program
// attaching and writing a segment while a backup reads it.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const WRITER = fileURLToPath(new URL('./shm-writer.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface OtherProcess {
  readonly pid: number;
  /** Resolves once the process has detached and exited (for `hold`: closes its stdin first). */
  finish(): Promise<void>;
}

/** Starts the writer and resolves once it has attached and written (`hold`) or also detached and exited (`detach`). */
export async function touchSegment(key: number, offset: number, byte: number, mode: 'detach' | 'hold'): Promise<OtherProcess> {
  const child: ChildProcessWithoutNullStreams = spawn(process.execPath, ['--import', 'tsx', WRITER, String(key), String(offset), String(byte), mode], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = once(child, 'close').then(([status]) => {
    if (status !== 0) throw new Error(`shm-writer exited ${String(status)}: ${stderr}`);
  });
  const attached = new Promise<void>((resolve, reject) => {
    const look = (): void => {
      if (/^attached \d+$/m.test(stdout)) resolve();
    };
    child.stdout.on('data', look);
    exited.then(() => reject(new Error(`shm-writer ended before attaching: ${stdout}${stderr}`)), reject);
  });
  attached.catch(() => undefined); // awaited below only for `hold`; `detach` awaits the exit
  await (mode === 'detach' ? exited : attached);
  return {
    pid: child.pid!,
    async finish() {
      child.stdin.end();
      await exited;
    },
  };
}
