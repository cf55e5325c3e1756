/**
 * The TypeScript baseline of the IPVS packet path: the same algorithm and
 * layout as assembly/ipvs.ts + conntrack.ts (and bench/c/ipvs.c), IPv4/TCP NAT
 * for one mh service with 16 real servers, written as fast plain TypeScript:
 * typed arrays over one ArrayBuffer, no allocation per packet, 64-bit
 * counters as doubles.
 */
import { hsiphash32, jhash2words, MH_KEY1 } from '../../src/ipvs/hash.ts';

const CONN_SIZE = 64;
// conn entry offsets (bytes)
const C_NEXT = 0, C_EXPIRES = 4, C_PROTO = 8, C_STATE = 9, C_FLAGS = 10, C_AF = 11, C_CPORT = 12, C_VPORT = 14;
const C_DEST = 16, C_DEST_GEN = 18, C_DPORT = 20, C_SVC = 22, C_CTL = 24, C_BRIDGE = 28, C_CADDR = 32, C_VADDR = 48;
const F_TEMPLATE = 1, F_NOOUTPUT = 2, F_INACTIVE = 4;

const TCP_STATES = Uint8Array.from([
  3, 1, 1, 3, 3, 3, 3, 3, 3, 3, 3, 6, 7, 2, 5, 5, 5, 6, 7, 8, 9, 5, 1, 1, 2, 1, 4, 5, 6, 7, 6, 9, 1, 6, 6, 6, 3, 6, 6, 6, 6, 8, 9, 3, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6,
  2, 1, 2, 3, 2, 2, 2, 2, 2, 9, 3, 5, 4, 2, 5, 4, 5, 6, 5, 8, 9, 5, 1, 1, 2, 1, 4, 5, 6, 7, 8, 1, 1, 6, 6, 2, 6, 6, 5, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6,
  3, 1, 1, 3, 3, 3, 3, 3, 3, 3, 3, 6, 4, 2, 5, 4, 5, 6, 7, 8, 9, 5, 1, 1, 2, 1, 4, 5, 6, 7, 6, 9, 1, 6, 6, 6, 3, 6, 6, 6, 6, 8, 9, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6,
]);
const TCP_EVENT = Uint8Array.from([4, 1, 0, 0, 3, 3, 3, 3, 2, 1, 0, 0, 3, 3, 3, 3]);
const TIMEOUTS = Uint32Array.from([2, 900, 120, 60, 120, 120, 10, 60, 30, 120, 120, 300, 60]);
/** timeout(next) << 8 | next, by [direction][event][state]. */
const TCP_TABLE = Uint32Array.from(TCP_STATES, (next) => ((TIMEOUTS[next]! << 8) | next) >>> 0);

const keyHash = (x: number, a0: number): number => {
  let h = Math.imul(a0 ^ x, 0x9e3779b1);
  h ^= h >>> 15;
  h = Math.imul(h, 0x85ebca6b);
  return (h ^ (h >>> 13)) >>> 0;
};
const svcKey = (bridge: number, af: number, proto: number): number => (bridge | (af << 16) | (proto << 24)) >>> 0;
const bswap16 = (x: number): number => ((x & 0xff) << 8) | (x >>> 8);
const bswap32 = (x: number): number => (((x & 0xff) << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24)) >>> 0;
// x % 65537 of a uint32 x in small-integer arithmetic (a uint32 of 2^31 or more
// is a double to V8, its % a floating-point remainder): 65536 = -1 (mod 65537),
// so hi * 65536 + lo = lo - hi. (For % 4093 the same trick measured no faster
// than the plain remainder, which stays.)
const mod65537 = (x: number): number => ((x & 0xffff) - (x >>> 16) + 65537) % 65537;
const fold = (s: number): number => {
  s = (s & 0xffff) + (s >>> 16);
  return ((s & 0xffff) + (s >>> 16)) & 0xffff;
};

