/**
 * The driver contract, in libnetwork's shape (moby
 * `daemon/libnetwork/driverapi/driverapi.go`): a driver registers under its
 * type with a capability (data and connectivity scope), is handed network and
 * endpoint IDs plus options (never CNM objects), and keeps its own per-network
 * state. Global-scope drivers (overlay) also allocate network-wide resources
 * on the manager (`networkAllocate`, the VNI). Errors keep Docker's wording.
 */
import { InvalidParameterError } from '../cnm/errors.ts';
import type { MacAllocator } from '../ipam/mac.ts';
import type { Prefix } from '../ipam/ip.ts';
import type { ParentLink } from './parent.ts';

/** Driver type names accepted in scenarios (Docker's; `none` is Docker's "null" driver). */
export type DriverType = 'none' | 'bridge' | 'macvlan' | 'ipvlan' | 'overlay';

/** `local`: one instance per Docker host; `global`: one swarm-wide instance. */
export type Scope = 'local' | 'global';

/** driverapi.Capability. */
export interface Capability {
  dataScope: Scope;
  connectivityScope: Scope;
}

/** A host interface (uplink) as drivers see it. */
export interface HostInterfaceInfo {
  name: string;
  mac: string;
  mtu: number;
  /** `a.b.c.d/n` or null. */
  ip: string | null;
}

/** A Docker host: its name and interfaces (what `parentExists` looks up). */
export interface HostInfo {
  name: string;
  interfaces: ReadonlyMap<string, HostInterfaceInfo>;
}

/** driverapi.IPAMData for one IPv4 pool. */
export interface IpamData {
  pool: Prefix;
  /** Gateway address, or null when the driver skips it. */
  gateway: number | null;
  auxAddresses: Record<string, number>;
}

/** What a driver is given to create a network on one host. */
export interface CreateNetworkRequest<C> {
  nid: string;
  name: string;
  config: C;
  ipv4: IpamData | null;
  host: HostInfo;
  macs: MacAllocator;
}

/** What a network looks like on one host, once created (for the topology). */
export interface NetworkInstanceInfo {
  /** The host-side device: the Linux bridge (`docker0`, `br-…`, `br0` of an overlay), or null. */
  device: string | null;
  /** That device's MAC (the gateway's MAC on a bridge), or null. */
  deviceMac: string | null;
  /** macvlan/ipvlan: the resolved parent, or null (no parent: an internal dummy link). */
  parent: ParentLink | null;
  /** MTU of the network's interfaces on this host (macvlan/ipvlan: the parent's). */
  mtu: number;
}

/** What a driver is given to create an endpoint (driverapi.InterfaceInfo, reduced). */
export interface CreateEndpointRequest {
  nid: string;
  eid: string;
  host: HostInfo;
  /** Container (endpoint) name, part of the MAC seed. */
  name: string;
  /** Network name, part of the MAC seed. */
  network: string;
  /** The endpoint's IPv4 address, or null (no IPAM). */
  addr: number | null;
  /** A MAC the user asked for (normalised), or null. */
  mac: string | null;
  macs: MacAllocator;
}

/** A driver's parsed network configuration; `mtu` and `internal` are common to all. */
export interface DriverConfig {
  mtu: number;
  internal: boolean;
}

/** A network driver (driverapi.Driver, reduced to what a topology needs). */
export interface Driver<C extends DriverConfig = DriverConfig> {
  readonly type: DriverType;
  readonly capability: Capability;
  /**
   * Parses Docker's `-o key=value` options (and `--internal`) into the
   * driver's configuration, with Docker's error wording.
   */
  parseOptions(nid: string, options: Readonly<Record<string, string>>, internal: boolean): C;
  /** True if IPAM should not reserve a gateway address (driverapi.GwAllocChecker). */
  skipGatewayAlloc(config: C): boolean;
  /**
   * Global drivers: allocate network-wide resources on the manager (the
   * overlay VNI) and return the options to store with the network.
   */
  networkAllocate?(nid: string, options: Readonly<Record<string, string>>, pools: Prefix[]): Record<string, string>;
  /** Global drivers: free what networkAllocate took. */
  networkFree?(nid: string): void;
  /** Creates the network on one host (local: every host; global: hosts with endpoints). */
  createNetwork(req: CreateNetworkRequest<C>): void;
  deleteNetwork(nid: string, host: string): void;
  /** The network's state on `host` (after createNetwork). */
  instanceInfo(nid: string, host: string): NetworkInstanceInfo;
  /** Creates an endpoint; returns the MAC the interface will have (null: no interface). */
  createEndpoint(req: CreateEndpointRequest): { mac: string | null };
  deleteEndpoint(nid: string, eid: string, host: string): void;
}

/** Go's strconv.ParseBool. */
export function parseGoBool(s: string): boolean | null {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(s)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(s)) return false;
  return null;
}

/** Go's strconv.Atoi (decimal, optional sign); null if it would fail. */
export function parseGoInt(s: string): number | null {
  if (!/^[+-]?[0-9]+$/.test(s)) return null;
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : null;
}

/** Go's %q for a plain string (close enough for option values). */
export function goQuote(s: string): string {
  return JSON.stringify(s);
}

/**
 * Driver options Docker passes to every driver (netlabel): accepted by all.
 * (A driver that does not use one ignores it, as Docker does.)
 */
export const GENERIC_OPTIONS: readonly string[] = [
  'com.docker.network.driver.mtu',
  'com.docker.network.container_iface_prefix',
  'com.docker.network.enable_ipv4',
  'com.docker.network.enable_ipv6',
];

/**
 * Refuses an option the driver does not know. Docker ignores such options,
 * so a typo (`com.docker.network.bridge.enable_ic`) silently does nothing;
 * netwasm names it instead (issue 9: bad configuration).
 */
export function checkKnownOptions(driver: string, options: Readonly<Record<string, string>>, known: readonly string[]): void {
  for (const k of Object.keys(options)) {
    if (known.includes(k) || GENERIC_OPTIONS.includes(k)) continue;
    throw new InvalidParameterError(`unknown option ${k} for the ${driver} driver (known: ${[...known, ...GENERIC_OPTIONS].join(', ')})`, {
      field: `options.${k}`,
    });
  }
}

/** The MTUs a Linux Ethernet device takes (ETH_MIN_MTU..ETH_MAX_MTU); 0 means the default. */
export function validMtu(n: number): boolean {
  return n === 0 || (n >= 68 && n <= 65535);
}
