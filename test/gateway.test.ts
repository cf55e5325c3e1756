/**
 * The gateway of a bridge network (docker0's 172.17.0.1) through the real
 * .wasm and the real bridge: ARP replies and ICMP echo replies out of the
 * ingress port, checksums validated by tshark, every drop counter, and no
 * frame crossing into another bridge network.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Dataplane, Bridges, Gateways, Verdict, D_VNET_FLAGS } from '../src/dataplane/index.ts';
import {
  SMALL, BCAST, eth, tag, arp, arpFrame, ipv4, udp, icmpEcho, send, ports, assertBytes, haveTshark, tsharkFields, tsharkClean,
} from './helpers/l2dev-frames.ts';
import type { Ip4Opts } from './helpers/l2dev-frames.ts';

const GW = '172.17.0.1';
const GWMAC = '02:42:8f:11:22:33';
const C1 = '172.17.0.2';
const C1MAC = '02:42:ac:11:00:02';
const C2MAC = '02:42:ac:11:00:03';
const ZERO = '00:00:00:00:00:00';

function docker0(): { dp: Dataplane; br: Bridges; gw: Gateways } {
  const dp = new Dataplane(SMALL);
  const br = new Bridges(dp);
  const gw = new Gateways(dp);
  br.create(0);
  for (const p of [1, 2, 3]) br.addPort(p, { bridge: 0 });
  gw.set(0, { ip: GW, mac: GWMAC });
  br.fdbAdd(0, GWMAC, { local: true });
  return { dp, br, gw };
}

const echo = (dst: string, src: string, sip: string, dip: string, data: number[], o: Ip4Opts & { badIcmp?: boolean } = {}): Uint8Array =>
  eth(dst, src, 0x0800, ipv4(sip, dip, icmpEcho(8, 0x4242, 7, data, o.badIcmp), { proto: 1, ...o }));

const payload = Array.from({ length: 56 }, (_, i) => (i * 3) & 0xff);

// ---- ARP ----------------------------------------------------------------------------------

const Arp = suite('gateway: ARP');

Arp('a broadcast request for the gateway IP: a reply out of the ingress port, and the request still floods', () => {
  const { dp } = docker0();
  const req = arpFrame(BCAST, C1MAC, 1, C1MAC, C1, ZERO, GW);
  const r = send(dp, req, 1);
  assert.equal(r.out.map((o) => o.port), [1, 2, 3], 'the reply first, then the flood');
  const want = eth(C1MAC, GWMAC, 0x0806, [...arp(2, GWMAC, GW, C1MAC, C1), ...new Array<number>(18).fill(0)]);
  assertBytes(r.out[0]!.data, want, 'ARP reply');
  assertBytes(r.out[1]!.data, req, 'flooded request');
  assert.is(dp.counter('gateway-arp-reply'), 1n);
  assert.is(r.verdict, Verdict.TX);
});

Arp('a unicast request to the gateway MAC (a refresh) is answered alone', () => {
  const { dp } = docker0();
  const r = send(dp, arpFrame(GWMAC, C1MAC, 1, C1MAC, C1, GWMAC, GW), 2);
  assert.equal(ports(r), [2]);
  assertBytes(r.out[0]!.data, eth(C1MAC, GWMAC, 0x0806, [...arp(2, GWMAC, GW, C1MAC, C1), ...new Array<number>(18).fill(0)]), 'reply');
});

Arp('a probe from 0.0.0.0 (RFC 5227) is answered to the prober', () => {
  const { dp } = docker0();
  const r = send(dp, arpFrame(BCAST, C1MAC, 1, C1MAC, '0.0.0.0', ZERO, GW), 1);
  assertBytes(r.out[0]!.data, eth(C1MAC, GWMAC, 0x0806, [...arp(2, GWMAC, GW, C1MAC, '0.0.0.0'), ...new Array<number>(18).fill(0)]), 'reply');
});

Arp('not answered: another IP, a sender claiming the gateway IP, a martian sender, unicast to someone else, a reply', () => {
  const { dp } = docker0();
  assert.equal(ports(send(dp, arpFrame(BCAST, C1MAC, 1, C1MAC, C1, ZERO, '172.17.0.3'), 1)), [2, 3]);
  assert.equal(ports(send(dp, arpFrame(BCAST, C1MAC, 1, C1MAC, GW, ZERO, GW), 1)), [2, 3]);
  assert.equal(ports(send(dp, arpFrame(BCAST, C1MAC, 1, C1MAC, '127.0.0.1', ZERO, GW), 1)), [2, 3]);
  assert.equal(ports(send(dp, arpFrame(C2MAC, C1MAC, 1, C1MAC, C1, ZERO, GW), 1)), [2, 3], 'unknown unicast floods');
  const reply = send(dp, arpFrame(GWMAC, C1MAC, 2, C1MAC, C1, GWMAC, GW), 1);
  assert.equal(reply.out, [], 'an ARP reply to the gateway is the host\'s');
  assert.is(reply.verdict, Verdict.LOCAL);
  assert.is(dp.counter('gateway-arp-reply'), 0n);
});

Arp('a disabled gateway (gateway_mode_ipv4=isolated) answers nothing', () => {
  const { dp, gw } = docker0();
  gw.setEnabled(0, false);
  assert.equal(ports(send(dp, arpFrame(BCAST, C1MAC, 1, C1MAC, C1, ZERO, GW), 1)), [2, 3]);
  assert.is(send(dp, echo(GWMAC, C1MAC, C1, GW, payload), 1).verdict, Verdict.LOCAL);
  gw.setEnabled(0, true);
  assert.equal(ports(send(dp, arpFrame(BCAST, C1MAC, 1, C1MAC, C1, ZERO, GW), 1)), [1, 2, 3]);
});

Arp('each bridge network answers for its own gateway only, and nothing crosses', () => {
  const { dp, br, gw } = docker0();
  br.create(1);
  for (const p of [4, 5]) br.addPort(p, { bridge: 1 });
  gw.set(1, { ip: '172.18.0.1', mac: '02:42:8f:00:00:18' });
  const r = send(dp, arpFrame(BCAST, '02:42:ac:12:00:02', 1, '02:42:ac:12:00:02', '172.18.0.2', ZERO, GW), 4);
  assert.equal(ports(r), [5], 'docker0\'s address is not answered on the other bridge');
  const own = send(dp, arpFrame(BCAST, '02:42:ac:12:00:02', 1, '02:42:ac:12:00:02', '172.18.0.2', ZERO, '172.18.0.1'), 4);
  assert.equal(own.out.map((o) => o.port), [4, 5]);
  assert.equal(Array.from(own.out[0]!.data.subarray(6, 12)), [2, 0x42, 0x8f, 0, 0, 0x18]);
  assert.equal(gw.get(1), { ip: '172.18.0.1', mac: '02:42:8f:00:00:18', enabled: true, vlan: 0 });
});

Arp('a VLAN-filtering bridge: the reply leaves tagged like the request; a gateway VLAN filters', () => {
  const dp = new Dataplane(SMALL);
  const br = new Bridges(dp);
  const gw = new Gateways(dp);
  br.addPort(1, { bridge: 0, vlan: { mode: 'trunk', allowed: '10,20' } });
  br.addPort(2, { bridge: 0, vlan: { mode: 'access', pvid: 10 } });
  gw.set(0, { ip: GW, mac: GWMAC, vlan: 10 });
  const req = arpFrame(BCAST, C1MAC, 1, C1MAC, C1, ZERO, GW);
  const r = send(dp, tag(req, 10), 1);
  assert.equal(r.out.map((o) => o.port), [1, 2]);
  const reply = eth(C1MAC, GWMAC, 0x0806, [...arp(2, GWMAC, GW, C1MAC, C1), ...new Array<number>(18).fill(0)]);
  assertBytes(r.out[0]!.data, tag(reply, 10), 'tagged reply on the trunk');
  assertBytes(send(dp, req, 2).out[0]!.data, reply, 'untagged reply on the access port');
  assert.equal(ports(send(dp, tag(req, 20), 1)), [], 'VLAN 20: not the gateway\'s, and no other port carries 20');
});

// ---- ICMP echo ----------------------------------------------------------------------------

const Echo = suite('gateway: ICMP echo');

function expectedReply(data: number[], o: { id?: number; tos?: number } = {}): Uint8Array {
  return eth(C1MAC, GWMAC, 0x0800, ipv4(GW, C1, icmpEcho(0, 0x4242, 7, data), { proto: 1, ttl: 64, id: o.id ?? 0x1234, tos: o.tos ?? 0 }));
}

Echo('an echo request to the gateway gets its reply out of the ingress port', () => {
  const { dp } = docker0();
  const r = send(dp, echo(GWMAC, C1MAC, C1, GW, payload, { ttl: 63, tos: 0x10, frag: 0x4000 }), 2);
  assert.equal(ports(r), [2]);
  assertBytes(r.out[0]!.data, expectedReply(payload, { tos: 0x10 }), 'echo reply');
  assert.is(dp.counter('gateway-echo-reply'), 1n);
  assert.is(r.verdict, Verdict.TX);
});

Echo('IP options are not echoed; Ethernet padding is trimmed', () => {
  const { dp } = docker0();
  const withOpts = send(dp, echo(GWMAC, C1MAC, C1, GW, payload, { options: [1, 1, 1, 0] }), 1); // NOP NOP NOP EOL
  assertBytes(withOpts.out[0]!.data, expectedReply(payload), 'reply without options');
  const tiny = echo(GWMAC, C1MAC, C1, GW, []);
  const padded = new Uint8Array(60);
  padded.set(tiny);
  const r = send(dp, padded, 1);
  assertBytes(r.out[0]!.data, expectedReply([]), '42-byte reply');
});

Echo('a sender\'s offload state is settled: the reply is fully checksummed', () => {
  const { dp } = docker0();
  const f = echo(GWMAC, C1MAC, C1, GW, payload, { badIcmp: true });
  assert.ok(dp.push(f, 1));
  const d = dp.regions.desc!.ptr;
  dp.view.setUint8(d + D_VNET_FLAGS, 1); // NEEDS_CSUM: the ICMP checksum is not there yet
  const n = dp.run();
  assert.is(n, 1);
  assertBytes(dp.txData(0), expectedReply(payload), 'reply');
  assert.is(dp.view.getUint8(dp.regions.tx!.ptr + 16), 0, 'T_VNET_FLAGS cleared');
});

Echo('counted drops: what the host\'s stack would discard', () => {
  const { dp } = docker0();
  const cases: Array<[string, Uint8Array]> = [
    ['gateway-icmp-bad-csum', echo(GWMAC, C1MAC, C1, GW, payload, { badIcmp: true })],
    ['gateway-icmp-truncated', eth(GWMAC, C1MAC, 0x0800, ipv4(C1, GW, [8, 0, 0xf7, 0xff], { proto: 1 }))],
    ['gateway-ip-truncated', echo(GWMAC, C1MAC, C1, GW, payload, { totLen: 200 })],
    ['gateway-ip-bad-csum', echo(GWMAC, C1MAC, C1, GW, payload, { badCsum: true })],
    ['gateway-ip-bad-header', echo(GWMAC, C1MAC, C1, GW, payload, { version: 6 })],
    ['gateway-fragment', echo(GWMAC, C1MAC, C1, GW, payload, { frag: 0x2000 })],
    ['gateway-martian-src', echo(GWMAC, C1MAC, '127.0.0.1', GW, payload)],
    ['gateway-martian-src', echo(GWMAC, C1MAC, '0.0.0.0', GW, payload)],
    ['gateway-martian-src', echo(GWMAC, C1MAC, '224.0.0.5', GW, payload)],
    ['gateway-martian-src', echo(GWMAC, C1MAC, GW, GW, payload)],
  ];
  for (const [why, f] of cases) {
    const r = send(dp, f, 1);
    assert.equal(r.out, [], why);
    assert.is(r.verdict, Verdict.DROP, why);
    assert.is(r.drop, why);
  }
  assert.is(dp.counter('gateway-martian-src'), 4n);
  for (const c of ['gateway-icmp-bad-csum', 'gateway-icmp-truncated', 'gateway-ip-truncated', 'gateway-ip-bad-csum', 'gateway-ip-bad-header', 'gateway-fragment']) {
    assert.is(dp.counter(c), 1n, c);
  }
  assert.is(dp.counter('gateway-echo-reply'), 0n);
});

Echo('not the gateway\'s to answer: routed traffic, other protocols, echo replies, broadcast pings', () => {
  const { dp } = docker0();
  for (const f of [
    echo(GWMAC, C1MAC, C1, '8.8.8.8', payload), // through the gateway: the host routes it
    eth(GWMAC, C1MAC, 0x0800, ipv4(C1, GW, udp(5000, 53, [1, 2, 3]))), // a service on the host
    eth(GWMAC, C1MAC, 0x0800, ipv4(C1, GW, icmpEcho(0, 1, 1, []), { proto: 1 })),
  ]) {
    const r = send(dp, f, 1);
    assert.equal(r.out, []);
    assert.is(r.verdict, Verdict.LOCAL, 'delivered to the bridge device');
  }
  assert.equal(ports(send(dp, echo(BCAST, C1MAC, C1, '172.17.255.255', payload), 1)), [2, 3]);
  assert.is(dp.counter('gateway-echo-reply'), 0n);
});

// ---- tshark -------------------------------------------------------------------------------

const Tshark = suite('gateway: tshark validates the replies');

Tshark('ARP and ICMP replies dissect cleanly with good checksums, and match their requests', () => {
  if (!haveTshark) {
    if (process.env.CI) assert.unreachable('tshark is required in CI');
    console.log('  SKIP tshark not installed');
    return;
  }
  const { dp } = docker0();
  const areq = arpFrame(BCAST, C1MAC, 1, C1MAC, C1, ZERO, GW);
  const arep = send(dp, areq, 1).out[0]!.data;
  const ereq = echo(GWMAC, C1MAC, C1, GW, payload, { options: [1, 1, 1, 0] });
  const erep = send(dp, ereq, 1).out[0]!.data;
  const small = echo(GWMAC, C1MAC, C1, GW, [1, 2, 3]);
  const srep = send(dp, small, 1).out[0]!.data;
  const frames = [areq, arep, ereq, erep, small, srep];
  const rows = tsharkFields(frames, ['arp.opcode', 'arp.src.proto_ipv4', 'arp.src.hw_mac', 'icmp.type', 'icmp.checksum.status', 'ip.checksum.status', 'icmp.resp_to', 'ip.src', 'ip.ttl'],
    ['-o', 'ip.check_checksum:TRUE']);
  assert.equal(rows[1]!.slice(0, 3), ['2', GW, GWMAC], 'ARP reply');
  assert.equal(rows[3]!.slice(3), ['0', '1', '1', '3', GW, '64'], 'echo reply: good checksums, answers frame 3');
  assert.equal(rows[5]!.slice(3), ['0', '1', '1', '5', GW, '64'], 'small echo reply');
  tsharkClean(frames, ['-o', 'ip.check_checksum:TRUE']);
});

// ---- control -------------------------------------------------------------------------------

const Control = suite('gateway: control');

Control('set, get, remove; a random docker0-style MAC by default; bad input refused', () => {
  const dp = new Dataplane(SMALL);
  const gw = new Gateways(dp);
  const mac = gw.set(3, { ip: '10.10.0.1' });
  assert.match(mac, /^[0-9a-f][26ae](:[0-9a-f]{2}){5}$/, 'locally administered unicast');
  assert.equal(gw.get(3), { ip: '10.10.0.1', mac, enabled: true, vlan: 0 });
  assert.throws(() => gw.set(3, { ip: '224.0.0.1' }), /cannot be a gateway address/);
  assert.throws(() => gw.set(3, { ip: '10.0.0.1', mac: '01:00:5e:00:00:01' }), /multicast/);
  assert.throws(() => gw.set(16, { ip: '10.0.0.1' }), /bridge id must be in 0..15/);
  assert.throws(() => gw.set(3, { ip: '10.0.0.300' }), /invalid IPv4 address/);
  gw.remove(3);
  assert.is(gw.get(3), undefined);
  assert.throws(() => gw.setEnabled(3, true), /has no gateway/);
});

Arp.run();
Echo.run();
Tshark.run();
Control.run();
