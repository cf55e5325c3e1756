// The IPVS touch pass (ipvsTouchVector, VPP-style first pass over a vector):
// it only warms the caches, so a vector run with it gives exactly what the
// same vector gives without it: the same frames out, the same counters. And
// the vector benchmark loops (ipvsBenchNewV, ipvsBenchEstV) do what
// ipvsBenchNew and ipvsBenchRun do.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Dataplane, Bridges } from '../src/dataplane/index.ts';
import { Ipvs, type ServiceKey } from '../src/ipvs/ipvs.ts';
import { frame, TCP, arpRequest } from './helpers/ipvs-frames.ts';

const BR = 1;
const VMAC = '02:42:0a:00:00:fe';
const VIP = '10.0.0.100';
const CLIENT = { port: 0, mac: '02:42:0a:00:00:02' };
const BACKENDS = [1, 2, 3].map((port) => ({ port, mac: `02:42:0a:00:00:${(0x10 + port).toString(16)}`, ip: `10.0.0.${10 + port}` }));

interface Ex {
  ipvsTouchVector(n: number): number;
  ipvsSetTouchPass(on: number): void;
  ipvsBenchNew(frame: number, len: number, n: number, base: number, work: number, bridge: number, now: number): number;
  ipvsBenchNewV(frame: number, len: number, n: number, base: number, vec: number, vlen: number, bridge: number, now: number): number;
  ipvsBenchRun(frames: number, stride: number, len: number, n: number, iters: number, work: number, bridge: number, now: number): number;
  ipvsBenchEstV(frames: number, stride: number, len: number, n: number, iters: number, vec: number, vlen: number, bridge: number, now: number): number;
  conntrackFlush(): void;
}

function rig(scheduler: 'mh' | 'maglev', connCapacity = 1 << 12) {
  const dp = new Dataplane({ slots: 1024, connCapacity, bridges: 4 });
  const br = new Bridges(dp);
  const ipvs = new Ipvs(dp);
  br.addPort(CLIENT.port, { bridge: BR });
  for (const b of BACKENDS) br.addPort(b.port, { bridge: BR });
  ipvs.setBridge(BR, { mac: VMAC });
  const web: ServiceKey = { bridge: BR, protocol: 'tcp', address: VIP, port: 80 };
  const dns: ServiceKey = { bridge: BR, protocol: 'udp', address: VIP, port: 53 };
  ipvs.addService(web, { scheduler });
  ipvs.addService(dns, { scheduler: 'rr' });
  for (const b of BACKENDS) {
    ipvs.addServer(web, { address: b.ip, port: 8080, mac: b.mac });
    ipvs.addServer(dns, { address: b.ip, mac: b.mac });
  }
  return { dp, ex: dp.exports as unknown as Ex, ipvs, web, dns };
}

/** Vectors of mixed traffic: new flows, their next segments, UDP, replies, non-VIP, ARP, short frames; 1000 flows so that buckets collide. */
function vectors(): Array<Array<[Uint8Array, number]>> {
  const out: Array<Array<[Uint8Array, number]>> = [];
  for (let v = 0; v < 12; v++) {
    const vec: Array<[Uint8Array, number]> = [];
    for (let i = 0; i < 200; i++) {
      const c = (v * 97 + i * 13) % 1000;
      const src = `10.1.${c >> 8}.${c & 255}`;
      const sport = 1024 + c;
      const k = (i + v) % 9;
      const b = BACKENDS[c % 3]!;
      if (k < 3) vec.push([frame({ src, dst: VIP, sport, dport: 80, flags: TCP.SYN, srcMac: CLIENT.mac, dstMac: VMAC }), CLIENT.port]);
      else if (k < 5) vec.push([frame({ src, dst: VIP, sport, dport: 80, flags: TCP.ACK | (k === 4 ? TCP.FIN : 0), payload: 20, srcMac: CLIENT.mac, dstMac: VMAC }), CLIENT.port]);
      else if (k === 5) vec.push([frame({ src, dst: VIP, sport, dport: 53, proto: 'udp', payload: 30, srcMac: CLIENT.mac, dstMac: VMAC }), CLIENT.port]);
      else if (k === 6) vec.push([frame({ src: b.ip, dst: src, sport: 8080, dport: sport, flags: TCP.SYN | TCP.ACK, srcMac: b.mac, dstMac: CLIENT.mac }), b.port]);
      else if (k === 7) vec.push([frame({ src, dst: '10.0.0.200', sport, dport: 80, flags: TCP.SYN, srcMac: CLIENT.mac, dstMac: BACKENDS[0]!.mac }), CLIENT.port]);
      else vec.push([i & 1 ? arpRequest(CLIENT.mac, src, VIP) : frame({ src, dst: VIP, sport, dport: 80, flags: TCP.SYN, srcMac: CLIENT.mac, dstMac: VMAC }).slice(0, 40), CLIENT.port]);
    }
    out.push(vec);
  }
  return out;
}

