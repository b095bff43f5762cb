/**
 * The S3 flags shared by every command that takes a location. Each can also
 * be set from the environment (the AWS SDK's own variables where it has one,
 * SHMSNAP_S3_* otherwise); credentials come only from the SDK's standard
 * chain (environment, shared config/credentials files and profile, instance
 * or container role) and never from a flag.
 */
import { Option, InvalidArgumentError, type Command } from 'commander';
import type { S3SinkOptions } from '@shmsnap/sink-s3';

const GROUP = 'S3 options (for s3://bucket/prefix locations):';

const positive = (name: string) => (value: string): number => {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError(`${name} must be a positive integer.`);
  return Number(value);
};

export interface S3Flags {
  s3Endpoint?: string;
  s3Region?: string;
  s3PathStyle?: boolean;
  s3Profile?: string;
  s3StorageClass?: string;
  s3Sse?: 'AES256' | 'aws:kms';
  s3SseKmsKeyId?: string;
  s3PartSizeMib?: number;
  s3MaxParts?: number;
  s3UploadConcurrency?: number;
  s3Checksum?: 'when-required' | 'when-supported';
}

export function addS3Options(command: Command, writes: boolean): Command {
  const options = [
    new Option('--s3-endpoint <url>', 'S3-compatible endpoint (MinIO, Ceph RGW, R2...)').env('AWS_ENDPOINT_URL_S3'),
    new Option('--s3-region <region>', 'region (default: AWS_REGION, AWS_DEFAULT_REGION, us-east-1)'),
    new Option('--s3-path-style', 'bucket in the path, not the host name (default with --s3-endpoint)').env('SHMSNAP_S3_PATH_STYLE'),
    new Option('--s3-profile <name>', 'profile of the shared AWS config files for credentials').env('AWS_PROFILE'),
    new Option('--s3-checksum <mode>', "when-required (default: works with S3-compatible stores; shmsnap checks its own CRC-32 end to end) or when-supported").choices(['when-required', 'when-supported']).env('SHMSNAP_S3_CHECKSUM'),
  ];
  if (writes) {
    options.push(
      new Option('--s3-storage-class <class>', 'storage class of the objects (STANDARD_IA, ...)').env('SHMSNAP_S3_STORAGE_CLASS'),
      new Option('--s3-sse <kind>', 'server-side encryption').choices(['AES256', 'aws:kms']).env('SHMSNAP_S3_SSE'),
      new Option('--s3-sse-kms-key-id <id>', 'KMS key for --s3-sse aws:kms').env('SHMSNAP_S3_SSE_KMS_KEY_ID'),
      new Option('--s3-part-size-mib <n>', 'upload part size in MiB, at least 5; grows as an object needs (default 8)').argParser(positive('--s3-part-size-mib')).env('SHMSNAP_S3_PART_SIZE_MIB'),
      new Option('--s3-max-parts <n>', 'most parts per object, for stores allowing fewer than 10000').argParser(positive('--s3-max-parts')).env('SHMSNAP_S3_MAX_PARTS'),
      new Option('--s3-upload-concurrency <n>', 'parts uploaded at once per object; memory is about (n + 1) × part size per segment in flight (default 4)').argParser(positive('--s3-upload-concurrency')).env('SHMSNAP_S3_UPLOAD_CONCURRENCY'),
    );
  }
  for (const option of options) command.addOption(option.helpGroup(GROUP));
  return command;
}

/** The sink options the flags ask for (only what was given). */
export function s3SinkOptions(flags: S3Flags): S3SinkOptions {
  return {
    ...(flags.s3Endpoint ? { endpoint: flags.s3Endpoint } : {}),
    ...(flags.s3Region ? { region: flags.s3Region } : {}),
    ...(flags.s3PathStyle ? { forcePathStyle: true } : {}),
    ...(flags.s3Profile ? { profile: flags.s3Profile } : {}),
    ...(flags.s3StorageClass ? { storageClass: flags.s3StorageClass as S3SinkOptions['storageClass'] & string } : {}),
    ...(flags.s3Sse ? { serverSideEncryption: flags.s3Sse } : {}),
    ...(flags.s3SseKmsKeyId ? { sseKmsKeyId: flags.s3SseKmsKeyId } : {}),
    ...(flags.s3PartSizeMib ? { partSizeBytes: flags.s3PartSizeMib * 1024 * 1024 } : {}),
    ...(flags.s3MaxParts ? { maxParts: flags.s3MaxParts } : {}),
    ...(flags.s3UploadConcurrency ? { uploadConcurrency: flags.s3UploadConcurrency } : {}),
    ...(flags.s3Checksum ? { checksumMode: flags.s3Checksum } : {}),
  };
}
