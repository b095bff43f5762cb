/**
 * Sink options that work against s3rver: path-style addressing on a local
 * endpoint. Credentials are not options: tests set the environment, as a
 * user would (`AWS_ACCESS_KEY_ID=S3RVER`, any `AWS_SECRET_ACCESS_KEY`).
 */
import type { S3SinkOptions } from '../s3-options.js';

export function s3TestClientOptions(endpoint: string): S3SinkOptions {
  return { endpoint, forcePathStyle: true, region: 'us-east-1' };
}

/**
 * Points the SDK's default credential chain at s3rver's key (the first link
 * of the chain is the environment). s3rver accepts any secret.
 */
export function useS3rverCredentials(secret = 'S3RVER'): void {
  process.env['AWS_ACCESS_KEY_ID'] = 'S3RVER';
  process.env['AWS_SECRET_ACCESS_KEY'] = secret;
  delete process.env['AWS_SESSION_TOKEN'];
}
