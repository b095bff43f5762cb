/**
 * Every error shmsnap raises on purpose has a stable `code` from this file.
 *
 * - Codes are sorted and never renamed: scripts and the CLI's `--json` output
 *   depend on them.
 * - One factory per code (`errX`), so the message, `retryable` and `fault` of a
 *   code are decided in one place.
 * - `fault` says whose move it is: `user` (bad input, a refusal, a conflict),
 *   `system` (this host: disk, memory, permissions, a bug), `remote` (a store
 *   across the network).
 * - Messages are one line and name what and where.
 */

export type Fault = 'user' | 'system' | 'remote';

export const ERROR_CODES = [
  'ABORTED',
  'ADDON_MISSING',
  'ASD_RUNNING',
  'AUTH_FAILED',
  'BACKUP_CONSUMED',
  'BACKUP_EXISTS',
  'BACKUP_INCOMPLETE',
  'BACKUP_NOT_FOUND',
  'BACKUP_STALE',
  'CHECKSUM_MISMATCH',
  'CODEC_UNKNOWN',
  'CONFIG_INVALID',
  'CORRUPT_OBJECT',
  'INSTANCE_LOCKED',
  'INTERNAL',
  'IO_FAILED',
  'KEY_INVALID',
  'KEY_MISMATCH',
  'KEY_REQUIRED',
  'LOCATION_NOT_FOUND',
  'MANIFEST_INVALID',
  'NAME_INVALID',
  'NAMESPACE_NOT_FOUND',
  'NO_SPACE',
  'NOTHING_SELECTED',
  'OBJECT_EXISTS',
  'OBJECT_MISSING',
  'OBJECT_NOT_FOUND',
  'OBJECT_TOO_LARGE',
  'PERMISSION_DENIED',
  'PLUGIN_FAILED',
  'PLUGIN_INVALID',
  'REGISTRY_DUPLICATE',
  'REMOTE_FAILED',
  'SCHEME_UNKNOWN',
  'SEGMENT_ATTACHED',
  'SEGMENT_CHANGED',
  'SEGMENT_EXISTS',
  'SEGMENT_INVALID',
  'SEGMENT_IN_USE',
  'SEGMENT_NOT_CLEAN',
  'SEGMENT_SET_INVALID',
  'SEGMENT_VERSION',
  'SHM_FAILED',
  'SHM_LIMIT',
  'SIZE_MISMATCH',
  'USAGE_INVALID',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export type ErrorDetails = Readonly<Record<string, unknown>>;

const BRAND = Symbol.for('shmsnap.error');

export interface ShmsnapErrorInit {
  readonly retryable?: boolean;
  readonly fault: Fault;
  readonly details?: ErrorDetails;
  readonly cause?: unknown;
}

export class ShmsnapError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly fault: Fault;
  readonly details: ErrorDetails;

  constructor(code: ErrorCode, message: string, init: ShmsnapErrorInit) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'ShmsnapError';
    this.code = code;
    this.retryable = init.retryable ?? false;
    this.fault = init.fault;
    this.details = init.details ?? {};
    Object.defineProperty(this, BRAND, { value: true });
  }

  /** The same error with more details (the message, code and cause are kept). */
  withDetails(extra: ErrorDetails): ShmsnapError {
    const copy = new ShmsnapError(this.code, this.message, {
      retryable: this.retryable,
      fault: this.fault,
      details: { ...this.details, ...extra },
      cause: this.cause,
    });
    copy.stack = this.stack;
    return copy;
  }

  toJSON(): { code: ErrorCode; message: string; retryable: boolean; fault: Fault; details: ErrorDetails } {
    return { code: this.code, message: this.message, retryable: this.retryable, fault: this.fault, details: this.details };
  }
}

/**
 * True for errors made by any copy of this module (a plugin may bundle its own
 * `@shmsnap/core`), so this checks a registered symbol rather than `instanceof`.
 */
export function isShmsnapError(error: unknown, code?: ErrorCode): error is ShmsnapError {
  if (typeof error !== 'object' || error === null) return false;
  if ((error as Record<symbol, unknown>)[BRAND] !== true) return false;
  return code === undefined || (error as ShmsnapError).code === code;
}

