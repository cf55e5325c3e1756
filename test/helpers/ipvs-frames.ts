// Frame builders and checksum checkers for the IPVS tests (independent of the
// data plane's own checksum code). Not a test file itself.
import { parseIp } from '../../src/ipvs/addr.ts';

export const TCP = { FIN: 0x01, SYN: 0x02, RST: 0x04, PSH: 0x08, ACK: 0x10 } as const;

const mac = (s: string): number[] => s.split(':').map((h) => parseInt(h, 16));

function sum16(b: Uint8Array, from: number, to: number, acc = 0): number {
  for (let i = from; i < to; i += 2) acc += (b[i]! << 8) | (i + 1 < to ? b[i + 1]! : 0);
  return acc;
}
const fold = (s: number): number => {
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 65536);
  return s;
};

export interface FlowSpec {
  srcMac?: string;
  dstMac?: string;
  src: string;
  dst: string;
  sport: number;
  dport: number;
  proto?: 'tcp' | 'udp';
  flags?: number;
  payload?: number;
  /** Payload bytes (instead of a generated payload of `payload` bytes). */
  data?: Uint8Array;
  /** UDP over IPv4 without a checksum. */
  noUdpCsum?: boolean;
  vlan?: number;
  ttl?: number;
  id?: number;
}

/** Ethernet + IPv4/IPv6 + TCP/UDP with correct checksums. */
export function frame(f: FlowSpec): Uint8Array {
  const s = parseIp(f.src), d = parseIp(f.dst);
  if (s.af !== d.af) throw new Error('mixed families');
  const proto = f.proto ?? 'tcp';
  if (f.data) f = { ...f, payload: f.data.length };
  const l4len = (proto === 'tcp' ? 20 : 8) + (f.payload ?? 0);
  const l3len = s.af === 4 ? 20 : 40;
  const eth = f.vlan !== undefined ? 18 : 14;
  const b = new Uint8Array(Math.max(60, eth + l3len + l4len));
  const v = new DataView(b.buffer);
  b.set(mac(f.dstMac ?? '02:00:00:00:00:fe'), 0);
  b.set(mac(f.srcMac ?? '02:00:00:00:00:c1'), 6);
  if (f.vlan !== undefined) {
    v.setUint16(12, 0x8100);
    v.setUint16(14, f.vlan);
  }
  v.setUint16(eth - 2, s.af === 4 ? 0x0800 : 0x86dd);
  const ip = eth;
  const l4 = ip + l3len;
  const p = proto === 'tcp' ? 6 : 17;
  if (s.af === 4) {
    b[ip] = 0x45;
    v.setUint16(ip + 2, l3len + l4len);
    v.setUint16(ip + 4, f.id ?? 0x1234);
    v.setUint16(ip + 6, 0x4000);
    b[ip + 8] = f.ttl ?? 64;
    b[ip + 9] = p;
    b.set(s.bytes.subarray(0, 4), ip + 12);
    b.set(d.bytes.subarray(0, 4), ip + 16);
    v.setUint16(ip + 10, ~fold(sum16(b, ip, ip + 20)) & 0xffff);
  } else {
    v.setUint32(ip, 0x60000000);
    v.setUint16(ip + 4, l4len);
    b[ip + 6] = p;
    b[ip + 7] = f.ttl ?? 64;
    b.set(s.bytes, ip + 8);
    b.set(d.bytes, ip + 24);
  }
  v.setUint16(l4, f.sport);
  v.setUint16(l4 + 2, f.dport);
  if (proto === 'tcp') {
    v.setUint32(l4 + 4, 1000);
    v.setUint32(l4 + 8, (f.flags ?? TCP.SYN) & TCP.ACK ? 2000 : 0);
    b[l4 + 12] = 0x50;
    b[l4 + 13] = f.flags ?? TCP.SYN;
    v.setUint16(l4 + 14, 65535);
  } else {
    v.setUint16(l4 + 4, l4len);
  }
  for (let i = 0; i < (f.payload ?? 0); i++) b[l4 + (proto === 'tcp' ? 20 : 8) + i] = (i * 7 + f.sport) & 0xff;
  if (f.data) b.set(f.data, l4 + (proto === 'tcp' ? 20 : 8));
  if (!(proto === 'udp' && f.noUdpCsum && s.af === 4)) {
    const c = l4Checksum(b, ip, s.af, p, l4, l4len);
    v.setUint16(l4 + (proto === 'tcp' ? 16 : 6), c);
  }
  return b;
}

