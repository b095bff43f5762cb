/**
 * An HTTP proxy between the Azure sink and Azurite that injects the failures
 * real networks and the Blob service produce, chosen per request by rules:
 * Azure-style error answers (500 InternalError, 503 ServerBusy, 403
 * AuthenticationFailed, with the `x-ms-error-code` header and XML body the
 * service sends) and dropped connections (before the request reaches the
 * server; after the server acted but before the client heard; in the middle
 * of the answer's body). It logs every request and counts what it injected,
 * so a test can assert that the faults really happened.
 *
 * Shared Key signatures cover the path and query, not the host and port, so
 * a proxy on another port is transparent to Azurite's checks.
 */
import { Agent, createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type AzureFaultKind =
  /** 500 InternalError */
  | 'internal-error'
  /** 503 ServerBusy (Azure's throttling) */
  | 'server-busy'
  /** 403 AuthenticationFailed */
  | 'auth-failed'
  /** The connection is closed before the request reaches the server. */
  | 'drop-before'
  /** The server acts on the request; the connection closes before the answer. */
  | 'drop-after'
  /** The answer's status and the first half of its body arrive, then the connection closes. */
  | 'drop-mid-body';

export interface AzureProxiedRequest {
  readonly method: string;
  /** `/devstoreaccount1/container/blob` */
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: IncomingHttpHeaders;
  fault?: AzureFaultKind;
}

export interface AzureFaultRule {
  readonly fault: AzureFaultKind;
  /** `GET`, `PUT`… */
  readonly method?: string;
  readonly path?: RegExp;
  /** The `comp` query parameter: `block` (Put Block), `blocklist` (Put Block List), `list`. `''` for requests without one. */
  readonly comp?: string;
  /** A header the request must carry, lower case (`x-ms-range`, `if-none-match`). */
  readonly header?: string;
  readonly when?: (request: AzureProxiedRequest) => boolean;
  /** Injects into every n-th matching request. @default 1 */
  readonly every?: number;
  /** Injects at most this many times. @default Infinity */
  readonly times?: number;
}

export interface AzureFaultProxy {
  /** `http://127.0.0.1:<port>/devstoreaccount1`, when `accountPath` is given to `startAzureFaultProxy`; else the origin. */
  readonly endpoint: string;
  /** Faults injected, in all and by kind. */
  readonly counts: { requests: number; faults: number; readonly byKind: Record<AzureFaultKind, number> };
  readonly log: readonly AzureProxiedRequest[];
  stop(): Promise<void>;
}

const ANSWERS: Record<'internal-error' | 'server-busy' | 'auth-failed', { status: number; code: string; message: string }> = {
  'internal-error': { status: 500, code: 'InternalError', message: 'The server encountered an internal error. Please retry the request.' },
  'server-busy': { status: 503, code: 'ServerBusy', message: 'The server is currently unable to receive requests. Please retry your request.' },
  'auth-failed': { status: 403, code: 'AuthenticationFailed', message: 'Server failed to authenticate the request.' },
};

function matches(rule: AzureFaultRule, request: AzureProxiedRequest): boolean {
  if (rule.method !== undefined && rule.method !== request.method) return false;
  if (rule.path !== undefined && !rule.path.test(request.path)) return false;
  if (rule.comp !== undefined && (request.query.get('comp') ?? '') !== rule.comp) return false;
  if (rule.header !== undefined && request.headers[rule.header] === undefined) return false;
  return rule.when === undefined || rule.when(request);
}

function errorAnswer(res: ServerResponse, kind: keyof typeof ANSWERS): void {
  const { status, code, message } = ANSWERS[kind];
  const body = `<?xml version="1.0" encoding="utf-8"?><Error><Code>${code}</Code><Message>${message}\nRequestId:fault-proxy</Message></Error>`;
  res.writeHead(status, { 'content-type': 'application/xml', 'x-ms-error-code': code, 'x-ms-request-id': 'fault-proxy', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** Starts a proxy to `upstream` (`http://127.0.0.1:<port>`); `accountPath` (`/devstoreaccount1`) is appended to its endpoint. */
export async function startAzureFaultProxy(upstream: string, rules: readonly AzureFaultRule[], accountPath = ''): Promise<AzureFaultProxy> {
  const target = new URL(upstream);
  const agent = new Agent({ keepAlive: true });
  const log: AzureProxiedRequest[] = [];
  const counts = { requests: 0, faults: 0, byKind: { 'internal-error': 0, 'server-busy': 0, 'auth-failed': 0, 'drop-before': 0, 'drop-after': 0, 'drop-mid-body': 0 } };
  const seen = rules.map(() => 0);
  const injected = rules.map(() => 0);

  function choose(request: AzureProxiedRequest): AzureFaultKind | undefined {
    for (const [i, rule] of rules.entries()) {
      if (!matches(rule, request)) continue;
      seen[i]! += 1;
      if (seen[i]! % (rule.every ?? 1) !== 0 || injected[i]! >= (rule.times ?? Infinity)) continue;
      injected[i]! += 1;
      return rule.fault;
    }
    return undefined;
  }

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://proxy');
    const entry: AzureProxiedRequest = { method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, headers: req.headers };
    log.push(entry);
    counts.requests += 1;
    const fault = choose(entry);
    if (fault !== undefined) {
      entry.fault = fault;
      counts.faults += 1;
      counts.byKind[fault] += 1;
    }
    if (fault === 'drop-before') {
      req.socket.destroy();
      return;
    }
    if (fault === 'internal-error' || fault === 'server-busy' || fault === 'auth-failed') {
      req.resume();
      req.once('end', () => errorAnswer(res, fault));
      return;
    }
    const forward = httpRequest(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers, agent },
      (answer) => {
        if (fault === 'drop-after') {
          answer.resume();
          answer.once('end', () => res.socket?.destroy());
          return;
        }
        if (fault === 'drop-mid-body') {
          const chunks: Buffer[] = [];
          answer.on('data', (chunk: Buffer) => chunks.push(chunk));
          answer.once('end', () => {
            const body = Buffer.concat(chunks);
            res.writeHead(answer.statusCode ?? 500, answer.headers);
            res.write(body.subarray(0, Math.floor(body.length / 2)), () => res.socket?.destroy());
          });
          return;
        }
        res.writeHead(answer.statusCode ?? 500, answer.headers);
        answer.pipe(res);
      },
    );
    forward.on('error', () => res.socket?.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}${accountPath}`,
    counts,
    log,
    async stop() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      agent.destroy();
      await closed;
    },
  };
}
