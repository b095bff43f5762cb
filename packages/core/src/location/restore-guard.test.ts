// The provenance guard's rules, on plain sources: which findings arise under
// the default and an explicit age limit, what overrides each, and how the
// messages name the overrides.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  assessRestore,
  CLOCK_SKEW_ALLOWANCE_MS,
  DEFAULT_MAX_AGE_MS,
  describeFinding,
  standingFindings,
  type RestoreFinding,
  type RestoreSource,
} from './restore-guard.js';

const here = { hostname: 'node1', machineId: 'm1', bootId: 'b1' };
const now = new Date('2026-11-21T12:00:00.000Z');
const HOUR = 3_600_000;

function made(agoMs: number | undefined, host: RestoreSource['host'] = here): RestoreSource {
  return { namespaces: ['test'], what: 'shmsnap-manifest-i0-n1.json', createdAt: agoMs === undefined ? undefined : new Date(now.getTime() - agoMs), host };
}

const flags: Record<string, string> = { allowOtherHost: '--allow-other-host', allowOlder: '--allow-older', allowFuture: '--allow-future', maxAge: '--max-age' };
const flag = (option: string): string => flags[option] ?? option;
const guards = (findings: readonly RestoreFinding[]): string[] => findings.map((f) => `${f.guard}:${f.override ?? 'none'}`);

describe('the default age limit', () => {
  it('is a day, named and documented', () => {
    assert.equal(DEFAULT_MAX_AGE_MS, 24 * HOUR);
    assert.equal(CLOCK_SKEW_ALLOWANCE_MS, 5 * 60_000);
  });

  it('refuses a backup older than a day, lifted by allowOlder and nothing else', () => {
    const { findings } = assessRestore([made(38 * HOUR)], here, now);
    assert.deepEqual(guards(findings), ['age:allowOlder']);
    assert.deepEqual(standingFindings(findings, { allowOtherHost: true, allowFuture: true }), findings);
    assert.deepEqual(standingFindings(findings, { allowOlder: true }), []);
    assert.equal(
      describeFinding(findings[0]!, flag),
      "'test': the backup is 38 hours old, older than the default limit of 24 hours (--allow-older restores it anyway, --max-age sets another limit)",
    );
  });

  it('accepts a backup of a day or less', () => {
    assert.deepEqual(assessRestore([made(24 * HOUR)], here, now).findings, []);
    assert.deepEqual(assessRestore([made(0)], here, now).findings, []);
  });

  it('refuses nothing for an unknown age (ASMT files without a time)', () => {
    const { findings, provenance } = assessRestore([{ ...made(undefined), host: undefined }], here, now);
    assert.deepEqual(findings, []);
    assert.equal(provenance[0]!.ageMs, undefined);
  });
});

describe('an explicit maxAge', () => {
  it('replaces the default, larger or smaller, and no override lifts it', () => {
    assert.deepEqual(assessRestore([made(38 * HOUR)], here, now, { maxAgeMs: 48 * HOUR }).findings, []);
    const { findings } = assessRestore([made(13 * HOUR)], here, now, { maxAgeMs: 12 * HOUR });
    assert.deepEqual(guards(findings), ['age:none']);
    assert.deepEqual(standingFindings(findings, { allowOtherHost: true, allowOlder: true, allowFuture: true }), findings);
    assert.match(describeFinding(findings[0]!, flag), /13 hours old, older than --max-age \(12 hours\) \(no override: a limit given with --max-age always applies\)$/);
  });

  it('refuses an unknown age, and no override lifts that either', () => {
    const { findings } = assessRestore([{ ...made(undefined), what: 'ASMT files (no manifest)' }], here, now, { maxAgeMs: HOUR });
    assert.deepEqual(guards(findings), ['age-unknown:none']);
    assert.deepEqual(standingFindings(findings, { allowOtherHost: true, allowOlder: true, allowFuture: true }), findings);
    assert.match(describeFinding(findings[0]!, flag), /the age of ASMT files \(no manifest\) is unknown \(no creation time recorded\) and --max-age was given \(no override: the age check asked for cannot be made; restore without --max-age\)/);
  });
});

describe('a creation time in the future', () => {
  it('within the clock-skew allowance counts as made now', () => {
    const { findings, provenance } = assessRestore([made(-CLOCK_SKEW_ALLOWANCE_MS)], here, now, { maxAgeMs: 1000 });
    assert.deepEqual(findings, []);
    assert.equal(provenance[0]!.ageMs, -CLOCK_SKEW_ALLOWANCE_MS, 'the age says how far ahead it is');
  });

  it('beyond it is a finding lifted by allowFuture only, saying how far ahead and why', () => {
    const { findings } = assessRestore([made(-2 * HOUR)], here, now);
    assert.deepEqual(guards(findings), ['future:allowFuture']);
    assert.deepEqual(standingFindings(findings, { allowOtherHost: true, allowOlder: true }), findings);
    assert.deepEqual(standingFindings(findings, { allowFuture: true }), []);
    assert.equal(
      describeFinding(findings[0]!, flag),
      "'test': the backup is dated 2 hours in the future (2026-11-21T14:00:00.000Z), more than the 5 minutes of clock skew allowed: the clock was wrong when it was made, or its time was edited, so its age is unknown (--allow-future restores it anyway)",
    );
  });

  it('is never young enough for an explicit maxAge: its age is unknown, and nothing overrides that', () => {
    const { findings } = assessRestore([made(-2 * HOUR)], here, now, { maxAgeMs: 12 * HOUR });
    assert.deepEqual(guards(findings), ['age-unknown:none']);
    assert.deepEqual(standingFindings(findings, { allowFuture: true, allowOlder: true, allowOtherHost: true }), findings);
    assert.match(describeFinding(findings[0]!, flag), /unknown \(dated 2 hours in the future: a wrong clock or an edited time\) and --max-age was given/);
  });
});

describe('another host', () => {
  it('is lifted by allowOtherHost only, and each finding keeps its own override', () => {
    const { findings } = assessRestore([made(38 * HOUR, { ...here, hostname: 'elsewhere' })], here, now);
    assert.deepEqual(guards(findings), ['host:allowOtherHost', 'age:allowOlder']);
    assert.deepEqual(guards(standingFindings(findings, { allowOtherHost: true })), ['age:allowOlder']);
    assert.match(describeFinding(findings[0]!, flag), /backup was made on host 'elsewhere', this is 'node1' \(--allow-other-host restores it anyway\)$/);
  });
});
