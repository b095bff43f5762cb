/**
 * The sink contract: where stored objects live (a local directory, an S3
 * prefix, anything a plugin provides). Every sink runs the conformance suite
 * in `@shmsnap/core/testkit`, which checks each guarantee below.
 *
 * Names
 * - Object names are flat: `[A-Za-z0-9._-]`, not starting with a dot, at most
 *   255 characters (see `assertObjectName`). A sink MUST reject other names
 *   with NAME_INVALID before touching storage.
 *
 * Writes commit or vanish
 * - `openWriter()` returns `{ stream, commit, abort }`. Nothing is visible to
 *   `list`, `stat` or `openReader` until `commit()` resolves.
 * - `commit()` makes the object visible atomically and durably (after it
 *   resolves, a crash or power loss does not lose it). It fails with
 *   SIZE_MISMATCH if `expectedBytes` was given and a different number of
 *   bytes was written.
 * - A sink MUST NOT overwrite: committing a name that already exists fails
 *   with OBJECT_EXISTS and leaves the existing object untouched.
 * - After `abort()`, after a failed `commit()`, after the stream errors or
 *   after `signal` aborts, the object MUST NOT be visible, and no leftover
 *   (temporary file, multipart upload) may be listed as an object. `abort()`
 *   is idempotent and safe after a failed commit.
 * - `commit()` is idempotent: a second call returns the same outcome and
 *   never publishes twice. A failed commit is final. A commit before the
 *   stream ended fails with a coded error, and the object vanishes.
 * - `abort()` (or `signal`) before `commit()` resolved wins: a commit in
 *   progress rejects with ABORTED, a later one fails with ABORTED, and once
 *   `abort()` resolves the object is not visible. After `commit()` resolved,
 *   `abort()` does nothing.
 * - Core's `createSinkWriter` (`plugins/sink-writer.ts`) implements this
 *   lifecycle; a sink brings its stream, its publish and its discard.
 * - Memory held by a writer is bounded by the sink's design (for S3: part size
 *   times upload concurrency), never by the object's size.
 *
 * Reads
 * - `openReader()` streams the object's bytes; with `range` (inclusive
 *   start, exclusive end) only those bytes. A missing object fails with
 *   OBJECT_NOT_FOUND.
 * - `stat()` resolves to the object's info, or `undefined` when it does not
 *   exist.
 * - `list(prefix)` returns committed objects whose names start with `prefix`,
 *   sorted by name. With `depth` > 0 it also descends that many levels of
 *   sub-locations; such names carry `/` separators. An entry that holds an
 *   object name but is not a readable object (on a file system: a FIFO,
 *   socket, device or symbolic link) is listed with `unusable` saying what it
 *   is, never silently left out: a reader that expected an object there must
 *   refuse, not carry on as if the name were free.
 * - Every read (`openReader`, `openRandomReader`) and `stat` refuses an
 *   object that is not a regular file (FIFO, socket, device, directory, a
 *   symbolic link) with CORRUPT_OBJECT, without blocking and without
 *   following it.
 *
 * Positional reads (optional)
 * - `openRandomReader()` gives reads into the caller's memory at a position
 *   (local files: pread). Restore uses it, when the sink has it, to read raw
 *   objects straight into the segment, several ranges at once. `size` is the
 *   object's size when opened; `read()` fills as much of `target` as the
 *   object holds from `position` and resolves to that count: fewer than
 *   asked only at the end of the object. A missing object fails as
 *   `openReader` does; an object that is not a regular file is refused as
 *   above.
 *
 * Probing (optional)
 * - `checkWritable()` writes nothing and fails with the error the first write
 *   would fail with: the location is a file or under one, it is not writable
 *   (permissions, a read-only mount), or the objects' `attributes` name an
 *   owner this process cannot give. A sink that cannot tell without writing
 *   leaves it out; backup planning calls it, so a dry run finds what the real
 *   run would.
 * - `checkExists()` fails with LOCATION_NOT_FOUND when the location itself is
 *   not there (a directory that does not exist, or a path that is not a
 *   directory), and resolves otherwise. Readers (restore, verify, ls) call it
 *   when a listing comes back empty, so "the path does not exist" is said as
 *   such rather than as "no backup found". A sink whose locations exist as
 *   soon as an object is under them (S3 prefixes) leaves it out.
 *
 * Leftovers of writes (optional)
 * - `sweep({ olderThan, depth, dryRun })` finds what writes left at the
 *   location and up to `depth` levels below it that never became objects,
 *   and removes it unless `dryRun`: writes begun (last written, for a file)
 *   before `olderThan` that were never committed (S3: multipart uploads,
 *   aborted; a file system: temp files), and, where the sink has
 *   directories, sub-locations that hold nothing at all. It never touches a
 *   committed object, a write begun at or after `olderThan`, anything
 *   outside the location, nor the location itself. It resolves to what it
 *   found, each marked removed or not (a dry run, or a store that refused:
 *   `error`); a store that cannot list its unfinished writes says so in
 *   `unsupported` rather than failing. A writer whose leftover was swept
 *   then fails to commit (with a coded error), it never publishes a partial
 *   object. `shmsnap prune` calls it; a sink without such leftovers leaves
 *   it out.
 *
 * Errors
 * - Every failure is a ShmsnapError with a code; foreign errors are wrapped
 *   with the sink's name and the step (write, commit, list...).
 */
