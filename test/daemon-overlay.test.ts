// netwasmd on an overlay network: two "hosts" (network namespaces joined by
// a veth pair as the underlay), each running its own netwasmd for its host of
// the scenario, containers on both; and a netwasm host talking VXLAN with a
// Linux `vxlan` device. The underlay ends carry no IP address on the netwasm
// side: the VXLAN encapsulation and decapsulation are netwasm's.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PortInfo } from '../src/daemon/daemon.ts';
import { hostTest, ifName, netnsName, NetnsSet } from './helpers/netns.ts';
import { bareEnd, container, Daemon, ping, tempDir, transfer } from './daemon-helpers.ts';

const VNI = 4242;
const H1 = { mac: '02:00:00:00:01:01', ip: '192.0.2.1' };
const H2 = { mac: '02:00:00:00:02:01', ip: '192.0.2.2' };
/** Docker's overlay MAC: 02:42 + the IPv4 address. */
const macOf = (ip: string) => ['02', '42', ...ip.split('.').map((x) => Number(x).toString(16).padStart(2, '0'))].join(':');

const Overlay = suite('netwasmd: overlay network across two hosts');

hostTest(Overlay, 'two hosts, one netwasmd each: ping and 12 MiB of TCP between containers across VXLAN; add-container on both at run time', async () => {
  const set = new NetnsSet();
  const dir = tempDir('netwasmd-ov-');
  const u1 = ifName('nwu');
  const u2 = ifName('nwu');
  const e1 = ifName('nwe');
  const e2 = ifName('nwe');
  const e3 = ifName('nwe');
  const file = join(dir, 'overlay.yaml');
  writeFileSync(file, `
default_bridge: false
hosts:
  - name: host1
    interfaces: { eth0: { mac: "${H1.mac}", ip: ${H1.ip}/24 } }
    bind: { host1/eth0: ${u1}, c1/eth0: ${e1} }
  - name: host2
    interfaces: { eth0: { mac: "${H2.mac}", ip: ${H2.ip}/24 } }
    bind: { host2/eth0: ${u2}, c2/eth0: ${e2} }
networks:
  - name: ov
    driver: overlay
    attachable: true
    subnet: 10.242.0.0/24
    options: { com.docker.network.driver.overlay.vxlanid_list: "${VNI}" }
containers:
  - name: c1
    host: host1
    networks: [{ ov: { ip: 10.242.0.11 } }]
  - name: c2
    host: host2
    networks: [{ ov: { ip: 10.242.0.12 } }]
`);
  const daemons: Daemon[] = [];
  try {
    const h1 = set.add(netnsName('nwh1'));
    const h2 = set.add(netnsName('nwh2'));
    const c1 = set.add(netnsName('nwc1'));
    const c2 = set.add(netnsName('nwc2'));
    const c3 = set.add(netnsName('nwc3'));
    set.addVethPair({ ns: h1, name: u1, mac: H1.mac }, { ns: h2, name: u2, mac: H2.mac });
    bareEnd(u1, h1);
    bareEnd(u2, h2);
    container(set, c1, e1, '10.242.0.11/24', { mac: macOf('10.242.0.11'), hostNs: h1 });
    container(set, c2, e2, '10.242.0.12/24', { mac: macOf('10.242.0.12'), hostNs: h2 });
    // Docker's overlay MTU; the kernel's default offloads stay on (TSO super-frames
    // from the containers are segmented around the VXLAN encapsulation).
    for (const c of [c1, c2]) set.exec(c, 'ip link set eth0 mtu 1450');
    daemons.push(await Daemon.start([file, '--host', 'host1'], { socket: join(dir, 'h1.sock'), ns: h1 }));
    daemons.push(await Daemon.start([file, '--host', 'host2'], { socket: join(dir, 'h2.sock'), ns: h2 }));
    const [d1, d2] = daemons as [Daemon, Daemon];

    const p1 = (await d1.ctl('ports')) as PortInfo[];
    assert.equal(p1.map((p) => [p.port, p.state]), [['host1/eth0', 'up'], ['c1/eth0', 'up']], 'host1 runs only its own ports');

    assert.is(await ping(c1, '10.242.0.12'), 3, 'c1 (host1) -> c2 (host2)');
    assert.is(await ping(c2, '10.242.0.11'), 3, 'c2 (host2) -> c1 (host1)');
    const t = await transfer(c1, c2, '10.242.0.12', 12).catch(async (e) => {
      for (const d of [d1, d2]) console.log(JSON.stringify(await d.ctl('counters')), JSON.stringify(await d.ctl('ports')));
      throw e;
    });
    assert.is(t.got, t.sent, 'c1 -> c2 across VXLAN: same bytes, same sha256');
    const back = await transfer(c2, c1, '10.242.0.11', 12);
    assert.is(back.got, back.sent, 'c2 -> c1');
    for (const d of [d1, d2]) {
      const c = ((await d.ctl('counters')) as { counters: Record<string, number> }).counters;
      assert.ok((c['vxlan-encap'] ?? 0) > 0 && (c['vxlan-decap'] ?? 0) > 0, `both directions through the VTEP: ${JSON.stringify(c)}`);
    }

    // A container started on host2 at run time; host1 learns of it as the
    // swarm would tell it (the model change on host1's daemon: a remote endpoint).
    const r = (await d2.ctl('add-container', { name: 'c3', networks: [{ network: 'ov' }], bind: { eth0: e3 } })) as { ports: PortInfo[] };
    const ip3 = r.ports[0]!.ip!;
    await d1.ctl('add-container', { name: 'c3', host: 'host2', networks: [{ network: 'ov', ip: ip3.split('/')[0] }] });
    container(set, c3, e3, ip3, { mac: r.ports[0]!.mac!, hostNs: h2 });
    set.exec(c3, 'ip link set eth0 mtu 1450');
    await d2.waitLog(new RegExp(`port c3/eth0 \\(id \\d+\\): interface ${e3} up`));
    assert.is(await ping(c1, ip3.split('/')[0]!), 3, 'c1 (host1) -> c3 (host2, added at run time)');
    const info = (await d1.ctl('info')) as { compiles: number };
    assert.is(info.compiles, 1, 'host1 applied the new peer in place');

    for (const d of daemons) assert.is(await d.stop(), 0);
  } finally {
    for (const d of daemons) d.kill();
    set.cleanup();
  }
});

