/**
 * Compiles a resolved topology (src/cnm) into one Dataplane's tables: a port
 * per uplink and per container interface, a bridge domain per bridge or
 * overlay network instance, gateways, VXLAN tunnels and peers, macvlan/ipvlan
 * parents and children, IPVS virtual services. The data plane knows nothing
 * of Docker names; the port map returned here is the only link back.
 *
 * Every host of a scenario lives in the same Dataplane: their bridges are
 * separate domains, and the underlay between hosts is a replay segment (what
 * leaves one host's uplink arrives at the others').
 */
import { Dataplane, PortKind, type DataplaneOptions } from '../dataplane/index.ts';
import { Bridges } from '../dataplane/bridge.ts';
import { Gateways } from '../dataplane/gateway.ts';
import { Macvlans, type MacvlanMode, type IpvlanMode, type IpvlanFlag } from '../dataplane/macvlan.ts';
import { Vxlan } from '../dataplane/vxlan.ts';
import { Ipvs, type ServiceFlag } from '../ipvs/ipvs.ts';
import type { Topology, TopologyNetwork, TopologyNetworkInstance } from '../cnm/topology.ts';
import { MAX_PORTS } from '../dataplane/layout.ts';

export interface CompiledTopology {
  dp: Dataplane;
  /** Port name (`c1/eth0`, `host1/eth0`) -> data-plane port id. */
  ports: Map<string, number>;
  /** Underlay segments: uplinks of different hosts in one IPv4 subnet. */
  segments: string[][];
  /** `HOST/NETWORK` -> bridge domain id, for bridge and overlay networks. */
  bridgeIds: Map<string, number>;
  /** `HOST/NETWORK` -> VXLAN tunnel index, for overlay networks. */
  tunnels: Map<string, number>;
  bridges: Bridges;
  gateways: Gateways;
  macvlans: Macvlans;
  vxlan: Vxlan;
  ipvs: Ipvs;
}

/** Raised for a topology the data plane cannot hold (too many ports, ...). */
export class CompileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CompileError';
  }
}

/** The MAC a VIP answers ARP with on a host: locally administered, from the VIP. */
export function vipMac(vip: string): string {
  const b = vip.split('.').map(Number);
  return ['02', '42', ...b.map((x) => x.toString(16).padStart(2, '0'))].join(':');
}

function ipToInt(ip: string): number {
  return ip.split('.').reduce((a, x) => ((a << 8) | Number(x)) >>> 0, 0);
}

function netOf(ip: string, prefix: number): string {
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return `${(ipToInt(ip) & mask) >>> 0}/${prefix}`;
}

