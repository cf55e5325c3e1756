// Checks the committed kernel captures in fixtures/captures/ (made by
// fixtures/make-captures.sh): they exist, parse, hold the traffic the README
// promises, and agree with each other (pcap vs pcapng vs ns twins, VXLAN
// outer vs inner). The byte-level checks need nothing but node; the
// dissector checks run when tshark is installed and are skipped otherwise.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { hasCommand, hostTest, ifName, netnsName, NetnsSet, run, sh } from './helpers/netns.ts';

const DIR = fileURLToPath(new URL('../fixtures/captures/', import.meta.url));

const MAC_A = '02:00:00:00:00:0a';
const MAC_B = '02:00:00:00:00:0b';
const VXMAC_A = '02:00:00:00:01:0a';
const VXMAC_B = '02:00:00:00:01:0b';
const BCAST_MAC = 'ff:ff:ff:ff:ff:ff';
const IP_A = '10.10.0.1';
const IP_B = '10.10.0.2';
const VXIP_A = '10.20.0.1';
const VXIP_B = '10.20.0.2';
const VNI = 4096;
const VXLAN_PORT = 4789;
const TCP_PORT = 8080;
const TCP_A_TO_B = 4000; // bytes the client sends
const TCP_B_TO_A = 1000; // bytes the server answers
const ICMP_IDENT = 0x4e57;

type Format = 'pcap' | 'pcap-ns' | 'pcapng';
const FILES: Record<string, Format> = {
  'arp.pcap': 'pcap',
  'icmp.pcap': 'pcap',
  'icmp-ns.pcap': 'pcap-ns',
  'icmp.pcapng': 'pcapng',
  'broadcast.pcap': 'pcap',
  'tcp.pcap': 'pcap',
  'tcp.pcapng': 'pcapng',
  'ipv6-nd.pcap': 'pcap',
  'vxlan.pcap': 'pcap',
  'vxlan.pcapng': 'pcapng',
  'vxlan-inner.pcap': 'pcap',
  'mixed.pcapng': 'pcapng',
};
const PHASES = ['arp.pcap', 'icmp.pcap', 'broadcast.pcap', 'tcp.pcap', 'ipv6-nd.pcap', 'vxlan.pcap'];

// ------------------------------------------------- minimal capture reader
// Deliberately independent of src/pcap so that the fixtures also check it.

interface Frame {
  tsNs: bigint;
  origLen: number;
  data: Uint8Array;
}
interface Capture {
  format: Format;
  linktypes: number[];
  frames: Frame[];
}

function readCapture(path: string): Capture {
  const buf = readFileSync(path);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const magicBE = dv.getUint32(0, false);
  if (magicBE === 0x0a0d0d0a) return readPcapng(buf, dv);
  let le: boolean;
  let ns: boolean;
  if (magicBE === 0xd4c3b2a1 || magicBE === 0x4d3cb2a1) le = true;
  else if (magicBE === 0xa1b2c3d4 || magicBE === 0xa1b23c4d) le = false;
  else throw new Error(`${path}: unknown magic 0x${magicBE.toString(16)}`);
  ns = dv.getUint32(0, le) === 0xa1b23c4d;
  assert.is(dv.getUint16(4, le), 2, 'pcap major version');
  assert.is(dv.getUint16(6, le), 4, 'pcap minor version');
  const linktype = dv.getUint32(20, le) & 0x0fffffff;
  const frames: Frame[] = [];
  let off = 24;
  while (off < buf.length) {
    assert.ok(off + 16 <= buf.length, `${path}: truncated record header at ${off}`);
    const sec = BigInt(dv.getUint32(off, le));
    const frac = BigInt(dv.getUint32(off + 4, le));
    const incl = dv.getUint32(off + 8, le);
    const orig = dv.getUint32(off + 12, le);
    assert.ok(off + 16 + incl <= buf.length, `${path}: truncated record at ${off}`);
    frames.push({ tsNs: sec * 1_000_000_000n + (ns ? frac : frac * 1000n), origLen: orig, data: buf.subarray(off + 16, off + 16 + incl) });
    off += 16 + incl;
  }
  return { format: ns ? 'pcap-ns' : 'pcap', linktypes: [linktype], frames };
}

