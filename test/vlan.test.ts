// 802.1Q / 802.1ad on bridge ports, from hand-built frames through the real .wasm.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Dataplane, Bridges, HEADROOM, D_VLAN, parseVlanList, type BridgePortOptions, type VlanConfig } from '../src/dataplane/index.ts';

const BCAST = 'ff:ff:ff:ff:ff:ff';
const A = '02:00:00:00:00:0a';
const B = '02:00:00:00:00:0b';
const mac = (s: string): number[] => s.split(':').map((h) => parseInt(h, 16));

interface Tag { tpid?: number; vid: number; pcp?: number; dei?: boolean }

/** dst <- src, then the tags (outermost first), then ethertype 0x0800 and a payload; `len` without tags. */
function frame(dst: string, src: string, tags: Tag[] = [], len = 64): Uint8Array {
  const f = new Uint8Array(len + 4 * tags.length);
  f.set(mac(dst), 0);
  f.set(mac(src), 6);
  let at = 12;
  for (const t of tags) {
    const tpid = t.tpid ?? 0x8100;
    const tci = ((t.pcp ?? 0) << 13) | (t.dei ? 0x1000 : 0) | t.vid;
    f.set([tpid >> 8, tpid & 0xff, tci >> 8, tci & 0xff], at);
    at += 4;
  }
  f.set([0x08, 0x00], at);
  for (let i = at + 2; i < f.length; i++) f[i] = ((i - at) * 13) & 0xff;
  return f;
}

class Rig {
  readonly dp: Dataplane;
  readonly br: Bridges;
  constructor(vlans: Array<VlanConfig | Partial<BridgePortOptions>>) {
    this.dp = new Dataplane({ slots: 128, fdbCapacity: 256, bridges: 4 });
    this.br = new Bridges(this.dp);
    vlans.forEach((v, i) => this.br.addPort(i, 'mode' in v ? { bridge: 0, vlan: v as VlanConfig } : { bridge: 0, ...v }));
  }
  /** One frame in; [port, bytes] out, sorted by port. */
  send(f: Uint8Array, port: number): Array<[number, number[]]> {
    this.dp.push(f, port);
    const n = this.dp.run();
    const out: Array<[number, number[]]> = [];
    for (let i = 0; i < n; i++) out.push([this.dp.txPort(i), Array.from(this.dp.txData(i))]);
    return out.sort((a, b) => a[0] - b[0]);
  }
  c(name: string): number {
    return Number(this.dp.counter(name));
  }
}

const arr = (f: Uint8Array): number[] => Array.from(f);

const access = (pvid: number, tpid?: number): VlanConfig => ({ mode: 'access', pvid, ...(tpid ? { tpid } : {}) });
const trunk = (allowed: string, native?: number, tpid?: number): VlanConfig => ({ mode: 'trunk', allowed, ...(native ? { native } : {}), ...(tpid ? { tpid } : {}) });

const Rules = suite('802.1Q port rules');

Rules('access -> trunk pushes the access VLAN; trunk -> access pops it; payload untouched', () => {
  const r = new Rig([access(10), trunk('10,20'), access(20)]);
  const out = r.send(frame(BCAST, A), 0);
  assert.equal(out, [[1, arr(frame(BCAST, A, [{ vid: 10 }]))]], 'only the trunk carries VLAN 10, tagged');
  assert.is(r.dp.descField(0, D_VLAN, 2), 10);
  assert.is(r.c('vlan-push'), 1);
  const back = r.send(frame(A, B, [{ vid: 10, pcp: 3 }]), 1);
  assert.equal(back, [[0, arr(frame(A, B))]], 'known unicast to the access port, untagged');
  assert.is(r.c('vlan-pop'), 1);
  assert.equal(r.send(frame(BCAST, B, [{ vid: 20, pcp: 5 }]), 1), [[2, arr(frame(BCAST, B))]]);
});

Rules('trunk -> trunk keeps the tag byte for byte (PCP and DEI included)', () => {
  const r = new Rig([trunk('10'), trunk('10,30'), trunk('30')]);
  const f = frame(BCAST, A, [{ vid: 10, pcp: 6, dei: true }]);
  assert.equal(r.send(f, 0), [[1, arr(f)]]);
  assert.is(r.c('vlan-push') + r.c('vlan-pop') + r.c('vlan-rewrite'), 0);
});

Rules('the native VLAN of a trunk: untagged in, untagged out; other VLANs tagged', () => {
  const r = new Rig([trunk('10,20', 1), access(1), trunk('1,10')]);
  assert.equal(r.send(frame(BCAST, A), 0), [[1, arr(frame(BCAST, A))], [2, arr(frame(BCAST, A, [{ vid: 1 }]))]]);
  const t = frame(BCAST, A, [{ vid: 10 }]);
  assert.equal(r.send(t, 0), [[2, arr(t)]]);
  // tagged with the native VLAN's id is accepted and leaves the native port untagged
  assert.equal(r.send(frame(BCAST, B, [{ vid: 1 }]), 2), [[0, arr(frame(BCAST, B))], [1, arr(frame(BCAST, B))]]);
});

