/** IPv4 / IPv6 addresses as 16-byte arrays (IPv4 in the first 4 bytes), for the IPVS tables. */

export interface IpAddr {
  af: 4 | 6;
  /** 16 bytes, network order; IPv4 uses the first 4. */
  bytes: Uint8Array;
}

function parse4(s: string): Uint8Array | null {
  const parts = s.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) return null;
  return Uint8Array.from(parts.map(Number));
}

function parse6(s: string): Uint8Array | null {
  if (!/^[0-9a-fA-F:.]+$/.test(s)) return null;
  let tail4: Uint8Array | null = null;
  const lastColon = s.lastIndexOf(':');
  if (s.indexOf('.', lastColon) > 0) {
    tail4 = parse4(s.slice(lastColon + 1));
    if (!tail4) return null;
    s = s.slice(0, lastColon + 1) + '0:0';
  }
  const halves = s.split('::');
  if (halves.length > 2) return null;
  const groups = (x: string): string[] => (x === '' ? [] : x.split(':'));
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  const fill = 8 - head.length - tail.length;
  if (halves.length === 2 ? fill < 1 : fill !== 0) return null;
  const all = [...head, ...new Array<string>(halves.length === 2 ? fill : 0).fill('0'), ...tail];
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    const g = all[i]!;
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
    const v = parseInt(g, 16);
    out[i * 2] = v >> 8;
    out[i * 2 + 1] = v & 0xff;
  }
  if (tail4) out.set(tail4, 12);
  return out;
}

/** Parses "10.0.0.1" or "2001:db8::1". Throws on anything else. */
export function parseIp(s: string): IpAddr {
  const b4 = s.includes(':') ? null : parse4(s);
  if (b4) {
    const bytes = new Uint8Array(16);
    bytes.set(b4);
    return { af: 4, bytes };
  }
  const b6 = s.includes(':') ? parse6(s) : null;
  if (b6) return { af: 6, bytes: b6 };
  throw new Error(`invalid IP address "${s}"`);
}

/** Formats 16 bytes of address family af. */
export function formatIp(af: 4 | 6, b: Uint8Array): string {
  if (af === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push((b[i * 2]! << 8) | b[i * 2 + 1]!);
  // longest run of zero groups (length >= 2) becomes ::
  let best = -1, bestLen = 0;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) { best = i; bestLen = j - i; }
    i = j;
  }
  const hex = (xs: number[]): string => xs.map((x) => x.toString(16)).join(':');
  if (best < 0) return hex(g);
  return `${hex(g.slice(0, best))}::${hex(g.slice(best + bestLen))}`;
}

/** "a.b.c.d/n" or "x::/n" (no prefix = a host route). */
export function parseCidr(s: string): { addr: IpAddr; prefix: number } {
  const [a, p] = s.split('/');
  const addr = parseIp(a!);
  const max = addr.af === 4 ? 32 : 128;
  const prefix = p === undefined ? max : Number(p);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max || (p !== undefined && !/^\d+$/.test(p))) {
    throw new Error(`invalid prefix length in "${s}"`);
  }
  return { addr, prefix };
}

/** A 16-byte mask of `prefix` leading ones. */
export function prefixMask(prefix: number): Uint8Array {
  const m = new Uint8Array(16);
  for (let i = 0; i < 16; i++) {
    const bits = Math.max(0, Math.min(8, prefix - i * 8));
    m[i] = bits === 0 ? 0 : (0xff << (8 - bits)) & 0xff;
  }
  return m;
}

/** "02:42:ac:11:00:02" -> the 48-bit number with the first byte most significant. */
export function macToNumber(mac: string): number {
  const m = /^([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2}):([0-9a-f]{2})$/i.exec(mac);
  if (!m) throw new Error(`invalid MAC address "${mac}"`);
  return m.slice(1).reduce((acc, h) => acc * 256 + parseInt(h, 16), 0);
}

/** The 48-bit number back to "02:42:ac:11:00:02". */
export function numberToMac(n: number): string {
  const out: number[] = [];
  for (let i = 5; i >= 0; i--) out.push(Math.floor(n / 2 ** (i * 8)) % 256);
  return out.map((b) => b.toString(16).padStart(2, '0')).join(':');
}