function pseudo(b: Uint8Array, ip: number, af: 4 | 6, proto: number, len: number): number {
  let acc = af === 4 ? sum16(b, ip + 12, ip + 20) : sum16(b, ip + 8, ip + 40);
  return acc + proto + len;
}

/** The checksum a transport header should carry (field zeroed in the computation). */
export function l4Checksum(b: Uint8Array, ip: number, af: 4 | 6, proto: number, l4: number, len: number): number {
  const off = proto === 6 ? 16 : proto === 17 ? 6 : proto === 58 ? 2 : 2;
  const saved = (b[l4 + off]! << 8) | b[l4 + off + 1]!;
  b[l4 + off] = 0;
  b[l4 + off + 1] = 0;
  const s = sum16(b, l4, l4 + len, af === 4 && proto === 1 ? 0 : pseudo(b, ip, af, proto, len));
  b[l4 + off] = saved >> 8;
  b[l4 + off + 1] = saved & 0xff;
  let c = ~fold(s) & 0xffff;
  if (proto === 17 && c === 0) c = 0xffff;
  return c;
}

export interface Parsed {
  dstMac: string;
  srcMac: string;
  af: 4 | 6;
  src: string;
  dst: string;
  proto: number;
  sport: number;
  dport: number;
  flags: number;
  ipOk: boolean;
  l4Ok: boolean;
}

const hexMac = (b: Uint8Array, o: number): string => Array.from(b.subarray(o, o + 6), (x) => x.toString(16).padStart(2, '0')).join(':');

/** Parses a frame and verifies its IPv4 header and transport checksums. */
export function parse(b: Uint8Array): Parsed {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let eth = 14;
  let et = v.getUint16(12);
  if (et === 0x8100) {
    eth = 18;
    et = v.getUint16(16);
  }
  const ip = eth;
  const af: 4 | 6 = et === 0x0800 ? 4 : 6;
  let l4: number, l4len: number, proto: number, src: string, dst: string, ipOk = true;
  if (af === 4) {
    const ihl = (b[ip]! & 15) * 4;
    ipOk = fold(sum16(b, ip, ip + ihl)) === 0xffff;
    proto = b[ip + 9]!;
    l4 = ip + ihl;
    l4len = v.getUint16(ip + 2) - ihl;
    src = Array.from(b.subarray(ip + 12, ip + 16)).join('.');
    dst = Array.from(b.subarray(ip + 16, ip + 20)).join('.');
  } else {
    proto = b[ip + 6]!;
    l4 = ip + 40;
    l4len = v.getUint16(ip + 4);
    const f6 = (o: number): string => {
      const g: string[] = [];
      for (let i = 0; i < 8; i++) g.push(v.getUint16(o + i * 2).toString(16));
      return g.join(':');
    };
    src = f6(ip + 8);
    dst = f6(ip + 24);
  }
  const off = proto === 6 ? 16 : proto === 17 ? 6 : 2;
  const have = v.getUint16(l4 + off);
  const l4Ok = proto === 17 && af === 4 && have === 0 ? true : have === l4Checksum(b, ip, af, proto, l4, l4len);
  return {
    dstMac: hexMac(b, 0), srcMac: hexMac(b, 6), af, src, dst, proto,
    sport: v.getUint16(l4), dport: v.getUint16(l4 + 2), flags: proto === 6 ? b[l4 + 13]! : 0, ipOk, l4Ok,
  };
}