function readPcapng(buf: Buffer, dv: DataView): Capture {
  const le = dv.getUint32(8, true) === 0x1a2b3c4d;
  const ifaces: Array<{ linktype: number; unitsPerSec: bigint }> = [];
  const frames: Frame[] = [];
  let off = 0;
  while (off < buf.length) {
    const type = dv.getUint32(off, le);
    const len = dv.getUint32(off + 4, le);
    assert.ok(len >= 12 && len % 4 === 0 && off + len <= buf.length, `pcapng: bad block length ${len} at ${off}`);
    assert.is(dv.getUint32(off + len - 4, le), len, `pcapng: trailing length of block at ${off}`);
    if (type === 0x0a0d0d0a) {
      assert.is(dv.getUint32(off + 8, le), 0x1a2b3c4d, 'pcapng byte-order magic');
      assert.is(dv.getUint16(off + 12, le), 1, 'pcapng major version');
    } else if (type === 1) {
      let unitsPerSec = 1_000_000n;
      for (let o = off + 16; o + 4 <= off + len - 4; ) {
        const code = dv.getUint16(o, le);
        const olen = dv.getUint16(o + 2, le);
        if (code === 0) break;
        if (code === 9) {
          const v = dv.getUint8(o + 4);
          unitsPerSec = v & 0x80 ? 1n << BigInt(v & 0x7f) : 10n ** BigInt(v);
        }
        o += 4 + ((olen + 3) & ~3);
      }
      ifaces.push({ linktype: dv.getUint16(off + 8, le), unitsPerSec });
    } else if (type === 6) {
      const iface = ifaces[dv.getUint32(off + 8, le)];
      assert.ok(iface, 'EPB refers to a known interface');
      const ticks = (BigInt(dv.getUint32(off + 12, le)) << 32n) | BigInt(dv.getUint32(off + 16, le));
      const cap = dv.getUint32(off + 20, le);
      const orig = dv.getUint32(off + 24, le);
      assert.ok(28 + cap <= len, 'EPB captured length fits the block');
      frames.push({ tsNs: (ticks * 1_000_000_000n) / iface.unitsPerSec, origLen: orig, data: buf.subarray(off + 28, off + 28 + cap) });
    } else if (type === 3) {
      throw new Error('unexpected simple packet block');
    }
    off += len;
  }
  return { format: 'pcapng', linktypes: ifaces.map((i) => i.linktype), frames };
}

const cache = new Map<string, Capture>();
function cap(name: string): Capture {
  let c = cache.get(name);
  if (!c) cache.set(name, (c = readCapture(DIR + name)));
  return c;
}

// ------------------------------------------------------ byte-level helpers

const hex = (d: Uint8Array) => Buffer.from(d).toString('hex');
const mac = (d: Uint8Array, o: number) => [...d.subarray(o, o + 6)].map((b) => b.toString(16).padStart(2, '0')).join(':');
const ip4 = (d: Uint8Array, o: number) => [...d.subarray(o, o + 4)].join('.');
const u16 = (d: Uint8Array, o: number) => ((d[o] ?? 0) << 8) | (d[o + 1] ?? 0);
const u32 = (d: Uint8Array, o: number) => (u16(d, o) * 0x10000 + u16(d, o + 2)) >>> 0;
const ethertype = (f: Frame) => u16(f.data, 12);

