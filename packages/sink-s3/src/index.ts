/**
 * The whole package. It loads the AWS SDK, for `createS3Sink`; a program that
 * only registers the provider imports `@shmsnap/sink-s3/provider`, which does not.
 */
import { s3SinkProvider } from './provider.js';

export { createS3Sink } from './s3-sink.js';
export { createS3SinkProvider, s3SinkProvider, S3_REMOTE_RETRY, type S3SinkProviderOptions } from './provider.js';
export { parseS3Location, redactS3Location, formatS3Location, type S3Location } from './s3-location.js';
export type { S3SinkEvent, S3SinkOptions } from './s3-options.js';
export default s3SinkProvider;
