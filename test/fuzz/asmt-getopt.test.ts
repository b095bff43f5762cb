// The `asmt` option parser against an independent getopt. The oracle is
// util-linux's getopt(1) (`getopt -o abchi:n:p:rt:vz -- ARGV…`): it runs
// glibc's own getopt_long(3), the parser ASMT itself is built on, and prints
// the options it recognised in order, each with its argument, then `--` and
// the operands (permuted to the end, as GNU getopt does without
// POSIXLY_CORRECT), and one line per error on stderr. Python's
// `getopt.gnu_getopt` was the other candidate; it is a reimplementation with
// other messages, so glibc's own code through getopt(1) is the closer oracle.
//
// Differences that are getopt_long's, not ASMT's, are kept out of the
// generated vectors: an argument that begins with `--` and is longer is a
// long option to getopt_long, while ASMT's getopt(3) reads it as the short
// options `-`, …; `--` alone is generated (end of options for both).
//
// What is compared: the first error (which option, which kind) must be ours,
// unless -h comes before it (then help; helpComesFirst); with none, `-h`
// anywhere means help and exit 0; operands mean usage and
// exit 1; otherwise the last value of each option and the flags seen decide
// the parsed options, or the validation message, in ASMT's order.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { atoi, isAsmtExit, longUsage, parseAsmtArguments, ALL_INSTANCES } from '../../packages/cli/src/asmt/asmt-options.js';
import { check } from './settings.js';

const GETOPT = '/usr/bin/getopt';
const OPTSTRING = 'abchi:n:p:rt:vz';
const WITH_ARGUMENT = new Set(['i', 'n', 'p', 't']);
const CPUS = 4;

interface OracleResult {
  readonly options: readonly { readonly option: string; readonly value?: string }[];
  readonly operands: readonly string[];
  readonly firstError?: string;
}

/** Splits getopt(1)'s shell-quoted output ('…' with '\'' for a quote) into words. */
function shellWords(text: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === ' ' || c === '\n') {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else if (c === "'") {
      const end = text.indexOf("'", i + 1);
      word = (word ?? '') + text.slice(i + 1, end);
      i = end;
    } else if (c === '\\') {
      word = (word ?? '') + text[++i];
    } else {
      word = (word ?? '') + c;
    }
  }
  if (word !== undefined) words.push(word);
  return words;
}

