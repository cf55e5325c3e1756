// The learning bridge, node by node, from hand-built frames through the real .wasm.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  Dataplane, Bridges, PortKind, PortFlag, FrameFlag, Verdict, D_OUT, D_FLAGS, D_VLAN, D_BRIDGE,
  type BridgePortOptions, type DataplaneOptions,
} from '../src/dataplane/index.ts';

// ---- frames -------------------------------------------------------------------------

const BCAST = 'ff:ff:ff:ff:ff:ff';
const mac = (s: string): number[] => s.split(':').map((h) => parseInt(h, 16));
const A = '02:00:00:00:00:0a';
const B = '02:00:00:00:00:0b';
const C = '02:00:00:00:00:0c';

/** An Ethernet frame dst <- src of `len` bytes, ethertype 0x88b5, payload tagged with `id`. */
function eth(dst: string, src: string, id = 0, len = 64, type = 0x88b5): Uint8Array {
  const f = new Uint8Array(len);
  f.set(mac(dst), 0);
  f.set(mac(src), 6);
  f[12] = type >> 8;
  f[13] = type & 0xff;
  f[14] = id & 0xff;
  for (let i = 15; i < len; i++) f[i] = (i * 31 + id) & 0xff;
  return f;
}

// ---- a bridge under test ----------------------------------------------------------------

interface Sent { port: number; data: number[]; src: number }

class Rig {
  readonly dp: Dataplane;
  readonly br: Bridges;
  constructor(ports: Array<Partial<BridgePortOptions>>, opts: DataplaneOptions = {}, bridge = 1) {
    this.dp = new Dataplane({ slots: 256, fdbCapacity: 1024, bridges: 8, ...opts });
    this.br = new Bridges(this.dp);
    ports.forEach((p, i) => this.br.addPort(i, { bridge, ...p }));
  }
  /** Sends frames in one vector; returns every transmit entry. */
  send(...frames: Array<[Uint8Array, number] | [Uint8Array, number, number]>): Sent[] {
    for (const [f, port, t] of frames) assert.ok(this.dp.push(f, port, t ?? 0));
    const n = this.dp.run();
    const out: Sent[] = [];
    for (let i = 0; i < n; i++) out.push({ port: this.dp.txPort(i), data: Array.from(this.dp.txData(i)), src: this.dp.txSrc(i) });
    return out;
  }
  /** Ports one frame left through, sorted. */
  ports(f: Uint8Array, port: number, t = 0): number[] {
    return this.send([f, port, t]).map((s) => s.port).sort((a, b) => a - b);
  }
  c(name: string): number {
    return Number(this.dp.counter(name));
  }
}

// ---- forwarding -------------------------------------------------------------------------

const Fwd = suite('bridge forwarding');

Fwd('unknown unicast floods to every other port; the answer goes straight back; then unicast', () => {
  const r = new Rig([{}, {}, {}, {}]);
  assert.equal(r.ports(eth(B, A, 1), 0), [1, 2, 3]);
  assert.is(r.dp.verdict(0), Verdict.TX);
  assert.is(r.dp.descField(0, D_FLAGS, 1) & FrameFlag.FLOODED, FrameFlag.FLOODED);
  assert.is(r.dp.descField(0, D_OUT, 2), 1, 'a flood names its flood group: the bridge');
  assert.is(r.dp.descField(0, D_BRIDGE, 2), 1);
  assert.equal(r.ports(eth(A, B, 2), 2), [0], 'A was learned on port 0');
  assert.is(r.dp.descField(0, D_FLAGS, 1) & FrameFlag.FLOODED, 0);
  assert.is(r.dp.descField(0, D_OUT, 2), 0);
  assert.equal(r.ports(eth(B, A, 3), 0), [2], 'B was learned on port 2');
  assert.is(r.c('bridge-flood'), 1);
  assert.is(r.c('bridge-forward'), 2);
  assert.is(r.c('bridge-learned'), 2);
});

