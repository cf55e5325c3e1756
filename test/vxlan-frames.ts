/**
 * Frame builders and checkers for the VXLAN tests, written independently of
 * the data plane (plain byte arithmetic), so the tests compare the WASM node
 * with a second reading of the RFCs, and with the kernel.
 */

export const mac = (s: string): number[] => s.split(':').map((h) => parseInt(h, 16));
export const ip4 = (s: string): number[] => s.split('.').map(Number);

/** 16 bytes of an IPv6 address (full or with one ::). */
export function ip6(s: string): number[] {
  const [a, b] = s.split('::') as [string, string | undefined];
  const ha = a ? a.split(':') : [];
  const hb = b !== undefined && b !== '' ? b.split(':') : [];
  const words = [...ha, ...Array(8 - ha.length - hb.length).fill('0'), ...hb].map((w) => parseInt(w, 16));
  return words.flatMap((w) => [w >> 8, w & 0xff]);
}

const u16 = (v: number): number[] => [(v >> 8) & 0xff, v & 0xff];

/** RFC 1071 sum (not inverted, folded) over bytes. */
export function sum16(b: ArrayLike<number>, start = 0, end = b.length, initial = 0): number {
  let s = initial;
  for (let i = start; i < end; i += 2) s += (b[i]! << 8) | (i + 1 < end ? b[i + 1]! : 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

export const csumOf = (b: ArrayLike<number>, start = 0, end = b.length, initial = 0): number => ~sum16(b, start, end, initial) & 0xffff;

/** Ethernet header (+ an optional 802.1Q tag). */
export function eth(dst: string, src: string, type: number, vlan?: number): number[] {
  return [...mac(dst), ...mac(src), ...(vlan !== undefined ? [0x81, 0x00, ...u16(vlan)] : []), ...u16(type)];
}

/** An IPv4 header with a valid checksum. */
export function ipv4Header(src: string, dst: string, proto: number, payloadLen: number, opts: { id?: number; ttl?: number; df?: boolean; options?: number[]; tos?: number; frag?: number } = {}): number[] {
  const optBytes = opts.options ?? [];
  const hl = 20 + optBytes.length;
  const h = [0x40 | (hl >> 2), opts.tos ?? 0, ...u16(hl + payloadLen), ...u16(opts.id ?? 0),
    ...u16((opts.df ? 0x4000 : 0) | (opts.frag ?? 0)), opts.ttl ?? 64, proto, 0, 0, ...ip4(src), ...ip4(dst), ...optBytes];
  const c = csumOf(h);
  h[10] = c >> 8;
  h[11] = c & 0xff;
  return h;
}

export function ipv6Header(src: string, dst: string, nh: number, payloadLen: number, hop = 64): number[] {
  return [0x60, 0, 0, 0, ...u16(payloadLen), nh, hop, ...ip6(src), ...ip6(dst)];
}

/** UDP datagram with checksum over the given pseudo header (or zero). */
export function udp(sport: number, dport: number, payload: number[], pseudo?: { src: number[]; dst: number[] }): number[] {
  const len = 8 + payload.length;
  const d = [...u16(sport), ...u16(dport), ...u16(len), 0, 0, ...payload];
  if (pseudo) {
    const ph = [...pseudo.src, ...pseudo.dst, 0, 17, ...u16(len)];
    const ph6 = pseudo.src.length === 16 ? [...pseudo.src, ...pseudo.dst, 0, 0, ...u16(len), 0, 0, 0, 17] : ph;
    let c = csumOf(d, 0, d.length, sum16(ph6));
    if (c === 0) c = 0xffff;
    d[6] = c >> 8;
    d[7] = c & 0xff;
  }
  return d;
}

export function vxlanHeader(vni: number, flags = 0x08, reserved: number[] = [0, 0, 0], reserved2 = 0): number[] {
  return [flags, ...reserved, (vni >> 16) & 0xff, (vni >> 8) & 0xff, vni & 0xff, reserved2];
}

export interface OuterOpts {
  dstMac: string;
  srcMac: string;
  src: string;
  dst: string;
  vni: number;
  sport?: number;
  dport?: number;
  /** Compute the UDP checksum (always over IPv6 unless zeroCsum). */
  csum?: boolean;
  zeroCsum?: boolean;
  vlan?: number;
  ipOptions?: number[];
  flags?: number;
  reserved?: number[];
  id?: number;
  df?: boolean;
}

/** A complete VXLAN frame: outer Ethernet / IPv4 or IPv6 / UDP / VXLAN / inner. */
export function vxlanFrame(o: OuterOpts, inner: number[]): Uint8Array {
  const v6 = o.src.includes(':');
  const payload = [...vxlanHeader(o.vni, o.flags ?? 0x08, o.reserved ?? [0, 0, 0]), ...inner];
  const srcB = v6 ? ip6(o.src) : ip4(o.src);
  const dstB = v6 ? ip6(o.dst) : ip4(o.dst);
  const wantCsum = v6 ? !o.zeroCsum : !!o.csum;
  const u = udp(o.sport ?? 50000, o.dport ?? 4789, payload, wantCsum ? { src: srcB, dst: dstB } : undefined);
  const ip = v6 ? ipv6Header(o.src, o.dst, 17, u.length) : ipv4Header(o.src, o.dst, 17, u.length, { options: o.ipOptions, id: o.id ?? 1, df: o.df });
  return Uint8Array.from([...eth(o.dstMac, o.srcMac, v6 ? 0x86dd : 0x0800, o.vlan), ...ip, ...u]);
}

/** An ARP request (42 bytes, or padded to 60). */
export function arpRequest(srcMac: string, srcIp: string, targetIp: string, pad = false): Uint8Array {
  const f = [...eth('ff:ff:ff:ff:ff:ff', srcMac, 0x0806), 0, 1, 8, 0, 6, 4, 0, 1, ...mac(srcMac), ...ip4(srcIp), 0, 0, 0, 0, 0, 0, ...ip4(targetIp)];
  while (pad && f.length < 60) f.push(0);
  return Uint8Array.from(f);
}

/** An ICMP echo request inside Ethernet/IPv4, `size` bytes of frame in all. */
export function icmpEcho(dstMac: string, srcMac: string, src: string, dst: string, size = 98, seq = 1, id = 0x4e57): Uint8Array {
  const dataLen = size - 14 - 20 - 8;
  const icmp = [8, 0, 0, 0, ...u16(id), ...u16(seq)];
  for (let i = 0; i < dataLen; i++) icmp.push((i * 7 + seq) & 0xff);
  const c = csumOf(icmp);
  icmp[2] = c >> 8;
  icmp[3] = c & 0xff;
  return Uint8Array.from([...eth(dstMac, srcMac, 0x0800), ...ipv4Header(src, dst, 1, icmp.length, { id: seq }), ...icmp]);
}

/** A UDP/IPv4 frame between two ports (for flow hashing). */
export function udpFrame(dstMac: string, srcMac: string, src: string, dst: string, sport: number, dport: number, size = 64): Uint8Array {
  const payload = Array.from({ length: size - 42 }, (_, i) => (i * 13 + sport) & 0xff);
  const u = udp(sport, dport, payload, { src: ip4(src), dst: ip4(dst) });
  return Uint8Array.from([...eth(dstMac, srcMac, 0x0800), ...ipv4Header(src, dst, 17, u.length), ...u]);
}

export interface ParsedOuter {
  dstMac: string;
  srcMac: string;
  vlan?: number;
  v6: boolean;
  src: string;
  dst: string;
  ttl: number;
  df: boolean;
  id: number;
  sport: number;
  dport: number;
  udpLen: number;
  udpCsum: number;
  ipCsumOk: boolean;
  udpCsumOk: boolean | null;
  flags: number;
  vni: number;
  inner: Uint8Array;
}

const macStr = (b: Uint8Array, o: number): string => Array.from(b.subarray(o, o + 6), (x) => x.toString(16).padStart(2, '0')).join(':');

/** Parses an outer VXLAN frame (throws on anything unexpected) and checks its checksums. */
export function parseOuter(f: Uint8Array): ParsedOuter {
  const dv = new DataView(f.buffer, f.byteOffset, f.byteLength);
  let o = 12;
  let vlan: number | undefined;
  if (dv.getUint16(12) === 0x8100) {
    vlan = dv.getUint16(14) & 0xfff;
    o = 16;
  }
  const et = dv.getUint16(o);
  const l3 = o + 2;
  const v6 = et === 0x86dd;
  if (!v6 && et !== 0x0800) throw new Error(`not IP: 0x${et.toString(16)}`);
  let l4: number, src: string, dst: string, ttl: number, df = false, id = 0, ipCsumOk = true, pseudo: number;
  let end: number;
  if (v6) {
    if (f[l3]! >> 4 !== 6) throw new Error('bad IPv6 version');
    end = l3 + 40 + dv.getUint16(l3 + 4);
    if (f[l3 + 6] !== 17) throw new Error('not UDP');
    ttl = f[l3 + 7]!;
    src = Array.from({ length: 8 }, (_, i) => dv.getUint16(l3 + 8 + i * 2).toString(16)).join(':');
    dst = Array.from({ length: 8 }, (_, i) => dv.getUint16(l3 + 24 + i * 2).toString(16)).join(':');
    l4 = l3 + 40;
    pseudo = sum16(f, l3 + 8, l3 + 40, 17 + (end - l4));
  } else {
    const hl = (f[l3]! & 0xf) * 4;
    end = l3 + dv.getUint16(l3 + 2);
    if (f[l3 + 9] !== 17) throw new Error('not UDP');
    ttl = f[l3 + 8]!;
    df = (dv.getUint16(l3 + 6) & 0x4000) !== 0;
    id = dv.getUint16(l3 + 4);
    ipCsumOk = sum16(f, l3, l3 + hl) === 0xffff;
    src = Array.from(f.subarray(l3 + 12, l3 + 16)).join('.');
    dst = Array.from(f.subarray(l3 + 16, l3 + 20)).join('.');
    l4 = l3 + hl;
    pseudo = sum16(f, l3 + 12, l3 + 20, 17 + (end - l4));
  }
  if (end !== f.length) throw new Error(`IP length ${end} != frame length ${f.length}`);
  const udpLen = dv.getUint16(l4 + 4);
  if (udpLen !== end - l4) throw new Error(`UDP length ${udpLen} != ${end - l4}`);
  const udpCsum = dv.getUint16(l4 + 6);
  const udpCsumOk = udpCsum === 0 ? null : sum16(f, l4, end, pseudo) === 0xffff;
  return {
    dstMac: macStr(f, 0), srcMac: macStr(f, 6), ...(vlan !== undefined ? { vlan } : {}), v6, src, dst, ttl, df, id,
    sport: dv.getUint16(l4), dport: dv.getUint16(l4 + 2), udpLen, udpCsum, ipCsumOk, udpCsumOk,
    flags: f[l4 + 8]!, vni: (f[l4 + 12]! << 16) | (f[l4 + 13]! << 8) | f[l4 + 14]!, inner: f.slice(l4 + 16, end),
  };
}

export const hex = (b: ArrayLike<number>): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

/** First difference of two frames, as a readable message (or '' when equal). */
export function frameDiff(a: Uint8Array, b: Uint8Array): string {
  if (a.length !== b.length) return `length ${a.length} != ${b.length}`;
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) return `byte ${i}: ${hex(a.subarray(i, i + 16))} != ${hex(b.subarray(i, i + 16))}`;
  }
  return '';
}
