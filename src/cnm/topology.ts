/**
 * The resolved topology: everything the data-plane compile step needs, as
 * plain JSON-safe data, fully decided (addresses, MACs, VNIs, interface and
 * port names), in a deterministic order (hosts, networks, containers and
 * services in scenario order; endpoints in sandbox then interface order).
 *
 * Port names: a container interface is `CONTAINER/ethN`, a host uplink is
 * `HOST/IFACE` (see ../shared/SCENARIO.md).
 */
import type { DriverType, Scope } from '../drivers/types.ts';

export interface Topology {
  /** Format version of this object. */
  version: 1;
  hosts: TopologyHost[];
  networks: TopologyNetwork[];
  sandboxes: TopologySandbox[];
  endpoints: TopologyEndpoint[];
  services: TopologyService[];
}

/** A VXLAN tunnel endpoint: the host's advertise address and the uplink it lives on. */
export interface TopologyVtep {
  /** IPv4 address, dotted quad. */
  ip: string;
  /** MAC of the uplink carrying it. */
  mac: string;
  /** Uplink port (`HOST/IFACE`). */
  port: string;
}

export interface TopologyHost {
  name: string;
  uplinks: TopologyUplink[];
  /** Where this host's overlay traffic is encapsulated from; null if it has no address. */
  vtep: TopologyVtep | null;
  /** `bind:` entries: port name -> local interface (for netwasmd). */
  bind: Record<string, string>;
}

/** A host interface (physical or underlay port). */
export interface TopologyUplink {
  /** `HOST/IFACE`. */
  port: string;
  host: string;
  name: string;
  mac: string;
  /** Address (dotted quad) or null. */
  ip: string | null;
  prefixLen: number | null;
  /** `ip/prefixLen` or null. */
  cidr: string | null;
  mtu: number;
  /** Name of the bridge network this uplink is attached to (`attach:`), or null. */
  bridge: string | null;
}

/** Per-driver settings of a bridge network. */
export interface TopologyBridgeSettings {
  enableIcc: boolean;
  enableIpMasquerade: boolean;
  gatewayModeIpv4: string;
  inhibitIpv4: boolean;
  hostBindingIpv4: string;
  defaultBridge: boolean;
}

export interface TopologyNetwork {
  name: string;
  /** 64 hex digits. */
  id: string;
  driver: DriverType;
  /** IPAM/data scope: `local` (one instance per host) or `global` (swarm). */
  scope: Scope;
  internal: boolean;
  attachable: boolean;
  /** The default `bridge` and `none` networks. */
  predefined: boolean;
  /** Docker's driver options (`-o`), with what the driver added (overlay: vxlanid_list). */
  options: Record<string, string>;
  /** `a.b.c.d/n` (masked), or null for networks without IPAM (none). */
  subnet: string | null;
  prefixLen: number | null;
  /** Gateway address or null (l3 ipvlan, internal macvlan, isolated bridge, none). */
  gateway: string | null;
  ipRange: string | null;
  auxAddresses: Record<string, string>;
  /** True if the subnet was given (static `--ip` is allowed only then). */
  userSubnet: boolean;
  /** Default MTU of the network's interfaces (instances may differ: macvlan/ipvlan take the parent's). */
  mtu: number;
  /** Overlay: the VXLAN network identifier; else null. */
  vni: number | null;
  bridge: TopologyBridgeSettings | null;
  macvlan: { parent: string | null; mode: string } | null;
  ipvlan: { parent: string | null; mode: string; flag: string } | null;
  /** Overlay: remote endpoints outside the scenario (`peers:`), as given. */
  peers: TopologyPeer[];
  /** The network on each host where it exists (local: every host; overlay: hosts with endpoints). */
  instances: TopologyNetworkInstance[];
}

export interface TopologyNetworkInstance {
  host: string;
  /** Host-side device: the Linux bridge name (docker0, br-…, br0 for overlay) or null. */
  device: string | null;
  /** MAC of that device (the gateway answers ARP with it), or null. */
  deviceMac: string | null;
  mtu: number;
  /** Uplink ports carrying the network: attached bridge ports, or the macvlan/ipvlan parent. */
  uplinks: string[];
  /** 802.1Q VLAN on the parent (macvlan/ipvlan `eth0.10`), 0 when untagged. */
  vlan: number;
  /** Endpoint ports of this network on this host, in creation order. */
  endpoints: string[];
  /** Overlay: this host's VTEP, or null. */
  vtep: TopologyVtep | null;
  /** Overlay: remote endpoints to reach over VXLAN (other hosts' endpoints, then external peers). */
  peers: TopologyPeer[];
}