function onesSum(parts: Uint8Array[]): number {
  let s = 0;
  for (const p of parts) {
    for (let i = 0; i < p.length; i += 2) s += ((p[i] ?? 0) << 8) | (p[i + 1] ?? 0);
  }
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

/** Verify IPv4 header and L4 checksums of an IPv4-in-Ethernet packet at `o`
 *  (recursing into VXLAN). Returns the number of checksums checked. */
function checkIpv4(d: Uint8Array, o: number, where: string): number {
  const ihl = ((d[o] ?? 0) & 0x0f) * 4;
  const total = u16(d, o + 2);
  assert.ok(o + total <= d.length, `${where}: IPv4 total length within the frame`);
  assert.is(onesSum([d.subarray(o, o + ihl)]), 0xffff, `${where}: IPv4 header checksum`);
  const proto = d[o + 9];
  const l4 = d.subarray(o + ihl, o + total);
  const pseudo = new Uint8Array(12);
  pseudo.set(d.subarray(o + 12, o + 20), 0);
  pseudo[9] = proto ?? 0;
  pseudo[10] = l4.length >> 8;
  pseudo[11] = l4.length & 0xff;
  let n = 1;
  if (proto === 1) {
    assert.is(onesSum([l4]), 0xffff, `${where}: ICMP checksum`);
    n++;
  } else if (proto === 6) {
    assert.is(onesSum([pseudo, l4]), 0xffff, `${where}: TCP checksum`);
    n++;
  } else if (proto === 17) {
    if (u16(l4, 6) !== 0) {
      assert.is(onesSum([pseudo, l4]), 0xffff, `${where}: UDP checksum`);
      n++;
    }
    if (u16(l4, 2) === VXLAN_PORT) {
      const inner = l4.subarray(16);
      if (u16(inner, 12) === 0x0800) n += checkIpv4(inner, 14, `${where} (inner)`);
    }
  }
  return n;
}

/** Ethernet + IPv4 + UDP + VXLAN header lengths for an outer frame. */
function vxlanInner(f: Frame): { vni: number; flags: number; inner: Uint8Array; sport: number; dport: number } {
  const d = f.data;
  assert.is(ethertype(f), 0x0800, 'outer ethertype IPv4');
  const ihl = ((d[14] ?? 0) & 0x0f) * 4;
  assert.is(d[14 + 9], 17, 'outer IP protocol UDP');
  const udp = 14 + ihl;
  const vx = udp + 8;
  return {
    sport: u16(d, udp),
    dport: u16(d, udp + 2),
    flags: d[vx] ?? 0,
    vni: u32(d, vx + 4) >>> 8,
    inner: d.subarray(vx + 8),
  };
}

// ================================================================== files

const Files = suite('fixtures: committed captures');

Files('every capture exists, is small, has the right format and Ethernet link type', () => {
  for (const [name, format] of Object.entries(FILES)) {
    const path = DIR + name;
    assert.ok(existsSync(path), `${name} exists (run: bash fixtures/make-captures.sh)`);
    const size = statSync(path).size;
    assert.ok(size > 100 && size < 64 * 1024, `${name}: ${size} bytes is small but not empty`);
    const c = cap(name);
    assert.is(c.format, format, `${name} format`);
    assert.ok(c.linktypes.length >= 1, `${name} has an interface`);
    for (const lt of c.linktypes) assert.is(lt, 1, `${name}: LINKTYPE_ETHERNET`);
    assert.ok(c.frames.length >= 3 && c.frames.length <= 100, `${name}: ${c.frames.length} frames`);
    let prev = 0n;
    for (const [i, f] of c.frames.entries()) {
      assert.is(f.data.length, f.origLen, `${name}#${i + 1} not truncated`);
      assert.ok(f.data.length >= 42 && f.data.length <= 1514, `${name}#${i + 1}: ${f.data.length} bytes is one MTU-sized frame`);
      assert.ok(f.tsNs >= prev, `${name}#${i + 1}: timestamps do not go backwards`);
      assert.ok(f.tsNs > 1_500_000_000n * 1_000_000_000n, `${name}#${i + 1}: plausible timestamp`);
      prev = f.tsNs;
    }
  }
});

Files('every IPv4 header, ICMP, TCP and UDP checksum is valid (offloads were off)', () => {
  for (const name of Object.keys(FILES)) {
    let checked = 0;
    for (const [i, f] of cap(name).frames.entries()) {
      if (ethertype(f) === 0x0800) checked += checkIpv4(f.data, 14, `${name}#${i + 1}`);
    }
    if (name !== 'ipv6-nd.pcap') assert.ok(checked > 0, `${name}: checked ${checked} checksums`);
  }
});

Files('arp.pcap: broadcast who-has from A, unicast is-at from B, then the ping it resolved', () => {
  const fr = cap('arp.pcap').frames;
  const arp = fr.filter((f) => ethertype(f) === 0x0806);
  assert.is(arp.length, 2);
  const [req, rep] = arp.map((f) => f.data) as [Uint8Array, Uint8Array];
  assert.is(u16(req, 14 + 6), 1, 'first ARP is a request');
  assert.is(mac(req, 0), BCAST_MAC);
  assert.is(mac(req, 6), MAC_A);
  assert.is(ip4(req, 14 + 14), IP_A, 'sender protocol address');
  assert.is(ip4(req, 14 + 24), IP_B, 'target protocol address');
  assert.is(u16(rep, 14 + 6), 2, 'second ARP is a reply');
  assert.is(mac(rep, 0), MAC_A);
  assert.is(mac(rep, 6), MAC_B);
  assert.is(mac(rep, 14 + 8), MAC_B, 'sender hardware address');
  assert.is(ip4(rep, 14 + 14), IP_B);
  const icmp = fr.filter((f) => ethertype(f) === 0x0800 && f.data[23] === 1);
  assert.equal(icmp.map((f) => f.data[34]), [8, 0], 'echo request then reply');
  assert.ok(fr.indexOf(icmp[0]!) > fr.indexOf(arp[1]!), 'the echo request waits for the ARP reply');
});

Files('icmp.pcap: echo request/reply pairs with a fixed identifier and payload', () => {
  const fr = cap('icmp.pcap').frames;
  assert.ok(fr.length >= 6 && fr.length % 2 === 0);
  for (const [i, f] of fr.entries()) {
    const d = f.data;
    assert.is(ethertype(f), 0x0800);
    assert.is(d[23], 1, 'IP protocol ICMP');
    const req = i % 2 === 0;
    assert.is(d[34], req ? 8 : 0, `frame ${i + 1} type`);
    assert.is(ip4(d, 26), req ? IP_A : IP_B);
    assert.is(ip4(d, 30), req ? IP_B : IP_A);
    assert.is(mac(d, 6), req ? MAC_A : MAC_B);
    assert.is(u16(d, 38), ICMP_IDENT);
    assert.is(u16(d, 40), (i >> 1) + 1, 'sequence number');
    assert.is(Buffer.from(d.subarray(42)).toString('latin1'), 'netwasm-fixture!'.repeat(4).slice(0, 56));
  }
});

Files('icmp-ns.pcap is the same traffic with nanosecond timestamps', () => {
  const us = cap('icmp.pcap').frames;
  const ns = cap('icmp-ns.pcap').frames;
  assert.is(ns.length, us.length);
  let subMicro = 0;
  for (let i = 0; i < us.length; i++) {
    assert.is(hex(ns[i]!.data), hex(us[i]!.data), `frame ${i + 1} bytes`);
    const diff = ns[i]!.tsNs - us[i]!.tsNs;
    assert.ok(diff > -1_000_000n && diff < 1_000_000n, `frame ${i + 1} timestamps within 1 ms`);
    if (ns[i]!.tsNs % 1000n !== 0n) subMicro++;
  }
  assert.ok(subMicro > 0, 'nanosecond file carries sub-microsecond digits');
});

Files('pcapng twins hold exactly the frames and timestamps of their pcap', () => {
  for (const base of ['icmp', 'tcp', 'vxlan']) {
    const a = cap(`${base}.pcap`).frames;
    const b = cap(`${base}.pcapng`).frames;
    assert.is(b.length, a.length, `${base}: frame count`);
    for (let i = 0; i < a.length; i++) {
      assert.is(hex(b[i]!.data), hex(a[i]!.data), `${base}#${i + 1} bytes`);
      assert.is(b[i]!.tsNs, a[i]!.tsNs, `${base}#${i + 1} timestamp`);
    }
  }
});

Files('broadcast.pcap: UDP datagrams to 10.10.0.255 sent to ff:ff:ff:ff:ff:ff by both hosts', () => {
  const fr = cap('broadcast.pcap').frames;
  const senders = new Set<string>();
  for (const f of fr) {
    const d = f.data;
    assert.is(mac(d, 0), BCAST_MAC);
    assert.is(d[23], 17, 'UDP');
    assert.is(ip4(d, 30), '10.10.0.255');
    assert.is(u16(d, 36), 9999, 'destination port');
    assert.match(Buffer.from(d.subarray(42)).toString('latin1'), /^netwasm broadcast \d from [AB]$/);
    senders.add(`${mac(d, 6)} ${ip4(d, 26)}`);
  }
  assert.equal([...senders].sort(), [`${MAC_A} ${IP_A}`, `${MAC_B} ${IP_B}`]);
});

Files('tcp.pcap: one connection, handshake, 4000 + 1000 bytes of data, FIN both ways', () => {
  const fr = cap('tcp.pcap').frames;
  const segs = fr.map((f) => {
    const d = f.data;
    assert.is(d[23], 6, 'TCP');
    const ihl = ((d[14] ?? 0) & 0x0f) * 4;
    const t = 14 + ihl;
    const doff = ((d[t + 12] ?? 0) >> 4) * 4;
    return {
      fromA: ip4(d, 26) === IP_A,
      sport: u16(d, t),
      dport: u16(d, t + 2),
      flags: d[t + 13] ?? 0,
      len: u16(d, 16) - ihl - doff,
      payload: d.subarray(t + doff, 14 + u16(d, 16)),
    };
  });
  const SYN = 0x02, ACK = 0x10, FIN = 0x01, RST = 0x04;
  assert.is(segs[0]!.flags, SYN, 'first segment is a bare SYN');
  assert.ok(segs[0]!.fromA && segs[0]!.dport === TCP_PORT);
  assert.is(segs[1]!.flags, SYN | ACK, 'then SYN/ACK');
  assert.ok(!segs[1]!.fromA && segs[1]!.sport === TCP_PORT);
  assert.is(segs[2]!.flags & (SYN | ACK), ACK, 'then the final handshake ACK');
  const ports = new Set(segs.map((s) => (s.fromA ? s.sport : s.dport)));
  assert.is(ports.size, 1, 'a single client port');
  assert.ok(segs.every((s) => (s.flags & RST) === 0), 'no RST');
  const sum = (fromA: boolean) => segs.filter((s) => s.fromA === fromA).reduce((n, s) => n + s.len, 0);
  assert.is(sum(true), TCP_A_TO_B, 'client payload bytes');
  assert.is(sum(false), TCP_B_TO_A, 'server payload bytes');
  // the payload is the script's fixed pattern
  const a = Buffer.concat(segs.filter((s) => s.fromA && s.len > 0).map((s) => s.payload));
  assert.ok(a.every((b, i) => b === (i & 0xff)), 'client payload pattern');
  const b = Buffer.concat(segs.filter((s) => !s.fromA && s.len > 0).map((s) => s.payload));
  assert.ok(b.every((x, i) => x === ((i * 7 + 3) & 0xff)), 'server payload pattern');
  assert.ok(segs.some((s) => s.fromA && s.flags & FIN), 'client FIN');
  assert.ok(segs.some((s) => !s.fromA && s.flags & FIN), 'server FIN');
  assert.ok(segs.some((s) => s.len === 1448), 'full-MSS segments, not GSO super-frames');
  assert.is(segs[segs.length - 1]!.flags, ACK, 'the last segment ACKs the last FIN');
});

Files('ipv6-nd.pcap: NS to the solicited-node group, solicited NA back, then echo', () => {
  const fr = cap('ipv6-nd.pcap').frames;
  const types = fr.map((f) => {
    assert.is(ethertype(f), 0x86dd);
    assert.is(f.data[20], 58, 'next header ICMPv6');
    return f.data[54];
  });
  assert.equal(types, [135, 136, 128, 129]);
  const [ns, na] = [fr[0]!.data, fr[1]!.data];
  assert.is(mac(ns, 0), '33:33:ff:00:00:02', 'NS to the solicited-node multicast MAC');
  assert.is(mac(ns, 6), MAC_A);
  assert.is(hex(ns.subarray(38, 54)), 'ff0200000000000000000001ff000002', 'NS destination ff02::1:ff00:2');
  assert.is(hex(ns.subarray(62, 78)), 'fd000010000000000000000000000002', 'NS target fd00:10::2');
  assert.is(ns[21], 255, 'hop limit 255');
  assert.is(mac(na, 0), MAC_A);
  assert.is(mac(na, 6), MAC_B);
  assert.ok(((na[58] ?? 0) & 0x40) !== 0, 'NA has the Solicited flag');
  assert.is(hex(na.subarray(62, 78)), 'fd000010000000000000000000000002', 'NA target');
});

Files('vxlan.pcap: VNI 4096 on UDP 4789 between the underlay IPs; decap gives vxlan-inner.pcap', () => {
  const outer = cap('vxlan.pcap').frames;
  const inner = cap('vxlan-inner.pcap').frames;
  assert.is(outer.length, inner.length);
  for (let i = 0; i < outer.length; i++) {
    const f = outer[i]!;
    const v = vxlanInner(f);
    assert.is(v.vni, VNI, `frame ${i + 1} VNI`);
    assert.is(v.flags, 0x08, 'I flag set');
    assert.is(v.dport, VXLAN_PORT);
    assert.ok(v.sport >= 1024, 'kernel-chosen (hashed) source port');
    const fromA = ip4(f.data, 26) === IP_A;
    assert.is(ip4(f.data, 30), fromA ? IP_B : IP_A);
    assert.is(mac(f.data, 6), fromA ? MAC_A : MAC_B);
    assert.is(mac(v.inner, 6), fromA ? VXMAC_A : VXMAC_B, 'inner source MAC matches the sending tunnel end');
    assert.is(hex(v.inner), hex(inner[i]!.data), `frame ${i + 1}: decapsulated bytes equal the vx0 capture`);
  }
  const innerTypes = inner.map((f) => (ethertype(f) === 0x0806 ? `arp${u16(f.data, 20)}` : `icmp${f.data[34]}`));
  assert.equal(innerTypes, ['arp1', 'arp2', 'icmp8', 'icmp0', 'icmp8', 'icmp0', 'icmp8', 'icmp0']);
  assert.is(mac(inner[0]!.data, 0), BCAST_MAC, 'inner ARP request is broadcast');
  assert.is(ip4(inner[2]!.data, 26), VXIP_A);
  assert.is(ip4(inner[2]!.data, 30), VXIP_B);
});

Files('mixed.pcapng holds every frame of the per-phase captures', () => {
  const mixed = new Map<string, number>();
  for (const f of cap('mixed.pcapng').frames) mixed.set(hex(f.data), (mixed.get(hex(f.data)) ?? 0) + 1);
  let n = 0;
  for (const name of PHASES) {
    for (const [i, f] of cap(name).frames.entries()) {
      const k = hex(f.data);
      const left = mixed.get(k) ?? 0;
      assert.ok(left > 0, `${name}#${i + 1} is in mixed.pcapng`);
      mixed.set(k, left - 1);
      n++;
    }
  }
  assert.ok(n >= 30, `${n} frames matched`);
});

Files.run();

// ================================================================= tshark

const Dissect = suite('fixtures: tshark dissection');
const HAVE_TSHARK = hasCommand('tshark');

type Row = Record<string, string[]>;
/** One tshark pass over a capture: the requested fields of every frame, all
 *  occurrences (outer and inner headers), with checksum validation on. */
function dissect(name: string, fields: string[]): Row[] {
  const all = ['frame.protocols', '_ws.expert.severity', ...fields];
  const out = execFileSync(
    'tshark',
    [
      '-r', DIR + name, '-n',
      '-o', 'ip.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE',
      '-T', 'fields', '-E', 'separator=\t', '-E', 'occurrence=a', '-E', 'aggregator=,',
      ...all.flatMap((f) => ['-e', f]),
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
  );
  return out
    .split('\n')
    .filter((l) => l.length > 0)
    .map((line) => {
      const cols = line.split('\t');
      const row: Row = {};
      all.forEach((f, i) => (row[f] = cols[i] ? cols[i]!.split(',') : []));
      return row;
    });
}
const v = (r: Row, f: string, i = 0) => r[f]?.[i];
const has = (r: Row, proto: string) => (r['frame.protocols']?.[0] ?? '').split(':').includes(proto);

function dtest(name: string, fn: () => void): void {
  Dissect(name, () => {
    if (!HAVE_TSHARK) {
      console.log(`  SKIP ${name}: tshark not installed`);
      return;
    }
    fn();
  });
}

const CHECKSUM_STATUS = ['ip.checksum.status', 'tcp.checksum.status', 'udp.checksum.status', 'icmp.checksum.status', 'icmpv6.checksum.status'];

dtest('every capture dissects with no malformed frames, no errors and good checksums', () => {
  for (const name of Object.keys(FILES)) {
    const rows = dissect(name, CHECKSUM_STATUS);
    assert.is(rows.length, cap(name).frames.length, `${name}: tshark reads every frame`);
    for (const [i, r] of rows.entries()) {
      assert.not.match(v(r, 'frame.protocols') ?? '', /malformed/, `${name}#${i + 1} malformed`);
      for (const s of r['_ws.expert.severity'] ?? []) {
        assert.ok(Number(s) < 8388608, `${name}#${i + 1}: expert severity ${s} is below "error"`);
      }
      for (const f of CHECKSUM_STATUS) {
        for (const s of r[f] ?? []) assert.is(s, '1', `${name}#${i + 1}: ${f} is Good`);
      }
    }
  }
});

dtest('arp.pcap: request and reply', () => {
  const rows = dissect('arp.pcap', ['arp.opcode', 'eth.dst', 'arp.src.proto_ipv4', 'arp.dst.proto_ipv4', 'arp.src.hw_mac']);
  const arp = rows.filter((r) => has(r, 'arp'));
  assert.is(arp.length, 2);
  assert.equal([v(arp[0]!, 'arp.opcode'), v(arp[0]!, 'eth.dst'), v(arp[0]!, 'arp.dst.proto_ipv4')], ['1', BCAST_MAC, IP_B]);
  assert.equal([v(arp[1]!, 'arp.opcode'), v(arp[1]!, 'arp.src.hw_mac'), v(arp[1]!, 'arp.src.proto_ipv4')], ['2', MAC_B, IP_B]);
});

dtest('icmp.pcap / icmp-ns.pcap / icmp.pcapng: echo request and reply only', () => {
  for (const name of ['icmp.pcap', 'icmp-ns.pcap', 'icmp.pcapng']) {
    const rows = dissect(name, ['icmp.type', 'icmp.ident', 'icmp.seq', 'ip.src']);
    assert.ok(rows.length >= 6);
    rows.forEach((r, i) => {
      assert.is(v(r, 'icmp.type'), i % 2 === 0 ? '8' : '0', `${name}#${i + 1}`);
      assert.is(v(r, 'icmp.ident'), String(ICMP_IDENT));
      assert.is(v(r, 'icmp.seq'), String((i >> 1) + 1));
      assert.is(v(r, 'ip.src'), i % 2 === 0 ? IP_A : IP_B);
    });
  }
});

dtest('broadcast.pcap: UDP to the subnet broadcast', () => {
  const rows = dissect('broadcast.pcap', ['eth.dst', 'ip.dst', 'udp.dstport']);
  assert.ok(rows.length >= 3);
  for (const r of rows) assert.equal([v(r, 'eth.dst'), v(r, 'ip.dst'), v(r, 'udp.dstport')], [BCAST_MAC, '10.10.0.255', '9999']);
});

dtest('tcp.pcap: SYN, SYN/ACK, data both ways, FIN both ways, one stream', () => {
  const rows = dissect('tcp.pcap', ['tcp.flags.syn', 'tcp.flags.ack', 'tcp.flags.fin', 'tcp.flags.reset', 'tcp.len', 'tcp.stream', 'ip.src']);
  const flags = (r: Row) => ['tcp.flags.syn', 'tcp.flags.ack', 'tcp.flags.fin'].map((f) => v(r, f)).join('');
  assert.is(rows.filter((r) => flags(r) === '100').length, 1, 'one SYN');
  assert.is(rows.filter((r) => flags(r) === '110').length, 1, 'one SYN/ACK');
  assert.is(rows.filter((r) => v(r, 'tcp.flags.fin') === '1').length, 2, 'two FINs');
  assert.ok(rows.every((r) => v(r, 'tcp.flags.reset') === '0'), 'no RST');
  assert.ok(rows.every((r) => v(r, 'tcp.stream') === '0'), 'one stream');
  const bytes = (src: string) => rows.filter((r) => v(r, 'ip.src') === src).reduce((n, r) => n + Number(v(r, 'tcp.len')), 0);
  assert.is(bytes(IP_A), TCP_A_TO_B);
  assert.is(bytes(IP_B), TCP_B_TO_A);
});

dtest('ipv6-nd.pcap: neighbour solicitation and advertisement', () => {
  const rows = dissect('ipv6-nd.pcap', ['icmpv6.type', 'icmpv6.nd.ns.target_address', 'icmpv6.nd.na.target_address', 'icmpv6.nd.na.flag.s', 'icmpv6.opt.linkaddr', 'ipv6.dst']);
  const ns = rows.find((r) => v(r, 'icmpv6.type') === '135');
  const na = rows.find((r) => v(r, 'icmpv6.type') === '136');
  assert.ok(ns && na, 'NS and NA present');
  assert.equal([v(ns, 'icmpv6.nd.ns.target_address'), v(ns, 'ipv6.dst'), v(ns, 'icmpv6.opt.linkaddr')], ['fd00:10::2', 'ff02::1:ff00:2', MAC_A]);
  assert.equal([v(na, 'icmpv6.nd.na.target_address'), v(na, 'icmpv6.nd.na.flag.s'), v(na, 'icmpv6.opt.linkaddr')], ['fd00:10::2', '1', MAC_B]);
  assert.ok(rows.some((r) => v(r, 'icmpv6.type') === '128') && rows.some((r) => v(r, 'icmpv6.type') === '129'), 'echo follows');
});

dtest('vxlan.pcap / vxlan.pcapng: VNI 4096 on every frame, inner ARP and ICMP', () => {
  for (const name of ['vxlan.pcap', 'vxlan.pcapng']) {
    const rows = dissect(name, ['vxlan.vni', 'udp.dstport', 'ip.src', 'ip.dst', 'eth.src', 'arp.opcode', 'icmp.type']);
    assert.ok(rows.length >= 8);
    for (const r of rows) {
      assert.is(v(r, 'vxlan.vni'), String(VNI));
      assert.is(v(r, 'udp.dstport'), String(VXLAN_PORT));
      assert.ok([IP_A, IP_B].includes(v(r, 'ip.src') ?? ''), 'outer source is an underlay address');
      assert.ok([VXMAC_A, VXMAC_B].includes(v(r, 'eth.src', 1) ?? ''), 'inner source MAC is a tunnel end');
    }
    assert.equal(rows.filter((r) => has(r, 'arp')).map((r) => v(r, 'arp.opcode')), ['1', '2'], 'inner ARP request + reply');
    const icmp = rows.filter((r) => has(r, 'icmp'));
    assert.equal(icmp.map((r) => v(r, 'icmp.type')), ['8', '0', '8', '0', '8', '0']);
    assert.equal([v(icmp[0]!, 'ip.src', 1), v(icmp[0]!, 'ip.dst', 1)], [VXIP_A, VXIP_B], 'inner overlay addresses');
  }
});

dtest('vxlan-inner.pcap: plain overlay frames, no VXLAN header', () => {
  const rows = dissect('vxlan-inner.pcap', ['eth.src', 'ip.src']);
  assert.ok(rows.every((r) => !has(r, 'vxlan') && !has(r, 'udp')));
  assert.ok(rows.every((r) => [VXMAC_A, VXMAC_B].includes(v(r, 'eth.src') ?? '')));
  assert.ok(rows.filter((r) => has(r, 'icmp')).every((r) => [VXIP_A, VXIP_B].includes(v(r, 'ip.src') ?? '')));
});

dtest('mixed.pcapng: every protocol of the run in one pcapng', () => {
  const rows = dissect('mixed.pcapng', ['icmpv6.type', 'udp.dstport', 'tcp.flags.syn']);
  const seen = (p: (r: Row) => boolean, what: string) => assert.ok(rows.some(p), `mixed.pcapng has ${what}`);
  seen((r) => has(r, 'arp') && !has(r, 'vxlan'), 'ARP');
  seen((r) => has(r, 'icmp') && !has(r, 'vxlan'), 'ICMP');
  seen((r) => v(r, 'udp.dstport') === '9999', 'UDP broadcast');
  seen((r) => v(r, 'tcp.flags.syn') === '1', 'TCP');
  seen((r) => v(r, 'icmpv6.type') === '135', 'IPv6 NS');
  seen((r) => v(r, 'icmpv6.type') === '136', 'IPv6 NA');
  seen((r) => has(r, 'vxlan'), 'VXLAN');
});

Dissect.run();

// ======================================================== helpers/netns.ts

const Netns = suite('helpers/netns');

Netns('ifName() stays within IFNAMSIZ and never repeats; netnsName() embeds the pid', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 300; i++) {
    const n = ifName(i % 2 ? 'nwveth' : 'averyveryverylongprefix');
    assert.ok(n.length <= 15, `${n} fits in 15 characters`);
    assert.match(n, /^[A-Za-z0-9_-]+$/);
    assert.not.ok(seen.has(n), `${n} is unique`);
    seen.add(n);
  }
  assert.ok(ifName('nwv').startsWith('nwv'));
  const a = netnsName('nwk');
  assert.match(a, new RegExp(`^nwk-${process.pid}-\\d+$`));
  assert.is.not(netnsName('nwk'), a);
  assert.throws(() => ifName('bad name'), /bad name prefix/);
});

