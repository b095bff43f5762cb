export { startS3Server, type S3ServerOptions, type S3TestServer } from './s3-server.js';
export { startFaultProxy, type FaultCounts, type FaultKind, type FaultProxy, type FaultProxyOptions, type FaultRule, type ProxiedRequest } from './fault-proxy.js';
export { s3TestClientOptions, useS3rverCredentials } from './client-options.js';
export { createTestPki, opensslMissing, type TestCertificate, type TestPki } from './tls.js';
