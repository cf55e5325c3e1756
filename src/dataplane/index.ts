export * from './dataplane.ts';
export * from './layout.ts';
export { COUNTERS, counterId, kebab } from './counters.ts';
