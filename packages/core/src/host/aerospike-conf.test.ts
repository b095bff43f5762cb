// The aerospike.conf reader: blocks, comments, the service-level checkpoint
// path, several namespaces, odd spacing and braces, sizes as Aerospike writes them.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { checkpointedNamespaces, parseAerospikeConf, parseConfSize, readAerospikeConf } from './aerospike-conf.js';

const CONF = `
# Aerospike database configuration file.
service {
\tuser root   # the process owner
\tindex-checkpoint-path /var/lib/aerospike/checkpoint
}
logging {
  file /var/log/aerospike/aerospike.log {
    context any info
  }
}
network {
  service { address any
    port 3000 }
}
namespace test {
  replication-factor 2
    partition-tree-sprigs    512   # more sprigs for more records
  index-type shmem
  sindex-type flash {
    mounts /mnt/sindex
    mounts-budget 4G
  }
  index-stage-size 256M
  storage-engine memory {
    data-size 4G
  }
}

namespace bar
{
  skip-checkpoint true
  index-type flash {
    mounts /mnt/pi
  }
  storage-engine memory {
    file /opt/aerospike/bar-1.dat
    file /opt/aerospike/bar-2.dat
    filesize 16G
  }
}
namespace old {
  memory-size 8G
  storage-engine device {
    device /dev/nvme0n1p1 /dev/sdb1
    device /dev/nvme0n1p2
    # device /dev/nvme0n1p3
  }
}
namespace test {
  partition-tree-sprigs 4096
}
`;

describe('parseAerospikeConf', () => {
  const conf = parseAerospikeConf(CONF);

  it('finds every namespace once, in the file order (a repeated name keeps its first block)', () => {
    assert.deepEqual(conf.namespaces.map((n) => n.name), ['test', 'bar', 'old']);
    assert.equal(conf.serviceIndexCheckpointPath, '/var/lib/aerospike/checkpoint');
  });

  it('reads the values of a namespace, past comments, tabs and extra spaces; a typed block gives its type', () => {
    assert.deepEqual(conf.namespaces[0], {
      name: 'test',
      partitionTreeSprigs: '512',
      indexType: 'shmem',
      sindexType: 'flash',
      indexStageSize: '256M',
      indexCheckpointPath: '/var/lib/aerospike/checkpoint',
      storageEngine: { type: 'memory', dataSize: '4G', files: [], devices: [] },
      skipCheckpoint: false,
    });
  });

  it('a brace on the next line opens the block of the line above; shadow files and devices in order, commented ones not', () => {
    const [, bar, old] = conf.namespaces;
    assert.deepEqual(bar, {
      name: 'bar',
      indexType: 'flash',
      indexCheckpointPath: '/var/lib/aerospike/checkpoint',
      storageEngine: { type: 'memory', filesize: '16G', files: ['/opt/aerospike/bar-1.dat', '/opt/aerospike/bar-2.dat'], devices: [] },
      skipCheckpoint: true,
    });
    assert.deepEqual(old!.storageEngine, { type: 'device', files: [], devices: ['/dev/nvme0n1p1', '/dev/nvme0n1p2'] });
    assert.equal(old!.memorySize, '8G');
  });

  it('a storage-engine line without a block (before 7.0) is its type; values set nowhere stay undefined (asd defaults)', () => {
    const [ns] = parseAerospikeConf('namespace a {\n  storage-engine memory\n}\n').namespaces;
    assert.deepEqual(ns, { name: 'a', storageEngine: { type: 'memory', files: [], devices: [] }, skipCheckpoint: false });
  });

  it('tolerates unbalanced braces and values outside any namespace', () => {
    const tolerant = parseAerospikeConf('}\npartition-tree-sprigs 9\nnamespace x {\n  partition-tree-sprigs 64\n');
    assert.deepEqual(tolerant.namespaces, [{ name: 'x', partitionTreeSprigs: '64', skipCheckpoint: false }]);
    assert.deepEqual(parseAerospikeConf('').namespaces, []);
  });

  it('keeps checkpointedNamespaces as it was: the service path unless the namespace skips or sets its own', () => {
    assert.deepEqual(checkpointedNamespaces(CONF), [
      { namespace: 'test', path: '/var/lib/aerospike/checkpoint' },
      { namespace: 'old', path: '/var/lib/aerospike/checkpoint' },
    ]);
    assert.deepEqual(checkpointedNamespaces('namespace n {\n  index-checkpoint-path /ckpt\n}\n'), [{ namespace: 'n', path: '/ckpt' }]);
  });
});

describe('parseConfSize', () => {
  it('reads binary units in either case and plain bytes; anything else is undefined', () => {
    assert.equal(parseConfSize('4G'), 4 * 2 ** 30);
    assert.equal(parseConfSize('4096m'), 4 * 2 ** 30);
    assert.equal(parseConfSize('1073741824'), 2 ** 30);
    assert.equal(parseConfSize('2T'), 2 * 2 ** 40);
    assert.equal(parseConfSize('4 G'), undefined);
    assert.equal(parseConfSize('lots'), undefined);
    assert.equal(parseConfSize(undefined), undefined);
  });
});

describe('readAerospikeConf', () => {
  it('parses a file; a missing one is `missing`, an unreadable one says why', () => {
    const dir = mkdtempSync(join(tmpdir(), 'shmsnap-conf-'));
    try {
      const path = join(dir, 'aerospike.conf');
      writeFileSync(path, 'namespace test {\n  partition-tree-sprigs 1024\n}\n');
      const read = readAerospikeConf(path);
      assert.equal(read.conf?.namespaces[0]?.partitionTreeSprigs, '1024');
      assert.deepEqual(readAerospikeConf(join(dir, 'none.conf')), { path: join(dir, 'none.conf'), missing: true, error: 'ENOENT' });
      assert.deepEqual(readAerospikeConf(dir), { path: dir, missing: false, error: 'EISDIR' });
    } finally {
      rmSync(dir, { recursive: true });
    }
  });
});
