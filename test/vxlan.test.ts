// The VXLAN node through the real .wasm, independent of the bridge: a tunnel
// cross-connected to an access port (port 2) carries frames between it and
// the underlay port (port 0). Port 1 is the tunnel port.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  Dataplane, Vxlan, Verdict, FrameFlag, PortFlag, PortKind, D_VNI, D_FLAGS, D_VNET_FLAGS, D_CSUM_START, D_CSUM_OFFSET, DESC_SIZE,
  T_VNET_FLAGS, TX_SIZE, COUNTERS,
} from '../src/dataplane/index.ts';
import type { TunnelOptions, VtepOptions, DataplaneOptions } from '../src/dataplane/index.ts';
import * as F from './vxlan-frames.ts';

const VTEP_MAC = '02:00:00:00:00:01';
const VTEP_IP = '192.168.1.1';
const VTEP_IP6 = 'fd00:1::1';
const nh = (k: number): string => `02:00:00:00:00:0${k}`;
const C2 = '02:42:0a:00:00:02';
const C3 = '02:42:0a:00:00:03';

interface Rig { dp: Dataplane; vx: Vxlan; t: number }

function rig(tun: Partial<TunnelOptions> = {}, vtep: Partial<VtepOptions> = {}, dpo: DataplaneOptions = {}): Rig {
  const dp = new Dataplane({ slots: 512, ...dpo });
  const vx = new Vxlan(dp);
  vx.setVtep(0, { ip: VTEP_IP, ip6: VTEP_IP6, mac: VTEP_MAC, ...vtep });
  for (const k of [2, 3, 4, 5]) {
    vx.setNeighbor(0, `192.168.1.${k}`, nh(k));
    vx.setNeighbor(0, `fd00:1::${k}`, nh(k));
  }
  const t = vx.addTunnel({ vni: 4096, underlay: 0, port: 1, xconnect: 2, ...tun });
  return { dp, vx, t };
}

interface Out { port: number; data: Uint8Array }
interface Result { out: Out[]; verdict: Verdict; reason: string; flags: number; vni: number }

/** Runs frames through one vector; returns what left and the fate of each input. */
function run(dp: Dataplane, frames: Array<[Uint8Array, number]>, ts = 0): { out: Out[]; res: Result[] } {
  for (const [f, p] of frames) assert.ok(dp.push(f, p, ts), 'pushed');
  const n = dp.run();
  const out: Out[] = [];
  for (let i = 0; i < n; i++) out.push({ port: dp.txPort(i), data: dp.txData(i).slice() });
  const res: Result[] = frames.map((_, i) => ({
    out: out.filter((_o, k) => dp.txSrc(k) === i), verdict: dp.verdict(i), reason: dp.dropReason(i),
    flags: dp.descField(i, D_FLAGS, 1), vni: dp.descField(i, D_VNI),
  }));
  return { out, res };
}

const one = (dp: Dataplane, f: Uint8Array, port: number, ts = 0): Result => run(dp, [[f, port]], ts).res[0]!;

function outer(over: Partial<F.OuterOpts>, inner: Uint8Array): Uint8Array {
  return F.vxlanFrame({ dstMac: VTEP_MAC, srcMac: nh(2), src: '192.168.1.2', dst: VTEP_IP, vni: 4096, ...over }, Array.from(inner));
}

const innerUdp = (size = 100, sport = 1000, dst = C3): Uint8Array => F.udpFrame(dst, C2, '10.0.0.2', '10.0.0.3', sport, 2000, size);

// ---------------------------------------------------------------------------- encap

const Encap = suite('vxlan encap');

Encap('unicast to a static peer: the outer headers Docker/Linux send, the inner frame intact', () => {
  const { dp, vx, t } = rig();
  vx.peerAdd(t, { mac: C3, ip: '10.0.0.3', vtep: '192.168.1.3' });
  const inner = innerUdp(100);
  const r = one(dp, inner, 2);
  assert.is(r.verdict, Verdict.TX);
  assert.is(r.out.length, 1);
  assert.is(r.out[0]!.port, 0, 'leaves on the underlay port');
  const o = F.parseOuter(r.out[0]!.data);
  assert.is(r.out[0]!.data.length, inner.length + 50);
  assert.is(o.dstMac, nh(3), 'to the next hop of VTEP .3');
  assert.is(o.srcMac, VTEP_MAC);
  assert.is(o.src, VTEP_IP);
  assert.is(o.dst, '192.168.1.3');
  assert.is(o.ttl, 64);
  assert.is(o.df, false);
  assert.ok(o.ipCsumOk, 'IPv4 header checksum');
  assert.is(o.dport, 4789);
  assert.ok(o.sport >= 49152 && o.sport <= 65535, `source port ${o.sport} in 49152-65535`);
  assert.is(o.udpCsum, 0, 'zero UDP checksum over IPv4 by default');
  assert.is(o.flags, 0x08, 'I flag only');
  assert.is(o.vni, 4096);
  assert.is(F.frameDiff(o.inner, inner), '');
  assert.is(dp.counter('vxlan-encap'), 1n);
});

Encap('UDP checksum when asked over IPv4, always over IPv6; odd and even inner lengths', () => {
  for (const family of [4, 6] as const) {
    const { dp, vx, t } = rig({ udpCsum: family === 4, family });
    vx.peerAdd(t, { mac: C3, vtep: family === 4 ? '192.168.1.3' : 'fd00:1::3' });
    for (const size of [60, 61, 64, 99, 1400, family === 4 ? 1463 : 1443]) {
      const inner = innerUdp(size);
      const r = one(dp, inner, 2);
      assert.is(r.out.length, 1, `IPv${family} ${size}`);
      const o = F.parseOuter(r.out[0]!.data);
      assert.is(o.v6, family === 6);
      assert.is(r.out[0]!.data.length, inner.length + (family === 6 ? 70 : 50));
      assert.ok(o.udpCsum !== 0, 'checksum present');
      assert.is(o.udpCsumOk, true, `IPv${family} inner ${size}: UDP checksum verifies`);
      assert.is(F.frameDiff(o.inner, inner), '');
    }
  }
});