const Touch = suite('ipvs: the vector touch pass');

for (const scheduler of ['mh', 'maglev'] as const) {
  Touch(`${scheduler}: a vector run with the touch pass gives the same frames and counters as without`, () => {
    const a = rig(scheduler);
    a.ex.ipvsSetTouchPass(0); // the graph runs the pass before every vector: not in a
    const b = rig(scheduler);
    let t = 1_700_000_000;
    let touchedFrames = 0;
    for (const vec of vectors()) {
      for (const [f, p] of vec) {
        assert.ok(a.dp.push(f, p, t, 0));
        assert.ok(b.dp.push(f, p, t, 0));
      }
      const pending = b.dp.pending;
      assert.is(pending, vec.length);
      assert.is(a.ex.ipvsTouchVector(pending), 0, 'the pass is off in a');
      touchedFrames += pending;
      const na = a.dp.run();
      const nb = b.dp.run();
      assert.is(nb, na, 'frames out');
      for (let i = 0; i < na; i++) {
        assert.is(b.dp.txPort(i), a.dp.txPort(i));
        assert.equal(b.dp.txData(i).slice(), a.dp.txData(i).slice());
      }
      t++;
    }
    assert.ok(touchedFrames > 0);
    // The graph ran the pass in b (b never calls it): what it read is summed
    // there; with no service left on any bridge it stops at once.
    assert.ok(b.ex.ipvsTouchVector(0) !== 0, 'the graph touched connection entries in b (a u32 sum: any non-zero)');
    b.ipvs.deleteService(b.web);
    assert.ok(b.ex.ipvsTouchVector(0) !== 0, 'one service left: the pass still runs');
    b.ipvs.deleteService(b.dns);
    assert.is(b.ex.ipvsTouchVector(0), 0, 'no bridge has services: no pass');
    const ca = a.dp.counters(true);
    assert.equal(b.dp.counters(true), ca);
    assert.ok((ca['ipvs-new-conns'] ?? 0n) > 0n && (ca['ipvs-in-packets'] ?? 0n) > (ca['ipvs-new-conns'] ?? 0n) && (ca['ipvs-out-packets'] ?? 0n) > 0n, 'the traffic made and used connections');
  });
}

Touch('the touch pass is safe: no IPVS, n beyond the vector size, descriptors of unused ports', () => {
  const none = new Dataplane({ slots: 64, connCapacity: 0 });
  assert.is((none.exports as unknown as Ex).ipvsTouchVector(256), 0);
  const { ex } = rig('mh');
  ex.ipvsTouchVector(0);
  ex.ipvsTouchVector(100000); // clamped to the vector size; stale descriptors only cost loads
});

