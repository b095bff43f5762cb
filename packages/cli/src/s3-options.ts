/**
 * The S3 flags shared by every command that takes a location, in one table:
 * each flag, the SHMSNAP_S3_* variable that sets it when the flag is not
 * given, and one parser for both. The AWS settings with a variable of their
 * own (AWS_REGION, AWS_ENDPOINT_URL_S3, AWS_PROFILE, AWS_CA_BUNDLE) are not
 * read here: the sink reads them, and the profile, as the AWS tools do, so
 * `--s3-profile x` and `AWS_PROFILE=x` mean the same. Credentials come only
 * from the SDK's standard chain (environment, shared config/credentials
 * files and profile, instance or container role) and never from a flag.
 *
 * A flag or SHMSNAP_S3_* variable given for a location that is not on S3 is
 * a usage error: an operator must not believe `--s3-sse` encrypted a local
 * backup.
 */
import { Option, InvalidArgumentError, type Command } from 'commander';
import { errConfigInvalid, isShmsnapError } from '@shmsnap/core';
import type { S3SinkOptions } from '@shmsnap/sink-s3';

const GROUP = 'S3 options (for s3://bucket/prefix locations):';

export interface S3Flags {
  s3Endpoint?: string;
  s3Region?: string;
  s3PathStyle?: boolean;
  s3Profile?: string;
  s3CaBundle?: string;
  s3StorageClass?: string;
  s3Sse?: 'AES256' | 'aws:kms';
  s3SseKmsKeyId?: string;
  s3PartSizeMib?: number;
  s3MaxParts?: number;
  s3UploadConcurrency?: number;
  s3Checksum?: 'when-required' | 'when-supported';
}

/** Parses a setting's text; throws InvalidArgumentError with the reason, which does not name the setting. */
type Parse = (value: string) => string | number | boolean;

const BOOLEANS: Readonly<Record<string, boolean>> = { true: true, false: false, 1: true, 0: false, yes: true, no: false };

/** `true/false/1/0/yes/no`, any case: what operators write in environment files. */
export function parseBooleanSetting(value: string): boolean {
  const parsed = BOOLEANS[value.trim().toLowerCase()];
  if (parsed === undefined) throw new InvalidArgumentError(`must be true, false, 1, 0, yes or no, got ${JSON.stringify(value)}`);
  return parsed;
}

const positiveInteger: Parse = (value) => {
  if (!/^\d+$/.test(value) || Number(value) < 1 || !Number.isSafeInteger(Number(value))) throw new InvalidArgumentError(`must be a positive integer, got ${JSON.stringify(value)}`);
  return Number(value);
};

const oneOf =
  (...choices: string[]): Parse =>
  (value) => {
    if (!choices.includes(value)) throw new InvalidArgumentError(`must be ${choices.slice(0, -1).join(', ')} or ${choices.at(-1)}, got ${JSON.stringify(value)}`);
    return value;
  };

const text: Parse = (value) => value;

interface S3Setting {
  readonly key: keyof S3Flags;
  /** `--s3-region <region>`; a boolean has no argument. */
  readonly flags: string;
  readonly description: string;
  /** The variable that sets it when the flag is not given. */
  readonly env?: string;
  readonly parse: Parse;
  /** Only for commands that write (backup). */
  readonly writes?: true;
}

