// Scenario tables, one per driver (Katran-style): a description, a topology,
// the frames each port sends, the frames expected to leave each port (built
// by hand, independently of netwasm) and the counters expected.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { loadScenarioText } from '../src/scenario/load.ts';
import { compileTopology, vipMac } from '../src/compile/compile.ts';
import { replay } from '../src/replay/replay.ts';
import { compareFrames, formatDifference } from '../src/replay/expect.ts';
import type { Topology } from '../src/cnm/topology.ts';
import { ether, ipv4, icmpEcho, arpRequest, arpReply, tcp, ETH_ARP, ETH_IPV4, TCP_SYN } from '../src/frames/build.ts';

type Frames = Record<string, Uint8Array[]>;
interface Case {
  description: string;
  topology: string;
  /** What each port sends, in time order. */
  inputs(t: Topology): Array<[string, Uint8Array]>;
  expect(t: Topology): Frames;
  counters: Record<string, number>;
}

const BC = 'ff:ff:ff:ff:ff:ff';
const E = (t: Topology, port: string) => {
  const e = t.endpoints.find((x) => x.port === port);
  if (!e) throw new Error(`no endpoint ${port}`);
  return { ip: e.ip!, mac: e.mac! };
};
const ping = (a: { ip: string; mac: string }, b: { ip: string; mac: string }, seq = 1) =>
  ether(b.mac, a.mac, ETH_IPV4, ipv4(a.ip, b.ip, 1, icmpEcho(8, 7, seq)));
/** The frame with an 802.1Q tag (TPID 0x8100, PCP 0) inserted after the MACs. */
const tagged = (f: Uint8Array, vid: number) => {
  const o = new Uint8Array(f.length + 4);
  o.set(f.subarray(0, 12));
  o.set([0x81, 0x00, vid >> 8, vid & 0xff], 12);
  o.set(f.subarray(12), 16);
  return o;
};

