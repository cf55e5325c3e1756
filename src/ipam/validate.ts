/**
 * Checks of a network's IPAM configuration, in the two places Docker makes
 * them and with their wording:
 *
 * 1. `cliIpamConfig`: the docker CLI (docker/cli `cli/command/network/create.go`,
 *    createIPAMConfig) pairs `--ip-range`, `--gateway` and `--aux-address` with
 *    the `--subnet` that contains them: "no matching subnet for gateway X",
 *    "no matching subnet for aux-address X", "every ip-range or gateway must
 *    have a corresponding subnet"...
 * 2. `validateIpamConfig`: the daemon (moby v28 `api/types/network/ipam.go`,
 *    ValidateIPAM): host bits set, ip-range bigger than or outside its subnet,
 *    reported under "invalid network config:".
 *
 * netwasm handles IPv4; an IPv6 value is refused as unsupported.
 */
import { InvalidParameterError, NetworkError } from '../cnm/errors.ts';
import { looksIPv6, parseAddr, parsePrefix } from './ip.ts';

/** The IPAM part of `docker network create` as the CLI takes it. */
export interface IpamFlags {
  subnets: string[];
  ipRanges: string[];
  gateways: string[];
  /** `--aux-address name=addr`, in the order given. */
  auxAddresses: [string, string][];
}

/** One consolidated IPAM config (network.IPAMConfig). */
export interface IpamConfig {
  subnet: string;
  ipRange?: string;
  gateway?: string;
  auxAddresses: Record<string, string>;
}

/** Go's net.ParseCIDR error text. */
function cidrError(s: string): NetworkError {
  return new InvalidParameterError(`invalid CIDR address: ${s}`);
}

/** docker/cli subnetMatches: does `subnet` contain the address (or CIDR's address) `data`? */
function subnetMatches(subnet: string, data: string, field: string): boolean {
  const s = parsePrefix(subnet);
  if (!s) throw new InvalidParameterError(`invalid subnet: invalid CIDR address: ${subnet}`, { field: 'subnet' });
  let ip: number | null;
  if (data.includes('/')) {
    const p = parsePrefix(data);
    if (!p) throw cidrError(data).at(field);
    ip = p.addr;
  } else {
    ip = parseAddr(data);
  }
  return ip !== null && s.contains(ip);
}

function refuseIPv6(value: string, field: string): void {
  if (looksIPv6(value)) {
    throw new InvalidParameterError(`IPv6 is not supported by netwasm: ${value}`, { field });
  }
}

/**
 * The docker CLI's createIPAMConfig. Throws InvalidParameterError (with
 * `field` set to `subnet`, `ip_range`, `gateway` or `aux_addresses.NAME`).
 */
export function cliIpamConfig(f: IpamFlags): IpamConfig[] {
  for (const s of f.subnets) refuseIPv6(s, 'subnet');
  for (const r of f.ipRanges) refuseIPv6(r, 'ip_range');
  for (const g of f.gateways) refuseIPv6(g, 'gateway');
  for (const [k, v] of f.auxAddresses) refuseIPv6(v, `aux_addresses.${k}`);
  if (f.subnets.length < f.ipRanges.length || f.subnets.length < f.gateways.length) {
    throw new InvalidParameterError('every ip-range or gateway must have a corresponding subnet', {
      field: f.gateways.length > f.subnets.length ? 'gateway' : 'ip_range',
    });
  }
  const data = new Map<string, IpamConfig>();
  for (const s of f.subnets) {
    for (const k of data.keys()) {
      if (subnetMatches(s, k, 'subnet') || subnetMatches(k, s, 'subnet')) {
        throw new InvalidParameterError('multiple overlapping subnet configuration is not supported', { field: 'subnet' });
      }
    }
    data.set(s, { subnet: s, auxAddresses: {} });
  }
  for (const r of f.ipRanges) {
    let match = false;
    for (const s of f.subnets) {
      if (!parsePrefix(r)) throw cidrError(r).at('ip_range');
      if (!subnetMatches(s, r, 'ip_range')) continue;
      const d = data.get(s)!;
      if (d.ipRange !== undefined) {
        throw new InvalidParameterError(`cannot configure multiple ranges (${r}, ${d.ipRange}) on the same subnet (${s})`, { field: 'ip_range' });
      }
      d.ipRange = r;
      match = true;
    }
    if (!match) throw new InvalidParameterError(`no matching subnet for range ${r}`, { field: 'ip_range' });
  }
  for (const g of f.gateways) {
    let match = false;
    for (const s of f.subnets) {
      if (!subnetMatches(s, g, 'gateway')) continue;
      const d = data.get(s)!;
      if (d.gateway !== undefined) {
        throw new InvalidParameterError(`cannot configure multiple gateways (${g}, ${d.gateway}) for the same subnet (${s})`, { field: 'gateway' });
      }
      d.gateway = g;
      match = true;
    }
    if (!match) throw new InvalidParameterError(`no matching subnet for gateway ${g}`, { field: 'gateway' });
  }
  for (const [key, aa] of f.auxAddresses) {
    let match = false;
    for (const s of f.subnets) {
      if (!subnetMatches(s, aa, `aux_addresses.${key}`)) continue;
      data.get(s)!.auxAddresses[key] = aa;
      match = true;
    }
    if (!match) throw new InvalidParameterError(`no matching subnet for aux-address ${aa}`, { field: `aux_addresses.${key}` });
  }
  return [...data.values()];
}

