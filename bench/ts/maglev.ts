/**
 * The TypeScript baseline of the Maglev table builds: the reference builders
 * of src/ipvs/maglev.ts (typed arrays, 64-bit hashes on 32-bit halves), with
 * the bench's inputs made the same way as bench/c/maglev.c makes them.
 */
import { katranRing, mhTable, type KatranEndpoint, type MhDest } from '../../src/ipvs/maglev.ts';

export { katranRing, mhTable };

/** n endpoints num i, weight 1, hash i * 2654435761 + 12345 (as maglev.c). */
export function katranEndpoints(n: number): KatranEndpoint[] {
  return Array.from({ length: n }, (_, i) => ({ num: i, weight: 1, hash: BigInt(i) * 2654435761n + 12345n }));
}

/** n mh dests: hashInput 10.1.0.0 + i + port 80, weight 1 (as maglev.c). */
export function mhDests(n: number): MhDest[] {
  return Array.from({ length: n }, (_, i) => ({ hashInput: (0x0a010000 + i + 80) >>> 0, weight: 1, label: i }));
}
