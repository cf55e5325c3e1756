/**
 * macvlan through the real .wasm: bridge, private, vepa and passthru modes as
 * drivers/net/macvlan.c forwards, the 802.1Q sub-interface parent (eth0.10),
 * the source-MAC check, every drop counter, and Docker's parent errors.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Dataplane, Macvlans, PortKind, PortFlag, Verdict, parseParent, D_VLAN } from '../src/dataplane/index.ts';
import type { L2NetworkOptions } from '../src/dataplane/index.ts';
import {
  SMALL, BCAST, eth, tag, arpFrame, ipv4, udp, send, ports, assertBytes, haveTshark, tsharkFields, tsharkClean,
} from './helpers/l2dev-frames.ts';

const PARENT = 0;
const PMAC = '02:00:00:00:01:01';
const EXT = '02:00:00:00:09:09'; // a station on the physical network
const M1 = '02:42:0a:00:00:02';
const M2 = '02:42:0a:00:00:03';
const M3 = '02:42:0a:00:00:04';

function net(mode: L2NetworkOptions['macvlanMode'], extra: Partial<L2NetworkOptions> = {}, endpoints = [M1, M2, M3]): { dp: Dataplane; mv: Macvlans } {
  const dp = new Dataplane(SMALL);
  const mv = new Macvlans(dp);
  mv.addParent(PARENT, { name: 'eth0', mac: PMAC });
  mv.createNetwork('n1', { driver: 'macvlan', parent: PARENT, macvlanMode: mode, ...extra });
  endpoints.forEach((m, i) => mv.addEndpoint('n1', i + 1, { mac: m }));
  return { dp, mv };
}

const udpFrame = (dst: string, src: string, n = 1): Uint8Array => eth(dst, src, 0x0800, ipv4('10.0.0.2', '10.0.0.3', udp(40000 + n, 40999, [1, 2, 3, n])));

// ---- bridge mode ---------------------------------------------------------------------------

const Bridge = suite('macvlan bridge mode');

Bridge('child to child unicast is delivered directly, by destination MAC, unchanged', () => {
  const { dp } = net('bridge');
  const f = udpFrame(M2, M1);
  const r = send(dp, f, 1);
  assert.equal(ports(r), [2]);
  assertBytes(r.out[0]!.data, f, 'delivered frame');
  assert.is(dp.counter('macvlan-local'), 1n);
  assert.is(dp.counter('macvlan-to-parent'), 0n);
});

Bridge('child broadcast reaches the other children and leaves through the parent', () => {
  const { dp } = net('bridge');
  const f = arpFrame(BCAST, M1, 1, M1, '10.0.0.2', '00:00:00:00:00:00', '10.0.0.3');
  const r = send(dp, f, 1);
  assert.equal(ports(r), [PARENT, 2, 3]);
  for (const o of r.out) assertBytes(o.data, f, `copy to ${o.port}`);
  assert.is(dp.counter('macvlan-to-child'), 2n);
  assert.is(dp.counter('macvlan-to-parent'), 1n);
  assert.is(r.verdict, Verdict.TX);
});

Bridge('child unicast to an outside MAC (or the parent\'s own) leaves through the parent', () => {
  const { dp } = net('bridge');
  assert.equal(ports(send(dp, udpFrame(EXT, M1), 1)), [PARENT]);
  // The parent's own MAC is not a child: out to the wire, as the kernel does (the host is unreachable).
  assert.equal(ports(send(dp, udpFrame(PMAC, M1), 1)), [PARENT]);
});

Bridge('from the parent: unicast by destination MAC, unknown MAC is a counted drop', () => {
  const { dp } = net('bridge');
  const f = udpFrame(M3, EXT);
  const r = send(dp, f, PARENT);
  assert.equal(ports(r), [3]);
  assertBytes(r.out[0]!.data, f, 'delivered');
  const miss = send(dp, udpFrame('02:42:0a:00:00:99', EXT), PARENT);
  assert.equal(miss.out, []);
  assert.is(miss.drop, 'macvlan-no-child');
  assert.is(dp.counter('macvlan-no-child'), 1n);
});

Bridge('from the parent: an outside broadcast reaches every child', () => {
  const { dp } = net('bridge');
  const r = send(dp, arpFrame(BCAST, EXT, 1, EXT, '10.0.0.9', '00:00:00:00:00:00', '10.0.0.2'), PARENT);
  assert.equal(ports(r), [1, 2, 3]);
  const m = send(dp, udpFrame('01:00:5e:00:00:fb', EXT), PARENT);
  assert.equal(ports(m), [1, 2, 3], 'multicast too');
});

Bridge('from the parent: a bridge child\'s own broadcast coming back reaches vepa children only (none here)', () => {
  const { dp } = net('bridge');
  const r = send(dp, arpFrame(BCAST, M1, 1, M1, '10.0.0.2', '00:00:00:00:00:00', '10.0.0.9'), PARENT);
  assert.equal(r.out, []);
  assert.is(r.drop, 'macvlan-flood-empty');
  assert.is(dp.counter('macvlan-flood-empty'), 1n);
});

Bridge('a broadcast from the parent with no children at all is macvlan-flood-empty', () => {
  const { dp } = net('bridge', {}, []);
  const r = send(dp, udpFrame(BCAST, EXT), PARENT);
  assert.is(r.drop, 'macvlan-flood-empty');
});

Bridge('source MAC check: on by default, per network, off on request', () => {
  const { dp } = net('bridge');
  const r = send(dp, udpFrame(EXT, M2), 1); // port 1 is M1 speaking as M2
  assert.equal(r.out, []);
  assert.is(r.drop, 'macvlan-src-spoof');
  assert.is(dp.counter('macvlan-src-spoof'), 1n);
  const off = net('bridge', { checkSourceMac: false });
  assert.equal(ports(send(off.dp, udpFrame(EXT, M2), 1)), [PARENT], 'the kernel itself does not check');
  assert.is(off.dp.counter('macvlan-src-spoof'), 0n);
});

Bridge('a down child gets nothing: unicast is macvlan-child-down, broadcasts skip it', () => {
  const { dp, mv } = net('bridge');
  mv.setEndpointDown(2, true);
  const r = send(dp, udpFrame(M2, EXT), PARENT);
  assert.is(r.drop, 'macvlan-child-down');
  assert.is(dp.counter('macvlan-child-down'), 1n);
  assert.equal(ports(send(dp, udpFrame(BCAST, EXT), PARENT)), [1, 3]);
  const c2c = send(dp, udpFrame(M2, M1), 1);
  assert.is(c2c.drop, 'macvlan-child-down');
  // Frames from a down port never enter (graph).
  assert.is(send(dp, udpFrame(EXT, M2), 2).drop, 'graph-port-down');
  mv.setEndpointDown(2, false);
  assert.equal(ports(send(dp, udpFrame(M2, EXT), PARENT)), [2]);
});

Bridge('a down parent: frames for the outside are macvlan-parent-down', () => {
  const dp = new Dataplane(SMALL);
  const mv = new Macvlans(dp);
  mv.addParent(PARENT, { mac: PMAC, down: true });
  mv.createNetwork('n1', { driver: 'macvlan', parent: PARENT });
  mv.addEndpoint('n1', 1, { mac: M1 });
  const r = send(dp, udpFrame(EXT, M1), 1);
  assert.is(r.drop, 'macvlan-parent-down');
  assert.is(dp.counter('macvlan-parent-down'), 1n);
});

Bridge('endpoints of two macvlan networks on one parent link bridge to each other (one kernel macvlan port)', () => {
  const dp = new Dataplane(SMALL);
  const mv = new Macvlans(dp);
  mv.addParent(PARENT, { mac: PMAC });
  mv.createNetwork('a', { driver: 'macvlan', parent: PARENT });
  mv.createNetwork('b', { driver: 'macvlan', parent: PARENT });
  mv.addEndpoint('a', 1, { mac: M1 });
  mv.addEndpoint('b', 2, { mac: M2 });
  assert.equal(ports(send(dp, udpFrame(M2, M1), 1)), [2]);
  assert.throws(() => mv.addEndpoint('b', 3, { mac: M1 }), /address 02:42:0a:00:00:02 already in use on port0/);
});

// ---- private ------------------------------------------------------------------------------

const Private = suite('macvlan private mode');

Private('no child-to-child inside the host: unicast and broadcast go out of the parent only', () => {
  const { dp } = net('private');
  assert.equal(ports(send(dp, udpFrame(M2, M1), 1)), [PARENT]);
  assert.equal(ports(send(dp, udpFrame(BCAST, M1), 1)), [PARENT]);
  assert.is(dp.counter('macvlan-local'), 0n);
});

Private('a private child\'s broadcast reflected by the switch goes back to that child alone', () => {
  const { dp } = net('private');
  const r = send(dp, udpFrame(BCAST, M1), PARENT);
  assert.equal(ports(r), [1]);
  // From anyone else: every child.
  assert.equal(ports(send(dp, udpFrame(BCAST, EXT), PARENT)), [1, 2, 3]);
});

Private('unicast hairpinned back by the switch is delivered by destination MAC (the kernel does not look at the source)', () => {
  const { dp } = net('private');
  assert.equal(ports(send(dp, udpFrame(M2, M1), PARENT)), [2]);
});

// ---- vepa -------------------------------------------------------------------------------------

const Vepa = suite('macvlan vepa mode');

Vepa('everything from a child goes out of the parent', () => {
  const { dp } = net('vepa');
  assert.equal(ports(send(dp, udpFrame(M2, M1), 1)), [PARENT]);
  assert.equal(ports(send(dp, udpFrame(BCAST, M1), 1)), [PARENT]);
});

Vepa('the switch hairpins it back: unicast by destination MAC, a broadcast to the other children', () => {
  const { dp } = net('vepa');
  assert.equal(ports(send(dp, udpFrame(M2, M1), PARENT)), [2]);
  assert.equal(ports(send(dp, udpFrame(BCAST, M1), PARENT)), [2, 3], 'not back to its sender');
});

Vepa('mixed modes on one parent link follow the source\'s mode', () => {
  const dp = new Dataplane(SMALL);
  const mv = new Macvlans(dp);
  mv.addParent(PARENT, { mac: PMAC });
  mv.createNetwork('br', { driver: 'macvlan', parent: PARENT, macvlanMode: 'bridge' });
  mv.createNetwork('ve', { driver: 'macvlan', parent: PARENT, macvlanMode: 'vepa' });
  mv.createNetwork('pr', { driver: 'macvlan', parent: PARENT, macvlanMode: 'private' });
  mv.addEndpoint('br', 1, { mac: M1 });
  mv.addEndpoint('br', 2, { mac: M2 });
  mv.addEndpoint('ve', 3, { mac: M3 });
  mv.addEndpoint('ve', 4, { mac: '02:42:0a:00:00:05' });
  mv.addEndpoint('pr', 5, { mac: '02:42:0a:00:00:06' });
  // A bridge child's broadcast: directly to the other bridge child, and out.
  assert.equal(ports(send(dp, udpFrame(BCAST, M1), 1)), [PARENT, 2]);
  // ... and when it comes back: only the vepa children had not seen it.
  assert.equal(ports(send(dp, udpFrame(BCAST, M1), PARENT)), [3, 4]);
  // A vepa child's broadcast coming back: the other vepa and the bridge children.
  assert.equal(ports(send(dp, udpFrame(BCAST, M3), PARENT)), [1, 2, 4]);
  // A bridge child's unicast to a vepa child goes out (only bridge-to-bridge is direct).
  assert.equal(ports(send(dp, udpFrame(M3, M1), 1)), [PARENT]);
  // An outside broadcast: everyone, private included.
  assert.equal(ports(send(dp, udpFrame(BCAST, EXT), PARENT)), [1, 2, 3, 4, 5]);
});

// ---- passthru --------------------------------------------------------------------------------

const Passthru = suite('macvlan passthru mode');

Passthru('the one child gets every frame from the parent, whatever its destination MAC', () => {
  const { dp } = net('passthru', {}, [M1]);
  assert.equal(ports(send(dp, udpFrame('02:99:99:99:99:99', EXT), PARENT)), [1]);
  assert.equal(ports(send(dp, udpFrame(BCAST, EXT), PARENT)), [1]);
  assert.equal(ports(send(dp, udpFrame(EXT, M1), 1)), [PARENT]);
});

Passthru('passthru owns the parent link (Docker\'s errors)', () => {
  const { mv } = net('passthru', {}, [M1]);
  assert.throws(() => mv.addEndpoint('n1', 2, { mac: M2 }), /passthru and already has an endpoint/);
  assert.throws(() => mv.createNetwork('n2', { driver: 'macvlan', parent: PARENT }), /macvlan network n1 is already using parent interface eth0 in mode passthru/);
  const b = net('bridge');
  assert.throws(() => b.mv.createNetwork('n2', { driver: 'macvlan', parent: PARENT, macvlanMode: 'passthru' }), /cannot use mode passthru, macvlan network n1 is already using parent interface eth0/);
});

// ---- 802.1Q sub-interface parent ------------------------------------------------------------

const Vlan = suite('macvlan on a sub-interface parent (eth0.10)');

function vlanNet(): { dp: Dataplane; mv: Macvlans } {
  const dp = new Dataplane(SMALL);
  const mv = new Macvlans(dp);
  mv.addParent(PARENT, { name: 'eth0', mac: PMAC });
  const { vlan } = parseParent('eth0.10');
  mv.createNetwork('v10', { driver: 'macvlan', parent: PARENT, vlan });
  mv.addEndpoint('v10', 1, { mac: M1 });
  mv.addEndpoint('v10', 2, { mac: M2 });
  return { dp, mv };
}

Vlan('a child\'s frame leaves the uplink tagged with VLAN 10 (PCP 0), nothing else changed', () => {
  const { dp } = vlanNet();
  const f = udpFrame(EXT, M1);
  const r = send(dp, f, 1);
  assert.equal(ports(r), [PARENT]);
  assertBytes(r.out[0]!.data, tag(f, 10), 'tagged frame');
  assert.is(dp.counter('vlan-push'), 1n);
});

Vlan('a child\'s broadcast: untagged to the other child, tagged out of the uplink', () => {
  const { dp } = vlanNet();
  const f = arpFrame(BCAST, M1, 1, M1, '10.0.10.2', '00:00:00:00:00:00', '10.0.10.1');
  const r = send(dp, f, 1);
  assert.equal(ports(r), [PARENT, 2]);
  assertBytes(r.out.find((o) => o.port === 2)!.data, f, 'to the other child');
  assertBytes(r.out.find((o) => o.port === PARENT)!.data, tag(f, 10), 'to the uplink');
});

Vlan('a frame tagged 10 on the uplink reaches the child untagged, its PCP ignored', () => {
  const { dp } = vlanNet();
  const f = udpFrame(M2, EXT);
  const r = send(dp, tag(f, 10, 5), PARENT);
  assert.equal(ports(r), [2]);
  assertBytes(r.out[0]!.data, f, 'untagged');
  assert.is(dp.descField(0, D_VLAN, 2), 10);
  assert.is(dp.counter('vlan-pop'), 1n);
});

Vlan('untagged frames and other VLANs are not the sub-interface\'s: macvlan-wrong-vlan', () => {
  const { dp } = vlanNet();
  assert.is(send(dp, udpFrame(M2, EXT), PARENT).drop, 'macvlan-wrong-vlan');
  assert.is(send(dp, tag(udpFrame(M2, EXT), 20), PARENT).drop, 'macvlan-wrong-vlan');
  assert.is(send(dp, tag(udpFrame(BCAST, EXT), 11), PARENT).drop, 'macvlan-wrong-vlan');
  assert.is(dp.counter('macvlan-wrong-vlan'), 3n);
});

Vlan('a tag cut short is macvlan-bad-tag', () => {
  const { dp } = vlanNet();
  const f = new Uint8Array([...Array.from(udpFrame(M2, EXT).subarray(0, 12)), 0x81, 0x00, 0x00]);
  const r = send(dp, f, PARENT);
  assert.is(r.drop, 'macvlan-bad-tag');
});

Vlan('the bare parent and eth0.10 side by side: each takes its own frames; the same MAC may live on both', () => {
  const dp = new Dataplane(SMALL);
  const mv = new Macvlans(dp);
  mv.addParent(PARENT, { name: 'eth0', mac: PMAC });
  mv.createNetwork('bare', { driver: 'macvlan', parent: PARENT });
  mv.createNetwork('v10', { driver: 'macvlan', parent: PARENT, vlan: 10 });
  mv.addEndpoint('bare', 1, { mac: M1 });
  mv.addEndpoint('v10', 2, { mac: M1 });
  const f = udpFrame(M1, EXT);
  assert.equal(ports(send(dp, f, PARENT)), [1]);
  assert.equal(ports(send(dp, tag(f, 10), PARENT)), [2]);
  // Priority-tagged (VID 0) frames belong to the bare parent, tag removed.
  const r = send(dp, tag(f, 0, 3), PARENT);
  assert.equal(ports(r), [1]);
  assertBytes(r.out[0]!.data, f, 'priority tag removed');
  // A frame from the bare network's child to eth0.10's MAC goes out untagged (different kernel ports).
  const x = send(dp, udpFrame(M1, M2), 1);
  assert.is(x.drop, 'macvlan-src-spoof');
  const y = send(dp, udpFrame(M2, M1), 1);
  assert.equal(ports(y), [PARENT]);
  assertBytes(y.out[0]!.data, udpFrame(M2, M1), 'untagged');
});

Vlan('tshark reads the uplink frames as 802.1Q VLAN 10 carrying the original ethertype', () => {
  if (!haveTshark) {
    if (process.env.CI) assert.unreachable('tshark is required in CI');
    console.log('  SKIP tshark not installed');
    return;
  }
  const { dp } = vlanNet();
  const frames = [
    send(dp, udpFrame(EXT, M1), 1).out[0]!.data,
    send(dp, arpFrame(BCAST, M2, 1, M2, '10.0.10.3', '00:00:00:00:00:00', '10.0.10.1'), 2).out.find((o) => o.port === PARENT)!.data,
  ];
  const rows = tsharkFields(frames, ['vlan.id', 'vlan.priority', 'vlan.etype', 'eth.src', 'frame.protocols']);
  assert.equal(rows.map((r) => r[0]), ['10', '10']);
  assert.equal(rows.map((r) => r[1]), ['0', '0']);
  assert.equal(rows.map((r) => r[2]), ['0x0800', '0x0806']);
  assert.equal(rows.map((r) => r[3]), [M1, M2]);
  assert.match(rows[0]![4]!, /^eth:ethertype:vlan:ethertype:ip:udp/);
  assert.match(rows[1]![4]!, /^eth:ethertype:vlan:ethertype:arp/);
  tsharkClean(frames);
});

// ---- parents, misconfiguration, headroom ----------------------------------------------

const Edges = suite('macvlan edges');

Edges('a network without parent (Docker\'s dummy parent): children talk, nothing leaves', () => {
  const dp = new Dataplane(SMALL);
  const mv = new Macvlans(dp);
  mv.createNetwork('internal', { driver: 'macvlan' });
  mv.addEndpoint('internal', 1, { mac: M1 });
  mv.addEndpoint('internal', 2, { mac: M2 });
  const b = send(dp, udpFrame(BCAST, M1), 1);
  assert.equal(ports(b), [2]);
  assert.is(b.drop, '', 'a broadcast that reached the others is no drop');
  const u = send(dp, udpFrame(EXT, M1), 1);
  assert.is(u.drop, 'macvlan-no-parent');
  assert.is(dp.counter('macvlan-no-parent'), 1n);
});

Edges('ports pointing at nothing: macvlan-bad-child, macvlan-bad-parent', () => {
  const dp = new Dataplane({ ...SMALL, macvlanParents: 2, macvlanLowers: 4 });
  dp.setPort(7, { kind: PortKind.CHILD, aux: 3, mac: M1 });
  dp.setPort(8, { kind: PortKind.CHILD, aux: 999, mac: M1 });
  dp.setPort(9, { kind: PortKind.PARENT, aux: 2, mac: PMAC });
  assert.is(send(dp, udpFrame(EXT, M1), 7).drop, 'macvlan-bad-child', 'a lower with no network');
  assert.is(send(dp, udpFrame(EXT, M1), 8).drop, 'macvlan-bad-child', 'out of range');
  assert.is(send(dp, udpFrame(M1, EXT), 9).drop, 'macvlan-bad-parent');
});

Edges('no headroom left for the tag: macvlan-no-headroom', () => {
  const { dp } = vlanNet();
  const f = udpFrame(EXT, M1);
  const slot = dp.allocSlot();
  dp.bytes.set(f, dp.slotAddr(slot));
  dp.describe(0, slot, 0, f.length, 1, 0, 0); // the frame at the very start of its slot
  assert.is(dp.run(1), 0);
  assert.is(dp.dropReason(0), 'macvlan-no-headroom');
  assert.is(dp.counter('macvlan-no-headroom'), 1n);
});

Edges('frame ownership: slots come back after floods and drops', () => {
  const { dp } = vlanNet();
  const free = dp.freeSlots;
  for (let i = 0; i < 50; i++) {
    dp.push(udpFrame(BCAST, M1, i), 1);
    dp.push(tag(udpFrame(BCAST, EXT, i), 10), PARENT);
    dp.push(udpFrame(M2, EXT, i), PARENT); // wrong VLAN
  }
  const n = dp.run();
  assert.is(n, 50 * 2 + 50 * 2);
  dp.releaseTx();
  assert.is(dp.freeSlots, free);
});

// ---- control plane ------------------------------------------------------------------------

const Control = suite('macvlan control: Docker\'s parent rules and errors');

Control('parseParent: eth0.10 and Docker\'s messages', () => {
  const host = new Set(['eth0', 'ens3']);
  const exists = (n: string): boolean => host.has(n);
  assert.equal(parseParent('eth0', exists), { link: 'eth0', vlan: 0 });
  assert.equal(parseParent('eth0.10', exists), { link: 'eth0', vlan: 10 });
  assert.equal(parseParent('eth0.4094', exists), { link: 'eth0', vlan: 4094 });
  assert.throws(() => parseParent('eth0.0', exists), /^vlan id must be between 1-4094, received: 0$/);
  assert.throws(() => parseParent('eth0.4095', exists), /vlan id must be between 1-4094, received: 4095/);
  assert.throws(() => parseParent('eth0.-1', exists), /vlan id must be between 1-4094, received: -1/);
  assert.throws(() => parseParent('eth1', exists), /invalid subinterface vlan name eth1, example formatting is eth0.10/);
  assert.throws(() => parseParent('eth0.1.2', exists), /required interface name format is: name.vlan_id, ex. eth0.10 for vlan 10, instead received eth0.1.2/);
  assert.throws(() => parseParent('eth0.x', exists), /unable to parse a valid vlan id from: x \(ex. eth0.10 for vlan 10\)/);
  assert.throws(() => parseParent('eth9.10', exists), /-o parent interface was not found on the host: eth9/);
  assert.throws(() => parseParent('lo', exists), /loopback interface is not a valid macvlan parent link/);
});

Control('network and endpoint errors', () => {
  const dp = new Dataplane(SMALL);
  const mv = new Macvlans(dp);
  mv.addParent(PARENT, { name: 'eth0', mac: PMAC });
  assert.throws(() => mv.createNetwork('x', { driver: 'macvlan', parent: PARENT, vlan: 5000 }), /vlan id must be between 1-4094, received: 5000/);
  assert.throws(() => mv.createNetwork('x', { driver: 'macvlan', parent: 3 }), /parent interface port3 was not found/);
  assert.throws(() => mv.createNetwork('x', { driver: 'macvlan', parent: PARENT, macvlanMode: 'bogus' as never }), /requested macvlan mode 'bogus' is not valid, 'bridge' mode is the macvlan driver default/);
  mv.createNetwork('m', { driver: 'macvlan', parent: PARENT, vlan: 10 });
  assert.throws(() => mv.createNetwork('m', { driver: 'macvlan', parent: PARENT }), /network m already exists/);
  assert.throws(() => mv.createNetwork('i', { driver: 'ipvlan', parent: PARENT, vlan: 10 }), /failed to create the ipvlan port: device or resource busy/);
  mv.createNetwork('i', { driver: 'ipvlan', parent: PARENT, vlan: 20 }); // another sub-interface is fine
  assert.throws(() => mv.addEndpoint('m', 1, {}), /needs a MAC address/);
  assert.throws(() => mv.addEndpoint('m', 1, { mac: PMAC }), /address 02:00:00:00:01:01 already in use on eth0.10/);
  assert.throws(() => mv.addEndpoint('m', 1, { mac: '03:00:00:00:00:01' }), /multicast/);
  mv.addEndpoint('m', 1, { mac: M1 });
  assert.throws(() => mv.addEndpoint('m', 1, { mac: M2 }), /port 1 is already an endpoint of network m/);
  assert.throws(() => mv.addEndpoint('m', PARENT, { mac: M2 }), /is a parent/);
  assert.throws(() => mv.deleteNetwork('m'), /network m has active endpoints/);
  assert.throws(() => mv.removeParent(PARENT), /parent eth0 is in use by network m, i/);
  mv.removeEndpoint(1);
  assert.is(dp.view.getUint8(dp.portAddr(1)), PortKind.UNUSED);
  mv.deleteNetwork('m');
  assert.equal(mv.networks().map((n) => n.id), ['i']);
});

Control('tables full: a clear error, nothing half-done', () => {
  const dp = new Dataplane({ ...SMALL, macvlanMacSlots: 16, macvlanLowers: 2 });
  const mv = new Macvlans(dp);
  mv.addParent(PARENT, { mac: PMAC });
  mv.createNetwork('a', { driver: 'macvlan', parent: PARENT });
  mv.createNetwork('b', { driver: 'macvlan', parent: PARENT, vlan: 2 });
  assert.throws(() => mv.createNetwork('c', { driver: 'macvlan', parent: PARENT, vlan: 3 }), /macvlanLowers = 2/);
  assert.equal(mv.networks().map((n) => n.id), ['a', 'b']);
  for (let i = 1; i <= 15; i++) mv.addEndpoint('a', i, { mac: `02:42:00:00:00:${i.toString(16).padStart(2, '0')}` });
  assert.throws(() => mv.addEndpoint('a', 16, { mac: '02:42:00:00:00:10' }), /MAC table full/);
  assert.is(dp.view.getUint8(dp.portAddr(16)), PortKind.UNUSED);
  // Every one of the 15 is still reachable (a full table with linear probing).
  for (let i = 1; i <= 15; i++) {
    assert.equal(ports(send(dp, udpFrame(`02:42:00:00:00:${i.toString(16).padStart(2, '0')}`, EXT), PARENT)), [i]);
  }
});

Control('the endpoint port entry: CHILD, MAC, DOWN flag', () => {
  const { dp, mv } = net('bridge');
  const p = dp.portAddr(2);
  assert.is(dp.view.getUint8(p), PortKind.CHILD);
  mv.setEndpointDown(2, true);
  assert.ok(dp.view.getUint16(p + 2, true) & PortFlag.DOWN);
  assert.equal(mv.networks()[0]!.endpoints, [1, 2, 3]);
  assert.is(mv.networkOf(3), 'n1');
});

Bridge.run();
Private.run();
Vepa.run();
Passthru.run();
Vlan.run();
Edges.run();
Control.run();
