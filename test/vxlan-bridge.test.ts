// An overlay network end to end: a netwasm bridge with two container ports and
// a VXLAN tunnel port, as Docker's overlay driver builds it (br0 + vxlan0 with
// `proxy nolearning`, peers programmed by peerAdd).
//
//   port 0  underlay (VTEP 192.168.1.1)
//   port 1  tunnel port (kind VXLAN) of bridge 1, VNI 4096
//   port 3  container c1 (02:42:0a:00:00:02, 10.0.0.2)
//   port 4  container c2 (02:42:0a:00:00:03, 10.0.0.3)
//   remote  r1 (02:42:0a:00:00:10, 10.0.0.16) behind VTEP 192.168.1.2; VTEP .3 floods only
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Dataplane, Vxlan, Bridges, Verdict, FrameFlag, D_FLAGS } from '../src/dataplane/index.ts';
import * as F from './vxlan-frames.ts';

const VTEP_MAC = '02:00:00:00:00:01';
const C1 = '02:42:0a:00:00:02';
const C2 = '02:42:0a:00:00:03';
const R1 = '02:42:0a:00:00:10';
const BC = 'ff:ff:ff:ff:ff:ff';

function overlay(): { dp: Dataplane; vx: Vxlan; br: Bridges; t: number } {
  const dp = new Dataplane({ slots: 512 });
  const br = new Bridges(dp);
  const vx = new Vxlan(dp);
  br.create(1);
  vx.setVtep(0, { ip: '192.168.1.1', mac: VTEP_MAC });
  vx.setNeighbor(0, '192.168.1.2', '02:00:00:00:00:02');
  vx.setNeighbor(0, '192.168.1.3', '02:00:00:00:00:03');
  const t = vx.addTunnel({ vni: 4096, underlay: 0, port: 1, bridge: 1 });
  br.addPort(3, { bridge: 1 });
  br.addPort(4, { bridge: 1 });
  vx.peerAdd(t, { mac: R1, ip: '10.0.0.16', vtep: '192.168.1.2' });
  vx.floodAdd(t, '192.168.1.2');
  vx.floodAdd(t, '192.168.1.3');
  return { dp, vx, br, t };
}

function step(dp: Dataplane, f: Uint8Array, port: number, ts = 1): Array<{ port: number; data: Uint8Array }> {
  assert.ok(dp.push(f, port, ts));
  const n = dp.run();
  return Array.from({ length: n }, (_, i) => ({ port: dp.txPort(i), data: dp.txData(i).slice() }));
}

const fromRemote = (inner: Uint8Array, vtep = 2): Uint8Array => F.vxlanFrame({
  dstMac: VTEP_MAC, srcMac: `02:00:00:00:00:0${vtep}`, src: `192.168.1.${vtep}`, dst: '192.168.1.1', vni: 4096,
}, Array.from(inner));

const O = suite('vxlan overlay bridge');

O('a container frame to a remote peer is encapsulated to its VTEP; the reply is decapsulated to the container', () => {
  const { dp } = overlay();
  const req = F.icmpEcho(R1, C1, '10.0.0.2', '10.0.0.16', 98, 1);
  // The bridge does not know R1 yet: it floods to c2 and the tunnel port, whose peer table knows R1.
  let out = step(dp, req, 3);
  const toUnderlay = out.filter((o) => o.port === 0);
  assert.is(toUnderlay.length, 1, 'one unicast VXLAN frame, not a flood to both VTEPs');
  const p = F.parseOuter(toUnderlay[0]!.data);
  assert.is(p.dst, '192.168.1.2');
  assert.is(F.frameDiff(p.inner, req), '');
  // The reply comes back through the tunnel; the bridge learned c1 on port 3.
  const rep = F.icmpEcho(C1, R1, '10.0.0.16', '10.0.0.2', 98, 1);
  out = step(dp, fromRemote(rep), 0);
  assert.equal(out.map((o) => o.port), [3]);
  assert.is(F.frameDiff(out[0]!.data, rep), '');
  assert.ok(dp.descField(0, D_FLAGS, 1) & FrameFlag.DECAPPED);
  // Now the bridge knows R1 behind the tunnel port: unicast, no flood to c2.
  out = step(dp, req, 3);
  assert.equal(out.map((o) => o.port), [0]);
});

O('broadcast from a container: local ports and head-end replication to every flood VTEP', () => {
  const { dp } = overlay();
  const bc = F.udpFrame(BC, C1, '10.0.0.2', '10.0.0.255', 1, 2, 80);
  const out = step(dp, bc, 3);
  assert.equal(out.map((o) => o.port).sort(), [0, 0, 4]);
  const vteps = out.filter((o) => o.port === 0).map((o) => F.parseOuter(o.data));
  assert.equal(vteps.map((v) => v.dst).sort(), ['192.168.1.2', '192.168.1.3']);
  for (const v of vteps) assert.is(F.frameDiff(v.inner, bc), '');
  assert.is(F.frameDiff(out.find((o) => o.port === 4)!.data, bc), '');
  dp.releaseTx();
  assert.is(dp.freeSlots, 512);
});

O('broadcast from the overlay reaches the local containers and never goes back into the tunnel', () => {
  const { dp } = overlay();
  const bc = F.udpFrame(BC, R1, '10.0.0.16', '10.0.0.255', 1, 2, 80);
  const out = step(dp, fromRemote(bc), 0);
  assert.equal(out.map((o) => o.port).sort(), [3, 4]);
  for (const o of out) assert.is(F.frameDiff(o.data, bc), '');
});

O('ARP for a remote peer is answered locally with its MAC; nothing crosses the overlay', () => {
  const { dp } = overlay();
  const out = step(dp, F.arpRequest(C1, '10.0.0.2', '10.0.0.16'), 3);
  assert.is(out.filter((o) => o.port === 0).length, 0, 'no ARP over VXLAN');
  const replies = out.filter((o) => o.port === 3);
  assert.is(replies.length, 1);
  const want = Uint8Array.from([...F.eth(C1, R1, 0x0806), 0, 1, 8, 0, 6, 4, 0, 2, ...F.mac(R1), 10, 0, 0, 16, ...F.mac(C1), 10, 0, 0, 2]);
  assert.is(F.frameDiff(replies[0]!.data, want), '');
  assert.is(dp.counter('arp-proxy-reply'), 1n);
  // ARP for a local container is not the proxy's: it reaches c2, and the tunnel drops it (Linux's arp_reduce).
  const local = step(dp, F.arpRequest(C1, '10.0.0.2', '10.0.0.3'), 3);
  assert.equal(local.map((o) => o.port), [4]);
  assert.is(dp.counter('arp-proxy-drop'), 1n);
});

O('a peer removed between vectors: its frames flood to the flood VTEPs', () => {
  const { dp, vx, t } = overlay();
  vx.peerDelete(t, { mac: R1 });
  const out = step(dp, F.icmpEcho(R1, C1, '10.0.0.2', '10.0.0.16', 98, 1), 3);
  assert.equal(out.filter((o) => o.port === 0).map((o) => F.parseOuter(o.data).dst).sort(), ['192.168.1.2', '192.168.1.3']);
  assert.is(dp.verdict(0), Verdict.TX);
});

O.run();
