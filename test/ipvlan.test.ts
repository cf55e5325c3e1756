/**
 * ipvlan through the real .wasm: l2 and l3 modes as
 * drivers/net/ipvlan/ipvlan_core.c demultiplexes (by destination IP, every
 * endpoint sharing the parent's MAC), ipvlan_flag private/vepa, the 802.1Q
 * sub-interface parent, and every drop counter. (This machine's kernel has no
 * ipvlan module, so there is no side-by-side run with the kernel here.)
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Dataplane, Macvlans, Verdict } from '../src/dataplane/index.ts';
import type { L2NetworkOptions } from '../src/dataplane/index.ts';
import {
  SMALL, BCAST, eth, tag, arpFrame, ipv4, udp, ipv6, ns, send, ports, assertBytes, haveTshark, tsharkFields,
} from './helpers/l2dev-frames.ts';

const PARENT = 0;
const PMAC = '02:00:00:00:01:01';
const ROUTER = '02:00:00:00:0f:01';
const EXT = '02:00:00:00:09:09';
const A = '192.168.50.2';
const B = '192.168.50.3';
const C = '192.168.50.4';
const HOST = '192.168.50.1';
const A6 = '2001:db8:50::2';

function net(extra: Partial<L2NetworkOptions> = {}): { dp: Dataplane; mv: Macvlans } {
  const dp = new Dataplane(SMALL);
  const mv = new Macvlans(dp);
  mv.addParent(PARENT, { name: 'eth0', mac: PMAC });
  mv.createNetwork('iv', { driver: 'ipvlan', parent: PARENT, ...extra });
  mv.addEndpoint('iv', 1, { ipv4: [A], ipv6: [A6] });
  mv.addEndpoint('iv', 2, { ipv4: [B] });
  mv.addEndpoint('iv', 3, { ipv4: [C] });
  return { dp, mv };
}

const ip4Frame = (dst: string, src: string, sip: string, dip: string, n = 1): Uint8Array =>
  eth(dst, src, 0x0800, ipv4(sip, dip, udp(41000 + n, 41999, [9, 8, 7, n])));

// ---- l2 -------------------------------------------------------------------------------------

const L2 = suite('ipvlan l2');

L2('endpoints share the parent\'s MAC', () => {
  const { dp } = net();
  const p = dp.portAddr(2);
  assert.equal(Array.from(dp.bytes.subarray(p + 20, p + 26)), [2, 0, 0, 0, 1, 1]);
});

L2('child to child: to our own MAC, by destination IP, unchanged', () => {
  const { dp } = net();
  const f = ip4Frame(PMAC, PMAC, A, B);
  const r = send(dp, f, 1);
  assert.equal(ports(r), [2]);
  assertBytes(r.out[0]!.data, f, 'delivered');
  assert.is(dp.counter('ipvlan-local'), 1n);
});

L2('to our own MAC for an address no child has: the host\'s (ipvlan-to-host)', () => {
  const { dp } = net();
  const r = send(dp, ip4Frame(PMAC, PMAC, A, HOST), 1);
  assert.is(r.drop, 'ipvlan-to-host');
  assert.is(dp.counter('ipvlan-to-host'), 1n);
});

L2('child ARP broadcast: the other children and the parent', () => {
  const { dp } = net();
  const f = arpFrame(BCAST, PMAC, 1, PMAC, A, '00:00:00:00:00:00', HOST);
  const r = send(dp, f, 1);
  assert.equal(ports(r), [PARENT, 2, 3]);
  for (const o of r.out) assertBytes(o.data, f, `to ${o.port}`);
});

L2('child unicast to another MAC (the router) leaves through the parent as it is', () => {
  const { dp } = net();
  const f = ip4Frame(ROUTER, PMAC, A, '8.8.8.8');
  const r = send(dp, f, 1);
  assert.equal(ports(r), [PARENT]);
  assertBytes(r.out[0]!.data, f, 'unchanged');
});

L2('from the parent: IPv4 by destination, ARP replies by target IP, IPv6 by destination', () => {
  const { dp } = net();
  assert.equal(ports(send(dp, ip4Frame(PMAC, ROUTER, '8.8.8.8', C), PARENT)), [3]);
  assert.equal(ports(send(dp, arpFrame(PMAC, EXT, 2, EXT, '192.168.50.9', PMAC, B), PARENT)), [2]);
  assert.equal(ports(send(dp, eth(PMAC, ROUTER, 0x86dd, ipv6('2001:db8::9', A6, 17, udp(1, 2, [1, 2]))), PARENT)), [1]);
});

L2('from the parent: broadcast and multicast to every child', () => {
  const { dp } = net();
  assert.equal(ports(send(dp, arpFrame(BCAST, EXT, 1, EXT, '192.168.50.9', '00:00:00:00:00:00', A), PARENT)), [1, 2, 3]);
  assert.equal(ports(send(dp, eth('33:33:ff:00:00:02', EXT, 0x86dd, ipv6('::', 'ff02::1:ff00:2', 58, ns(A6))), PARENT)), [1, 2, 3]);
});

L2('from the parent: our own broadcast coming back is ipvlan-loop', () => {
  const { dp } = net();
  const r = send(dp, arpFrame(BCAST, PMAC, 1, PMAC, A, '00:00:00:00:00:00', HOST), PARENT);
  assert.is(r.drop, 'ipvlan-loop');
  // The parent's MAC with a source IP that is no child's (the host itself): external, delivered.
  assert.equal(ports(send(dp, arpFrame(BCAST, PMAC, 1, PMAC, HOST, '00:00:00:00:00:00', A), PARENT)), [1, 2, 3]);
});

L2('from the parent: drops by reason', () => {
  const { dp } = net();
  assert.is(send(dp, ip4Frame(EXT, ROUTER, '8.8.8.8', A), PARENT).drop, 'ipvlan-other-mac');
  assert.is(send(dp, ip4Frame(PMAC, ROUTER, '8.8.8.8', '192.168.50.77'), PARENT).drop, 'ipvlan-no-child');
  assert.is(send(dp, eth(PMAC, ROUTER, 0x88b5, new Array<number>(46).fill(1)), PARENT).drop, 'ipvlan-not-ip');
  const bad = eth(PMAC, ROUTER, 0x0800, ipv4('8.8.8.8', A, udp(1, 2, [1]), { totLen: 200 }));
  assert.is(send(dp, bad, PARENT).drop, 'ipvlan-bad-ip', 'total length past the frame');
  const ihl = ip4Frame(PMAC, ROUTER, '8.8.8.8', A);
  ihl[14] = 0x44;
  assert.is(send(dp, ihl, PARENT).drop, 'ipvlan-bad-ip', 'IHL 4');
  assert.is(send(dp, eth(PMAC, ROUTER, 0x0806, [0, 1, 8, 0, 6, 4]), PARENT).drop, 'ipvlan-bad-ip', 'ARP cut short');
  for (const c of ['ipvlan-other-mac', 'ipvlan-no-child', 'ipvlan-not-ip']) assert.is(dp.counter(c), 1n, c);
  assert.is(dp.counter('ipvlan-bad-ip'), 3n);
});

L2('a broadcast from the parent with no children is ipvlan-flood-empty', () => {
  const dp = new Dataplane(SMALL);
  const mv = new Macvlans(dp);
  mv.addParent(PARENT, { mac: PMAC });
  mv.createNetwork('iv', { driver: 'ipvlan', parent: PARENT });
  assert.is(send(dp, arpFrame(BCAST, EXT, 1, EXT, HOST, '00:00:00:00:00:00', A), PARENT).drop, 'ipvlan-flood-empty');
});

L2('source MAC check: only the shared parent MAC', () => {
  const { dp } = net();
  assert.is(send(dp, ip4Frame(ROUTER, '02:42:00:00:00:01', A, '8.8.8.8'), 1).drop, 'ipvlan-src-spoof');
  const off = net({ checkSourceMac: false });
  assert.equal(ports(send(off.dp, ip4Frame(ROUTER, '02:42:00:00:00:01', A, '8.8.8.8'), 1)), [PARENT]);
});

L2('a down child: unicast is ipvlan-child-down, broadcasts skip it', () => {
  const { dp, mv } = net();
  mv.setEndpointDown(3, true);
  assert.is(send(dp, ip4Frame(PMAC, ROUTER, '8.8.8.8', C), PARENT).drop, 'ipvlan-child-down');
  assert.equal(ports(send(dp, arpFrame(BCAST, EXT, 1, EXT, HOST, '00:00:00:00:00:00', A), PARENT)), [1, 2]);
});

const Flags = suite('ipvlan_flag private and vepa');

Flags('private: no child-to-child (ipvlan-private); the outside still works', () => {
  const { dp } = net({ ipvlanFlag: 'private' });
  assert.is(send(dp, ip4Frame(PMAC, PMAC, A, B), 1).drop, 'ipvlan-private');
  assert.is(dp.counter('ipvlan-private'), 1n);
  assert.equal(ports(send(dp, ip4Frame(ROUTER, PMAC, A, '8.8.8.8'), 1)), [PARENT]);
});

Flags('vepa: child-to-child leaves through the parent for the switch to hairpin', () => {
  const { dp } = net({ ipvlanFlag: 'vepa' });
  assert.equal(ports(send(dp, ip4Frame(PMAC, PMAC, A, B), 1)), [PARENT]);
  assert.equal(ports(send(dp, ip4Frame(PMAC, PMAC, A, B), PARENT)), [2], 'and comes back by IP');
});

// ---- l3 ---------------------------------------------------------------------------------------

const L3 = suite('ipvlan l3');

const l3net = (extra: Partial<L2NetworkOptions> = {}): { dp: Dataplane; mv: Macvlans } => net({ ipvlanMode: 'l3', nextHop: ROUTER, ...extra });

L3('child to child by destination IP', () => {
  const { dp } = l3net();
  const f = ip4Frame(PMAC, PMAC, A, C);
  const r = send(dp, f, 1);
  assert.equal(ports(r), [3]);
  assertBytes(r.out[0]!.data, f, 'delivered');
});

L3('routed traffic leaves from the parent\'s MAC to the next hop, IP untouched', () => {
  const { dp } = l3net();
  const f = ip4Frame(PMAC, PMAC, A, '8.8.8.8');
  const r = send(dp, f, 1);
  assert.equal(ports(r), [PARENT]);
  const want = Uint8Array.from(f);
  want.set([2, 0, 0, 0, 0x0f, 1], 0);
  assertBytes(r.out[0]!.data, want, 'rewritten');
  const v6 = send(dp, eth(PMAC, PMAC, 0x86dd, ipv6(A6, '2001:db8::53', 17, udp(1, 53, [1]))), 1);
  assert.equal(ports(v6), [PARENT]);
});

L3('no next hop: ipvlan-l3-no-next-hop; setNextHop fixes it', () => {
  const { dp, mv } = net({ ipvlanMode: 'l3' });
  assert.is(send(dp, ip4Frame(PMAC, PMAC, A, '8.8.8.8'), 1).drop, 'ipvlan-l3-no-next-hop');
  mv.setNextHop('iv', ROUTER);
  assert.equal(ports(send(dp, ip4Frame(PMAC, PMAC, A, '8.8.8.8'), 1)), [PARENT]);
  assert.is(mv.networks()[0]!.nextHop, ROUTER);
});

L3('ARP never crosses, either way (ipvlan-l3-arp)', () => {
  const { dp } = l3net();
  assert.is(send(dp, arpFrame(BCAST, PMAC, 1, PMAC, A, '00:00:00:00:00:00', B), 1).drop, 'ipvlan-l3-arp');
  assert.is(send(dp, arpFrame(BCAST, EXT, 1, EXT, HOST, '00:00:00:00:00:00', A), PARENT).drop, 'ipvlan-l3-arp');
  assert.is(dp.counter('ipvlan-l3-arp'), 2n);
});

L3('broadcast and multicast never cross (ipvlan-l3-mcast)', () => {
  const { dp } = l3net();
  assert.is(send(dp, ip4Frame(BCAST, PMAC, A, '255.255.255.255'), 1).drop, 'ipvlan-l3-mcast');
  assert.is(send(dp, ip4Frame(BCAST, EXT, '192.168.50.9', '255.255.255.255'), PARENT).drop, 'ipvlan-l3-mcast');
  assert.is(dp.counter('ipvlan-l3-mcast'), 2n);
});

L3('an IPv6 duplicate address probe (NS from ::) reaches the target\'s owner', () => {
  const { dp } = l3net();
  assert.equal(ports(send(dp, eth('33:33:ff:00:00:02', EXT, 0x86dd, ipv6('::', 'ff02::1:ff00:2', 58, ns(A6))), PARENT)), [1]);
});

L3('non-IP from a child: ipvlan-l3-not-ip; a broken IP header: ipvlan-bad-ip', () => {
  const { dp } = l3net();
  assert.is(send(dp, eth(ROUTER, PMAC, 0x88b5, new Array<number>(46).fill(1)), 1).drop, 'ipvlan-l3-not-ip');
  const bad = eth(PMAC, PMAC, 0x0800, ipv4(A, '8.8.8.8', udp(1, 2, [1]), { version: 5 }));
  assert.is(send(dp, bad, 1).drop, 'ipvlan-bad-ip');
});

L3('from the parent: by destination IP to the parent\'s MAC only', () => {
  const { dp } = l3net();
  assert.equal(ports(send(dp, ip4Frame(PMAC, ROUTER, '8.8.8.8', B), PARENT)), [2]);
  assert.is(send(dp, ip4Frame(EXT, ROUTER, '8.8.8.8', B), PARENT).drop, 'ipvlan-other-mac');
  assert.is(send(dp, ip4Frame(PMAC, ROUTER, '8.8.8.8', '10.1.1.1'), PARENT).drop, 'ipvlan-no-child');
});

L3('l3s is carried as l3', () => {
  const { dp, mv } = net({ ipvlanMode: 'l3s', nextHop: ROUTER });
  assert.is(mv.networks()[0]!.mode, 'l3s');
  assert.is(send(dp, arpFrame(BCAST, PMAC, 1, PMAC, A, '00:00:00:00:00:00', B), 1).drop, 'ipvlan-l3-arp');
});

// ---- sub-interface parent, edges, control ----------------------------------------------------------

const Vlan = suite('ipvlan on eth0.20');

function vnet(mode: 'l2' | 'l3'): Dataplane {
  const dp = new Dataplane(SMALL);
  const mv = new Macvlans(dp);
  mv.addParent(PARENT, { name: 'eth0', mac: PMAC });
  mv.createNetwork('iv20', { driver: 'ipvlan', parent: PARENT, vlan: 20, ipvlanMode: mode, nextHop: ROUTER });
  mv.addEndpoint('iv20', 1, { ipv4: [A] });
  mv.addEndpoint('iv20', 2, { ipv4: [B] });
  return dp;
}

Vlan('tagged 20 on the uplink, untagged at the children; other VLANs are ipvlan-wrong-vlan', () => {
  for (const mode of ['l2', 'l3'] as const) {
    const dp = vnet(mode);
    const out = send(dp, ip4Frame(ROUTER, PMAC, A, '8.8.8.8'), 1);
    assert.equal(ports(out), [PARENT]);
    assertBytes(out.out[0]!.data, tag(ip4Frame(ROUTER, PMAC, A, '8.8.8.8'), 20), `${mode}: tagged out`);
    const f = ip4Frame(PMAC, ROUTER, '8.8.8.8', B);
    const r = send(dp, tag(f, 20, 7), PARENT);
    assert.equal(ports(r), [2]);
    assertBytes(r.out[0]!.data, f, `${mode}: untagged in`);
    assert.is(send(dp, f, PARENT).drop, 'ipvlan-wrong-vlan', `${mode}: untagged`);
    assert.is(send(dp, tag(f, 21), PARENT).drop, 'ipvlan-wrong-vlan', `${mode}: VLAN 21`);
    assert.is(send(dp, Uint8Array.from([...Array.from(f.subarray(0, 12)), 0x81, 0, 0, 20]), PARENT).drop, 'ipvlan-bad-tag');
  }
});

Vlan('tshark: the uplink frame is VLAN 20 carrying IPv4', () => {
  if (!haveTshark) {
    if (process.env.CI) assert.unreachable('tshark is required in CI');
    return;
  }
  const dp = vnet('l3');
  const frame = send(dp, ip4Frame(PMAC, PMAC, A, '8.8.8.8'), 1).out[0]!.data;
  const [row] = tsharkFields([frame], ['vlan.id', 'vlan.etype', 'eth.dst', 'eth.src', 'ip.dst', 'ip.checksum.status'], ['-o', 'ip.check_checksum:TRUE']);
  assert.equal(row, ['20', '0x0800', ROUTER, PMAC, '8.8.8.8', '1']); // checksum status 1: good
});

const Edges = suite('ipvlan edges and control');

Edges('a network without parent: endpoints talk, nothing leaves (ipvlan-no-parent)', () => {
  const dp = new Dataplane(SMALL);
  const mv = new Macvlans(dp);
  mv.createNetwork('int', { driver: 'ipvlan', mac: '02:aa:00:00:00:01' });
  mv.addEndpoint('int', 1, { ipv4: [A] });
  mv.addEndpoint('int', 2, { ipv4: [B] });
  const dm = '02:aa:00:00:00:01';
  assert.equal(ports(send(dp, ip4Frame(dm, dm, A, B), 1)), [2]);
  const b = send(dp, arpFrame(BCAST, dm, 1, dm, A, '00:00:00:00:00:00', B), 1);
  assert.equal(ports(b), [2]);
  assert.is(b.verdict, Verdict.TX);
  assert.is(send(dp, ip4Frame(ROUTER, dm, A, '8.8.8.8'), 1).drop, 'ipvlan-no-parent');
});

Edges('Docker\'s rules: one ipvlan network per parent link, addresses unique on it', () => {
  const dp = new Dataplane(SMALL);
  const mv = new Macvlans(dp);
  mv.addParent(PARENT, { name: 'eth0', mac: PMAC });
  mv.createNetwork('a', { driver: 'ipvlan', parent: PARENT });
  assert.throws(() => mv.createNetwork('b', { driver: 'ipvlan', parent: PARENT }), /network a is already using parent interface eth0/);
  assert.throws(() => mv.createNetwork('m', { driver: 'macvlan', parent: PARENT }), /failed to create the macvlan port: device or resource busy/);
  assert.throws(() => mv.createNetwork('c', { driver: 'ipvlan', parent: PARENT, vlan: 7, ipvlanMode: 'l4' as never }), /requested ipvlan mode 'l4' is not valid, 'l2' mode is the ipvlan driver default/);
  assert.throws(() => mv.createNetwork('c', { driver: 'ipvlan', parent: PARENT, vlan: 7, ipvlanFlag: 'x' as never }), /requested ipvlan flag 'x' is not valid, 'bridge' is the ipvlan driver default/);
  mv.addEndpoint('a', 1, { ipv4: [A], ipv6: ['2001:db8::1'] });
  assert.throws(() => mv.addEndpoint('a', 2, { ipv4: [A] }), /IPv4 address on the ipvlan port: address already in use on eth0/);
  assert.throws(() => mv.addEndpoint('a', 2, { ipv6: ['2001:0db8:0:0::1'] }), /IPv6 address .* already in use/);
  assert.throws(() => mv.addEndpoint('a', 2, { ipv4: ['300.1.1.1'] }), /invalid IPv4 address/);
  mv.addEndpoint('a', 2, { ipv4: [B] });
  assert.equal(ports(send(dp, ip4Frame(PMAC, ROUTER, '8.8.8.8', B), PARENT)), [2]);
});

Edges('many addresses: every one found through the hash table', () => {
  const dp = new Dataplane({ ...SMALL, macvlanIpSlots: 256 });
  const mv = new Macvlans(dp);
  mv.addParent(PARENT, { mac: PMAC });
  mv.createNetwork('a', { driver: 'ipvlan', parent: PARENT });
  for (let p = 1; p <= 50; p++) mv.addEndpoint('a', p, { ipv4: [0, 1, 2, 3].map((k) => `10.${p}.${k}.1`), ipv6: [`2001:db8:${p}::1`] });
  for (let p = 1; p <= 50; p++) {
    for (let k = 0; k < 4; k++) assert.equal(ports(send(dp, ip4Frame(PMAC, ROUTER, '8.8.8.8', `10.${p}.${k}.1`), PARENT)), [p]);
    assert.equal(ports(send(dp, eth(PMAC, ROUTER, 0x86dd, ipv6('2001:db8::9', `2001:db8:${p}::1`, 17, udp(1, 2, [1]))), PARENT)), [p]);
  }
  assert.throws(() => mv.addEndpoint('a', 60, { ipv4: Array.from({ length: 10 }, (_, k) => `10.200.0.${k}`) }), /ipvlan address table full/);
  mv.removeEndpoint(7);
  assert.is(send(dp, ip4Frame(PMAC, ROUTER, '8.8.8.8', '10.7.0.1'), PARENT).drop, 'ipvlan-no-child');
  assert.equal(ports(send(dp, ip4Frame(PMAC, ROUTER, '8.8.8.8', '10.8.0.1'), PARENT)), [8]);
});

L2.run();
Flags.run();
L3.run();
Vlan.run();
Edges.run();
