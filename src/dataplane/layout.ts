/**
 * The packet vector ABI as the host sees it: re-exported from the one source,
 * `assembly/layout.ts`, which AssemblyScript compiles too.
 */
export * from '../../assembly/layout.ts';
export { Ctr } from '../../assembly/counters.ts';
