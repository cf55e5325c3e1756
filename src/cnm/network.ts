/**
 * Network and Endpoint, in libnetwork's shape (moby `daemon/libnetwork/
 * network.go`, `endpoint.go`). A network belongs to a driver and holds its
 * IPAM pools: one per host for local-scope drivers (each Docker host has its
 * own IPAM), one swarm-wide pool for overlay networks (the manager's, with
 * serial allocation). An endpoint is a network's attachment point for one
 * container: an address, a MAC and, once joined to a sandbox, an `ethN`.
 */
import type { Driver, DriverConfig, IpamData, Scope } from '../drivers/types.ts';
import type { Ipam } from '../ipam/allocator.ts';
import { formatAddr, parseAddr, parsePrefix, type Prefix } from '../ipam/ip.ts';
import { parseMac, unicastMacProblem, type MacAllocator } from '../ipam/mac.ts';
import {
  ForbiddenError,
  InternalError,
  InvalidParameterError,
  isNetworkError,
  NetworkError,
  NotFoundError,
} from './errors.ts';
import type { Host } from './host.ts';
import { stableId, truncateId } from './ids.ts';
import type { Sandbox } from './sandbox.ts';

/** What a Network needs from its controller. */
export interface NetworkContext {
  host(name: string): Host;
  hostList(): readonly Host[];
  localIpam(host: string): Ipam;
  globalIpam(): Ipam;
  macs: MacAllocator;
}

/** A network's IPAM request (network.IPAMConfig; netwasm handles one IPv4 subnet). */
export interface NetworkIpamRequest {
  subnet?: string;
  ipRange?: string;
  gateway?: string;
  auxAddresses?: Record<string, string>;
}

/** An overlay peer outside the scenario (driver peerAdd). */
export interface PeerConfig {
  vtep: string;
  vtepMac: string;
  mac: string;
  ip: string;
}

export interface ResolvedPeer {
  addr: number;
  mac: string;
  vtep: number;
  vtepMac: string;
}

interface Pool {
  poolId: string;
  ipam: Ipam;
  gateway: number | null;
  aux: Record<string, number>;
}

/** Options of `Network.createEndpoint` (the container side of `docker run --network`). */
export interface EndpointOptions {
  host: string;
  /** Static IPv4 (`--ip`). */
  ip?: string | null;
  /** Static MAC (`--mac-address`). */
  mac?: string | null;
  /** Set for swarm task endpoints (no attachable check; swarm allocation wording). */
  service?: string | null;
  slot?: number | null;
}

export class Network {
  readonly name: string;
  readonly id: string;
  readonly driver: Driver<DriverConfig>;
  readonly config: DriverConfig;
  readonly scope: Scope;
  readonly internal: boolean;
  readonly attachable: boolean;
  readonly predefined: boolean;
  /** Driver options as stored (with what the driver added). */
  options: Record<string, string>;
  readonly ipamRequest: NetworkIpamRequest;
  /** Subnet (masked) or null for networks without IPAM. */
  subnet: Prefix | null = null;
  ipRange: Prefix | null = null;
  gateway: number | null = null;
  auxAddresses: Record<string, number> = {};
  /** Uplinks attached per host (bridge `attach:`). */
  readonly uplinks = new Map<string, string[]>();
  readonly peers: ResolvedPeer[] = [];
  readonly endpoints: Endpoint[] = [];
  /** Hosts where the network exists, in host order of creation. */
  readonly instances = new Set<string>();
  private readonly pools = new Map<string, Pool>();
  private readonly ctx: NetworkContext;

  constructor(
    ctx: NetworkContext,
    init: {
      name: string;
      id: string;
      driver: Driver<DriverConfig>;
      config: DriverConfig;
      options: Record<string, string>;
      ipam: NetworkIpamRequest;
      attachable: boolean;
      predefined: boolean;
    },
  ) {
    this.ctx = ctx;
    this.name = init.name;
    this.id = init.id;
    this.driver = init.driver;
    this.config = init.config;
    this.scope = init.driver.capability.dataScope;
    this.internal = init.config.internal;
    this.attachable = init.attachable;
    this.predefined = init.predefined;
    this.options = init.options;
    this.ipamRequest = init.ipam;
  }