/** One IPVS instance in plain TypeScript: a VIP 10.0.0.100:80/TCP on bridge 1, mh over 16 NAT servers. */
export class TsIpvs {
  // connection table
  readonly cap: number;
  readonly bucketMask: number;
  readonly buckets: Uint32Array;
  private readonly eb: ArrayBuffer;
  private readonly e8: Uint8Array;
  private readonly e16: Uint16Array;
  private readonly e32: Uint32Array;
  private bump = 0;
  private freeHead = 0;
  live = 0;
  private sweepHand = 0;
  private lastSweep = 0;
  private readonly sweepStep: number;
  private readonly seed = 0x12345678;
  // address hash (records of 8 u32: key word, count, address x 4, 2 spare)
  private readonly addr = new Uint32Array(8192 * 8);
  private readonly addrMask = 8191;
  // the service
  private readonly svcHash = new Uint16Array(512);
  private readonly svcKeyWord: number;
  private readonly svcPort: number;
  private readonly svcAddr: number;
  private readonly mh = new Int32Array(4093);
  /** With scheduler 'maglev': Katran's ring (65537 slots), picked by jhash_2words(source, ports). */
  private readonly maglev: boolean;
  private readonly ring = new Int32Array(65537);
  private readonly svcStats = new Float64Array(5);
  // real servers
  private readonly dUsed = new Uint8Array(16);
  private readonly dGen = new Uint16Array(16);
  private readonly dFlags = new Uint8Array(16);
  private readonly dWeight = new Int32Array(16);
  private readonly dPort = new Uint16Array(16);
  private readonly dAddr = new Uint32Array(16);
  private readonly dMacHi = new Uint16Array(16);
  private readonly dMacLo = new Uint32Array(16);
  private readonly dFwd = new Uint8Array(16);
  private readonly dActive = new Uint32Array(16);
  private readonly dInact = new Uint32Array(16);
  private readonly dUThresh = new Uint32Array(16);
  private readonly dStats = new Float64Array(16 * 5);
  counterIn = 0;
  counterNew = 0;
  counterExpired = 0;

  constructor(capacity = 1 << 20, scheduler: 'mh' | 'maglev' = 'mh') {
    this.cap = capacity;
    this.maglev = scheduler === 'maglev';
    let nb = 1;
    while (nb < capacity) nb *= 2;
    this.bucketMask = nb - 1;
    this.sweepStep = Math.max(64, nb >>> 8);
    this.buckets = new Uint32Array(nb);
    // page-aligned (a WebAssembly.Memory's buffer, used only as an allocator), so
    // that each 64-byte entry is one cache line as in netwasm's layout; a large
    // ArrayBuffer from the allocator starts 16 bytes into a page, splitting every entry
    this.eb = new WebAssembly.Memory({ initial: Math.ceil((capacity * CONN_SIZE) / 65536) }).buffer;
    this.e8 = new Uint8Array(this.eb);
    this.e16 = new Uint16Array(this.eb);
    this.e32 = new Uint32Array(this.eb);
    // VIP 10.0.0.100 as a little-endian load of its bytes, port 80 likewise
    const vip = 0x6400000a;
    this.svcAddr = vip;
    this.svcPort = bswap16(80);
    this.svcKeyWord = svcKey(1, 4, 6);
    this.svcHash[keyHash(svcKey(1, 4, 6) ^ (this.svcPort << 8), vip) & 511] = 1;
    const key = svcKey(1, 4, 1);
    const i = keyHash(key, vip) & this.addrMask;
    this.addr[i * 8] = key;
    this.addr[i * 8 + 1] = 1;
    this.addr[i * 8 + 2] = vip;
    for (let d = 0; d < 16; d++) {
      this.dUsed[d] = 1;
      this.dFlags[d] = 1;
      this.dWeight[d] = 1;
      this.dPort[d] = bswap16(8080);
      this.dAddr[d] = (0x0a | (0 << 8) | (1 << 16) | ((10 + d) << 24)) >>> 0;
      this.dMacHi[d] = 0x0242;
      this.dMacLo[d] = 0x0a000100 + d;
    }
    for (let k = 0; k < 4093; k++) this.mh[k] = k % 16;
    for (let k = 0; k < 65537; k++) this.ring[k] = k % 16;
  }

