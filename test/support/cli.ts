// Runs the built CLI as a user would, capturing exit status and output.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const SHMSNAP_BIN = fileURLToPath(new URL('../../packages/cli/dist/bin/shmsnap.js', import.meta.url));

export interface CliRun {
  readonly status: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export function runShmsnap(args: readonly string[], options: { env?: NodeJS.ProcessEnv; bin?: string } = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [options.bin ?? SHMSNAP_BIN, ...args], {
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (status, signal) => resolve({ status, signal, stdout, stderr }));
  });
}
