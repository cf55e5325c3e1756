// The VXLAN node's per-frame work in plain TypeScript: the same algorithm and
// the same records as assembly/vxlan.ts and bench/c/vxlan.c (64-byte
// descriptors, port entries, VTEP and tunnel records, remotes with their
// header templates, open-addressing MAC -> VTEP and VNI tables), written the
// way fast JavaScript is written: one ArrayBuffer, a Uint8Array and a
// DataView over it, 32-bit integer arithmetic (Math.imul), no allocation in
// the loop. JavaScript has no cheap 64-bit integers, so the hashes are
// 32-bit ones (murmur3's mixing) where the WASM and C use 64-bit multiplies,
// and no SIMD: decap runs the general path only (a scalar version of the
// WASM fast path's masked compares measured slower here, so it is left out).

const NFRAMES = 256;
const SLOT = 2048;
const HEADROOM = 128;

// Regions of the buffer.
const DESC = 0; // NFRAMES x 64
const PORTS = DESC + NFRAMES * 64; // 256 x 64
const VTEPS = PORTS + 256 * 64; // 256 x 64
const TUNNELS = VTEPS + 256 * 64; // 64 x 64
const REMOTES = TUNNELS + 64 * 64; // 16 x 128
const POOL = REMOTES + 16 * 128;
const BYTES = POOL + NFRAMES * SLOT;

// Field offsets (layout.ts and vxlan.ts).
const D_SLOT = 0, D_OFF = 4, D_LEN = 8, D_FLAGS = 17, D_DROP = 18, D_VNI = 24, D_HASH = 28, D_TS_SEC = 32;
const D_VNET_FLAGS = 46, D_GSO_TYPE = 47, D_CSUM_START = 50, D_CSUM_OFFSET = 52, D_HDR_LEN = 54;
const P_KIND = 0, P_FLAGS = 2, P_MTU = 8, P_AUX = 12, P_MAC = 20, P_IP4 = 28;
const V_LISTEN = 2, V_VLAN = 4;
const TN_UNDERLAY = 6, TN_FLAGS = 8, TN_SPMIN = 12, TN_SPMAX = 14, TN_AGEING = 20;
const R_HDRLEN = 3, R_IPID = 8, R_IPOFF = 10, R_V6 = 11, R_IPSUM = 12, R_UDPSUM = 16, R_TMPL = 48;
const TF_USED = 1, TF_IPV6 = 2, TF_UDP_CSUM = 4, TF_LEARN = 8, TF_ARP_PROXY = 16, TF_ALLOW_LIST = 64;
const KIND_VTEP = 3, KIND_VXLAN = 4;

function fold(s: number): number {
  s = (s & 0xffff) + (s >>> 16);
  s = (s & 0xffff) + (s >>> 16);
  return s & 0xffff;
}

/** RFC 1071 sum of big-endian words from `initial` (folded, not inverted). */
function csumPartial(b: Uint8Array, p: number, len: number, initial: number): number {
  let s0 = fold(initial);
  let s1 = 0;
  const end = p + len;
  let i = p;
  for (; i + 4 <= end; i += 4) {
    s0 += (b[i]! << 8) | b[i + 1]!;
    s1 += (b[i + 2]! << 8) | b[i + 3]!;
  }
  if (i + 2 <= end) {
    s0 += (b[i]! << 8) | b[i + 1]!;
    i += 2;
  }
  if (i < end) s1 += b[i]! << 8;
  // Both accumulators stay far below 2^53: fold once at the end.
  const s = s0 + s1;
  return fold((s % 65536) + Math.floor(s / 65536));
}

const rotl = (x: number, r: number): number => (x << r) | (x >>> (32 - r));
function mix(h: number, w: number): number {
  w = Math.imul(w, 0xcc9e2d51);
  w = rotl(w, 15);
  w = Math.imul(w, 0x1b873593);
  h ^= w;
  h = rotl(h, 13);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}
