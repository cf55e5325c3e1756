// Offload completion in WASM (assembly/offload.ts): partial checksums and
// TSO/GSO super-frames finished for ports that take no virtio_net_hdr, checked
// field by field with an independent checksum here, and byte for byte against
// the kernel's own segmentation (a super-frame sent into a TAP without offloads).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Dataplane, PortKind } from '../src/dataplane/index.ts';
import * as L from '../src/dataplane/layout.ts';
import { HOST_SLOT_SIZE, HostPort, finishOffloads, releaseFinished, setPortOffload, portOffload } from '../src/host/index.ts';
import { hostTest, ifName, run } from './helpers/netns.ts';

// ---- frames ----------------------------------------------------------------------

const MAC_A = [2, 0, 0, 0, 0, 1];
const MAC_B = [2, 0, 0, 0, 0, 2];

/** Ones-complement sum of big-endian words (not folded to the end: caller folds). */
function sum16(b: Uint8Array, start: number, end: number, init = 0): number {
  let s = init;
  for (let i = start; i + 1 < end; i += 2) s += (b[i]! << 8) | b[i + 1]!;
  if ((end - start) & 1) s += b[end - 1]! << 8;
  return s;
}
function fold(s: number): number {
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 65536);
  return s;
}
const be16 = (b: Uint8Array, o: number): number => (b[o]! << 8) | b[o + 1]!;
const be32 = (b: Uint8Array, o: number): number => ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
const put16 = (b: Uint8Array, o: number, v: number): void => {
  b[o] = v >> 8;
  b[o + 1] = v & 0xff;
};
const put32 = (b: Uint8Array, o: number, v: number): void => {
  put16(b, o, v >>> 16);
  put16(b, o + 2, v & 0xffff);
};

function payloadBytes(n: number, seed = 1): Uint8Array {
  const p = new Uint8Array(n);
  let x = seed * 2654435761;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    p[i] = x >>> 24;
  }
  return p;
}

interface Super {
  frame: Uint8Array;
  l3: number;
  l4: number;
  hdr: number;
  v6: boolean;
  tcp: boolean;
  csumStart: number;
  csumOffset: number;
}

/**
 * A super-frame as a TSO sender hands it over: IP total length for the whole,
 * the L4 checksum field holding the pseudo-header sum (NEEDS_CSUM).
 */
function superFrame(o: { v6?: boolean; tcp?: boolean; payload: number; flags?: number; vlan?: number; seq?: number; id?: number; hopByHop?: boolean }): Super {
  const v6 = o.v6 ?? false;
  const tcp = o.tcp ?? true;
  const eth = o.vlan ? 18 : 14;
  const ext = v6 && o.hopByHop ? 8 : 0;
  const l3 = eth;
  const l4 = l3 + (v6 ? 40 + ext : 20);
  const l4h = tcp ? 32 : 8;
  const hdr = l4 + l4h;
  const f = new Uint8Array(hdr + o.payload);
  f.set(MAC_B, 0);
  f.set(MAC_A, 6);
  if (o.vlan) {
    put16(f, 12, 0x8100);
    put16(f, 14, o.vlan);
  }
  put16(f, eth - 2, v6 ? 0x86dd : 0x0800);
  const proto = tcp ? 6 : 17;
  if (v6) {
    f[l3] = 0x60;
    put16(f, l3 + 4, ext + l4h + o.payload);
    f[l3 + 6] = ext ? 0 : proto;
    f[l3 + 7] = 64;
    f.set([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], l3 + 8);
    f.set([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2], l3 + 24);
    if (ext) {
      f[l3 + 40] = proto;
      f[l3 + 41] = 0;
      f.set([1, 4, 0, 0, 0, 0], l3 + 42); // PadN
    }
  } else {
    f[l3] = 0x45;
    put16(f, l3 + 2, 20 + l4h + o.payload);
    put16(f, l3 + 4, o.id ?? 0x1234);
    put16(f, l3 + 6, 0x4000);
    f[l3 + 8] = 64;
    f[l3 + 9] = proto;
    f.set([10, 0, 0, 1], l3 + 12);
    f.set([10, 0, 0, 2], l3 + 16);
    put16(f, l3 + 10, ~fold(sum16(f, l3, l3 + 20)) & 0xffff);
  }
  put16(f, l4, 40000);
  put16(f, l4 + 2, 5001);
  const l4len = l4h + o.payload;
  if (tcp) {
    put32(f, l4 + 4, o.seq ?? 1000);
    put32(f, l4 + 8, 2000);
    f[l4 + 12] = (l4h / 4) << 4;
    f[l4 + 13] = o.flags ?? 0x18;
    put16(f, l4 + 14, 502);
    f.set([1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2], l4 + 20); // NOP NOP TS
  } else {
    put16(f, l4 + 4, l4len > 0xffff ? 0 : l4len);
  }
  f.set(payloadBytes(o.payload), hdr);
  const csumOffset = tcp ? 16 : 6;
  // The partial checksum: the pseudo-header sum, not inverted.
  const pseudo = v6 ? sum16(f, l3 + 8, l3 + 40) : sum16(f, l3 + 12, l3 + 20);
  put16(f, l4 + csumOffset, fold(pseudo + proto + l4len));
  return { frame: f, l3, l4, hdr, v6, tcp, csumStart: l4, csumOffset };
}

