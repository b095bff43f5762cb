// @ts-check
// A sink that keeps each object as a file in one directory: dir:///absolute/path.
// Writes go to a hidden temp file (a name no object can have, so never listed),
// published with link(), which fails rather than overwrite.
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { link, lstat, mkdir, open, readdir, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import {
  assertObjectName,
  assertObjectPath,
  createSinkWriter,
  errConfigInvalid,
  errCorruptObject,
  errLocationNotFound,
  errObjectExists,
  errObjectNotFound,
  isObjectName,
  toShmsnapError,
} from '@shmsnap/core/plugin-kit';

/** fsync a file or a directory: what makes a committed object survive a crash. @param {string} path */
async function syncPath(path) {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** @param {string} path */
async function statOf(path) {
  try {
    return await lstat(path);
  } catch (error) {
    if (/** @type {NodeJS.ErrnoException} */ (error).code === 'ENOENT') return undefined;
    throw toShmsnapError(error, 'stat', path);
  }
}

/**
 * @param {string} location dir:///absolute/path
 * @param {{ fsync?: boolean }} [options]
 * @returns {import('@shmsnap/core/plugin-kit').Sink}
 */
export function createDirSink(location, options = {}) {
  const match = /^dir:\/\/(\/.*)$/.exec(location);
  if (!match) throw errConfigInvalid('location', `${location}: a dir location is dir:///absolute/path`);
  const root = match[1].replace(/\/+$/, '') || '/';
  const durable = options.fsync ?? true;
  const pathOf = (/** @type {string} */ name) => join(root, name);

  /** A regular file's info, CORRUPT_OBJECT for anything else there. */
  async function regular(/** @type {string} */ name) {
    const info = await statOf(pathOf(name));
    if (info && !info.isFile()) throw errCorruptObject(pathOf(name), 'not a regular file');
    return info;
  }

  /** @returns {Promise<import('@shmsnap/core/plugin-kit').ObjectInfo[]>} */
  async function listDir(/** @type {string} */ dir, /** @type {string} */ prefix, /** @type {number} */ depth) {
    /** @type {import('node:fs').Dirent[]} */
    let entries;
    try {
      entries = await readdir(join(root, dir), { withFileTypes: true });
    } catch (error) {
      if (/** @type {NodeJS.ErrnoException} */ (error).code === 'ENOENT') return [];
      throw toShmsnapError(error, 'list', join(root, dir));
    }
    const found = [];
    for (const entry of entries) {
      if (!isObjectName(entry.name)) continue; // temp files start with a dot
      const name = dir === '' ? entry.name : `${dir}/${entry.name}`;
      if (entry.isDirectory()) {
        if (depth > 0) found.push(...(await listDir(name, prefix, depth - 1)));
      } else if (name.startsWith(prefix)) {
        const info = await lstat(join(root, name));
        found.push(entry.isFile() ? { name, size: info.size, modified: info.mtime } : { name, size: 0, unusable: entry.isSymbolicLink() ? 'a symbolic link' : 'not a regular file' });
      }
    }
    return found;
  }

  return {
    name: 'dir',
    location,
    capabilities: { rangedReads: true, maxConcurrency: 8, maxObjectSize: Number.MAX_SAFE_INTEGER, posixAttributes: false },

    async openWriter(name, writerOptions = {}) {
      assertObjectName(name);
      await mkdir(root, { recursive: true }).catch((error) => {
        throw toShmsnapError(error, 'create directory', root);
      });
      const temp = pathOf(`.tmp-${randomBytes(6).toString('hex')}-${name}`);
      const stream = createWriteStream(temp, { flags: 'wx' });
      let published = false;
      return createSinkWriter({
        plugin: 'dir',
        object: pathOf(name),
        stream,
        bytesWritten: () => stream.bytesWritten,
        expectedBytes: writerOptions.expectedBytes,
        signal: writerOptions.signal,
        async publish() {
          if (durable) await syncPath(temp);
          try {
            await link(temp, pathOf(name));
          } catch (error) {
            if (/** @type {NodeJS.ErrnoException} */ (error).code === 'EEXIST') throw errObjectExists(name, root);
            throw toShmsnapError(error, 'commit', pathOf(name));
          }
          published = true;
          await unlink(temp);
          if (durable) await syncPath(root);
          return { name, size: stream.bytesWritten };
        },
        async discard() {
          await rm(temp, { force: true });
          if (published) await rm(pathOf(name), { force: true });
        },
      });
    },

    async openReader(name, readerOptions = {}) {
      assertObjectPath(name);
      const info = await regular(name);
      if (!info) throw errObjectNotFound(name, root);
      const range = readerOptions.range;
      if (range && range.end <= range.start) return Readable.from([]);
      return createReadStream(pathOf(name), range ? { start: range.start, end: range.end - 1, signal: readerOptions.signal } : { signal: readerOptions.signal });
    },

    async stat(name) {
      assertObjectPath(name);
      const info = await regular(name);
      return info && { name, size: info.size, modified: info.mtime };
    },

    async list(prefix = '', listOptions = {}) {
      const found = await listDir('', prefix, listOptions.depth ?? 0);
      return found.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    },

    async remove(name) {
      assertObjectName(name);
      await rm(pathOf(name), { force: true });
    },

    async checkExists() {
      const info = await statOf(root);
      if (!info?.isDirectory()) throw errLocationNotFound(location, info ? 'not a directory' : 'no such directory');
    },
  };
}

/** @type {import('@shmsnap/core/plugin-kit').SinkProvider<{ fsync?: boolean }>} */
export const dirSinkProvider = {
  schemes: ['dir'],
  description: 'an example: a directory, dir:///absolute/path',
  options: [
    {
      name: 'fsync',
      type: 'boolean',
      writes: true,
      default: true,
      description: 'flush each object and its directory to disk before it is visible',
      negation: 'do not flush (faster; a crash may lose committed objects)',
    },
  ],
  create: (location, options) => createDirSink(location, options),
};