const Kernel = suite('netwasmd: overlay with a Linux vxlan device as the peer');

hostTest(Kernel, 'a netwasm host and a kernel VTEP: ping and TCP both ways; add-peer/rm-peer at run time', async () => {
  const set = new NetnsSet();
  const dir = tempDir('netwasmd-kv-');
  const u1 = ifName('nwu');
  const u2 = ifName('nwu');
  const e1 = ifName('nwe');
  const kmac = '02:42:0a:f2:00:09';
  const file = join(dir, 'kernel.yaml');
  writeFileSync(file, `
default_bridge: false
hosts:
  - name: host1
    interfaces: { eth0: { mac: "${H1.mac}", ip: ${H1.ip}/24 } }
    bind: { eth0: ${u1}, c1/eth0: ${e1} }
networks:
  - name: ov
    driver: overlay
    attachable: true
    subnet: 10.242.0.0/24
    options: { com.docker.network.driver.overlay.vxlanid_list: "${VNI}" }
    peers:
      - { vtep: ${H2.ip}, vtep_mac: "${H2.mac}", mac: "${kmac}", ip: 10.242.0.9 }
containers:
  - name: c1
    networks: [{ ov: { ip: 10.242.0.11 } }]
`);
  let d: Daemon | undefined;
  try {
    const h1 = set.add(netnsName('nwh1'));
    const k = set.add(netnsName('nwk'));
    const c1 = set.add(netnsName('nwc1'));
    set.addVethPair({ ns: h1, name: u1, mac: H1.mac }, { ns: k, name: u2, mac: H2.mac });
    bareEnd(u1, h1);
    container(set, c1, e1, '10.242.0.11/24', { mac: macOf('10.242.0.11'), hostNs: h1 });
    set.exec(c1, 'ip link set eth0 mtu 1450');
    // The kernel side: an address on the underlay, a vxlan device with the peer's address and MAC.
    set.exec(k, [
      `sysctl -qw net.ipv6.conf.all.disable_ipv6=1`,
      `ip addr add ${H2.ip}/24 dev ${u2}`,
      `ip link set ${u2} up`,
      `ip neigh replace ${H1.ip} lladdr ${H1.mac} dev ${u2} nud permanent`,
      `ip link add vx0 address ${kmac} type vxlan id ${VNI} local ${H2.ip} dstport 4789 dev ${u2} nolearning`,
      `ip link set vx0 mtu 1450`,
      `ip addr add 10.242.0.9/24 dev vx0`,
      `ip link set vx0 up`,
      `bridge fdb append 00:00:00:00:00:00 dev vx0 dst ${H1.ip}`,
      `bridge fdb append ${macOf('10.242.0.11')} dev vx0 dst ${H1.ip}`,
    ].join(' && '));
    d = await Daemon.start([file], { socket: join(dir, 'h1.sock'), ns: h1 });

    assert.is(await ping(c1, '10.242.0.9'), 3, 'netwasm container -> kernel vxlan');
    assert.is(await ping(k, '10.242.0.11'), 3, 'kernel vxlan -> netwasm container');
    const t = await transfer(c1, k, '10.242.0.9', 12);
    assert.is(t.got, t.sent, 'container -> kernel: 12 MiB intact');
    const back = await transfer(k, c1, '10.242.0.11', 12);
    assert.is(back.got, back.sent, 'kernel -> container: 12 MiB intact');

    // The peer moves away (rm-peer): the ARP proxy forgets it, nothing is sent to it.
    await d.ctl('rm-peer', { network: 'ov', ip: '10.242.0.9' });
    set.exec(c1, 'ip neigh flush dev eth0');
    assert.is(await ping(c1, '10.242.0.9', 1), 0, 'no peer, no traffic');
    // ... and comes back (add-peer): the same address may be used again.
    await d.ctl('add-peer', { network: 'ov', vtep: H2.ip, vtep_mac: H2.mac, mac: kmac, ip: '10.242.0.9' });
    assert.is(await ping(c1, '10.242.0.9'), 3, 'the peer is back');
    assert.is(((await d.ctl('info')) as { compiles: number }).compiles, 1, 'peers changed in place');
    assert.is(await d.stop(), 0);
  } finally {
    d?.kill();
    set.cleanup();
  }
});

Overlay.run();
Kernel.run();