  get type(): string {
    return this.driver.type;
  }

  /** True if the network hands out addresses (every driver but none). */
  get hasIpam(): boolean {
    return this.driver.type !== 'none';
  }

  /** True if the subnet was given by the user (static `--ip` needs it). */
  get userSubnet(): boolean {
    return !!this.ipamRequest.subnet;
  }

  /** The pool key: the host for local networks, `*` for the swarm-wide one. */
  private poolKey(host: string): string {
    return this.scope === 'global' ? '*' : host;
  }

  /**
   * Allocates the IPAM pool(s) (libnetwork ipamAllocateVersion, or swarm's
   * allocatePools for overlay) and creates the network on every host for
   * local drivers. Called once by the controller.
   */
  allocate(exclude: Prefix[]): void {
    if (!this.hasIpam) {
      for (const h of this.ctx.hostList()) this.createOn(h.name);
      return;
    }
    if (this.scope === 'global') {
      this.allocatePool('*', this.ctx.globalIpam(), 'GlobalDefault', [], true);
      if (this.driver.networkAllocate) {
        this.options = this.driver.networkAllocate(this.id, this.options, [this.subnet!]);
      }
      return;
    }
    for (const h of this.ctx.hostList()) {
      this.allocatePool(h.name, this.ctx.localIpam(h.name), 'LocalDefault', exclude, false);
      this.createOn(h.name);
    }
  }

  private allocatePool(key: string, ipam: Ipam, space: 'LocalDefault' | 'GlobalDefault', exclude: Prefix[], serial: boolean): void {
    const req = this.ipamRequest;
    let alloc;
    try {
      alloc = ipam.requestPool({ addressSpace: space, pool: req.subnet, subPool: req.ipRange, exclude });
    } catch (e) {
      throw isNetworkError(e) ? e.at('subnet') : e;
    }
    const pool: Pool = { poolId: alloc.poolId, ipam, gateway: null, aux: {} };
    try {
      this.reserveGatewayAndAux(pool, alloc.pool, space, serial);
    } catch (e) {
      // roll back this pool (ipamAllocateVersion's deferred ReleasePool)
      if (pool.gateway !== null) ipam.releaseAddress(pool.poolId, pool.gateway);
      for (const a of Object.values(pool.aux)) ipam.releaseAddress(pool.poolId, a);
      ipam.releasePool(pool.poolId);
      throw e;
    }
    this.pools.set(key, pool);
    if (this.subnet === null) {
      this.subnet = alloc.pool.masked();
      this.gateway = pool.gateway;
      this.auxAddresses = pool.aux;
      this.ipRange = req.ipRange ? (parsePrefix(req.ipRange)?.masked() ?? null) : null;
    }
  }

  private reserveGatewayAndAux(pool: Pool, subnet: Prefix, space: 'LocalDefault' | 'GlobalDefault', serial: boolean): void {
    const req = this.ipamRequest;
    const ipam = pool.ipam;
    const alloc = { poolId: pool.poolId, pool: subnet };
    const skip = this.driver.skipGatewayAlloc(this.config);
    if (req.gateway || !skip) {
      try {
        pool.gateway = ipam.requestAddress(alloc.poolId, req.gateway ?? null, { serial });
      } catch (e) {
        if (!isNetworkError(e)) throw e;
        if (space === 'GlobalDefault') throw e.at('gateway');
        throw new InternalError(`failed to allocate gateway (${req.gateway ?? ''}): ${e.message}`, {
          cause: e,
          code: e.code,
          field: 'gateway',
        });
      }
    }
    for (const [k, v] of Object.entries(req.auxAddresses ?? {})) {
      const field = `aux_addresses.${k}`;
      const ip = parseAddr(v);
      if (ip === null) {
        throw new InvalidParameterError(`non parsable secondary ip address (${k}:${v}) passed for network ${this.name}`, { field });
      }
      if (!alloc.pool.contains(ip)) {
        throw new ForbiddenError(`auxiliary address: (${k}:${v}) must belong to the master pool: ${alloc.pool.toString()}`, { field });
      }
      try {
        ipam.requestAddress(alloc.poolId, v);
        pool.aux[k] = ip;
      } catch (e) {
        if (isNetworkError(e, 'ErrIPOutOfRange')) continue;
        throw new InternalError(`failed to allocate secondary ip address (${k}:${v}): ${(e as Error).message}`, {
          cause: e,
          code: isNetworkError(e) ? e.code : undefined,
          field,
        });
      }
    }
  }

