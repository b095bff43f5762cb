/**
 * Exit statuses, decided by error code. A Record over every code, so a new
 * code cannot ship without a status.
 */
import type { ErrorCode } from '@shmsnap/core';

export const EXIT_OK = 0;
/** Something failed on this host or remotely: I/O, space, a store, a bug. */
export const EXIT_FAILURE = 1;
/** The command line itself is wrong. */
export const EXIT_USAGE = 2;
/** Refused: a safety check said no (exists, attached, not clean, stale...). */
export const EXIT_REFUSED = 3;
/** Data failed an integrity check: checksum, size, corrupt or foreign file, bad manifest. */
export const EXIT_INTEGRITY = 4;
/** `preflight`: no warm start is expected for every namespace (a cold start, a crash risk, unknown), or a check restore makes fails. */
export const EXIT_NOT_WARM = 5;
/** Interrupted (Ctrl-C / SIGTERM), after cleaning up. */
export const EXIT_INTERRUPTED = 130;

export const EXIT_STATUS_BY_CODE: Readonly<Record<ErrorCode, number>> = {
  ABORTED: EXIT_INTERRUPTED,
  ADDON_MISSING: EXIT_FAILURE,
  ASD_RUNNING: EXIT_REFUSED,
  // Encrypted bytes or an authenticated manifest that do not check: altered data.
  AUTH_FAILED: EXIT_INTEGRITY,
  BACKUP_CONSUMED: EXIT_REFUSED,
  BACKUP_EXISTS: EXIT_REFUSED,
  BACKUP_INCOMPLETE: EXIT_REFUSED,
  BACKUP_NOT_FOUND: EXIT_REFUSED,
  BACKUP_STALE: EXIT_REFUSED,
  CHECKSUM_MISMATCH: EXIT_INTEGRITY,
  CODEC_UNKNOWN: EXIT_USAGE,
  CONFIG_INVALID: EXIT_USAGE,
  CORRUPT_OBJECT: EXIT_INTEGRITY,
  INSTANCE_LOCKED: EXIT_REFUSED,
  INTERNAL: EXIT_FAILURE,
  IO_FAILED: EXIT_FAILURE,
  // A key flag whose key cannot be used (a key file others can read, a wrong length): the command line is wrong.
  KEY_INVALID: EXIT_USAGE,
  // Another key than the backup's: refused, nothing created.
  KEY_MISMATCH: EXIT_REFUSED,
  KEY_REQUIRED: EXIT_USAGE,
  LOCATION_NOT_FOUND: EXIT_REFUSED,
  MANIFEST_INVALID: EXIT_INTEGRITY,
  NAME_INVALID: EXIT_INTEGRITY,
  NAMESPACE_NOT_FOUND: EXIT_REFUSED,
  NO_SPACE: EXIT_FAILURE,
  NOTHING_SELECTED: EXIT_REFUSED,
  OBJECT_EXISTS: EXIT_REFUSED,
  OBJECT_MISSING: EXIT_INTEGRITY,
  OBJECT_NOT_FOUND: EXIT_REFUSED,
  OBJECT_TOO_LARGE: EXIT_REFUSED,
  PERMISSION_DENIED: EXIT_FAILURE,
  PLUGIN_FAILED: EXIT_FAILURE,
  // A plugin named by the configuration or the command line that cannot be used: the configuration is wrong.
  PLUGIN_INVALID: EXIT_USAGE,
  REGISTRY_DUPLICATE: EXIT_FAILURE,
  REMOTE_FAILED: EXIT_FAILURE,
  SCHEME_UNKNOWN: EXIT_USAGE,
  SEGMENT_ATTACHED: EXIT_REFUSED,
  SEGMENT_CHANGED: EXIT_REFUSED,
  SEGMENT_EXISTS: EXIT_REFUSED,
  SEGMENT_INVALID: EXIT_REFUSED,
  SEGMENT_IN_USE: EXIT_REFUSED,
  SEGMENT_NOT_CLEAN: EXIT_REFUSED,
  SEGMENT_SET_INVALID: EXIT_REFUSED,
  SEGMENT_VERSION: EXIT_REFUSED,
  SHM_FAILED: EXIT_FAILURE,
  SHM_LIMIT: EXIT_FAILURE,
  SIZE_MISMATCH: EXIT_INTEGRITY,
  USAGE_INVALID: EXIT_USAGE,
};

/**
 * Every status with what it means, for people: the man page prints this table
 * (README.md has the same, with how it compares to restic's).
 */
export const EXIT_STATUSES: readonly { readonly status: number; readonly meaning: string }[] = [
  { status: EXIT_OK, meaning: 'success; also when an interrupt came after the commit point (the run finished and says so)' },
  { status: EXIT_FAILURE, meaning: 'a failure on this host or remotely: I/O, no space, permission denied, a store or the network, a missing addon, a bug' },
  { status: EXIT_USAGE, meaning: 'the command line or the configuration is wrong: an unknown command or flag, a missing or bad value (CONFIG_INVALID, also for the configuration file and SHMSNAP_ variables), an unknown codec or location scheme, a plugin that cannot be loaded (PLUGIN_INVALID)' },
  { status: EXIT_REFUSED, meaning: 'refused by a safety check (a backup exists, a segment is attached or changed, not cleanly shut down, a stale, foreign or consumed backup, an asd running, another run holding the instance...): nothing is left written' },
  { status: EXIT_INTEGRITY, meaning: 'data failed an integrity check: a checksum, a size, a corrupt or foreign object, an unreadable manifest' },
  { status: EXIT_NOT_WARM, meaning: 'preflight only: a warm start is not expected for every namespace (a cold start, a crash risk, or unknown), or a check restore would make fails; the document says which' },
  { status: EXIT_INTERRUPTED, meaning: 'interrupted (Ctrl-C, SIGTERM) before the commit point, after removing what the run wrote; a run whose cleanup is stuck in the kernel (or a third Ctrl-C) ends by the signal itself instead (a shell shows 130 for SIGINT, 143 for SIGTERM)' },
];
