// The talk "Demystifying Docker Networking", end to end: the bundled scenario
// fixtures/scenarios/talk.yaml is compiled and its captures replayed; each
// driver's behaviour is checked on what left each port.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { fileURLToPath } from 'node:url';
import { loadScenario } from '../src/scenario/load.ts';
import { compileTopology } from '../src/compile/compile.ts';
import { replay, type TimedFrame } from '../src/replay/replay.ts';

const FILE = fileURLToPath(new URL('../fixtures/scenarios/talk.yaml', import.meta.url));
const sc = loadScenario(FILE, 'talk.yaml');
const topo = sc.topology;
const compiled = compileTopology(topo);
const res = replay(compiled.dp, sc.replay!.inputs.map((i) => ({ port: i.port, path: i.file })), {
  ports: compiled.ports, segments: compiled.segments, collect: true,
});
const out = (port: string): TimedFrame[] => res.output[port] ?? [];
const ep = (port: string) => topo.endpoints.find((e) => e.port === port)!;
const hex = (b: Uint8Array, from: number, to: number) => Array.from(b.subarray(from, to), (x) => x.toString(16).padStart(2, '0')).join('');
const mac = (b: Uint8Array, at: number) => Array.from(b.subarray(at, at + 6), (x) => x.toString(16).padStart(2, '0')).join(':');
const ip = (b: Uint8Array, at: number) => Array.from(b.subarray(at, at + 4)).join('.');
const ethType = (f: Uint8Array) => (f[12]! << 8) | f[13]!;
const isArp = (f: Uint8Array) => ethType(f) === 0x0806;
const arpTarget = (f: Uint8Array) => ip(f, 38);
const arpOp = (f: Uint8Array) => f[21]!;
const icmpType = (f: Uint8Array) => (ethType(f) === 0x0800 && f[23] === 1 ? f[14 + ((f[14]! & 15) << 2)]! : -1);
const portsOf = (net: string) => new Set(topo.endpoints.filter((e) => e.network === net).map((e) => e.port));
const everyPort = [...compiled.ports.keys()];

const T = suite('the talk scenario, end to end');

T('every input frame is accounted for: forwarded, answered or dropped with a reason', () => {
  assert.is(res.frames, 30);
  const c = res.counters;
  assert.is(c['graph-rx'], res.frames + (res.ports['host1/eth0']!.rx + res.ports['host2/eth0']!.rx));
  assert.is(res.segmentLoops, 0);
});

T('--network none: what the container sends goes nowhere, counted', () => {
  assert.is(res.counters['none-drop'], 1);
  assert.equal(out('isolated/lo'), []);
});

T('docker0: c1 finds c2 by ARP and pings it; the gateway answers ARP and echo', () => {
  const c1 = ep('c1/eth0'), c2 = ep('c2/eth0');
  const atC2 = out('c2/eth0');
  assert.ok(atC2.some((f) => isArp(f.data) && arpOp(f.data) === 1 && arpTarget(f.data) === c2.ip), 'c1\'s ARP request reaches c2');
  assert.ok(atC2.some((f) => icmpType(f.data) === 8 && ip(f.data, 30) === c2.ip), 'c1\'s ping reaches c2');
  const atC1 = out('c1/eth0');
  const gw = topo.networks.find((n) => n.name === 'bridge')!;
  const docker0 = gw.instances[0]!.deviceMac!;
  assert.ok(atC1.some((f) => isArp(f.data) && arpOp(f.data) === 2 && ip(f.data, 28) === c2.ip && mac(f.data, 22) === c2.mac), 'c2\'s ARP reply reaches c1');
  assert.ok(atC1.some((f) => isArp(f.data) && arpOp(f.data) === 2 && ip(f.data, 28) === gw.gateway && mac(f.data, 22) === docker0), 'the gateway answers ARP with docker0\'s MAC');
  assert.ok(atC1.some((f) => icmpType(f.data) === 0 && ip(f.data, 26) === gw.gateway && ip(f.data, 30) === c1.ip), 'the gateway answers the ping');
  assert.is(res.counters['gateway-arp-reply'], 1);
  assert.is(res.counters['gateway-echo-reply'], 1);
});

