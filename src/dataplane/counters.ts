import { Ctr } from '../../assembly/counters.ts';

/** `EthRunt` -> `eth-runt`, `Ipv4BadIhl` -> `ipv4-bad-ihl`. */
export function kebab(key: string): string {
  return key.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();
}

/** Every counter as [id, kebab-case name], in id order. */
export const COUNTERS: ReadonlyArray<readonly [number, string]> = Object.entries(Ctr)
  .filter((e): e is [string, number] => typeof e[1] === 'number' && !e[0].startsWith('_'))
  .map(([k, v]) => [v, kebab(k)] as const)
  .sort((a, b) => a[0] - b[0]);

const byName = new Map<string, number>(COUNTERS.map(([id, name]) => [name, id]));

/** The id of a counter by its public name, or undefined. */
export function counterId(name: string): number | undefined {
  return byName.get(name);
}