Encap('IPv6 underlay: addresses, hop limit, traffic class, payload length', () => {
  const { dp, vx, t } = rig({ family: 6, ttl: 9, tos: 0x28 });
  vx.peerAdd(t, { mac: C3, vtep: 'fd00:1::3' });
  const inner = innerUdp(80);
  const f = one(dp, inner, 2).out[0]!.data;
  const o = F.parseOuter(f);
  assert.is(o.src, 'fd00:1:0:0:0:0:0:1');
  assert.is(o.dst, 'fd00:1:0:0:0:0:0:3');
  assert.is(o.ttl, 9);
  assert.is(((f[14]! & 0x0f) << 4) | (f[15]! >> 4), 0x28, 'traffic class');
  assert.is((f[18]! << 8) | f[19]!, 80 + 16, 'payload length');
});

Encap('one flow keeps one source port; flows spread over the range; a custom range holds', () => {
  const { dp, vx, t } = rig();
  vx.peerAdd(t, { mac: C3, vtep: '192.168.1.3' });
  const first: number[] = [];
  for (let v = 0; v < 3; v++) {
    const { out } = run(dp, Array.from({ length: 200 }, (_, i) => [innerUdp(80, 1000 + i), 2] as [Uint8Array, number]));
    out.forEach((o, i) => {
      const p = F.parseOuter(o.data).sport;
      if (v === 0) first.push(p);
      else assert.is(p, first[i], `flow ${i} keeps its port in vector ${v}`);
    });
  }
  const ports = new Set(first);
  assert.ok(ports.size > 180, `200 flows over ${ports.size} ports`);
  for (const p of ports) assert.ok(p >= 49152 && p <= 65535);
  const small = rig({ srcPortRange: [5000, 5003] });
  small.vx.peerAdd(small.t, { mac: C3, vtep: '192.168.1.3' });
  const seen = new Set<number>();
  const { out } = run(small.dp, Array.from({ length: 100 }, (_, i) => [innerUdp(80, 3000 + i), 2] as [Uint8Array, number]));
  for (const o of out) seen.add(F.parseOuter(o.data).sport);
  assert.equal([...seen].sort(), [5000, 5001, 5002, 5003]);
});

Encap('the IPv4 ID changes per packet; DF and TTL as configured', () => {
  const { dp, vx, t } = rig({ df: true, ttl: 3 });
  vx.peerAdd(t, { mac: C3, vtep: '192.168.1.3' });
  const { out } = run(dp, [[innerUdp(), 2], [innerUdp(), 2], [innerUdp(), 2]]);
  const ids = out.map((o) => F.parseOuter(o.data).id);
  assert.is(new Set(ids).size, 3);
  for (const o of out) {
    const p = F.parseOuter(o.data);
    assert.ok(p.df);
    assert.is(p.ttl, 3);
    assert.ok(p.ipCsumOk);
  }
});

Encap('an underlay VLAN puts an 802.1Q tag in the outer header', () => {
  const { dp, vx, t } = rig({}, { vlan: 100 });
  vx.peerAdd(t, { mac: C3, vtep: '192.168.1.3' });
  const inner = innerUdp();
  const f = one(dp, inner, 2).out[0]!.data;
  assert.is(f.length, inner.length + 54);
  assert.is(F.parseOuter(f).vlan, 100);
});

Encap('overlay MTU: 1450 bytes of inner payload pass, 1451 are a counted drop, never fragmented', () => {
  const { dp, vx, t } = rig();
  vx.peerAdd(t, { mac: C3, vtep: '192.168.1.3' });
  assert.is(vx.overlayMtu(t), 1450);
  const ok = one(dp, innerUdp(1464), 2);
  assert.is(ok.out.length, 1);
  assert.is(ok.out[0]!.data.length, 1514);
  const big = one(dp, innerUdp(1465), 2);
  assert.is(big.verdict, Verdict.DROP);
  assert.is(big.reason, 'vxlan-encap-mtu-exceeded');
  // A tagged inner frame of 1450 bytes of payload would make a 1504-byte outer packet.
  const tagged = Uint8Array.from([...innerUdp(1464).subarray(0, 12), 0x81, 0x00, 0x00, 0x05, ...innerUdp(1464).subarray(12)]);
  assert.is(one(dp, tagged, 2).reason, 'vxlan-encap-mtu-exceeded');
  // A smaller configured overlay MTU, and a jumbo underlay.
  const small = rig({ mtu: 1000 });
  small.vx.peerAdd(small.t, { mac: C3, vtep: '192.168.1.3' });
  assert.is(one(small.dp, innerUdp(1014), 2).out.length, 1);
  assert.is(one(small.dp, innerUdp(1015), 2).reason, 'vxlan-encap-mtu-exceeded');
  const jumbo = rig({}, { mtu: 9000 }, { slotSize: 10240 });
  jumbo.vx.peerAdd(jumbo.t, { mac: C3, vtep: '192.168.1.3' });
  assert.is(jumbo.vx.overlayMtu(jumbo.t), 8950);
  assert.is(one(jumbo.dp, innerUdp(8964), 2).out[0]!.data.length, 9014);
  assert.is(dp.counter('vxlan-encap-mtu-exceeded'), 2n);
});