/** Checks an IP/L4 frame's checksums with the independent sum; returns what it read. */
function check(f: Uint8Array, s: Super): { payload: Uint8Array; seq: number; flags: number; id: number } {
  const proto = s.tcp ? 6 : 17;
  const l4len = f.length - s.l4;
  if (s.v6) {
    assert.is(be16(f, s.l3 + 4), f.length - s.l3 - 40, 'IPv6 payload length');
  } else {
    assert.is(be16(f, s.l3 + 2), f.length - s.l3, 'IPv4 total length');
    assert.is(fold(sum16(f, s.l3, s.l3 + 20)), 0xffff, 'IPv4 header checksum');
  }
  const pseudo = s.v6 ? sum16(f, s.l3 + 8, s.l3 + 40) : sum16(f, s.l3 + 12, s.l3 + 20);
  assert.is(fold(sum16(f, s.l4, f.length, pseudo + proto + l4len)), 0xffff, `${s.tcp ? 'TCP' : 'UDP'} checksum`);
  if (!s.tcp) assert.is(be16(f, s.l4 + 4), l4len, 'UDP length');
  return {
    payload: f.subarray(s.hdr),
    seq: s.tcp ? be32(f, s.l4 + 4) : 0,
    flags: s.tcp ? f[s.l4 + 13]! : 0,
    id: s.v6 ? 0 : be16(f, s.l3 + 4),
  };
}

// ---- the data plane side -------------------------------------------------------------

function wireDp(slots = 64): Dataplane {
  const dp = new Dataplane({ slots, slotSize: HOST_SLOT_SIZE });
  dp.setPort(0, { kind: PortKind.WIRE, aux: 1 });
  dp.setPort(1, { kind: PortKind.WIRE, aux: 0 });
  return dp;
}

interface Meta {
  flags: number;
  gsoType: number;
  gsoSize: number;
  csumStart: number;
  csumOffset: number;
  hdrLen: number;
}

/** Queues a frame with offload metadata as the native adapter describes it. */
function pushMeta(dp: Dataplane, frame: Uint8Array, m: Partial<Meta>): void {
  const i = dp.pending;
  assert.ok(dp.push(frame, 0));
  const d = dp.regions.desc!.ptr + i * L.DESC_SIZE;
  const v = dp.view;
  v.setUint8(d + L.D_VNET_FLAGS, m.flags ?? 0);
  v.setUint8(d + L.D_GSO_TYPE, m.gsoType ?? 0);
  v.setUint16(d + L.D_GSO_SIZE, m.gsoSize ?? 0, true);
  v.setUint16(d + L.D_CSUM_START, m.csumStart ?? 0, true);
  v.setUint16(d + L.D_CSUM_OFFSET, m.csumOffset ?? 0, true);
  v.setUint16(d + L.D_HDR_LEN, m.hdrLen ?? 0, true);
}

function superMeta(s: Super, gsoType: number, mss: number): Partial<Meta> {
  return { flags: 1, gsoType, gsoSize: mss, csumStart: s.csumStart, csumOffset: s.csumOffset, hdrLen: s.hdr };
}

function txMeta(dp: Dataplane, i: number): Meta {
  const t = dp.regions.tx!.ptr + i * L.TX_SIZE;
  const v = dp.view;
  return {
    flags: v.getUint8(t + L.T_VNET_FLAGS),
    gsoType: v.getUint8(t + L.T_GSO_TYPE),
    gsoSize: v.getUint16(t + L.T_GSO_SIZE, true),
    csumStart: v.getUint16(t + L.T_CSUM_START, true),
    csumOffset: v.getUint16(t + L.T_CSUM_OFFSET, true),
    hdrLen: v.getUint16(t + L.T_HDR_LEN, true),
  };
}