  flush(): void {
    this.buckets.fill(0);
    this.bump = this.freeHead = this.live = this.sweepHand = 0;
    this.dActive.fill(0);
    this.dInact.fill(0);
  }

  private addrFind4(bridge: number, kind: number, a0: number): number {
    const key = svcKey(bridge, 4, kind);
    let i = keyHash(key, a0) & this.addrMask;
    const t = this.addr;
    for (let n = 0; n <= this.addrMask; n++) {
      const k = t[i * 8]!;
      if (k === 0) return -1;
      if (((k ^ key) | (t[i * 8 + 2]! ^ a0)) === 0) return i;
      i = (i + 1) & this.addrMask;
    }
    return -1;
  }

  private destAlive(e: number): boolean {
    const d = this.e16[(e + C_DEST) >> 1]!;
    return this.dUsed[d] !== 0 && this.dGen[d] === this.e16[(e + C_DEST_GEN) >> 1];
  }

  private connDue(e: number, now: number): boolean {
    if (((now - this.e32[(e + C_EXPIRES) >> 2]!) | 0) < 0 && this.destAlive(e)) return false;
    if (((now - this.e32[(e + C_EXPIRES) >> 2]!) | 0) >= 0) {
      this.counterExpired++;
      return true;
    }
    return true; // a removed server (expire_nodest_conn)
  }

  private release(linkIsBucket: boolean, link: number, e: number): void {
    const next = this.e32[(e + C_NEXT) >> 2]!;
    if (linkIsBucket) this.buckets[link] = next;
    else this.e32[link >> 2] = next;
    if (this.destAlive(e)) {
      const d = this.e16[(e + C_DEST) >> 1]!;
      if (this.e8[e + C_FLAGS]! & F_INACTIVE) this.dInact[d]!--;
      else this.dActive[d]!--;
    }
    this.e32[(e + C_NEXT) >> 2] = this.freeHead;
    this.freeHead = (e >>> 6) + 1;
    this.live--;
    this.e8[e + C_AF] = 0;
  }

  private sweep(now: number, n: number): number {
    let b = this.sweepHand, freed = 0;
    for (let i = 0; i < n; i++) {
      let bucketLink = true, link = b;
      let idx = this.buckets[b]!;
      while (idx !== 0) {
        const e = (idx - 1) << 6;
        if (this.connDue(e, now)) {
          this.release(bucketLink, link, e);
          freed++;
        } else {
          bucketLink = false;
          link = e + C_NEXT;
        }
        idx = bucketLink ? this.buckets[link]! : this.e32[link >> 2]!;
      }
      b = (b + 1) & this.bucketMask;
    }
    this.sweepHand = b;
    return freed;
  }

  private connHash4(proto: number, caddr: number, cport: number): number {
    let h = Math.imul(caddr ^ this.seed, 0x9e3779b1);
    h ^= cport | (proto << 16) | (4 << 24);
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 15;
    return h & this.bucketMask;
  }