Encap('broadcast, multicast and unknown unicast go to every VTEP of the flood list', () => {
  const { dp, vx, t } = rig({ udpCsum: true });
  for (const k of [2, 3, 4]) vx.floodAdd(t, `192.168.1.${k}`);
  assert.equal(vx.floodList(t), ['192.168.1.2', '192.168.1.3', '192.168.1.4']);
  for (const dst of ['ff:ff:ff:ff:ff:ff', '01:00:5e:00:00:01', '33:33:00:00:00:01', C3]) {
    const inner = innerUdp(120, 1000, dst);
    const r = one(dp, inner, 2);
    assert.is(r.out.length, 3, dst);
    assert.ok(r.flags & FrameFlag.FLOODED);
    assert.equal(r.out.map((o) => F.parseOuter(o.data).dst), ['192.168.1.2', '192.168.1.3', '192.168.1.4']);
    assert.equal(r.out.map((o) => F.parseOuter(o.data).dstMac), [nh(2), nh(3), nh(4)]);
    for (const o of r.out) {
      const p = F.parseOuter(o.data);
      assert.is(F.frameDiff(p.inner, inner), '');
      assert.ok(p.ipCsumOk && p.udpCsumOk);
    }
  }
  assert.is(dp.counter('vxlan-encap-flood'), 12n);
  // A known peer is unicast, not flooded.
  vx.peerAdd(t, { mac: C3, vtep: '192.168.1.4' });
  const u = one(dp, innerUdp(120, 1000, C3), 2);
  assert.is(u.out.length, 1);
  assert.is(F.parseOuter(u.out[0]!.data).dst, '192.168.1.4');
  // Every slot comes back.
  dp.releaseTx();
  assert.is(dp.freeSlots, 512);
});

Encap('a tunnel port without a tunnel, a missing or down underlay, no headroom: counted drops', () => {
  const { dp, vx, t } = rig();
  vx.peerAdd(t, { mac: C3, vtep: '192.168.1.3' });
  // The underlay port is down.
  dp.setPort(0, { kind: PortKind.VTEP, mac: VTEP_MAC, ip4: VTEP_IP, flags: PortFlag.DOWN });
  assert.is(one(dp, innerUdp(), 2).reason, 'vxlan-encap-no-underlay');
  vx.setVtep(0, { ip: VTEP_IP, ip6: VTEP_IP6, mac: VTEP_MAC });
  assert.is(one(dp, innerUdp(), 2).reason, '');
  // A frame with less headroom than the outer headers need (a host that filled the slot itself).
  const f = innerUdp();
  const slot = dp.allocSlot();
  dp.bytes.set(f, dp.slotAddr(slot) + 20);
  dp.describe(0, slot, 20, f.length, 2, 0, 0);
  dp.run(1);
  assert.is(dp.dropReason(0), 'vxlan-encap-no-headroom');
  // A tunnel port that names no tunnel.
  dp.setPort(1, { kind: PortKind.VXLAN, aux: 9 });
  assert.is(one(dp, innerUdp(), 2).reason, 'vxlan-encap-no-tunnel');
  dp.releaseTx();
  assert.is(dp.freeSlots, 512, 'no slot is lost on any of these paths');
});

Encap('nothing to send to: an empty flood list is a counted drop', () => {
  const { dp } = rig();
  const r = one(dp, innerUdp(), 2);
  assert.is(r.verdict, Verdict.DROP);
  assert.is(r.reason, 'vxlan-encap-no-vtep');
});

Encap('head-end replication with an exhausted pool sends what it can and counts the rest', () => {
  const { dp, vx, t } = rig({}, {}, { slots: 2 });
  for (const k of [2, 3, 4, 5]) vx.floodAdd(t, `192.168.1.${k}`);
  const r = one(dp, innerUdp(80, 1, 'ff:ff:ff:ff:ff:ff'), 2);
  // One slot holds the input frame, one more is free: one copy plus the frame itself.
  assert.is(r.out.length, 2);
  assert.is(dp.counter('graph-no-slot'), 1n);
  dp.releaseTx();
  assert.is(dp.freeSlots, 2);
});

Encap('peers are added and removed between vectors', () => {
  const { dp, vx, t } = rig();
  vx.floodAdd(t, '192.168.1.2');
  vx.peerAdd(t, { mac: C3, ip: '10.0.0.3', vtep: '192.168.1.3' });
  assert.is(F.parseOuter(one(dp, innerUdp(), 2).out[0]!.data).dst, '192.168.1.3');
  vx.peerAdd(t, { mac: C3, ip: '10.0.0.3', vtep: '192.168.1.5' }); // moved
  assert.is(F.parseOuter(one(dp, innerUdp(), 2).out[0]!.data).dst, '192.168.1.5');
  assert.ok(vx.peerDelete(t, { mac: C3 }));
  assert.is(F.parseOuter(one(dp, innerUdp(), 2).out[0]!.data).dst, '192.168.1.2', 'unknown again: flooded');
  assert.not.ok(vx.peerDelete(t, { mac: C3 }));
  assert.equal(vx.usage(), { peers: 0, neighbors: 0, remotes: 1 });
  vx.floodDelete(t, '192.168.1.2');
  assert.equal(vx.usage(), { peers: 0, neighbors: 0, remotes: 0 });
  assert.is(one(dp, innerUdp(), 2).reason, 'vxlan-encap-no-vtep');
});

Encap('a next-hop change rebuilds the templates', () => {
  const { dp, vx, t } = rig();
  vx.peerAdd(t, { mac: C3, vtep: '192.168.1.3' });
  vx.setNeighbor(0, '192.168.1.3', '02:00:00:00:00:33');
  assert.is(F.parseOuter(one(dp, innerUdp(), 2).out[0]!.data).dstMac, '02:00:00:00:00:33');
  vx.deleteNeighbor(0, '192.168.1.4');
  assert.throws(() => vx.deleteNeighbor(0, '192.168.1.3'), /no next-hop MAC for VTEP 192\.168\.1\.3/);
  vx.setVtep(0, { ip: VTEP_IP, mac: VTEP_MAC, gateway: '02:00:00:00:00:fe' });
  vx.deleteNeighbor(0, '192.168.1.3');
  assert.is(F.parseOuter(one(dp, innerUdp(), 2).out[0]!.data).dstMac, '02:00:00:00:00:fe', 'through the gateway');
});

