export { startS3Server, type S3ServerOptions, type S3TestServer } from './s3-server.js';
export { startFaultProxy, type FaultCounts, type FaultKind, type FaultProxy, type FaultProxyOptions, type FaultRule, type ProxiedRequest } from './fault-proxy.js';
export { s3TestClientOptions, useS3rverCredentials } from './client-options.js';
export { createTestPki, opensslMissing, type TestCertificate, type TestPki } from './tls.js';
export { ensureRgwInstalled, startRgw, RgwUnavailable, type RgwOptions, type RgwServer } from './rgw.js';
export { readRgwState, selectedS3Kinds, startS3TestStores, type RgwState, type S3StoreKind, type S3StoreOptions, type S3TestStore, type SkippedS3Store } from './s3-stores.js';
