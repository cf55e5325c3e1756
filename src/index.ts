/**
 * netwasm: Docker networking's data plane in WebAssembly.
 *
 * ```ts
 * import { Dataplane, PortKind } from 'netwasm';
 * const dp = new Dataplane({ slots: 1024 });
 * ```
 */
export * from './dataplane/index.ts';
export * from './pcap/index.ts';
export { replay, outputFileName } from './replay/replay.ts';
export type { ReplayInput, ReplayOptions, ReplayResult, TimedFrame, PortStats } from './replay/replay.ts';
export { compareFrames, compareOutputs, formatDifference, hexDiff } from './replay/expect.ts';
export type { Difference } from './replay/expect.ts';
export { compileTopology, CompileError, vipMac } from './compile/compile.ts';
export type { CompiledTopology } from './compile/compile.ts';
export { loadScenario, loadScenarioText } from './scenario/load.ts';
export { ScenarioError } from './scenario/errors.ts';
export type { Topology } from './cnm/topology.ts';
export * as frames from './frames/build.ts';
