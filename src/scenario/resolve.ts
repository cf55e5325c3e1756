/**
 * Resolves a scenario spec into a {@link Topology} by driving the CNM
 * Controller the way a user drives Docker, so allocation order is Docker's:
 *
 * 1. the default `bridge` network (unless `default_bridge: false`), `none`;
 * 2. networks in file order (pools, gateways, aux addresses, VNIs from 4096);
 * 3. containers in file order, each joining its networks in the listed order
 *    (eth0, eth1, ...), each address the lowest free one (serial on overlay);
 * 4. services in file order: the VIP first, then the tasks (swarm allocates a
 *    service before its tasks), or the explicit backends.
 *
 * Every error becomes a ScenarioError naming the file and the key path.
 */
import { dirname, isAbsolute, resolve as resolvePath } from 'node:path';
import { Controller } from '../cnm/controller.ts';
import { isNetworkError, NetworkError } from '../cnm/errors.ts';
import type { HostConfig } from '../cnm/host.ts';
import { resolvePortName, type Forwarding, type Scheduler, type Topology, type TopologyUplink } from '../cnm/topology.ts';
import { parentInterfaceName } from '../drivers/parent.ts';
import { cliIpamConfig } from '../ipam/validate.ts';
import { parseMac } from '../ipam/mac.ts';
import { ScenarioError } from './errors.ts';
import { join, type ScenarioSpec } from './spec.ts';
import { counterId } from '../dataplane/counters.ts';

/** A resolved replay section: canonical port names and absolute capture paths. */
export interface ResolvedReplay {
  inputs: { port: string; file: string }[];
  expect: { ports: { port: string; file: string }[]; counters: Record<string, number> } | null;
}

export interface ResolvedScenario {
  /** The scenario file as named by the caller. */
  file: string;
  spec: ScenarioSpec;
  topology: Topology;
  replay: ResolvedReplay | null;
  /** The controller after resolution (for further run-time changes). */
  controller: Controller;
}

export interface ResolveOptions {
  /** File name used in messages (default `scenario`). */
  file?: string;
  /** Path of the file on disk, the base of relative capture paths (default: `file`). */
  path?: string;
}

