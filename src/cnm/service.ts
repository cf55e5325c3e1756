/**
 * Services: a virtual IP on a network and an IPVS virtual service per port
 * whose real servers are the service's tasks (replicated services, as
 * `docker service create --replicas N --network NET`) or containers given
 * explicitly. The VIP comes from the network's pool. Docker's order, which
 * netwasm follows: swarm's network allocator (moby
 * `libnetwork/cnmallocator/networkallocator.go`) allocates a service's VIP in
 * AllocateService, serially, before AllocateTask gives its tasks their
 * addresses; containers started earlier (`docker run`) already hold theirs.
 */
import { ConflictError, ForbiddenError, InvalidParameterError } from './errors.ts';
import { formatAddr } from '../ipam/ip.ts';
import type { Endpoint, Network } from './network.ts';
import type { Forwarding, Protocol, Scheduler } from './topology.ts';

export const SCHEDULERS: readonly Scheduler[] = ['rr', 'wrr', 'lc', 'wlc', 'sh', 'mh', 'maglev'];
/** ipvsadm -b flags and the schedulers that understand them. */
export const SCHEDULER_FLAGS: Readonly<Record<string, readonly Scheduler[]>> = {
  'sh-fallback': ['sh'],
  'sh-port': ['sh'],
  'mh-fallback': ['mh', 'maglev'],
  'mh-port': ['mh', 'maglev'],
};

export interface ServicePort {
  port: number;
  protocol: Protocol;
}

/** Parses `80`, `80/tcp`, `53/udp`, `132/sctp`. Throws InvalidParameterError. */
export function parsePortSpec(s: string | number): ServicePort {
  const str = String(s);
  const m = /^([0-9]+)(?:\/(tcp|udp|sctp))?$/.exec(str);
  if (!m) throw new InvalidParameterError(`invalid port ${str}: expected PORT[/tcp|udp|sctp]`);
  const port = Number(m[1]);
  if (port < 1 || port > 65535) throw new InvalidParameterError(`invalid port ${str}: must be 1..65535`);
  return { port, protocol: (m[2] ?? 'tcp') as Protocol };
}

export interface ServiceOptions {
  name: string;
  network: Network;
  /** Hosts the virtual service is installed on (the controller decides). */
  hosts: string[];
  /** Static VIP; else allocated. */
  vip: number;
  ports: ServicePort[];
  scheduler?: Scheduler;
  flags?: string[];
  forwarding?: Forwarding;
  replicas?: number | null;
  id: string;
  /** Told of real servers added and removed (the controller's event stream). */
  notify?: (ev: { type: 'backend-add' | 'backend-remove'; service: string; endpoint: string }) => void;
}

export interface Backend {
  endpoint: Endpoint;
  /** Real server port; null: the service port. */
  port: number | null;
  weight: number;
}

export class Service {
  readonly name: string;
  readonly id: string;
  readonly network: Network;
  readonly hosts: string[];
  readonly vip: number;
  readonly ports: ServicePort[];
  readonly scheduler: Scheduler;
  readonly flags: string[];
  readonly forwarding: Forwarding;
  readonly replicas: number | null;
  readonly backends: Backend[] = [];
  private readonly notify: ServiceOptions['notify'];

  constructor(o: ServiceOptions) {
    this.notify = o.notify;
    this.name = o.name;
    this.id = o.id;
    this.network = o.network;
    this.hosts = o.hosts;
    this.vip = o.vip;
    this.ports = o.ports;
    this.scheduler = o.scheduler ?? 'rr';
    this.flags = o.flags ?? [];
    this.forwarding = o.forwarding ?? 'nat';
    this.replicas = o.replicas ?? null;
  }

  /** Checks scheduler, flags, forwarding and ports (before any allocation). */
  static validate(o: { scheduler?: string; flags?: string[]; forwarding?: string; ports: ServicePort[] }): void {
    const sched = o.scheduler ?? 'rr';
    if (!SCHEDULERS.includes(sched as Scheduler)) {
      throw new InvalidParameterError(`unknown scheduler ${sched} (use ${SCHEDULERS.join(', ')})`, { field: 'scheduler' });
    }
    (o.flags ?? []).forEach((f, i) => {
      const ok = SCHEDULER_FLAGS[f];
      if (!ok) {
        throw new InvalidParameterError(`unknown scheduler flag ${f} (use ${Object.keys(SCHEDULER_FLAGS).join(', ')})`, { field: `flags[${i}]` });
      }
      if (!ok.includes(sched as Scheduler)) {
        throw new InvalidParameterError(`scheduler flag ${f} needs the ${ok.join(' or ')} scheduler, not ${sched}`, { field: `flags[${i}]` });
      }
    });
    if (o.forwarding !== undefined && o.forwarding !== 'nat' && o.forwarding !== 'dr') {
      throw new InvalidParameterError(`unknown forwarding method ${o.forwarding} (use nat or dr)`, { field: 'forwarding' });
    }
    if (o.ports.length === 0) throw new InvalidParameterError('a service needs at least one port (ports: [80/tcp])', { field: 'ports' });
    const seen = new Set<string>();
    o.ports.forEach((p, i) => {
      const k = `${p.port}/${p.protocol}`;
      if (seen.has(k)) throw new InvalidParameterError(`port ${k} is listed twice`, { field: `ports[${i}]` });
      seen.add(k);
    });
  }

  /** Adds a real server (in order). The endpoint must be on the service's network. */
  addBackend(ep: Endpoint, opts: { port?: number | null; weight?: number | null } = {}): Backend {
    if (ep.network !== this.network) {
      throw new ForbiddenError(`container ${ep.name} is not connected to network ${this.network.name}`, { field: 'container' });
    }
    if (this.backends.some((b) => b.endpoint === ep)) {
      throw new ConflictError(`Destination already exists: ${ep.name} is already a real server of service ${this.name}`, { field: 'container' });
    }
    const weight = opts.weight ?? 1;
    if (!Number.isInteger(weight) || weight < 0 || weight > 65535) {
      throw new InvalidParameterError(`invalid weight ${weight}: must be 0..65535`, { field: 'weight' });
    }
    const port = opts.port ?? null;
    if (port !== null && (!Number.isInteger(port) || port < 1 || port > 65535)) {
      throw new InvalidParameterError(`invalid port ${port}: must be 1..65535`, { field: 'port' });
    }
    const b = { endpoint: ep, port, weight };
    this.backends.push(b);
    this.notify?.({ type: 'backend-add', service: this.name, endpoint: ep.port ?? ep.name });
    return b;
  }

  /** Removes a real server. */
  removeBackend(ep: Endpoint): void {
    const i = this.backends.findIndex((b) => b.endpoint === ep);
    if (i < 0) return;
    this.backends.splice(i, 1);
    this.notify?.({ type: 'backend-remove', service: this.name, endpoint: ep.port ?? ep.name });
  }

  vipString(): string {
    return formatAddr(this.vip);
  }
}