  /** Creates the network on `host` with the driver, if not there yet. */
  createOn(host: string): void {
    if (this.instances.has(host)) return;
    const h = this.ctx.host(host);
    const pool = this.pools.get(this.poolKey(host));
    const ipv4: IpamData | null =
      pool && this.subnet ? { pool: this.subnet, gateway: pool.gateway, auxAddresses: pool.aux } : null;
    try {
      this.driver.createNetwork({ nid: this.id, name: this.name, config: this.config, ipv4, host: h, macs: this.ctx.macs });
    } catch (e) {
      if (isNetworkError(e) && this.ctx.hostList().length > 1 && !e.message.endsWith(`(host ${host})`)) {
        e.message = `${e.message} (host ${host})`;
      }
      throw e;
    }
    this.instances.add(host);
  }

  /** Records an overlay peer outside the scenario and reserves its address. */
  addPeer(p: PeerConfig, index: number): ResolvedPeer {
    const field = `peers[${index}]`;
    const bad = (what: string, v: string, f: string) =>
      new InvalidParameterError(`invalid ${what} ${JSON.stringify(v)} for peer ${index} of network ${this.name}`, { field: `${field}.${f}` });
    if (this.driver.type !== 'overlay') {
      throw new InvalidParameterError(`peers are only supported on overlay networks, ${this.name} is a ${this.driver.type} network`, { field });
    }
    const addr = parseAddr(p.ip);
    if (addr === null) throw bad('IP address', p.ip, 'ip');
    const vtep = parseAddr(p.vtep);
    if (vtep === null) throw bad('VTEP address', p.vtep, 'vtep');
    const mac = parseMac(p.mac);
    if (!mac) throw new InvalidParameterError(`${p.mac} is not a valid mac address`, { field: `${field}.mac` });
    const vtepMac = parseMac(p.vtepMac);
    if (!vtepMac) throw new InvalidParameterError(`${p.vtepMac} is not a valid mac address`, { field: `${field}.vtep_mac` });
    // A multicast or zero MAC would be learned nowhere and flooded everywhere (issue 9: bad configuration).
    for (const [m, f] of [[mac, 'mac'], [vtepMac, 'vtep_mac']] as const) {
      const why = unicastMacProblem(m);
      if (why) throw new InvalidParameterError(`invalid MAC address: ${why}`, { field: `${field}.${f}` });
    }
    if (!this.subnet || !this.subnet.contains(addr)) {
      throw new InvalidParameterError(`no matching subnet for IP "${p.ip}/${this.subnet?.bits ?? 32}" in network "${this.name}"`, {
        field: `${field}.ip`,
      });
    }
    const pool = this.pools.get('*')!;
    try {
      pool.ipam.requestAddress(pool.poolId, p.ip, { serial: true });
    } catch (e) {
      throw isNetworkError(e) ? e.at(`${field}.ip`) : e;
    }
    this.ctx.macs.claim(mac);
    const peer = { addr, mac, vtep, vtepMac };
    this.peers.push(peer);
    return peer;
  }

  /** The endpoint named `name` (container name). */
  endpoint(name: string): Endpoint {
    const ep = this.endpoints.find((e) => e.name === name);
    if (!ep) throw new NotFoundError(`endpoint ${name} not found`);
    return ep;
  }

