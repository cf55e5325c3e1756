import { readFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as L from './layout.ts';
import { COUNTERS, counterId } from './counters.ts';
import { TABLES, type DataplaneOptions, type TablePlan } from './tables.ts';

export type { DataplaneOptions } from './tables.ts';

/** Exports of the compiled data plane (build/release.wasm). */
export interface DataplaneExports {
  memory: WebAssembly.Memory;
  _start(): void;
  heapBase(): number;
  setup(counters: number, desc: number, tx: number, free: number, pool: number, slots: number, size: number, ports: number): void;
  runVector(n: number): number;
  [name: string]: unknown;
}

/** Configuration of one port (see PortKind, VlanMode, PortFlag in the layout). */
export interface PortConfig {
  kind: L.PortKind;
  flags?: number;
  bridge?: number;
  vlanMode?: L.VlanMode;
  pvid?: number;
  mtu?: number;
  tpid?: number;
  aux?: number;
  aux2?: number;
  /** "02:00:00:00:00:01" */
  mac?: string;
  /** dotted IPv4 address */
  ip4?: string;
}

/** Flags a new bridge port has unless told otherwise, as the Linux bridge does. */
export const DEFAULT_PORT_FLAGS = L.PortFlag.LEARNING | L.PortFlag.FLOOD | L.PortFlag.MCAST_FLOOD | L.PortFlag.BCAST_FLOOD;

// describe() clears the offload metadata with one u16 and two u32 stores, and
// reads and writes descriptor and transmit fields as aligned u16/u32: hold it
// to the layout.
if (
  L.D_VNET_FLAGS % 2 || L.D_GSO_TYPE !== L.D_VNET_FLAGS + 1 || L.D_GSO_SIZE !== L.D_VNET_FLAGS + 2 || L.D_GSO_SIZE % 4 ||
  L.D_CSUM_START !== L.D_GSO_SIZE + 2 || L.D_CSUM_OFFSET !== L.D_GSO_SIZE + 4 || L.D_HDR_LEN !== L.D_CSUM_OFFSET + 2 ||
  (L.D_SLOT | L.D_OFF | L.D_LEN | L.D_TS_SEC | L.D_TS_NSEC | L.T_SLOT | L.T_OFF | L.T_LEN | L.DESC_SIZE | L.TX_SIZE) % 4 ||
  (L.D_IN_PORT | L.T_PORT | L.T_SRC) % 2
) {
  throw new Error('netwasm: src/dataplane/dataplane.ts does not match the descriptor layout (assembly/layout.ts)');
}

const modules = new Map<string, WebAssembly.Module>();

function findWasm(build: 'release' | 'debug' | 'profile'): string {
  // Walk up from this file to the package root, which holds build/.
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const f = join(dir, 'build', `${build}.wasm`);
    if (existsSync(f)) return f;
    dir = dirname(dir);
  }
  throw new Error(`netwasm: build/${build}.wasm not found; run \`npm run build\``);
}

function compiled(build: 'release' | 'debug'): WebAssembly.Module {
  // bench/profile.ts runs the suites on build/profile.wasm: the release code
  // plus a name section, so perf names the WASM functions.
  const b = build === 'release' && globalThis.process?.env?.['NETWASM_WASM'] === 'profile' ? 'profile' : build;
  return compiledFile(b);
}

function compiledFile(build: 'release' | 'debug' | 'profile'): WebAssembly.Module {
  let m = modules.get(build);
  if (!m) {
    m = new WebAssembly.Module(readFileSync(findWasm(build)));
    modules.set(build, m);
  }
  return m;
}

const align = (n: number, a: number): number => Math.ceil(n / a) * a;

/** A region of linear memory handed to the data plane. */
export interface Region { ptr: number; bytes: number }

/**
 * One instance of the WebAssembly data plane with its own fixed-size Memory:
 * a pool of slots, the input descriptor vector, the transmit vector, counters,
 * the port table and the node tables.
 *
 * ```ts
 * const dp = new Dataplane({ slots: 1024 });
 * dp.setPort(0, { kind: PortKind.WIRE, aux: 1 });
 * dp.setPort(1, { kind: PortKind.WIRE, aux: 0 });
 * dp.push(frame, 0);
 * const n = dp.run();           // one call into WASM for the whole vector
 * for (let i = 0; i < n; i++) send(dp.txPort(i), dp.txData(i));
 * ```
 */
