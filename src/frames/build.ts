/**
 * Building frames by hand: Ethernet, 802.1Q, ARP, IPv4, ICMP echo, UDP and
 * TCP with correct lengths and checksums. For test rigs, scenarios and the
 * bundled demo captures.
 *
 * ```ts
 * const f = ether('ff:ff:ff:ff:ff:ff', '02:42:ac:11:00:02', ETH_ARP, arpRequest('02:42:ac:11:00:02', '172.17.0.2', '172.17.0.3'));
 * ```
 */

import { parseMac, parseIp4 } from '../dataplane/dataplane.ts';

export const ETH_IPV4 = 0x0800;
export const ETH_ARP = 0x0806;
export const ETH_VLAN = 0x8100;

/** "02:00:00:00:00:01" -> 6 bytes (the Dataplane's parser). */
export const mac = parseMac;
/** "10.0.0.1" -> 4 bytes (the Dataplane's parser). */
export const ip4 = parseIp4;

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

/** RFC 1071 checksum of `data` (plus an initial partial sum). */
export function inetChecksum(data: Uint8Array, initial = 0): number {
  let sum = initial;
  for (let i = 0; i + 1 < data.length; i += 2) sum += (data[i]! << 8) | data[i + 1]!;
  if (data.length & 1) sum += data[data.length - 1]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** An Ethernet frame, padded to the 60-byte minimum. */
export function ether(dst: string, src: string, type: number, payload: Uint8Array, opts: { vlan?: number; pcp?: number } = {}): Uint8Array {
  const tag = opts.vlan !== undefined
    ? Uint8Array.of(ETH_VLAN >> 8, ETH_VLAN & 0xff, (((opts.pcp ?? 0) << 5) | (opts.vlan >> 8)) & 0xff, opts.vlan & 0xff)
    : new Uint8Array(0);
  const f = concat(mac(dst), mac(src), tag, Uint8Array.of(type >> 8, type & 0xff), payload);
  if (f.length >= 60) return f;
  const padded = new Uint8Array(60);
  padded.set(f);
  return padded;
}

function arp(op: number, sha: string, spa: string, tha: string, tpa: string): Uint8Array {
  return concat(Uint8Array.of(0, 1, 8, 0, 6, 4, 0, op), mac(sha), ip4(spa), mac(tha), ip4(tpa));
}

/** ARP request payload: who has `target`? tell `senderIp`. */
export function arpRequest(senderMac: string, senderIp: string, target: string): Uint8Array {
  return arp(1, senderMac, senderIp, '00:00:00:00:00:00', target);
}

/** ARP reply payload. */
export function arpReply(senderMac: string, senderIp: string, targetMac: string, targetIp: string): Uint8Array {
  return arp(2, senderMac, senderIp, targetMac, targetIp);
}

/** An IPv4 packet with a correct header checksum. */
export function ipv4(src: string, dst: string, proto: number, payload: Uint8Array, opts: { ttl?: number; id?: number; df?: boolean; tos?: number } = {}): Uint8Array {
  const h = new Uint8Array(20);
  const len = 20 + payload.length;
  h[0] = 0x45; h[1] = opts.tos ?? 0;
  h[2] = len >> 8; h[3] = len & 0xff;
  const id = opts.id ?? 0;
  h[4] = id >> 8; h[5] = id & 0xff;
  h[6] = opts.df === false ? 0 : 0x40;
  h[8] = opts.ttl ?? 64; h[9] = proto;
  h.set(ip4(src), 12); h.set(ip4(dst), 16);
  const c = inetChecksum(h);
  h[10] = c >> 8; h[11] = c & 0xff;
  return concat(h, payload);
}

/** ICMP echo request (type 8) or reply (type 0). */
export function icmpEcho(type: 0 | 8, id: number, seq: number, data: Uint8Array = new Uint8Array(32)): Uint8Array {
  const m = concat(Uint8Array.of(type, 0, 0, 0, id >> 8, id & 0xff, seq >> 8, seq & 0xff), data);
  const c = inetChecksum(m);
  m[2] = c >> 8; m[3] = c & 0xff;
  return m;
}

function pseudo(src: string, dst: string, proto: number, len: number): number {
  const p = concat(ip4(src), ip4(dst), Uint8Array.of(0, proto, len >> 8, len & 0xff));
  let sum = 0;
  for (let i = 0; i < p.length; i += 2) sum += (p[i]! << 8) | p[i + 1]!;
  return sum;
}

/** A UDP datagram with its checksum over the IPv4 pseudo-header. */
export function udp(src: string, dst: string, sport: number, dport: number, data: Uint8Array): Uint8Array {
  const len = 8 + data.length;
  const u = concat(Uint8Array.of(sport >> 8, sport & 0xff, dport >> 8, dport & 0xff, len >> 8, len & 0xff, 0, 0), data);
  const c = inetChecksum(u, pseudo(src, dst, 17, len)) || 0xffff;
  u[6] = c >> 8; u[7] = c & 0xff;
  return u;
}

export const TCP_FIN = 1, TCP_SYN = 2, TCP_RST = 4, TCP_PSH = 8, TCP_ACK = 16;

/** A TCP segment (20-byte header) with its checksum over the IPv4 pseudo-header. */
export function tcp(src: string, dst: string, sport: number, dport: number, seq: number, ack: number, flags: number, data: Uint8Array = new Uint8Array(0), win = 64240): Uint8Array {
  const t = new Uint8Array(20 + data.length);
  const dv = new DataView(t.buffer);
  dv.setUint16(0, sport); dv.setUint16(2, dport);
  dv.setUint32(4, seq >>> 0); dv.setUint32(8, ack >>> 0);
  t[12] = 5 << 4; t[13] = flags;
  dv.setUint16(14, win);
  t.set(data, 20);
  dv.setUint16(16, inetChecksum(t, pseudo(src, dst, 6, t.length)));
  return t;
}