/** Runs the vector, finishes it, returns copies of the frames leaving (in order). */
function runFinish(dp: Dataplane): Uint8Array[] {
  const nTx = dp.run();
  const total = finishOffloads(dp, nTx);
  const out: Uint8Array[] = [];
  for (let i = 0; i < total; i++) out.push(dp.txData(i).slice());
  releaseFinished(dp, nTx, total);
  return out;
}

const Seg = suite('offloadFinish: segmentation');

Seg('TCPv4 super-frame: MSS frames, IDs, sequence numbers, FIN/PSH last, CWR first, checksums', () => {
  const dp = wireDp();
  const s = superFrame({ payload: 5000, flags: 0x80 | 0x10 | 0x08 | 0x01, seq: 0xfffff000, id: 0xfffe });
  pushMeta(dp, s.frame, superMeta(s, 1, 1448));
  const segs = runFinish(dp);
  assert.is(segs.length, 4);
  assert.equal(segs.map((f) => f.length), [s.hdr + 1448, s.hdr + 1448, s.hdr + 1448, s.hdr + 656]);
  const parts = segs.map((f) => check(f, s));
  assert.equal(parts.map((p) => p.id), [0xfffe, 0xffff, 0, 1], 'IPv4 ID + k, wrapping');
  assert.equal(parts.map((p) => p.seq), [0xfffff000, 0xfffff5a8, 0xfffffb50, 0x000000f8], 'seq + k*MSS, wrapping');
  assert.equal(parts.map((p) => p.flags), [0x90, 0x10, 0x10, 0x19], 'CWR on the first, FIN|PSH on the last');
  assert.equal(Buffer.concat(parts.map((p) => p.payload)), Buffer.from(s.frame.subarray(s.hdr)), 'payload in order');
  assert.is(dp.counter('offload-gso'), 1n);
  assert.is(dp.counter('offload-segments'), 4n);
  assert.is(dp.freeSlots, 64, 'every slot back in the pool');
});

Seg('TCPv6 super-frame behind a VLAN tag and a hop-by-hop header', () => {
  const dp = wireDp();
  const s = superFrame({ v6: true, payload: 3000, vlan: 100, hopByHop: true });
  pushMeta(dp, s.frame, superMeta(s, 4, 1000));
  const segs = runFinish(dp);
  assert.is(segs.length, 3);
  const parts = segs.map((f) => check(f, s));
  assert.equal(parts.map((p) => p.seq), [1000, 2000, 3000]);
  assert.equal(parts.map((p) => p.flags), [0x10, 0x10, 0x18], 'PSH on the last only');
  assert.equal(Buffer.concat(parts.map((p) => p.payload)), Buffer.from(s.frame.subarray(s.hdr)));
  assert.is(be16(segs[0]!, 14), 100, 'VLAN tag kept on every segment');
  assert.is(be16(segs[2]!, 14), 100);
});

Seg('UDP (USO, gso_type 5) over IPv4: one datagram per gso_size, lengths and checksums', () => {
  const dp = wireDp();
  const s = superFrame({ tcp: false, payload: 2500 });
  pushMeta(dp, s.frame, superMeta(s, 5, 1200));
  const segs = runFinish(dp);
  assert.equal(segs.map((f) => f.length - s.hdr), [1200, 1200, 100]);
  const parts = segs.map((f) => check(f, s));
  assert.equal(parts.map((p) => p.id), [0x1234, 0x1235, 0x1236]);
  assert.equal(Buffer.concat(parts.map((p) => p.payload)), Buffer.from(s.frame.subarray(s.hdr)));
});

Seg('a super-frame no longer than one MSS only gets its checksums', () => {
  const dp = wireDp();
  const s = superFrame({ payload: 500 });
  pushMeta(dp, s.frame, superMeta(s, 1, 1448));
  const segs = runFinish(dp);
  assert.is(segs.length, 1);
  check(segs[0]!, s);
  assert.is(dp.counter('offload-gso'), 0n);
  assert.is(dp.counter('offload-csum'), 1n);
});