export class Dataplane {
  readonly exports: DataplaneExports;
  readonly memory: WebAssembly.Memory;
  readonly slots: number;
  readonly slotSize: number;
  readonly regions: Record<string, Region> = {};
  readonly options: Readonly<DataplaneOptions>;
  /** Frames received per port since creation (what the host pushed). */
  readonly rxPerPort = new Float64Array(L.MAX_PORTS);
  /** Frames transmitted per port since creation. */
  readonly txPerPort = new Float64Array(L.MAX_PORTS);

  private u8!: Uint8Array;
  private dv!: DataView;
  private u16!: Uint16Array;
  private memBuf!: ArrayBuffer;
  /** The last `src` of pushBytes that is a view of our memory (checking `.buffer` per frame costs more than the copy). */
  private sharedSrc: Uint8Array | undefined;
  private sharedOff = 0;
  private u32!: Uint32Array;
  // Region addresses the per-frame paths use (regions.* never move).
  private descPtr = 0;
  private txPtr = 0;
  private poolPtr = 0;
  /** Index in u32 of the free stack's top counter. */
  private freeTop = 0;
  private counters64!: BigUint64Array;
  private nIn = 0;
  private nTx = 0;
  private txPending = false;

  constructor(options: DataplaneOptions = {}) {
    const slots = options.slots ?? 4096;
    const slotSize = options.slotSize ?? L.DEFAULT_SLOT_SIZE;
    if (!Number.isInteger(slots) || slots < 1 || slots > 1 << 22) throw new RangeError(`slots must be an integer in 1..${1 << 22}, got ${slots}`);
    if (!Number.isInteger(slotSize) || slotSize % 64 !== 0 || slotSize < L.HEADROOM + 64 || slotSize > 262144) {
      throw new RangeError(`slotSize must be a multiple of 64 in ${L.HEADROOM + 64}..262144, got ${slotSize}`);
    }
    this.options = { ...options, slots, slotSize };
    this.slots = slots;
    this.slotSize = slotSize;
    const mod = compiled(options.build ?? 'release');

    // Lay the regions out. The module's static data ends at heapBase(), which
    // we learn from a throwaway instance on a minimal memory.
    const heapBase = probeHeapBase(mod);
    let at = align(heapBase, 64);
    const take = (name: string, bytes: number, a = 64): Region => {
      at = align(at, a);
      const r = { ptr: at, bytes };
      this.regions[name] = r;
      at += bytes;
      return r;
    };
    const counters = take('counters', L.MAX_COUNTERS * 8);
    const desc = take('desc', (L.MAX_VECTOR + 2) * L.DESC_SIZE); // + scratch descriptors for copies and segments
    const tx = take('tx', L.MAX_TX * L.TX_SIZE);
    const ports = take('ports', L.MAX_PORTS * L.PORT_SIZE);
    const free = take('free', L.FREE_ENTRIES + slots * 4);
    const plans: Array<{ plan: TablePlan; region: Region }> = [];
    for (const make of TABLES) {
      const plan = make(this.options);
      if (plan) plans.push({ plan, region: take(plan.name, plan.bytes, plan.align ?? 64) });
    }
    const pool = take('pool', slots * slotSize, 4096);
    const hostBytes = options.hostBytes ?? 0;
    if (!Number.isInteger(hostBytes) || hostBytes < 0) throw new RangeError(`hostBytes must be a non-negative integer, got ${hostBytes}`);
    if (hostBytes > 0) take('host', hostBytes, 4096);
    this.descPtr = desc.ptr;
    this.txPtr = tx.ptr;
    this.poolPtr = pool.ptr;
    this.freeTop = free.ptr >>> 2;
    const bytes = align(at, 65536);
    if (options.memoryBytes !== undefined && options.memoryBytes < bytes) {
      throw new RangeError(`memoryBytes ${options.memoryBytes} is too small: this configuration needs ${bytes}`);
    }
    const pages = Math.max(bytes, options.memoryBytes ?? 0) / 65536;
    if (pages > 65536) throw new RangeError(`configuration needs ${bytes} bytes, more than 4 GiB`);
    this.memory = new WebAssembly.Memory({ initial: Math.ceil(pages), maximum: Math.ceil(pages) });
    const inst = new WebAssembly.Instance(mod, { env: { memory: this.memory, abort: abortHandler(this) } });
    this.exports = inst.exports as unknown as DataplaneExports;
    this.exports._start();
    this.refreshViews();
    this.exports.setup(counters.ptr, desc.ptr, tx.ptr, free.ptr, pool.ptr, slots, slotSize, ports.ptr);
    // Every slot starts free.
    const f = free.ptr >>> 2;
    this.u32[f] = slots;
    for (let i = 0; i < slots; i++) this.u32[f + 1 + i] = slots - 1 - i;
    for (const { plan, region } of plans) plan.init(this, region.ptr);
  }

