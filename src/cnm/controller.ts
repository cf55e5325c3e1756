/**
 * The Controller (libnetwork's NetworkController, plus the parts of the
 * daemon and of swarm's allocator a topology needs): it owns the drivers, the
 * IPAM instances (one `LocalDefault` space per host, one `GlobalDefault`
 * space for the swarm manager), the networks, sandboxes and services, and
 * produces the resolved {@link Topology}.
 *
 * Everything is deterministic: IDs and seeded MACs derive from names, and
 * allocation follows call order. The scenario loader calls it in this order:
 * default networks, networks (file order), containers (file order, their
 * networks in listed order), services (file order: VIP, then the tasks).
 *
 * @example
 * const c = new Controller();
 * c.createDefaultNetworks();
 * const n = c.newNetwork('bridge', 'mynet', { ipam: { subnet: '10.1.0.0/24' } });
 * c.newSandbox('web');
 * c.connect('web', 'mynet', { ip: '10.1.0.10' });
 * c.topology().endpoints[0].port; // 'web/eth0'
 */
import { DEFAULT_BRIDGE_OPTIONS } from '../drivers/bridge.ts';
import { DriverRegistry } from '../drivers/registry.ts';
import type { DriverType } from '../drivers/types.ts';
import { Ipam, type NetworkToSplit } from '../ipam/allocator.ts';
import { formatAddr } from '../ipam/ip.ts';
import { MacAllocator } from '../ipam/mac.ts';
import { validateIpamConfig } from '../ipam/validate.ts';
import {
  ConflictError,
  ForbiddenError,
  InvalidParameterError,
  isNetworkError,
  NotFoundError,
} from './errors.ts';
import { Host, type HostConfig } from './host.ts';
import { stableId } from './ids.ts';
import { Network, type Endpoint, type NetworkIpamRequest, type PeerConfig } from './network.ts';
import { Sandbox } from './sandbox.ts';
import { Service, type ServicePort } from './service.ts';
import type {
  Forwarding,
  Scheduler,
  Topology,
  TopologyEndpoint,
  TopologyNetwork,
  TopologyPeer,
  TopologyService,
} from './topology.ts';

export interface ControllerOptions {
  /** The Docker hosts; default one host named `local` without interfaces. */
  hosts?: HostConfig[];
  localPools?: readonly NetworkToSplit[];
  globalPools?: readonly NetworkToSplit[];
}

/** `docker network create` as an API call. */
export interface NetworkCreateOptions {
  ipam?: NetworkIpamRequest;
  /** Driver options (`-o`). */
  options?: Record<string, string>;
  internal?: boolean;
  attachable?: boolean;
  /** Bridge only: host uplinks enslaved to the bridge, `HOST/IFACE` (or `IFACE` with one host). */
  attach?: string[];
  /** Overlay only: endpoints behind VTEPs outside the scenario. */
  peers?: PeerConfig[];
  /** The default `bridge` and `none` networks (skips the predefined-name check). */
  predefined?: boolean;
  id?: string;
}

export interface ServiceCreateOptions {
  name: string;
  network: string;
  vip?: string | null;
  ports: ServicePort[];
  scheduler?: Scheduler;
  flags?: string[];
  forwarding?: Forwarding;
  /** Local-scope networks: the host holding the VIP (default: the first host). */
  host?: string | null;
  /** Replicated service: create tasks SERVICE.1..N placed round-robin on the hosts. */
  replicas?: number | null;
}

/**
 * A change of the model, for a compiled data plane to apply between vectors
 * (ports are `CONTAINER/ethN`; an endpoint of a `none` network has port null).
 */
export type ControllerEvent =
  | { type: 'network-create'; network: string }
  | { type: 'network-delete'; network: string }
  | { type: 'endpoint-join'; port: string | null; network: string; container: string; host: string }
  | { type: 'endpoint-leave'; port: string | null; network: string; container: string; host: string }
  | { type: 'peer-add'; network: string; ip: string; mac: string; vtep: string }
  | { type: 'service-create'; service: string }
  | { type: 'backend-add'; service: string; endpoint: string }
  | { type: 'backend-remove'; service: string; endpoint: string };

