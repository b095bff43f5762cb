/**
 * Which asd build this host would start: `asd --version` (it prints the
 * build and exits; the server is not started), found on PATH. Recorded in
 * the manifest at backup time and compared by pre-flight: another build at
 * the next start is something the operator should know. Safe to run beside
 * a restore: asd's option parser (as/src/base/as.c) prints
 * "<edition> build <id>" for `--version` and returns before reading its
 * configuration, and any option it does not know prints its usage and exits
 * 1; neither touches shared memory. Never fails: a
 * missing binary, a non-zero exit or no answer within the timeout is null.
 */
import { execFile } from 'node:child_process';

export interface AsdBuildOptions {
  /** The binary to ask. @default 'asd' (from PATH) */
  readonly command?: string;
  /** @default 2000 */
  readonly timeoutMs?: number;
}

/** The first line `asd --version` prints (at most 200 characters), or null. */
export function readAsdBuild(options: AsdBuildOptions = {}): Promise<string | null> {
  return new Promise((resolve) => {
    execFile(options.command ?? 'asd', ['--version'], { timeout: options.timeoutMs ?? 2000, maxBuffer: 64 * 1024, killSignal: 'SIGKILL' }, (error, stdout, stderr) => {
      if (error) return resolve(null);
      const line = `${stdout}\n${stderr}`.split('\n').map((l) => l.trim()).find((l) => l !== '');
      resolve(line === undefined ? null : line.slice(0, 200));
    });
  });
}
