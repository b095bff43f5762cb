/**
 * An HTTP proxy between a sink and an S3-protocol server that injects the
 * failures real networks and stores produce, decided per request by rules:
 * S3-style error answers (500 InternalError, 503 SlowDown, 501
 * NotImplemented, 403 InvalidAccessKeyId) and dropped connections (before
 * forwarding, after the server acted but before the client heard, or in the
 * middle of the answer's body). It logs every request and counts what it
 * injected, so tests can assert the faults really happened. With `tls`, it
 * listens for https (a store behind a certificate of the test's making).
 */
import { Agent, createServer, request as httpRequest, type IncomingMessage, type RequestListener, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';

export type FaultKind =
  /** 500 InternalError */
  | 'internal-error'
  /** 503 SlowDown */
  | 'slow-down'
  /** 501 NotImplemented (a store without conditional writes) */
  | 'not-implemented'
  /** 403 InvalidAccessKeyId (wrong credentials) */
  | 'invalid-access-key'
  /** The connection is closed before the request reaches the server. */
  | 'drop-before'
  /** The server acts on the request; the connection closes before the answer. */
  | 'drop-after'
  /** The answer's status and the first half of its body arrive, then the connection closes. */
  | 'drop-mid-body';

export interface ProxiedRequest {
  readonly method: string;
  /** `/bucket/key` */
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: IncomingMessage['headers'];
  /** The fault injected into this request, if any. */
  fault?: FaultKind;
}

export interface FaultRule {
  readonly fault: FaultKind;
  /** `GET`, `PUT`... */
  readonly method?: string;
  readonly path?: RegExp;
  /** Query parameters the request must carry (`partNumber`, `uploadId`, `uploads`). */
  readonly query?: readonly string[];
  /** Query parameters it must not carry. */
  readonly withoutQuery?: readonly string[];
  /** A header the request must carry, lower case (`range`, `if-none-match`). */
  readonly header?: string;
  readonly when?: (request: ProxiedRequest) => boolean;
  /** Injects into every n-th matching request (the n-th, 2n-th...). @default 1 */
  readonly every?: number;
  /** Injects at most this many times. @default Infinity */
  readonly times?: number;
}

export interface FaultCounts {
  requests: number;
  /** Faults injected in all. */
  faults: number;
  readonly byKind: Record<FaultKind, number>;
}

export interface FaultProxy {
  readonly endpoint: string;
  readonly counts: FaultCounts;
  /** Every request, in arrival order. */
  readonly log: readonly ProxiedRequest[];
  stop(): Promise<void>;
}

const STATUS: Record<'internal-error' | 'slow-down' | 'not-implemented' | 'invalid-access-key', { status: number; code: string; message: string }> = {
  'internal-error': { status: 500, code: 'InternalError', message: 'We encountered an internal error. Please try again.' },
  'slow-down': { status: 503, code: 'SlowDown', message: 'Please reduce your request rate.' },
  'not-implemented': { status: 501, code: 'NotImplemented', message: 'A header you provided implies functionality that is not implemented' },
  'invalid-access-key': { status: 403, code: 'InvalidAccessKeyId', message: 'The AWS Access Key Id you provided does not exist in our records.' },
};

function matches(rule: FaultRule, request: ProxiedRequest): boolean {
  if (rule.method !== undefined && rule.method.toUpperCase() !== request.method) return false;
  if (rule.path && !rule.path.test(request.path)) return false;
  if (rule.query && !rule.query.every((name) => request.query.has(name))) return false;
  if (rule.withoutQuery && rule.withoutQuery.some((name) => request.query.has(name))) return false;
  if (rule.header !== undefined && request.headers[rule.header] === undefined) return false;
  return rule.when ? rule.when(request) : true;
}

export interface FaultProxyOptions {
  /** Listen for https with this key and certificate (PEM); the endpoint is then `https://127.0.0.1:<port>`. */
  readonly tls?: { readonly key: string; readonly cert: string };
}

export async function startFaultProxy(targetEndpoint: string, rules: readonly FaultRule[] = [], options: FaultProxyOptions = {}): Promise<FaultProxy> {
  const target = new URL(targetEndpoint);
  const agent = new Agent({ keepAlive: true });
  const matched = rules.map(() => 0);
  const injected = rules.map(() => 0);
  const log: ProxiedRequest[] = [];
  const counts: FaultCounts = {
    requests: 0,
    faults: 0,
    byKind: { 'internal-error': 0, 'slow-down': 0, 'not-implemented': 0, 'invalid-access-key': 0, 'drop-before': 0, 'drop-after': 0, 'drop-mid-body': 0 },
  };

  const choose = (request: ProxiedRequest): FaultKind | undefined => {
    let chosen: FaultKind | undefined;
    rules.forEach((rule, index) => {
      if (!matches(rule, request)) return;
      matched[index]! += 1;
      const due = matched[index]! % (rule.every ?? 1) === 0 && injected[index]! < (rule.times ?? Infinity);
      if (due && chosen === undefined) {
        injected[index]! += 1;
        chosen = rule.fault;
      }
    });
    return chosen;
  };

  const answerError = (req: IncomingMessage, res: ServerResponse, kind: keyof typeof STATUS): void => {
    const { status, code, message } = STATUS[kind];
    const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><RequestId>fault-proxy</RequestId></Error>`;
    // Read the whole request first, as a server does: the client is then not cut off mid-send.
    req.resume();
    req.once('end', () => {
      res.writeHead(status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
      res.end(req.method === 'HEAD' ? undefined : body);
    });
  };

  const forward = (req: IncomingMessage, res: ServerResponse, fault: FaultKind | undefined): void => {
    const upstream = httpRequest(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers, agent },
      (answer) => {
        if (fault === 'drop-after') {
          answer.resume();
          answer.once('end', () => req.socket.destroy());
          return;
        }
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        if (fault !== 'drop-mid-body') {
          answer.pipe(res);
          return;
        }
        const length = Number(answer.headers['content-length'] ?? 0);
        let budget = Math.max(1, Math.floor(length / 2));
        answer.on('data', (chunk: Buffer) => {
          if (budget <= 0) return;
          const part = chunk.subarray(0, budget);
          budget -= part.length;
          if (budget > 0) {
            res.write(part);
            return;
          }
          answer.destroy();
          // Let the bytes already written leave before the connection goes.
          res.write(part, () => req.socket.destroy());
        });
        answer.once('end', () => res.end());
      },
    );
    // The server is gone or dropped us: the client sees its connection drop too.
    upstream.on('error', () => req.socket.destroy());
    req.pipe(upstream);
  };

  const handle: RequestListener = (req, res) => {
    const url = new URL(req.url ?? '/', 'http://proxy');
    const request: ProxiedRequest = { method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, headers: req.headers };
    log.push(request);
    counts.requests += 1;
    const fault = choose(request);
    if (fault !== undefined) {
      request.fault = fault;
      counts.faults += 1;
      counts.byKind[fault] += 1;
    }
    switch (fault) {
      case 'internal-error':
      case 'slow-down':
      case 'not-implemented':
      case 'invalid-access-key':
        answerError(req, res, fault);
        return;
      case 'drop-before':
        req.socket.destroy();
        return;
      default:
        forward(req, res, fault);
    }
  };
  const server = options.tls ? createHttpsServer({ key: options.tls.key, cert: options.tls.cert }, handle) : createServer(handle);
  // A client that refuses the certificate closes the connection: nothing to report.
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
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