interface SystemErrorLike {
  code?: string;
  errno?: number;
  syscall?: string;
  message?: string;
}

function systemCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as SystemErrorLike).code;
  return typeof code === 'string' ? code : undefined;
}

function describeCause(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

/**
 * A list for a one-line message: every item when there are few, else the
 * first `shown` and how many more (`0xae001100, 0xae001101, 0xae001102 and
 * 19 more`). A message stays readable for an index of hundreds of stages;
 * `details` keep the whole list.
 */
export function listSome(items: readonly string[], shown = 3): string {
  if (items.length <= shown + 1) return items.join(', ');
  return `${items.slice(0, shown).join(', ')} and ${items.length - shown} more`;
}

// ---- factories, one per code, in code order ------------------------------

export function errAborted(what: string, cause?: unknown): ShmsnapError {
  return new ShmsnapError('ABORTED', `${what} was interrupted; everything it had written was removed`, {
    fault: 'user',
    details: { what },
    cause,
  });
}

/** A native addon (shared memory, zstd) is not installed or does not load on this host; `fix` says how to get it. */
export function errAddonMissing(addon: string, fix: string, cause?: unknown): ShmsnapError {
  const why = cause === undefined ? '' : ` (${describeCause(cause).split('\n')[0]})`;
  return new ShmsnapError('ADDON_MISSING', `${addon} is not installed or does not load on this host${why}; ${fix}`, { fault: 'system', details: { addon, fix }, cause });
}

/** An asd is alive for the instance (`processes`: pid and command line of each, as found in /proc or the pid file). */
export function errAsdRunning(instance: number, processes: readonly { readonly pid: number; readonly commandLine: string | null; readonly via: string }[], pidFile: string): ShmsnapError {
  const which = processes.map((p) => `pid ${p.pid}: ${p.commandLine ?? `command line hidden, found through ${pidFile}`}`).join('; ');
  return new ShmsnapError(
    'ASD_RUNNING',
    `an Aerospike server is running for instance ${instance} (${which}): stop it first (allowRunningAsd goes on anyway)`,
    { fault: 'user', details: { instance, processes, pidFile, mentions: ['allowRunningAsd'] } },
  );
}

/** A restore of a backup already restored once (`marker`: when, where, by whom). */
/** Encrypted bytes or an authenticated manifest failed their check: altered, truncated, reordered or from elsewhere. */
export function errAuthFailed(object: string, reason: string): ShmsnapError {
  return new ShmsnapError('AUTH_FAILED', `${object}: authentication failed: ${reason}; nothing of it was used`, { fault: 'user', details: { object, reason } });
}

export function errBackupConsumed(location: string, what: string, consumed: { readonly at: string | null; readonly hostname: string | null; readonly pid: number | null; readonly marker: string }): ShmsnapError {
  const when = consumed.at === null ? 'at an unknown time' : `at ${consumed.at}`;
  const where = consumed.hostname === null ? '' : ` on host '${consumed.hostname}'`;
  return new ShmsnapError(
    'BACKUP_CONSUMED',
    `${location}: ${what} was already restored ${when}${where} (${consumed.marker}); the node has run since, so restoring it again would bring back deleted records and lose newer writes (allowConsumed restores it anyway)`,
    { fault: 'user', details: { location, what, ...consumed, mentions: ['allowConsumed'] } },
  );
}

export function errBackupExists(location: string, reason: string): ShmsnapError {
  return new ShmsnapError('BACKUP_EXISTS', `${location}: ${reason}; refusing to overwrite (choose a new location)`, {
    fault: 'user',
    details: { location, reason },
  });
}

export function errBackupIncomplete(location: string, reason: string): ShmsnapError {
  return new ShmsnapError('BACKUP_INCOMPLETE', `${location}: incomplete backup (${reason}); it cannot be restored`, {
    fault: 'user',
    details: { location, reason },
  });
}

export function errBackupNotFound(location: string, reason: string): ShmsnapError {
  return new ShmsnapError('BACKUP_NOT_FOUND', `${location}: no backup found (${reason})`, {
    fault: 'user',
    details: { location, reason },
  });
}

export function errBackupStale(location: string, reason: string): ShmsnapError {
  return new ShmsnapError('BACKUP_STALE', `${location}: ${reason}`, {
    fault: 'user',
    details: { location, reason },
  });
}

/** CRC-32 values as numbers; SHA-256 digests (`hash: 'sha256'`) as hex strings. */
export function errChecksumMismatch(object: string, what: string, expected: number | string, actual: number | string): ShmsnapError {
  if (typeof expected === 'string' || typeof actual === 'string') {
    return new ShmsnapError('CHECKSUM_MISMATCH', `${object}: SHA-256 of the ${what} is ${String(actual)}, expected ${String(expected)}`, {
      fault: 'user',
      details: { object, what, algorithm: 'sha256', expected, actual },
    });
  }
  const hex = (value: number): string => `0x${(value >>> 0).toString(16).padStart(8, '0')}`;
  return new ShmsnapError(
    'CHECKSUM_MISMATCH',
    `${object}: CRC-32 of the ${what} is ${hex(actual)}, expected ${hex(expected)}`,
    { fault: 'user', details: { object, what, expected: hex(expected), actual: hex(actual) } },
  );
}

export function errCodecUnknown(name: string, known: readonly string[]): ShmsnapError {
  return new ShmsnapError('CODEC_UNKNOWN', `unknown codec '${name}' (known: ${known.join(', ') || 'none'})`, {
    fault: 'user',
    details: { name, known },
  });
}

/** `conflictsWith`: another option that cannot be given together with `option` (frontends name both as flags). */
export function errConfigInvalid(option: string, reason: string, conflictsWith?: string): ShmsnapError {
  const message = conflictsWith === undefined ? `${option}: ${reason}` : `${option}: cannot be given with ${conflictsWith}: ${reason}`;
  return new ShmsnapError('CONFIG_INVALID', message, { fault: 'user', details: { option, reason, ...(conflictsWith === undefined ? {} : { conflictsWith }) } });
}

export function errCorruptObject(object: string, reason: string, cause?: unknown): ShmsnapError {
  return new ShmsnapError('CORRUPT_OBJECT', `${object}: ${reason}`, { fault: 'user', details: { object, reason }, cause });
}

/** Another shmsnap run holds the host lock of `instance`. */
export function errInstanceLocked(instance: number, lock: string, holder: { readonly pid: number | null; readonly commandLine: string | null }): ShmsnapError {
  const who = holder.pid === null ? 'a process that recorded no pid' : `pid ${holder.pid}${holder.commandLine === null ? '' : `: ${holder.commandLine}`}`;
  return new ShmsnapError('INSTANCE_LOCKED', `instance ${instance} is in use by another shmsnap run (${who}; lock ${lock}): wait for it to end`, {
    fault: 'user',
    retryable: true,
    details: { instance, lock, ...holder },
  });
}

export function errInternal(reason: string, cause?: unknown): ShmsnapError {
  return new ShmsnapError('INTERNAL', `internal error: ${reason}`, { fault: 'system', details: { reason }, cause });
}

/** `what` is what was being done, in words (`reading`, `creating directory`): the message reads "reading /x failed: …". */
export function errIoFailed(what: string, where: string, cause?: unknown): ShmsnapError {
  const suffix = cause === undefined ? '' : `: ${describeCause(cause)}`;
  return new ShmsnapError('IO_FAILED', `${what} ${where} failed${suffix}`, {
    fault: 'system',
    retryable: false,
    details: { what, where, errno: systemCode(cause) },
    cause,
  });
}

/**
 * The location itself is not there: a path that does not exist, or is not a
 * directory. Said as such, not as "no backup found", which is a location that
 * exists and holds none.
 */
/** Key material that cannot be used: a key file readable by others or not a regular file, a value of the wrong length or encoding. */
export function errKeyInvalid(source: string, reason: string): ShmsnapError {
  return new ShmsnapError('KEY_INVALID', `${source}: ${reason}`, { fault: 'user', details: { source, reason } });
}

/** The key given does not open the backup's data key: another key, or the wrapped key was altered. */
export function errKeyMismatch(backup: string, source: string): ShmsnapError {
  return new ShmsnapError('KEY_MISMATCH', `${backup}: the key from ${source} does not open this backup (a different key, or its wrapped data key was altered); nothing was created`, {
    fault: 'user',
    details: { backup, source },
  });
}

/** An encrypted backup was to be read without a key. */
export function errKeyRequired(backup: string, option = 'keySource'): ShmsnapError {
  return new ShmsnapError('KEY_REQUIRED', `${backup} is encrypted: it is read only with the key it was made with (${option}); nothing was created`, { fault: 'user', details: { backup, mentions: [option] } });
}

export function errLocationNotFound(location: string, reason: string): ShmsnapError {
  return new ShmsnapError('LOCATION_NOT_FOUND', `${location}: ${reason}`, { fault: 'user', details: { location, reason } });
}

export function errManifestInvalid(where: string, reason: string, cause?: unknown): ShmsnapError {
  return new ShmsnapError('MANIFEST_INVALID', `${where}: invalid manifest: ${reason}`, {
    fault: 'user',
    details: { where, reason },
    cause,
  });
}

export function errNameInvalid(name: string, reason: string): ShmsnapError {
  return new ShmsnapError('NAME_INVALID', `invalid object name ${JSON.stringify(name)}: ${reason}`, {
    fault: 'user',
    details: { name, reason },
  });
}

export function errNamespaceNotFound(namespace: string, instance: number, where: string): ShmsnapError {
  return new ShmsnapError('NAMESPACE_NOT_FOUND', `namespace '${namespace}' of instance ${instance} not found in ${where}`, {
    fault: 'user',
    details: { namespace, instance, where },
  });
}

export function errNoSpace(where: string, cause?: unknown): ShmsnapError {
  return new ShmsnapError('NO_SPACE', `no space left on device while writing ${where}`, {
    fault: 'system',
    details: { where },
    cause,
  });
}

export function errNothingSelected(where: string, reason: string): ShmsnapError {
  return new ShmsnapError('NOTHING_SELECTED', `${where}: ${reason}`, { fault: 'user', details: { where, reason } });
}

export function errObjectExists(object: string, where: string): ShmsnapError {
  return new ShmsnapError('OBJECT_EXISTS', `${object} already exists in ${where}; refusing to overwrite it`, {
    fault: 'user',
    details: { object, where },
  });
}

/**
 * An object a backup records (its manifest) is not at the location, or is
 * there as something other than a regular file: the backup is damaged. Not
 * OBJECT_NOT_FOUND, which is a sink's answer about a name it was asked for.
 */
export function errObjectMissing(object: string, where: string, reason: string): ShmsnapError {
  return new ShmsnapError('OBJECT_MISSING', `${object} is missing from ${where} (${reason})`, {
    fault: 'user',
    details: { object, where, reason },
  });
}
export function errObjectNotFound(object: string, where: string): ShmsnapError {
  return new ShmsnapError('OBJECT_NOT_FOUND', `${object} not found in ${where}`, {
    fault: 'user',
    details: { object, where },
  });
}

export function errObjectTooLarge(object: string, bytes: number, limit: number, where: string): ShmsnapError {
  return new ShmsnapError('OBJECT_TOO_LARGE', `${object} would hold ${bytes} bytes; ${where} takes objects of at most ${limit} bytes`, {
    fault: 'user',
    details: { object, bytes, limit, where },
  });
}

export function errPermissionDenied(what: string, where: string, cause?: unknown): ShmsnapError {
  return new ShmsnapError('PERMISSION_DENIED', `permission denied: ${what} ${where}`, {
    fault: 'user',
    details: { what, where },
    cause,
  });
}

/**
 * A plugin (sink or codec) failed with an error that is not ours: keep who and
 * where, so the message says which plugin broke during which step.
 */
export function errPluginFailed(plugin: string, step: string, cause: unknown, retryable = false): ShmsnapError {
  return new ShmsnapError('PLUGIN_FAILED', `${plugin} failed during ${step}: ${describeCause(cause)}`, {
    fault: 'system',
    retryable,
    details: { plugin, step },
    cause,
  });
}

/**
 * A plugin that cannot be used: not found, failing on import, not of the
 * contract's shape, or built for another plugin API version. `plugin` is what
 * the user named (a package or a path), `reason` says what is wrong and, for
 * one not found, where it was looked for.
 */
export function errPluginInvalid(plugin: string, reason: string, details: ErrorDetails = {}, cause?: unknown): ShmsnapError {
  return new ShmsnapError('PLUGIN_INVALID', `plugin ${plugin}: ${reason}`, {
    fault: 'user',
    details: { plugin, reason, ...details },
    cause,
  });
}

/** `owners`: the plugins that both offer it (the first registered first), when they are known. */
export function errRegistryDuplicate(kind: string, name: string, owners?: readonly [string, string]): ShmsnapError {
  const by = owners === undefined ? '' : `: plugins ${owners[0]} and ${owners[1]} both provide it`;
  return new ShmsnapError('REGISTRY_DUPLICATE', `a ${kind} named '${name}' is already registered${by}`, {
    fault: 'system',
    details: { kind, name, ...(owners === undefined ? {} : { plugins: [...owners] }) },
  });
}

export function errRemoteFailed(what: string, where: string, retryable: boolean, cause?: unknown): ShmsnapError {
  const suffix = cause === undefined ? '' : `: ${describeCause(cause)}`;
  return new ShmsnapError('REMOTE_FAILED', `${what} failed for ${where}${suffix}`, {
    fault: 'remote',
    retryable,
    details: { what, where },
    cause,
  });
}

export function errSchemeUnknown(location: string, known: readonly string[]): ShmsnapError {
  return new ShmsnapError(
    'SCHEME_UNKNOWN',
    `no sink handles location '${location}' (known schemes: ${known.join(', ') || 'none'})`,
    { fault: 'user', details: { location, known } },
  );
}

export function errSegmentAttached(key: string, nattch: number): ShmsnapError {
  return new ShmsnapError(
    'SEGMENT_ATTACHED',
    `segment ${key} is attached by ${nattch} process(es): stop the Aerospike server first`,
    { fault: 'user', details: { key, nattch } },
  );
}

/**
 * A segment changed while a backup read it (attached, detached, its owner or
 * mode set, removed, its shutdown status no longer clean): the copy may hold
 * neither the old content nor the new, so the backup is not committed.
 * A refusal (exit 3), not an integrity failure (exit 4): no stored data
 * failed a check — the safety check of SEGMENT_ATTACHED said no, later — and
 * the remedy is the same: stop whatever uses the segments and run again.
 */
export function errSegmentChanged(key: string, change: string): ShmsnapError {
  return new ShmsnapError(
    'SEGMENT_CHANGED',
    `segment ${key} changed during the backup: ${change}; the backup was not committed (stop every process using the segments, then back up again)`,
    { fault: 'user', details: { key, change } },
  );
}

export function errSegmentExists(key: string, reason: string): ShmsnapError {
  return new ShmsnapError('SEGMENT_EXISTS', `segment ${key} already exists: ${reason}`, {
    fault: 'user',
    details: { key, reason },
  });
}

export function errSegmentInvalid(key: string, reason: string): ShmsnapError {
  return new ShmsnapError('SEGMENT_INVALID', `segment ${key}: ${reason}`, { fault: 'user', details: { key, reason } });
}

/**
 * A segment that is not a leftover: a base whose shutdown status says it holds
 * an index Aerospike can warm-start from. `clear` refuses to remove it.
 */
export function errSegmentInUse(key: string, reason: string): ShmsnapError {
  return new ShmsnapError('SEGMENT_IN_USE', `segment ${key} ${reason}`, { fault: 'user', details: { key, reason } });
}

export function errSegmentNotClean(key: string, status: number): ShmsnapError {
  return new ShmsnapError(
    'SEGMENT_NOT_CLEAN',
    `base segment ${key} was not cleanly shut down (shutdown status ${status}, expected 1): the index cannot be trusted`,
    { fault: 'user', details: { key, status } },
  );
}

export function errSegmentSetInvalid(where: string, reason: string): ShmsnapError {
  return new ShmsnapError('SEGMENT_SET_INVALID', `${where}: ${reason}`, { fault: 'user', details: { where, reason } });
}

export function errSegmentVersion(key: string, version: number, supported: string): ShmsnapError {
  return new ShmsnapError(
    'SEGMENT_VERSION',
    `base segment ${key} has version ${version}; supported versions are ${supported}`,
    { fault: 'user', details: { key, version, supported } },
  );
}

export function errShmFailed(syscall: string, what: string, cause?: unknown): ShmsnapError {
  const suffix = cause === undefined ? '' : `: ${describeCause(cause)}`;
  return new ShmsnapError('SHM_FAILED', `${syscall} failed for ${what}${suffix}`, {
    fault: 'system',
    details: { syscall, what, errno: systemCode(cause) },
    cause,
  });
}

/** `why` says where the expected size comes from, when the reader cannot guess it (a sibling's size, a header's). */
/**
 * The kernel's limits or the host's memory cannot hold what a restore would
 * create (kernel.shmmax, shmall, shmmni, or MemAvailable): found before any
 * segment is created, so a dry run reports it too.
 */
export function errShmLimit(what: string, reason: string): ShmsnapError {
  return new ShmsnapError('SHM_LIMIT', `shared memory cannot hold ${what}: ${reason}`, {
    fault: 'system',
    details: { what, reason },
  });
}
export function errSizeMismatch(object: string, expected: number, actual: number, what = 'bytes', why?: string): ShmsnapError {
  return new ShmsnapError('SIZE_MISMATCH', `${object}: got ${actual} ${what}, expected ${expected}${why ? ` (${why})` : ''}`, {
    fault: 'user',
    details: { object, expected, actual, what, ...(why ? { why } : {}) },
  });
}

/**
 * The command line itself is wrong: an unknown command or option, a missing
 * or invalid argument (found by the frontend's parser, before anything runs).
 * Options core checks are CONFIG_INVALID.
 */
export function errUsageInvalid(reason: string, hint?: string, details: ErrorDetails = {}): ShmsnapError {
  return new ShmsnapError('USAGE_INVALID', hint === undefined ? reason : `${reason}; ${hint}`, { fault: 'user', details: { reason, ...details } });
}

/**
 * Several problems found by one check (a dry run reports every one): the
 * first, with the messages of the others in `details.more` (a problem that
 * carried its own `more` keeps them, in order). The first decides the code.
 */
/**
 * For checks that report every problem, not just the first: a coded failure
 * joins `problems` (for combineErrors); an interrupt, or an error without a
 * code (a bug), is rethrown at once.
 */
export function collectProblem(problems: ShmsnapError[], error: unknown, signal?: AbortSignal): void {
  if (signal?.aborted || !isShmsnapError(error) || error.code === 'ABORTED') throw error;
  problems.push(error);
}

export function combineErrors(errors: readonly ShmsnapError[]): ShmsnapError {
  const messages = (error: ShmsnapError): string[] => [error.message, ...(Array.isArray(error.details.more) ? (error.details.more as string[]) : [])];
  const [first, ...rest] = errors;
  if (!first) return errInternal('combineErrors called with no error');
  if (rest.length === 0) return first;
  // Two checks that find the same fault (a location that is a file: listing it, and probing it) say it once.
  const more = [...new Set([...messages(first).slice(1), ...rest.flatMap(messages)])].filter((m) => m !== first.message);
  return more.length === 0 ? first : first.withDetails({ more });
}

// ---- mapping foreign errors ----------------------------------------------

/** `/backups/n1/ae001100.dat` → the object and what holds it, for "X not found in Y". */
function splitWhere(where: string): { object: string; within: string } {
  const cut = where.lastIndexOf('/');
  if (cut <= 0 || cut === where.length - 1) return { object: where, within: 'the location' };
  return { object: where.slice(cut + 1), within: where.slice(0, cut) };
}

/**
 * What a step is, said to a person: callers name their step briefly (`open`,
 * `create directory`); a message says what was being done ("creating
 * directory /x failed"), never the step's name. A step not listed here is
 * taken to be words already (`reading the manifest`).
 */
const STEP_WORDS: Readonly<Record<string, string>> = {
  abort: 'discarding',
  backup: 'backing up',
  commit: 'committing',
  create: 'creating',
  'create directory': 'creating directory',
  list: 'listing',
  open: 'opening',
  'open-writer': 'creating',
  read: 'reading',
  remove: 'removing',
  stat: 'looking up',
  verify: 'verifying',
  write: 'writing',
};

/** `create directory` → `creating directory`: the words for a step, for messages. */
export function describeStep(step: string): string {
  return STEP_WORDS[step] ?? step;
}

/**
 * Turns an error from the file system or a library into one of ours. `what`
 * is the step (kept in `details.operation`; messages say it in words, see
 * `describeStep`), `where` the path or object it concerned. Our own errors
 * pass through unchanged.
 */
export function toShmsnapError(error: unknown, what: string, where: string): ShmsnapError {
  if (isShmsnapError(error)) return error;
  const { object, within } = splitWhere(where);
  const operation = { operation: what };
  const doing = describeStep(what);
  switch (systemCode(error)) {
    case 'ENOSPC':
    case 'EDQUOT':
      return errNoSpace(where, error).withDetails(operation);
    case 'EEXIST':
      return errObjectExists(object, within).withDetails(operation);
    case 'ENOENT':
      return errObjectNotFound(object, within).withDetails(operation);
    case 'EACCES':
    case 'EPERM':
      return errPermissionDenied(doing, where, error).withDetails(operation);
    case 'EROFS':
      // Not a matter of permissions: say so, or the user goes looking at modes.
      return errPermissionDenied(doing, `${where} (read-only file system)`, error).withDetails(operation);
    case 'ABORT_ERR':
      return errAborted(`${doing} ${where}`, error).withDetails(operation);
    default:
      return errIoFailed(doing, where, error).withDetails(operation);
  }
}

/** The fixed steps at which a plugin (a sink) is called; every plugin failure names one in `details.stage`. */
export const PLUGIN_STAGES = ['open-writer', 'write', 'commit', 'abort', 'read', 'stat', 'list', 'remove'] as const;
export type PluginStage = (typeof PLUGIN_STAGES)[number];

/** A stage in words, for "s3 failed during the commit of ae001100.dat". */
const STAGE_NOUNS: Readonly<Record<PluginStage, string>> = {
  'open-writer': 'the creation',
  write: 'the write',
  commit: 'the commit',
  abort: 'the discarding',
  read: 'the read',
  stat: 'the lookup',
  list: 'the listing',
  remove: 'the removal',
};

/**
 * Gives a plugin's failure its context: `details.plugin`, `details.stage`
 * and `details.object` (unless the plugin named one), and for foreign errors
 * the plugin's own code as `details.pluginCode`. Coded errors keep their code
 * and message; foreign ones become PLUGIN_FAILED (or NO_SPACE / ABORTED,
 * which mean the same whoever raised them). Applied once per call by
 * `withSinkContext`, not at call sites.
 */
export function withPluginContext(error: unknown, plugin: string, stage: PluginStage, object?: string): ShmsnapError {
  const context = (coded: ShmsnapError): ShmsnapError =>
    coded.withDetails({ plugin, stage, ...(object === undefined || coded.details.object !== undefined ? {} : { object }) });
  if (isShmsnapError(error)) return error.details.plugin === undefined ? context(error) : error;
  const code = systemCode(error);
  const pluginCode = code === undefined ? {} : { pluginCode: code };
  if (code === 'ENOSPC' || code === 'EDQUOT' || code === 'ABORT_ERR') return context(toShmsnapError(error, stage, object ?? plugin)).withDetails(pluginCode);
  return context(errPluginFailed(plugin, `${STAGE_NOUNS[stage]} of ${object ?? 'the location'}`, error)).withDetails(pluginCode);
}