Touch('descriptors the Ethernet checks refuse are not read by the touch pass (no trap): counted drops', () => {
  for (const [slot, off, len, reason] of [
    [0, 0x7fff0000, 60, 'eth-oversize'], [9_999_999, 128, 60, 'eth-bad-slot'], [0, 128, 0xffff_fff0, 'eth-oversize'],
  ] as const) {
    const { dp } = rig('mh');
    dp.describe(dp.pending, slot, off, len, CLIENT.port, 1, 0);
    dp.run(1);
    assert.is(dp.dropReason(0), reason, `slot ${slot} off ${off} len ${len}`);
    assert.is(dp.counter(reason), 1n);
  }
});

for (const scheduler of ['mh', 'maglev'] as const) {
  Touch(`${scheduler}: ipvsBenchNewV (vectors, touch pass) does what ipvsBenchNew does`, () => {
    const x = rig(scheduler, 1 << 16);
    const y = rig(scheduler, 1 << 16);
    const f = frame({ src: '10.128.0.0', dst: VIP, sport: 1024, dport: 80, flags: TCP.SYN, srcMac: CLIENT.mac, dstMac: VMAC });
    const n = 5000;
    for (const r of [x, y]) r.dp.bytes.set(f, r.dp.slotAddr(0));
    const bx = x.dp.slotAddr(0), by = y.dp.slotAddr(0);
    assert.is(x.ex.ipvsBenchNew(bx, f.length, n, 0x0a800000, bx + 1024, BR, 1000), n);
    assert.is(y.ex.ipvsBenchNewV(by, f.length, n, 0x0a800000, by + 4096, 64, BR, 1000), n);
    assert.equal(y.dp.counters(true), x.dp.counters(true));
    // the last frame of each is the same rewrite
    assert.equal(y.dp.bytes.slice(by + 4096 + ((n - 1) % 64) * 64, by + 4096 + ((n - 1) % 64) * 64 + f.length), x.dp.bytes.slice(bx + 1024, bx + 1024 + f.length));
  });
}


for (const scheduler of ['mh', 'maglev'] as const) {
  Touch(`${scheduler}: ipvsBenchEstV (established flows by vectors, touch pass) does what ipvsBenchRun does`, () => {
    const x = rig(scheduler, 1 << 16);
    const y = rig(scheduler, 1 << 16);
    const syn = frame({ src: '10.128.0.0', dst: VIP, sport: 1024, dport: 80, flags: TCP.SYN, srcMac: CLIENT.mac, dstMac: VMAC });
    const n = 3000;
    const iters = 3;
    for (const r of [x, y]) {
      const b = r.dp.slotAddr(0);
      r.dp.bytes.set(syn, b);
      assert.is(r.ex.ipvsBenchNew(b, syn.length, n, 0x0a800000, b + 1024, BR, 1000), n);
      // the flows' ACKs, 64 bytes apart (ipvsBenchNew's clients: 10.128.0.0 + i, port 1024 + i)
      for (let i = 0; i < n; i++) {
        const ack = frame({ src: `10.128.${i >> 8}.${i & 255}`, dst: VIP, sport: 1024 + i, dport: 80, flags: TCP.ACK, srcMac: CLIENT.mac, dstMac: VMAC });
        r.dp.bytes.set(ack, b + 4096 + i * 64);
      }
    }
    const bx = x.dp.slotAddr(0), by = y.dp.slotAddr(0);
    const len = syn.length;
    assert.is(x.ex.ipvsBenchRun(bx + 4096, 64, len, n, iters, bx + 1024, BR, 1001), n * iters);
    const vec = by + 4096 + n * 64;
    assert.is(y.ex.ipvsBenchEstV(by + 4096, 64, len, n, iters, vec, 64, BR, 1001), n * iters);
    assert.equal(y.dp.counters(true), x.dp.counters(true));
    // the last frame of each is the same rewrite
    const last = vec + ((n - 1) % 64) * 64;
    assert.equal(y.dp.bytes.slice(last, last + len), x.dp.bytes.slice(bx + 1024, bx + 1024 + len));
    // stride other than 64: frame by frame copies
    assert.is(y.ex.ipvsBenchEstV(by + 4096, 128, len, n >> 1, 1, vec, 64, BR, 1001), n >> 1);
  });
}

Touch.run();
