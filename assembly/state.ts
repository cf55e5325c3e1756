// Where the regions of linear memory are. The host lays them out (it owns the
// imported Memory) and tells the module once through `setup`; the nodes read
// these globals and never allocate.
import { DESC_SIZE, TX_SIZE, PORT_SIZE, FREE_TOP, FREE_ENTRIES } from './layout';

export let countersBase: usize = 0;
export let descBase: usize = 0;
export let txBase: usize = 0;
export let freeBase: usize = 0;
export let poolBase: usize = 0;
export let portBase: usize = 0;
export let slotCount: u32 = 0;
export let slotSize: u32 = 0;
/** Transmit entries written so far in the current vector. */
export let txCount: u32 = 0;

/** Called once by the host after it has laid out memory. */
export function setup(counters: usize, desc: usize, tx: usize, free: usize, pool: usize, slots: u32, size: u32, ports: usize): void {
  countersBase = counters;
  descBase = desc;
  txBase = tx;
  freeBase = free;
  poolBase = pool;
  slotCount = slots;
  slotSize = size;
  portBase = ports;
}

// @ts-ignore: decorator
@inline export function count(id: i32): void {
  const p = countersBase + (<usize>id << 3);
  store<u64>(p, load<u64>(p) + 1);
}

// @ts-ignore: decorator
@inline export function countN(id: i32, n: u64): void {
  const p = countersBase + (<usize>id << 3);
  store<u64>(p, load<u64>(p) + n);
}

// @ts-ignore: decorator
@inline export function desc(i: u32): usize {
  return descBase + <usize>i * DESC_SIZE;
}

// @ts-ignore: decorator
@inline export function port(p: u32): usize {
  return portBase + <usize>p * PORT_SIZE;
}

/**
 * Whether a descriptor's frame (slot, offset, length as the host wrote them)
 * lies inside one slot of the pool: what ethCheck accepts before its length
 * checks, for the passes that read frames before it runs.
 */
// @ts-ignore: decorator
@inline export function frameInSlot(slot: u32, off: u32, len: u32): bool {
  return slot < slotCount && off <= slotSize && len <= slotSize - off;
}

// @ts-ignore: decorator
@inline export function slotPtr(slot: u32): usize {
  return poolBase + <usize>slot * slotSize;
}

/** Pops a free slot; returns -1 when the pool is empty. */
export function slotAlloc(): i32 {
  const top = load<u32>(freeBase + FREE_TOP);
  if (top == 0) return -1;
  const s = load<u32>(freeBase + FREE_ENTRIES + (<usize>(top - 1) << 2));
  store<u32>(freeBase + FREE_TOP, top - 1);
  return <i32>s;
}

/** Returns a slot to the pool. */
export function slotFree(slot: u32): void {
  const top = load<u32>(freeBase + FREE_TOP);
  store<u32>(freeBase + FREE_ENTRIES + (<usize>top << 2), slot);
  store<u32>(freeBase + FREE_TOP, top + 1);
}

export function resetTx(): void {
  txCount = 0;
}

export function bumpTx(): void {
  txCount++;
}

/** Address of transmit entry i. */
// @ts-ignore: decorator
@inline export function txEntry(i: u32): usize {
  return txBase + <usize>i * TX_SIZE;
}

