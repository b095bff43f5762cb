import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { isShmsnapError } from '@shmsnap/core';
import { describeSinkConformance } from '@shmsnap/core/testkit';
import { createLocalSink } from './local-sink.js';

async function scratch(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'shmsnap-local-'));
}

/** CORRUPT_OBJECT naming `name` as `type`, not a regular file. */
function refusedAs(name: string, type: string): (error: unknown) => boolean {
  return (error) => {
    assert.ok(isShmsnapError(error, 'CORRUPT_OBJECT'), `expected CORRUPT_OBJECT, got ${String(error)}`);
    assert.match(error.message, new RegExp(`/${name.replace(/\./g, '\\.')}: is ${type}, not a regular file`));
    return true;
  };
}

/** Settles within `ms`, or fails: a read that waits on a FIFO would never settle. */
async function within<T>(ms: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still waiting after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}

describeSinkConformance({
  name: 'local',
  async setup() {
    const root = await scratch();
    // A location that does not exist yet: the sink creates it on first write.
    return { sink: createLocalSink(join(root, 'backup')), cleanup: () => rm(root, { recursive: true, force: true }) };
  },
});

describe('local sink specifics', () => {
  it('creates missing directories 0700 and files 0600 (as ASMT)', async () => {
    const root = await scratch();
    try {
      const sink = createLocalSink(join(root, 'a', 'b'));
      const writer = await sink.openWriter('ae001000.dat', { expectedBytes: 3 });
      writer.stream.end(Buffer.from('abc'));
      await new Promise((resolve) => writer.stream.once('finish', resolve));
      await writer.commit();
      assert.equal((await stat(join(root, 'a', 'b'))).mode & 0o7777, 0o700);
      assert.equal((await stat(join(root, 'a'))).mode & 0o7777, 0o700);
      assert.equal((await stat(join(root, 'a', 'b', 'ae001000.dat'))).mode & 0o7777, 0o600);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('removes the directories it created once a removal or an aborted write leaves them empty, and never one that existed', async () => {
    const root = await scratch();
    const write = async (sink: ReturnType<typeof createLocalSink>, name: string): Promise<void> => {
      const writer = await sink.openWriter(name, { expectedBytes: 1 });
      writer.stream.end(Buffer.from('x'));
      await new Promise((resolve) => writer.stream.once('finish', resolve));
      await writer.commit();
    };
    try {
      // Committed, then removed (a failed backup's cleanup): every level it made goes, the existing root stays.
      const sink = createLocalSink(join(root, 'new', 'a', 'b'));
      await write(sink, 'shmsnap-pending-i0-n1.json');
      await write(sink, 'ae001100.dat');
      await sink.remove('ae001100.dat');
      assert.deepEqual(await readdir(join(root, 'new', 'a', 'b')), ['shmsnap-pending-i0-n1.json'], 'not empty yet: nothing removed');
      await sink.remove('shmsnap-pending-i0-n1.json');
      assert.deepEqual(await readdir(root), [], 'new/a/b, new/a and new are gone');

      // Aborted before anything was committed (Ctrl-C during the first write).
      const aborted = createLocalSink(join(root, 'other', 'c'));
      const writer = await aborted.openWriter('ae001100.dat');
      writer.stream.write(Buffer.from('partial'));
      await writer.abort(new Error('interrupted'));
      assert.deepEqual(await readdir(root), []);

      // Existing directories are never removed, even when left empty.
      await mkdir(join(root, 'kept'));
      const existing = createLocalSink(join(root, 'kept', 'd'));
      await write(existing, 'ae001100.dat');
      await existing.remove('ae001100.dat');
      assert.deepEqual(await readdir(root), ['kept']);
      assert.deepEqual(await readdir(join(root, 'kept')), []);
      const itself = createLocalSink(join(root, 'kept'));
      await write(itself, 'ae001100.dat');
      await itself.remove('ae001100.dat');
      assert.deepEqual(await readdir(root), ['kept'], 'the location itself existed: it stays');

      // A created directory someone else put a file into stays, with that file.
      const shared = createLocalSink(join(root, 'shared'));
      await write(shared, 'ae001100.dat');
      await writeFile(join(root, 'shared', 'notes.txt'), 'mine');
      await shared.remove('ae001100.dat');
      assert.deepEqual(await readdir(join(root, 'shared')), ['notes.txt']);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('applies owner and mode from the segment, never turning SHM_LOCKED into setgid', async () => {
    const root = await scratch();
    try {
      const sink = createLocalSink(root);
      for (const [name, mode] of [['ae001100.dat', 0o640], ['ae001101.dat', 0o2666]] as const) {
        const writer = await sink.openWriter(name, { expectedBytes: 1, attributes: { uid: 1234, gid: 2345, mode } });
        writer.stream.end(Buffer.from('x'));
        await new Promise((resolve) => writer.stream.once('finish', resolve));
        const info = await writer.commit();
        assert.equal(info.attributes?.mode, mode & 0o777);
      }
      const plain = await stat(join(root, 'ae001100.dat'));
      assert.deepEqual([plain.uid, plain.gid, plain.mode & 0o7777], [1234, 2345, 0o640]);
      const locked = await stat(join(root, 'ae001101.dat'));
      assert.equal(locked.mode & 0o7777, 0o666, 'SHM_LOCKED must not become a setgid bit');
      assert.deepEqual((await sink.stat('ae001100.dat'))?.attributes, { uid: 1234, gid: 2345, mode: 0o640 });
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('never lists temp files a crash left behind, nor directories (stat refuses a directory by name)', async () => {
    const root = await scratch();
    try {
      await writeFile(join(root, '.ae001100.dat.0a1b2c.shmsnap-tmp'), 'partial');
      await writeFile(join(root, 'ae001100.dat.shmsnap-tmp'), 'partial');
      await mkdir(join(root, 'ae001101.dat'));
      await writeFile(join(root, 'ae001102.dat'), 'whole');
      const sink = createLocalSink(pathToFileURL(root).href);
      assert.deepEqual((await sink.list('')).map((o) => o.name), ['ae001102.dat']);
      await assert.rejects(sink.stat('ae001101.dat'), refusedAs('ae001101.dat', 'a directory'));
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('lists a FIFO, socket or symbolic link under an object name as unusable, never as free or as an object', async () => {
    const root = await scratch();
    try {
      await writeFile(join(root, 'ae001100.dat'), 'whole');
      execFileSync('mkfifo', [join(root, 'shmsnap-manifest-i0-n1.json')]);
      await symlink('ae001100.dat', join(root, 'ae001101.dat'));
      await symlink('/etc/passwd', join(root, 'ae001102.dat'));
      const listed = await createLocalSink(root).list('');
      assert.deepEqual(listed.map((o) => [o.name, o.unusable]), [
        ['ae001100.dat', undefined],
        ['ae001101.dat', 'a symbolic link'],
        ['ae001102.dat', 'a symbolic link'],
        ['shmsnap-manifest-i0-n1.json', 'a FIFO'],
      ]);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  describe('checkWritable: fails as the first write would, writing nothing', () => {
    it('passes for a location to be created under a writable directory', async () => {
      const root = await scratch();
      try {
        await createLocalSink(join(root, 'a', 'b')).checkWritable!({ attributes: [{ uid: 1234, gid: 2345, mode: 0o640 }] });
        assert.deepEqual(await readdir(root), [], 'nothing was created');
      } finally {
        await rm(root, { recursive: true, force: true });
      }
    });

    it('refuses a location that is a file, or under one', async () => {
      const root = await scratch();
      try {
        await writeFile(join(root, 'file'), 'x');
        for (const location of [join(root, 'file'), join(root, 'file', 'below', 'deeper')]) {
          await assert.rejects(createLocalSink(location).checkWritable!(), (e: unknown) => {
            assert.ok(isShmsnapError(e, 'CONFIG_INVALID'), String(e));
            assert.equal(e.message, `location: ${join(root, 'file')} is a file, not a directory`);
            return true;
          });
        }
      } finally {
        await rm(root, { recursive: true, force: true });
      }
    });

    it('refuses a read-only mount', { skip: process.getuid?.() === 0 ? false : 'mounting a tmpfs needs root' }, async () => {
      const root = await scratch();
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=1m', 'tmpfs', root]);
      try {
        await assert.rejects(createLocalSink(join(root, 'node1')).checkWritable!(), (e: unknown) => isShmsnapError(e, 'PERMISSION_DENIED') && e.message === `permission denied: creating directory ${join(root, 'node1')} (read-only file system)`);
      } finally {
        execFileSync('umount', [root]);
        await rm(root, { recursive: true, force: true });
      }
    });

    it('refuses, for a user without CAP_CHOWN, a directory it cannot write or an owner it cannot give', { skip: process.getuid?.() === 0 ? false : 'switching users needs root' }, async () => {
      const root = await scratch();
      await chmod(root, 0o755);
      const locked = join(root, 'locked');
      await mkdir(locked, { mode: 0o755 });
      const free = join(root, 'free');
      await mkdir(free, { mode: 0o777 });
      await chmod(free, 0o777);
      try {
        // As user nobody, in a child process: the sink reads its own identity and capabilities.
        const probe = (location: string, attributes: string): string => {
          const script = `import('${new URL('./local-sink.js', import.meta.url).href}').then(({ createLocalSink }) => createLocalSink(${JSON.stringify(location)}).checkWritable({ attributes: ${attributes} })).then(() => console.log('ok'), (e) => console.log(e.code + ': ' + e.message))`;
          return execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { uid: 65534, gid: 65534, encoding: 'utf8' }).trim();
        };
        assert.equal(probe(free, '[{ uid: 65534, gid: 65534, mode: 0o640 }]'), 'ok');
        assert.equal(probe(locked, '[]'), `PERMISSION_DENIED: permission denied: creating files in ${locked} (not writable by uid 65534)`);
        assert.equal(probe(free, '[{ uid: 0, gid: 0, mode: 0o666 }]'), `PERMISSION_DENIED: permission denied: giving files owner 0:0, as the segments have (this needs root or CAP_CHOWN), in ${free}`);
      } finally {
        await rm(root, { recursive: true, force: true });
      }
    });
  });

  it('lists one level of sub-locations when asked', async () => {
    const root = await scratch();
    try {
      await mkdir(join(root, 'node1', 'deep'), { recursive: true });
      await writeFile(join(root, 'node1', 'shmsnap-manifest.json'), '{}');
      await writeFile(join(root, 'node1', 'deep', 'shmsnap-manifest.json'), '{}');
      const sink = createLocalSink(root);
      assert.deepEqual((await sink.list('')).map((o) => o.name), []);
      assert.deepEqual((await sink.list('', { depth: 1 })).map((o) => o.name), ['node1/shmsnap-manifest.json']);
      assert.equal((await sink.stat('node1/shmsnap-manifest.json'))?.size, 2);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  describe('objects that are not regular files', () => {
    let root = '';
    before(async () => {
      root = await scratch();
      await writeFile(join(root, 'ae001100.dat'), 'whole');
      execFileSync('mkfifo', [join(root, 'ae001101.dat')]);
      await symlink(join(root, 'ae001101.dat'), join(root, 'ae001102.dat'));
      await symlink(join(root, 'ae001100.dat'), join(root, 'ae001103.dat'));
      await symlink('/etc/passwd', join(root, 'ae001104.dat'));
    });
    after(() => rm(root, { recursive: true, force: true }));

    const cases = [
      ['ae001101.dat', 'a FIFO'],
      ['ae001102.dat', 'a symbolic link'],
      ['ae001103.dat', 'a symbolic link'],
      ['ae001104.dat', 'a symbolic link'],
    ] as const;
    for (const [name, type] of cases) {
      it(`${name} (${type}${name === 'ae001103.dat' ? ' to a file beside it' : name === 'ae001104.dat' ? ' out of the location' : ''}): every read and stat refuse it without blocking`, async () => {
        const sink = createLocalSink(root);
        await within(5000, assert.rejects(sink.openReader(name), refusedAs(name, type)));
        await within(5000, assert.rejects(sink.openReader(name, { range: { start: 0, end: 2 } }), refusedAs(name, type)));
        await within(5000, assert.rejects(sink.openRandomReader!(name), refusedAs(name, type)));
        await within(5000, assert.rejects(sink.stat(name), refusedAs(name, type)));
      });
    }

    it('lists them (so they are refused by name, not skipped), and never opens them to do so', async () => {
      const sink = createLocalSink(root);
      const listed = await within(5000, sink.list(''));
      assert.deepEqual(listed.map((o) => o.name), ['ae001100.dat', 'ae001101.dat', 'ae001102.dat', 'ae001103.dat', 'ae001104.dat']);
      assert.equal(listed[1]!.size, 0);
    });

    it('a regular file still reads, and a new object cannot be written over a FIFO or a link', async () => {
      const sink = createLocalSink(root);
      const chunks: Buffer[] = [];
      for await (const chunk of await sink.openReader('ae001100.dat')) chunks.push(chunk as Buffer);
      assert.equal(Buffer.concat(chunks).toString(), 'whole');
      for (const name of ['ae001101.dat', 'ae001102.dat']) {
        await assert.rejects(sink.openWriter(name), (error: unknown) => isShmsnapError(error, 'OBJECT_EXISTS'));
      }
    });
  });

  describe('the location itself', () => {
    it('may be a symbolic link to a directory', async () => {
      const root = await scratch();
      try {
        await mkdir(join(root, 'real'));
        await writeFile(join(root, 'real', 'ae001100.dat'), 'x');
        await symlink(join(root, 'real'), join(root, 'link'));
        assert.deepEqual((await createLocalSink(join(root, 'link')).list('')).map((o) => o.name), ['ae001100.dat']);
      } finally {
        await rm(root, { recursive: true, force: true });
      }
    });

    it('missing: lists nothing, or OBJECT_NOT_FOUND with mustExist (ls of a mistyped path)', async () => {
      const root = await scratch();
      try {
        const sink = createLocalSink(join(root, 'nowhere'));
        assert.deepEqual(await sink.list(''), []);
        await assert.rejects(sink.list('', { mustExist: true }), (error: unknown) => {
          assert.ok(isShmsnapError(error, 'OBJECT_NOT_FOUND'), String(error));
          assert.match(error.message, /nowhere not found in /);
          return true;
        });
        await mkdir(join(root, 'nowhere'));
        assert.deepEqual(await sink.list('', { mustExist: true }), [], 'an existing, empty location lists nothing');
      } finally {
        await rm(root, { recursive: true, force: true });
      }
    });

    it('a file, or a path through one, is CONFIG_INVALID naming it', async () => {
      const root = await scratch();
      try {
        await writeFile(join(root, 'file'), 'x');
        for (const [location, message] of [
          [join(root, 'file'), /file is a file, not a directory$/],
          [join(root, 'file', 'below'), /below: a component of the path is a file, not a directory$/],
        ] as const) {
          await assert.rejects(createLocalSink(location).list(''), (error: unknown) => {
            assert.ok(isShmsnapError(error, 'CONFIG_INVALID'), String(error));
            assert.match(error.message, message);
            return true;
          });
        }
      } finally {
        await rm(root, { recursive: true, force: true });
      }
    });
  });

  describe('on a full disk', { skip: process.getuid?.() === 0 ? false : 'mounting a tmpfs needs root' }, () => {
    let mountPoint = '';
    before(async () => {
      mountPoint = await scratch();
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', mountPoint]);
    });
    after(async () => {
      execFileSync('umount', [mountPoint]);
      await rm(mountPoint, { recursive: true, force: true });
    });

    it('fails with NO_SPACE naming the file and leaves nothing behind', async () => {
      const sink = createLocalSink(join(mountPoint, 'backup'));
      const writer = await sink.openWriter('ae001100.dat', { expectedBytes: 4 * 1024 * 1024 });
      const data = randomBytes(4 * 1024 * 1024);
      const chunks = Array.from({ length: 16 }, (_, i) => data.subarray(i * 262_144, (i + 1) * 262_144));
      await assert.rejects(pipeline(Readable.from(chunks, { objectMode: false }), writer.stream), (error: unknown) => {
        assert.ok(isShmsnapError(error, 'NO_SPACE'), `expected NO_SPACE, got ${String(error)}`);
        assert.match(error.message, /ae001100\.dat/);
        return true;
      });
      await writer.abort();
      assert.deepEqual(await readdir(mountPoint), [], 'no file, and not the directory the sink created either');
    });
  });
});
