/**
 * Docker's default IPAM driver (moby `daemon/libnetwork/ipams/defaultipam`):
 * two address spaces, `LocalDefault` (bridge, macvlan, ipvlan: one per Docker
 * host) and `GlobalDefault` (overlay: the swarm manager's), each with its
 * predefined pools, static and dynamic pool requests, sub-pools (`--ip-range`)
 * and address requests. Errors keep ipamapi's wording.
 *
 * Semantics kept from Docker (v28):
 * - Dynamic pools: the first subnet of the predefined list, in address order,
 *   that overlaps neither an allocated pool nor an excluded prefix (the host's
 *   on-link routes). Local: 172.17.0.0/16, 172.18.0.0/16 ... 172.31.0.0/16,
 *   then 192.168.0.0/16 split into /20s. Global: 10.0.0.0/8 split into /24s.
 * - A static pool without sub-pool must not overlap any allocated pool
 *   ("Pool overlaps with other one on this address space"); with a sub-pool
 *   the parent is not checked for overlap (moby#46756), only an identical
 *   parent+child pair is refused.
 * - Every pool reserves its network and broadcast addresses (except /31, /32).
 *
 * @example
 * const ipam = new Ipam();
 * const { poolId } = ipam.requestPool({ addressSpace: 'LocalDefault' }); // 172.17.0.0/16
 * ipam.requestAddress(poolId);                                            // 172.17.0.1
 */
import {
  errBadPool,
  errIPOutOfRange,
  errNoMoreSubnets,
  errPoolOverlap,
  ForbiddenError,
  InternalError,
  InvalidParameterError,
  NetworkError,
  NotFoundError,
} from '../cnm/errors.ts';
import { AddrSet } from './addrset.ts';
import { comparePrefix, parseAddr, parsePrefix, Prefix } from './ip.ts';

/** A predefined pool: `base` is cut into subnets of length `size` (ipamutils.NetworkToSplit). */
export interface NetworkToSplit {
  base: string;
  size: number;
}

/** Docker's local-scope default pools (ipamutils.localScopeDefaultNetworks). */
export const LOCAL_DEFAULT_POOLS: readonly NetworkToSplit[] = [
  { base: '172.17.0.0/16', size: 16 },
  { base: '172.18.0.0/16', size: 16 },
  { base: '172.19.0.0/16', size: 16 },
  { base: '172.20.0.0/14', size: 16 },
  { base: '172.24.0.0/14', size: 16 },
  { base: '172.28.0.0/14', size: 16 },
  { base: '192.168.0.0/16', size: 20 },
];

/** Docker's global-scope default pools (ipamutils.globalScopeDefaultNetworks). */
export const GLOBAL_DEFAULT_POOLS: readonly NetworkToSplit[] = [{ base: '10.0.0.0/8', size: 24 }];

export type AddressSpaceName = 'LocalDefault' | 'GlobalDefault';

/** ipamapi.PoolRequest. */
export interface PoolRequest {
  addressSpace: AddressSpaceName;
  /** `--subnet`, CIDR; absent (or `0.0.0.0/N`) for a predefined pool (of length N). */
  pool?: string;
  /** `--ip-range`, CIDR inside `pool`. */
  subPool?: string;
  /** Prefixes a dynamic pool must not overlap (the host's on-link routes). */
  exclude?: Prefix[];
}

/** ipamapi.AllocatedPool. */
export interface AllocatedPool {
  /** `AddressSpace/subnet[/child]`, as libnetwork's PoolID.String(). */
  poolId: string;
  pool: Prefix;
}

interface PoolData {
  addrs: AddrSet;
  children: Set<string>;
  autoRelease: boolean;
}

interface PoolKey {
  space: AddressSpaceName;
  subnet: Prefix;
  child: Prefix | null;
}

class AddressSpace {
  /** Allocated pools, sorted (for dynamic allocation). */
  allocated: Prefix[] = [];
  subnets = new Map<string, { prefix: Prefix; data: PoolData }>();
  readonly predefined: { base: Prefix; size: number }[];

  constructor(predefined: readonly NetworkToSplit[]) {
    const list = predefined.map((p) => {
      const base = parsePrefix(p.base);
      if (!base || p.size < base.bits || p.size > 32) throw new Error(`bad predefined pool ${p.base}/${p.size}`);
      return { base: base.masked(), size: p.size };
    });
    list.sort((a, b) => comparePrefix(a.base, b.base));
    // Drop longer prefixes overlapped by an earlier one, as newAddrSpace does.
    this.predefined = [];
    for (const p of list) {
      const last = this.predefined[this.predefined.length - 1];
      if (last && last.base.overlaps(p.base)) continue;
      this.predefined.push(p);
    }
  }

