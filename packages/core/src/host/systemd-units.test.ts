// The warm-restart unit's text, byte for byte where it matters: ordering,
// each failure policy (ExecStart's prefix, RequiredBy= or WantedBy=), the
// quoting of values systemd would otherwise split or expand (spaces, %, $,
// quotes, backslashes, a lone ;) with parseExecLine reading every one back,
// where a location's backups go, and what each boot-restore outcome does to
// asd under each policy.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isShmsnapError } from '../errors.js';
import {
  bootRestoreVerdict,
  execLine,
  parseExecLine,
  quoteExecArgument,
  unitSettings,
  warmRestartLocations,
  warmRestartUnit,
  warmRestartUnitName,
  type WarmRestartUnitOptions,
} from './systemd-units.js';

const base: WarmRestartUnitOptions = {
  instance: 0,
  restoreCommand: ['/usr/bin/node', '/opt/shmsnap/shmsnap.js', 'systemd', 'boot-restore', '--location', '/var/backups/aerospike'],
  backupCommand: ['/usr/bin/node', '/opt/shmsnap/shmsnap.js', 'backup', '--to', '/var/backups/aerospike/{host}/{instance}/{timestamp}'],
  policy: 'cold',
};

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    assert.ok(isShmsnapError(error), String(error));
    return `${error.code}: ${error.message}`;
  }
  assert.fail('did not throw');
}

describe('warmRestartUnit', () => {
  it('policy cold: ordered before asd, ExecStart failures ignored, wanted by asd', () => {
    const { name, text } = warmRestartUnit(base);
    assert.equal(name, 'shmsnap-warm-restart.service');
    assert.deepEqual(unitSettings(text, 'Before'), ['aerospike.service']);
    assert.deepEqual(unitSettings(text, 'PropagatesStopTo'), ['aerospike.service']);
    assert.deepEqual(unitSettings(text, 'Type'), ['oneshot']);
    assert.deepEqual(unitSettings(text, 'RemainAfterExit'), ['yes']);
    assert.deepEqual(unitSettings(text, 'ExecStart'), ['-/usr/bin/node /opt/shmsnap/shmsnap.js systemd boot-restore --location /var/backups/aerospike']);
    assert.deepEqual(unitSettings(text, 'ExecStop'), ['/usr/bin/node /opt/shmsnap/shmsnap.js backup --to /var/backups/aerospike/{host}/{instance}/{timestamp}']);
    assert.deepEqual(unitSettings(text, 'WantedBy'), ['aerospike.service']);
    assert.deepEqual(unitSettings(text, 'RequiredBy'), []);
    assert.deepEqual(unitSettings(text, 'TimeoutStartSec'), ['30min']);
    assert.deepEqual(unitSettings(text, 'TimeoutStopSec'), ['30min']);
    assert.deepEqual(unitSettings(text, 'RequiresMountsFor'), []);
    assert.match(text, /^\[Unit\]$[\s\S]*^\[Service\]$[\s\S]*^\[Install\]$/m);
    assert.ok(text.endsWith('\n'));
  });

  it('policy keep-stopped: ExecStart status counts, required by asd (which then does not start when it fails)', () => {
    const { text } = warmRestartUnit({ ...base, policy: 'keep-stopped', asdUnit: 'aerospike-a.service' });
    assert.deepEqual(unitSettings(text, 'ExecStart'), ['/usr/bin/node /opt/shmsnap/shmsnap.js systemd boot-restore --location /var/backups/aerospike']);
    assert.deepEqual(unitSettings(text, 'RequiredBy'), ['aerospike-a.service']);
    assert.deepEqual(unitSettings(text, 'WantedBy'), []);
    assert.deepEqual(unitSettings(text, 'Before'), ['aerospike-a.service']);
  });

  it('names a unit per instance, writes the environment, the mount, the timeouts', () => {
    const { name, text } = warmRestartUnit({
      ...base,
      instance: 3,
      localPath: '/var/backups/aero space',
      environment: { SHMSNAP_CONFIG: '/etc/shmsnap/100%.json' },
      environmentFile: '/etc/shmsnap/credentials',
      timeoutStartSec: '1h 30min',
      timeoutStopSec: 'infinity',
    });
    assert.equal(name, 'shmsnap-warm-restart-i3.service');
    assert.equal(warmRestartUnitName(3), name);
    assert.deepEqual(unitSettings(text, 'RequiresMountsFor'), ['"/var/backups/aero space"']);
    assert.deepEqual(unitSettings(text, 'Environment'), ['"SHMSNAP_CONFIG=/etc/shmsnap/100%%.json"']);
    assert.deepEqual(unitSettings(text, 'EnvironmentFile'), ['/etc/shmsnap/credentials']);
    assert.deepEqual(unitSettings(text, 'TimeoutStartSec'), ['1h 30min']);
    assert.deepEqual(unitSettings(text, 'TimeoutStopSec'), ['infinity']);
  });

  it('refuses what systemd would misread', () => {
    assert.equal(refusal(() => warmRestartUnit({ ...base, restoreCommand: ['shmsnap', 'x'] })), "CONFIG_INVALID: shmsnapBin: the command must start with an absolute path, not 'shmsnap'");
    assert.match(refusal(() => warmRestartUnit({ ...base, timeoutStopSec: 'soon' })), /^CONFIG_INVALID: timeoutStopSec: 'soon' is not a systemd time span/);
    assert.match(refusal(() => warmRestartUnit({ ...base, asdUnit: 'aerospike' })), /^CONFIG_INVALID: asdUnit: 'aerospike' is not a service unit name/);
    assert.match(refusal(() => warmRestartUnit({ ...base, localPath: 'relative/dir' })), /^CONFIG_INVALID: warmRestartLocation: 'relative\/dir' must be an absolute path/);
    assert.match(refusal(() => warmRestartUnit({ ...base, environment: { 'A-B': 'x' } })), /^CONFIG_INVALID: environment: 'A-B' is not a variable name/);
  });
});

