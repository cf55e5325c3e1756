/**
 * The IPVS region of a Dataplane: how big it is (from DataplaneOptions) and
 * how it is laid out. The control API over it is src/ipvs (class Ipvs).
 */
import * as I from '../../assembly/ipvs-layout.ts';
import type { Dataplane } from './dataplane.ts';
import type { DataplaneOptions, TablePlan } from './tables.ts';

/** Connection table entries by default (the kernel's table is unbounded; 2^20 here). */
export const DEFAULT_CONN_CAPACITY = 1 << 20;
/** Most connection entries one data plane may be created with. */
export const MAX_CONN_CAPACITY = 1 << 25;
export const DEFAULT_IPVS_SERVICES = 256;
export const DEFAULT_IPVS_REAL_SERVERS = 4096;
/** Bytes for lookup tables (Maglev rings, mh tables) and service server lists, default 8 MiB. */
export const DEFAULT_IPVS_TABLE_BYTES = 8 << 20;
/** CONFIG_IP_VS_MH_TAB_INDEX of the kernel's default build. */
export const DEFAULT_MH_TAB_INDEX = 12;
/** Bytes one connection costs: its entry and its bucket. */
export const CONN_BYTES_PER_ENTRY = I.CONN_SIZE + 4;

/** The kernel's IPVS timeouts (seconds): ip_vs_proto_tcp.c tcp_timeouts, ip_vs_proto_udp.c. */
export const DEFAULT_TIMEOUTS: readonly number[] = (() => {
  const t = new Array<number>(I.TO_COUNT).fill(0);
  t[I.TcpState.NONE] = 2;
  t[I.TcpState.ESTABLISHED] = 15 * 60;
  t[I.TcpState.SYN_SENT] = 2 * 60;
  t[I.TcpState.SYN_RECV] = 60;
  t[I.TcpState.FIN_WAIT] = 2 * 60;
  t[I.TcpState.TIME_WAIT] = 2 * 60;
  t[I.TcpState.CLOSE] = 10;
  t[I.TcpState.CLOSE_WAIT] = 60;
  t[I.TcpState.LAST_ACK] = 30;
  t[I.TcpState.LISTEN] = 2 * 60;
  t[I.TcpState.SYNACK] = 2 * 60;
  t[I.TO_UDP] = 5 * 60;
  t[I.TO_ICMP] = 60;
  return t;
})();

const align = (n: number, a = 64): number => Math.ceil(n / a) * a;
const pow2 = (n: number): number => {
  let p = 1;
  while (p < n) p *= 2;
  return p;
};

/** Where each part of the IPVS region lies (absolute addresses). */
export interface IpvsLayout {
  base: number;
  bytes: number;
  maxServices: number;
  maxDests: number;
  connCapacity: number;
  connBuckets: number;
  mhTabIndex: number;
  mhSize: number;
  mhTabBits: number;
  bridges: number;
  services: number;
  svcHash: number;
  svcHashSlots: number;
  dests: number;
  addrHash: number;
  addrHashSlots: number;
  markRules: number;
  arena: number;
  arenaBytes: number;
  work: number;
  workBytes: number;
  connBucketPtr: number;
  connEntries: number;
}

const MH_PRIMES = [251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521, 131071];