Fwd('copies of a flood are byte-identical to the input, and the input frame goes to the last port', () => {
  const r = new Rig([{}, {}, {}, {}]);
  const f = eth(BCAST, A, 7, 300);
  const out = r.send([f, 1]);
  assert.equal(out.map((s) => s.port), [0, 2, 3]);
  for (const s of out) assert.equal(s.data, Array.from(f));
  const free = r.dp.freeSlots;
  r.dp.releaseTx();
  assert.is(r.dp.freeSlots, free + 3, 'each copy owns one slot');
  assert.is(r.dp.freeSlots, 256, 'nothing leaked');
});

Fwd('frames in one vector see the FDB as left by the frames before them', () => {
  const r = new Rig([{}, {}, {}]);
  const out = r.send([eth(BCAST, A, 1), 0], [eth(A, B, 2), 1], [eth(B, A, 3), 0]);
  assert.equal(out.map((s) => [s.src, s.port]), [[0, 1], [0, 2], [1, 0], [2, 1]]);
});

Fwd('a known unicast to the port it came from is dropped (bridge-reflect-drop), unless hairpin', () => {
  const r = new Rig([{}, {}, { hairpin: true }]);
  r.send([eth(BCAST, A), 0], [eth(BCAST, C), 2]);
  assert.equal(r.ports(eth(A, B), 0), []);
  assert.is(r.dp.dropReason(0), 'bridge-reflect-drop');
  assert.is(r.c('bridge-reflect-drop'), 1);
  assert.equal(r.ports(eth(C, B), 2), [2], 'hairpin: back out of port 2');
  // a flood from a hairpin port includes the port itself
  assert.equal(r.ports(eth(BCAST, B), 2), [0, 1, 2]);
});

Fwd('broadcast, multicast and unknown unicast each obey their own flood switch', () => {
  const r = new Rig([{}, { flood: false }, { mcastFlood: false }, { bcastFlood: false }]);
  assert.equal(r.ports(eth(BCAST, A), 0), [1, 2]);
  assert.equal(r.ports(eth('01:00:5e:00:00:fb', A), 0), [1, 3]);
  assert.equal(r.ports(eth('33:33:00:00:00:01', A), 0), [1, 3]);
  assert.equal(r.ports(eth(B, A), 0), [2, 3]);
  // known unicast ignores flood switches
  r.send([eth(BCAST, B), 1]);
  assert.equal(r.ports(eth(B, A), 0), [1]);
});

Fwd('a flood with nowhere to go is a counted drop', () => {
  const r = new Rig([{}, { bcastFlood: false }]);
  assert.equal(r.ports(eth(BCAST, A), 0), []);
  assert.is(r.dp.dropReason(0), 'bridge-flood-no-port');
  assert.is(r.dp.verdict(0), Verdict.DROP);
});

Fwd('isolated ports never reach each other (enable_icc=false), but reach the others', () => {
  const r = new Rig([{ isolated: true }, { isolated: true }, {}]);
  assert.equal(r.ports(eth(BCAST, A), 0), [2]);
  assert.equal(r.ports(eth(BCAST, B), 1), [2]);
  assert.equal(r.ports(eth(A, B), 1), []);
  assert.is(r.dp.dropReason(0), 'bridge-isolated-drop');
  assert.equal(r.ports(eth(A, C), 2), [0]);
  assert.equal(r.ports(eth(BCAST, C), 2), [0, 1]);
});

Fwd('ports of other bridges and ports that are down get nothing', () => {
  const r = new Rig([{}, {}, { down: true }]);
  r.br.addPort(3, { bridge: 2 });
  assert.equal(r.ports(eth(BCAST, A), 0), [1]);
  r.br.fdbAdd(1, C, { port: 2 });
  assert.equal(r.ports(eth(C, A), 0), []);
  assert.is(r.dp.dropReason(0), 'bridge-egress-down');
  // an entry naming a port of another bridge (or no port) is never followed
  r.br.fdbAdd(1, '02:00:00:00:00:33', { port: 3 });
  r.br.fdbAdd(1, '02:00:00:00:00:44', { port: 9 });
  assert.equal(r.ports(eth('02:00:00:00:00:33', A), 0), []);
  assert.is(r.dp.dropReason(0), 'bridge-stale-port');
  assert.equal(r.ports(eth('02:00:00:00:00:44', A), 0), []);
  assert.is(r.c('bridge-stale-port'), 2);
  // a frame from bridge 2 learns in bridge 2 only
  r.send([eth(BCAST, B), 3]);
  assert.ok(r.br.lookup(2, B));
  assert.not.ok(r.br.lookup(1, B));
});

