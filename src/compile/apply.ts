/**
 * Run-time changes to a compiled topology, between vectors: what `netwasmd`
 * does when a container joins or leaves, an overlay peer is added or removed,
 * or a service gains or loses a real server.
 *
 * The change is found by comparing two resolved topologies (before and after
 * the Controller call, or before and after a scenario reload), so any way of
 * changing the model ends in the same, small set of table updates:
 *
 * - endpoints added or removed (ports joining or leaving their bridge,
 *   macvlan/ipvlan network or `none`),
 * - overlay peers added or removed (VXLAN FDB, ARP proxy and flood list),
 * - real servers added, removed or re-weighted (IPVS destinations).
 *
 * Learned stations, the IPVS connection table and everything else in the data
 * plane stay as they were. A change of anything else (networks, uplinks,
 * services themselves, a network's first endpoint on a host) cannot be
 * applied in place: `applyTopology` throws an {@link ApplyError} before
 * touching anything, and the caller compiles the new topology afresh.
 *
 * ```ts
 * const before = restrictToHost(ctl.topology(), 'host1');
 * const compiled = compileTopology(before);
 * ctl.connect('web', 'mybridge');
 * const after = restrictToHost(ctl.topology(), 'host1');
 * applyTopology(compiled, before, after, 'host1'); // ['port web/eth0 joined mybridge (port 3)']
 * ```
 */
import type { CompiledTopology } from './compile.ts';
import type {
  Topology,
  TopologyEndpoint,
  TopologyNetwork,
  TopologyPeer,
  TopologyService,
} from '../cnm/topology.ts';
import { PortKind } from '../dataplane/index.ts';
import { MAX_PORTS } from '../dataplane/layout.ts';

/** The change needs a full compile (nothing was changed in the data plane). */
export class ApplyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ApplyError';
  }
}

/**
 * The part of `topo` that lives on host `host`, for a data plane that runs
 * only that host (one `netwasmd` per host): its uplinks, its network
 * instances (their overlay peers keep pointing at the other hosts' VTEPs),
 * its containers, and the services installed on it. Real servers on other
 * hosts (a swarm service's remote tasks) keep their endpoint entries, at the
 * end of the list, so the compile step knows their MACs; they get a port id
 * but no configuration, and nothing is ever bound to them.
 */
export function restrictToHost(topo: Topology, host: string): Topology {
  const h = topo.hosts.find((x) => x.name === host);
  if (!h) throw new ApplyError(`no host ${host} in the topology (hosts: ${topo.hosts.map((x) => x.name).join(', ')})`);
  const services = topo.services
    .filter((s) => s.hosts.includes(host))
    .map((s) => ({ ...s, hosts: [host] }));
  const local = topo.endpoints.filter((e) => e.host === host);
  const localPorts = new Set(local.map((e) => e.port));
  const remoteServers = new Set<string>();
  for (const s of services) for (const vs of s.virtualServices) for (const rs of vs.realServers) if (!localPorts.has(rs.endpoint)) remoteServers.add(rs.endpoint);
  const remote = topo.endpoints.filter((e) => remoteServers.has(e.port));
  return {
    version: topo.version,
    hosts: [h],
    networks: topo.networks.map((n) => ({ ...n, instances: n.instances.filter((i) => i.host === host) })),
    sandboxes: topo.sandboxes.filter((s) => s.host === host),
    endpoints: [...local, ...remote],
    services,
  };
}

/** Deep equality of JSON-safe values (the topology is plain data). */
function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** A network without what may change in place (its endpoints and peers). */
function networkShape(n: TopologyNetwork): unknown {
  return { ...n, peers: [], instances: n.instances.map((i) => ({ ...i, endpoints: [], peers: [] })) };
}

/** A service without what may change in place (its real servers). */
function serviceShape(s: TopologyService): unknown {
  return { ...s, virtualServices: s.virtualServices.map((v) => ({ ...v, realServers: [] })) };
}

const peerKey = (p: TopologyPeer): string => `${p.ip}|${p.mac}|${p.vtep}|${p.vtepMac}`;

/**
 * Checks that `to` differs from `from` only in what can change in place;
 * returns why not otherwise (null when it can be applied).
 */
export function inPlaceBlocker(from: Topology, to: Topology): string | null {
  const hostShape = (t: Topology) => t.hosts.map((h) => ({ ...h, bind: {} }));
  if (!same(hostShape(from), hostShape(to))) return 'the host interfaces changed';
  const fn = new Map(from.networks.map((n) => [n.name, n]));
  const tn = new Map(to.networks.map((n) => [n.name, n]));
  for (const name of new Set([...fn.keys(), ...tn.keys()])) {
    const a = fn.get(name);
    const b = tn.get(name);
    if (!a) return `network ${name} was created`;
    if (!b) return `network ${name} was removed`;
    if (!same(networkShape(a), networkShape(b))) return `network ${name} changed`;
  }
  const fs = new Map(from.services.map((s) => [s.name, s]));
  const ts = new Map(to.services.map((s) => [s.name, s]));
  for (const name of new Set([...fs.keys(), ...ts.keys()])) {
    const a = fs.get(name);
    const b = ts.get(name);
    if (!a) return `service ${name} was created`;
    if (!b) return `service ${name} was removed`;
    if (!same(serviceShape(a), serviceShape(b))) return `service ${name} changed`;
  }
  // An overlay's first container on a host creates the network's instance
  // there (a tunnel to compile): the instance lists differ, caught above.
  return null;
}

