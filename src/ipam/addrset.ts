/**
 * The set of allocated addresses of one IPAM pool, with the semantics of
 * libnetwork's `internal/addrset` over `bitmap`: `addAny` takes the lowest free
 * address, or with `serial` the first free one after the address most recently
 * taken by `addAny`/`addAnyInRange` (wrapping to the start); `add` takes a given
 * address. Only allocated offsets are stored, so a /8 costs nothing.
 *
 * @example
 * const s = new AddrSet(parsePrefix('10.0.0.0/24')!);
 * s.add(s.pool.first()); s.addAny(false); // 10.0.0.1
 */
import { errIPAlreadyAllocated, errNoAvailableIPs } from '../cnm/errors.ts';
import type { Prefix } from './ip.ts';

export class AddrSet {
  readonly pool: Prefix;
  private readonly used = new Set<number>();
  /** Offset after the last `addAny` result (bitmap.curr). */
  private curr = 0;

  constructor(pool: Prefix) {
    this.pool = pool.masked();
  }

  /** Number of allocated addresses. */
  get count(): number {
    return this.used.size;
  }

  has(addr: number): boolean {
    return this.used.has(addr - this.pool.first());
  }

  /** Takes `addr`; ErrIPAlreadyAllocated if taken. The caller checks it is in the pool. */
  add(addr: number): void {
    const off = addr - this.pool.first();
    if (this.used.has(off)) throw errIPAlreadyAllocated();
    this.used.add(off);
  }

  /** Takes any free address of the pool; ErrNoAvailableIPs if none. */
  addAny(serial: boolean): number {
    return this.takeIn(0, this.pool.size() - 1, serial);
  }

  /** Takes any free address of `range` (inside the pool); ErrNoAvailableIPs if none. */
  addAnyInRange(range: Prefix, serial: boolean): number {
    const start = range.first() - this.pool.first();
    return this.takeIn(start, start + range.size() - 1, serial);
  }

  /** Frees `addr` (freeing a free address is not an error, as in libnetwork). */
  remove(addr: number): void {
    this.used.delete(addr - this.pool.first());
  }

  private takeIn(start: number, end: number, serial: boolean): number {
    const from = serial && this.curr > start && this.curr <= end ? this.curr : start;
    let off = this.firstFree(from, end);
    if (off < 0 && from > start) off = this.firstFree(start, from - 1);
    if (off < 0) throw errNoAvailableIPs();
    this.used.add(off);
    this.curr = off + 1;
    return (this.pool.first() + off) >>> 0;
  }

  private firstFree(from: number, to: number): number {
    for (let i = from; i <= to; i++) if (!this.used.has(i)) return i;
    return -1;
  }
}