function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
const home = (lo: number, hi: number, mask: number): number => fmix(Math.imul(lo ^ rotl(hi, 16), 0x9e3779b1) ^ hi) & mask;

/** A bench of one mode: 256 frames in a pool, `run(iters)` passes over them. */
export class VxlanTs {
  readonly b = new Uint8Array(BYTES);
  readonly dv = new DataView(this.b.buffer);
  // MAC -> remote: [MAC low 32 bits, (tunnel + 1) << 16 | MAC high 16 (memory order), remote | flags << 16, seen]
  private readonly peers = new Uint32Array(8192 * 4);
  private readonly vnis = new Uint32Array(128 * 2);
  private lastRaw = -1;
  private lastVni = 0;
  private lastTunnel = -1;
  decapTunnel = 0;
  readonly counters = new Float64Array(1024);

  constructor(readonly mode: 'encap' | 'decap', readonly size: number, readonly udpCsum: boolean) {
    const dv = this.dv;
    const me = [2, 0, 0, 0, 0, 1];
    const nh = [2, 0, 0, 0, 0, 2];
    const myIp = [192, 168, 1, 1];
    const peerIp = [192, 168, 1, 2];
    // Port 0: the VTEP; port 1: the tunnel port.
    this.b[PORTS + P_KIND] = KIND_VTEP;
    dv.setUint16(PORTS + P_MTU, 1500, true);
    this.b.set(me, PORTS + P_MAC);
    this.b.set(myIp, PORTS + P_IP4);
    this.b[PORTS + 64 + P_KIND] = KIND_VXLAN;
    dv.setUint16(PORTS + 64 + P_MTU, 1450, true);
    dv.setUint32(PORTS + 64 + P_AUX, 0, true);
    dv.setUint16(VTEPS + V_LISTEN, 4789); // network order
    dv.setUint16(TUNNELS + TN_FLAGS, TF_USED | TF_ARP_PROXY | (udpCsum ? TF_UDP_CSUM : 0), true);
    dv.setUint16(TUNNELS + TN_SPMIN, 49152, true);
    dv.setUint16(TUNNELS + TN_SPMAX, 65535, true);
    dv.setUint32(TUNNELS + TN_AGEING, 300, true);
    this.buildTemplate(REMOTES, nh, me, myIp, peerIp);
    this.peerInsert(0, 0x0300, 0x000a4202, 0); // 02:42:0a:00:00:03 in memory order (bytes 4-5, bytes 0-3)
    this.vniInsert(4096, 0);
    const back = REMOTES + 128;
    this.buildTemplate(back, me, nh, peerIp, myIp);
    for (let i = 0; i < NFRAMES; i++) {
      const d = DESC + i * 64;
      const slot = POOL + i * SLOT;
      dv.setUint32(d + D_SLOT, i, true);
      dv.setUint32(d + D_OFF, HEADROOM, true);
      dv.setUint32(d + D_LEN, size, true);
      this.putInner(slot + HEADROOM, size, i);
      if (mode === 'decap') {
        const g = slot + HEADROOM - 50;
        dv.setUint32(d + D_OFF, HEADROOM - 50, true);
        dv.setUint32(d + D_LEN, size + 50, true);
        this.b.copyWithin(g, back + R_TMPL, back + R_TMPL + 50);
        const ulen = size + 16;
        const tot = ulen + 20;
        dv.setUint16(g + 16, tot);
        dv.setUint16(g + 24, ~fold(dv.getUint32(back + R_IPSUM, true) + tot) & 0xffff);
        dv.setUint16(g + 34, 50000 + i);
        dv.setUint16(g + 38, ulen);
        if (udpCsum) {
          const c = ~fold(csumPartial(this.b, g + 50, size, dv.getUint32(back + R_UDPSUM, true) + ulen * 2 + 50000 + i)) & 0xffff;
          dv.setUint16(g + 40, c === 0 ? 0xffff : c);
        }
      }
    }
  }