  private refreshViews(): void {
    const buf = this.memory.buffer;
    this.memBuf = buf;
    this.u8 = new Uint8Array(buf);
    this.dv = new DataView(buf);
    this.u16 = new Uint16Array(buf);
    this.u32 = new Uint32Array(buf);
    this.counters64 = new BigUint64Array(buf, this.regions.counters!.ptr, L.MAX_COUNTERS);
  }

  /** Bytes of linear memory this instance owns. */
  get memoryBytes(): number {
    return this.memory.buffer.byteLength;
  }

  /** The raw bytes of linear memory (for the host adapter and table writers). */
  get bytes(): Uint8Array {
    return this.u8;
  }

  /** A DataView over linear memory. */
  get view(): DataView {
    return this.dv;
  }

  // ---- ports ------------------------------------------------------------------

  private readonly portListeners: Array<(id: number) => void> = [];

  /**
   * Calls fn after every setPort / clearPort (node tables that depend on the
   * port table, like the bridges' member lists, keep in step through it).
   */
  onPortChange(fn: (id: number) => void): void {
    this.portListeners.push(fn);
  }

  /** Writes port `id`'s entry in the port table. Between vectors only. */
  setPort(id: number, cfg: PortConfig): void {
    if (!Number.isInteger(id) || id < 0 || id >= L.MAX_PORTS) throw new RangeError(`port id must be in 0..${L.MAX_PORTS - 1}, got ${id}`);
    const p = this.regions.ports!.ptr + id * L.PORT_SIZE;
    this.u8.fill(0, p, p + L.PORT_SIZE);
    const dv = this.dv;
    dv.setUint8(p + L.P_KIND, cfg.kind);
    dv.setUint8(p + L.P_VLAN_MODE, cfg.vlanMode ?? L.VlanMode.NONE);
    dv.setUint16(p + L.P_FLAGS, cfg.flags ?? DEFAULT_PORT_FLAGS, true);
    dv.setUint16(p + L.P_BRIDGE, cfg.bridge ?? 0, true);
    dv.setUint16(p + L.P_PVID, cfg.pvid ?? 0, true);
    dv.setUint16(p + L.P_MTU, cfg.mtu ?? 1500, true);
    dv.setUint16(p + L.P_TPID, cfg.tpid ?? 0x8100, true);
    dv.setUint32(p + L.P_AUX, cfg.aux ?? 0, true);
    dv.setUint32(p + L.P_AUX2, cfg.aux2 ?? 0, true);
    if (cfg.mac) this.u8.set(parseMac(cfg.mac), p + L.P_MAC);
    if (cfg.ip4) this.u8.set(parseIp4(cfg.ip4), p + L.P_IP4);
    for (const fn of this.portListeners) fn(id);
  }

  /** Sets only the IPv4 address of port `id`'s entry (P_IP4), keeping the rest. */
  setPortIp4(id: number, ip4: string): void {
    this.u8.set(parseIp4(ip4), this.portAddr(id) + L.P_IP4);
  }

  /** Removes port `id` (frames to or from it are then dropped as graph-no-port). */
  clearPort(id: number): void {
    const p = this.regions.ports!.ptr + id * L.PORT_SIZE;
    this.u8.fill(0, p, p + L.PORT_SIZE);
    for (const fn of this.portListeners) fn(id);
  }

  /** Address of port `id`'s entry (for node control code). */
  portAddr(id: number): number {
    return this.regions.ports!.ptr + id * L.PORT_SIZE;
  }

  // ---- slots ------------------------------------------------------------------

  /** Free slots in the pool right now. */
  get freeSlots(): number {
    return this.u32[this.regions.free!.ptr >>> 2]!;
  }

  /** Pops a free slot index, or -1. */
  allocSlot(): number {
    const f = this.freeTop;
    const top = this.u32[f]!;
    if (top === 0) return -1;
    this.u32[f] = top - 1;
    return this.u32[f + top]!;
  }

  /** Returns a slot to the pool. */
  freeSlot(slot: number): void {
    const f = this.freeTop;
    const top = this.u32[f]!;
    this.u32[f + 1 + top] = slot;
    this.u32[f] = top + 1;
  }

  /** Address of the first byte of a slot. */
  slotAddr(slot: number): number {
    return this.poolPtr + slot * this.slotSize;
  }

  // ---- vectors ----------------------------------------------------------------

  /** Frames queued in the current input vector. */
  get pending(): number {
    return this.nIn;
  }

