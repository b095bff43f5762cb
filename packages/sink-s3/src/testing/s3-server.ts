/**
 * s3rver 3.7.1 in this process, for tests: 127.0.0.1, a free port, a temp
 * data directory, no logging. s3rver checks no signatures (any secret works
 * with access key `S3RVER`) and answers AbortMultipartUpload with 405.
 *
 * `stop()` drops open connections rather than waiting for them, like a
 * server that dies; `restart()` brings it back on the same port over the
 * same data, for tests of what a failed upload left behind.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The part of s3rver's (untyped, CommonJS) API these helpers use. */
interface S3rverInstance {
  run(): Promise<{ port: number }>;
  close(): Promise<void>;
  readonly httpServer?: Server;
}
type S3rverConstructor = new (options: {
  address: string;
  port: number;
  silent: boolean;
  directory: string;
  configureBuckets: { name: string }[];
}) => S3rverInstance;

export interface S3ServerOptions {
  /** Buckets that exist from the start. @default ['test'] */
  readonly buckets?: readonly string[];
}

export interface S3TestServer {
  /** `http://127.0.0.1:<port>` */
  readonly endpoint: string;
  readonly port: number;
  /** Where s3rver keeps buckets and objects. */
  readonly directory: string;
  /** Stops the server, dropping open connections; removes the data unless `keepData`. */
  stop(options?: { readonly keepData?: boolean }): Promise<void>;
  /** Starts it again (stopping it first if running) on the same port with the same data. */
  restart(): Promise<void>;
}

function loadS3rver(): S3rverConstructor {
  // Loaded on first use: only tests need s3rver, and it is CommonJS.
  const require = createRequire(import.meta.url);
  return require('s3rver') as S3rverConstructor;
}

export async function startS3Server(options: S3ServerOptions = {}): Promise<S3TestServer> {
  const S3rver = loadS3rver();
  const directory = await mkdtemp(join(tmpdir(), 'shmsnap-s3rver-'));
  const buckets = (options.buckets ?? ['test']).map((name) => ({ name }));
  let instance: S3rverInstance | undefined;

  const launch = async (port: number): Promise<number> => {
    const server = new S3rver({ address: '127.0.0.1', port, silent: true, directory, configureBuckets: buckets });
    const address = await server.run();
    instance = server;
    return address.port;
  };
  const halt = async (): Promise<void> => {
    const running = instance;
    if (!running) return;
    instance = undefined;
    const closed = running.close();
    running.httpServer?.closeAllConnections();
    await closed;
  };

  let port: number;
  try {
    port = await launch(0);
  } catch (error) {
    await rm(directory, { recursive: true, force: true });
    throw error;
  }
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    directory,
    async stop(stopOptions = {}) {
      await halt();
      if (!stopOptions.keepData) await rm(directory, { recursive: true, force: true });
    },
    async restart() {
      await halt();
      await launch(port);
    },
  };
}