  /** Offset of frame i in the buffer and its length (for feeding the other implementations). */
  frame(i: number): Uint8Array {
    const d = DESC + i * 64;
    const a = POOL + i * SLOT + this.dv.getUint32(d + D_OFF, true);
    return this.b.subarray(a, a + this.dv.getUint32(d + D_LEN, true));
  }

  private buildTemplate(r: number, nh: number[], me: number[], src: number[], dst: number[]): void {
    const b = this.b;
    const h = r + R_TMPL;
    b.set(nh, h);
    b.set(me, h + 6);
    b[h + 12] = 0x08;
    b.set([0x45, 0, 0, 0, 0, 0, 0, 0, 64, 17, 0, 0, ...src, ...dst], h + 14);
    this.dv.setUint32(r + R_IPSUM, csumPartial(b, h + 14, 20, 0), true);
    this.dv.setUint16(h + 36, 4789);
    b[h + 42] = 0x08;
    b[h + 46] = (4096 >> 16) & 0xff;
    b[h + 47] = (4096 >> 8) & 0xff;
    b[h + 48] = 4096 & 0xff;
    this.dv.setUint32(r + R_UDPSUM, csumPartial(b, h + 34, 16, csumPartial(b, h + 26, 8, 0) + 17), true);
    b[r + R_HDRLEN] = 50;
    b[r + R_IPOFF] = 14;
  }

  private putInner(f: number, size: number, i: number): void {
    const b = this.b;
    b.set([2, 0x42, 10, 0, 0, 3, 2, 0x42, 10, 0, 0, 2, 8, 0], f);
    b.set([0x45, 0, (size - 14) >> 8, (size - 14) & 0xff, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 2, 10, 0, 0, 3], f + 14);
    this.dv.setUint16(f + 24, ~csumPartial(b, f + 14, 20, 0) & 0xffff);
    this.dv.setUint16(f + 34, 1000 + i);
    this.dv.setUint16(f + 36, 2000);
    this.dv.setUint16(f + 38, size - 34);
    for (let k = 42; k < size; k++) b[f + k] = (k * 13 + i) & 0xff;
  }

  private peerInsert(tunnel: number, macHi: number, macLo: number, remote: number): void {
    const hi = ((tunnel + 1) << 16) | macHi;
    let i = home(macLo, hi, 8191);
    while (this.peers[i * 4 + 1] !== 0) i = (i + 1) & 8191;
    this.peers.set([macLo >>> 0, hi >>> 0, remote | (1 << 16), 0], i * 4);
  }

  private vniInsert(vni: number, t: number): void {
    let i = home(vni + 1, 0, 127);
    while (this.vnis[i * 2] !== 0) i = (i + 1) & 127;
    this.vnis[i * 2] = vni + 1;
    this.vnis[i * 2 + 1] = t;
  }

  private vniFind(vni: number): number {
    let i = home(vni + 1, 0, 127);
    for (let n = 0; n < 128; n++) {
      const k = this.vnis[i * 2]!;
      if (k === vni + 1) return this.vnis[i * 2 + 1]!;
      if (k === 0) return -1;
      i = (i + 1) & 127;
    }
    return -1;
  }

  private flowHash(f: number, len: number): number {
    const b = this.b;
    const dv = this.dv;
    let l3 = 14;
    let t = dv.getUint16(f + 12);
    if ((t === 0x8100 || t === 0x88a8) && len >= 18) {
      t = dv.getUint16(f + 16);
      l3 += 4;
    }
    let h = 0x9747b28c | 0;
    if (t === 0x0800 && len >= l3 + 20) {
      const ip = f + l3;
      const proto = b[ip + 9]!;
      h = mix(h, dv.getUint32(ip + 12, true));
      h = mix(h, dv.getUint32(ip + 16, true));
      h = mix(h, proto);
      const hl = (b[ip]! & 0xf) << 2;
      if ((proto === 6 || proto === 17 || proto === 132) && (dv.getUint16(ip + 6) & 0x3fff) === 0 && hl >= 20 && len >= l3 + hl + 4) {
        h = mix(h, dv.getUint32(ip + hl, true));
      }
    } else {
      h = mix(h, dv.getUint32(f, true));
      h = mix(h, dv.getUint32(f + 4, true));
      h = mix(h, dv.getUint32(f + 8, true));
      h = mix(h, t);
    }
    return fmix(h);
  }

