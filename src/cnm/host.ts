/**
 * A Docker host of the topology: its uplinks (host interfaces, with a MAC, an
 * optional IPv4 address and an MTU) and the address its VTEP uses for overlay
 * networks (Docker's `--advertise-addr`: an address of the host or the name of
 * an interface that has one; by default the first interface with an address).
 */
import { InvalidParameterError } from './errors.ts';
import type { HostInfo, HostInterfaceInfo } from '../drivers/types.ts';
import { formatAddr, parseAddr, parsePrefix, type Prefix } from '../ipam/ip.ts';
import { parseMac, unicastMacProblem, type MacAllocator } from '../ipam/mac.ts';

/** How a host is described (scenario `hosts:` entry). */
export interface HostConfig {
  name: string;
  interfaces?: InterfaceConfig[];
  /** Address or interface name the VTEP uses; default: the first interface with an `ip`. */
  advertiseAddr?: string | null;
  /** netwasmd bindings, port name -> local interface. */
  bind?: Record<string, string>;
}

export interface InterfaceConfig {
  name: string;
  /** MAC; seeded from the host and interface names when absent. */
  mac?: string | null;
  /** `a.b.c.d/n` or null. */
  ip?: string | null;
  /** Default 1500. */
  mtu?: number;
}

/** A host interface once resolved. */
export interface HostInterface extends HostInterfaceInfo {
  /** `HOST/IFACE`. */
  port: string;
  /** The interface's address with its prefix, or null. */
  prefix: Prefix | null;
}

const IFNAME = /^[A-Za-z0-9_.:@-]{1,15}$/;

/** True if `name` is a usable Linux interface name (1..15 characters, no `/` or space). */
export function validIfName(name: string): boolean {
  return IFNAME.test(name) && name !== '.' && name !== '..';
}

export class Host implements HostInfo {
  readonly name: string;
  readonly interfaces = new Map<string, HostInterface>();
  readonly bind: Record<string, string>;
  /** The VTEP: address and the interface it is on, or null. */
  readonly vtep: { addr: number; iface: HostInterface } | null;

  constructor(cfg: HostConfig, macs: MacAllocator) {
    this.name = cfg.name;
    this.bind = { ...(cfg.bind ?? {}) };
    const err = (m: string, field: string) => new InvalidParameterError(m, { field }).about('host', cfg.name);
    for (const i of cfg.interfaces ?? []) {
      const f = `interfaces.${i.name}`;
      if (!validIfName(i.name)) throw err(`invalid interface name ${JSON.stringify(i.name)}`, f);
      if (this.interfaces.has(i.name)) throw err(`interface ${i.name} is listed twice`, f);
      let mac: string;
      if (i.mac) {
        const m = parseMac(i.mac);
        if (!m) throw err(`${i.mac} is not a valid mac address`, `${f}.mac`);
        const why = unicastMacProblem(m);
        if (why) throw err(`invalid MAC address: ${why}`, `${f}.mac`);
        mac = m;
        macs.claim(m);
      } else {
        mac = macs.generate(`uplink\0${cfg.name}\0${i.name}`);
      }
      let prefix: Prefix | null = null;
      if (i.ip) {
        prefix = parsePrefix(i.ip);
        if (!prefix) throw err(`invalid CIDR address: ${i.ip}`, `${f}.ip`);
      }
      const mtu = i.mtu ?? 1500;
      if (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535) throw err(`invalid MTU ${mtu}: must be 68..65535`, `${f}.mtu`);
      this.interfaces.set(i.name, { name: i.name, mac, mtu, ip: prefix ? prefix.toString() : null, port: `${cfg.name}/${i.name}`, prefix });
    }
    this.vtep = this.findVtep(cfg.advertiseAddr ?? null, err);
  }

  private findVtep(adv: string | null, err: (m: string, f: string) => Error): { addr: number; iface: HostInterface } | null {
    const withIp = [...this.interfaces.values()].filter((i) => i.prefix);
    if (adv === null || adv === '') {
      const first = withIp[0];
      return first ? { addr: first.prefix!.addr, iface: first } : null;
    }
    const a = parseAddr(adv);
    if (a !== null) {
      const iface = withIp.find((i) => i.prefix!.addr === a);
      if (!iface) throw err(`advertise address ${adv} is not an address of host ${this.name}`, 'advertise_addr');
      return { addr: a, iface };
    }
    const iface = this.interfaces.get(adv);
    if (!iface) throw err(`advertise address ${adv}: no such interface on host ${this.name}`, 'advertise_addr');
    if (!iface.prefix) throw err(`interface ${adv} has no usable IPv4 address`, 'advertise_addr');
    return { addr: iface.prefix.addr, iface };
  }

  /** The host's on-link routes (its interfaces' subnets): dynamic pools avoid them. */
  routes(): Prefix[] {
    return [...this.interfaces.values()].filter((i) => i.prefix).map((i) => i.prefix!.masked());
  }

  /** The uplink whose subnet contains `addr`, if any (how a VTEP is reached). */
  uplinkFor(addr: number): HostInterface | null {
    for (const i of this.interfaces.values()) if (i.prefix && i.prefix.masked().contains(addr)) return i;
    return null;
  }

  /** VTEP as the topology shows it. */
  vtepInfo(): { ip: string; mac: string; port: string } | null {
    return this.vtep ? { ip: formatAddr(this.vtep.addr), mac: this.vtep.iface.mac, port: this.vtep.iface.port } : null;
  }
}
