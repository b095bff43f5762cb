// ASMT's getopt-style command line, without running anything (docs/asmt-format.md §1).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { atoi, isAsmtExit, parseAsmtArguments, type AsmtOptions } from './asmt-options.js';

function parsed(args: string[]): AsmtOptions {
  const result = parseAsmtArguments(args, 4);
  assert.ok(!isAsmtExit(result), `expected options, got exit ${JSON.stringify(result)}`);
  return result;
}

function exited(args: string[]) {
  const result = parseAsmtArguments(args, 4);
  assert.ok(isAsmtExit(result), `expected an exit, got ${JSON.stringify(result)}`);
  return result;
}

describe('parseAsmtArguments', () => {
  it('takes combined flags and attached or separate arguments, as getopt', () => {
    const o = parsed(['-bzc', '-i3', '-p', '/b', '-ntest,bar', '-t', '2']);
    assert.deepEqual(
      { op: o.operation, compress: o.compress, crc: o.crc, instance: o.instance, dir: o.directory, ns: o.namespaces, threads: o.threads },
      { op: 'backup', compress: true, crc: true, instance: 3, dir: '/b', ns: ['test', 'bar'], threads: 2 },
    );
  });

  it('keeps an empty element of -n for the frontend to refuse (ASMT skips it)', () => {
    assert.deepEqual(parsed(['-r', '-p', '/b', '-n', 'a,,b']).namespaces, ['a', '', 'b']);
  });

  it('validates in ASMT\'s order with its messages and status 1', () => {
    assert.match(exited(['-p', '/b']).stdout, /^Must specify exactly one of backup \('-b'\) or restore \('-r'\)\./);
    assert.match(exited(['-b', '-r', '-p', '/b']).stdout, /exactly one of backup/);
    assert.match(exited(['-b']).stdout, /^Must specify pathname of file directory/);
    assert.match(exited(['-b', '-p', '/b', '-i', '16']).stdout, /^Instance must be from 0\.\.15/);
    assert.match(exited(['-b', '-p', '/b', '-t', '0']).stdout, /^Max threads must be in the range 1\.\.1024/);
    assert.equal(exited(['-b', '-p', '/b', '-t', '0']).status, 1);
  });

  it('reports an unknown option and a missing argument as getopt does', () => {
    assert.equal(exited(['-x']).stderr, "asmt: invalid option -- 'x'\n");
    assert.equal(exited(['-b', '-p']).stderr, "asmt: option requires an argument -- 'p'\n");
    assert.equal(exited(['-b', '-p', '/b', 'extra']).status, 1, 'operands are rejected');
  });

  it('prints help with status 0, and keeps the wildcard instance and default threads', () => {
    assert.equal(exited(['-h']).status, 0);
    const o = parsed(['-r', '-i', '65535', '-p', '/b', '-n', 'x', '-z']);
    assert.equal(o.instance, 65535);
    assert.equal(o.threads, undefined);
    assert.equal(o.compress, false, '-z means nothing on restore');
    assert.equal(o.warnings.length, 1);
  });
});

describe('atoi', () => {
  it('reads like C', () => {
    assert.equal(atoi('  42abc'), 42);
    assert.equal(atoi('-7'), -7);
    assert.equal(atoi('x1'), 0);
    assert.equal(atoi(''), 0);
  });
});