  private drop(d: number, reason: number): number {
    this.dv.setUint16(d + D_DROP, reason, true);
    this.counters[reason]!++;
    return 2;
  }

  /** encapUnicast of vxlan.ts: 0 sent, 1 flood, 2 gone. */
  encapUnicast(d: number, out: number): number {
    const b = this.b;
    const dv = this.dv;
    const t = dv.getUint32(PORTS + out * 64 + P_AUX, true);
    if (t >= 64 || (dv.getUint16(TUNNELS + t * 64 + TN_FLAGS, true) & TF_USED) === 0) return this.drop(d, 337);
    const tn = TUNNELS + t * 64;
    const off = dv.getUint32(d + D_OFF, true);
    const len = dv.getUint32(d + D_LEN, true);
    const f = POOL + dv.getUint32(d + D_SLOT, true) * SLOT + off;
    if (len < 14) return this.drop(d, 338);
    const tflags = dv.getUint16(tn + TN_FLAGS, true);
    if (tflags & TF_ARP_PROXY) {
      let et = dv.getUint16(f + 12);
      if (et === 0x8100 && len >= 18) et = dv.getUint16(f + 16);
      if (et === 0x0806) return 2; // (the bench has no ARP)
    }
    const up = dv.getUint16(tn + TN_UNDERLAY, true);
    const upp = PORTS + up * 64;
    if (b[upp + P_KIND] !== KIND_VTEP || (dv.getUint16(upp + P_FLAGS, true) & 64) !== 0) return this.drop(d, 342);
    // MTU.
    let l3 = len - 14;
    if (dv.getUint16(f + 12) === 0x8100 && l3 >= 4) l3 -= 4;
    if (l3 > dv.getUint16(PORTS + out * 64 + P_MTU, true) || len + 16 + ((tflags & TF_IPV6) !== 0 ? 40 : 20) > dv.getUint16(upp + P_MTU, true)) {
      return this.drop(d, 338);
    }
    // Offload metadata.
    const vf = b[d + D_VNET_FLAGS]!;
    if (vf & 1) {
      const start = dv.getUint16(d + D_CSUM_START, true);
      const at = start + dv.getUint16(d + D_CSUM_OFFSET, true);
      if (start >= len || at + 2 > len) return this.drop(d, 343);
      const c = ~fold(csumPartial(b, f + start, len - start, 0)) & 0xffff;
      dv.setUint16(f + at, c === 0 ? 0xffff : c);
    }
    if (vf !== 0 || b[d + D_GSO_TYPE] !== 0) b.fill(0, d + D_VNET_FLAGS, d + D_VNET_FLAGS + 10);
    let hash = dv.getUint32(d + D_HASH, true);
    if (hash === 0) {
      hash = this.flowHash(f, len);
      dv.setUint32(d + D_HASH, hash, true);
    }
    // MAC -> VTEP.
    const macLo = dv.getUint32(f, true);
    const macHi = dv.getUint16(f + 4, true);
    if (macLo & 1) return 1;
    const hi = (((t + 1) << 16) | macHi) >>> 0;
    const p = this.peers;
    let i = home(macLo, hi, 8191);
    let r = -1;
    for (let n = 0; n < 8192; n++) {
      const e = i * 4;
      if (p[e + 1] === 0) break;
      if (p[e] === macLo >>> 0 && p[e + 1] === hi) {
        const v = p[e + 2]!;
        const ageing = dv.getUint32(tn + TN_AGEING, true);
        if ((v >>> 16) & 2 && ageing !== 0 && ((dv.getUint32(d + D_TS_SEC, true) - p[e + 3]!) | 0) > ageing) break;
        r = v & 0xffff;
        break;
      }
      i = (i + 1) & 8191;
    }
    if (r < 0) return 1;
    // Template copy and patch.
    const rec = REMOTES + r * 128;
    const hl = b[rec + R_HDRLEN]!;
    if (off < hl) return this.drop(d, 339);
    dv.setUint32(d + D_OFF, off - hl, true);
    dv.setUint32(d + D_LEN, len + hl, true);
    const g = f - hl;
    b.copyWithin(g, rec + R_TMPL, rec + R_TMPL + hl);
    const ip = g + b[rec + R_IPOFF]!;
    const min = dv.getUint16(tn + TN_SPMIN, true);
    const sport = min + Math.floor((hash * (dv.getUint16(tn + TN_SPMAX, true) - min + 1)) / 4294967296);
    const ulen = len + 16;
    let udp: number;
    if (b[rec + R_V6] === 0) {
      const tot = ulen + 20;
      const id = dv.getUint16(rec + R_IPID, true);
      dv.setUint16(rec + R_IPID, (id + 1) & 0xffff, true);
      dv.setUint16(ip + 2, tot);
      dv.setUint16(ip + 4, id);
      dv.setUint16(ip + 10, ~fold(dv.getUint32(rec + R_IPSUM, true) + tot + id) & 0xffff);
      udp = ip + 20;
      dv.setUint16(udp, sport);
      dv.setUint16(udp + 4, ulen);
      if ((tflags & TF_UDP_CSUM) === 0) {
        this.counters[321]!++;
        return 0;
      }
    } else {
      dv.setUint16(ip + 4, ulen);
      udp = ip + 40;
      dv.setUint16(udp, sport);
      dv.setUint16(udp + 4, ulen);
    }
    const c = ~fold(csumPartial(b, g + hl, len, dv.getUint32(rec + R_UDPSUM, true) + ulen * 2 + sport)) & 0xffff;
    dv.setUint16(udp + 6, c === 0 ? 0xffff : c);
    this.counters[321]!++;
    return 0;
  }