  /**
   * Creates an endpoint for container `name` on `opts.host`: validates a
   * static address as the daemon does, allocates the address (first free;
   * serial on overlay) and lets the driver pick the MAC.
   */
  createEndpoint(name: string, opts: EndpointOptions): Endpoint {
    const host = this.ctx.host(opts.host);
    const isTask = opts.service != null;
    if (this.scope === 'global' && !isTask && !this.attachable) {
      throw new ForbiddenError(
        `Could not attach to network ${this.name}: rpc error: code = PermissionDenied desc = network ${this.name} not manually attachable`,
        { code: 'ErrNotAttachable' },
      );
    }
    if (this.endpoints.some((e) => e.name === name)) {
      throw new ForbiddenError(`endpoint with name ${name} already exists in network ${this.name}`, { code: 'ErrEndpointExists' });
    }
    let mac: string | null = null;
    if (opts.mac) {
      mac = parseMac(opts.mac);
      if (!mac) throw new InvalidParameterError(`${opts.mac} is not a valid mac address`, { field: 'mac' });
      const why = unicastMacProblem(mac);
      if (why) throw new InvalidParameterError(`invalid MAC address: ${why}`, { field: 'mac' });
    }
    const staticIp = opts.ip ?? null;
    if (staticIp !== null) this.validateStaticIp(staticIp);
    this.createOn(host.name);

    let addr: number | null = null;
    let pool: Pool | undefined;
    if (this.hasIpam) {
      pool = this.pools.get(this.poolKey(host.name));
      if (!pool) throw new InternalError(`network ${this.name} has no pool on host ${host.name}`);
      addr = this.requestEndpointAddress(pool, staticIp);
    }
    const eid = stableId('endpoint', name, this.name);
    let res: { mac: string | null };
    try {
      res = this.driver.createEndpoint({
        nid: this.id,
        eid,
        host,
        name,
        network: this.name,
        addr,
        mac,
        macs: this.ctx.macs,
      });
    } catch (e) {
      if (pool && addr !== null) pool.ipam.releaseAddress(pool.poolId, addr);
      throw e;
    }
    const ep = new Endpoint(this, {
      id: eid,
      name,
      host: host.name,
      addr,
      mac: res.mac,
      service: opts.service ?? null,
      slot: opts.slot ?? null,
    });
    this.endpoints.push(ep);
    return ep;
  }

  /** validateEndpointSettings (daemon, v28) for a static IPv4 address. */
  private validateStaticIp(ip: string): void {
    const wrap = (m: string) =>
      new InvalidParameterError(`invalid endpoint settings:\n${m}`, { field: 'ip', code: 'ErrStaticIp' });
    const a = parseAddr(ip);
    if (a === null || a === 0) throw wrap(`invalid IPv4 address: ${ip}`);
    if (this.predefined) throw wrap('user specified IP address is supported on user defined networks only');
    if (!this.userSubnet || !this.subnet) {
      throw wrap('user specified IP address is supported only when connecting to networks with user configured subnets');
    }
    if (!this.subnet.contains(a)) throw wrap(`no configured subnet or ip-range contain the IP address ${ip}`);
  }

  private requestEndpointAddress(pool: Pool, ip: string | null): number {
    const global = this.scope === 'global';
    try {
      return pool.ipam.requestAddress(pool.poolId, ip, { serial: global });
    } catch (e) {
      if (!isNetworkError(e)) throw e;
      if (global) {
        // swarm's allocateNetworkIPs
        if (isNetworkError(e, 'ErrNoAvailableIPs') || isNetworkError(e, 'ErrIPOutOfRange')) {
          throw new UnavailableNoIp('could not find an available IP', e, ip);
        }
        throw new ForbiddenError(`could not allocate IP from IPAM: ${e.message}`, { cause: e, code: e.code, field: 'ip' });
      }
      if (isNetworkError(e, 'ErrNoAvailableIPs') && ip === null) {
        throw new UnavailableNoIp(`no available IPv4 addresses on this network's address pools: ${this.name} (${this.id})`, e, ip);
      }
      throw e.at('ip');
    }
  }

  /** Allocates a service VIP on `host`'s pool (local) or the swarm pool (allocateVIP). */
  allocateVip(host: string, vip: string | null): number {
    const pool = this.pools.get(this.poolKey(host));
    if (!pool) throw new InvalidParameterError(`network ${this.name} has no address pool for a VIP`, { field: 'network' });
    if (this.scope === 'global') {
      try {
        return pool.ipam.requestAddress(pool.poolId, vip, { serial: true });
      } catch (e) {
        if (!isNetworkError(e)) throw e;
        if (isNetworkError(e, 'ErrNoAvailableIPs') || isNetworkError(e, 'ErrIPOutOfRange')) {
          throw new UnavailableNoIp('could not find an available IP while allocating VIP', e, vip, 'vip');
        }
        throw new ForbiddenError(`could not allocate VIP from IPAM: ${e.message}`, { cause: e, code: e.code, field: 'vip' });
      }
    }
    try {
      return pool.ipam.requestAddress(pool.poolId, vip);
    } catch (e) {
      throw isNetworkError(e) ? e.at('vip') : e;
    }
  }