Rules('untagged on a trunk without native VLAN, and VLANs a port does not carry, are dropped and counted', () => {
  const r = new Rig([trunk('10'), access(10), access(20)]);
  assert.equal(r.send(frame(BCAST, A), 0), []);
  assert.is(r.dp.dropReason(0), 'vlan-no-pvid');
  assert.equal(r.send(frame(BCAST, A, [{ vid: 20 }]), 0), []);
  assert.is(r.dp.dropReason(0), 'vlan-not-allowed');
  assert.equal(r.send(frame(BCAST, A, [{ vid: 10 }]), 2), [], 'tagged with another VLAN on an access port');
  assert.is(r.dp.dropReason(0), 'vlan-not-allowed');
  assert.equal(r.send(frame(BCAST, A, [{ vid: 4095 }]), 0), []);
  assert.is(r.dp.dropReason(0), 'vlan-not-allowed');
  assert.is(r.c('vlan-not-allowed'), 3);
  assert.is(r.c('vlan-no-pvid'), 1);
  assert.is(r.br.size, 0, 'nothing learned from refused frames');
});

Rules('a double-tagged frame on an access port is dropped (VLAN hopping), never sent on with its inner tag', () => {
  const r = new Rig([access(1), trunk('20', 1), trunk('1,20')]);
  const hop = frame(BCAST, A, [{ vid: 1 }, { vid: 20 }]);
  assert.equal(r.send(hop, 0), []);
  assert.is(r.dp.dropReason(0), 'vlan-access-double-tag');
  const qinq = frame(BCAST, A, [{ tpid: 0x88a8, vid: 1 }, { vid: 20 }]);
  assert.equal(r.send(qinq, 0), [[1, arr(qinq)], [2, arr(frame(BCAST, A, [{ vid: 1 }, { tpid: 0x88a8, vid: 1 }, { vid: 20 }]))]],
    'an S-tag is payload to an 802.1Q port: the frame is untagged, in VLAN 1');
  // on a trunk, a second tag is the customer's business
  const stacked = frame(BCAST, A, [{ vid: 20 }, { vid: 5 }]);
  assert.equal(r.send(stacked, 2), [[1, arr(stacked)]]);
  assert.is(r.c('vlan-access-double-tag'), 1);
});

Rules('priority-tagged frames (VID 0) join the PVID and keep their PCP', () => {
  const r = new Rig([access(10), trunk('10'), access(10)]);
  const out = r.send(frame(BCAST, A, [{ vid: 0, pcp: 5, dei: true }]), 0);
  assert.equal(out, [[1, arr(frame(BCAST, A, [{ vid: 10, pcp: 5, dei: true }]))], [2, arr(frame(BCAST, A))]]);
  assert.is(r.c('vlan-rewrite'), 1);
  assert.is(r.c('vlan-pop'), 1);
});

Rules('floods stay inside their VLAN, and the FDB is per VLAN', () => {
  const r = new Rig([trunk('10,20'), access(10), access(20), access(10)]);
  assert.equal(r.send(frame(BCAST, A, [{ vid: 10 }]), 0).map((o) => o[0]), [1, 3]);
  assert.equal(r.send(frame(BCAST, A, [{ vid: 20 }]), 0).map((o) => o[0]), [2]);
  assert.equal(r.br.fdb().map((e) => [e.vlan, e.port]), [[10, 0], [20, 0]]);
  // same MAC, other VLAN: learned separately
  r.send(frame(BCAST, A), 3);
  assert.equal(r.br.fdb().map((e) => [e.vlan, e.port]), [[10, 3], [20, 0]]);
  assert.is(r.c('bridge-mac-move'), 1);
  assert.equal(r.send(frame(A, B), 2).map((o) => o[0]), [0], 'VLAN 20: A is still behind the trunk');
});

Rules('known unicast to a port that does not carry the VLAN is dropped and counted', () => {
  const r = new Rig([access(10), access(20)]);
  r.br.fdbAdd(0, B, { port: 1, vlan: 10 });
  assert.equal(r.send(frame(B, A), 0), []);
  assert.is(r.dp.dropReason(0), 'vlan-egress-not-allowed');
});

Rules('a truncated tag is a counted drop', () => {
  const r = new Rig([trunk('10'), trunk('10')]);
  assert.equal(r.send(frame(BCAST, A, [{ vid: 10 }]).subarray(0, 17), 0), []);
  assert.is(r.dp.dropReason(0), 'vlan-truncated');
});