Encap('a partial (offloaded) inner checksum is completed before encapsulation', () => {
  const { dp, vx, t } = rig();
  vx.peerAdd(t, { mac: C3, vtep: '192.168.1.3' });
  const inner = innerUdp(200);
  const want = inner.slice();
  // CHECKSUM_PARTIAL: the UDP checksum field holds the pseudo-header sum only.
  const pseudo = F.sum16([10, 0, 0, 2, 10, 0, 0, 3], 0, 8, 17 + (200 - 34));
  inner[40] = pseudo >> 8;
  inner[41] = pseudo & 0xff;
  dp.push(inner, 2);
  const d = dp.regions.desc!.ptr;
  dp.view.setUint8(d + D_VNET_FLAGS, 1);
  dp.view.setUint16(d + D_CSUM_START, 34, true);
  dp.view.setUint16(d + D_CSUM_OFFSET, 6, true);
  assert.is(dp.run(), 1);
  assert.is(F.frameDiff(F.parseOuter(dp.txData(0)).inner, want), '', 'the inner UDP checksum is final');
  assert.is(dp.view.getUint8(dp.regions.tx!.ptr + T_VNET_FLAGS), 0, 'no offload left on the outer frame');
  // A partial checksum pointing past the frame is a counted drop.
  dp.push(innerUdp(60), 2);
  dp.view.setUint8(d + D_VNET_FLAGS, 1);
  dp.view.setUint16(d + D_CSUM_START, 58, true);
  dp.view.setUint16(d + D_CSUM_OFFSET, 6, true);
  dp.run();
  assert.is(dp.dropReason(0), 'vxlan-encap-bad-csum-offload');
  void TX_SIZE;
  void DESC_SIZE;
});

Encap.run();

// ---------------------------------------------------------------------------- ARP proxy

const Arp = suite('vxlan ARP proxy');

Arp('a request for a peer is answered locally with the peer MAC and never crosses the overlay', () => {
  const { dp, vx, t } = rig();
  vx.floodAdd(t, '192.168.1.2');
  vx.peerAdd(t, { mac: C3, ip: '10.0.0.3', vtep: '192.168.1.3' });
  for (const pad of [false, true]) {
    const r = one(dp, F.arpRequest(C2, '10.0.0.2', '10.0.0.3', pad), 2);
    assert.is(r.out.length, 1);
    assert.is(r.out[0]!.port, 2, 'back out of the ingress port');
    assert.ok(r.flags & FrameFlag.REPLIED);
    // Linux's arp_create: to the requester from the peer, op 2, unpadded (42 bytes).
    const want = Uint8Array.from([
      ...F.eth(C2, C3, 0x0806), 0, 1, 8, 0, 6, 4, 0, 2, ...F.mac(C3), 10, 0, 0, 3, ...F.mac(C2), 10, 0, 0, 2,
    ]);
    assert.is(F.frameDiff(r.out[0]!.data, want), '');
  }
  assert.is(dp.counter('arp-proxy-reply'), 2n);
  assert.is(dp.counter('vxlan-encap'), 0n);
});

Arp('an unknown address is dropped (as Linux), or flooded by setting', () => {
  const drop = rig();
  drop.vx.floodAdd(drop.t, '192.168.1.2');
  const r = one(drop.dp, F.arpRequest(C2, '10.0.0.2', '10.0.0.9'), 2);
  assert.is(r.verdict, Verdict.DROP);
  assert.is(r.reason, 'arp-proxy-drop');
  const flood = rig({ arpUnknown: 'flood' });
  flood.vx.floodAdd(flood.t, '192.168.1.2');
  const req = F.arpRequest(C2, '10.0.0.2', '10.0.0.9');
  const f = one(flood.dp, req, 2);
  assert.is(f.out.length, 1);
  assert.is(F.frameDiff(F.parseOuter(f.out[0]!.data).inner, req), '');
  assert.is(flood.dp.counter('arp-proxy-flood'), 1n);
});

Arp('loopback and multicast targets are never answered; replies and other ARP pass; malformed ARP is dropped', () => {
  const { dp, vx, t } = rig();
  vx.floodAdd(t, '192.168.1.2');
  vx.arpAdd(t, '127.0.0.1', C3);
  vx.arpAdd(t, '224.0.0.1', C3);
  assert.is(one(dp, F.arpRequest(C2, '10.0.0.2', '127.0.0.1'), 2).reason, 'arp-proxy-drop');
  assert.is(one(dp, F.arpRequest(C2, '10.0.0.2', '224.0.0.1'), 2).reason, 'arp-proxy-drop');
  const reply = F.arpRequest(C2, '10.0.0.2', '10.0.0.9');
  reply[21] = 2;
  assert.is(one(dp, reply, 2).out.length, 1, 'an ARP reply is encapsulated');
  const cut = F.arpRequest(C2, '10.0.0.2', '10.0.0.3').subarray(0, 40);
  assert.is(one(dp, cut, 2).reason, 'arp-malformed');
  const v6 = F.arpRequest(C2, '10.0.0.2', '10.0.0.3');
  v6[19] = 16;
  assert.is(one(dp, v6, 2).reason, 'arp-malformed');
  assert.ok(vx.arpDelete(t, '127.0.0.1'));
});

Arp('with the proxy off, ARP crosses the overlay like any frame', () => {
  const { dp, vx, t } = rig({ arpProxy: false });
  vx.floodAdd(t, '192.168.1.2');
  vx.peerAdd(t, { mac: C3, ip: '10.0.0.3', vtep: '192.168.1.3' });
  const r = one(dp, F.arpRequest(C2, '10.0.0.2', '10.0.0.3'), 2);
  assert.is(r.out.length, 1);
  assert.is(r.out[0]!.port, 0);
  assert.is(dp.counter('arp-proxy-reply'), 0n);
});