export const S3_SETTINGS: readonly S3Setting[] = [
  { key: 's3Endpoint', flags: '--s3-endpoint <url>', description: "S3-compatible endpoint (MinIO, Ceph RGW, R2...) (default: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, the profile's endpoint_url)", parse: text },
  { key: 's3Region', flags: '--s3-region <region>', description: "region (default: AWS_REGION, AWS_DEFAULT_REGION, the profile's region, us-east-1)", parse: text },
  { key: 's3PathStyle', flags: '--s3-path-style', description: 'bucket in the path, not the host name (default when an endpoint is set, by flag, environment or profile)', env: 'SHMSNAP_S3_PATH_STYLE', parse: parseBooleanSetting },
  { key: 's3Profile', flags: '--s3-profile <name>', description: 'profile of the shared AWS files, as AWS_PROFILE: credentials, region, endpoint_url, ca_bundle', parse: text },
  { key: 's3CaBundle', flags: '--s3-ca-bundle <file>', description: "PEM file of the CAs to trust for an https endpoint (default: AWS_CA_BUNDLE, the profile's ca_bundle)", parse: text },
  {
    key: 's3Checksum',
    flags: '--s3-checksum <mode>',
    description: 'when-required (default: works with S3-compatible stores; shmsnap checks its own CRC-32 end to end) or when-supported',
    env: 'SHMSNAP_S3_CHECKSUM',
    parse: oneOf('when-required', 'when-supported'),
  },
  { key: 's3StorageClass', flags: '--s3-storage-class <class>', description: 'storage class of the objects (STANDARD_IA, ...)', env: 'SHMSNAP_S3_STORAGE_CLASS', parse: text, writes: true },
  { key: 's3Sse', flags: '--s3-sse <kind>', description: 'server-side encryption: AES256 or aws:kms', env: 'SHMSNAP_S3_SSE', parse: oneOf('AES256', 'aws:kms'), writes: true },
  { key: 's3SseKmsKeyId', flags: '--s3-sse-kms-key-id <id>', description: 'KMS key for --s3-sse aws:kms', env: 'SHMSNAP_S3_SSE_KMS_KEY_ID', parse: text, writes: true },
  { key: 's3PartSizeMib', flags: '--s3-part-size-mib <n>', description: 'upload part size in MiB, 5 to 5120; grows as an object needs (default 8)', env: 'SHMSNAP_S3_PART_SIZE_MIB', parse: positiveInteger, writes: true },
  { key: 's3MaxParts', flags: '--s3-max-parts <n>', description: 'most parts per object, for stores allowing fewer than 10000', env: 'SHMSNAP_S3_MAX_PARTS', parse: positiveInteger, writes: true },
  {
    key: 's3UploadConcurrency',
    flags: '--s3-upload-concurrency <n>',
    description: 'parts uploaded at once, all objects together; memory is about (n + 2 × segments in flight) × part size (default 4)',
    env: 'SHMSNAP_S3_UPLOAD_CONCURRENCY',
    parse: positiveInteger,
    writes: true,
  },
];

const settingsFor = (writes: boolean): readonly S3Setting[] => S3_SETTINGS.filter((setting) => writes || setting.writes !== true);
const flagOf = (setting: S3Setting): string => setting.flags.split(' ')[0]!;

export function addS3Options(command: Command, writes: boolean): Command {
  for (const setting of settingsFor(writes)) {
    const flag = flagOf(setting);
    const variable = setting.parse === parseBooleanSetting ? `${setting.env}=true|false` : setting.env;
    const description = variable === undefined ? setting.description : `${setting.description} (env: ${variable})`;
    const option = new Option(setting.flags, description);
    // A boolean takes no argument; the others are parsed here, so a bad flag is a usage error naming it.
    if (setting.flags.includes('<')) {
      option.argParser((value: string) => {
        try {
          return setting.parse(value);
        } catch (error) {
          throw new InvalidArgumentError(`${flag} ${(error as Error).message}.`);
        }
      });
    }
    command.addOption(option.helpGroup(GROUP));
    if (setting.key === 's3PathStyle') command.addOption(new Option('--no-s3-path-style', 'bucket in the host name (virtual-hosted), even with a custom endpoint').helpGroup(GROUP));
  }
  return command;
}

/**
 * The S3 settings of the SHMSNAP_S3_* variables this command reads (an empty
 * variable is unset). A value that does not parse is CONFIG_INVALID naming
 * the variable. The one reader of these variables.
 */
export function s3FlagsFromEnv(env: NodeJS.ProcessEnv, writes: boolean): { flags: S3Flags; given: Map<keyof S3Flags, string> } {
  const flags: Record<string, unknown> = {};
  const given = new Map<keyof S3Flags, string>();
  for (const setting of settingsFor(writes)) {
    const value = setting.env === undefined ? undefined : env[setting.env];
    if (setting.env === undefined || value === undefined || value === '') continue;
    try {
      flags[setting.key] = setting.parse(value);
    } catch (error) {
      throw errConfigInvalid(setting.env, (error as Error).message);
    }
    given.set(setting.key, setting.env);
  }
  return { flags: flags as S3Flags, given };
}

