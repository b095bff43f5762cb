import { s3SinkProvider } from './s3-sink.js';

export { createS3Sink, s3SinkProvider } from './s3-sink.js';
export { parseS3Location, redactS3Location, formatS3Location, type S3Location } from './s3-location.js';
export type { S3SinkEvent, S3SinkOptions } from './s3-options.js';
export default s3SinkProvider;