/** Computes the IPVS layout for these options at address base (0 for sizing). */
export function ipvsLayout(opts: Readonly<DataplaneOptions>, base = 0): IpvsLayout | null {
  const connCapacity = opts.connCapacity ?? DEFAULT_CONN_CAPACITY;
  if (connCapacity === 0) return null;
  if (!Number.isInteger(connCapacity) || connCapacity < 16 || connCapacity > MAX_CONN_CAPACITY) {
    throw new RangeError(`connCapacity must be 0 (no IPVS) or an integer in 16..${MAX_CONN_CAPACITY}, got ${connCapacity}`);
  }
  const maxServices = opts.ipvsServices ?? DEFAULT_IPVS_SERVICES;
  if (!Number.isInteger(maxServices) || maxServices < 1 || maxServices > 65535) throw new RangeError(`ipvsServices must be an integer in 1..65535, got ${maxServices}`);
  const maxDests = opts.ipvsRealServers ?? DEFAULT_IPVS_REAL_SERVERS;
  if (!Number.isInteger(maxDests) || maxDests < 1 || maxDests > 65535) throw new RangeError(`ipvsRealServers must be an integer in 1..65535, got ${maxDests}`);
  const arenaBytes = opts.ipvsTableBytes ?? DEFAULT_IPVS_TABLE_BYTES;
  if (!Number.isInteger(arenaBytes) || arenaBytes < 65536 || arenaBytes > 1 << 30) throw new RangeError(`ipvsTableBytes must be an integer in 65536..2^30, got ${arenaBytes}`);
  const mhTabIndex = opts.ipvsMhTabIndex ?? DEFAULT_MH_TAB_INDEX;
  if (!Number.isInteger(mhTabIndex) || mhTabIndex < 8 || mhTabIndex > 17) throw new RangeError(`ipvsMhTabIndex must be an integer in 8..17 (CONFIG_IP_VS_MH_TAB_INDEX), got ${mhTabIndex}`);
  const svcHashSlots = pow2(maxServices * 2);
  const addrHashSlots = pow2((maxServices + maxDests) * 2);
  const connBuckets = pow2(connCapacity);
  let at = align(base);
  const take = (bytes: number): number => {
    const p = at;
    at = align(at + bytes);
    return p;
  };
  const start = at;
  const header = take(I.IH_SIZE);
  void header;
  const bridges = take(I.IPVS_MAX_BRIDGES * I.BR_SIZE);
  const services = take(maxServices * I.SVC_SIZE);
  const svcHash = take(svcHashSlots * 2);
  const dests = take(maxDests * I.DEST_SIZE);
  const addrHash = take(addrHashSlots * I.ADDR_SIZE);
  const markRules = take(I.MAX_MARK_RULES * I.MARK_SIZE);
  const arena = take(arenaBytes);
  const workBytes = 64 + maxDests * 32;
  const work = take(workBytes);
  const connBucketPtr = take(connBuckets * 4);
  const connEntries = take(connCapacity * I.CONN_SIZE);
  return {
    base: start, bytes: at - start, maxServices, maxDests, connCapacity, connBuckets, mhTabIndex,
    mhSize: MH_PRIMES[mhTabIndex - 8]!, mhTabBits: mhTabIndex >> 1, bridges, services, svcHash, svcHashSlots,
    dests, addrHash, addrHashSlots, markRules, arena, arenaBytes, work, workBytes, connBucketPtr, connEntries,
  };
}

interface IpvsSetupExports {
  ipvsSetup(region: number): number;
}

/** The IPVS region's table plan (null when connCapacity is 0). */
export function ipvsTablePlan(opts: Readonly<DataplaneOptions>): TablePlan | null {
  const probe = ipvsLayout(opts, 0);
  if (!probe) return null;
  return {
    name: 'ipvs',
    bytes: probe.bytes,
    align: 64,
    init(dp: Dataplane, ptr: number): void {
      const lay = ipvsLayout(dp.options, ptr)!;
      const dv = dp.view;
      const h = lay.base;
      const set = (off: number, v: number): void => dv.setUint32(h + off, v >>> 0, true);
      set(I.IH_MAX_SVC, lay.maxServices);
      set(I.IH_MAX_DEST, lay.maxDests);
      set(I.IH_CONN_CAP, lay.connCapacity);
      set(I.IH_CONN_BUCKETS, lay.connBuckets);
      set(I.IH_MH_M, lay.mhSize);
      set(I.IH_MH_BITS, lay.mhTabBits);
      set(I.IH_BRIDGES, lay.bridges);
      set(I.IH_SVC_TAB, lay.services);
      set(I.IH_SVC_HASH, lay.svcHash);
      set(I.IH_SVC_HASH_MASK, lay.svcHashSlots - 1);
      set(I.IH_DEST_TAB, lay.dests);
      set(I.IH_ADDR_HASH, lay.addrHash);
      set(I.IH_ADDR_HASH_MASK, lay.addrHashSlots - 1);
      set(I.IH_MARK_RULES, lay.markRules);
      set(I.IH_MARK_COUNT, 0);
      set(I.IH_ARENA, lay.arena);
      set(I.IH_ARENA_BYTES, lay.arenaBytes);
      set(I.IH_WORK, lay.work);
      set(I.IH_WORK_BYTES, lay.workBytes);
      set(I.IH_CONN_BUCKET_PTR, lay.connBucketPtr);
      set(I.IH_CONN_ENTRIES, lay.connEntries);
      set(I.IH_CONN_SEED, opts.connSeed !== undefined ? opts.connSeed >>> 0 : (Math.random() * 0x100000000) >>> 0);
      set(I.IH_SYSCTL, I.IpvsSysctl.EXPIRE_NODEST_CONN);
      set(I.IH_SWEEP_STEP, Math.max(64, lay.connBuckets >>> 8));
      DEFAULT_TIMEOUTS.forEach((t, i) => set(I.IH_TIMEOUTS + i * 4, t));
      set(I.IH_MAGIC, I.IPVS_MAGIC);
      if ((dp.exports as unknown as IpvsSetupExports).ipvsSetup(h) !== 0) throw new Error('netwasm: ipvsSetup rejected the IPVS region');
    },
  };
}