  overlaps(nw: Prefix): boolean {
    return this.allocated.some((a) => a.overlaps(nw));
  }

  insert(nw: Prefix): PoolData {
    this.allocated.push(nw);
    this.allocated.sort(comparePrefix);
    const data: PoolData = { addrs: newPoolAddrs(nw), children: new Set(), autoRelease: false };
    this.subnets.set(nw.toString(), { prefix: nw, data });
    return data;
  }

  allocateSubnet(nw: Prefix, sub: Prefix | null): void {
    const existing = this.subnets.get(nw.toString());
    if (existing && (sub === null || existing.data.children.has(sub.toString()))) throw errPoolOverlap();
    if (sub === null) {
      if (this.overlaps(nw)) throw errPoolOverlap();
      this.insert(nw);
      return;
    }
    const parent = existing ? existing.data : this.insert(nw);
    if (!existing) parent.autoRelease = true;
    parent.children.add(sub.toString());
  }

  /** First candidate subnet, in predefined order, clear of allocations and exclusions. */
  allocatePredefined(exclude: Prefix[], size: number): Prefix {
    let predefined = this.predefined;
    if (size !== 0) {
      predefined = this.predefined.filter((p) => p.base.bits <= size && size <= 32).map((p) => ({ base: p.base, size }));
    }
    if (predefined.length === 0) {
      throw new InvalidParameterError('invalid address pool', { code: 'ErrInvalidPool' });
    }
    const taken = [...this.allocated, ...exclude.map((p) => p.masked())];
    for (const pdf of predefined) {
      let cand = new Prefix(pdf.base.first(), pdf.size);
      while (pdf.base.covers(cand)) {
        const hits = taken.filter((t) => t.overlaps(cand));
        if (hits.length === 0) {
          this.insert(cand);
          return cand;
        }
        // Jump to the first aligned candidate after the furthest overlapping block.
        const end = Math.max(...hits.map((h) => h.last()));
        const next = Math.ceil((end + 1) / cand.size()) * cand.size();
        if (next > 0xffffffff || next <= cand.first()) break;
        cand = new Prefix(next, pdf.size);
      }
    }
    throw errNoMoreSubnets();
  }

  release(nw: Prefix, sub: Prefix | null): void {
    const entry = this.subnets.get(nw.toString());
    if (!entry) throw errBadPool();
    const p = entry.data;
    if (sub !== null) {
      if (!p.children.delete(sub.toString())) throw errBadPool();
    } else {
      p.autoRelease = true;
    }
    if (p.children.size === 0 && p.autoRelease) {
      this.subnets.delete(nw.toString());
      this.allocated = this.allocated.filter((a) => !a.equals(nw));
    }
  }
}

/** An address set with the network and broadcast addresses reserved (newPoolData). */
function newPoolAddrs(pool: Prefix): AddrSet {
  const s = new AddrSet(pool);
  if (32 - pool.bits > 1) {
    s.add(pool.first());
    s.add(pool.last());
  }
  return s;
}

function keyString(k: PoolKey): string {
  return `${k.space}/${k.subnet.toString()}${k.child ? `/${k.child.toString()}` : ''}`;
}

/** Parses a PoolID string back into its parts (PoolIDFromString). */
function parsePoolId(id: string): PoolKey {
  const parts = id.split('/');
  const space = parts[0];
  const invalid = () => new InvalidParameterError(`invalid pool id: ${id}`);
  if ((space !== 'LocalDefault' && space !== 'GlobalDefault') || (parts.length !== 3 && parts.length !== 5)) throw invalid();
  const subnet = parsePrefix(`${parts[1]}/${parts[2]}`);
  const child = parts.length === 5 ? parsePrefix(`${parts[3]}/${parts[4]}`) : null;
  if (!subnet || (parts.length === 5 && !child)) throw invalid();
  return { space, subnet, child };
}

/** Options of an address request. */
export interface AddressRequestOptions {
  /**
   * Serial allocation (`com.docker.network.ipam.serial`): continue after the
   * last address handed out instead of taking the lowest free one. Swarm sets
   * it for every overlay allocation (gateway, VIPs, tasks).
   */
  serial?: boolean;
}

/** The default IPAM driver: one `LocalDefault` and one `GlobalDefault` IPv4 address space. */
export class Ipam {
  private readonly spaces: Record<AddressSpaceName, AddressSpace>;