import type { Readable, Writable } from 'node:stream';

/** Ownership and permission bits for an object, where the sink can keep them. */
export interface ObjectAttributes {
  readonly uid: number;
  readonly gid: number;
  readonly mode: number;
}

export interface SinkCapabilities {
  /** openReader() honours `range` without reading the bytes before it. */
  readonly rangedReads: boolean;
  /** How many writers/readers the sink takes at once; the pipelines never open more (a writer's memory times this bounds a backup's). */
  readonly maxConcurrency: number;
  /** Largest object the sink can hold, in bytes: a backup with a larger segment is refused at plan time. */
  readonly maxObjectSize: number;
  /**
   * Objects carry uid/gid/mode (a POSIX file system): ASMT reads them from
   * there. When false, owner and mode live only in the manifest, and the
   * backup plan says so. (Every sink commits atomically: that is the
   * contract above, not a capability.)
   */
  readonly posixAttributes: boolean;
}

export interface WriterOptions {
  /** When given, commit() fails with SIZE_MISMATCH unless exactly this many bytes were written. */
  readonly expectedBytes?: number;
  /** An upper-bound estimate when the exact size is unknown (compressed objects): lets S3 pick part sizes. */
  readonly sizeHint?: number;
  readonly attributes?: ObjectAttributes;
  readonly signal?: AbortSignal;
}

export interface ObjectInfo {
  readonly name: string;
  readonly size: number;
  readonly modified?: Date;
  readonly attributes?: ObjectAttributes;
  /** Set when the name is there but holds no readable object: what it is instead (`a FIFO`, `a symbolic link`). */
  readonly unusable?: string;
}

export interface SinkWriter {
  readonly stream: Writable;
  commit(): Promise<ObjectInfo>;
  abort(reason?: unknown): Promise<void>;
}

export interface ReaderOptions {
  readonly range?: { readonly start: number; readonly end: number };
  readonly signal?: AbortSignal;
}

export interface RandomReader {
  /** The object's size in bytes, when it was opened. */
  readonly size: number;
  /** Reads into `target` from `position`; resolves to the count, less than `target.length` only at the end. */
  read(target: Uint8Array, position: number): Promise<number>;
  /** Idempotent. */
  close(): Promise<void>;
}

export interface ListOptions {
  /** How many levels of sub-locations to descend; 0 (default) lists this location only. */
  readonly depth?: number;
  readonly signal?: AbortSignal;
}

/** One leftover `sweep` found. */
export interface SweepEntry {
  /** The object name the write was for, or the sub-location, relative to the location (`/` below it). */
  readonly name: string;
  readonly kind: 'write' | 'directory';
  /** What it is, for people: `multipart upload 2~abc`, `temp file /b/.x.shmsnap-tmp`, `directory /b/h/0`. */
  readonly what: string;
  /** When the write began (S3: the upload's initiation; a file: its last change); undefined for a directory. */
  readonly startedAt?: Date;
  readonly removed: boolean;
  /** Why it was not removed although asked to (the store refused): it stays for the next sweep. */
  readonly error?: string;
}