const CASES: Case[] = [
  {
    description: 'none: a sandbox whose frames go nowhere',
    topology: 'containers:\n  - { name: iso, networks: [none] }\n  - { name: c1, networks: [bridge] }\n',
    inputs: (t) => [['iso/lo', ether(BC, '02:00:00:00:00:99', ETH_ARP, arpRequest('02:00:00:00:00:99', '10.0.0.9', E(t, 'c1/eth0').ip))]],
    expect: () => ({ 'c1/eth0': [] }),
    counters: { 'none-drop': 1, 'graph-tx': 0 },
  },
  {
    description: 'bridge (docker0): a broadcast floods to the other containers unchanged; a known unicast goes to its port only',
    topology: 'containers:\n  - { name: ca, networks: [bridge] }\n  - { name: cb, networks: [bridge] }\n  - { name: cc, networks: [bridge] }\n',
    inputs: (t) => {
      const a = E(t, 'ca/eth0'), b = E(t, 'cb/eth0');
      return [
        ['ca/eth0', ether(BC, a.mac, ETH_ARP, arpRequest(a.mac, a.ip, b.ip))],
        ['cb/eth0', ether(a.mac, b.mac, ETH_ARP, arpReply(b.mac, b.ip, a.mac, a.ip))],
        ['ca/eth0', ping(a, b)],
      ];
    },
    expect: (t) => {
      const a = E(t, 'ca/eth0'), b = E(t, 'cb/eth0');
      const req = ether(BC, a.mac, ETH_ARP, arpRequest(a.mac, a.ip, b.ip));
      return { 'cb/eth0': [req, ping(a, b)], 'cc/eth0': [req], 'ca/eth0': [ether(a.mac, b.mac, ETH_ARP, arpReply(b.mac, b.ip, a.mac, a.ip))] };
    },
    counters: { 'bridge-flood': 1, 'bridge-forward': 2, 'bridge-learned': 2 },
  },
  {
    description: 'bridge with enable_icc=false: containers never reach each other; the gateway still answers',
    topology: 'networks:\n  - { name: noicc, driver: bridge, subnet: 10.50.0.0/24, options: { com.docker.network.bridge.enable_icc: "false" } }\n' +
      'containers:\n  - { name: ca, networks: [noicc] }\n  - { name: cb, networks: [noicc] }\n',
    inputs: (t) => {
      const a = E(t, 'ca/eth0'), b = E(t, 'cb/eth0');
      return [['cb/eth0', ping(b, a)], ['ca/eth0', ether(BC, a.mac, ETH_ARP, arpRequest(a.mac, a.ip, '10.50.0.1'))], ['ca/eth0', ping(a, b)]];
    },
    expect: (t) => {
      const a = E(t, 'ca/eth0');
      const gw = t.networks.find((n) => n.name === 'noicc')!.instances[0]!.deviceMac!;
      // Only the gateway's answer, in place of the request (same length).
      return { 'ca/eth0': [ether(a.mac, gw, ETH_ARP, arpReply(gw, '10.50.0.1', a.mac, a.ip))], 'cb/eth0': [] };
    },
    counters: { 'gateway-arp-reply': 1, 'bridge-isolated-drop': 1 },
  },
  {
    description: 'macvlan bridge mode on eth0.10: child to child directly; a broadcast reaches the other child and leaves the uplink tagged VLAN 10',
    topology: 'hosts:\n  - { name: h, interfaces: { eth0: { mac: "02:00:00:00:0e:01" } } }\n' +
      'networks:\n  - { name: v10, driver: macvlan, subnet: 192.168.10.0/24, options: { parent: eth0.10 } }\n' +
      'containers:\n  - { name: m1, networks: [v10] }\n  - { name: m2, networks: [v10] }\n',
    inputs: (t) => {
      const m1 = E(t, 'm1/eth0'), m2 = E(t, 'm2/eth0');
      return [['m1/eth0', ether(BC, m1.mac, ETH_ARP, arpRequest(m1.mac, m1.ip, m2.ip))], ['m1/eth0', ping(m1, m2)]];
    },
    expect: (t) => {
      const m1 = E(t, 'm1/eth0'), m2 = E(t, 'm2/eth0');
      const req = ether(BC, m1.mac, ETH_ARP, arpRequest(m1.mac, m1.ip, m2.ip));
      return { 'm2/eth0': [req, ping(m1, m2)], 'h/eth0': [tagged(req, 10)] };
    },
    counters: { 'vlan-push': 1 },
  },
  {
    description: 'macvlan: tagged frames from the uplink reach the child by MAC, untagged; other VLANs do not',
    topology: 'hosts:\n  - { name: h, interfaces: { eth0: { mac: "02:00:00:00:0e:01" } } }\n' +
      'networks:\n  - { name: v10, driver: macvlan, subnet: 192.168.10.0/24, options: { parent: eth0.10 } }\n' +
      'containers:\n  - { name: m1, networks: [v10] }\n',
    inputs: (t) => {
      const m1 = E(t, 'm1/eth0');
      const r = { ip: '192.168.10.200', mac: '02:00:00:00:0f:01' };
      return [['h/eth0', tagged(ping(r, m1), 10)], ['h/eth0', tagged(ping(r, m1, 2), 20)], ['h/eth0', ping(r, m1, 3)]];
    },
    expect: (t) => ({ 'm1/eth0': [ping({ ip: '192.168.10.200', mac: '02:00:00:00:0f:01' }, E(t, 'm1/eth0'))] }),
    counters: { 'vlan-pop': 1, 'macvlan-to-child': 1 },
  },
  {
    description: 'ipvlan l2: children share the parent\'s MAC and are found by IP',
    topology: 'hosts:\n  - { name: h, interfaces: { eth0: { mac: "02:00:00:00:0e:01" } } }\n' +
      'networks:\n  - { name: ipv, driver: ipvlan, subnet: 192.168.20.0/24, options: { parent: eth0, ipvlan_mode: l2 } }\n' +
      'containers:\n  - { name: i1, networks: [ipv] }\n  - { name: i2, networks: [ipv] }\n',
    inputs: (t) => {
      const r = { ip: '192.168.20.200', mac: '02:00:00:00:0f:01' };
      return [['h/eth0', ping(r, { ip: E(t, 'i2/eth0').ip, mac: '02:00:00:00:0e:01' })]];
    },
    expect: (t) => ({ 'i2/eth0': [ping({ ip: '192.168.20.200', mac: '02:00:00:00:0f:01' }, { ip: E(t, 'i2/eth0').ip, mac: '02:00:00:00:0e:01' })], 'i1/eth0': [] }),
    counters: { 'ipvlan-to-child': 1 },
  },
  {
    description: 'overlay: a frame between hosts crosses in VXLAN and arrives unchanged; the ARP proxy answers for a remote peer',
    topology: 'hosts:\n  - { name: h1, interfaces: { eth0: { mac: "02:00:00:00:01:01", ip: 192.0.2.1/24 } } }\n' +
      '  - { name: h2, interfaces: { eth0: { mac: "02:00:00:00:02:01", ip: 192.0.2.2/24 } } }\n' +
      'networks:\n  - { name: ov, driver: overlay, subnet: 10.0.5.0/24, attachable: true }\n' +
      'containers:\n  - { name: ca, host: h1, networks: [ov] }\n  - { name: cb, host: h2, networks: [ov] }\n',
    inputs: (t) => {
      const a = E(t, 'ca/eth0'), b = E(t, 'cb/eth0');
      return [['ca/eth0', ether(BC, a.mac, ETH_ARP, arpRequest(a.mac, a.ip, b.ip))], ['ca/eth0', ping(a, b)]];
    },
    expect: (t) => {
      const a = E(t, 'ca/eth0'), b = E(t, 'cb/eth0');
      // The proxy's reply is the bare 42-byte ARP, as Linux's vxlan arp_reduce sends it.
      return { 'ca/eth0': [ether(a.mac, b.mac, ETH_ARP, arpReply(b.mac, b.ip, a.mac, a.ip)).subarray(0, 42)], 'cb/eth0': [ping(a, b)] };
    },
    counters: { 'vxlan-encap': 1, 'vxlan-decap': 1, 'arp-proxy-reply': 1 },
  },
  {
    description: 'service (IPVS NAT): a SYN to the VIP reaches the real server with its address, checksums updated',
    topology: 'networks:\n  - { name: app, driver: bridge, subnet: 10.60.0.0/24 }\n' +
      'containers:\n  - { name: web, networks: [app] }\n  - { name: cli, networks: [app] }\n' +
      'services:\n  - { name: api, network: app, vip: 10.60.0.100, ports: [8080/tcp], scheduler: rr, backends: [{ container: web, port: 80 }] }\n',
    inputs: (t) => {
      const c = E(t, 'cli/eth0');
      return [['cli/eth0', ether(vipMac('10.60.0.100'), c.mac, ETH_IPV4, ipv4(c.ip, '10.60.0.100', 6, tcp(c.ip, '10.60.0.100', 43210, 8080, 1, 0, TCP_SYN)))]];
    },
    expect: (t) => {
      const c = E(t, 'cli/eth0'), w = E(t, 'web/eth0');
      return { 'web/eth0': [ether(w.mac, c.mac, ETH_IPV4, ipv4(c.ip, w.ip, 6, tcp(c.ip, w.ip, 43210, 80, 1, 0, TCP_SYN)))] };
    },
    counters: { 'ipvs-new-conns': 1 },
  },
];

const S = suite('scenario tables, one per driver');

for (const c of CASES) {
  S(c.description, () => {
    const sc = loadScenarioText(c.topology, 'case.yaml');
    const compiled = compileTopology(sc.topology);
    // One input per port; timestamps keep the listed order across ports.
    const byPort = new Map<string, Array<{ data: Uint8Array; tsSec: number; tsNsec: number }>>();
    c.inputs(sc.topology).forEach(([port, data], i) => {
      (byPort.get(port) ?? byPort.set(port, []).get(port)!).push({ data, tsSec: 1000, tsNsec: (i + 1) * 1000 });
    });
    const res = replay(compiled.dp, [...byPort].map(([port, frames]) => ({ port, frames })), {
      ports: compiled.ports, segments: compiled.segments, collect: true,
    });
    for (const [port, want] of Object.entries(c.expect(sc.topology))) {
      const d = compareFrames(port, want, (res.output[port] ?? []).map((f) => f.data));
      if (d) assert.unreachable(formatDifference(d));
    }
    for (const [name, want] of Object.entries(c.counters)) assert.is(res.counters[name] ?? 0, want, name);
  });
}

S.run();