describe('Exec line quoting', () => {
  const hostile = ['plain', 'with space', '100%', '%n', '$HOME', '${X}', 'quote"d', "single'q", 'back\\slash', 'tab\there', 'new\nline', ';', '', '-dash', 'é ünïcode', 's3://b/p/{host}/{instance}/{timestamp}'];

  it('reads back exactly what it wrote, for every hostile value', () => {
    const argv = ['/opt/my tools/shmsnap', ...hostile];
    const line = execLine(argv, '-');
    assert.deepEqual(parseExecLine(line), { prefix: '-', argv });
    assert.deepEqual(parseExecLine(execLine(argv)), { prefix: '', argv });
  });

  it('doubles % and $, quotes what has spaces or quotes, escapes a lone ;', () => {
    assert.equal(quoteExecArgument('plain-value_1.2:/x'), 'plain-value_1.2:/x');
    assert.equal(quoteExecArgument('100%'), '100%%');
    assert.equal(quoteExecArgument('$HOME'), '$$HOME');
    assert.equal(quoteExecArgument('a b'), '"a b"');
    assert.equal(quoteExecArgument('say "hi"'), '"say \\"hi\\""');
    assert.equal(quoteExecArgument('a\\b'), '"a\\\\b"');
    assert.equal(quoteExecArgument('a\nb'), '"a\\nb"');
    assert.equal(quoteExecArgument(';'), '\\;');
    assert.equal(quoteExecArgument(''), '""');
    assert.equal(quoteExecArgument('--from'), '--from');
  });

  it('refuses a specifier or variable it would have to guess', () => {
    assert.throws(() => parseExecLine('/bin/x %n'), /specifier or variable/);
    assert.throws(() => parseExecLine('/bin/x $HOME'), /specifier or variable/);
    assert.throws(() => parseExecLine('/bin/x "open'), /unterminated quote/);
  });
});

describe('warmRestartLocations', () => {
  it('a root: each backup below it as {host}/{instance}/{timestamp}, found 3 levels down', () => {
    assert.deepEqual(warmRestartLocations('s3://bucket/aerospike/'), { backupTo: 's3://bucket/aerospike/{host}/{instance}/{timestamp}', restoreFrom: 's3://bucket/aerospike', depth: 3 });
    assert.deepEqual(warmRestartLocations('/var/backups'), { backupTo: '/var/backups/{host}/{instance}/{timestamp}', restoreFrom: '/var/backups', depth: 3 });
  });

  it('a template of the operator own: the fixed part is where the boot looks', () => {
    assert.deepEqual(warmRestartLocations('s3://bucket/{host}/i{instance}/{timestamp}'), { backupTo: 's3://bucket/{host}/i{instance}/{timestamp}', restoreFrom: 's3://bucket', depth: 3 });
    assert.deepEqual(warmRestartLocations('/srv/shm/{timestamp}'), { backupTo: '/srv/shm/{timestamp}', restoreFrom: '/srv/shm', depth: 1 });
  });

  it('refuses a template whose last directory is not a timestamp, or with nothing fixed', () => {
    assert.match(refusal(() => warmRestartLocations('/srv/{timestamp}/{host}')), /^CONFIG_INVALID: warmRestartLocation: '\/srv\/\{timestamp\}\/\{host\}' must end in a directory named by \{timestamp\}/);
    assert.match(refusal(() => warmRestartLocations('s3://{host}/{timestamp}')), /placeholder in its first directory/);
    assert.match(refusal(() => warmRestartLocations('s3://')), /names no directory or prefix/);
  });
});

describe('bootRestoreVerdict', () => {
  it('a restore, segments in place and a first boot start asd under either policy', () => {
    for (const policy of ['cold', 'keep-stopped'] as const) {
      for (const outcome of ['restored', 'in-place', 'first-boot'] as const) assert.equal(bootRestoreVerdict(outcome, policy).asdStarts, true, `${outcome} ${policy}`);
    }
  });

  it('an unusable backup: cold starts asd cold, keep-stopped keeps it stopped', () => {
    assert.deepEqual(bootRestoreVerdict('unusable', 'cold'), { outcome: 'unusable', asdStarts: true, says: 'no warm start: policy cold, aerospike.service starts cold' });
    const kept = bootRestoreVerdict('unusable', 'keep-stopped', 'aerospike-b.service');
    assert.equal(kept.asdStarts, false);
    assert.match(kept.says, /^no warm start: policy keep-stopped, aerospike-b\.service does not start/);
  });
});
