// The isolation matrix (issue 9): a scenario with several networks of every
// driver (bridge, an attached bridge, an ICC-off bridge, macvlan on eth0.10
// and eth0.20, ipvlan l2 on eth1.30 and l3 on eth1.40, two overlays, none, and
// services) on two hosts whose uplinks share underlay segments. Frames are
// injected at every port, one replay each (src/replay, collect: true):
// broadcasts, unicast to other networks' containers, spoofed MACs and IPs of
// other networks, frames to other networks' gateways and VIPs, 802.1Q tags
// of every VLAN, double tags and 802.1ad, VXLAN with a wrong VNI, VXLAN
// inside VXLAN. Every frame that leaves must leave through a port of the
// injecting port's network (for an uplink: the network its tag or VNI
// names), and never reach a container its network keeps apart (ICC off,
// macvlan private); frames that belong to no network must not leave at all.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { build as F, isolationMatrix, Matrix, ISOLATION_SCENARIO } from './helpers/fuzz.ts';

const BC = 'ff:ff:ff:ff:ff:ff';

const Iso = suite('isolation: every driver, several networks and VLANs, two hosts');

Iso('no frame injected at any port leaves through a port of another network or VLAN', () => {
  // Warm-up (every container makes itself known), then every kind of frame at every port.
  const { m, ports, victims } = isolationMatrix();
  console.log(`  isolation matrix: ${ports} ports x ${m.kinds.size} frame kinds (${victims} networks' stations as targets) = ${m.injections} injections, ${m.outputs} frames out, ${m.leakCount} leaks`);
  assert.equal(m.leaks, [], `${m.leakCount} leaks`);
  assert.ok(m.injections > 2000, 'a matrix of thousands of injections');

  // The matrix is not vacuous: traffic does flow inside each network, across hosts too.
  const reach = (from: string, kind: string, to: string) => assert.ok(m.reached.has(`${from} ${kind} -> ${to}`), `${kind} from ${from} reached ${to}`);
  reach('a1/eth0', 'bcast', 'a2/eth0');
  reach('a3/eth0', 'bcast', 'h1/enp5s0');
  reach('m1/eth0', 'bcast', 'm4/eth0'); // macvlan eth0.10 across the underlay segment
  reach('i1/eth0', 'bcast', 'i3/eth0'); // ipvlan eth1.30 across the other segment
  reach('o1/eth0', 'udp-bcast', 'o4/eth0'); // overlay A over VXLAN (its ARP is answered by the proxy, never flooded)
  reach('o2/eth0', 'mcast6', 'o5/eth0'); // overlay B
  reach('o1/eth0', 'arp-same', 'o1/eth0'); // the ARP proxy answers for o4 on h2
  reach('h1/eth0', 'tag10', 'm1/eth0');
  reach('h1/eth1', 'tag30', 'i1/eth0');
  reach('h1/eth0', 'vxlan-vniA', 'o1/eth0');
  reach('h2/eth0', 'vxlan-vniB', 'o5/eth0');
});

Iso('the matrix sees a leak when there is one (a b3 port put into b1 by mistake, a VLAN 20 child on VLAN 10)', () => {
  const m = new Matrix(ISOLATION_SCENARIO);
  const a4 = m.c.ports.get('a4/eth0')!;
  m.c.bridges.addPort(a4, { bridge: m.c.bridgeIds.get('h1/b1')! });
  const a1 = m.endpoints.get('a1/eth0')!;
  m.inject('a1/eth0', 'bcast', F.arpReq(BC, a1.mac!, a1.ip!, a1.ip!));
  assert.ok(m.leakCount > 0, 'a1\'s broadcast reached a4 (b3) and was seen');
  assert.ok(m.leaks.some((l) => l.includes('left through a4/eth0 (h1/b3)')), m.leaks.join('\n'));
  const before = m.leakCount;
  // a frame tagged 10 at the uplink whose output carries tag 20
  const m1 = m.endpoints.get('m1/eth0')!;
  const out = m.uplinkLabel(m.uplinks.get('h1/eth0')!, F.arpReq(BC, m1.mac!, m1.ip!, m1.ip!, [20]));
  assert.is(out, 'mv20');
  assert.is(m.uplinkLabel(m.uplinks.get('h1/eth0')!, F.arpReq(BC, m1.mac!, m1.ip!, m1.ip!, [99])), '-', 'a VLAN nobody uses belongs to no network');
  assert.is(m.leakCount, before);
  // enable_icc=false undone on the data plane by mistake: a5's unicast to a4 is seen
  const b3 = m.c.bridgeIds.get('h1/b3')!;
  for (const p of ['a5/eth0', 'a4/eth0']) m.c.bridges.addPort(m.c.ports.get(p)!, { bridge: b3 });
  const a4e = m.endpoints.get('a4/eth0')!;
  const a5e = m.endpoints.get('a5/eth0')!;
  m.inject('a4/eth0', 'bcast', F.arpReq(BC, a4e.mac!, a4e.ip!, a4e.ip!));
  m.inject('a5/eth0', 'ucast-same', F.udp4(a4e.mac!, a5e.mac!, a5e.ip!, a4e.ip!, 1, 2));
  assert.ok(m.leaks.some((l) => l.includes('left through a4/eth0 (h1/b3, two containers the network keeps apart)')), m.leaks.join('\n'));
});

Iso.run();