/** Names Docker reserves (daemon/network IsPredefined). */
export const PREDEFINED_NETWORKS = ['bridge', 'host', 'none', 'default'] as const;

const CONTAINER_NAME = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

export class Controller {
  readonly drivers = DriverRegistry.builtin();
  readonly macs = new MacAllocator();
  readonly hosts: Host[] = [];
  private readonly local = new Map<string, Ipam>();
  private readonly global: Ipam;
  private readonly nets: Network[] = [];
  private readonly sboxes: Sandbox[] = [];
  private readonly svcs: Service[] = [];
  /** Whether hosts were given (a single implicit `local` host otherwise). */
  readonly implicitHost: boolean;
  private readonly listeners: ((ev: ControllerEvent) => void)[] = [];

  constructor(opts: ControllerOptions = {}) {
    const hosts = opts.hosts && opts.hosts.length > 0 ? opts.hosts : [{ name: 'local' }];
    this.implicitHost = !(opts.hosts && opts.hosts.length > 0);
    for (const hc of hosts) {
      if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(hc.name)) {
        throw new InvalidParameterError(`invalid host name ${JSON.stringify(hc.name)}`, { field: 'name' }).about('host', hc.name);
      }
      if (this.hosts.some((h) => h.name === hc.name)) {
        throw new ConflictError(`host ${hc.name} is listed twice`, { field: 'name' }).about('host', hc.name);
      }
      this.hosts.push(new Host(hc, this.macs));
      this.local.set(hc.name, new Ipam({ localPools: opts.localPools, globalPools: opts.globalPools }));
    }
    this.global = new Ipam({ localPools: opts.localPools, globalPools: opts.globalPools });
  }

  /** Calls `fn` on every change from now on; returns the function that unsubscribes. */
  subscribe(fn: (ev: ControllerEvent) => void): () => void {
    this.listeners.push(fn);
    return () => {
      const i = this.listeners.indexOf(fn);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  private emit(ev: ControllerEvent): void {
    for (const fn of [...this.listeners]) fn(ev);
  }

  // -- hosts -----------------------------------------------------------------

  /** The host named `name`. */
  host(name: string): Host {
    const h = this.hosts.find((x) => x.name === name);
    if (!h) throw new NotFoundError(`host ${name} not found`, { field: 'host' });
    return h;
  }

  /** `HOST/IFACE` (or `IFACE` with a single host) to the host and interface. */
  uplink(ref: string): { host: Host; iface: string } {
    const slash = ref.indexOf('/');
    let host: Host;
    let iface: string;
    if (slash < 0) {
      if (this.hosts.length !== 1) {
        throw new InvalidParameterError(`uplink ${ref}: name the host as HOST/IFACE when the scenario has several hosts`);
      }
      host = this.hosts[0]!;
      iface = ref;
    } else {
      host = this.host(ref.slice(0, slash));
      iface = ref.slice(slash + 1);
    }
    if (!host.interfaces.has(iface)) throw new NotFoundError(`host ${host.name} has no interface ${iface}`);
    return { host, iface };
  }

  // -- networks --------------------------------------------------------------

  /** The default `bridge` network (docker0, 172.17.0.0/16 unless taken) and `none`. */
  createDefaultNetworks(defaultBridge = true): void {
    if (defaultBridge) {
      this.newNetwork('bridge', 'bridge', { predefined: true, options: { ...DEFAULT_BRIDGE_OPTIONS } });
    }
    this.newNetwork('none', 'none', { predefined: true });
  }

  /** Creates a network (daemon createNetwork + libnetwork NewNetwork). */
  newNetwork(driverType: string, name: string, o: NetworkCreateOptions = {}): Network {
    if (!o.predefined && (PREDEFINED_NETWORKS as readonly string[]).includes(name)) {
      throw new ForbiddenError(`operation is not permitted on predefined ${name} network `, { field: 'name', code: 'PredefinedNetworkError' });
    }
    if (name === '' || /[\s/,=]/.test(name)) {
      throw new InvalidParameterError(`invalid network name ${JSON.stringify(name)}`, { field: 'name' });
    }
    if (this.nets.some((n) => n.name === name)) {
      throw new ConflictError(`network with name ${name} already exists`, { field: 'name', code: 'NetworkNameError' });
    }
    const driver = this.drivers.get(driverType);
    // Docker's none (null) network is a singleton (issue 9: a second one was accepted).
    if (driver.type === 'none' && !o.predefined && this.nets.some((n) => n.driver.type === 'none')) {
      throw new ForbiddenError('only one instance of "null" network is allowed', { field: 'driver' });
    }
    const ipam: NetworkIpamRequest = { ...(o.ipam ?? {}) };
    const hasIpamCfg = !!(ipam.subnet || ipam.ipRange || ipam.gateway || Object.keys(ipam.auxAddresses ?? {}).length);
    if (driver.type === 'none' && hasIpamCfg) {
      throw new InvalidParameterError(`network ${name}: a none network has no IPAM, it takes no subnet, ip_range, gateway or aux_addresses`, {
        field: 'subnet',
      });
    }
    if (hasIpamCfg) {
      validateIpamConfig([
        { subnet: ipam.subnet ?? '', ipRange: ipam.ipRange, gateway: ipam.gateway, auxAddresses: ipam.auxAddresses ?? {} },
      ]);
    }
    const id = o.id ?? stableId('network', name);
    const options = { ...(o.options ?? {}) };
    const config = driver.parseOptions(id, options, !!o.internal);
    const attach = (o.attach ?? []).map((ref, i) => {
      if (driver.type !== 'bridge') {
        throw new InvalidParameterError(`network ${name}: only bridge networks can have host interfaces attached`, { field: `attach[${i}]` });
      }
      try {
        const u = this.uplink(ref);
        for (const n of this.nets) {
          if (n.uplinks.get(u.host.name)?.includes(u.iface)) {
            throw new ForbiddenError(`interface ${u.host.name}/${u.iface} is already attached to network ${n.name}`);
          }
        }
        return u;
      } catch (e) {
        throw isNetworkError(e) ? e.at(`attach[${i}]`) : e;
      }
    });
    const net = new Network(this.networkContext(), {
      name,
      id,
      driver,
      config,
      options,
      ipam,
      attachable: !!o.attachable,
      predefined: !!o.predefined,
    });
    try {
      net.allocate(this.scope(driver.type) === 'local' ? this.hosts.flatMap((h) => h.routes()) : []);
      for (const u of attach) {
        const list = net.uplinks.get(u.host.name) ?? [];
        if (list.includes(u.iface)) throw new ForbiddenError(`interface ${u.host.name}/${u.iface} is listed twice`);
        list.push(u.iface);
        net.uplinks.set(u.host.name, list);
      }
      (o.peers ?? []).forEach((p, i) => net.addPeer(p, i));
    } catch (e) {
      try {
        net.delete();
      } catch {
        // best effort: the error being reported matters more
      }
      throw e;
    }
    this.nets.push(net);
    this.emit({ type: 'network-create', network: name });
    return net;
  }

  /** Adds an overlay peer outside the scenario at run time (Docker's peerAdd). */
  addPeer(network: string, peer: PeerConfig): void {
    const n = this.network(network);
    const p = n.addPeer(peer, n.peers.length);
    this.emit({ type: 'peer-add', network: n.name, ip: formatAddr(p.addr), mac: p.mac, vtep: formatAddr(p.vtep) });
  }

  private scope(type: DriverType): 'local' | 'global' {
    return this.drivers.get(type).capability.dataScope;
  }

  private networkContext() {
    return {
      host: (n: string) => this.host(n),
      hostList: () => this.hosts,
      localIpam: (h: string) => this.local.get(h)!,
      globalIpam: () => this.global,
      macs: this.macs,
    };
  }

  /** The network named `name` ("network NAME not found"). */
  network(name: string): Network {
    const n = this.nets.find((x) => x.name === name || x.id === name);
    if (!n) throw new NotFoundError(`network ${name} not found`, { code: 'ErrNoSuchNetwork' });
    return n;
  }

  networks(): readonly Network[] {
    return this.nets;
  }

  /** Deletes a network ("bridge is a pre-defined network and cannot be removed", active endpoints...). */
  removeNetwork(name: string): void {
    const n = this.network(name);
    if (n.predefined || (PREDEFINED_NETWORKS as readonly string[]).includes(n.name)) {
      throw new ForbiddenError(`${n.name} is a pre-defined network and cannot be removed`, { code: 'PredefinedNetworkError' });
    }
    const users = this.svcs.filter((s) => s.network === n);
    if (users.length > 0 && n.endpoints.length === 0) {
      throw new ForbiddenError(`error while removing network: network ${n.name} is in use by service ${users[0]!.name}`, {
        code: 'ActiveEndpointsError',
      });
    }
    n.delete();
    this.nets.splice(this.nets.indexOf(n), 1);
    this.emit({ type: 'network-delete', network: n.name });
  }

  // -- sandboxes (containers) ------------------------------------------------

  /** Creates a container's sandbox on `host` (default: the only host). */
  newSandbox(name: string, o: { host?: string | null; service?: string | null; slot?: number | null } = {}): Sandbox {
    if (!CONTAINER_NAME.test(name)) {
      throw new InvalidParameterError(`Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`, { field: 'name' });
    }
    const existing = this.sboxes.find((s) => s.name === name);
    if (existing) {
      throw new ConflictError(
        `Conflict. The container name "/${name}" is already in use by container "${existing.containerId}". You have to remove (or rename) that container to be able to reuse that name.`,
        { field: 'name', code: 'NameConflict' },
      );
    }
    let host: string;
    if (o.host) host = this.host(o.host).name;
    else if (this.hosts.length === 1) host = this.hosts[0]!.name;
    else throw new InvalidParameterError(`container ${name}: host is required when the scenario has several hosts`, { field: 'host' });
    const sb = new Sandbox({
      name,
      containerId: stableId('container', name),
      id: stableId('sandbox', name),
      host,
      service: o.service ?? null,
      slot: o.slot ?? null,
    });
    this.sboxes.push(sb);
    return sb;
  }

  sandbox(name: string): Sandbox {
    const s = this.sboxes.find((x) => x.name === name || x.containerId === name);
    if (!s) throw new NotFoundError(`No such container: ${name}`);
    return s;
  }

  sandboxes(): readonly Sandbox[] {
    return this.sboxes;
  }

  /** `docker network connect` (or `docker run --network`): endpoint + join. */
  connect(container: string, network: string, o: { ip?: string | null; mac?: string | null } = {}): Endpoint {
    const sb = this.sandbox(container);
    const net = this.network(network);
    if (sb.endpoints.some((e) => e.network.driver.type === 'none') || (net.driver.type === 'none' && sb.endpoints.length > 0)) {
      throw new InvalidParameterError(
        'container cannot be connected to multiple networks with one of the networks in private (none) mode',
        { code: 'ErrConflictNoNetwork' },
      );
    }
    const ep = net.createEndpoint(sb.name, { host: sb.host, ip: o.ip ?? null, mac: o.mac ?? null, service: sb.service, slot: sb.slot });
    try {
      ep.join(sb);
    } catch (e) {
      ep.delete();
      throw e;
    }
    this.emit({ type: 'endpoint-join', port: ep.port, network: net.name, container: sb.name, host: sb.host });
    return ep;
  }

  /** Leave + delete of one endpoint, dropping it from the services first. */
  private dropEndpoint(ep: Endpoint): void {
    for (const s of this.svcs) s.removeBackend(ep);
    const ev: ControllerEvent = { type: 'endpoint-leave', port: ep.port, network: ep.network.name, container: ep.name, host: ep.host };
    ep.leave();
    ep.delete();
    this.emit(ev);
  }

  /** `docker network disconnect`: leave + delete. */
  disconnect(container: string, network: string): void {
    const sb = this.sandbox(container);
    const ep = sb.endpoints.find((e) => e.network.name === network);
    if (!ep) throw new ForbiddenError(`container ${sb.containerId} is not connected to network ${network}`);
    this.dropEndpoint(ep);
  }

  /** Removes a container: its endpoints leave and are deleted. */
  removeSandbox(name: string): void {
    const sb = this.sandbox(name);
    for (const ep of [...sb.endpoints]) this.dropEndpoint(ep);
    this.sboxes.splice(this.sboxes.indexOf(sb), 1);
  }

  // -- services ----------------------------------------------------------------

  /** Creates a service: VIP, then (replicated) its tasks, which become its real servers. */
  createService(o: ServiceCreateOptions): Service {
    if (this.svcs.some((s) => s.name === o.name)) {
      throw new ConflictError(`name conflicts with an existing object: service ${o.name} already exists`, { field: 'name' });
    }
    if (!/^[a-zA-Z0-9](?:[a-zA-Z0-9_-]*[a-zA-Z0-9])?$/.test(o.name) || o.name.length > 63) {
      throw new InvalidParameterError(`invalid service name ${JSON.stringify(o.name)}`, { field: 'name' });
    }
    let net: Network;
    try {
      net = this.network(o.network);
    } catch (e) {
      throw isNetworkError(e) ? e.at('network') : e;
    }
    Service.validate(o);
    if (!net.hasIpam) {
      throw new InvalidParameterError(`network ${net.name} has no IPAM (driver none): a service needs a VIP`, { field: 'network' });
    }
    if (o.replicas != null && (!Number.isInteger(o.replicas) || o.replicas < 0)) {
      throw new InvalidParameterError(`invalid replicas value ${o.replicas}: must be a non-negative integer`, { field: 'replicas' });
    }
    let vipHost: string;
    if (o.host) vipHost = this.host(o.host).name;
    else vipHost = this.hosts[0]!.name;
    const vip = net.allocateVip(vipHost, o.vip ?? null);
    const svc = new Service({
      name: o.name,
      id: stableId('service', o.name),
      network: net,
      hosts: net.scope === 'global' ? [] : [vipHost],
      vip,
      ports: o.ports,
      scheduler: o.scheduler,
      flags: o.flags,
      forwarding: o.forwarding,
      replicas: o.replicas ?? null,
      notify: (ev) => this.emit(ev),
    });
    this.svcs.push(svc);
    this.emit({ type: 'service-create', service: svc.name });
    for (let slot = 1; slot <= (o.replicas ?? 0); slot++) {
      const host = this.hosts[(slot - 1) % this.hosts.length]!.name;
      const task = `${o.name}.${slot}`;
      this.newSandbox(task, { host, service: o.name, slot });
      const ep = this.connect(task, net.name);
      svc.addBackend(ep);
    }
    return svc;
  }

  service(name: string): Service {
    const s = this.svcs.find((x) => x.name === name || x.id === name);
    if (!s) throw new NotFoundError(`service ${name} not found`);
    return s;
  }

  services(): readonly Service[] {
    return this.svcs;
  }

  // -- topology ------------------------------------------------------------------

  /**
   * The resolved topology. Throws (with `subject`/`field` set) if an overlay
   * instance cannot reach a VTEP it must peer with.
   */
  topology(): Topology {
    const hostOrder = new Map(this.hosts.map((h, i) => [h.name, i]));
    const endpoints: TopologyEndpoint[] = [];
    for (const sb of this.sboxes) {
      const eps = sb.endpoints.filter((e) => e.ifname !== null).sort((a, b) => Number(a.ifname!.slice(3)) - Number(b.ifname!.slice(3)));
      for (const ep of eps) endpoints.push(this.endpointInfo(ep));
    }
    const uplinkBridge = new Map<string, string>();
    for (const n of this.nets) for (const [h, list] of n.uplinks) for (const i of list) uplinkBridge.set(`${h}/${i}`, n.name);

    const networks: TopologyNetwork[] = this.nets.map((n) => this.networkInfo(n, hostOrder));
    const services: TopologyService[] = this.svcs.map((s) => {
      const hosts = s.network.scope === 'global' ? this.hosts.filter((h) => s.network.instances.has(h.name)).map((h) => h.name) : s.hosts;
      return {
        name: s.name,
        id: s.id,
        network: s.network.name,
        vip: s.vipString(),
        hosts,
        ports: s.ports.map((p) => ({ ...p })),
        scheduler: s.scheduler,
        flags: [...s.flags],
        forwarding: s.forwarding,
        replicas: s.replicas,
        virtualServices: s.ports.map((p) => ({
          vip: s.vipString(),
          port: p.port,
          protocol: p.protocol,
          scheduler: s.scheduler,
          flags: [...s.flags],
          forwarding: s.forwarding,
          realServers: s.backends.map((b) => ({
            endpoint: b.endpoint.port ?? '',
            container: b.endpoint.name,
            host: b.endpoint.host,
            ip: formatAddr(b.endpoint.addr ?? 0),
            port: b.port ?? p.port,
            weight: b.weight,
          })),
        })),
      };
    });
    return {
      version: 1,
      hosts: this.hosts.map((h) => ({
        name: h.name,
        uplinks: [...h.interfaces.values()].map((i) => ({
          port: i.port,
          host: h.name,
          name: i.name,
          mac: i.mac,
          ip: i.prefix ? formatAddr(i.prefix.addr) : null,
          prefixLen: i.prefix ? i.prefix.bits : null,
          cidr: i.prefix ? i.prefix.toString() : null,
          mtu: i.mtu,
          bridge: uplinkBridge.get(i.port) ?? null,
        })),
        vtep: h.vtepInfo(),
        bind: { ...h.bind },
      })),
      networks,
      sandboxes: this.sboxes.map((sb) => ({
        name: sb.name,
        id: sb.containerId,
        sandboxId: sb.id,
        host: sb.host,
        service: sb.service,
        slot: sb.slot,
        networks: sb.endpoints.map((e) => e.network.name),
        ports: sb.ports(),
      })),
      endpoints,
      services,
    };
  }

  private endpointInfo(ep: Endpoint): TopologyEndpoint {
    const n = ep.network;
    const inst = n.driver.instanceInfo(n.id, ep.host);
    const vni = n.driver.type === 'overlay' ? Number((n.options['com.docker.network.driver.overlay.vxlanid_list'] ?? '').split(',')[0]) : null;
    return {
      port: ep.port!,
      id: ep.id,
      name: ep.name,
      container: ep.name,
      sandboxId: ep.sandbox!.id,
      host: ep.host,
      network: n.name,
      driver: n.driver.type,
      ifname: ep.ifname!,
      ip: ep.addr === null ? null : formatAddr(ep.addr),
      prefixLen: ep.addr === null || !n.subnet ? null : n.subnet.bits,
      cidr: ep.cidr(),
      mac: ep.mac,
      gateway: endpointGateway(n),
      mtu: inst.mtu,
      vni: vni !== null && Number.isFinite(vni) ? vni : null,
      vlan: inst.parent?.vlan ?? 0,
      service: ep.service,
      slot: ep.slot,
    };
  }

  private networkInfo(n: Network, hostOrder: Map<string, number>): TopologyNetwork {
    const type = n.driver.type;
    const cfg = n.config as unknown as Record<string, unknown>;
    const vniStr = n.options['com.docker.network.driver.overlay.vxlanid_list'];
    const hostsWith = [...n.instances].sort((a, b) => hostOrder.get(a)! - hostOrder.get(b)!);
    const staticPeers: TopologyPeer[] = n.peers.map((p) => ({
      ip: formatAddr(p.addr),
      mac: p.mac,
      vtep: formatAddr(p.vtep),
      vtepMac: p.vtepMac,
      host: null,
      uplink: null,
    }));
    const instances = hostsWith.map((h) => {
      const inst = n.driver.instanceInfo(n.id, h);
      const host = this.host(h);
      const uplinks =
        type === 'bridge'
          ? (n.uplinks.get(h) ?? []).map((i) => `${h}/${i}`)
          : inst.parent
            ? [`${h}/${inst.parent.iface}`]
            : [];
      let peers: TopologyPeer[] = [];
      let vtep = null;
      if (type === 'overlay') {
        vtep = host.vtepInfo();
        peers = this.overlayPeers(n, host, hostsWith);
      }
      return {
        host: h,
        device: inst.device,
        deviceMac: inst.deviceMac,
        mtu: inst.mtu,
        uplinks,
        vlan: inst.parent?.vlan ?? 0,
        endpoints: n.endpointsOn(h).filter((e) => e.port !== null).map((e) => e.port!),
        vtep,
        peers,
      };
    });
    return {
      name: n.name,
      id: n.id,
      driver: type,
      scope: n.scope,
      internal: n.internal,
      attachable: n.attachable,
      predefined: n.predefined,
      options: sortKeys(n.options),
      subnet: n.subnet ? n.subnet.toString() : null,
      prefixLen: n.subnet ? n.subnet.bits : null,
      gateway: n.gatewayString(),
      ipRange: n.ipRange ? n.ipRange.toString() : null,
      auxAddresses: Object.fromEntries(Object.entries(n.auxAddresses).map(([k, v]) => [k, formatAddr(v)])),
      userSubnet: n.userSubnet,
      mtu: n.config.mtu,
      vni: vniStr ? Number(vniStr.split(',')[0]) : null,
      bridge:
        type === 'bridge'
          ? {
              enableIcc: cfg['enableIcc'] as boolean,
              enableIpMasquerade: cfg['enableIpMasquerade'] as boolean,
              gatewayModeIpv4: cfg['gatewayModeIpv4'] as string,
              inhibitIpv4: cfg['inhibitIpv4'] as boolean,
              hostBindingIpv4: cfg['hostBindingIpv4'] as string,
              defaultBridge: cfg['defaultBridge'] as boolean,
            }
          : null,
      macvlan: type === 'macvlan' ? { parent: (cfg['parent'] as string) || null, mode: cfg['mode'] as string } : null,
      ipvlan:
        type === 'ipvlan' ? { parent: (cfg['parent'] as string) || null, mode: cfg['mode'] as string, flag: cfg['flag'] as string } : null,
      peers: staticPeers,
      instances,
    };
  }

  /** Peers of an overlay network seen from `host`: other hosts' endpoints, then external peers. */
  private overlayPeers(n: Network, host: Host, hostsWith: string[]): TopologyPeer[] {
    const peers: TopologyPeer[] = [];
    const needVtep = () => {
      if (!host.vtep) {
        throw new InvalidParameterError(
          `overlay network ${n.name}: host ${host.name} has no interface with an ip to use as its VTEP (set advertise_addr)`,
          { field: 'advertise_addr' },
        ).about('host', host.name);
      }
    };
    for (const other of hostsWith) {
      if (other === host.name) continue;
      const oh = this.host(other);
      const remote = n.endpointsOn(other).filter((e) => e.addr !== null && e.mac !== null);
      if (remote.length === 0) continue;
      needVtep();
      if (!oh.vtep) {
        throw new InvalidParameterError(
          `overlay network ${n.name}: host ${oh.name} has no interface with an ip to use as its VTEP (set advertise_addr)`,
          { field: 'advertise_addr' },
        ).about('host', oh.name);
      }
      const up = host.uplinkFor(oh.vtep.addr);
      if (!up) {
        throw new InvalidParameterError(
          `overlay network ${n.name}: host ${host.name} has no uplink in the subnet of host ${oh.name}'s VTEP ${formatAddr(oh.vtep.addr)}`,
          { field: 'interfaces' },
        ).about('host', host.name);
      }
      for (const e of remote) {
        peers.push({
          ip: formatAddr(e.addr!),
          mac: e.mac!,
          vtep: formatAddr(oh.vtep.addr),
          vtepMac: oh.vtep.iface.mac,
          host: oh.name,
          uplink: up.port,
        });
      }
    }
    n.peers.forEach((p, i) => {
      needVtep();
      const up = host.uplinkFor(p.vtep);
      if (!up) {
        throw new InvalidParameterError(
          `overlay network ${n.name}: host ${host.name} has no uplink in the subnet of VTEP ${formatAddr(p.vtep)}`,
          { field: `peers[${i}].vtep` },
        ).about('network', n.name);
      }
      peers.push({ ip: formatAddr(p.addr), mac: p.mac, vtep: formatAddr(p.vtep), vtepMac: p.vtepMac, host: null, uplink: up.port });
    });
    return peers;
  }
}

/**
 * The container's default gateway on a network: the bridge's address, or the
 * aux address `DefaultGatewayIPv4` when a bridge network has one (the bridge
 * driver routes containers through that external router); none on overlay.
 */
function endpointGateway(n: Network): string | null {
  if (n.driver.type === 'overlay') return null;
  const dflt = n.auxAddresses['DefaultGatewayIPv4'];
  if (n.driver.type === 'bridge' && dflt !== undefined) return formatAddr(dflt);
  return n.gatewayString();
}

function sortKeys(o: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