function oracle(argv: readonly string[]): OracleResult {
  const run = spawnSync(GETOPT, ['-o', OPTSTRING, '--', ...argv], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
  const words = shellWords(run.stdout);
  const options: { option: string; value?: string }[] = [];
  let i = 0;
  for (; i < words.length && words[i] !== '--'; i++) {
    const option = words[i]!.slice(1);
    options.push(WITH_ARGUMENT.has(option) ? { option, value: words[++i]! } : { option });
  }
  // getopt(1) names itself as invoked (`/usr/bin/getopt: invalid option -- 'x'`).
  const firstError = run.stderr.split('\n').map((line) => /^\S*getopt: (.*)$/.exec(line)?.[1]).find((message) => message !== undefined);
  return { options, operands: words.slice(i + 1), ...(firstError === undefined ? {} : { firstError }) };
}

/**
 * With both -h and an error, which getopt(3) meets first (ASMT acts on the
 * first: help, or the error). getopt(1) reports all of both without their
 * order, so it is asked again on each prefix of the vector: the first
 * prefix with -h among its options, the first with an error. A prefix can
 * cut an option from its argument ("requires an argument" for the last
 * word's last option); that error is the prefix's, not the vector's, and is
 * not counted. When both fall in one word (`-hx`, `-xh`), the order of the
 * letters in it decides.
 */
function helpComesFirst(argv: readonly string[]): boolean {
  let help = -1;
  let error = -1;
  let errorLetter = '';
  for (let j = 0; j < argv.length && (help < 0 || error < 0); j++) {
    const prefix = oracle(argv.slice(0, j + 1));
    if (help < 0 && prefix.options.some((o) => o.option === 'h')) help = j;
    if (error < 0 && prefix.firstError !== undefined) {
      const letter = /-- '(.)'$/.exec(prefix.firstError)?.[1] ?? '';
      const cut = j < argv.length - 1 && prefix.firstError.startsWith('option requires an argument') && argv[j]!.endsWith(letter);
      if (!cut) {
        error = j;
        errorLetter = letter;
      }
    }
  }
  assert.ok(help >= 0 && error >= 0, `both found again on prefixes of ${JSON.stringify(argv)}`);
  if (help !== error) return help < error;
  const word = argv[help]!;
  return word.indexOf('h', 1) < word.indexOf(errorLetter, 1);
}

const argvArbitrary = fc.array(
  fc.oneof(
    { weight: 5, arbitrary: fc.tuple(fc.stringMatching(/^[abcinprtvzxy?]{1,4}$/), fc.constantFrom('', '', '3', '16', '-1', 'test,bar', '/tmp/d', 'x y', "it's", '65535', ' 7', '+2z')).map(([cluster, tail]) => `-${cluster}${tail}`) },
    { weight: 1, arbitrary: fc.constantFrom('-h', '-vh', '-hx', '-b', '-r', '-p/d') },
    { weight: 1, arbitrary: fc.constantFrom('--', '-', '', 'foo', '/var/backups', 'test', "a'b", 'two words', '0', '1024', '65535', 'abc') },
  ),
  { maxLength: 7 },
);

describe('fuzz: the asmt option parser agrees with glibc getopt (through util-linux getopt(1))', { skip: existsSync(GETOPT) ? false : `${GETOPT} (util-linux) is not installed` }, () => {
  it('the oracle reads as expected on known vectors', () => {
    assert.deepEqual(oracle(['-zc', 'foo', '-i3', '-p', "a'b c"]), { options: [{ option: 'z' }, { option: 'c' }, { option: 'i', value: '3' }, { option: 'p', value: "a'b c" }], operands: ['foo'] });
    assert.equal(oracle(['-x', '-p']).firstError, "invalid option -- 'x'");
    assert.equal(oracle(['-p']).firstError, "option requires an argument -- 'p'");
  });

  it('every generated argument vector: the same options, operands and first error, and what ASMT then decides', async (t) => {
    let compared = 0;
    let helpWithError = 0;
    await check(
      fc.property(argvArbitrary, (argv) => {
        const expected = oracle(argv);
        const ours = parseAsmtArguments(argv, CPUS);
        const seen = new Set(expected.options.map((o) => o.option));
        const last = (option: string): string | undefined => expected.options.filter((o) => o.option === option).at(-1)?.value;
        compared++;
        if (expected.firstError !== undefined) {
          const errorExit = { status: 1, stdout: longUsage(CPUS), stderr: `asmt: ${expected.firstError}\n` };
          if (seen.has('h') && helpComesFirst(argv)) {
            helpWithError++;
            assert.deepEqual(ours, { status: 0, stdout: longUsage(CPUS), stderr: '' }, JSON.stringify(argv));
            return;
          }
          assert.deepEqual(ours, errorExit, JSON.stringify(argv));
          return;
        }
        if (seen.has('h')) {
          assert.deepEqual(ours, { status: 0, stdout: longUsage(CPUS), stderr: '' }, JSON.stringify(argv));
          return;
        }
        if (expected.operands.length > 0) {
          assert.deepEqual(ours, { status: 1, stdout: longUsage(CPUS), stderr: '' }, JSON.stringify(argv));
          return;
        }
        const instance = last('i') === undefined ? 0 : atoi(last('i')!);
        const threads = last('t') === undefined ? 65535 : atoi(last('t')!);
        const refusal =
          seen.has('b') === seen.has('r')
            ? "Must specify exactly one of backup ('-b') or restore ('-r')."
            : last('p') === undefined
              ? "Must specify pathname of file directory (use '-p')."
              : (instance < 0 || instance > 15) && instance !== ALL_INSTANCES
                ? "Instance must be from 0..15 (use '-i')."
                : (threads < 1 || threads > 1024) && threads !== 65535
                  ? "Max threads must be in the range 1..1024 (use '-t')."
                  : undefined;
        if (refusal !== undefined) {
          assert.ok(isAsmtExit(ours) && ours.status === 1 && ours.stdout.startsWith(`${refusal}\n`), JSON.stringify({ argv, ours, refusal }));
          return;
        }
        assert.ok(!isAsmtExit(ours), JSON.stringify({ argv, ours }));
        assert.deepEqual(
          { operation: ours.operation, analyze: ours.analyze, crc: ours.crc, verbose: ours.verbose, compress: ours.compress, directory: ours.directory, namespaces: ours.namespaces, instance: ours.instance, threads: ours.threads },
          {
            operation: seen.has('b') ? 'backup' : 'restore',
            analyze: seen.has('a'),
            crc: seen.has('c'),
            verbose: seen.has('v'),
            compress: seen.has('z') && seen.has('b'),
            directory: last('p'),
            namespaces: last('n') === undefined ? [] : last('n')!.split(','),
            instance,
            threads: threads === 65535 ? undefined : threads,
          },
          JSON.stringify(argv),
        );
      }),
      400,
    );
    assert.ok(compared > 0);
    t.diagnostic(`${compared} vectors compared with getopt(1); in ${helpWithError} -h came before an error`);
  });
});