Fwd('sources that are multicast, broadcast or zero are dropped and never learned, as Linux', () => {
  const r = new Rig([{}, {}]);
  for (const src of ['01:00:5e:00:00:01', BCAST, '00:00:00:00:00:00', '03:00:00:00:00:01']) {
    assert.equal(r.ports(eth(B, src), 0), []);
    assert.is(r.dp.dropReason(0), 'bridge-bad-src-mac');
  }
  assert.is(r.c('bridge-bad-src-mac'), 4);
  assert.is(r.br.size, 0);
});

Fwd('802.1D group addresses: STP forwarded (no STP), pause dropped, the others learned from but not forwarded', () => {
  const r = new Rig([{}, {}, {}]);
  assert.equal(r.ports(eth('01:80:c2:00:00:00', A), 0), [1, 2]);
  assert.equal(r.ports(eth('01:80:c2:00:00:01', B), 1), []);
  assert.is(r.dp.dropReason(0), 'bridge-pause-drop');
  assert.not.ok(r.br.lookup(1, B), 'pause frames teach nothing');
  for (const last of [0x02, 0x03, 0x0e, 0x0f]) {
    assert.equal(r.ports(eth(`01:80:c2:00:00:${last.toString(16).padStart(2, '0')}`, C), 2), []);
    assert.is(r.dp.dropReason(0), 'bridge-link-local-drop');
  }
  assert.is(r.br.lookup(1, C)?.port, 2, 'link-local frames are learned from');
  assert.equal(r.ports(eth('01:80:c2:00:00:10', A), 0), [1, 2], '01:80:c2:00:00:10 is ordinary multicast');
});

Fwd('frames to a local (permanent) entry are delivered locally, not forwarded', () => {
  const r = new Rig([{}, {}]);
  r.br.fdbAdd(1, C, { local: true });
  assert.equal(r.ports(eth(C, A), 0), []);
  assert.is(r.dp.verdict(0), Verdict.LOCAL);
  assert.is(r.c('bridge-local'), 1);
  // our own address as a source is never learned over
  r.send([eth(BCAST, C), 1]);
  assert.ok(r.br.lookup(1, C)?.flags.includes('local'));
  assert.is(r.c('bridge-own-src-mac'), 1);
});

Fwd('a port MTU drops what is too long for it; an 802.1Q tag does not count', () => {
  const r = new Rig([{}, { mtu: 100 }, {}]);
  const out = r.send([eth(BCAST, A, 0, 114), 0], [eth(BCAST, A, 0, 115), 0]);
  assert.equal(out.map((s) => [s.src, s.port]), [[0, 1], [0, 2], [1, 2]]);
  assert.is(r.c('bridge-mtu-exceeded'), 1);
  const tagged = eth(BCAST, A, 0, 118, 0x8100);
  assert.equal(r.ports(tagged, 0), [1, 2]);
});

Fwd('a port whose bridge id is beyond the bridge table is a counted drop', () => {
  const dp = new Dataplane({ slots: 16, fdbCapacity: 16, bridges: 4 });
  dp.setPort(0, { kind: PortKind.BRIDGE, bridge: 9 });
  dp.setPort(1, { kind: PortKind.BRIDGE, bridge: 9 });
  dp.push(eth(BCAST, A), 0);
  assert.is(dp.run(), 0);
  assert.is(dp.dropReason(0), 'bridge-no-bridge');
});

