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

  it('never lists temp files a crash left behind, nor directories', async () => {
    const root = await scratch();
    try {
      await writeFile(join(root, '.ae001100.dat.0a1b2c.shmsnap-tmp'), 'partial');
      await writeFile(join(root, 'ae001100.dat.shmsnap-tmp'), 'partial');
      await mkdir(join(root, 'ae001101.dat'));
      await writeFile(join(root, 'ae001102.dat'), 'whole');
      const sink = createLocalSink(pathToFileURL(root).href);
      assert.deepEqual((await sink.list('')).map((o) => o.name), ['ae001102.dat']);
      assert.equal(await sink.stat('ae001101.dat'), undefined);
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
            assert.ok(isShmsnapError(e, 'IO_FAILED'), String(e));
            assert.equal(e.message, `creating directory ${location} failed: ${join(root, 'file')} is not a directory`);
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