  /** Frees an address taken with allocateVip or for an endpoint. */
  releaseAddress(host: string, addr: number): void {
    const pool = this.pools.get(this.poolKey(host));
    if (pool) pool.ipam.releaseAddress(pool.poolId, addr);
  }

  /** Endpoints of this network on `host`. */
  endpointsOn(host: string): Endpoint[] {
    return this.endpoints.filter((e) => e.host === host);
  }

  /**
   * Deletes the network (libnetwork Network.Delete): refused while it has
   * endpoints, as Docker refuses it.
   */
  delete(): void {
    if (this.endpoints.length > 0) {
      const list = this.endpoints.map((e) => `name:"${e.name}" id:"${truncateId(e.id)}"`).join(', ');
      throw new ForbiddenError(`error while removing network: network ${this.name} has active endpoints (${list})`, {
        code: 'ActiveEndpointsError',
      });
    }
    for (const h of this.instances) this.driver.deleteNetwork(this.id, h);
    this.instances.clear();
    for (const [, pool] of this.pools) {
      if (pool.gateway !== null) pool.ipam.releaseAddress(pool.poolId, pool.gateway);
      for (const a of Object.values(pool.aux)) pool.ipam.releaseAddress(pool.poolId, a);
      pool.ipam.releasePool(pool.poolId);
    }
    this.pools.clear();
    this.driver.networkFree?.(this.id);
  }

  /** `a.b.c.d` of the gateway, or null. */
  gatewayString(): string | null {
    return this.gateway === null ? null : formatAddr(this.gateway);
  }
}

/** "no address" errors keep the IPAM code of the cause (ErrNoAvailableIPs). */
class UnavailableNoIp extends NetworkError {
  constructor(message: string, cause: NetworkError, ip: string | null, field = 'ip') {
    super('unavailable', message, { cause, code: cause.code, field: ip === null ? undefined : field });
    this.name = 'UnavailableError';
  }
}

/** An endpoint: one container's attachment to one network. */
export class Endpoint {
  readonly network: Network;
  readonly id: string;
  /** Endpoint name: the container name. */
  readonly name: string;
  readonly host: string;
  /** IPv4 address, or null (none driver). */
  readonly addr: number | null;
  readonly mac: string | null;
  readonly service: string | null;
  readonly slot: number | null;
  sandbox: Sandbox | null = null;
  /** `ethN` once joined; null for an endpoint without interface (none). */
  ifname: string | null = null;

  constructor(
    network: Network,
    init: { id: string; name: string; host: string; addr: number | null; mac: string | null; service: string | null; slot: number | null },
  ) {
    this.network = network;
    this.id = init.id;
    this.name = init.name;
    this.host = init.host;
    this.addr = init.addr;
    this.mac = init.mac;
    this.service = init.service;
    this.slot = init.slot;
  }

  /** The port name `CONTAINER/ethN`, or null before joining / without interface. */
  get port(): string | null {
    return this.ifname === null || this.sandbox === null ? null : `${this.sandbox.name}/${this.ifname}`;
  }

  /** Joins `sb` (Endpoint.Join): the sandbox names the interface. */
  join(sb: Sandbox): void {
    sb.attach(this);
  }

  /** Leaves its sandbox. */
  leave(): void {
    if (this.sandbox) this.sandbox.detach(this);
  }

  /** Deletes the endpoint (after leaving), releasing its address. */
  delete(): void {
    if (this.sandbox) throw new ForbiddenError(`endpoint with name ${this.name} id ${this.id} has active containers`);
    const n = this.network;
    const i = n.endpoints.indexOf(this);
    if (i >= 0) n.endpoints.splice(i, 1);
    if (this.addr !== null) n.releaseAddress(this.host, this.addr);
    n.driver.deleteEndpoint(n.id, this.id, this.host);
  }

  /** `a.b.c.d/n`, or null. */
  cidr(): string | null {
    return this.addr === null || !this.network.subnet ? null : `${formatAddr(this.addr)}/${this.network.subnet.bits}`;
  }
}