Seg('segments take the super-frame place: order in the vector is kept', () => {
  const dp = wireDp();
  const x = superFrame({ payload: 100, seq: 1 });
  const s = superFrame({ payload: 4000, seq: 2 });
  const y = superFrame({ payload: 200, seq: 3 });
  pushMeta(dp, x.frame, {});
  pushMeta(dp, s.frame, superMeta(s, 1, 1448));
  pushMeta(dp, y.frame, {});
  const out = runFinish(dp);
  assert.equal(out.map((f) => be32(f, x.l4 + 4)), [1, 2, 2 + 1448, 2 + 2896, 3]);
  assert.equal(out.map((f) => f.length), [x.frame.length, s.hdr + 1448, s.hdr + 1448, s.hdr + 1104, y.frame.length]);
});

const Csum = suite('offloadFinish: partial checksums');

Csum('NEEDS_CSUM completes the TCP and UDP checksum in place (skb_checksum_help)', () => {
  for (const tcp of [true, false]) {
    const dp = wireDp();
    const s = superFrame({ tcp, payload: 333 });
    const before = s.frame.slice();
    pushMeta(dp, s.frame, { flags: 1, csumStart: s.csumStart, csumOffset: s.csumOffset });
    const [f] = runFinish(dp);
    check(f!, s);
    // Only the checksum field changed.
    const o = s.l4 + s.csumOffset;
    assert.equal(Buffer.from(f!.subarray(0, o)), Buffer.from(before.subarray(0, o)));
    assert.equal(Buffer.from(f!.subarray(o + 2)), Buffer.from(before.subarray(o + 2)));
    assert.is(dp.counter('offload-csum'), 1n);
  }
});

Csum('a port that takes offload metadata gets the frame and its metadata untouched', () => {
  const dp = wireDp();
  setPortOffload(dp, 1, true);
  assert.ok(portOffload(dp, 1));
  const s = superFrame({ payload: 5000 });
  pushMeta(dp, s.frame, superMeta(s, 1, 1448));
  const nTx = dp.run();
  assert.is(finishOffloads(dp, nTx), 1);
  assert.equal(Buffer.from(dp.txData(0)), Buffer.from(s.frame));
  assert.equal(txMeta(dp, 0), { flags: 1, gsoType: 1, gsoSize: 1448, csumStart: s.csumStart, csumOffset: s.csumOffset, hdrLen: s.hdr });
  releaseFinished(dp, nTx, 1);
});

Csum('DATA_VALID alone needs nothing: metadata cleared, bytes unchanged', () => {
  const dp = wireDp();
  const s = superFrame({ payload: 100 });
  pushMeta(dp, s.frame, { flags: 2 });
  const nTx = dp.run();
  assert.is(finishOffloads(dp, nTx), 1);
  assert.equal(Buffer.from(dp.txData(0)), Buffer.from(s.frame));
  assert.is(txMeta(dp, 0).flags, 0);
  releaseFinished(dp, nTx, 1);
});

const Drops = suite('offloadFinish: drops');

function dropCase(name: string, frame: Uint8Array, m: Partial<Meta>, counter: string): void {
  Drops(`${name} -> ${counter}`, () => {
    const dp = wireDp();
    pushMeta(dp, frame, m);
    const nTx = dp.run();
    const total = finishOffloads(dp, nTx);
    assert.is(total, 1, 'the entry stays');
    assert.is(dp.txData(0).length, 0, 'with length 0: not sent');
    assert.is(dp.counter(counter), 1n);
    releaseFinished(dp, nTx, total);
    assert.is(dp.freeSlots, 64, 'its slot is freed with the others');
  });
}
{
  const s4 = superFrame({ payload: 3000 });
  const s6 = superFrame({ v6: true, payload: 3000 });
  dropCase('gso_type TCPv4 on an IPv6 frame', s6.frame, superMeta(s6, 1, 1000), 'offload-bad-gso');
  dropCase('gso_type TCPv6 on an IPv4 frame', s4.frame, superMeta(s4, 4, 1000), 'offload-bad-gso');
  dropCase('gso_size 0', s4.frame, superMeta(s4, 1, 0), 'offload-bad-gso');
  dropCase('UFO (gso_type 3)', s4.frame, superMeta(s4, 3, 1000), 'offload-gso-unsupported');
  dropCase('csum_start beyond the frame', s4.frame, { flags: 1, csumStart: 4000, csumOffset: 16 }, 'offload-bad-csum');
  dropCase('csum_offset beyond the frame', s4.frame, { flags: 1, csumStart: s4.l4, csumOffset: 3031 }, 'offload-bad-csum');
  const cut = superFrame({ payload: 3000 }).frame.slice(0, 40); // TCP header cut short
  dropCase('headers cut short', cut, { flags: 1, gsoType: 1, gsoSize: 1000, csumStart: 34, csumOffset: 16 }, 'offload-bad-gso');
}