Fwd('ports set with Dataplane.setPort directly join their bridge too', () => {
  const dp = new Dataplane({ slots: 16, fdbCapacity: 16, bridges: 4 });
  const br = new Bridges(dp);
  for (let i = 0; i < 3; i++) dp.setPort(i, { kind: PortKind.BRIDGE, bridge: 2 });
  assert.equal(br.ports(2), [0, 1, 2]);
  dp.push(eth(BCAST, A), 1);
  assert.is(dp.run(), 2);
  dp.clearPort(2);
  assert.equal(br.ports(2), [0, 1]);
});


Fwd('a large FDB (prefetch pass first): learning stays in frame order within one vector', () => {
  // With 256K entries or more, runVector reads the vector's FDB slots in a
  // first pass; what frame i learns must still decide frame i + 1, and a
  // runt in the vector is refused as usual.
  for (const stations of [0, 270000]) {
    const r = new Rig([{}, {}, {}, {}], { fdbCapacity: 1 << 19 });
    const hex = (v: number): string => v.toString(16).padStart(2, '0');
    for (let i = 0; i < stations; i++) r.br.fdbAdd(1, `02:00:01:${hex(i >> 16)}:${hex((i >> 8) & 0xff)}:${hex(i & 0xff)}`, { port: i & 3 });
    assert.is(r.br.size, stations);
    const runt = new Uint8Array(10);
    const out = r.send([eth(B, A, 1), 0], [runt, 3], [eth(A, B, 2), 2], [eth(B, A, 3), 0], [eth(C, A, 4), 0], [eth(A, C, 5), 1]);
    const by = (src: number): number[] => out.filter((s) => s.src === src).map((s) => s.port).sort((a, b) => a - b);
    assert.equal(by(0), [1, 2, 3], `${stations} stations: B unknown: flood`);
    assert.is(r.dp.dropReason(1), 'eth-runt');
    assert.equal(by(2), [0], `${stations} stations: A learned by frame 0 of the same vector`);
    assert.equal(by(3), [2], `${stations} stations: B learned by frame 2 of the same vector`);
    assert.equal(by(4), [1, 2, 3], `${stations} stations: C unknown: flood`);
    assert.equal(by(5), [0], `${stations} stations: A still on port 0`);
    assert.is(r.c('bridge-learned'), 3);
    assert.is(r.c('bridge-forward'), 3);
    assert.is(r.c('bridge-flood'), 2);
    assert.is(r.br.lookup(1, C)?.port, 1);
  }
});

// ---- FDB ----------------------------------------------------------------------------------

const Fdb = suite('bridge FDB');

Fdb('a station that moves updates its entry and counts bridge-mac-move', () => {
  const r = new Rig([{}, {}, {}]);
  r.send([eth(BCAST, A), 0]);
  assert.is(r.br.lookup(1, A)?.port, 0);
  r.send([eth(BCAST, A), 2]);
  assert.is(r.br.lookup(1, A)?.port, 2);
  assert.is(r.c('bridge-mac-move'), 1);
  assert.is(r.c('bridge-learned'), 1);
  assert.equal(r.ports(eth(A, B), 0), [2]);
});

Fdb('static entries never age; they move like Linux ones unless sticky', () => {
  const r = new Rig([{}, {}, {}]);
  r.br.fdbAdd(1, A, { port: 0 });
  r.br.fdbAdd(1, B, { port: 0, sticky: true });
  assert.equal(r.ports(eth(A, C, 0), 2, 100_000), [0], 'static: known at any time');
  r.send([eth(BCAST, A), 1, 100_001]);
  assert.equal(r.br.lookup(1, A)?.flags, ['static']);
  assert.is(r.br.lookup(1, A)?.port, 1, 'moved');
  r.send([eth(BCAST, B), 1, 100_002]);
  assert.is(r.br.lookup(1, B)?.port, 0, 'sticky: stays');
  assert.ok(r.br.fdbShow().includes(`${B} dev port0 master br1 static sticky`));
});