/** Resolves `spec`; throws ScenarioError (exit code 2) on any problem. */
export function resolveScenario(spec: ScenarioSpec, opts: ResolveOptions = {}): ResolvedScenario {
  const file = opts.file ?? 'scenario';
  const fail = (path: string, e: unknown): never => {
    if (e instanceof ScenarioError) throw e;
    if (isNetworkError(e)) {
      throw new ScenarioError(file, subjectPath(spec, e) ?? (e.field ? join(path, e.field) : path), e.message, e);
    }
    throw e;
  };
  const guard = <T>(path: string, f: () => T): T => {
    try {
      return f();
    } catch (e) {
      return fail(path, e);
    }
  };

  const controller = guard('hosts', () => new Controller({ hosts: hostConfigs(spec) }));
  guard('default_bridge', () => controller.createDefaultNetworks(spec.defaultBridge));

  for (const n of spec.networks) {
    guard(n.path, () => {
      const configs = cliIpamConfig({
        subnets: n.subnet !== undefined ? [n.subnet] : [],
        ipRanges: n.ipRange !== undefined ? [n.ipRange] : [],
        gateways: n.gateway !== undefined ? [n.gateway] : [],
        auxAddresses: n.auxAddresses,
      });
      const cfg = configs[0];
      controller.newNetwork(n.driver, n.name, {
        ipam: cfg
          ? { subnet: cfg.subnet, ipRange: cfg.ipRange, gateway: cfg.gateway, auxAddresses: cfg.auxAddresses }
          : {},
        options: n.options,
        internal: n.internal,
        attachable: n.attachable,
        attach: n.attach,
        peers: n.peers,
      });
    });
  }

  for (const c of spec.containers) {
    guard(c.path, () => controller.newSandbox(c.name, { host: c.host ?? null }));
    if (c.networks.length === 0) {
      // `docker run` without --network joins the default network.
      guard(c.path, () => controller.connect(c.name, spec.defaultBridge ? 'bridge' : 'none'));
    }
    for (const e of c.networks) {
      guard(e.path, () => {
        if (e.mac !== undefined && !parseMac(e.mac)) {
          throw new NetworkError('invalid-parameter', `${e.mac} is not a valid mac address`, { field: 'mac' });
        }
        controller.connect(c.name, e.name, { ip: e.ip ?? null, mac: e.mac ?? null });
      });
    }
  }

  for (const s of spec.services) {
    guard(s.path, () => {
      if (s.backends && s.replicas !== undefined) {
        throw new NetworkError('invalid-parameter', 'replicas and backends cannot be used together', { field: 'backends' });
      }
      let host = s.host ?? null;
      if (!host && s.backends && s.backends.length > 0) {
        const first = controller.sandboxes().find((x) => x.name === s.backends![0]!.container);
        if (first) host = first.host;
      }
      const svc = controller.createService({
        name: s.name,
        network: s.network,
        vip: s.vip ?? null,
        ports: s.ports,
        scheduler: s.scheduler as Scheduler | undefined,
        flags: s.flags,
        forwarding: s.forwarding as Forwarding | undefined,
        host,
        replicas: s.backends ? null : (s.replicas ?? 1),
      });
      for (const b of s.backends ?? []) {
        try {
          const sb = controller.sandbox(b.container);
          const ep = sb.endpoints.find((x) => x.network === svc.network);
          if (!ep) {
            throw new NetworkError('forbidden', `container ${b.container} is not connected to network ${svc.network.name}`, {
              field: 'container',
            });
          }
          svc.addBackend(ep, { port: b.port ?? null, weight: b.weight ?? null });
        } catch (e) {
          if (isNetworkError(e)) throw new ScenarioError(file, join(b.path, e.field ?? 'container'), e.message, e);
          throw e;
        }
      }
    });
  }

  const topology = guard('', () => controller.topology());
  checkDataPlaneLimits(spec, topology, file);
  for (const h of spec.hosts ?? []) {
    for (const k of Object.keys(h.bind)) {
      const p = resolvePortName(topology, k);
      const owner = p ? (topology.endpoints.find((e) => e.port === p)?.host ?? p.slice(0, p.indexOf('/'))) : null;
      if (!p || owner !== h.name) {
        throw new ScenarioError(file, join(join(h.path, 'bind'), k), `no such port ${k} on host ${h.name}`);
      }
    }
  }
  const replay = spec.replay ? resolveReplay(spec, topology, file, opts.path ?? file) : null;
  return { file, spec, topology, replay, controller };
}

/**
 * What the data plane cannot hold, found before anything is compiled (issue
 * 9: these were accepted and then failed in the compile step with no file or
 * key, or were silently half-built):
 *
 * - an uplink is one data-plane port: a bridge port (`attach`), or a
 *   macvlan/ipvlan parent (any of its VLANs) and/or a VTEP, not a bridge port
 *   and one of the others (Linux: an enslaved interface has one rx handler);
 * - one parent link (interface and VLAN) carries macvlan or ipvlan networks,
 *   not both (Linux: "device or resource busy" when the second one's first
 *   container starts);
 * - services (IPVS) run on bridge and overlay networks, over tcp and udp.
 */
