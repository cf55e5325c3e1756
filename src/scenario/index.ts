export * from './errors.ts';
export * from './spec.ts';
export * from './resolve.ts';
export * from './load.ts';
export * from './edit.ts';
