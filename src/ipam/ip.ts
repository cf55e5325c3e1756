/**
 * IPv4 addresses and prefixes as unsigned 32-bit numbers, with Go's `netip`
 * parsing rules (dotted quad, no leading zeros, prefix length 0..32), which is
 * what Docker parses `--subnet`, `--ip` and friends with.
 *
 * @example
 * const p = parsePrefix('172.17.0.0/16')!;
 * formatAddr(p.first() + 1); // '172.17.0.1'
 */

/** Parses a dotted-quad IPv4 address; null if it is not one. */
export function parseAddr(s: string): number | null {
  const parts = s.split('.');
  if (parts.length !== 4) return null;
  let v = 0;
  for (const p of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return null;
    const n = Number(p);
    if (n > 255) return null;
    v = v * 256 + n;
  }
  return v >>> 0;
}

/** True if `s` looks like an IPv6 address (we report IPv6 as unsupported rather than malformed). */
export function looksIPv6(s: string): boolean {
  return s.includes(':');
}

/** Formats a 32-bit number as a dotted quad. */
export function formatAddr(a: number): string {
  return `${(a >>> 24) & 255}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;
}

/** Network mask of a prefix length, as a 32-bit number. */
export function maskOf(bits: number): number {
  return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
}

/** An IPv4 prefix: an address (host bits may be set, as in `192.0.2.1/24`) and a length. */
export class Prefix {
  readonly addr: number;
  readonly bits: number;

  constructor(addr: number, bits: number) {
    this.addr = addr >>> 0;
    this.bits = bits;
  }

  /** The prefix with host bits cleared. */
  masked(): Prefix {
    return new Prefix(this.first(), this.bits);
  }

  /** True if the host bits are all zero. */
  isMasked(): boolean {
    return this.addr === this.first();
  }

  /** First address (network address). */
  first(): number {
    return (this.addr & maskOf(this.bits)) >>> 0;
  }

  /** Last address (broadcast address). */
  last(): number {
    return (this.first() + this.size() - 1) >>> 0;
  }

  /** Number of addresses. */
  size(): number {
    return 2 ** (32 - this.bits);
  }

  contains(a: number): boolean {
    return a >>> 0 >= this.first() && a >>> 0 <= this.last();
  }

  /** True if the two prefixes share at least one address. */
  overlaps(o: Prefix): boolean {
    return this.first() <= o.last() && o.first() <= this.last();
  }

  /** True if `o` lies entirely within this prefix. */
  covers(o: Prefix): boolean {
    return this.first() <= o.first() && o.last() <= this.last();
  }

  equals(o: Prefix): boolean {
    return this.addr === o.addr && this.bits === o.bits;
  }

  /** `a.b.c.d/n`, keeping host bits as given. */
  toString(): string {
    return `${formatAddr(this.addr)}/${this.bits}`;
  }
}

/** Parses `a.b.c.d/n` (netip.ParsePrefix rules); null if malformed. */
export function parsePrefix(s: string): Prefix | null {
  const slash = s.indexOf('/');
  if (slash < 0) return null;
  const a = parseAddr(s.slice(0, slash));
  const b = s.slice(slash + 1);
  if (a === null || !/^(0|[1-9][0-9]?)$/.test(b)) return null;
  const bits = Number(b);
  if (bits > 32) return null;
  return new Prefix(a, bits);
}

/** Orders prefixes by address, then by length (netiputil.PrefixCompare). */
export function comparePrefix(a: Prefix, b: Prefix): number {
  if (a.first() !== b.first()) return a.first() < b.first() ? -1 : 1;
  return a.bits - b.bits;
}