/** A remote overlay endpoint (Docker's peerAdd): inner IP/MAC behind a VTEP. */
export interface TopologyPeer {
  ip: string;
  mac: string;
  /** VTEP address. */
  vtep: string;
  /** MAC the VTEP is reached at on the underlay. */
  vtepMac: string;
  /** The scenario host it lives on, or null for a VTEP outside the scenario. */
  host: string | null;
  /** Local uplink port the VTEP is reached through (set in instances; null in `network.peers`). */
  uplink: string | null;
}

export interface TopologySandbox {
  /** Container name (task containers: `SERVICE.SLOT`). */
  name: string;
  /** Container ID (64 hex digits). */
  id: string;
  sandboxId: string;
  host: string;
  service: string | null;
  slot: number | null;
  /** Networks joined, in join order (including `none`). */
  networks: string[];
  /** Interface ports, in order (`c1/eth0`, `c1/eth1`...). */
  ports: string[];
}

export interface TopologyEndpoint {
  /** `CONTAINER/ethN`. */
  port: string;
  id: string;
  /** Endpoint name = container name. */
  name: string;
  container: string;
  sandboxId: string;
  host: string;
  network: string;
  driver: DriverType;
  /** `ethN`. */
  ifname: string;
  ip: string | null;
  prefixLen: number | null;
  cidr: string | null;
  mac: string | null;
  /**
   * The container's default gateway: the network's gateway, or a bridge
   * network's `DefaultGatewayIPv4` aux address; null on overlay and where
   * the network has none. (The bridge device itself answers on `network.gateway`.)
   */
  gateway: string | null;
  mtu: number;
  /** Overlay: VNI; macvlan/ipvlan: the parent's VLAN in `vlan`. */
  vni: number | null;
  vlan: number;
  service: string | null;
  slot: number | null;
}

export type Protocol = 'tcp' | 'udp' | 'sctp';
export type Scheduler = 'rr' | 'wrr' | 'lc' | 'wlc' | 'sh' | 'mh' | 'maglev';
export type Forwarding = 'nat' | 'dr';

export interface TopologyService {
  name: string;
  id: string;
  network: string;
  /** Virtual IP, dotted quad. */
  vip: string;
  /** Hosts where the virtual service is installed. */
  hosts: string[];
  ports: { port: number; protocol: Protocol }[];
  scheduler: Scheduler;
  /** ipvsadm -b flags (`sh-fallback`, `sh-port`, `mh-fallback`, `mh-port`). */
  flags: string[];
  forwarding: Forwarding;
  /** Replicated services: the replica count; explicit backends: null. */
  replicas: number | null;
  /** One IPVS virtual service per port. */
  virtualServices: TopologyVirtualService[];
}

export interface TopologyVirtualService {
  vip: string;
  port: number;
  protocol: Protocol;
  scheduler: Scheduler;
  flags: string[];
  forwarding: Forwarding;
  /** In the order they are added to the virtual service. */
  realServers: TopologyRealServer[];
}

export interface TopologyRealServer {
  /** Endpoint port (`web/eth0`). */
  endpoint: string;
  container: string;
  host: string;
  ip: string;
  port: number;
  weight: number;
}

/**
 * The canonical port name for `name`: a `CONTAINER/ethN` or `HOST/IFACE`
 * port, or (with a single host) a bare `IFACE`. Null if there is no such port.
 */
export function resolvePortName(topo: Topology, name: string): string | null {
  if (topo.endpoints.some((e) => e.port === name)) return name;
  for (const h of topo.hosts) for (const u of h.uplinks) if (u.port === name) return name;
  if (!name.includes('/') && topo.hosts.length === 1) {
    const u = topo.hosts[0]!.uplinks.find((x) => x.name === name);
    if (u) return u.port;
  }
  return null;
}

/** Every port of the topology: uplinks (host order) then container interfaces. */
export function allPorts(topo: Topology): string[] {
  return [...topo.hosts.flatMap((h) => h.uplinks.map((u) => u.port)), ...topo.endpoints.map((e) => e.port)];
}
