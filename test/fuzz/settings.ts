// One place for the fuzz campaigns' seed and size. `npm test` runs every
// property with a fixed seed and a modest number of runs (seconds in all);
// `npm run fuzz -- --runs N [--seed S]` (scripts/fuzz.mjs) passes a larger
// campaign through SHMSNAP_FUZZ_RUNS and SHMSNAP_FUZZ_SEED. A failure prints
// fast-check's seed and path: reproduce it with the same seed, then keep the
// counterexample as a regression case beside the property.
import fc from 'fast-check';

const DEFAULT_SEED = 16_2026;

function intFromEnv(name: string): number | undefined {
  const text = process.env[name];
  if (text === undefined || text === '') return undefined;
  if (!/^-?\d+$/.test(text)) throw new Error(`${name} must be an integer, got '${text}'`);
  return Number(text);
}

export const FUZZ_SEED = intFromEnv('SHMSNAP_FUZZ_SEED') ?? DEFAULT_SEED;
const runsOverride = intFromEnv('SHMSNAP_FUZZ_RUNS');

/** Parameters for `fc.assert`: `defaultRuns` in `npm test`, the campaign's count otherwise; a campaign ends at its first failure unless asked to shrink. */
export function fuzzParameters<T>(defaultRuns: number, extra: fc.Parameters<T> = {}): fc.Parameters<T> {
  return { seed: FUZZ_SEED, numRuns: runsOverride ?? defaultRuns, endOnFailure: process.env.SHMSNAP_FUZZ_END_ON_FAILURE === '1', ...extra };
}

/** Like `fc.assert`, resolving for async properties too. */
export async function check<T>(property: fc.IProperty<T> | fc.IAsyncProperty<T>, defaultRuns: number): Promise<void> {
  await fc.assert(property as fc.IAsyncProperty<T>, fuzzParameters(defaultRuns));
}
