// fast-check arbitraries shared by the fuzz tests.
import fc from 'fast-check';

/** One element of a list of any length (fc.constantFrom takes its values as call arguments). */
export function oneOf<T>(list: readonly T[]): fc.Arbitrary<T> {
  return fc.integer({ min: 0, max: list.length - 1 }).map((i) => list[i]);
}