function checkDataPlaneLimits(spec: ScenarioSpec, topo: Topology, file: string): void {
  // Each error carries a control-plane error as its cause: the editing
  // commands print it as Docker prints a daemon's refusal.
  const fail = (path: string, msg: string, category: 'invalid-parameter' | 'forbidden' = 'forbidden'): never => {
    throw new ScenarioError(file, path, msg, new NetworkError(category, msg));
  };
  const order = new Map(spec.networks.map((n, i) => [n.name, i]));
  const pathOf = (net: string): string => spec.networks.find((n) => n.name === net)?.path ?? 'networks';
  const attachPath = (net: string, port: string): string => {
    const n = spec.networks.find((x) => x.name === net);
    const j = n ? n.attach.findIndex((a) => resolvePortName(topo, a) === port) : -1;
    return n && j >= 0 ? join(join(n.path, 'attach'), j) : pathOf(net);
  };
  interface Use { kind: 'attach' | 'parent' | 'vtep'; net: string; driver: string; vlan: number }
  const uses = new Map<string, Use[]>();
  const use = (port: string, u: Use) => uses.set(port, [...(uses.get(port) ?? []), u]);
  for (const n of topo.networks) {
    for (const inst of n.instances) {
      if (n.driver === 'bridge') for (const p of inst.uplinks) use(p, { kind: 'attach', net: n.name, driver: n.driver, vlan: 0 });
      if (n.driver === 'macvlan' || n.driver === 'ipvlan') for (const p of inst.uplinks) use(p, { kind: 'parent', net: n.name, driver: n.driver, vlan: inst.vlan });
      if (n.driver === 'overlay' && inst.vtep) use(inst.vtep.port, { kind: 'vtep', net: n.name, driver: n.driver, vlan: 0 });
    }
  }
  const later = (a: Use, b: Use): [Use, Use] => ((order.get(a.net) ?? -1) <= (order.get(b.net) ?? -1) ? [a, b] : [b, a]);
  for (const [port, list] of uses) {
    const attach = list.find((u) => u.kind === 'attach');
    const other = list.find((u) => u.kind !== 'attach');
    if (attach && other) {
      const [first, second] = later(attach, other);
      const what = (u: Use) => (u.kind === 'attach' ? `attached to bridge network ${u.net}` : u.kind === 'vtep' ? `the VTEP of overlay network ${u.net}` : `the parent of ${u.driver} network ${u.net}`);
      const path = second.kind === 'attach' ? attachPath(second.net, port) : second.kind === 'parent' ? join(pathOf(second.net), 'options.parent') : pathOf(second.net);
      fail(path, `interface ${port} is ${what(first)}: it cannot also be ${what(second)} (a bridge port carries nothing else)`);
    }
    for (const a of list) {
      const b = list.find((x) => x.kind === 'parent' && a.kind === 'parent' && x.vlan === a.vlan && x.driver !== a.driver);
      if (!b) continue;
      const [first, second] = later(a, b);
      const link = `${port.slice(port.indexOf('/') + 1)}${first.vlan ? `.${first.vlan}` : ''}`;
      fail(join(pathOf(second.net), 'options.parent'),
        `failed to create the ${second.driver} port: device or resource busy (${link} carries ${first.driver} network ${first.net})`);
    }
  }
  // Two hosts with one address: their VTEPs (and underlay segment) would be one.
  const owner = new Map<string, TopologyUplink>();
  for (const h of topo.hosts) {
    for (const u of h.uplinks) {
      if (!u.ip) continue;
      const o = owner.get(u.ip);
      if (o && o.host !== u.host) {
        const hs = spec.hosts?.find((x) => x.name === u.host);
        fail(hs ? join(join(join(hs.path, 'interfaces'), u.name), 'ip') : 'hosts',
          `Address already in use: ${u.ip} is also the address of ${o.port}`);
      }
      owner.set(u.ip, u);
    }
  }
  // Addresses that are no host's: the data plane (and the kernel's routing) cannot use them.
  for (const n of topo.networks) {
    if (!n.subnet) continue;
    const [a] = n.subnet.split('/');
    const first = Number(a!.split('.')[0]);
    const why = first === 0 ? 'this network (0.0.0.0/8)' : first === 127 ? 'loopback (127.0.0.0/8)' : first >= 224 ? 'multicast or reserved (224.0.0.0/3)' : null;
    if (why) {
      fail(join(pathOf(n.name), 'subnet'), `invalid subnet ${n.subnet}: its addresses are ${why}, not addresses an interface can have`, 'invalid-parameter');
    }
  }
  for (const svc of topo.services) {
    const s = spec.services.find((x) => x.name === svc.name);
    const base = s?.path ?? 'services';
    const net = topo.networks.find((n) => n.name === svc.network);
    if (net && net.driver !== 'bridge' && net.driver !== 'overlay') {
      fail(join(base, 'network'), `service ${svc.name}: network ${net.name} is a ${net.driver} network; netwasm balances services (IPVS) on bridge and overlay networks only`, 'invalid-parameter');
    }
    svc.ports.forEach((p, j) => {
      if (p.protocol === 'sctp') fail(join(join(base, 'ports'), j), `service ${svc.name}: ${p.port}/sctp: netwasm's IPVS balances tcp and udp, not sctp`, 'invalid-parameter');
    });
  }
}

