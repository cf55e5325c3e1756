import type { Dataplane } from './dataplane.ts';

/** How a Dataplane is created. Node tables add their own sizing options here. */
export interface DataplaneOptions {
  /** Slots in the buffer pool (default 4096). */
  slots?: number;
  /** Bytes per slot, headroom included (default 2048, a multiple of 64). */
  slotSize?: number;
  /** Size of linear memory; default: exactly what the configuration needs. */
  memoryBytes?: number;
  /** Which build of the module to load (default release). */
  build?: 'release' | 'debug';
}

/** A node table: its region of linear memory and how to initialise it. */
export interface TablePlan {
  name: string;
  bytes: number;
  align?: number;
  init(dp: Dataplane, ptr: number): void;
}

/**
 * Every node table. Each entry sizes its region from the options (or returns
 * null when not wanted); Dataplane lays the regions out in this order.
 */
export const TABLES: Array<(opts: Readonly<DataplaneOptions>) => TablePlan | null> = [];