  /** Whether the input vector has room for another frame. */
  get full(): boolean {
    return this.nIn >= L.MAX_VECTOR;
  }

  /**
   * Queues a frame that arrived on `inPort` at packet time (tsSec, tsNsec).
   * Returns false (and queues nothing) when the vector is full or the pool has
   * no free slot. A frame longer than a slot is queued with its true length and
   * no bytes: the data plane drops it as eth-oversize.
   */
  push(frame: Uint8Array, inPort: number, tsSec = 0, tsNsec = 0): boolean {
    return this.pushBytes(frame, 0, frame.length, inPort, tsSec, tsNsec);
  }

  /**
   * `push` of the bytes `src[start .. end)` (a record in a capture's read
   * buffer, say) without making a view of them: the hot path of replay. When
   * `src` is a view of this data plane's own memory the bytes are moved with
   * copyWithin.
   */
  pushBytes(src: Uint8Array, start: number, end: number, inPort: number, tsSec = 0, tsNsec = 0): boolean {
    if (this.txPending) this.releaseTx();
    if (this.nIn >= L.MAX_VECTOR) return false;
    const u32 = this.u32;
    const f = this.freeTop;
    const top = u32[f]!;
    if (top === 0) return false;
    u32[f] = top - 1;
    const slot = u32[f + top]!;
    const len = end - start;
    if (L.HEADROOM + len <= this.slotSize) {
      const at = this.poolPtr + slot * this.slotSize + L.HEADROOM;
      if (src !== this.sharedSrc && src.buffer === this.memBuf) {
        this.sharedSrc = src;
        this.sharedOff = src.byteOffset;
      }
      if (src === this.sharedSrc) this.u8.copyWithin(at, this.sharedOff + start, this.sharedOff + end);
      else this.u8.set(start === 0 && end === src.length ? src : src.subarray(start, end), at);
    }
    this.describe(this.nIn++, slot, L.HEADROOM, len, inPort, tsSec, tsNsec);
    if (inPort >= 0 && inPort < L.MAX_PORTS) this.rxPerPort[inPort]!++;
    return true;
  }

  /**
   * Writes input descriptor i directly (for hosts that fill slots themselves,
   * like the native adapter). Prefer `push`.
   */
  describe(i: number, slot: number, off: number, len: number, inPort: number, tsSec: number, tsNsec: number): void {
    // Typed-array stores (the host is little-endian, as WASM memory is; the
    // free stack relies on it too); each store truncates as DataView's would.
    const d = this.descPtr + i * L.DESC_SIZE;
    const w = d >>> 2;
    const u32 = this.u32;
    const u16 = this.u16;
    u32[w + (L.D_SLOT >> 2)] = slot;
    u32[w + (L.D_OFF >> 2)] = off;
    u32[w + (L.D_LEN >> 2)] = len;
    u16[(d + L.D_IN_PORT) >>> 1] = inPort;
    u32[w + (L.D_TS_SEC >> 2)] = tsSec;
    u32[w + (L.D_TS_NSEC >> 2)] = tsNsec;
    // The offload metadata, D_VNET_FLAGS .. D_HDR_LEN: 10 bytes of zeros.
    u16[(d + L.D_VNET_FLAGS) >>> 1] = 0;
    u32[w + (L.D_GSO_SIZE >> 2)] = 0;
    u32[w + (L.D_CSUM_OFFSET >> 2)] = 0;
  }

  /**
   * Runs the queued vector through the data plane: ONE call into WASM.
   * Returns the number of transmit entries, readable with txPort/txData/txSrc
   * until the next push or run, which recycle their slots.
   */
  run(n = this.nIn): number {
    if (this.txPending) this.releaseTx();
    this.nIn = 0;
    const nTx = this.exports.runVector(n);
    this.nTx = nTx;
    this.txPending = true;
    const u16 = this.u16;
    const p0 = (this.txPtr + L.T_PORT) >>> 1;
    for (let i = 0; i < nTx; i++) this.txPerPort[u16[p0 + i * (L.TX_SIZE >> 1)]!]!++;
    this.lastN = n;
    return nTx;
  }

  private lastN = 0;

  /** Frames in the vector last run. */
  get lastVectorSize(): number {
    return this.lastN;
  }

  /** Output port of transmit entry i. */
  txPort(i: number): number {
    return this.u16[(this.txPtr + i * L.TX_SIZE + L.T_PORT) >>> 1]!;
  }

  /** Index of the input frame transmit entry i came from. */
  txSrc(i: number): number {
    return this.u16[(this.txPtr + i * L.TX_SIZE + L.T_SRC) >>> 1]!;
  }