export function compileTopology(topo: Topology, options: DataplaneOptions = {}): CompiledTopology {
  const dp = new Dataplane({ slots: 4096, ...options });
  const bridges = new Bridges(dp);
  const gateways = new Gateways(dp);
  const macvlans = new Macvlans(dp);
  const vxlan = new Vxlan(dp);
  const ipvs = new Ipvs(dp);

  const ports = new Map<string, number>();
  let nextPort = 0;
  const portId = (name: string): number => {
    let id = ports.get(name);
    if (id === undefined) {
      if (nextPort >= MAX_PORTS) throw new CompileError(`the topology needs more than ${MAX_PORTS} ports`);
      id = nextPort++;
      ports.set(name, id);
    }
    return id;
  };
  // Uplinks first, then container interfaces, in the topology's order.
  for (const h of topo.hosts) for (const u of h.uplinks) portId(u.port);
  for (const e of topo.endpoints) portId(e.port);
  // Internal ports (VXLAN tunnel ports) are not in `ports`: no capture names them.
  let nextInternal = MAX_PORTS - 1;
  const internalPort = (): number => {
    if (nextInternal < nextPort) throw new CompileError(`the topology needs more than ${MAX_PORTS} ports`);
    return nextInternal--;
  };

  const uplink = new Map(topo.hosts.flatMap((h) => h.uplinks.map((u) => [u.port, u] as const)));
  const endpoint = new Map(topo.endpoints.map((e) => [e.port, e] as const));
  const bridgeIds = new Map<string, number>();
  const tunnels = new Map<string, number>();
  let nextBridge = 1;
  const parents = new Set<number>();
  const vteps = new Set<number>();

  const instanceBridge = (net: TopologyNetwork, inst: TopologyNetworkInstance): number => {
    const key = `${inst.host}/${net.name}`;
    let b = bridgeIds.get(key);
    if (b === undefined) {
      b = nextBridge++;
      bridgeIds.set(key, b);
      bridges.create(b, {});
    }
    return b;
  };

  // VTEPs first: a VTEP that is also a macvlan/ipvlan parent is then made a
  // PARENT port below, keeping its VTEP table entry (see the fix-up after).
  for (const net of topo.networks) {
    if (net.driver !== 'overlay') continue;
    for (const inst of net.instances) {
      const vt = inst.vtep;
      if (!vt) throw new CompileError(`network ${net.name}: host ${inst.host} has no VTEP address for the overlay`);
      const under = ports.get(vt.port)!;
      if (!vteps.has(under)) {
        vxlan.setVtep(under, { ip: vt.ip, mac: vt.mac, mtu: uplink.get(vt.port)!.mtu });
        vteps.add(under);
      }
    }
  }

  for (const net of topo.networks) {
    for (const inst of net.instances) {
      const eps = inst.endpoints.map((p) => endpoint.get(p)!);
      switch (net.driver) {
        case 'none':
          for (const e of eps) dp.setPort(ports.get(e.port)!, { kind: PortKind.NONE });
          break;
        case 'bridge': {
          const b = instanceBridge(net, inst);
          const icc = net.bridge?.enableIcc ?? true;
          for (const e of eps) {
            bridges.addPort(ports.get(e.port)!, { bridge: b, isolated: !icc, mtu: e.mtu, ...(e.mac ? { mac: e.mac } : {}) });
          }
          for (const up of inst.uplinks) {
            const u = uplink.get(up);
            if (!u) throw new CompileError(`network ${net.name}: uplink ${up} is not an interface of host ${inst.host}`);
            bridges.addPort(ports.get(up)!, { bridge: b, mtu: u.mtu, mac: u.mac });
          }
          if (net.gateway && inst.deviceMac) {
            gateways.set(b, { ip: net.gateway, mac: inst.deviceMac });
            bridges.fdbAdd(b, inst.deviceMac, { local: true });
          }
          break;
        }
        case 'macvlan':
        case 'ipvlan': {
          const id = `${inst.host}/${net.name}`;
          let parent: number | undefined;
          const up = inst.uplinks[0];
          if (up !== undefined) {
            const u = uplink.get(up);
            if (!u) throw new CompileError(`network ${net.name}: parent ${up} is not an interface of host ${inst.host}`);
            parent = ports.get(up)!;
            if (!parents.has(parent)) {
              macvlans.addParent(parent, { mac: u.mac, name: u.name });
              parents.add(parent);
            }
          }
          if (net.driver === 'macvlan') {
            macvlans.createNetwork(id, { driver: 'macvlan', ...(parent !== undefined ? { parent } : {}), vlan: inst.vlan, macvlanMode: (net.macvlan?.mode ?? 'bridge') as MacvlanMode });
          } else {
            macvlans.createNetwork(id, {
              driver: 'ipvlan', ...(parent !== undefined ? { parent } : {}), vlan: inst.vlan,
              ipvlanMode: (net.ipvlan?.mode ?? 'l2') as IpvlanMode, ipvlanFlag: (net.ipvlan?.flag ?? 'bridge') as IpvlanFlag,
            });
          }
          for (const e of eps) {
            macvlans.addEndpoint(id, ports.get(e.port)!, { ...(e.mac ? { mac: e.mac } : {}), ...(e.ip ? { ipv4: [e.ip] } : {}) });
          }
          break;
        }
        case 'overlay': {
          const b = instanceBridge(net, inst);
          const under = ports.get(inst.vtep!.port)!;
          const tport = internalPort();
          const t = vxlan.addTunnel({ vni: net.vni!, underlay: under, port: tport, bridge: b, arpProxy: true, mtu: inst.mtu });
          tunnels.set(`${inst.host}/${net.name}`, t);
          for (const e of eps) bridges.addPort(ports.get(e.port)!, { bridge: b, mtu: inst.mtu, ...(e.mac ? { mac: e.mac } : {}) });
          for (const peer of inst.peers) {
            vxlan.setNeighbor(under, peer.vtep, peer.vtepMac);
            vxlan.peerAdd(t, { mac: peer.mac, ip: peer.ip, vtep: peer.vtep, flood: true });
            bridges.fdbAdd(b, peer.mac, { port: tport });
          }
          break;
        }
      }
    }
  }

  // An uplink that is both a VTEP and a macvlan/ipvlan parent (eth0 carrying
  // VXLAN and eth0.10): the port is a PARENT; VXLAN frames to its address are
  // claimed by the VTEP first (assembly/graph.ts). setVtep wrote the address.
  for (const p of vteps) {
    if (!parents.has(p)) continue;
    const vt = topo.hosts.map((h) => h.vtep).find((v) => v && ports.get(v.port) === p)!;
    dp.setPortIp4(p, vt.ip);
  }

  // Services: one IPVS virtual service per port on the network's bridge of
  // every host the service is installed on.
  for (const svc of topo.services) {
    const net = topo.networks.find((n) => n.name === svc.network)!;
    for (const host of svc.hosts) {
      const b = bridgeIds.get(`${host}/${net.name}`);
      if (b === undefined) throw new CompileError(`service ${svc.name}: network ${net.name} has no bridge on host ${host}`);
      ipvs.setBridge(b, { mac: vipMac(svc.vip) });
      for (const vs of svc.virtualServices) {
        if (vs.protocol === 'sctp') throw new CompileError(`service ${svc.name}: sctp is not supported by the data plane`);
        const key = { bridge: b, protocol: vs.protocol, address: vs.vip, port: vs.port } as const;
        ipvs.addService(key, { scheduler: vs.scheduler, flags: vs.flags as ServiceFlag[] });
        for (const rs of vs.realServers) {
          const ep = endpoint.get(rs.endpoint);
          if (!ep?.mac) throw new CompileError(`service ${svc.name}: real server ${rs.endpoint} has no MAC address`);
          ipvs.addServer(key, { address: rs.ip, port: rs.port, weight: rs.weight, forward: vs.forwarding, mac: ep.mac });
        }
      }
    }
  }

  // The underlay: uplinks of different hosts with addresses in one subnet.
  const bySubnet = new Map<string, string[]>();
  for (const h of topo.hosts) {
    for (const u of h.uplinks) {
      if (!u.ip || u.prefixLen === null) continue;
      const k = netOf(u.ip, u.prefixLen);
      bySubnet.set(k, [...(bySubnet.get(k) ?? []), u.port]);
    }
  }
  const segments = [...bySubnet.values()].filter((s) => s.length > 1);

  return { dp, ports, segments, bridgeIds, tunnels, bridges, gateways, macvlans, vxlan, ipvs };
}
