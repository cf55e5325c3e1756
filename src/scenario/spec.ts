/**
 * The scenario file's structure (../shared/SCENARIO.md), checked key by key:
 * `specFromValue` turns the parsed YAML/JSON value into a typed
 * {@link ScenarioSpec}, or throws a ScenarioError naming the key path. Only
 * the shape is checked here; what the values mean (addresses, overlaps,
 * parents) is checked when the scenario is resolved.
 *
 * netwasm extensions to the documented keys (all optional): `internal` and
 * `attachable` on networks (Docker's `--internal`, `--attachable`; containers
 * may join an overlay network only if it is attachable), `mtu` on host
 * interfaces, `advertise_addr` on hosts (the VTEP address or interface,
 * Docker's `--advertise-addr`), `host` on services (where the VIP of a
 * local-scope network lives).
 */
import { ScenarioError } from './errors.ts';
import { parsePortSpec, type ServicePort } from '../cnm/service.ts';
import { isNetworkError } from '../cnm/errors.ts';

export interface InterfaceSpec {
  name: string;
  mac?: string;
  ip?: string;
  mtu?: number;
}

export interface HostSpec {
  name: string;
  interfaces: InterfaceSpec[];
  advertiseAddr?: string;
  bind: Record<string, string>;
  path: string;
}

export interface PeerSpec {
  vtep: string;
  vtepMac: string;
  mac: string;
  ip: string;
}

export interface NetworkSpec {
  name: string;
  driver: string;
  subnet?: string;
  gateway?: string;
  ipRange?: string;
  /** In file order. */
  auxAddresses: [string, string][];
  options: Record<string, string>;
  internal: boolean;
  attachable: boolean;
  attach: string[];
  peers: PeerSpec[];
  path: string;
}

export interface ContainerNetworkSpec {
  name: string;
  ip?: string;
  mac?: string;
  path: string;
}

export interface ContainerSpec {
  name: string;
  host?: string;
  networks: ContainerNetworkSpec[];
  path: string;
}

export interface BackendSpec {
  container: string;
  weight?: number;
  port?: number;
  path: string;
}

export interface ServiceSpec {
  name: string;
  network: string;
  replicas?: number;
  ports: ServicePort[];
  scheduler?: string;
  flags: string[];
  vip?: string;
  backends?: BackendSpec[];
  forwarding?: string;
  host?: string;
  path: string;
}

export interface ReplaySpec {
  /** Port name -> capture path (as written, relative to the scenario file). */
  inputs: Record<string, string>;
  expect: { ports: Record<string, string>; counters: Record<string, number> } | null;
}

export interface ScenarioSpec {
  /** null when the file has no `hosts:` (one host, `local`). */
  hosts: HostSpec[] | null;
  defaultBridge: boolean;
  networks: NetworkSpec[];
  containers: ContainerSpec[];
  services: ServiceSpec[];
  replay: ReplaySpec | null;
}

type Obj = Record<string, unknown>;

/** Walks a parsed value, failing with the key path. */
class Walker {
  constructor(readonly file: string) {}

  fail(path: string, msg: string): never {
    throw new ScenarioError(this.file, path, msg);
  }

  obj(v: unknown, path: string, keys: readonly string[] | null): Obj {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) this.fail(path, `expected a mapping, got ${kind(v)}`);
    const o = v as Obj;
    if (keys) {
      for (const k of Object.keys(o)) {
        if (!keys.includes(k)) this.fail(join(path, k), `unknown key (expected one of: ${keys.join(', ')})`);
      }
    }
    return o;
  }

  list(v: unknown, path: string): unknown[] {
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) this.fail(path, `expected a list, got ${kind(v)}`);
    return v;
  }

  str(v: unknown, path: string): string {
    if (typeof v !== 'string' || v === '') this.fail(path, `expected a non-empty string, got ${kind(v)}`);
    return v;
  }

  optStr(v: unknown, path: string): string | undefined {
    return v === undefined || v === null ? undefined : this.str(v, path);
  }

  /** Docker option values are strings; numbers and booleans are accepted and written as strings. */
  scalar(v: unknown, path: string): string {
    if (typeof v === 'string') return v;
    if (typeof v === 'number' || typeof v === 'boolean') return String(v);
    return this.fail(path, `expected a string, got ${kind(v)}`);
  }

  bool(v: unknown, path: string, dflt: boolean): boolean {
    if (v === undefined || v === null) return dflt;
    if (typeof v !== 'boolean') this.fail(path, `expected true or false, got ${kind(v)}`);
    return v;
  }

  int(v: unknown, path: string): number | undefined {
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v)) this.fail(path, `expected an integer, got ${kind(v)}`);
    return v;
  }

  strMap(v: unknown, path: string): Record<string, string> {
    if (v === undefined || v === null) return {};
    const o = this.obj(v, path, null);
    const out: Record<string, string> = {};
    for (const [k, x] of Object.entries(o)) out[k] = this.scalar(x, join(path, k));
    return out;
  }
}