/** An ARP request (who-has tip, tell sip). */
export function arpRequest(srcMac: string, sip: string, tip: string): Uint8Array {
  const b = new Uint8Array(60);
  const v = new DataView(b.buffer);
  b.fill(0xff, 0, 6);
  b.set(mac(srcMac), 6);
  v.setUint16(12, 0x0806);
  v.setUint16(14, 1);
  v.setUint16(16, 0x0800);
  b[18] = 6;
  b[19] = 4;
  v.setUint16(20, 1);
  b.set(mac(srcMac), 22);
  b.set(parseIp(sip).bytes.subarray(0, 4), 28);
  b.set(parseIp(tip).bytes.subarray(0, 4), 38);
  return b;
}

/** A neighbour solicitation for `target` from `src` (with a source link-layer address option). */
export function neighborSolicit(srcMac: string, src: string, target: string): Uint8Array {
  const t = parseIp(target).bytes;
  const b = new Uint8Array(14 + 40 + 32);
  const v = new DataView(b.buffer);
  // solicited-node multicast
  b.set([0x33, 0x33, 0xff, t[13]!, t[14]!, t[15]!], 0);
  b.set(mac(srcMac), 6);
  v.setUint16(12, 0x86dd);
  const ip = 14;
  v.setUint32(ip, 0x60000000);
  v.setUint16(ip + 4, 32);
  b[ip + 6] = 58;
  b[ip + 7] = 255;
  b.set(parseIp(src).bytes, ip + 8);
  b.set(parseIp('ff02::1:ff00:0').bytes, ip + 24);
  b.set(t.subarray(13, 16), ip + 24 + 13);
  const icmp = ip + 40;
  b[icmp] = 135;
  b.set(t, icmp + 8);
  b[icmp + 24] = 1;
  b[icmp + 25] = 1;
  b.set(mac(srcMac), icmp + 26);
  v.setUint16(icmp + 2, l4Checksum(b, ip, 6, 58, icmp, 32));
  return b;
}

/** An ICMP error (type/code) from `from` about the IPv4 packet in `quoted` (its IP header + 8 bytes). */
export function icmpError(srcMac: string, dstMac: string, from: string, to: string, type: number, code: number, quoted: Uint8Array): Uint8Array {
  const qip = 14;
  const q = quoted.subarray(qip, qip + 28);
  const b = new Uint8Array(14 + 20 + 8 + 28);
  const v = new DataView(b.buffer);
  b.set(mac(dstMac), 0);
  b.set(mac(srcMac), 6);
  v.setUint16(12, 0x0800);
  b[14] = 0x45;
  v.setUint16(16, 20 + 8 + 28);
  b[22] = 64;
  b[23] = 1;
  b.set(parseIp(from).bytes.subarray(0, 4), 26);
  b.set(parseIp(to).bytes.subarray(0, 4), 30);
  v.setUint16(24, ~fold(sum16(b, 14, 34)) & 0xffff);
  b[34] = type;
  b[35] = code;
  b.set(q, 42);
  v.setUint16(36, ~fold(sum16(b, 34, b.length)) & 0xffff);
  return b;
}

/** Whether the ICMP (v4) checksum of a frame is right. */
export function icmpOk(b: Uint8Array): boolean {
  return fold(sum16(b, 34, 14 + new DataView(b.buffer, b.byteOffset).getUint16(16))) === 0xffff;
}

/** Whether the IPv4 header checksum at offset ip is right. */
export function ipHeaderOk(b: Uint8Array, ip: number): boolean {
  return fold(sum16(b, ip, ip + (b[ip]! & 15) * 4)) === 0xffff;
}

/** A DNS query for `name` (type A), or the response to it (no answers) when `response`. */
export function dnsMessage(name: string, response = false): Uint8Array {
  const labels = name.split('.').flatMap((l) => [l.length, ...Array.from(l, (c) => c.charCodeAt(0))]);
  return Uint8Array.from([0x12, 0x34, response ? 0x81 : 0x01, response ? 0x80 : 0x00, 0, 1, 0, 0, 0, 0, 0, 0, ...labels, 0, 0, 1, 0, 1]);
}