Fdb('learned entries age out after the bridge ageing time of packet time, then the station is flooded to', () => {
  const r = new Rig([{}, {}, {}]);
  r.br.create(1, { ageing: 10 });
  r.send([eth(BCAST, A), 0, 1000]);
  assert.equal(r.ports(eth(A, B), 1, 1009), [0], 'fresh at 9 s');
  assert.equal(r.ports(eth(A, B), 1, 1010), [0, 2], 'expired at 10 s: flooded');
  assert.not.ok(r.br.lookup(1, A), 'gone from the dump');
  assert.ok(r.c('bridge-aged') >= 1);
  // a refresh restarts the clock
  r.send([eth(BCAST, A), 0, 2000]);
  r.send([eth(BCAST, A), 0, 2008]);
  assert.equal(r.ports(eth(A, B), 1, 2015), [0]);
});

Fdb('ageing time 0 learns nothing and floods everything, as Linux', () => {
  const r = new Rig([{}, {}, {}]);
  r.br.create(1, { ageing: 0 });
  r.send([eth(BCAST, A), 0]);
  assert.equal(r.ports(eth(A, B), 1), [0, 2]);
  assert.is(r.br.size, 0);
});

Fdb('learning off on a port: its stations stay unknown', () => {
  const r = new Rig([{ learning: false }, {}, {}]);
  r.send([eth(BCAST, A), 0]);
  assert.equal(r.ports(eth(A, B), 1), [0, 2]);
});

Fdb('the learn limit stops learning (counted) while traffic is still flooded', () => {
  const r = new Rig([{}, {}, {}]);
  r.br.create(1, { learnLimit: 2 });
  r.br.fdbAdd(1, '02:00:00:00:01:00', { port: 2 }); // static entries do not count
  r.send([eth(BCAST, A), 0], [eth(BCAST, B), 0], [eth(BCAST, C), 0]);
  assert.is(r.c('bridge-learn-limit'), 1);
  assert.is(r.br.get(1).learned, 2);
  assert.not.ok(r.br.lookup(1, C));
  assert.equal(r.ports(eth(C, A), 0), [1, 2], 'C is flooded to');
  r.br.flush({ bridge: 1, port: 0 });
  assert.is(r.br.get(1).learned, 0);
  r.send([eth(BCAST, C), 0]);
  assert.is(r.br.lookup(1, C)?.port, 0, 'room again after a flush');
});

Fdb('a full FDB stops learning (counted) while traffic is still flooded', () => {
  const r = new Rig([{}, {}, {}], { fdbCapacity: 16 });
  for (let i = 0; i < 20; i++) r.send([eth(BCAST, `02:00:00:00:02:${i.toString(16).padStart(2, '0')}`), i % 2]);
  assert.is(r.br.size, 16);
  assert.is(r.c('bridge-fdb-full'), 4);
  assert.throws(() => r.br.fdbAdd(1, A, { port: 0 }), /full/);
  assert.equal(r.ports(eth('02:00:00:00:02:13', A), 2), [0, 1]);
});

Fdb('flush per port, per VLAN, per bridge; static entries only when asked', () => {
  const r = new Rig([{}, {}, {}]);
  r.br.addPort(3, { bridge: 2 });
  r.send([eth(BCAST, A), 0], [eth(BCAST, B), 1], [eth(BCAST, C), 3]);
  r.br.fdbAdd(1, '02:00:00:00:00:ee', { port: 0 });
  r.br.fdbAdd(1, '02:00:00:00:00:dd', { port: 0, vlan: 7, dynamic: true });
  assert.is(r.br.size, 5);
  assert.is(r.br.flush({ vlan: 7 }), 1);
  assert.is(r.br.flush({ port: 0 }), 1, 'learned A only, not the static entry');
  assert.equal(r.br.fdb({ bridge: 1 }).map((e) => e.mac), [B, '02:00:00:00:00:ee']);
  assert.is(r.br.flush({ bridge: 1, static: true }), 2);
  assert.equal(r.br.fdb().map((e) => [e.bridge, e.mac]), [[2, C]]);
  assert.ok(r.br.fdbDel(2, C));
  assert.not.ok(r.br.fdbDel(2, C));
  assert.is(r.br.size, 0);
});

Fdb('a port leaving its bridge takes its entries with it (static ones too)', () => {
  const r = new Rig([{}, {}, {}]);
  r.send([eth(BCAST, A), 0], [eth(BCAST, B), 1]);
  r.br.fdbAdd(1, C, { port: 0 });
  r.br.removePort(0);
  assert.equal(r.br.fdb().map((e) => e.mac), [B]);
});