Arp.run();

// ---------------------------------------------------------------------------- decap

const Decap = suite('vxlan decap');

Decap('a valid frame is decapsulated to its inner frame, with its VNI and the DECAPPED flag', () => {
  const { dp } = rig();
  const inner = innerUdp(100);
  for (const csum of [false, true]) {
    const r = one(dp, outer({ csum }, inner), 0);
    assert.is(r.verdict, Verdict.TX);
    assert.is(r.out.length, 1);
    assert.is(r.out[0]!.port, 2);
    assert.is(F.frameDiff(r.out[0]!.data, inner), '');
    assert.is(r.vni, 4096);
    assert.ok(r.flags & FrameFlag.DECAPPED);
  }
  assert.is(dp.counter('vxlan-decap'), 2n);
});

Decap('IPv4 options, an outer VLAN tag, reserved bits (ignored, RFC 7348), outer Ethernet padding', () => {
  const { dp } = rig();
  const inner = innerUdp(60);
  const cases: Array<[string, Uint8Array]> = [
    ['IPv4 options', outer({ ipOptions: [1, 1, 1, 0], csum: true }, inner)],
    ['VLAN tag', outer({ vlan: 7 }, inner)],
    ['reserved flag bits', outer({ flags: 0xff, reserved: [0xaa, 0xbb, 0xcc] }, inner)],
    ['trailing padding', Uint8Array.from([...outer({}, inner), 0, 0, 0, 0])],
  ];
  for (const [what, f] of cases) {
    const r = one(dp, f, 0);
    assert.is(r.reason, '', what);
    assert.is(F.frameDiff(r.out[0]!.data, inner), '', what);
  }
});

Decap('IPv6 underlay: verified checksum, extension headers, zero checksum refused unless allowed', () => {
  const { dp } = rig({ family: 6 });
  const inner = innerUdp(90);
  const o6 = { src: 'fd00:1::2', dst: VTEP_IP6 };
  assert.is(F.frameDiff(one(dp, outer(o6, inner), 0).out[0]!.data, inner), '');
  assert.is(one(dp, outer({ ...o6, zeroCsum: true }, inner), 0).reason, 'udp-zero-checksum6');
  const bad = outer(o6, inner);
  bad[bad.length - 1]! ^= 1;
  assert.is(one(dp, bad, 0).reason, 'udp-bad-checksum');
  // A hop-by-hop options header (8 bytes, PadN) before UDP.
  const f = outer(o6, inner);
  const hbh = [17, 0, 1, 4, 0, 0, 0, 0];
  const withExt = Uint8Array.from([...f.subarray(0, 54), ...hbh, ...f.subarray(54)]);
  withExt[20] = 0; // next header: hop-by-hop
  const plen = (withExt[18]! << 8) + withExt[19]! + 8;
  withExt[18] = plen >> 8;
  withExt[19] = plen & 0xff;
  assert.is(F.frameDiff(one(dp, withExt, 0).out[0]!.data, inner), '', 'hop-by-hop skipped');
  const frag = withExt.slice();
  frag[20] = 44;
  assert.is(one(dp, frag, 0).reason, 'ipv6-fragment');
  const v4 = outer(o6, inner).slice();
  v4[14] = 0x40;
  assert.is(one(dp, v4, 0).reason, 'ipv6-bad-version');
  const long = outer(o6, inner).slice();
  long[19]! += 1;
  assert.is(one(dp, long, 0).reason, 'ipv6-bad-length');
  const cutExt = withExt.slice(0, 14 + 40 + 8);
  cutExt[18] = 0;
  cutExt[19] = 16;
  assert.is(one(dp, cutExt, 0).reason, 'ipv6-bad-length', 'an extension header cut short');
  const zero = rig({ family: 6 }, { udp6ZeroCsumRx: true });
  assert.is(one(zero.dp, outer({ ...o6, zeroCsum: true }, inner), 0).reason, '');
});

/** Every decap drop reason from one crafted frame each. */
Decap('every malformed or foreign frame is a counted drop with its own name', () => {
  const { dp } = rig();
  const inner = innerUdp(64);
  const good = (): Uint8Array => outer({ csum: true }, inner);
  const mut = (f: (b: Uint8Array) => void, base = good()): Uint8Array => {
    const b = base.slice();
    f(b);
    return b;
  };
  const fixIpCsum = (b: Uint8Array): void => {
    b[24] = 0;
    b[25] = 0;
    const c = F.csumOf(b, 14, 34);
    b[24] = c >> 8;
    b[25] = c & 0xff;
  };
  const cases: Array<[string, Uint8Array]> = [
    ['vxlan-decap-not-ip', F.arpRequest('02:00:00:00:00:09', '192.168.1.9', VTEP_IP)],
    ['vxlan-decap-not-udp', mut((b) => { b[23] = 6; fixIpCsum(b); })],
    ['vxlan-decap-not-local', outer({ dst: '192.168.1.77' }, inner)],
    ['vxlan-decap-not-local', outer({ dstMac: '02:00:00:00:00:77' }, inner)],
    ['vxlan-decap-bad-port', outer({ dport: 4790 }, inner)],
    ['vxlan-decap-bad-flags', outer({ flags: 0x00 }, inner)],
    ['vxlan-decap-bad-flags', outer({ flags: 0xf7 }, inner)],
    ['vxlan-decap-no-vni', outer({ vni: 4097 }, inner)],
    ['vxlan-decap-bad-length', outer({}, inner.subarray(0, 13))],
    ['ipv4-bad-version', mut((b) => { b[14] = 0x65; fixIpCsum(b); })],
    ['ipv4-bad-ihl', mut((b) => { b[14] = 0x44; })],
    ['ipv4-bad-length', mut((b) => { b[17]! += 1; fixIpCsum(b); })],
    ['ipv4-bad-length', good().subarray(0, 30)],
    ['ipv4-bad-checksum', mut((b) => { b[25]! ^= 0xff; })],
    ['ipv4-fragment', mut((b) => { b[20] = 0x20; fixIpCsum(b); })],
    ['ipv4-fragment', mut((b) => { b[21] = 0x10; fixIpCsum(b); })],
    ['udp-bad-length', mut((b) => { b[39]! -= 1; })],
    ['udp-bad-length', mut((b) => { b[16] = 0; b[17] = 27; fixIpCsum(b); }, good().subarray(0, 41))],
    ['udp-bad-checksum', mut((b) => { b[b.length - 1]! ^= 0x55; })],
  ];
  for (const [reason, f] of cases) {
    const r = one(dp, f, 0);
    assert.is(r.verdict, Verdict.DROP, reason);
    assert.is(r.reason, reason, `expected ${reason}`);
    assert.is(r.out.length, 0);
  }
  // The counters agree, one per case.
  for (const name of new Set(cases.map((c) => c[0]))) {
    assert.is(dp.counter(name), BigInt(cases.filter((c) => c[0] === name).length), name);
  }
});