  private connIn(bridge: number, proto: number, caddr: number, cport: number, vaddr: number, vport: number, now: number): number {
    let bucketLink = true, link = this.connHash4(proto, caddr, cport);
    let idx = this.buckets[link]!;
    const e8 = this.e8, e16 = this.e16, e32 = this.e32;
    while (idx !== 0) {
      const e = (idx - 1) << 6;
      if (this.connDue(e, now)) {
        this.release(bucketLink, link, e);
      } else {
        let m = (e32[(e + C_PROTO) >> 2]! & 0xff0100ff) ^ (proto | (4 << 24));
        m |= e32[(e + C_CPORT) >> 2]! ^ (cport | (vport << 16));
        m |= e16[(e + C_BRIDGE) >> 1]! ^ bridge;
        m |= (e32[(e + C_CADDR) >> 2]! ^ caddr) | (e32[(e + C_VADDR) >> 2]! ^ vaddr);
        if (m === 0) return e;
        bucketLink = false;
        link = e + C_NEXT;
      }
      idx = bucketLink ? this.buckets[link]! : e32[link >> 2]!;
    }
    void e8;
    return -1;
  }

  private tcpStateChange(e: number, next: number): void {
    const e8 = this.e8;
    let flags = e8[e + C_FLAGS]!;
    if (this.destAlive(e)) {
      const d = this.e16[(e + C_DEST) >> 1]!;
      if (!(flags & F_INACTIVE) && next !== 1) {
        this.dActive[d]!--;
        this.dInact[d]!++;
        flags |= F_INACTIVE;
      } else if (flags & F_INACTIVE && next === 1) {
        this.dActive[d]!++;
        this.dInact[d]!--;
        flags &= ~F_INACTIVE;
      }
      e8[e + C_FLAGS] = flags;
    }
    e8[e + C_STATE] = next;
  }

  private tcpTransition(e: number, dir: number, fl: number, now: number): void {
    const e8 = this.e8;
    let off = dir;
    const flags = e8[e + C_FLAGS]!;
    if (flags & F_NOOUTPUT) {
      if (dir === 1) e8[e + C_FLAGS] = flags & ~F_NOOUTPUT;
      else off = 2;
    }
    const state = e8[e + C_STATE]!;
    const ev = TCP_EVENT[(fl & 7) | ((fl >> 1) & 8)]!;
    const v = TCP_TABLE[(off * 5 + ev) * 11 + state]!;
    const next = v & 0xff;
    if (next !== state) this.tcpStateChange(e, next);
    this.e32[(e + C_EXPIRES) >> 2] = (now + (v >>> 8)) >>> 0;
  }

  private forwardIn(e: number, f: DataView, fb: Uint8Array, proto: number, fl: number, ipLen: number, now: number): number {
    this.tcpTransition(e, 0, fl, now);
    const d = this.e16[(e + C_DEST) >> 1]!;
    this.dStats[d * 5 + 1]!++;
    this.dStats[d * 5 + 3]! += ipLen;
    this.svcStats[1]!++;
    this.svcStats[3]! += ipLen;
    // destination MAC
    f.setUint16(0, this.dMacHi[d]!);
    f.setUint32(2, this.dMacLo[d]!);
    if (this.dFwd[d] === 0) this.nat(f, proto, this.dAddr[d]!, this.e16[(e + C_DPORT) >> 1]!);
    void fb;
    this.counterIn++;
    return 1;
  }

  /** NAT of the destination to nw:nport, RFC 1624 checksums (little-endian words, as the WASM code). */
  private nat(f: DataView, proto: number, nw: number, nport: number): void {
    const ip = 14, l4 = 34;
    const old = f.getUint32(ip + 16, true);
    const hc = f.getUint16(ip + 10, true);
    const s = (~hc & 0xffff) + (~old & 0xffff) + (~old >>> 16) + (nw & 0xffff) + (nw >>> 16);
    f.setUint16(ip + 10, ~fold(s) & 0xffff, true);
    let sum = (~old & 0xffff) + (~old >>> 16) + (nw & 0xffff) + (nw >>> 16);
    f.setUint32(ip + 16, nw, true);
    const oldPort = f.getUint16(l4 + 2, true);
    if (nport !== oldPort) {
      sum += (~oldPort & 0xffff) + nport;
      f.setUint16(l4 + 2, nport, true);
    }
    const off = proto === 6 ? 16 : 6;
    const c = f.getUint16(l4 + off, true);
    if (!(proto === 17 && c === 0)) {
      let nc = ~fold(sum + (~c & 0xffff)) & 0xffff;
      if (proto === 17 && nc === 0) nc = 0xffff;
      f.setUint16(l4 + off, nc, true);
    }
  }