Fdb('dump like `bridge fdb show`', () => {
  const r = new Rig([{}, {}]);
  r.send([eth(BCAST, A), 0, 50]);
  r.br.fdbAdd(1, B, { port: 1, vlan: 10 });
  r.br.fdbAdd(1, C, { local: true });
  assert.equal(r.br.fdb(), [
    { mac: A, bridge: 1, vlan: 0, port: 0, flags: ['learned'], lastSeen: 50 },
    { mac: C, bridge: 1, vlan: 0, port: 0, flags: ['local'], lastSeen: 0 },
    { mac: B, bridge: 1, vlan: 10, port: 1, flags: ['static'], lastSeen: 0 },
  ]);
  assert.is(
    r.br.fdbShow({}, { port: (i) => `veth${i}`, bridge: () => 'docker0' }),
    [`${A} dev veth0 master docker0`, `${C} dev docker0 master docker0 permanent`, `${B} dev veth1 vlan 10 master docker0 static`].join('\n'),
  );
  assert.equal(r.br.fdb({ port: 1 }).map((e) => e.mac), [B]);
});

Fdb('the FDB keeps 1,048,576 entries with constant-time lookups (and every one is found again)', () => {
  const dp = new Dataplane({ slots: 16, fdbCapacity: 1 << 20, bridges: 2 });
  const br = new Bridges(dp);
  const ex = dp.exports as unknown as { fdbAdd: (...a: number[]) => number; fdbLookup: (...a: number[]) => number };
  const n = 1 << 20;
  for (let i = 0; i < n; i++) assert.ok(ex.fdbAdd(i & 1, (i >>> 1) & 7, 0x0200, i, i & 0xff, 1, 0) === 1 || assert.unreachable(`add ${i}`));
  assert.is(br.size, n);
  assert.is(ex.fdbAdd(0, 0, 0x0201, 0, 0, 1, 0), 0, 'full at capacity');
  let found = 0;
  for (let i = 0; i < n; i++) if (ex.fdbLookup(i & 1, (i >>> 1) & 7, 0x0200, i) >= 0) found++;
  assert.is(found, n);
  assert.is(ex.fdbLookup(0, 1, 0x0200, 0), -1, 'same MAC, other VLAN: a different key');
  assert.is(br.flush({ bridge: 1 }), n / 2);
  for (let i = 0; i < n; i += 2) if (ex.fdbLookup(0, (i >>> 1) & 7, 0x0200, i) < 0) assert.unreachable(`lost ${i} after deletions`);
});

Fdb('bad control input is an error with a clear message', () => {
  const r = new Rig([{}]);
  assert.throws(() => new Dataplane({ fdbCapacity: 1000 }), /power of two/);
  assert.throws(() => r.br.create(8), /bridge id/);
  assert.throws(() => r.br.fdbAdd(1, '01:00:5e:00:00:01', { port: 0 }), /multicast/);
  assert.throws(() => r.br.fdbAdd(1, 'zz', { port: 0 }), /invalid MAC/);
  assert.throws(() => r.br.fdbAdd(1, A), /port/);
  assert.throws(() => r.br.create(1, { ageing: -1 }), /ageing/);
  assert.throws(() => r.br.addPort(1, { bridge: 1, vlan: { mode: 'access', pvid: 4095 } }), /1\.\.4094/);
});

// ---- services hook -------------------------------------------------------------------------

const Hook = suite('bridge services hook');

Hook('the services flag of a bridge is set and read back', () => {
  const r = new Rig([{}, {}]);
  assert.is(r.br.get(1).services, false);
  r.br.setServices(1, true);
  assert.is(r.br.get(1).services, true);
  // with the placeholder hook (returns true) IPv4 frames are still bridged
  r.send([eth(BCAST, A), 0]);
  assert.equal(r.ports(eth(A, B, 0, 64, 0x0800), 1), [0]);
});

Fwd.run();
Fdb.run();
Hook.run();
