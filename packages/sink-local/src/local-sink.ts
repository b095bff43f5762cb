/**
 * A sink in a local directory, with ASMT's layout: one file per object,
 * files 0600 while written, directories 0700.
 *
 * Durable, atomic commit (restic's local backend is the model):
 *   temp file beside the target (O_EXCL, 0600) → write → fchown/fchmod →
 *   fsync → link to the final name → unlink the temp → fsync the directory.
 * `link()` fails if the final name exists, so publishing never overwrites,
 * even against a concurrent writer. Temp files start with a dot and end in
 * `.shmsnap-tmp`; they are never listed, so a crash leaves nothing that
 * looks like an object. Whole 4 KiB blocks are written and read past the
 * page cache (O_DIRECT, `directIo`; direct-reads.ts for reads), the rest
 * through it; the commit above is the same either way.
 *
 * The writer's lifecycle (states, abort, the signal, the size check, "a
 * failed commit discards") is core's `createSinkWriter`; this file brings the
 * file, its publish and its removal.
 *
 * The location's directory (and its missing parents) is created with the
 * first writer. The directories this sink created go again when a removal or
 * a discarded write leaves them empty, so a failed or interrupted backup into
 * a new directory leaves nothing behind; a directory that existed before is
 * never removed. `sweep` (prune) removes temp files last written before its
 * threshold (a writer in progress keeps writing, so its file stays young)
 * and directories below the location that hold nothing.
 *
 * Only regular files are objects. Anything else under an object's name (a
 * FIFO, a socket, a device, a directory, a symbolic link — wherever it
 * points) is listed, so that whoever needs it can name it, but every read
 * and `stat` refuses it with CORRUPT_OBJECT before opening it: `lstat` first
 * (a device is never opened), then `open(O_NOFOLLOW | O_NONBLOCK)` (a FIFO
 * or a link swapped in meanwhile cannot block or redirect the open), then
 * `fstat` on what was opened. A FIFO opened for reading would otherwise wait
 * forever for a writer on a thread of the pool, where no signal reaches it.
 * The location itself may be a symbolic link; the objects in it may not.
 */
import { randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import type { Stats } from 'node:fs';
import { access, link, lstat, mkdir, open, readdir, readFile, rename, rmdir, stat, statfs, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import {
  assertObjectName,
  assertObjectPath,
  createSinkWriter,
  errAborted,
  errConfigInvalid,
  errCorruptObject,
  errIoFailed,
  errLocationNotFound,
  errObjectExists,
  errPermissionDenied,
  errSizeMismatch,
  isObjectName,
  toShmsnapError,
  type ListOptions,
  type ObjectAttributes,
  type ObjectInfo,
  type ReaderOptions,
  type ShmsnapError,
  type Sink,
  type SinkProvider,
  type SweepEntry,
  type SweepOptions,
} from '@shmsnap/core/plugin-kit';
import { alignedMemory, BLOCK, openBypass, openDirectReadStream, openPositionalReads, releaseMemory } from './direct-reads.js';

export interface LocalSinkOptions {
  /**
   * fsync each file before it is published and the directory after. Only
   * turn this off for throwaway data: without it a power cut can leave a
   * committed object empty.
   * @default true
   */
  readonly fsync?: boolean;
  /**
   * Bytes per sequential read from a file, and per chunk passed on. 2 MiB:
   * with 4 MiB the encrypted zstd restore peaked at 309-319 MiB RSS against
   * 283 (the decrypting stage holds up to a frame's worth of chunks), at the
   * same speed (quick A/B, 5 cold restores each, 2026-12-03). @default 2 MiB
   */
  readonly readChunkBytes?: number;
  /**
   * Reads and writes of whole 4 KiB blocks bypass the page cache (O_DIRECT),
   * falling back to it where the kernel refuses: positional reads (raw
   * restores into the segment), sequential reads (`openReader`) and the
   * writes of a backup, whose bytes are then on the device before the fsync
   * that commits them (the fsync is still made: it makes the file's size and
   * blocks durable). A backup or a restore moves each byte once, so a cache
   * gains nothing and costs the copy and the filling of its pages: measured
   * on the 2 GiB index (2 vCPUs, ext4 on virtio, 5 runs each, alternating,
   * 2026-12-03), a raw backup 1,379 MB/s at 2.1 CPU-s against 510 at 5.9,
   * raw restore 1,118 against 690, zstd restore 620 against 458
   * (direct-reads.ts). False goes through the cache always. @default true
   */
  readonly directIo?: boolean;
}

const TEMP_SUFFIX = '.shmsnap-tmp';
const DIRECTORY_MODE = 0o700;
const FILE_MODE = 0o600;

/**
 * `file:///x`, `/x` or a relative path → an absolute directory path. A
 * `file://` URL names a path on this host and nothing else: one with a host,
 * credentials, a query or a fragment, or that does not parse, is refused
 * (CONFIG_INVALID), as is an empty location (an unset shell variable would
 * otherwise mean the current directory).
 */
export function localPathOf(location: string): string {
  if (location.trim() === '') throw errConfigInvalid('location', 'empty (an unset shell variable?): give a directory, file:///absolute/path or s3://bucket/prefix');
  if (!/^file:\/\//i.test(location)) return resolve(location);
  // Never print what may be a password.
  const shown = location.replace(/^(file:\/\/)[^/?#]*@/i, '$1');
  const refuse = (why: string): never => {
    throw errConfigInvalid(`location ${shown}`, `${why}; a local location is file:///absolute/path (three slashes) or a plain path`);
  };
  // WHATWG URLs cannot parse credentials in a file URL at all: look for them first, to say so.
  if (/^file:\/\/[^/?#]*@/i.test(location)) refuse('a file:// URL takes no credentials');
  let url: URL;
  try {
    url = new URL(location);
  } catch {
    return refuse('not a valid URL');
  }
  if (url.host !== '' && url.hostname !== 'localhost') refuse(`a file:// URL names no host but this one ('${url.host}' given)`);
  if (url.search !== '' || url.hash !== '') refuse('a file:// URL takes no query string or fragment');
  try {
    return fileURLToPath(url);
  } catch (error) {
    return refuse(`not a usable file path (${error instanceof Error ? error.message : String(error)})`);
  }
}

/** `a FIFO`, `a symbolic link`...: what a non-regular file is, for the refusal. */
function describeType(info: Stats): string {
  if (info.isSymbolicLink()) return 'a symbolic link';
  if (info.isFIFO()) return 'a FIFO';
  if (info.isSocket()) return 'a socket';
  if (info.isCharacterDevice()) return 'a character device';
  if (info.isBlockDevice()) return 'a block device';
  if (info.isDirectory()) return 'a directory';
  return 'not a regular file';
}

function errNotRegular(path: string, type: string): ShmsnapError {
  return errCorruptObject(path, `is ${type}, not a regular file; objects are read only from regular files (never through a link)`).withDetails({ type });
}

/** A location that is a file (or has one on its path): named, as a mistake in the location given. */
async function errNotADirectory(directory: string): Promise<ShmsnapError> {
  const type = await stat(directory).then((s) => (s.isDirectory() ? undefined : describeType(s)), () => undefined);
  if (type) return errConfigInvalid('location', `${directory} is ${type === 'not a regular file' ? 'a file' : type}, not a directory`);
  return errConfigInvalid('location', `${directory}: ${await nearestNonDirectory(directory)} is a file, not a directory`);
}

/** The regular file at `path` (lstat, so a link is not followed); undefined if nothing is there. Anything else is refused. */
async function regularFileAt(path: string, what: 'stat' | 'open'): Promise<Stats | undefined> {
  let info: Stats;
  try {
    info = await lstat(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw toShmsnapError(error, what, path);
  }
  if (!info.isFile()) throw errNotRegular(path, describeType(info));
  return info;
}

/**
 * Opens the regular file at `path` for reading without ever blocking or
 * following a link: refused by lstat before the open, by O_NOFOLLOW (ELOOP)
 * or by fstat after it if something else was swapped in meanwhile. A missing
 * file is OBJECT_NOT_FOUND.
 */
async function openRegularFile(path: string): Promise<{ handle: FileHandle; info: Stats }> {
  if (!(await regularFileAt(path, 'open'))) throw toShmsnapError(Object.assign(new Error('no such file'), { code: 'ENOENT' }), 'open', path);
  let handle: FileHandle;
  try {
    handle = await open(path, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ELOOP') throw errNotRegular(path, 'a symbolic link');
    throw toShmsnapError(error, 'open', path);
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw errNotRegular(path, describeType(info));
    return { handle, info };
  } catch (error) {
    await handle.close().catch(() => undefined);
    throw toShmsnapError(error, 'open', path);
  }
}

async function writeFully(handle: FileHandle, chunk: Uint8Array, path: string, position: number): Promise<void> {
  let offset = 0;
  while (offset < chunk.length) {
    const { bytesWritten } = await handle.write(chunk, offset, chunk.length - offset, position + offset);
    if (bytesWritten === 0) throw errIoFailed('writing', path, new Error('write(2) wrote nothing'));
    offset += bytesWritten;
  }
}

async function fsyncDirectory(path: string): Promise<void> {
  const handle = await open(path, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Bytes staged in aligned memory before one O_DIRECT write, for chunks the
 * kernel will not take from where they are (a codec's output buffers). A
 * zstd backup's 1.4 GB of output otherwise went through the page cache,
 * ~1.2 CPU-s per GB at the fsync on this machine, against one copy here.
 */
const STAGE_BYTES = 4 * 1024 * 1024;

/** A Writable over a file handle that counts bytes and waits for in-flight writes before closing. */
class FileSink extends Writable {
  bytes = 0;
  #inFlight: Promise<void> = Promise.resolve();
  /** The same file opened O_DIRECT (writes of whole blocks), closed with the stream; undefined once the kernel refused it. */
  #bypass: FileHandle | undefined;
  readonly #bypassHandle: FileHandle | undefined;
  /**
   * Once the kernel refused a chunk's memory: everything from `#stageAt` (a
   * block boundary) on is gathered here and written a stage at a time past
   * the cache; the last partial block goes through the cache at the end.
   */
  #stage: Uint8Array | undefined;
  #stageFill = 0;
  #stageAt = 0;

  constructor(
    private readonly handle: FileHandle,
    private readonly path: string,
    private readonly expectedBytes: number | undefined,
    bypass?: FileHandle,
  ) {
    super({ highWaterMark: 1024 * 1024 });
    this.#bypass = bypass;
    this.#bypassHandle = bypass;
  }

  /** Writes `chunk` at `position`: its whole 4 KiB blocks through O_DIRECT where it is in use, the rest through the page cache. */
  async #writeAt(chunk: Uint8Array, position: number): Promise<void> {
    if (this.#stage) return this.#stageChunk(chunk);
    const blocks = this.#bypass && position % BLOCK === 0 ? chunk.length - (chunk.length % BLOCK) : 0;
    if (blocks === 0) return writeFully(this.handle, chunk, this.path, position);
    try {
      await writeFully(this.#bypass!, blocks === chunk.length ? chunk : chunk.subarray(0, blocks), this.path, position);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EINVAL') throw error;
      // Refused: this memory is not aligned (or the file system refuses). Stage from here on, or else the page cache.
      this.#stage = alignedMemory(STAGE_BYTES);
      if (this.#stage) {
        this.#stageAt = position;
        return this.#stageChunk(chunk);
      }
      this.#bypass = undefined;
      return writeFully(this.handle, chunk, this.path, position);
    }
    if (blocks < chunk.length) await writeFully(this.handle, chunk.subarray(blocks), this.path, position + blocks);
  }

  async #stageChunk(chunk: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < chunk.length) {
      const n = Math.min(chunk.length - offset, STAGE_BYTES - this.#stageFill);
      this.#stage!.set(chunk.subarray(offset, offset + n), this.#stageFill);
      this.#stageFill += n;
      offset += n;
      if (this.#stageFill === STAGE_BYTES) await this.#flushStage();
    }
  }

  /** Writes what is staged: whole blocks past the cache, a last partial block (`final` only) through it. */
  async #flushStage(final = false): Promise<void> {
    const stage = this.#stage!;
    const blocks = this.#stageFill - (this.#stageFill % BLOCK);
    if (blocks > 0 && this.#bypass) {
      try {
        await writeFully(this.#bypass, stage.subarray(0, blocks), this.path, this.#stageAt);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EINVAL') throw error;
        this.#bypass = undefined; // the file system refuses: these bytes and the rest through the cache
      }
    }
    const cached = this.#bypass ? blocks : 0;
    if (final || !this.#bypass) {
      await writeFully(this.handle, stage.subarray(cached, this.#stageFill), this.path, this.#stageAt + cached);
      this.#stageAt += this.#stageFill;
      this.#stageFill = 0;
    } else {
      stage.copyWithin(0, blocks, this.#stageFill);
      this.#stageAt += blocks;
      this.#stageFill -= blocks;
    }
    if (!this.#bypass) {
      // No more staging: later chunks go straight to the cache.
      releaseMemory(stage);
      this.#stage = undefined;
    }
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (!this.#stage) {
      callback();
      return;
    }
    this.#inFlight = this.#flushStage(true).then(
      () => callback(),
      (error: unknown) => callback(toShmsnapError(error, 'write', this.path)),
    );
  }

  #tooMany(adding: number): ShmsnapError | undefined {
    if (this.expectedBytes !== undefined && this.bytes + adding > this.expectedBytes) {
      return errSizeMismatch(this.path, this.expectedBytes, this.bytes + adding, 'bytes (or more)');
    }
    return undefined;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const tooMany = this.#tooMany(chunk.length);
    if (tooMany) {
      callback(tooMany);
      return;
    }
    this.#inFlight = this.#writeAt(chunk, this.bytes).then(
      () => {
        this.bytes += chunk.length;
        callback();
      },
      (error: unknown) => callback(toShmsnapError(error, 'write', this.path)),
    );
  }

  override _writev(chunks: { chunk: Buffer }[], callback: (error?: Error | null) => void): void {
    const buffers = chunks.map((c) => c.chunk);
    const total = buffers.reduce((sum, b) => sum + b.length, 0);
    const tooMany = this.#tooMany(total);
    if (tooMany) {
      callback(tooMany);
      return;
    }
    const start = this.bytes;
    this.#inFlight = (async () => {
      if (this.#bypass) {
        let at = start;
        for (const buffer of buffers) {
          await this.#writeAt(buffer, at);
          at += buffer.length;
        }
        return;
      }
      let { bytesWritten } = await this.handle.writev(buffers, start);
      // A short writev: finish the rest one buffer at a time.
      let at = start;
      for (const buffer of buffers) {
        if (bytesWritten >= buffer.length) {
          bytesWritten -= buffer.length;
          at += buffer.length;
          continue;
        }
        await writeFully(this.handle, buffer.subarray(bytesWritten), this.path, at + bytesWritten);
        at += buffer.length;
        bytesWritten = 0;
      }
    })().then(
      () => {
        this.bytes += total;
        callback();
      },
      (error: unknown) => callback(toShmsnapError(error, 'write', this.path)),
    );
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    // 'close' must mean no write still reads a chunk (it may be a view of
    // shared memory that is about to be detached).
    void this.#inFlight
      .catch(() => undefined)
      .then(() => {
        if (this.#stage) releaseMemory(this.#stage);
        this.#stage = undefined;
        return this.#bypassHandle?.close();
      })
      .catch(() => undefined)
      .then(() => callback(error));
  }
}

/**
 * The temp file behind one writer, and the two ways it ends: published under
 * its final name (`publish`), or removed with every trace (`discard`).
 * `createSinkWriter` decides which, and when.
 */
class TempFile {
  #handleClosed = false;
  /** The final name is ours: a discard after it (an abort that won over the commit) removes it. */
  #published = false;

  constructor(
    private readonly handle: FileHandle,
    private readonly tempPath: string,
    private readonly directory: string,
    private readonly name: string,
    private readonly fsync: boolean,
  ) {}

  get #finalPath(): string {
    return join(this.directory, this.name);
  }

  async #closeHandle(): Promise<void> {
    if (this.#handleClosed) return;
    this.#handleClosed = true;
    await this.handle.close().catch(() => undefined);
  }

  async publish(bytes: number, attributes: ObjectAttributes | undefined): Promise<ObjectInfo> {
    try {
      if (attributes) await this.#applyAttributes(attributes);
      if (this.fsync) await this.handle.sync();
      await this.#closeHandle();
      const how = await this.#link();
      this.#published = true;
      if (how === 'linked') await unlink(this.tempPath);
      if (this.fsync) await fsyncDirectory(this.directory);
    } catch (error) {
      throw toShmsnapError(error, 'commit', this.#finalPath);
    }
    return {
      name: this.name,
      size: bytes,
      ...(attributes ? { attributes: { ...attributes, mode: attributes.mode & 0o777 } } : {}),
    };
  }

  async discard(): Promise<void> {
    await this.#closeHandle();
    await removeIfThere(this.tempPath);
    if (!this.#published) return;
    await removeIfThere(this.#finalPath);
    // As durable as the link was: a crash must not bring the object back.
    if (this.fsync) await fsyncDirectory(this.directory);
  }

  async #applyAttributes(attributes: ObjectAttributes): Promise<void> {
    // Only the nine permission bits: SHM_LOCKED (02000) must never become setgid (ASMT's bug).
    const mode = attributes.mode & 0o777;
    const needsChown = attributes.uid !== process.getuid?.() || attributes.gid !== process.getgid?.();
    try {
      if (needsChown) await this.handle.chown(attributes.uid, attributes.gid);
      await this.handle.chmod(mode);
    } catch (error) {
      throw errPermissionDenied(`setting owner ${attributes.uid}:${attributes.gid} and mode 0${mode.toString(8)} on`, this.#finalPath, error);
    }
  }

  async #link(): Promise<'linked' | 'renamed'> {
    const where = this.#finalPath;
    try {
      await link(this.tempPath, where);
      return 'linked';
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') throw errObjectExists(this.name, this.directory);
      // File systems without hard links: fall back to rename after checking.
      // This leaves a window against a concurrent writer of the same name,
      // which the backup's own location check already rules out.
      if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP' || code === 'EMLINK') {
        const exists = await stat(where).then(() => true, () => false);
        if (exists) throw errObjectExists(this.name, this.directory);
        await rename(this.tempPath, where);
        return 'renamed';
      }
      throw error;
    }
  }
}

/** What a directory entry that is not a regular file (nor a directory) is, for `ObjectInfo.unusable`. */
/** What a path that is not a directory is, for "not a directory (it is a regular file)". */
function describeStats(info: Stats): string {
  return info.isFile() ? 'a regular file' : describeType(info);
}

/** The nearest ancestor of `path` that exists: when stat(path) said ENOTDIR, a file. */
async function nearestNonDirectory(path: string): Promise<string> {
  for (let up = dirname(path); up !== dirname(up); up = dirname(up)) {
    if (await stat(up).then(() => true, () => false)) return up;
  }
  return path;
}

/** CAP_CHOWN (bit 0 of the effective set): what chown(2) to another owner needs; root has it unless dropped. */
async function mayChown(): Promise<boolean> {
  const status = await readFile('/proc/self/status', 'utf8').catch(() => undefined);
  const match = status && /^CapEff:\s*([0-9a-f]+)$/m.exec(status);
  if (!match) return process.geteuid?.() === 0;
  return (BigInt(`0x${match[1]}`) & 1n) === 1n;
}

/** Removes a file; one that is already gone is fine (after a link, the temp name is). */
async function removeIfThere(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw toShmsnapError(error, 'remove', path);
  }
}

/**
 * A destination that cannot be written, said as such: PERMISSION_DENIED
 * naming what could not be made and why (a read-only file system, or a
 * directory this user may not write). Undefined for other failures.
 */
function notWritable(error: unknown, doing: string, path: string, directory: string): ShmsnapError | undefined {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'EROFS') return errPermissionDenied(doing, `${path} (read-only file system)`, error);
  const who = `uid ${process.getuid?.() ?? '?'}`;
  if (code === 'EACCES' || code === 'EPERM') return errPermissionDenied(doing, `${path} (${path === directory ? 'not writable' : `${directory} is not writable`} by ${who})`, error);
  return undefined;
}

export function createLocalSink(location: string, options: LocalSinkOptions = {}): Sink {
  const directory = localPathOf(location);
  const fsync = options.fsync ?? true;
  const readChunkBytes = options.readChunkBytes ?? 2 * 1024 * 1024;
  const directIo = options.directIo ?? true;

  /** The directories this sink created, deepest first: only these may be removed, and only when empty. */
  const created: string[] = [];
  // Creating the directory and a temp file in it, and removing it when empty,
  // take turns: a removal must never pull the directory from under a writer
  // that has just made sure it exists.
  let directoryTurn: Promise<unknown> = Promise.resolve();
  const inTurn = <T>(work: () => Promise<T>): Promise<T> => {
    const run = directoryTurn.then(work, work);
    directoryTurn = run.catch(() => undefined);
    return run;
  };

  /**
   * Makes `path` and its missing parents, one level at a time: so a failure
   * names the level that failed and why (mkdir -p reports ENOENT for a
   * parent it could not make on a read-only file system), and so exactly the
   * directories made here are known (`created`).
   */
  async function makeDirectory(path: string = directory): Promise<void> {
    const make = async (): Promise<'made' | 'exists' | 'no parent'> => {
      try {
        await mkdir(path, { mode: DIRECTORY_MODE });
        created.unshift(path);
        return 'made';
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'EEXIST' && (await stat(path).then((s) => s.isDirectory(), () => false))) return 'exists';
        if (code === 'ENOENT' && path !== dirname(path)) return 'no parent';
        throw notWritable(error, 'creating directory', path, dirname(path)) ?? toShmsnapError(error, 'create directory', path);
      }
    };
    if ((await make()) !== 'no parent') return;
    await makeDirectory(dirname(path));
    if ((await make()) === 'no parent') throw toShmsnapError(Object.assign(new Error(`${dirname(path)} vanished`), { code: 'ENOENT' }), 'create directory', path);
  }

  /** Removes the directories this sink created, deepest first, while they are empty (rmdir refuses any other). */
  function pruneCreated(): Promise<void> {
    return inTurn(async () => {
      while (created.length > 0) {
        try {
          await rmdir(created[0]!);
        } catch {
          return; // not empty (a file someone else put there, a sibling backup) or not ours to remove: it stays
        }
        created.shift();
      }
    });
  }

  const infoFrom = (name: string, s: Stats): ObjectInfo => ({ name, size: s.size, modified: s.mtime, attributes: { uid: s.uid, gid: s.gid, mode: s.mode & 0o777 } });

  /** The object's info; undefined if there is none; a non-regular file under its name is refused. */
  const infoOf = async (name: string): Promise<ObjectInfo | undefined> => {
    const s = await regularFileAt(join(directory, name), 'stat');
    return s ? infoFrom(name, s) : undefined;
  };

  async function listDirectory(relative: string, prefix: string, depth: number, out: ObjectInfo[]): Promise<void> {
    const here = join(directory, relative);
    let entries;
    try {
      entries = await readdir(here, { withFileTypes: true });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      // The location itself being a file is a mistake to name; a sub-location that vanished or changed meanwhile is not.
      if (code === 'ENOTDIR' && relative === '') throw await errNotADirectory(directory);
      if (code === 'ENOENT' || code === 'ENOTDIR') return;
      throw toShmsnapError(error, 'list', here);
    }
    for (const entry of entries) {
      if (!isObjectName(entry.name) || entry.name.endsWith(TEMP_SUFFIX)) continue;
      const path = relative === '' ? entry.name : `${relative}/${entry.name}`;
      const descend = depth > 0 && (path.startsWith(prefix) || prefix.startsWith(`${path}/`));
      if (entry.isDirectory()) {
        if (descend) await listDirectory(path, prefix, depth - 1, out);
        continue;
      }
      if (!path.startsWith(prefix) && !descend) continue;
      // lstat, not the directory entry's type: some file systems do not fill it in.
      let s: Stats;
      try {
        s = await lstat(join(directory, path));
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'ENOTDIR') continue; // removed while we listed
        throw toShmsnapError(error, 'list', join(directory, path));
      }
      if (s.isDirectory()) {
        if (descend) await listDirectory(path, prefix, depth - 1, out);
        continue;
      }
      if (!path.startsWith(prefix)) continue;
      // Non-regular files are listed too, marked `unusable` with what they are, so that a FIFO or link
      // named like a segment file or a manifest is refused by name, never silently skipped or taken as free.
      out.push(s.isFile() ? infoFrom(path, s) : { ...infoFrom(path, s), size: 0, unusable: describeType(s) });
    }
  }

  return {
    name: 'local',
    location: directory,
    capabilities: {
      rangedReads: true,
      maxConcurrency: 16,
      maxObjectSize: Number.MAX_SAFE_INTEGER,
      posixAttributes: true,
    },

    async openWriter(name, writerOptions = {}) {
      assertObjectName(name);
      if (writerOptions.signal?.aborted) throw errAborted(`writing ${join(directory, name)}`);
      const tempPath = join(directory, `.${name}.${randomBytes(6).toString('hex')}${TEMP_SUFFIX}`);
      let handle: FileHandle;
      try {
        handle = await inTurn(async () => {
          // A sweep in another process (prune) may remove the directory, empty, between our mkdir and the
          // open: make it again rather than fail the backup. rmdir fails once the temp file is in it.
          for (let attempt = 1; ; attempt++) {
            await makeDirectory();
            // Anything under the name, a FIFO or a link included, is there already.
            if (await lstat(join(directory, name)).then(() => true, () => false)) throw errObjectExists(name, directory);
            try {
              return await open(tempPath, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, FILE_MODE);
            } catch (error) {
              if ((error as NodeJS.ErrnoException).code === 'ENOENT' && attempt < 3) continue;
              throw notWritable(error, 'creating files in', directory, directory) ?? toShmsnapError(error, 'create', tempPath);
            }
          }
        });
      } catch (error) {
        await pruneCreated();
        throw error;
      }
      // The same temp file, for writes of whole blocks past the page cache (directIo); none where the kernel refuses.
      const bypass = directIo ? await openBypass(tempPath, 'write') : undefined;
      const stream = new FileSink(handle, join(directory, name), writerOptions.expectedBytes, bypass);
      const file = new TempFile(handle, tempPath, directory, name, fsync);
      return createSinkWriter({
        plugin: 'local',
        object: join(directory, name),
        stream,
        bytesWritten: () => stream.bytes,
        expectedBytes: writerOptions.expectedBytes,
        signal: writerOptions.signal,
        publish: () => file.publish(stream.bytes, writerOptions.attributes),
        discard: async () => {
          await file.discard();
          await pruneCreated();
        },
      });
    },

    async openReader(name, readerOptions: ReaderOptions = {}) {
      assertObjectPath(name);
      const path = join(directory, name);
      const { handle, info } = await openRegularFile(path);
      const range = readerOptions.range;
      if (range && range.end <= range.start) {
        await handle.close();
        return Readable.from([], { objectMode: false });
      }
      const direct = directIo
        ? await openDirectReadStream(handle, path, {
            chunkBytes: readChunkBytes,
            size: info.size,
            ...(range ? { start: range.start, end: range.end } : {}),
            ...(readerOptions.signal ? { signal: readerOptions.signal } : {}),
          })
        : undefined;
      if (direct) return direct;
      const stream = handle.createReadStream({
        highWaterMark: readChunkBytes,
        ...(range ? { start: range.start, end: range.end - 1 } : {}),
        ...(readerOptions.signal ? { signal: readerOptions.signal } : {}),
      });
      return stream;
    },

    async openRandomReader(name) {
      assertObjectPath(name);
      const path = join(directory, name);
      const { handle, info } = await openRegularFile(path);
      const reads = await openPositionalReads(handle, path, directIo);
      return {
        size: info.size,
        async read(target, position) {
          // pread until `target` is full or the file ends: the kernel may return less than asked.
          try {
            return await reads.read(target, position);
          } catch (error) {
            throw toShmsnapError(error, 'read', path);
          }
        },
        close: () => reads.close(),
      };
    },

    async stat(name) {
      assertObjectPath(name);
      return infoOf(name);
    },

    async list(prefix = '', listOptions: ListOptions = {}) {
      const out: ObjectInfo[] = [];
      await listDirectory('', prefix, listOptions.depth ?? 0, out);
      return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    },

    async freeBytes() {
      // The nearest existing ancestor: the location itself may not exist yet.
      for (let path = directory; ; path = dirname(path)) {
        try {
          const fs = await statfs(path);
          return fs.bavail * fs.bsize;
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || path === dirname(path)) return undefined;
        }
      }
    },

    async checkExists() {
      let info;
      try {
        info = await stat(directory);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') throw errLocationNotFound(directory, 'the path does not exist');
        // A component above is a file: name it, as the shell would.
        if (code === 'ENOTDIR') throw errLocationNotFound(directory, `the path does not exist (${await nearestNonDirectory(directory)} is not a directory)`);
        throw toShmsnapError(error, 'stat', directory);
      }
      if (!info.isDirectory()) throw errLocationNotFound(directory, `not a directory (it is ${describeStats(info)})`);
    },

    async checkWritable(probe = {}) {
      // openWriter creates what is missing of the location (mkdir -p), then files in it: the nearest
      // existing ancestor must be a directory this process may write into.
      let path = directory;
      // The first missing directory below `path`, which openWriter would create.
      let missing: string | undefined;
      for (;;) {
        const info = await stat(path).catch((error: NodeJS.ErrnoException) => {
          // ENOTDIR: a component above is not a directory; the walk up finds which.
          if ((error.code === 'ENOENT' || error.code === 'ENOTDIR') && path !== dirname(path)) return undefined;
          throw toShmsnapError(error, 'create directory', directory);
        });
        if (!info) {
          missing = path;
          path = dirname(path);
          continue;
        }
        // The same refusal listing gives a location that is a file: a mistake in the location given.
        if (!info.isDirectory()) throw await errNotADirectory(directory);
        break;
      }
      try {
        await access(path, fsConstants.W_OK | fsConstants.X_OK);
      } catch (error) {
        // Worded as the write itself would fail (notWritable), so a dry run and the run say the same.
        const refused = missing ? notWritable(error, 'creating directory', missing, path) : notWritable(error, 'creating files in', path, path);
        throw refused ?? toShmsnapError(error, 'create', path);
      }
      // FileSink applies the segment's owner: chown(2) to another user, or to a group this process is not
      // in, needs CAP_CHOWN.
      const uid = process.getuid?.();
      if (uid === undefined || (await mayChown())) return;
      const groups = new Set([process.getgid?.(), ...(process.getgroups?.() ?? [])]);
      for (const attributes of probe.attributes ?? []) {
        if (attributes.uid !== uid || !groups.has(attributes.gid)) {
          throw errPermissionDenied(`giving files owner ${attributes.uid}:${attributes.gid}, as the segments have (this needs root or CAP_CHOWN), in`, directory);
        }
      }
    },

    async sweep(sweepOptions) {
      const entries: SweepEntry[] = [];
      await sweepDirectory(directory, '', sweepOptions.depth ?? 0, sweepOptions, entries);
      return { entries };
    },

    async remove(name) {
      assertObjectName(name);
      const path = join(directory, name);
      try {
        await unlink(path);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw toShmsnapError(error, 'remove', path);
      }
      if (fsync) await fsyncDirectory(dirname(path)).catch(() => undefined);
      await pruneCreated();
    },
  };
}

/** The object a temp file was for: `.<name>.<12 hex>.shmsnap-tmp` → `<name>`. */
function tempFileObject(entry: string): string | undefined {
  const match = /^\.(.+)\.[0-9a-f]{12}\.shmsnap-tmp$/.exec(entry);
  return match?.[1];
}

/**
 * The sweep below `path` (`relative` to the location): temp files last
 * written before `olderThan` (a writer in progress writes, so its file's
 * mtime moves), then directories below the location left with nothing in
 * them. Resolves whether `path` holds nothing once swept (a dry run
 * counts what it would remove as gone). Never follows a link.
 */
async function sweepDirectory(path: string, relative: string, depth: number, options: SweepOptions, out: SweepEntry[]): Promise<boolean> {
  options.signal?.throwIfAborted();
  let names: string[];
  try {
    names = await readdir(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return false;
    throw toShmsnapError(error, 'list', path);
  }
  let left = 0;
  for (const entry of names) {
    const full = join(path, entry);
    const info = await lstat(full).catch(() => undefined);
    if (!info) continue; // gone meanwhile
    const name = relative === '' ? entry : `${relative}/${entry}`;
    const object = info.isFile() ? tempFileObject(entry) : undefined;
    if (object !== undefined && info.mtime < options.olderThan) {
      const what = `temp file ${full}`;
      const base = { name: relative === '' ? object : `${relative}/${object}`, kind: 'write' as const, what, startedAt: info.mtime };
      if (options.dryRun === true) out.push({ ...base, removed: false });
      else {
        try {
          await removeIfThere(full);
          out.push({ ...base, removed: true });
        } catch (error) {
          out.push({ ...base, removed: false, error: error instanceof Error ? error.message : String(error) });
          left += 1;
        }
      }
      continue;
    }
    if (info.isDirectory() && depth > 0 && isObjectName(entry)) {
      const empty = await sweepDirectory(full, name, depth - 1, options, out);
      if (empty) {
        const base = { name, kind: 'directory' as const, what: `directory ${full}` };
        if (options.dryRun === true) {
          out.push({ ...base, removed: false });
          continue;
        }
        try {
          await rmdir(full);
          out.push({ ...base, removed: true });
          continue;
        } catch (error) {
          // ENOTEMPTY: a writer put something in it meanwhile; it stays, and that is no failure.
          const code = (error as NodeJS.ErrnoException).code;
          if (code === 'ENOENT') continue;
          if (code !== 'ENOTEMPTY' && code !== 'EEXIST') out.push({ ...base, removed: false, error: error instanceof Error ? error.message : String(error) });
        }
      }
    }
    left += 1;
  }
  return left === 0;
}

export const localSinkProvider: SinkProvider<LocalSinkOptions> = {
  schemes: ['file'],
  description: 'a directory on a local file system (/path, ./path, file:///path)',
  create: (location, options) => createLocalSink(location, options),
};