  private svcFind(bridge: number, proto: number, port: number, daddr: number): number {
    let i = keyHash(svcKey(bridge, 4, proto) ^ (port << 8), daddr) & 511;
    for (let n = 0; n < 512; n++) {
      const v = this.svcHash[i]!;
      if (v === 0) return -1;
      if (this.svcKeyWord === svcKey(bridge, 4, proto) && this.svcPort === port && this.svcAddr === daddr) return v - 1;
      i = (i + 1) & 511;
    }
    return -1;
  }

  /**
   * The touch pass over a vector (VPP style, as assembly/ipvs.ts), first
   * stage: for an untagged IPv4 frame without options, the head of its
   * connection bucket (read, so that its miss starts), else 0.
   */
  touchBucket(f: DataView, fb: Uint8Array, len: number): number {
    if (len < 54 || f.getUint16(12, true) !== 0x0008 || fb[14] !== 0x45) return 0;
    return this.buckets[this.connHash4(fb[23]!, f.getUint32(26, true), f.getUint16(34, true))]!;
  }

  /** Second stage: the client address of a non-empty bucket's head entry. */
  touchEntry(head: number): number {
    return head !== 0 ? this.e32[(((head - 1) << 6) + C_CADDR) >> 2]! : 0;
  }

  /** Processes the frame in `f` (a view of `fb`). 0 pass, 1 forwarded, 3 drop. */
  process(f: DataView, fb: Uint8Array, len: number, bridge: number, now: number): number {
    if (now !== this.lastSweep) {
      this.lastSweep = now;
      this.sweep(now, this.sweepStep);
    }
    if (f.getUint16(12, true) !== 0x0008 || len < 34) return 0;
    const ip = 14;
    const daddr = f.getUint32(ip + 16, true);
    const isVip = this.addrFind4(bridge, 1, daddr) >= 0;
    const vihl = fb[ip]!, ihl = (vihl & 15) << 2, totLen = f.getUint16(ip + 2);
    if (vihl >> 4 !== 4 || ihl < 20 || totLen < ihl || 14 + totLen > len) return isVip ? 3 : 0;
    const proto = fb[ip + 9]!;
    const l4 = ip + ihl, l4len = totLen - ihl;
    if (proto !== 6 && proto !== 17) return isVip ? 3 : 0;
    if (f.getUint16(ip + 6) & 0x3fff) return isVip ? 3 : 0;
    if (l4len < (proto === 6 ? 20 : 8)) return isVip ? 3 : 0;
    if (!isVip) return 0;
    const sport = f.getUint16(l4, true), dport = f.getUint16(l4 + 2, true), fl = proto === 6 ? fb[l4 + 13]! : 0;
    const saddr = f.getUint32(ip + 12, true);
    let e = this.connIn(bridge, proto, saddr, sport, daddr, dport, now);
    if (e >= 0 && !this.destAlive(e)) return 3;
    if (e >= 0) return this.forwardIn(e, f, fb, proto, fl, totLen, now);
    // a new connection: the service, mh, a fresh entry
    let svc = this.svcFind(bridge, proto, dport, daddr);
    if (svc < 0) svc = this.svcFind(bridge, proto, 0, daddr);
    if (svc < 0) return 3;
    if (proto === 6 && (fl & 4 || !(fl & 2))) return 3;
    const d = this.maglev
      ? this.ring[mod65537(jhash2words(saddr, f.getUint32(l4, true), 512 * 65537))]!
      : this.mh[hsiphash32(bswap32(saddr), MH_KEY1) % 4093]!;
    if (d < 0 || !(this.dWeight[d]! > 0 && !(this.dFlags[d]! & 2))) return 3;
    // allocate
    if (this.freeHead) {
      e = (this.freeHead - 1) << 6;
      this.freeHead = this.e32[(e + C_NEXT) >> 2]!;
    } else {
      if (this.bump >= this.cap) return 3;
      e = this.bump++ << 6;
    }
    this.live++;
    let rport = this.dPort[d]!;
    if (!rport) rport = dport;
    const e8 = this.e8, e16 = this.e16, e32 = this.e32;
    e8[e + C_PROTO] = proto;
    e8[e + C_STATE] = 0;
    let flags = F_INACTIVE | (this.dFwd[d] !== 0 ? F_NOOUTPUT : 0);
    e8[e + C_FLAGS] = flags;
    e8[e + C_AF] = 4;
    e16[(e + C_CPORT) >> 1] = sport;
    e16[(e + C_VPORT) >> 1] = dport;
    e16[(e + C_DEST) >> 1] = d;
    e16[(e + C_DEST_GEN) >> 1] = this.dGen[d]!;
    e16[(e + C_DPORT) >> 1] = rport;
    e16[(e + C_SVC) >> 1] = svc;
    e16[(e + C_BRIDGE) >> 1] = bridge;
    e32[(e + C_CTL) >> 2] = 0;
    e32[(e + C_CADDR) >> 2] = saddr;
    e32[(e + C_CADDR + 4) >> 2] = 0;
    e32[(e + C_CADDR + 8) >> 2] = 0;
    e32[(e + C_CADDR + 12) >> 2] = 0;
    e32[(e + C_VADDR) >> 2] = daddr;
    e32[(e + C_VADDR + 4) >> 2] = 0;
    e32[(e + C_VADDR + 8) >> 2] = 0;
    e32[(e + C_VADDR + 12) >> 2] = 0;
    e32[(e + C_EXPIRES) >> 2] = now;
    this.dInact[d]!++;
    const u = this.dUThresh[d]!;
    if (u && this.dActive[d]! + this.dInact[d]! >= u) this.dFlags[d]! |= 2;
    const b = this.connHash4(proto, saddr, sport);
    e32[(e + C_NEXT) >> 2] = this.buckets[b]!;
    this.buckets[b] = (e >>> 6) + 1;
    this.dStats[d * 5]!++;
    this.svcStats[0]!++;
    this.counterNew++;
    void F_TEMPLATE;
    // forwardIn, with what was just stored kept in locals rather than read back
    // (as assembly/ipvs.ts newConnection + conntrack.ts tcpFirstTransition)
    const v = TCP_TABLE[((flags & F_NOOUTPUT ? 2 : 0) * 5 + TCP_EVENT[(fl & 7) | ((fl >> 1) & 8)]!) * 11]!;
    const next = v & 0xff;
    if (next !== 0) {
      if (this.dUsed[d] !== 0) {
        if (!(flags & F_INACTIVE) && next !== 1) {
          this.dActive[d]!--;
          this.dInact[d]!++;
          flags |= F_INACTIVE;
        } else if (flags & F_INACTIVE && next === 1) {
          this.dActive[d]!++;
          this.dInact[d]!--;
          flags &= ~F_INACTIVE;
        }
        e8[e + C_FLAGS] = flags;
      }
      e8[e + C_STATE] = next;
    }
    e32[(e + C_EXPIRES) >> 2] = (now + (v >>> 8)) >>> 0;
    this.dStats[d * 5 + 1]!++;
    this.dStats[d * 5 + 3]! += totLen;
    this.svcStats[1]!++;
    this.svcStats[3]! += totLen;
    f.setUint16(0, this.dMacHi[d]!);
    f.setUint32(2, this.dMacLo[d]!);
    if (this.dFwd[d] === 0) this.nat(f, proto, this.dAddr[d]!, rport);
    this.counterIn++;
    return 1;
  }
}