Netns('sh() returns stdout and throws with the exit status and stderr', () => {
  assert.is(sh('printf "a\\nb\\n"'), 'a\nb');
  assert.throws(() => sh('echo oops-on-stderr >&2; exit 3'), (e: Error) => /exit 3/.test(e.message) && /oops-on-stderr/.test(e.message));
});

hostTest(Netns, 'NetnsSet creates namespaces and a veth pair, and cleanup() removes exactly them', () => {
  const set = new NetnsSet();
  let a = '';
  let b = '';
  try {
    a = set.add(netnsName('nwh'));
    b = set.add(netnsName('nwh'));
    set.addVethPair({ ns: a, name: 'veth0', mac: '02:00:00:00:00:0a' }, { ns: b, name: 'veth0', mac: '02:00:00:00:00:0b' });
    const names = run('ip', ['netns', 'list']);
    assert.ok(names.includes(a) && names.includes(b), 'both namespaces listed');
    assert.match(set.exec(a, 'cat /sys/class/net/veth0/address'), /^02:00:00:00:00:0a$/);
    assert.match(set.exec(b, 'cat /sys/class/net/veth0/address'), /^02:00:00:00:00:0b$/);
    set.exec(a, 'ip link set veth0 up');
    set.exec(b, 'ip link set veth0 up');
    // the two ends really are peers: b's veth0 is the peer of a's veth0
    const peerIndex = set.exec(a, 'cat /sys/class/net/veth0/iflink');
    assert.is(set.exec(b, 'cat /sys/class/net/veth0/ifindex'), peerIndex);
    assert.equal(set.list(), [a, b]);
  } finally {
    assert.equal(set.cleanup(), [], 'cleanup reports no errors');
  }
  const after = run('ip', ['netns', 'list']);
  assert.not.ok(after.includes(a) || after.includes(b), 'namespaces are gone after cleanup');
  assert.equal(set.cleanup(), [], 'cleanup is idempotent');
});

Netns.run();