  /** The bytes of transmit entry i: a view into linear memory, valid until the next push or run. */
  txData(i: number): Uint8Array {
    const w = (this.txPtr + i * L.TX_SIZE) >>> 2;
    const u32 = this.u32;
    const a = this.poolPtr + u32[w + (L.T_SLOT >> 2)]! * this.slotSize + u32[w + (L.T_OFF >> 2)]!;
    const len = u32[w + (L.T_LEN >> 2)]!;
    return this.u8.subarray(a, a + len);
  }

  /** Slot, offset and length of transmit entry i (for zero-copy hosts). */
  txSlot(i: number): number {
    return this.u32[(this.txPtr + i * L.TX_SIZE + L.T_SLOT) >>> 2]!;
  }

  /** Verdict of input frame i of the last vector. */
  verdict(i: number): L.Verdict {
    return this.u8[this.regions.desc!.ptr + i * L.DESC_SIZE + L.D_VERDICT]! as L.Verdict;
  }

  /** Drop reason (counter name) of input frame i of the last vector, or '' if not dropped. */
  dropReason(i: number): string {
    const id = this.dv.getUint16(this.regions.desc!.ptr + i * L.DESC_SIZE + L.D_DROP, true);
    return id === 0 ? '' : (COUNTERS.find((c) => c[0] === id)?.[1] ?? `counter-${id}`);
  }

  /** A descriptor field of input frame i (see D_* in the layout). */
  descField(i: number, field: number, size: 1 | 2 | 4 = 4): number {
    const a = this.regions.desc!.ptr + i * L.DESC_SIZE + field;
    return size === 1 ? this.u8[a]! : size === 2 ? this.dv.getUint16(a, true) : this.dv.getUint32(a, true);
  }

  /** Returns the transmit entries' slots to the pool (done by the next push/run). */
  releaseTx(): void {
    if (!this.txPending) return;
    const u32 = this.u32;
    const s0 = (this.txPtr + L.T_SLOT) >>> 2;
    for (let i = 0; i < this.nTx; i++) this.freeSlot(u32[s0 + i * (L.TX_SIZE >> 2)]!);
    this.nTx = 0;
    this.txPending = false;
  }

  // ---- counters ---------------------------------------------------------------

  /** One counter by name. Throws on an unknown name. */
  counter(name: string): bigint {
    const id = counterId(name);
    if (id === undefined) throw new Error(`unknown counter "${name}"`);
    return this.counters64[id]!;
  }

  /** Every named counter (zeros included unless nonZero). */
  counters(nonZero = false): Record<string, bigint> {
    const out: Record<string, bigint> = {};
    for (const [id, name] of COUNTERS) {
      const v = this.counters64[id]!;
      if (!nonZero || v !== 0n) out[name] = v;
    }
    return out;
  }
}

function probeHeapBase(mod: WebAssembly.Module): number {
  const mem = new WebAssembly.Memory({ initial: 1, maximum: 65536 });
  for (;;) {
    try {
      const inst = new WebAssembly.Instance(mod, { env: { memory: mem, abort: () => { throw new Error('abort'); } } });
      return (inst.exports as unknown as DataplaneExports).heapBase();
    } catch (e) {
      if (!(e instanceof WebAssembly.LinkError) && !(e instanceof RangeError)) throw e;
      mem.grow(mem.buffer.byteLength / 65536);
    }
  }
}

function abortHandler(dp: { memory: WebAssembly.Memory } | null) {
  return (msg: number, file: number, line: number, col: number): never => {
    const str = (p: number): string => {
      if (!dp || !p) return '';
      const u8 = new Uint8Array(dp.memory.buffer);
      const len = new Uint32Array(dp.memory.buffer, p - 4, 1)[0]!;
      return Buffer.from(u8.subarray(p, p + len)).toString('utf16le');
    };
    throw new Error(`netwasm data plane abort: ${str(msg)} at ${str(file)}:${line}:${col}`);
  };
}

/** "02:00:00:00:00:01" -> 6 bytes. */
export function parseMac(s: string): Uint8Array {
  const m = /^([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2})$/i.exec(s);
  if (!m) throw new Error(`invalid MAC address "${s}"`);
  return Uint8Array.from(m.slice(1).map((h) => parseInt(h, 16)));
}

/** "10.0.0.1" -> 4 bytes. */
export function parseIp4(s: string): Uint8Array {
  const parts = s.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) throw new Error(`invalid IPv4 address "${s}"`);
  return Uint8Array.from(parts.map(Number));
}