Rules('a push without headroom is a counted drop of that copy', () => {
  // the trunk is the last port of the flood, so it gets the input frame itself (copies start at HEADROOM)
  const r = new Rig([access(10), access(10), trunk('10')]);
  const f = frame(BCAST, A);
  const slot = r.dp.allocSlot();
  r.dp.bytes.set(f, r.dp.slotAddr(slot)); // frame at offset 0: no headroom
  r.dp.describe(0, slot, 0, f.length, 0, 0, 0);
  const n = r.dp.run(1);
  assert.is(n, 1, 'the access port still gets its copy');
  assert.is(r.dp.txPort(0), 1);
  assert.is(r.c('vlan-no-headroom'), 1);
  r.dp.releaseTx();
  assert.is(r.dp.freeSlots, 128, 'no slot leaked');
});

Rules('ports without VLAN filtering pass tags through untouched', () => {
  const r = new Rig([{}, {}]);
  const f = frame(BCAST, A, [{ vid: 99, pcp: 7 }, { vid: 5 }]);
  assert.equal(r.send(f, 0), [[1, arr(f)]]);
  assert.is(r.dp.descField(0, D_VLAN, 2), 0);
});

const QinQ = suite('802.1ad (QinQ)');

QinQ('a provider bridge pushes an S-tag over the customer tag, and pops it again', () => {
  // port 0: customer port (S-VLAN 100, untagged); port 1: provider trunk (S-tags); port 2: C-trunk
  const r = new Rig([access(100, 0x88a8), trunk('100,200', undefined, 0x88a8), trunk('100')]);
  const c = frame(BCAST, A, [{ vid: 10, pcp: 2 }]);
  const out = r.send(c, 0);
  assert.equal(out[0], [1, arr(frame(BCAST, A, [{ tpid: 0x88a8, vid: 100 }, { vid: 10, pcp: 2 }]))], 'stacked: 0x88a8/100 then 0x8100/10');
  // the C-trunk (0x8100) gets VLAN 100 with a C-tag: the S-tag's TPID is rewritten
  assert.equal(out[1], [2, arr(frame(BCAST, A, [{ vid: 100 }, { vid: 10, pcp: 2 }]))]);
  const s = frame(A, B, [{ tpid: 0x88a8, vid: 100, pcp: 4 }, { vid: 10 }]);
  assert.equal(r.send(s, 1), [[0, arr(frame(A, B, [{ vid: 10 }]))]], 'outer popped, customer tag kept');
  // a second S-tag behind the first on the customer port is VLAN hopping
  assert.equal(r.send(frame(BCAST, A, [{ tpid: 0x88a8, vid: 100 }, { tpid: 0x88a8, vid: 200 }]), 0), []);
  assert.is(r.dp.dropReason(0), 'vlan-access-double-tag');
});

QinQ('rewrite between 802.1Q and 802.1ad trunks changes the TPID and keeps PCP and DEI', () => {
  const r = new Rig([trunk('10'), trunk('10', undefined, 0x88a8)]);
  const out = r.send(frame(BCAST, A, [{ vid: 10, pcp: 7, dei: true }]), 0);
  assert.equal(out, [[1, arr(frame(BCAST, A, [{ tpid: 0x88a8, vid: 10, pcp: 7, dei: true }]))]]);
  assert.is(r.c('vlan-rewrite'), 1);
});

const Ops = suite('VLAN tag operations move the frame start');

Ops('push moves the start back 4 bytes into the headroom, pop forward; nothing is copied', () => {
  const r = new Rig([access(10), trunk('10')]);
  r.dp.push(frame(BCAST, A), 0);
  r.dp.run();
  const t = r.dp.regions.tx!.ptr;
  assert.is(r.dp.view.getUint32(t + 4, true), HEADROOM - 4, 'T_OFF');
  r.dp.push(frame(BCAST, A, [{ vid: 10 }]), 1);
  r.dp.run();
  assert.is(r.dp.view.getUint32(t + 4, true), HEADROOM + 4);
});

const Cfg = suite('VLAN configuration');

Cfg('VLAN lists parse like `bridge vlan` ranges and are checked', () => {
  assert.equal(parseVlanList('10, 20-22,10'), [10, 20, 21, 22]);
  assert.equal(parseVlanList([3, 1, 2]), [1, 2, 3]);
  assert.throws(() => parseVlanList('0'), /1\.\.4094/);
  assert.throws(() => parseVlanList('5-2'), /range/);
  assert.throws(() => parseVlanList('x'), /invalid/);
  const dp = new Dataplane({ slots: 8, fdbCapacity: 16, bridges: 2 });
  const br = new Bridges(dp);
  assert.throws(() => br.addPort(0, { bridge: 0, vlan: { mode: 'trunk', allowed: '10', tpid: 0x9100 } }), /tpid/);
});

Rules.run();
QinQ.run();
Ops.run();
Cfg.run();
