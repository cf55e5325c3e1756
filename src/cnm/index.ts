export * from './errors.ts';
export * from './ids.ts';
export * from './host.ts';
export * from './network.ts';
export * from './sandbox.ts';
export * from './service.ts';
export * from './controller.ts';
export * from './topology.ts';
