/**
 * Azurite (Microsoft's Azure Storage emulator, `azurite@3.37.0` from npm),
 * Blob service only, for tests and for the CLI's end-to-end tests: a child
 * process on 127.0.0.1, a free port, a temporary data directory, no access
 * log. Azurite checks Shared Key signatures (a wrong key is a real 403) and
 * knows the well-known development account `devstoreaccount1`, whose key is
 * public (Azure's documentation prints it).
 *
 * `stop()` ends it by PID (SIGTERM, then SIGKILL after 5 s) and removes the
 * data; should a test process exit without calling it, an exit hook kills it
 * all the same, so no emulator outlives its test.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** Azurite's development account, as documented by Microsoft for the emulator. */
export const AZURITE_ACCOUNT = 'devstoreaccount1';
export const AZURITE_ACCOUNT_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface AzuriteOptions {
  /** Containers created once it answers. @default ['test'] */
  readonly containers?: readonly string[];
}

export interface AzuriteServer {
  /** `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=…;BlobEndpoint=http://127.0.0.1:<port>/devstoreaccount1;` */
  readonly connectionString: string;
  /** `http://127.0.0.1:<port>/devstoreaccount1`: the sink's `endpoint` option. */
  readonly endpoint: string;
  readonly accountName: string;
  readonly accountKey: string;
  readonly port: number;
  readonly pid: number;
  /** Where Azurite keeps its data. */
  readonly directory: string;
  /** A connection string for `endpoint` instead (a proxy in front of this server). */
  connectionStringFor(endpoint: string, accountKey?: string): string;
  /** Creates a container (no error if it exists). */
  createContainer(name: string): Promise<void>;
  /** Stops the server by PID and removes its data. Idempotent. */
  stop(): Promise<void>;
}

function azuriteBlobBin(): string {
  const require = createRequire(import.meta.url);
  const manifestPath = require.resolve('azurite/package.json');
  const manifest = require(manifestPath) as { bin: Record<string, string> };
  const bin = manifest.bin['azurite-blob'];
  if (bin === undefined) throw new Error(`azurite at ${dirname(manifestPath)} has no azurite-blob command`);
  return join(dirname(manifestPath), bin);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Resolves once something answers HTTP on the port (any status: Azurite says 403 or 400 to an unsigned request). */
function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: `/${AZURITE_ACCOUNT}?comp=list`, method: 'GET', timeout: 1000 }, (res) => {
      res.resume();
      resolve(true);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => {
      req.destroy();
      resolve(false);
    });
    req.end();
  });
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export function azuriteConnectionString(endpoint: string, accountKey = AZURITE_ACCOUNT_KEY): string {
  return `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${accountKey};BlobEndpoint=${endpoint};`;
}

async function launch(directory: string): Promise<{ child: ChildProcess; port: number }> {
  const bin = azuriteBlobBin();
  for (let attempt = 1; ; attempt += 1) {
    const port = await freePort();
    const child = spawn(process.execPath, [bin, '--blobHost', '127.0.0.1', '--blobPort', String(port), '--location', directory, '--silent', '--skipApiVersionCheck'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-2000);
    });
    let exited: string | undefined;
    child.once('exit', (code, signal) => {
      exited = `exited with ${code ?? signal}`;
    });
    const started = Date.now();
    while (exited === undefined && Date.now() - started < 30_000) {
      if (await answers(port)) return { child, port };
      await sleep(100);
    }
    if (exited === undefined) child.kill('SIGKILL');
    // Another process may have taken the port between the probe and the start: try another.
    if (attempt >= 3) throw new Error(`azurite-blob did not start on 127.0.0.1:${port} (${exited ?? 'no answer within 30 s'}): ${stderr.trim() || 'no output'}`);
  }
}

export async function startAzurite(options: AzuriteOptions = {}): Promise<AzuriteServer> {
  const directory = await mkdtemp(join(tmpdir(), 'shmsnap-azurite-'));
  let launched: { child: ChildProcess; port: number };
  try {
    launched = await launch(directory);
  } catch (error) {
    await rm(directory, { recursive: true, force: true });
    throw error;
  }
  const { child, port } = launched;
  const pid = child.pid!;
  const killOnExit = (): void => {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  };
  process.once('exit', killOnExit);
  const endpoint = `http://127.0.0.1:${port}/${AZURITE_ACCOUNT}`;
  let stopping: Promise<void> | undefined;

  const server: AzuriteServer = {
    connectionString: azuriteConnectionString(endpoint),
    endpoint,
    accountName: AZURITE_ACCOUNT,
    accountKey: AZURITE_ACCOUNT_KEY,
    port,
    pid,
    directory,
    connectionStringFor: (other, key) => azuriteConnectionString(other, key),
    async createContainer(name) {
      const { ContainerClient, StorageSharedKeyCredential } = await import('@azure/storage-blob');
      const client = new ContainerClient(`${endpoint}/${name}`, new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_ACCOUNT_KEY));
      await client.createIfNotExists();
    },
    stop() {
      stopping ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
          process.kill(pid, 'SIGTERM');
          const timer = setTimeout(killOnExit, 5000);
          await gone;
          clearTimeout(timer);
        }
        process.removeListener('exit', killOnExit);
        await rm(directory, { recursive: true, force: true });
      })();
      return stopping;
    },
  };
  try {
    for (const name of options.containers ?? ['test']) await server.createContainer(name);
  } catch (error) {
    await server.stop();
    throw error;
  }
  return server;
}