/** `hosts:` as controller host configs; without it, one host with the interfaces the networks name. */
function hostConfigs(spec: ScenarioSpec): HostConfig[] {
  if (spec.hosts) {
    return spec.hosts.map((h) => {
      const cfg: HostConfig = {
        name: h.name,
        interfaces: h.interfaces.map((i) => ({ name: i.name, mac: i.mac ?? null, ip: i.ip ?? null, mtu: i.mtu })),
        bind: h.bind,
      };
      if (h.advertiseAddr !== undefined) cfg.advertiseAddr = h.advertiseAddr;
      return cfg;
    });
  }
  const names: string[] = [];
  const add = (n: string | null) => {
    if (n && !names.includes(n)) names.push(n);
  };
  for (const n of spec.networks) {
    for (const a of n.attach) add(a.includes('/') ? a.slice(a.indexOf('/') + 1) : a);
    if ((n.driver === 'macvlan' || n.driver === 'ipvlan') && n.options['parent']) add(parentInterfaceName(n.options['parent']));
  }
  return [{ name: 'local', interfaces: names.map((name) => ({ name })) }];
}

/** Maps an error's subject (host/network/container/service by name) to its key path. */
function subjectPath(spec: ScenarioSpec, e: NetworkError): string | null {
  const s = e.subject;
  if (!s) return null;
  let base: string | null = null;
  if (s.kind === 'host') base = spec.hosts?.find((h) => h.name === s.name)?.path ?? 'hosts';
  else if (s.kind === 'network') base = spec.networks.find((n) => n.name === s.name)?.path ?? null;
  else if (s.kind === 'container') base = spec.containers.find((c) => c.name === s.name)?.path ?? null;
  else if (s.kind === 'service') base = spec.services.find((x) => x.name === s.name)?.path ?? null;
  if (base === null) return null;
  return e.field ? join(base, e.field) : base;
}

function resolveReplay(spec: ScenarioSpec, topo: Topology, file: string, path: string): ResolvedReplay {
  const r = spec.replay!;
  const base = dirname(resolvePath(path));
  const abs = (p: string) => (isAbsolute(p) ? p : resolvePath(base, p));
  const port = (name: string, path: string) => {
    const p = resolvePortName(topo, name);
    if (!p) throw new ScenarioError(file, path, `no such port ${name} (ports are CONTAINER/ethN or HOST/IFACE)`);
    return p;
  };
  for (const name of Object.keys(r.expect?.counters ?? {})) {
    if (counterId(name) === undefined) throw new ScenarioError(file, join('replay.expect.counters', name), `unknown counter "${name}"`);
  }
  return {
    inputs: Object.entries(r.inputs).map(([k, v]) => ({ port: port(k, join('replay.inputs', k)), file: abs(v) })),
    expect: r.expect
      ? {
          ports: Object.entries(r.expect.ports).map(([k, v]) => ({ port: port(k, join('replay.expect.ports', k)), file: abs(v) })),
          counters: { ...r.expect.counters },
        }
      : null,
  };
}
