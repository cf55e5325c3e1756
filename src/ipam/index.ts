export * from './ip.ts';
export * from './addrset.ts';
export * from './allocator.ts';
export * from './mac.ts';
export * from './validate.ts';