/** The sink options the flags ask for (only what was given). */
export function s3SinkOptions(flags: S3Flags): S3SinkOptions {
  return {
    ...(flags.s3Endpoint ? { endpoint: flags.s3Endpoint } : {}),
    ...(flags.s3Region ? { region: flags.s3Region } : {}),
    ...(flags.s3PathStyle === undefined ? {} : { forcePathStyle: flags.s3PathStyle }),
    ...(flags.s3Profile ? { profile: flags.s3Profile } : {}),
    ...(flags.s3CaBundle ? { caBundle: flags.s3CaBundle } : {}),
    ...(flags.s3StorageClass ? { storageClass: flags.s3StorageClass as S3SinkOptions['storageClass'] & string } : {}),
    ...(flags.s3Sse ? { serverSideEncryption: flags.s3Sse } : {}),
    ...(flags.s3SseKmsKeyId ? { sseKmsKeyId: flags.s3SseKmsKeyId } : {}),
    ...(flags.s3PartSizeMib ? { partSizeBytes: flags.s3PartSizeMib * 1024 * 1024 } : {}),
    ...(flags.s3MaxParts ? { maxParts: flags.s3MaxParts } : {}),
    ...(flags.s3UploadConcurrency ? { uploadConcurrency: flags.s3UploadConcurrency } : {}),
    ...(flags.s3Checksum ? { checksumMode: flags.s3Checksum } : {}),
  };
}

/** The sink option each flag sets, to name a variable in the sink's refusal of its value. */
const SINK_OPTION_OF: Readonly<Partial<Record<keyof S3Flags, string>>> = {
  s3Checksum: 'checksumMode',
  s3MaxParts: 'maxParts',
  s3PartSizeMib: 'partSizeBytes',
  s3PathStyle: 'forcePathStyle',
  s3Sse: 'serverSideEncryption',
  s3SseKmsKeyId: 'sseKmsKeyId',
  s3StorageClass: 'storageClass',
  s3UploadConcurrency: 'uploadConcurrency',
};

export interface S3Request {
  /** The sink options for an S3 location: the flags, else the SHMSNAP_S3_* variables. */
  readonly options: S3SinkOptions;
  /** What was given, as the user gave it (`--s3-sse`, `SHMSNAP_S3_SSE`). */
  readonly given: readonly string[];
  /**
   * The sink's CONFIG_INVALID for an option a variable set names the
   * variable (`SHMSNAP_S3_PART_SIZE_MIB: must be from 5 to 5120 MiB, got 2 MiB`).
   */
  readonly nameSource: (error: unknown) => unknown;
}

/** The S3 settings of one command: its flags, else the variables it reads. */
export function s3Request(flags: S3Flags, env: NodeJS.ProcessEnv, writes: boolean): S3Request {
  const fromEnv = s3FlagsFromEnv(env, writes);
  const fromFlags: Record<string, unknown> = {};
  const given: string[] = [];
  const byVariable = new Map<string, string>();
  for (const setting of settingsFor(writes)) {
    const value = flags[setting.key];
    if (value !== undefined) {
      fromFlags[setting.key] = value;
      given.push(setting.key === 's3PathStyle' && value === false ? '--no-s3-path-style' : flagOf(setting));
      continue;
    }
    const variable = fromEnv.given.get(setting.key);
    if (variable === undefined) continue;
    given.push(variable);
    const option = SINK_OPTION_OF[setting.key];
    if (option !== undefined) byVariable.set(option, variable);
  }
  return {
    options: s3SinkOptions({ ...fromEnv.flags, ...(fromFlags as S3Flags) }),
    given,
    nameSource(error) {
      if (!isShmsnapError(error, 'CONFIG_INVALID')) return error;
      const { option, reason, mentions } = error.details;
      const variable = typeof option === 'string' ? byVariable.get(option) : undefined;
      if (variable === undefined || typeof reason !== 'string') return error;
      return errConfigInvalid(variable, reason).withDetails(mentions === undefined ? {} : { mentions });
    },
  };
}