  /** decap of vxlan.ts: the inner frame's address, or -1 (drop reason set). */
  decap(d: number, inPort: number): number {
    const b = this.b;
    const dv = this.dv;
    const len = dv.getUint32(d + D_LEN, true);
    const f = POOL + dv.getUint32(d + D_SLOT, true) * SLOT + dv.getUint32(d + D_OFF, true);
    const p = PORTS + inPort * 64;
    const vt = VTEPS + inPort * 64;
    const dLo = dv.getUint32(f, true);
    const dHi = dv.getUint16(f + 4, true);
    const oLo = dv.getUint32(p + P_MAC, true);
    const oHi = dv.getUint16(p + P_MAC + 4, true);
    if ((oLo | oHi) !== 0 && (dLo !== oLo || dHi !== oHi) && (dLo & 1) === 0) return this.fail(d, 324);
    let l3 = 14;
    let et = dv.getUint16(f + 12);
    const vlan = dv.getUint16(vt + V_VLAN, true);
    if (et === 0x8100 || et === 0x88a8) {
      if (len < 18) return this.fail(d, 326);
      if (vlan !== 0 && (dv.getUint16(f + 14) & 0xfff) !== vlan) return this.fail(d, 331);
      et = dv.getUint16(f + 16);
      l3 += 4;
    } else if (vlan !== 0) return this.fail(d, 331);
    if (et !== 0x0800) return this.fail(d, 322); // (the bench has no IPv6)
    const ip = f + l3;
    const avail = len - l3;
    if (avail < 20) return this.fail(d, 386);
    const vihl = b[ip]!;
    if (vihl >> 4 !== 4) return this.fail(d, 384);
    const hl = (vihl & 0xf) << 2;
    if (hl < 20) return this.fail(d, 385);
    if (hl > avail) return this.fail(d, 386);
    const tot = dv.getUint16(ip + 2);
    if (tot < hl || tot > avail) return this.fail(d, 386);
    if (csumPartial(b, ip, hl, 0) !== 0xffff) return this.fail(d, 387);
    if ((dv.getUint16(ip + 6) & 0x3fff) !== 0) return this.fail(d, 388);
    if (b[ip + 9] !== 17) return this.fail(d, 323);
    const mine = dv.getUint32(p + P_IP4, true);
    if (mine !== 0 && dv.getUint32(ip + 16, true) !== mine) return this.fail(d, 324);
    const l4 = l3 + hl;
    const end = l3 + tot;
    if (end - l4 < 8) return this.fail(d, 416);
    const u = f + l4;
    const ulen = dv.getUint16(u + 4);
    if (ulen !== end - l4) return this.fail(d, 416);
    if (dv.getUint16(u + 2, true) !== dv.getUint16(vt + V_LISTEN, true)) return this.fail(d, 325);
    if (dv.getUint16(u + 6) !== 0 && (b[d + D_VNET_FLAGS]! & 3) === 0) {
      const pseudo = dv.getUint16(ip + 12) + dv.getUint16(ip + 14) + dv.getUint16(ip + 16) + dv.getUint16(ip + 18) + 17 + ulen;
      if (csumPartial(b, u, ulen, pseudo) !== 0xffff) return this.fail(d, 417);
    }
    if (ulen < 30) return this.fail(d, 326);
    if ((b[u + 8]! & 0x08) === 0) return this.fail(d, 327);
    const raw = dv.getUint32(u + 12, true) & 0xffffff;
    if (raw !== this.lastRaw) {
      this.lastRaw = raw;
      this.lastVni = dv.getUint32(u + 12) >>> 8;
      this.lastTunnel = this.vniFind(this.lastVni);
    }
    const t = this.lastTunnel;
    if (t < 0) return this.fail(d, 328);
    const tn = TUNNELS + t * 64;
    if (dv.getUint16(tn + TN_UNDERLAY, true) !== inPort) return this.fail(d, 328);
    if (dv.getUint16(tn + TN_FLAGS, true) & (TF_ALLOW_LIST | TF_LEARN)) return -1; // (the bench has neither)
    const inner = l4 + 16;
    dv.setUint32(d + D_OFF, dv.getUint32(d + D_OFF, true) + inner, true);
    dv.setUint32(d + D_LEN, end - inner, true);
    const vf = b[d + D_VNET_FLAGS]!;
    if (vf & 1) {
      const cs = dv.getUint16(d + D_CSUM_START, true);
      if (cs < inner) b[d + D_VNET_FLAGS] = vf & ~1;
      else dv.setUint16(d + D_CSUM_START, cs - inner, true);
    }
    const hdr = dv.getUint16(d + D_HDR_LEN, true);
    if (hdr !== 0) dv.setUint16(d + D_HDR_LEN, hdr > inner ? hdr - inner : 0, true);
    dv.setUint32(d + D_VNI, this.lastVni, true);
    b[d + D_FLAGS] = b[d + D_FLAGS]! | 2;
    this.decapTunnel = t;
    return f + inner;
  }

  private fail(d: number, reason: number): number {
    this.drop(d, reason);
    return -1;
  }

  /** `iters` passes over the 256 frames, each restored after; returns the frames that passed. */
  run(iters: number): number {
    const dv = this.dv;
    let ok = 0;
    for (let it = 0; it < iters; it++) {
      for (let i = 0; i < NFRAMES; i++) {
        const d = DESC + i * 64;
        const off = dv.getUint32(d + D_OFF, true);
        const len = dv.getUint32(d + D_LEN, true);
        if (this.mode === 'encap') {
          if (this.encapUnicast(d, 1) === 0) ok++;
          dv.setUint32(d + D_HASH, 0, true);
        } else if (this.decap(d, 0) >= 0) {
          this.counters[320]!++;
          ok++;
        }
        dv.setUint32(d + D_OFF, off, true);
        dv.setUint32(d + D_LEN, len, true);
      }
    }
    return ok;
  }
}

export const TS_FRAMES = NFRAMES;