/**
 * The daemon's ValidateIPAM (v28). Throws one InvalidParameterError
 * "invalid network config:\n..." listing every problem (one per line, `* `
 * bullets when there are several, as Go's joinError prints them); `field`
 * is the first problem's.
 */
export function validateIpamConfig(configs: IpamConfig[]): void {
  const errs: { msg: string; field: string }[] = [];
  for (const cfg of configs) {
    const subnet = parsePrefix(cfg.subnet);
    if (!subnet) {
      errs.push({ msg: `invalid subnet ${cfg.subnet}: invalid CIDR block notation`, field: 'subnet' });
      continue;
    }
    if (!subnet.isMasked()) {
      errs.push({ msg: `invalid subnet ${subnet.toString()}: it should be ${subnet.masked().toString()}`, field: 'subnet' });
    }
    if (cfg.ipRange !== undefined && cfg.ipRange !== '') {
      const r = parsePrefix(cfg.ipRange);
      if (!r) {
        errs.push({ msg: `invalid ip-range ${cfg.ipRange}: invalid CIDR block notation`, field: 'ip_range' });
      } else {
        if (r.bits < subnet.bits) {
          errs.push({ msg: `invalid ip-range ${cfg.ipRange}: CIDR block is bigger than its parent subnet ${subnet.toString()}`, field: 'ip_range' });
        }
        if (!r.isMasked()) {
          errs.push({ msg: `invalid ip-range ${r.toString()}: it should be ${r.masked().toString()}`, field: 'ip_range' });
        }
        if (!subnet.masked().overlaps(r.masked())) {
          errs.push({ msg: `invalid ip-range ${cfg.ipRange}: parent subnet ${subnet.toString()} doesn't contain ip-range`, field: 'ip_range' });
        }
      }
    }
    const addrErr = (a: string): string | null => {
      const v = parseAddr(a);
      if (v === null) return 'invalid address';
      if (!subnet.contains(v)) return `parent subnet ${subnet.toString()} doesn't contain this address`;
      return null;
    };
    if (cfg.gateway !== undefined && cfg.gateway !== '') {
      const e = addrErr(cfg.gateway);
      if (e) errs.push({ msg: `invalid gateway ${cfg.gateway}: ${e}`, field: 'gateway' });
    }
    for (const [name, aux] of Object.entries(cfg.auxAddresses)) {
      const e = addrErr(aux);
      if (e) errs.push({ msg: `invalid auxiliary address ${name}: ${e}`, field: `aux_addresses.${name}` });
    }
  }
  if (errs.length === 0) return;
  const body = errs.length === 1 ? errs[0]!.msg : `* ${errs.map((e) => e.msg).join('\n* ')}`;
  throw new InvalidParameterError(`invalid network config:\n${body}`, { field: errs[0]!.field, code: 'ValidateIPAM' });
}