  constructor(opts: { localPools?: readonly NetworkToSplit[]; globalPools?: readonly NetworkToSplit[] } = {}) {
    this.spaces = {
      LocalDefault: new AddressSpace(opts.localPools ?? LOCAL_DEFAULT_POOLS),
      GlobalDefault: new AddressSpace(opts.globalPools ?? GLOBAL_DEFAULT_POOLS),
    };
  }

  /** Allocates a pool statically (`pool` given) or from the predefined pools. */
  requestPool(req: PoolRequest): AllocatedPool {
    const space = this.spaces[req.addressSpace];
    if (!space) throw new InvalidParameterError(`cannot find address space ${req.addressSpace}`);
    const parseErr = (inner: NetworkError) =>
      new InternalError(
        `failed to parse pool request for address space "${req.addressSpace}" pool "${req.pool ?? ''}" subpool "${req.subPool ?? ''}": ${inner.message}`,
        { cause: inner, code: inner.code },
      );
    let subnet: Prefix | null = null;
    let size = 0;
    if (req.pool) {
      const p = parsePrefix(req.pool);
      if (!p) throw parseErr(new InvalidParameterError('invalid address pool', { code: 'ErrInvalidPool' }));
      if (p.addr === 0) size = p.bits;
      else subnet = p;
    }
    if (subnet === null && req.subPool) {
      throw parseErr(new InvalidParameterError('invalid address subpool', { code: 'ErrInvalidSubPool' }));
    }
    if (subnet === null) {
      const pool = space.allocatePredefined(req.exclude ?? [], size);
      return { poolId: keyString({ space: req.addressSpace, subnet: pool, child: null }), pool };
    }
    let child: Prefix | null = null;
    if (req.subPool) {
      child = parsePrefix(req.subPool);
      if (!child) throw new InternalError('invalid pool request: invalid address subpool');
    }
    subnet = subnet.masked();
    child = child ? child.masked() : null;
    if (child && child.bits < subnet.bits) child = subnet;
    try {
      space.allocateSubnet(subnet, child);
    } catch (e) {
      if (e instanceof NetworkError) {
        throw new ForbiddenError(`invalid pool request: ${e.message}`, { cause: e, code: e.code });
      }
      throw e;
    }
    return { poolId: keyString({ space: req.addressSpace, subnet, child }), pool: subnet };
  }

  /** Releases a pool (or the sub-pool the ID names). */
  releasePool(poolId: string): void {
    const k = parsePoolId(poolId);
    this.spaces[k.space].release(k.subnet, k.child);
  }

  /**
   * Allocates `preferred` (a dotted quad) or any free address of the pool (of
   * its sub-pool when it has one). Returns the address as a number.
   */
  requestAddress(poolId: string, preferred?: string | null, opts: AddressRequestOptions = {}): number {
    const k = parsePoolId(poolId);
    const entry = this.spaces[k.space].subnets.get(k.subnet.toString());
    if (!entry || (k.child && !entry.data.children.has(k.child.toString()))) {
      throw new NotFoundError(`cannot find address pool for poolID:${k.subnet.toString()}/${k.child ? k.child.toString() : 'invalid Prefix'}`);
    }
    if (preferred) {
      const a = parseAddr(preferred);
      if (a === null) throw new InvalidParameterError(`invalid preferred address: ${preferred}`);
      if (!k.subnet.contains(a)) throw errIPOutOfRange();
      entry.data.addrs.add(a);
      return a;
    }
    if (k.child && !k.child.equals(k.subnet)) return entry.data.addrs.addAnyInRange(k.child, opts.serial ?? false);
    return entry.data.addrs.addAny(opts.serial ?? false);
  }

  /** Frees an address. */
  releaseAddress(poolId: string, addr: number): void {
    const k = parsePoolId(poolId);
    const entry = this.spaces[k.space].subnets.get(k.subnet.toString());
    if (!entry) throw new NotFoundError(`cannot find address pool for ${k.subnet.toString()}/${k.child ? k.child.toString() : 'invalid Prefix'}`);
    if (!k.subnet.contains(addr)) throw errIPOutOfRange();
    entry.data.addrs.remove(addr);
  }

  /** True if `addr` is allocated in the pool's subnet (for tests and inspection). */
  isAllocated(poolId: string, addr: string): boolean {
    const k = parsePoolId(poolId);
    const a = parseAddr(addr);
    const entry = this.spaces[k.space].subnets.get(k.subnet.toString());
    return !!entry && a !== null && entry.data.addrs.has(a);
  }
}

