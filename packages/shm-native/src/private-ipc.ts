/**
 * Runs the current process again inside a private IPC namespace
 * (`unshare --ipc`), so that the segments it creates are invisible to the
 * host and vanish with it. Used by `shmsnap demo` and by every test file that
 * touches shared memory (one namespace per test process).
 *
 * Call it before doing anything else: in the outer process it never returns
 * (it exits with the inner process's status); in the inner one it returns at
 * once. Ctrl-C reaches the inner process directly (same process group), so
 * the outer one ignores SIGINT and only forwards SIGTERM.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';

export const PRIVATE_IPC_ENV = 'SHMSNAP_PRIVATE_IPC';

export function isInPrivateIpcNamespace(): boolean {
  return process.env[PRIVATE_IPC_ENV] === '1';
}

export async function enterPrivateIpcNamespace(): Promise<void> {
  if (isInPrivateIpcNamespace()) return;
  const child = spawn('unshare', ['--ipc', process.execPath, ...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, [PRIVATE_IPC_ENV]: '1' },
  });
  const ignore = (): void => undefined;
  const forward = (signal: NodeJS.Signals): void => {
    child.kill(signal);
  };
  process.on('SIGINT', ignore);
  process.on('SIGTERM', forward);
  const status = await new Promise<number>((resolve) => {
    child.on('error', (error) => {
      process.stderr.write(`shmsnap: cannot enter a private IPC namespace with 'unshare --ipc' (${error.message}); it needs util-linux and root\n`);
      resolve(1);
    });
    child.on('exit', (code, signal) => resolve(code ?? 128 + (signal ? constants.signals[signal] : 1)));
  });
  process.exit(status);
}

