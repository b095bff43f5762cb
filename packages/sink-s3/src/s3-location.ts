/**
 * `s3://bucket/prefix` locations. Credentials never travel in a location:
 * they come from the AWS SDK's default chain (environment, profile, instance
 * role), so a location with userinfo or a query string (a pasted presigned
 * URL) is refused, and `redactS3Location` strips both for logs, erring on the
 * side of removing too much.
 */
import { errConfigInvalid, redactUrlLocation } from '@shmsnap/core/plugin-kit';

export interface S3Location {
  readonly bucket: string;
  /** Key prefix without leading or trailing slashes; '' for the bucket's root. */
  readonly prefix: string;
}

// Legacy buckets may have upper case and underscores; S3 checks the rest.
const BUCKET_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{1,253}[A-Za-z0-9]$/;
const SCHEME = /^s3:\/\//i;

/** `location` without userinfo, query string or fragment: safe to print. */
export const redactS3Location = redactUrlLocation;

export function parseS3Location(location: string): S3Location {
  const shown = `location ${redactS3Location(location)}`;
  if (!SCHEME.test(location)) throw errConfigInvalid(shown, "an S3 location starts with 's3://'");
  const rest = location.slice('s3://'.length);
  if (/[?#]/.test(rest)) throw errConfigInvalid(shown, 'an S3 location takes no query string or fragment');
  if (rest.includes('@')) {
    throw errConfigInvalid(shown, 'credentials do not belong in the location: use the AWS environment variables, a profile or an instance role');
  }
  const slash = rest.indexOf('/');
  const bucket = slash < 0 ? rest : rest.slice(0, slash);
  if (!BUCKET_PATTERN.test(bucket) || bucket.includes('..')) {
    throw errConfigInvalid(shown, `'${bucket}' is not a valid bucket name`);
  }
  const segments = (slash < 0 ? '' : rest.slice(slash + 1)).split('/').filter((s) => s !== '');
  for (const segment of segments) {
    if (segment === '.' || segment === '..') throw errConfigInvalid(shown, "the prefix may not contain '.' or '..' segments");
    if (/[\u0000-\u001f\u007f\\]/.test(segment)) throw errConfigInvalid(shown, 'the prefix may not contain control characters or backslashes');
  }
  return { bucket, prefix: segments.join('/') };
}

/** The printable, normalised form: `s3://bucket` or `s3://bucket/prefix`. */
export function formatS3Location(location: S3Location): string {
  return location.prefix === '' ? `s3://${location.bucket}` : `s3://${location.bucket}/${location.prefix}`;
}

/** The key of object `name` (or of a key prefix) below the location. */
export function keyOf(location: S3Location, name: string): string {
  return location.prefix === '' ? name : `${location.prefix}/${name}`;
}