export interface SweepOptions {
  /** Only writes begun before this are leftovers; later ones may still be running. */
  readonly olderThan: Date;
  /** Levels below the location to look into. @default 0 */
  readonly depth?: number;
  /** Report, remove nothing. @default false */
  readonly dryRun?: boolean;
  readonly signal?: AbortSignal;
}

export interface SweepResult {
  readonly entries: readonly SweepEntry[];
  /** Set when the store cannot list unfinished writes at all (s3rver answers NotImplemented): what it said. */
  readonly unsupported?: string;
}

export interface Sink {
  /** Plugin name, used in error messages: `local`, `s3`... */
  readonly name: string;
  /** The location, safe to print (secrets redacted). */
  readonly location: string;
  readonly capabilities: SinkCapabilities;
  openWriter(name: string, options?: WriterOptions): Promise<SinkWriter>;
  openReader(name: string, options?: ReaderOptions): Promise<Readable>;
  /** Positional reads into the caller's memory; sinks that have them let raw restores skip every copy. */
  openRandomReader?(name: string, options?: { readonly signal?: AbortSignal }): Promise<RandomReader>;
  stat(name: string, options?: { readonly signal?: AbortSignal }): Promise<ObjectInfo | undefined>;
  list(prefix?: string, options?: ListOptions): Promise<readonly ObjectInfo[]>;
  remove(name: string, options?: { readonly signal?: AbortSignal }): Promise<void>;
  /** Space left for new objects, when the sink can tell (a file system); undefined otherwise. */
  freeBytes?(): Promise<number | undefined>;
  /** Fails as the first write would (see Probing above), writing nothing. */
  checkWritable?(options?: { readonly attributes?: readonly ObjectAttributes[]; readonly signal?: AbortSignal }): Promise<void>;
  /** Fails with LOCATION_NOT_FOUND when the location itself is not there (see Probing above). */
  checkExists?(options?: { readonly signal?: AbortSignal }): Promise<void>;
  /** Finds, and unless `dryRun` removes, what interrupted writes left that is no object (see Leftovers above). */
  sweep?(options: SweepOptions): Promise<SweepResult>;
  /** Releases connections and handles; the sink is not used afterwards. */
  close?(): Promise<void>;
}

/** How a sink package is plugged into a registry: one per URL scheme. */
/**
 * One option a sink provider reads (see `contracts/plugin.ts`): the host
 * makes it `--<scheme>-<kebab name>` and `SHMSNAP_<SCHEME>_<SNAKE NAME>`,
 * parses it by `type`, and passes it to `create()` under `name` only when
 * the user gave it.
 */
export interface SinkOptionSpec {
  /** camelCase key in `create()`'s options: `connectionString`, `partSizeMib`. */
  readonly name: string;
  /** `boolean` takes no argument on the command line (and `--no-…` turns it off). */
  readonly type: 'string' | 'integer' | 'boolean' | 'choice';
  /** For `choice`: the accepted values. */
  readonly choices?: readonly string[];
  /** For `integer`: inclusive bounds. */
  readonly min?: number;
  readonly max?: number;
  /** Shown by help; the provider applies it, the host does not. */
  readonly default?: string | number | boolean;
  /** One line for help. */
  readonly description: string;
  /** The argument's placeholder in help: `<url>`. */
  readonly argument?: string;
  /** Standard variables read after SHMSNAP_<SCHEME>_<NAME>, in order (AZURE_STORAGE_CONNECTION_STRING). */
  readonly env?: readonly string[];
  /** Never printed by the host; not taken from a config file's values. */
  readonly secret?: boolean;
  /** Only commands that write (backup) take it. */
  readonly writes?: boolean;
  /** For `boolean`: help's line for `--no-<scheme>-<name>`. @default "not: " + description */
  readonly negation?: string;
}

export interface SinkProvider<Options = Record<string, unknown>> {
  /** URL schemes this provider handles, without the colon: `file`, `s3`. */
  readonly schemes: readonly string[];
  /** The options `create()` reads from the host, declared so the host can offer them as flags and variables. */
  readonly options?: readonly SinkOptionSpec[];
  /** One line for `shmsnap plugins` and help: `Azure Blob Storage (azblob://account/container/prefix)`. */
  readonly description?: string;
  create(location: string, options?: Options): Sink | Promise<Sink>;
  /** Location for logs: credentials, signatures and query strings removed. */
  redact?(location: string): string;
}
