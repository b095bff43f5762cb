/**
 * Core names options (`concurrency`, `level`, `allowOlder`...); each frontend
 * names them as its users type them. This table is shmsnap's; `asmt` has its
 * own (ASMT's single letters). Errors are rendered through it, so a message
 * never tells an `asmt` user to pass `--threads`.
 */
import type { OptionNamer, ShmsnapError } from '@shmsnap/core';

export const SHMSNAP_FLAGS: Readonly<Record<string, string>> = {
  aerospikeConf: '--aerospike-conf',
  allowConsumed: '--allow-consumed',
  allowRunningAsd: '--allow-running-asd',
  asdPidFile: '--asd-pid-file',
  allowFuture: '--allow-future',
  allowOlder: '--allow-older',
  allowOtherHost: '--allow-other-host',
  codec: '--codec',
  concurrency: '--threads',
  depth: '--depth',
  dryRun: '--dry-run',
  force: '--force',
  from: '--from',
  instance: '--instance',
  interruptedOlderThan: '--interrupted-older-than',
  keepLast: '--keep-last',
  keepWithin: '--keep-within',
  // An encrypted backup's key (key-options.ts).
  keySource: '--key-file (or --key-env, --passphrase-file, --passphrase-env)',
  latest: '--latest',
  level: '--level',
  lockDir: '--lock-dir',
  maxAge: '--max-age',
  namespace: '--namespace',
  namespaces: '--namespace',
  nsid: '--nsid',
  to: '--to',
  // shmsnap systemd's options.
  asdUnit: '--asd-unit',
  environmentFile: '--environment-file',
  warmRestartLocation: '--location',
  shmsnapBin: '--shmsnap-bin',
  timeoutStartSec: '--timeout-start',
  timeoutStopSec: '--timeout-stop',
  unitDir: '--unit-dir',
  // The S3 sink's options.
  caBundle: '--s3-ca-bundle',
  checksumMode: '--s3-checksum',
  endpoint: '--s3-endpoint',
  forcePathStyle: '--s3-path-style',
  maxParts: '--s3-max-parts',
  partSizeBytes: '--s3-part-size-mib',
  profile: '--s3-profile',
  region: '--s3-region',
  serverSideEncryption: '--s3-sse',
  sseKmsKeyId: '--s3-sse-kms-key-id',
  storageClass: '--s3-storage-class',
  uploadConcurrency: '--s3-upload-concurrency',
};

export const ASMT_FLAGS: Readonly<Record<string, string>> = {
  concurrency: '-t',
  // asmt reads no encrypted backup: shmsnap does, with the key.
  keySource: 'shmsnap restore --key-file (asmt cannot read encrypted backups)',
  dryRun: '-a',
  instance: '-i',
  namespaces: '-n',
  to: '-p',
  from: '-p',
};

export function namerOf(table: Readonly<Record<string, string>>): OptionNamer {
  return (option) => table[option] ?? option;
}

/** A segment set SEGMENT_EXISTS found in the way (`details.sets`, from the shm target). */
export interface LeftoverSet {
  readonly instance: number;
  readonly nsid: number;
  readonly namespace: string | null;
  /** Its base is among the segments: `clear` can find the set by the namespace's name. */
  readonly base: boolean;
}

/** How a frontend tells its user to remove a leftover segment set. */
export type ClearCommand = (set: LeftoverSet) => string;

export const SHMSNAP_CLEAR: ClearCommand = (set) =>
  `shmsnap clear --instance ${set.instance} ${set.base && set.namespace ? `--namespace ${set.namespace}` : `--nsid ${set.nsid}`}`;

/** ASMT has no such command; the kernel's tool does it, one key at a time. */
export const ASMT_CLEAR: ClearCommand = () => 'ipcrm -M <key> for each of them';

function isLeftoverSet(value: unknown): value is LeftoverSet {
  const set = value as LeftoverSet;
  return typeof set === 'object' && set !== null && typeof set.instance === 'number' && typeof set.nsid === 'number';
}

/**
 * The one-line message of `error`, with options named as this frontend's
 * flags: the option of a CONFIG_INVALID, and any option another message
 * says it mentions (`details.mentions`: a hint such as "give ... with
 * caBundle"); for segments in the way of a restore, the command that clears
 * them if they are a leftover.
 */
export function renderMessage(error: ShmsnapError, name: OptionNamer, clear: ClearCommand = SHMSNAP_CLEAR): string {
  const { option, reason, conflictsWith, mentions, sets } = error.details;
  let message = error.message;
  if (error.code === 'CONFIG_INVALID' && typeof option === 'string' && typeof reason === 'string') {
    message = typeof conflictsWith === 'string' ? `${name(option)}: cannot be given with ${name(conflictsWith)}: ${reason}` : `${name(option)}: ${reason}`;
  }
  if (Array.isArray(mentions)) {
    for (const mentioned of mentions) {
      if (typeof mentioned === 'string' && /^\w+$/.test(mentioned)) message = message.replace(new RegExp(`\\b${mentioned}\\b`, 'g'), name(mentioned));
    }
  }
  if (error.code === 'SEGMENT_EXISTS' && Array.isArray(sets) && sets.length > 0 && sets.every(isLeftoverSet)) {
    message += `; if they are left from an interrupted restore, remove them with: ${[...new Set(sets.map(clear))].join('; ')}`;
  }
  return message;
}