/**
 * Applies the difference between `from` (what `c` was compiled from, or last
 * brought up to date with) and `to`, both restricted to `host`. Mutates
 * `c.ports` (new endpoints get the lowest free port id, removed ones give
 * theirs back). Returns one line per change. Throws ApplyError, having
 * changed nothing, if the difference cannot be applied in place.
 */
export function applyTopology(c: CompiledTopology, from: Topology, to: Topology, host: string): string[] {
  const why = inPlaceBlocker(from, to);
  if (why) throw new ApplyError(`cannot apply in place: ${why}`);
  const log: string[] = [];
  const fromEp = new Map(from.endpoints.map((e) => [e.port, e]));
  const toEp = new Map(to.endpoints.map((e) => [e.port, e]));
  const gone = [...fromEp.values()].filter((e) => !same(e, toEp.get(e.port)));
  const added = [...toEp.values()].filter((e) => !same(e, fromEp.get(e.port)));

  // Real servers first out, last in: a destination never names a port that is gone.
  const servers = serverDiff(from, to, toEp);
  for (const s of servers.removed) {
    c.ipvs.deleteServer(s.key(c), { address: s.ip, port: s.port });
    log.push(`service ${s.service}: real server ${s.ip}:${s.port} removed`);
  }
  const peers = peerDiff(from, to, host);
  for (const p of peers.removed) {
    const t = c.tunnels.get(`${host}/${p.network}`);
    const b = c.bridgeIds.get(`${host}/${p.network}`);
    if (t === undefined || b === undefined) continue;
    c.vxlan.peerDelete(t, { mac: p.peer.mac, ip: p.peer.ip, vtep: p.peer.vtep });
    c.bridges.fdbDel(b, p.peer.mac);
    log.push(`network ${p.network}: peer ${p.peer.ip} (${p.peer.mac}) behind ${p.peer.vtep} removed`);
  }
  for (const e of gone) {
    const id = c.ports.get(e.port);
    if (id === undefined) continue;
    if (e.host === host) {
      removeEndpoint(c, e, id);
      log.push(`port ${e.port} left ${e.network} (port ${id})`);
    }
    c.ports.delete(e.port);
  }
  for (const e of added) {
    const id = freePort(c);
    c.ports.set(e.port, id);
    if (e.host === host) {
      addEndpoint(c, to, e, id, host);
      log.push(`port ${e.port} joined ${e.network} (port ${id})`);
    }
  }
  for (const p of peers.added) {
    const net = to.networks.find((n) => n.name === p.network)!;
    const inst = net.instances.find((i) => i.host === host)!;
    const t = c.tunnels.get(`${host}/${p.network}`);
    const b = c.bridgeIds.get(`${host}/${p.network}`);
    if (t === undefined || b === undefined || !inst.vtep) throw new Error(`network ${p.network}: no tunnel on host ${host}`);
    const under = c.ports.get(inst.vtep.port)!;
    c.vxlan.setNeighbor(under, p.peer.vtep, p.peer.vtepMac);
    c.vxlan.peerAdd(t, { mac: p.peer.mac, ip: p.peer.ip, vtep: p.peer.vtep, flood: true });
    c.bridges.fdbAdd(b, p.peer.mac, { port: c.vxlan.tunnelOptions(t).port });
    log.push(`network ${p.network}: peer ${p.peer.ip} (${p.peer.mac}) behind ${p.peer.vtep} added`);
  }
  for (const s of servers.added) {
    c.ipvs.addServer(s.key(c), { address: s.ip, port: s.port, weight: s.weight, forward: s.forwarding, mac: s.mac });
    log.push(`service ${s.service}: real server ${s.ip}:${s.port} added (weight ${s.weight})`);
  }
  for (const s of servers.edited) {
    c.ipvs.editServer(s.key(c), { address: s.ip, port: s.port, weight: s.weight });
    log.push(`service ${s.service}: real server ${s.ip}:${s.port} weight ${s.weight}`);
  }
  return log;
}

/** The lowest port id that no port and no tunnel uses. */
function freePort(c: CompiledTopology): number {
  const used = new Set(c.ports.values());
  for (const t of c.tunnels.values()) used.add(c.vxlan.tunnelOptions(t).port);
  for (let id = 0; id < MAX_PORTS; id++) if (!used.has(id)) return id;
  throw new ApplyError(`the data plane has no free port (${MAX_PORTS} in use)`);
}