Decap('an outer VLAN: the VTEP VLAN must match when set', () => {
  const { dp } = rig({}, { vlan: 100 });
  const inner = innerUdp(64);
  assert.is(one(dp, outer({ vlan: 100 }, inner), 0).reason, '');
  assert.is(one(dp, outer({ vlan: 200 }, inner), 0).reason, 'vxlan-decap-wrong-vlan');
  assert.is(one(dp, outer({}, inner), 0).reason, 'vxlan-decap-wrong-vlan');
  assert.is(one(dp, outer({ vlan: 100 }, inner).subarray(0, 17), 0).reason, 'vxlan-decap-bad-length');
});

Decap('the allow-list refuses unknown VTEPs and accepts peers, flood VTEPs and allowed ones', () => {
  const { dp, vx, t } = rig({ allowList: true });
  const inner = innerUdp(64);
  const from = (k: number): Uint8Array => outer({ src: `192.168.1.${k}`, srcMac: nh(k) }, inner);
  assert.is(one(dp, from(2), 0).reason, 'vxlan-decap-unknown-vtep');
  vx.peerAdd(t, { mac: C3, vtep: '192.168.1.2' });
  vx.floodAdd(t, '192.168.1.3');
  vx.allowVtep(t, '192.168.1.4');
  for (const k of [2, 3, 4]) assert.is(one(dp, from(k), 0).reason, '', `VTEP .${k}`);
  assert.is(one(dp, from(5), 0).reason, 'vxlan-decap-unknown-vtep');
  assert.ok(vx.disallowVtep(t, '192.168.1.4'));
  assert.is(one(dp, from(4), 0).reason, 'vxlan-decap-unknown-vtep');
  assert.is(dp.counter('vxlan-decap-unknown-vtep'), 3n);
  // Without the allow-list, anyone (Docker's behaviour).
  const any = rig();
  assert.is(one(any.dp, from(5), 0).reason, '');
});

Decap('the fast path\'s VNI cache follows table changes (allow-list on, VTEP off, tunnel gone, VNI moved)', () => {
  const { dp, vx, t } = rig();
  const inner = innerUdp(64);
  const from = (k: number): Uint8Array => outer({ src: `192.168.1.${k}`, srcMac: nh(k) }, inner);
  // Twice in one vector: the first frame fills the cache, the second takes it.
  const both = (): string[] => run(dp, [[from(5), 0], [from(5), 0]]).res.map((r) => r.reason);
  assert.equal(both(), ['', '']);
  vx.updateTunnel(t, { allowList: true });
  assert.equal(both(), ['vxlan-decap-unknown-vtep', 'vxlan-decap-unknown-vtep']);
  vx.updateTunnel(t, { allowList: false });
  assert.equal(both(), ['', '']);
  // The VTEP moves to another address: frames to the old one are no longer its own.
  vx.setVtep(0, { ip: '192.168.1.99', ip6: VTEP_IP6, mac: VTEP_MAC });
  const off = both();
  assert.ok(off.every((r) => r !== '' && r === off[0]), `VTEP moved: both dropped alike (${off})`);
  vx.setVtep(0, { ip: VTEP_IP, ip6: VTEP_IP6, mac: VTEP_MAC });
  assert.equal(both(), ['', ''], 'VTEP back at its address');
  vx.removeTunnel(t);
  assert.equal(both(), ['vxlan-decap-no-vni', 'vxlan-decap-no-vni']);
  vx.addTunnel({ vni: 4097, underlay: 0, port: 4, xconnect: 3 });
  assert.equal(both(), ['vxlan-decap-no-vni', 'vxlan-decap-no-vni']);
  vx.addTunnel({ vni: 4096, underlay: 0, port: 5, xconnect: 2 });
  const r = run(dp, [[from(5), 0], [from(5), 0]]);
  assert.equal(r.res.map((x) => x.reason), ['', '']);
  assert.equal(r.out.map((o) => o.port), [2, 2]);
});