Drops('not enough free slots for the segments -> offload-no-slot', () => {
  const dp = wireDp(4);
  const s = superFrame({ payload: 20000 });
  pushMeta(dp, s.frame, superMeta(s, 1, 1000));
  const nTx = dp.run();
  const total = finishOffloads(dp, nTx);
  assert.is(total, 1);
  assert.is(dp.txData(0).length, 0);
  assert.is(dp.counter('offload-no-slot'), 1n);
  releaseFinished(dp, nTx, total);
  assert.is(dp.freeSlots, 4);
});

// ---- against the kernel ------------------------------------------------------------------

const Kernel = suite('offloadFinish vs the kernel');

/**
 * Sends the super-frame into a TAP that has no offloads, through an AF_PACKET
 * socket with a virtio_net_hdr: the kernel segments it (tcp_gso_segment /
 * skb_checksum_help) and the TAP hands us its frames.
 */
async function kernelSegments(s: Super, gsoType: number, mss: number): Promise<Uint8Array[]> {
  const name = ifName('nwo');
  const tap = HostPort.openTap(name, { vnetHdr: false });
  try {
    run('sysctl', ['-qw', `net.ipv6.conf.${name}.disable_ipv6=1`]);
    run('ip', ['link', 'set', name, 'up']);
    const inj = HostPort.openPacket(name, { promisc: false });
    const dp = wireDp();
    try {
      pushMeta(dp, s.frame, superMeta(s, gsoType, mss));
      const nTx = dp.run();
      assert.is(inj.tx(dp, 0, nTx, 0), 1, 'the kernel took the super-frame');
      releaseFinished(dp, nTx, nTx);
      const out: Uint8Array[] = [];
      const until = Date.now() + 2000;
      while (Date.now() < until) {
        const n = tap.rx(dp, 1, 0, 64);
        for (let i = 0; i < n; i++) {
          const d = dp.regions.desc!.ptr + i * L.DESC_SIZE;
          const slot = dp.view.getUint32(d + L.D_SLOT, true);
          const len = dp.view.getUint32(d + L.D_LEN, true);
          const a = dp.slotAddr(slot) + L.HEADROOM;
          const f = dp.bytes.slice(a, a + len);
          dp.freeSlot(slot);
          // Only our flow (the kernel may send its own frames on the TAP).
          if (f.length > s.l4 + 4 && be16(f, s.l4) === 40000) out.push(f);
        }
        if (out.length && n === 0) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      return out;
    } finally {
      inj.close();
    }
  } finally {
    tap.close();
  }
}

for (const [name, o, type, mss] of [
  ['TCPv4, FIN|PSH|CWR', { payload: 7000, flags: 0x80 | 0x10 | 0x08 | 0x01, id: 0xfffe, seq: 0xfffff000 }, 1, 1448],
  ['TCPv6', { v6: true, payload: 5000 }, 4, 1220],
  ['UDPv4 (USO)', { tcp: false, payload: 4000 }, 5, 1400],
] as const) {
  hostTest(Kernel, `${name}: the same frames as the kernel's segmentation, byte for byte`, async () => {
    const s = superFrame(o);
    const kernel = await kernelSegments(s, type, mss);
    const dp = wireDp();
    pushMeta(dp, s.frame, superMeta(s, type, mss));
    const ours = runFinish(dp);
    assert.ok(kernel.length > 1, `the kernel segmented (${kernel.length} frames)`);
    assert.is(ours.length, kernel.length, 'as many frames');
    for (let i = 0; i < ours.length; i++) {
      const a = Buffer.from(ours[i]!);
      const b = Buffer.from(kernel[i]!);
      if (!a.equals(b)) {
        let j = 0;
        while (j < a.length && a[j] === b[j]) j++;
        assert.unreachable(`segment ${i} differs at byte ${j}: ours ${a.subarray(j, j + 8).toString('hex')} kernel ${b.subarray(j, j + 8).toString('hex')}`);
      }
    }
  });
}

Seg.run();
Csum.run();
Drops.run();
Kernel.run();