function removeEndpoint(c: CompiledTopology, e: TopologyEndpoint, id: number): void {
  switch (e.driver) {
    case 'bridge':
    case 'overlay':
      c.bridges.flush({ port: id, static: true });
      c.bridges.removePort(id);
      break;
    case 'macvlan':
    case 'ipvlan':
      c.macvlans.removeEndpoint(id);
      break;
    default:
      c.dp.clearPort(id);
  }
}

function addEndpoint(c: CompiledTopology, to: Topology, e: TopologyEndpoint, id: number, host: string): void {
  const net = to.networks.find((n) => n.name === e.network)!;
  const inst = net.instances.find((i) => i.host === host);
  const mac = e.mac ? { mac: e.mac } : {};
  switch (e.driver) {
    case 'none':
      c.dp.setPort(id, { kind: PortKind.NONE });
      break;
    case 'bridge': {
      const b = c.bridgeIds.get(`${host}/${net.name}`);
      if (b === undefined) throw new Error(`network ${net.name}: no bridge on host ${host}`);
      c.bridges.addPort(id, { bridge: b, isolated: !(net.bridge?.enableIcc ?? true), mtu: e.mtu, ...mac });
      break;
    }
    case 'overlay': {
      const b = c.bridgeIds.get(`${host}/${net.name}`);
      if (b === undefined) throw new Error(`network ${net.name}: no bridge on host ${host}`);
      c.bridges.addPort(id, { bridge: b, mtu: inst?.mtu ?? e.mtu, ...mac });
      break;
    }
    case 'macvlan':
    case 'ipvlan':
      c.macvlans.addEndpoint(`${host}/${net.name}`, id, { ...mac, ...(e.ip ? { ipv4: [e.ip] } : {}) });
      break;
  }
}

interface PeerChange {
  network: string;
  peer: TopologyPeer;
}

function peerDiff(from: Topology, to: Topology, host: string): { added: PeerChange[]; removed: PeerChange[] } {
  const list = (t: Topology): Map<string, PeerChange> => {
    const m = new Map<string, PeerChange>();
    for (const n of t.networks) {
      if (n.driver !== 'overlay') continue;
      for (const i of n.instances) if (i.host === host) for (const p of i.peers) m.set(`${n.name}|${peerKey(p)}`, { network: n.name, peer: p });
    }
    return m;
  };
  const a = list(from);
  const b = list(to);
  return { added: [...b].filter(([k]) => !a.has(k)).map(([, v]) => v), removed: [...a].filter(([k]) => !b.has(k)).map(([, v]) => v) };
}

interface ServerChange {
  service: string;
  ip: string;
  port: number;
  weight: number;
  mac: string;
  forwarding: 'nat' | 'dr';
  key(c: CompiledTopology): { bridge: number; protocol: 'tcp' | 'udp'; address: string; port: number };
}

function serverDiff(from: Topology, to: Topology, toEp: Map<string, TopologyEndpoint>): { added: ServerChange[]; removed: ServerChange[]; edited: ServerChange[] } {
  const list = (t: Topology, eps: Map<string, TopologyEndpoint>): Map<string, ServerChange & { endpoint: string }> => {
    const m = new Map<string, ServerChange & { endpoint: string }>();
    for (const s of t.services) {
      for (const host of s.hosts) {
        s.virtualServices.forEach((vs) => {
          if (vs.protocol === 'sctp') return;
          const protocol = vs.protocol;
          for (const rs of vs.realServers) {
            const k = `${s.name}|${host}|${vs.protocol}/${vs.port}|${rs.ip}:${rs.port}`;
            m.set(k, {
              service: s.name,
              endpoint: rs.endpoint,
              ip: rs.ip,
              port: rs.port,
              weight: rs.weight,
              mac: eps.get(rs.endpoint)?.mac ?? '',
              forwarding: vs.forwarding,
              key: (c) => {
                const bridge = c.bridgeIds.get(`${host}/${s.network}`);
                if (bridge === undefined) throw new Error(`service ${s.name}: network ${s.network} has no bridge on host ${host}`);
                return { bridge, protocol, address: vs.vip, port: vs.port };
              },
            });
          }
        });
      }
    }
    return m;
  };
  const a = list(from, new Map(from.endpoints.map((e) => [e.port, e])));
  const b = list(to, toEp);
  const added: ServerChange[] = [];
  const removed: ServerChange[] = [];
  const edited: ServerChange[] = [];
  for (const [k, v] of a) {
    const w = b.get(k);
    // A real server whose endpoint changed (another MAC) is re-added.
    if (!w || w.mac !== v.mac || w.endpoint !== v.endpoint) removed.push(v);
  }
  for (const [k, v] of b) {
    const w = a.get(k);
    if (!w || w.mac !== v.mac || w.endpoint !== v.endpoint) added.push(v);
    else if (w.weight !== v.weight) edited.push(v);
  }
  return { added, removed, edited };
}