Decap('learning: inner source MAC -> sending VTEP, used by encap; moves; static entries win; ageing', () => {
  const { dp, vx, t } = rig({ learning: true, ageing: 300 });
  vx.floodAdd(t, '192.168.1.2');
  const fromC3 = (k: number): Uint8Array => outer({ src: `192.168.1.${k}`, srcMac: `02:00:00:00:00:${k}${k}` }, F.udpFrame(C2, C3, '10.0.0.3', '10.0.0.2', 1, 2, 64));
  assert.is(one(dp, fromC3(5), 0, 100).reason, '');
  assert.is(dp.counter('vxlan-learn'), 1n);
  let fdb = vx.fdb(t);
  assert.equal(fdb, [{ tunnel: t, mac: C3, vtep: '192.168.1.5', via: '02:00:00:00:00:55', learned: true, lastSeen: 100 }]);
  // Encap to C3 now goes to VTEP .5 through the outer source MAC it came from.
  let o = F.parseOuter(one(dp, innerUdp(64), 2, 101).out[0]!.data);
  assert.is(o.dst, '192.168.1.5');
  assert.is(o.dstMac, '02:00:00:00:00:55');
  // C3 moves to VTEP .4.
  one(dp, fromC3(4), 0, 102);
  assert.is(dp.counter('vxlan-learn-move'), 1n);
  assert.is(F.parseOuter(one(dp, innerUdp(64), 2, 103).out[0]!.data).dst, '192.168.1.4');
  assert.is(vx.usage().remotes, 2, 'the flood VTEP and the learned .4 (.5 went with its last entry)');
  // Ageing in packet time: 300 s after it was last heard from, the entry is gone.
  assert.is(F.parseOuter(one(dp, innerUdp(64), 2, 402).out[0]!.data).dst, '192.168.1.4');
  assert.is(F.parseOuter(one(dp, innerUdp(64), 2, 403).out[0]!.data).dst, '192.168.1.2', 'expired: flooded');
  assert.is(dp.counter('vxlan-learn-expired'), 1n);
  // A static entry for C3 behind .3: a frame claiming C3 from .4 is dropped (Linux vxlan_snoop).
  vx.peerAdd(t, { mac: C3, vtep: '192.168.1.3' });
  assert.is(one(dp, fromC3(4), 0, 500).reason, 'vxlan-learn-static-conflict');
  assert.is(one(dp, fromC3(3), 0, 500).reason, '');
  fdb = vx.fdb(t);
  assert.is(fdb.length, 1);
  assert.is(fdb[0]!.learned, false);
  // Multicast sources are not learned.
  const learned = dp.counter('vxlan-learn');
  const mc = outer({}, F.udpFrame(C2, '01:00:5e:00:00:05', '10.0.0.3', '10.0.0.2', 1, 2, 64));
  one(dp, mc, 0, 501);
  assert.is(dp.counter('vxlan-learn'), learned);
  assert.is(vx.fdb(t).length, 1);
});

Decap('without learning, nothing is learned (Docker: nolearning)', () => {
  const { dp, vx, t } = rig();
  one(dp, outer({}, F.udpFrame(C2, C3, '10.0.0.3', '10.0.0.2', 1, 2, 64)), 0);
  assert.equal(vx.fdb(t), []);
  assert.is(dp.counter('vxlan-learn'), 0n);
});

Decap('a learned-table overflow is counted and the frame still delivered', () => {
  const { dp, vx } = rig({ learning: true }, {}, { vxlanPeers: 4, vxlanRemotes: 2 });
  for (let i = 0; i < 10; i++) {
    const src = `02:42:00:00:00:${(16 + i).toString(16)}`;
    const r = one(dp, outer({}, F.udpFrame(C2, src, '10.0.0.3', '10.0.0.2', 1, 2, 64)), 0);
    assert.is(r.reason, '');
  }
  assert.ok(dp.counter('vxlan-learn-full') > 0n);
  assert.ok(vx.usage().peers <= 6);
});

Decap('a tunnel port that is down: decapsulated frames are a counted drop', () => {
  const { dp } = rig();
  dp.setPort(2, { kind: PortKind.VTEP, flags: PortFlag.DOWN });
  assert.is(one(dp, outer({}, innerUdp(64)), 0).reason, 'vxlan-decap-port-down');
});

Decap('a decapsulated inner frame meets the Ethernet checks (a lying 802.3 length)', () => {
  const { dp } = rig();
  const inner = innerUdp(64);
  inner[12] = 0x05;
  inner[13] = 0x00;
  assert.is(one(dp, outer({}, inner), 0).reason, 'eth-len-mismatch');
});

Decap.run();

// ---------------------------------------------------------------------------- fuzz

const Fuzz = suite('vxlan decap under corruption');