function kind(v: unknown): string {
  if (v === null || v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${JSON.stringify(v)}`;
}

/** `a.b` / `a[0]` path joining. */
export function join(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return path ? `${path}.${key}` : key;
}

const TOP = ['hosts', 'default_bridge', 'networks', 'containers', 'services', 'replay'] as const;
const HOST = ['name', 'interfaces', 'advertise_addr', 'bind'] as const;
const IFACE = ['mac', 'ip', 'mtu'] as const;
const NETWORK = [
  'name',
  'driver',
  'subnet',
  'gateway',
  'ip_range',
  'aux_addresses',
  'options',
  'internal',
  'attachable',
  'attach',
  'peers',
] as const;
const PEER = ['vtep', 'vtep_mac', 'mac', 'ip'] as const;
const CONTAINER = ['name', 'host', 'networks'] as const;
const ENDPOINT = ['ip', 'mac'] as const;
const SERVICE = ['name', 'network', 'replicas', 'ports', 'scheduler', 'flags', 'vip', 'backends', 'forwarding', 'host'] as const;
const BACKEND = ['container', 'weight', 'port'] as const;
const REPLAY = ['inputs', 'expect'] as const;
const EXPECT = ['ports', 'counters'] as const;

/** Checks the shape of a parsed scenario and returns it typed. */
export function specFromValue(value: unknown, file: string): ScenarioSpec {
  const w = new Walker(file);
  if (value === null || value === undefined) value = {};
  const top = w.obj(value, '', TOP);

  let hosts: HostSpec[] | null = null;
  if (top['hosts'] !== undefined && top['hosts'] !== null) {
    hosts = w.list(top['hosts'], 'hosts').map((hv, i) => {
      const path = join('hosts', i);
      const h = w.obj(hv, path, HOST);
      const ifs = h['interfaces'] === undefined || h['interfaces'] === null ? {} : w.obj(h['interfaces'], join(path, 'interfaces'), null);
      const interfaces = Object.entries(ifs).map(([name, iv]) => {
        const ip = join(join(path, 'interfaces'), name);
        const o = iv === null || iv === undefined ? {} : w.obj(iv, ip, IFACE);
        const spec: InterfaceSpec = { name };
        const mac = w.optStr(o['mac'], join(ip, 'mac'));
        const addr = w.optStr(o['ip'], join(ip, 'ip'));
        const mtu = w.int(o['mtu'], join(ip, 'mtu'));
        if (mac !== undefined) spec.mac = mac;
        if (addr !== undefined) spec.ip = addr;
        if (mtu !== undefined) spec.mtu = mtu;
        return spec;
      });
      const hs: HostSpec = { name: w.str(h['name'], join(path, 'name')), interfaces, bind: w.strMap(h['bind'], join(path, 'bind')), path };
      const adv = w.optStr(h['advertise_addr'], join(path, 'advertise_addr'));
      if (adv !== undefined) hs.advertiseAddr = adv;
      return hs;
    });
  }

  const networks = w.list(top['networks'], 'networks').map((nv, i): NetworkSpec => {
    const path = join('networks', i);
    const n = w.obj(nv, path, NETWORK);
    const aux = n['aux_addresses'] === undefined || n['aux_addresses'] === null ? {} : w.obj(n['aux_addresses'], join(path, 'aux_addresses'), null);
    const spec: NetworkSpec = {
      name: w.str(n['name'], join(path, 'name')),
      driver: w.optStr(n['driver'], join(path, 'driver')) ?? 'bridge',
      auxAddresses: Object.entries(aux).map(([k, v]) => [k, w.str(v, join(join(path, 'aux_addresses'), k))]),
      options: w.strMap(n['options'], join(path, 'options')),
      internal: w.bool(n['internal'], join(path, 'internal'), false),
      attachable: w.bool(n['attachable'], join(path, 'attachable'), false),
      attach: w.list(n['attach'], join(path, 'attach')).map((a, j) => w.str(a, join(join(path, 'attach'), j))),
      peers: w.list(n['peers'], join(path, 'peers')).map((pv, j) => {
        const pp = join(join(path, 'peers'), j);
        const p = w.obj(pv, pp, PEER);
        return {
          vtep: w.str(p['vtep'], join(pp, 'vtep')),
          vtepMac: w.str(p['vtep_mac'], join(pp, 'vtep_mac')),
          mac: w.str(p['mac'], join(pp, 'mac')),
          ip: w.str(p['ip'], join(pp, 'ip')),
        };
      }),
      path,
    };
    const subnet = w.optStr(n['subnet'], join(path, 'subnet'));
    const gateway = w.optStr(n['gateway'], join(path, 'gateway'));
    const ipRange = w.optStr(n['ip_range'], join(path, 'ip_range'));
    if (subnet !== undefined) spec.subnet = subnet;
    if (gateway !== undefined) spec.gateway = gateway;
    if (ipRange !== undefined) spec.ipRange = ipRange;
    return spec;
  });

  const containers = w.list(top['containers'], 'containers').map((cv, i): ContainerSpec => {
    const path = join('containers', i);
    const c = w.obj(cv, path, CONTAINER);
    const nets = w.list(c['networks'], join(path, 'networks')).map((ev, j): ContainerNetworkSpec => {
      const ep = join(join(path, 'networks'), j);
      if (typeof ev === 'string') return { name: w.str(ev, ep), path: ep };
      const o = w.obj(ev, ep, null);
      const keys = Object.keys(o);
      if (keys.length !== 1) w.fail(ep, 'expected a network name, or a mapping NETWORK: { ip, mac }');
      const name = keys[0]!;
      const settings = o[name] === null || o[name] === undefined ? {} : w.obj(o[name], join(ep, name), ENDPOINT);
      const spec: ContainerNetworkSpec = { name, path: ep };
      const ip = w.optStr(settings['ip'], join(ep, 'ip'));
      const mac = w.optStr(settings['mac'], join(ep, 'mac'));
      if (ip !== undefined) spec.ip = ip;
      if (mac !== undefined) spec.mac = mac;
      return spec;
    });
    const spec: ContainerSpec = { name: w.str(c['name'], join(path, 'name')), networks: nets, path };
    const host = w.optStr(c['host'], join(path, 'host'));
    if (host !== undefined) spec.host = host;
    return spec;
  });

  const services = w.list(top['services'], 'services').map((sv, i): ServiceSpec => {
    const path = join('services', i);
    const s = w.obj(sv, path, SERVICE);
    const ports = w.list(s['ports'], join(path, 'ports')).map((pv, j) => {
      const pp = join(join(path, 'ports'), j);
      if (typeof pv !== 'string' && typeof pv !== 'number') w.fail(pp, `expected PORT/PROTOCOL, got ${kind(pv)}`);
      try {
        return parsePortSpec(pv as string | number);
      } catch (e) {
        return w.fail(pp, isNetworkError(e) ? e.message : String(e));
      }
    });
    const spec: ServiceSpec = {
      name: w.str(s['name'], join(path, 'name')),
      network: w.str(s['network'], join(path, 'network')),
      ports,
      flags: w.list(s['flags'], join(path, 'flags')).map((f, j) => w.str(f, join(join(path, 'flags'), j))),
      path,
    };
    const replicas = w.int(s['replicas'], join(path, 'replicas'));
    if (replicas !== undefined) spec.replicas = replicas;
    for (const [k, key] of [
      ['scheduler', 'scheduler'],
      ['vip', 'vip'],
      ['forwarding', 'forwarding'],
      ['host', 'host'],
    ] as const) {
      const v = w.optStr(s[key], join(path, key));
      if (v !== undefined) spec[k] = v;
    }
    if (s['backends'] !== undefined && s['backends'] !== null) {
      spec.backends = w.list(s['backends'], join(path, 'backends')).map((bv, j) => {
        const bp = join(join(path, 'backends'), j);
        const b = w.obj(bv, bp, BACKEND);
        const out: BackendSpec = { container: w.str(b['container'], join(bp, 'container')), path: bp };
        const weight = w.int(b['weight'], join(bp, 'weight'));
        const port = w.int(b['port'], join(bp, 'port'));
        if (weight !== undefined) out.weight = weight;
        if (port !== undefined) out.port = port;
        return out;
      });
    }
    return spec;
  });

  let replay: ReplaySpec | null = null;
  if (top['replay'] !== undefined && top['replay'] !== null) {
    const r = w.obj(top['replay'], 'replay', REPLAY);
    replay = { inputs: w.strMap(r['inputs'], 'replay.inputs'), expect: null };
    if (r['expect'] !== undefined && r['expect'] !== null) {
      const e = w.obj(r['expect'], 'replay.expect', EXPECT);
      const counters: Record<string, number> = {};
      if (e['counters'] !== undefined && e['counters'] !== null) {
        for (const [k, v] of Object.entries(w.obj(e['counters'], 'replay.expect.counters', null))) {
          const n = w.int(v, join('replay.expect.counters', k));
          if (n === undefined || n < 0) return w.fail(join('replay.expect.counters', k), 'expected a non-negative integer');
          counters[k] = n;
        }
      }
      replay.expect = { ports: w.strMap(e['ports'], 'replay.expect.ports'), counters };
    }
  }

  return {
    hosts,
    defaultBridge: w.bool(top['default_bridge'], 'default_bridge', true),
    networks,
    containers,
    services,
    replay,
  };
}
