// Damage done to a valid object: byte flips, overwrites, truncations,
// extensions, cut-out and duplicated runs. Each is data (printable in a
// counterexample), applied by `applyMutation`.
import fc from 'fast-check';

export type Mutation =
  | { readonly kind: 'flip'; readonly at: number; readonly bit: number }
  | { readonly kind: 'set'; readonly at: number; readonly value: number }
  | { readonly kind: 'truncate'; readonly at: number }
  | { readonly kind: 'extend'; readonly bytes: readonly number[] }
  | { readonly kind: 'cut'; readonly at: number; readonly length: number }
  | { readonly kind: 'duplicate'; readonly at: number; readonly length: number };

/** `at` values are fractions of the object's length (0..1), so one mutation fits any object. */
export const mutationArbitrary: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.integer({ min: 0, max: 1_000_000 }), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('set' as const), at: fc.integer({ min: 0, max: 1_000_000 }), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.integer({ min: 0, max: 1_000_000 }) }),
  fc.record({ kind: fc.constant('extend' as const), bytes: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 64 }) }),
  fc.record({ kind: fc.constant('cut' as const), at: fc.integer({ min: 0, max: 1_000_000 }), length: fc.integer({ min: 1, max: 4096 }) }),
  fc.record({ kind: fc.constant('duplicate' as const), at: fc.integer({ min: 0, max: 1_000_000 }), length: fc.integer({ min: 1, max: 4096 }) }),
);

const position = (fraction: number, length: number): number => Math.min(length, Math.floor((fraction / 1_000_000) * length));

export function applyMutation(object: Buffer, mutation: Mutation): Buffer {
  const at = 'at' in mutation ? position(mutation.at, object.length) : 0;
  switch (mutation.kind) {
    case 'flip': {
      if (object.length === 0) return object;
      const out = Buffer.from(object);
      const i = Math.min(at, out.length - 1);
      out[i] = out[i]! ^ (1 << mutation.bit);
      return out;
    }
    case 'set': {
      if (object.length === 0) return object;
      const out = Buffer.from(object);
      out[Math.min(at, out.length - 1)] = mutation.value;
      return out;
    }
    case 'truncate':
      return object.subarray(0, Math.min(at, Math.max(0, object.length - 1)));
    case 'extend':
      return Buffer.concat([object, Buffer.from(mutation.bytes)]);
    case 'cut':
      return Buffer.concat([object.subarray(0, at), object.subarray(Math.min(object.length, at + mutation.length))]);
    case 'duplicate':
      return Buffer.concat([object.subarray(0, at), object.subarray(at, at + mutation.length), object.subarray(at)]);
  }
}

export function applyMutations(object: Buffer, mutations: readonly Mutation[]): Buffer {
  return mutations.reduce(applyMutation, object);
}