T('networks are separate broadcast domains: nothing crosses from one bridge network to another', () => {
  const byNet = new Map<string, Set<string>>();
  for (const n of topo.networks) byNet.set(n.name, portsOf(n.name));
  // Every frame that left a container port came from a container of the same
  // network or from that network's uplink/gateway/tunnel: check source MACs.
  const macNet = new Map(topo.endpoints.filter((e) => e.mac).map((e) => [e.mac!, e.network]));
  for (const port of everyPort) {
    const e = topo.endpoints.find((x) => x.port === port);
    if (!e) continue;
    for (const f of out(port)) {
      const srcNet = macNet.get(mac(f.data, 6));
      if (srcNet !== undefined) assert.is(srcNet, e.network, `${port} received a frame from network ${srcNet}`);
    }
  }
  // web1 asked for c1's address on mybridge: only web2 heard it.
  const web1Asks = (f: TimedFrame) => isArp(f.data) && mac(f.data, 6) === ep('web1/eth0').mac && arpTarget(f.data) === ep('c1/eth0').ip;
  assert.ok(out('web2/eth0').some(web1Asks));
  for (const p of everyPort.filter((p) => p !== 'web2/eth0')) assert.not.ok(out(p).some(web1Asks), `${p} heard web1`);
});

T('the IPAM underlay: under1 reaches the router through the uplink enp5s0, and the router answers', () => {
  const u1 = ep('under1/eth0');
  assert.is(u1.ip, '192.168.10.90');
  assert.ok(out('host1/enp5s0').some((f) => isArp(f.data) && arpTarget(f.data) === '192.168.10.1'), 'the ARP leaves through the uplink');
  assert.ok(out('under2/eth0').some((f) => isArp(f.data) && arpTarget(f.data) === '192.168.10.1'), 'and floods to the other container');
  assert.ok(out('under1/eth0').some((f) => icmpType(f.data) === 0), 'the router\'s echo reply comes back');
  assert.ok(out('host1/enp5s0').some((f) => icmpType(f.data) === 8 && ip(f.data, 30) === '198.51.100.7'), 'the ping leaves to the router');
});

T('macvlan on eth0.10: frames leave the uplink tagged with VLAN 10 and reach the other host untagged', () => {
  const tagged = out('host1/eth0').filter((f) => ethType(f.data) === 0x8100);
  assert.ok(tagged.length >= 2);
  for (const f of tagged) assert.is(((f.data[14]! << 8) | f.data[15]!) & 0xfff, 10);
  const mv2 = ep('mv2/eth0');
  const atMv2 = out('mv2/eth0');
  assert.ok(atMv2.some((f) => isArp(f.data) && arpTarget(f.data) === mv2.ip && ethType(f.data) === 0x0806), 'mv1\'s ARP arrives untagged');
  assert.ok(atMv2.some((f) => icmpType(f.data) === 8), 'mv1\'s ping arrives');
  assert.ok(out('mv1/eth0').some((f) => icmpType(f.data) === 0), 'mv2\'s answer comes back');
  assert.is(res.counters['vlan-push'], 4);
  assert.is(res.counters['vlan-pop'], 4);
});

T('the overlay and its service: the VIP answers ARP; connections are spread over the tasks, across VXLAN, NATed', () => {
  const svc = topo.services.find((s) => s.name === 'web')!;
  const client = ep('client/eth0');
  assert.ok(out('client/eth0').some((f) => isArp(f.data) && arpOp(f.data) === 2 && ip(f.data, 28) === svc.vip), 'IPVS answers ARP for the VIP');
  assert.is(res.counters['ipvs-arp-reply'], 1);
  const vxlan = out('host2/eth0').filter((f) => f.data.length > 50 && ethType(f.data) === 0x0800 && f.data[23] === 17 && ((f.data[36]! << 8) | f.data[37]!) === 4789);
  assert.ok(vxlan.length >= 6, 'two connections cross to host1 in VXLAN');
  for (const f of vxlan) assert.is(hex(f.data, 46, 49), '001000', 'VNI 4096');
  // Each task receives exactly one connection addressed to itself (rr), NATed
  // from the VIP; what a task sees addressed to another task is a flood of a
  // station the bridge has not heard from yet, as in Linux.
  const tasks = ['web.1/eth0', 'web.2/eth0', 'web.3/eth0'];
  for (const t of tasks) {
    const me = ep(t);
    const mine = out(t).filter((f) => ethType(f.data) === 0x0800 && f.data[23] === 6 && ip(f.data, 30) === me.ip);
    assert.is(mine.length, 3, `${t}: SYN, data and FIN of one connection`);
    for (const f of mine) {
      assert.is(ip(f.data, 26), client.ip, 'from the client');
      assert.is((f.data[36]! << 8) | f.data[37]!, 80);
    }
    assert.ok(mine[0]!.data[47]! & 0x02, 'the first is the SYN');
    for (const f of out(t)) assert.is.not(ip(f.data, 30), svc.vip, 'nothing reaches a task still addressed to the VIP');
  }
  assert.is(res.counters['ipvs-new-conns'], 3);
});

T.run();