/** xorshift32: deterministic. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>>= 0);
  };
}

Fuzz('corrupted frames never trap; the fast path and the general path agree on every one', () => {
  const fast = rig({ family: 4 });
  const slow = rig({ family: 4 });
  (slow.dp.exports as unknown as { vxlanSetFastPath(on: number): void }).vxlanSetFastPath(0);
  const next = rng(2024);
  const inner = innerUdp(90);
  const bases = [
    outer({}, inner), outer({ csum: true }, inner), outer({ ipOptions: [1, 1, 1, 0] }, inner),
    outer({ vlan: 3, csum: true }, inner), outer({ src: 'fd00:1::2', dst: VTEP_IP6 }, inner),
  ];
  let tx = 0;
  for (let k = 0; k < 4000; k++) {
    const base = bases[k % bases.length]!;
    let f = base.slice();
    const n = 1 + (next() % 3);
    for (let j = 0; j < n; j++) {
      // Mostly the first 80 bytes (the headers), sometimes anywhere.
      const at = next() % 4 ? next() % Math.min(80, f.length) : next() % f.length;
      f[at] = next() & 0xff;
    }
    if (next() % 8 === 0) f = f.subarray(0, next() % f.length);
    if (f.length < 14) continue;
    const a = one(fast.dp, f, 0);
    const b = one(slow.dp, f, 0);
    assert.is(a.verdict, b.verdict, `case ${k}: ${F.hex(f.subarray(0, 64))}`);
    assert.is(a.reason, b.reason, `case ${k}`);
    assert.is(a.out.length, b.out.length);
    if (a.verdict === Verdict.TX) {
      tx++;
      assert.is(a.out[0]!.port, 2);
      assert.is(F.frameDiff(a.out[0]!.data, b.out[0]!.data), '', `case ${k}`);
      // The output is the tail of the frame after the outer headers.
      const o = a.out[0]!.data;
      assert.ok(o.length <= f.length - 50);
      const at = F.hex(f).indexOf(F.hex(o));
      assert.ok(at >= 100 && at % 2 === 0, `case ${k}: the inner frame is a slice of the outer one`);
    } else assert.match(a.reason, /^(vxlan|ipv4|ipv6|udp|eth)-/);
  }
  assert.ok(tx > 300, `${tx} corrupted frames were still valid VXLAN (reserved bits, source fields ...)`);
  // Nothing was lost: every frame is counted once, decapsulated or dropped.
  const c = fast.dp.counters(true);
  const drops = Object.entries(c).filter(([n]) => /^(vxlan-decap-|ipv4-|ipv6-|udp-|eth-)/.test(n)).reduce((s, [, v]) => s + v, 0n);
  assert.is(c['vxlan-decap']! + drops, c['graph-rx']!);
});

Fuzz.run();

// ---------------------------------------------------------------------------- control

const Control = suite('vxlan control');

Control('configuration errors are thrown with clear messages', () => {
  const { vx, t } = rig();
  assert.throws(() => vx.addTunnel({ vni: 4096, underlay: 0, port: 5, bridge: 3 }), /VNI 4096 is in use by tunnel 0/);
  assert.throws(() => vx.addTunnel({ vni: 1 << 24, underlay: 0, port: 5, bridge: 3 }), /vni must be an integer in 0..16777215/);
  assert.throws(() => vx.addTunnel({ vni: 5, underlay: 9, port: 5, bridge: 3 }), /port 9 is not a VTEP/);
  assert.throws(() => vx.addTunnel({ vni: 5, underlay: 0, port: 5 }), /exactly one of bridge or xconnect/);
  assert.throws(() => vx.addTunnel({ vni: 5, underlay: 0, port: 5, bridge: 3, mtu: 1451 }), /mtu must be in 68..1450/);
  assert.throws(() => vx.addTunnel({ vni: 5, underlay: 0, port: 5, bridge: 3, srcPortRange: [9, 8] }), /is empty/);
  assert.throws(() => vx.peerAdd(t, { mac: 'zz', vtep: '192.168.1.3' }), /invalid MAC address "zz"/);
  assert.throws(() => vx.peerAdd(t, { mac: C3, vtep: '192.168.1.99' }), /no next-hop MAC for VTEP 192\.168\.1\.99 on port 0/);
  assert.throws(() => vx.peerAdd(t, { mac: C3, vtep: 'fd00:1::3' }), /underlay is IPv4/);
  assert.throws(() => vx.peerAdd(9, { mac: C3, vtep: '192.168.1.3' }), /no tunnel 9/);
  assert.throws(() => new Vxlan(new Dataplane({ slots: 8 })).setVtep(3, { mac: VTEP_MAC }), /needs an ip or an ip6/);
  const dp = new Dataplane({ slots: 8 });
  const v4only = new Vxlan(dp);
  v4only.setVtep(0, { ip: VTEP_IP, mac: VTEP_MAC });
  assert.throws(() => v4only.addTunnel({ vni: 1, underlay: 0, port: 1, bridge: 0, family: 6 }), /has no IPv6 address/);
  assert.throws(() => new Dataplane({ vxlanTunnels: 0 }), /vxlanTunnels must be an integer in 1..4096/);
});

Control('the flood list is bounded; tunnels are removed with all their state', () => {
  const { dp, vx, t } = rig({}, {}, { vxlanFloodMax: 2 });
  vx.floodAdd(t, '192.168.1.2');
  vx.floodAdd(t, '192.168.1.3');
  assert.throws(() => vx.floodAdd(t, '192.168.1.4'), /at most 2 VTEPs/);
  vx.peerAdd(t, { mac: C3, ip: '10.0.0.3', vtep: '192.168.1.4' });
  assert.equal(vx.usage(), { peers: 1, neighbors: 1, remotes: 3 });
  vx.removeTunnel(t);
  assert.equal(vx.usage(), { peers: 0, neighbors: 0, remotes: 0 });
  assert.is(one(dp, outer({}, innerUdp()), 0).reason, 'vxlan-decap-no-vni');
  assert.is(one(dp, innerUdp(), 2).reason, 'graph-no-port', 'the cross-connected port is gone');
  // The VNI is free again.
  const t2 = vx.addTunnel({ vni: 4096, underlay: 0, port: 1, xconnect: 2 });
  vx.floodAdd(t2, '192.168.1.2');
  assert.is(one(dp, outer({}, innerUdp()), 0).reason, '');
});

Control('updateTunnel changes settings in place (the templates follow)', () => {
  const { dp, vx, t } = rig();
  vx.peerAdd(t, { mac: C3, vtep: '192.168.1.3' });
  vx.updateTunnel(t, { ttl: 17, dstPort: 8472, vni: 77 });
  const o = F.parseOuter(one(dp, innerUdp(), 2).out[0]!.data);
  assert.is(o.ttl, 17);
  assert.is(o.dport, 8472);
  assert.is(o.vni, 77);
  assert.is(one(dp, outer({ vni: 4096 }, innerUdp()), 0).reason, 'vxlan-decap-no-vni');
  assert.is(one(dp, outer({ vni: 77 }, innerUdp()), 0).reason, '');
});

Control('every vxlan, ipv4, ipv6, udp and arp counter has a kebab-case name in the 320..447 block', () => {
  const mine = COUNTERS.filter(([id]) => id >= 320 && id < 448);
  assert.ok(mine.length >= 30);
  for (const [, n] of mine) assert.match(n, /^(vxlan|ipv4|ipv6|udp|arp)-[a-z0-9-]+$/);
});

Control.run();
