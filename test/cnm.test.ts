import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Controller, NetworkError, type ErrorCategory, type HostConfig, type Topology } from '../src/cnm/index.ts';
import { resolveParent } from '../src/drivers/index.ts';

function throwsNet(f: () => unknown, message: string, category?: ErrorCategory): NetworkError {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof NetworkError, `expected a NetworkError, got ${String(e)}`);
    assert.is((e as NetworkError).message, message);
    if (category) assert.is((e as NetworkError).category, category, `category of "${message}"`);
    return e as NetworkError;
  }
  assert.unreachable(`expected "${message}" to be thrown`);
  throw new Error('unreachable');
}

const TWO_HOSTS: HostConfig[] = [
  { name: 'h1', interfaces: [{ name: 'eth0', mac: '02:00:00:00:01:01', ip: '192.0.2.1/24' }, { name: 'enp5s0' }] },
  { name: 'h2', interfaces: [{ name: 'eth0', mac: '02:00:00:00:02:01', ip: '192.0.2.2/24' }] },
];

function ctl(hosts?: HostConfig[]): Controller {
  const c = new Controller(hosts ? { hosts } : {});
  c.createDefaultNetworks();
  return c;
}

function ep(t: Topology, port: string) {
  const e = t.endpoints.find((x) => x.port === port);
  assert.ok(e, `endpoint ${port}`);
  return e!;
}

// ---------------------------------------------------------------------------
const Net = suite('cnm: networks');

Net('the default bridge: docker0, 172.17.0.0/16, gateway 172.17.0.1, Docker options', () => {
  const t = ctl().topology();
  const br = t.networks.find((n) => n.name === 'bridge')!;
  assert.is(br.subnet, '172.17.0.0/16');
  assert.is(br.gateway, '172.17.0.1');
  assert.is(br.predefined, true);
  assert.is(br.instances[0]!.device, 'docker0');
  assert.is(br.options['com.docker.network.bridge.enable_icc'], 'true');
  assert.is(br.mtu, 1500);
  assert.ok(t.networks.some((n) => n.name === 'none' && n.driver === 'none' && n.subnet === null));
});

Net('user networks take the next default pools; the bridge is br- and 12 digits of the ID', () => {
  const c = ctl();
  const a = c.newNetwork('bridge', 'a');
  const b = c.newNetwork('bridge', 'b', { ipam: { subnet: '172.19.0.0/16' } });
  const d = c.newNetwork('bridge', 'd');
  assert.equal([a.subnet!.toString(), b.subnet!.toString(), d.subnet!.toString()], ['172.18.0.0/16', '172.19.0.0/16', '172.20.0.0/16']);
  assert.is(c.topology().networks.find((n) => n.name === 'a')!.instances[0]!.device, `br-${a.id.slice(0, 12)}`);
  assert.ok(/^[0-9a-f]{64}$/.test(a.id));
});

Net('dynamic pools avoid the hosts\' on-link routes', () => {
  const c = ctl([{ name: 'h', interfaces: [{ name: 'eth0', ip: '172.18.3.4/24' }] }]);
  assert.is(c.newNetwork('bridge', 'x').subnet!.toString(), '172.19.0.0/16');
});

Net('Docker\'s network errors, with their wording and category', () => {
  const c = ctl();
  c.newNetwork('bridge', 'n', { ipam: { subnet: '10.1.0.0/24' } });
  throwsNet(() => c.newNetwork('bridge', 'n'), 'network with name n already exists', 'conflict');
  throwsNet(() => c.newNetwork('bridge', 'bridge'), 'operation is not permitted on predefined bridge network ', 'forbidden');
  throwsNet(() => c.newNetwork('bridge', 'none'), 'operation is not permitted on predefined none network ', 'forbidden');
  throwsNet(() => c.newNetwork('framerelay', 'f'), 'could not find plugin framerelay in v1 plugin registry: plugin not found', 'not-found');
  throwsNet(
    () => c.newNetwork('bridge', 'o', { ipam: { subnet: '10.1.0.128/25' } }),
    'invalid pool request: Pool overlaps with other one on this address space',
    'forbidden',
  );
  throwsNet(
    () => c.newNetwork('bridge', 'g', { ipam: { subnet: '10.2.0.0/24', gateway: '10.3.0.1' } }),
    "invalid network config:\ninvalid gateway 10.3.0.1: parent subnet 10.2.0.0/24 doesn't contain this address",
    'invalid-parameter',
  );
  throwsNet(
    () => c.newNetwork('bridge', 'g', { ipam: { subnet: '10.2.0.0/24', gateway: '10.2.0.0' } }),
    'failed to allocate gateway (10.2.0.0): Address already in use',
    'internal',
  );
  throwsNet(
    () => c.newNetwork('bridge', 'g', { ipam: { subnet: '10.2.0.0/24', auxAddresses: { r: '10.2.0.1' } } }),
    'failed to allocate secondary ip address (r:10.2.0.1): Address already in use',
    'internal',
  );
  throwsNet(
    () => c.newNetwork('bridge', 'm', { options: { 'com.docker.network.driver.mtu': 'big' } }),
    'failed to parse com.docker.network.driver.mtu value: big (strconv.Atoi: parsing "big": invalid syntax)',
    'invalid-parameter',
  );
  throwsNet(
    () => c.newNetwork('bridge', 'i', { options: { 'com.docker.network.bridge.enable_icc': 'maybe' } }),
    'failed to parse com.docker.network.bridge.enable_icc value: maybe (strconv.ParseBool: parsing "maybe": invalid syntax)',
  );
  throwsNet(() => c.newNetwork('bridge', 'neg', { options: { 'com.docker.network.driver.mtu': '-1' } }), 'invalid MTU number: -1');
  // a failed create leaves nothing behind: the pool is free again
  assert.is(c.newNetwork('bridge', 'g', { ipam: { subnet: '10.2.0.0/24' } }).gateway, 0x0a020001);
});

Net('bridge driver conflicts: same bridge name, overlapping IPv4 behind an ip-range', () => {
  const c = ctl();
  const a = c.newNetwork('bridge', 'a', { options: { 'com.docker.network.bridge.name': 'br0' }, ipam: { subnet: '10.1.0.0/24', ipRange: '10.1.0.0/25' } });
  let msg = '';
  try {
    c.newNetwork('bridge', 'b', { options: { 'com.docker.network.bridge.name': 'br0' } });
  } catch (e) {
    msg = (e as Error).message;
  }
  const b = /^cannot create network ([0-9a-f]{64}) \(br0\): conflicts with network ([0-9a-f]{64}) \(br0\): networks have same bridge name$/.exec(msg);
  assert.ok(b, msg);
  assert.is(b![2], a.id);
  // same subnet, another ip-range: IPAM lets it through (moby#46756), the bridge driver does not
  try {
    c.newNetwork('bridge', 'c', { ipam: { subnet: '10.1.0.0/24', ipRange: '10.1.0.128/25' } });
    assert.unreachable('overlapping bridge accepted');
  } catch (e) {
    assert.match((e as Error).message, /conflicts with network [0-9a-f]{64} \(br0\): networks have overlapping IPv4$/);
  }
});

// ---------------------------------------------------------------------------
const Ep = suite('cnm: endpoints and sandboxes');

Ep('containers get the next free address, a seeded MAC and eth0, eth1 in join order', () => {
  const c = ctl();
  c.newNetwork('bridge', 'front', { ipam: { subnet: '10.10.0.0/24' } });
  c.newSandbox('c1');
  c.newSandbox('c2');
  c.connect('c1', 'bridge');
  c.connect('c2', 'bridge');
  c.connect('c1', 'front');
  const t = c.topology();
  assert.is(ep(t, 'c1/eth0').ip, '172.17.0.2');
  assert.is(ep(t, 'c2/eth0').ip, '172.17.0.3');
  assert.is(ep(t, 'c1/eth1').ip, '10.10.0.2');
  assert.is(ep(t, 'c1/eth1').network, 'front');
  assert.is(ep(t, 'c1/eth0').gateway, '172.17.0.1');
  assert.is(ep(t, 'c1/eth0').cidr, '172.17.0.2/16');
  const mac = ep(t, 'c1/eth0').mac!;
  assert.ok(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(mac));
  assert.is(parseInt(mac.slice(0, 2), 16) & 3, 2, 'locally administered unicast');
  assert.equal(t.sandboxes.find((s) => s.name === 'c1')!.ports, ['c1/eth0', 'c1/eth1']);
});

Ep('the same calls give the same topology (IDs, MACs, addresses)', () => {
  const build = () => {
    const c = ctl(TWO_HOSTS);
    c.newNetwork('bridge', 'b1');
    c.newNetwork('macvlan', 'mv', { options: { parent: 'eth0.10' }, ipam: { subnet: '192.168.100.0/24' } });
    c.newSandbox('xx', { host: 'h1' });
    c.connect('xx', 'b1');
    c.connect('xx', 'mv');
    return JSON.stringify(c.topology());
  };
  assert.is(build(), build());
});

Ep('static addresses: Docker\'s endpoint-settings errors', () => {
  const c = ctl();
  c.newNetwork('bridge', 'auto');
  c.newNetwork('bridge', 'user', { ipam: { subnet: '10.20.0.0/24', ipRange: '10.20.0.128/25' } });
  for (const n of ['a', 'b', 'c', 'd', 'e', 'f']) c.newSandbox(`c${n}`);
  throwsNet(
    () => c.connect('ca', 'bridge', { ip: '172.17.0.9' }),
    'invalid endpoint settings:\nuser specified IP address is supported on user defined networks only',
    'invalid-parameter',
  );
  throwsNet(
    () => c.connect('cb', 'auto', { ip: '172.18.0.9' }),
    'invalid endpoint settings:\nuser specified IP address is supported only when connecting to networks with user configured subnets',
  );
  throwsNet(() => c.connect('cc', 'user', { ip: '10.99.0.1' }), 'invalid endpoint settings:\nno configured subnet or ip-range contain the IP address 10.99.0.1');
  // a static address outside the ip-range but inside the subnet is fine
  assert.is(c.connect('cd', 'user', { ip: '10.20.0.9' }).cidr(), '10.20.0.9/24');
  throwsNet(() => c.connect('ce', 'user', { ip: '10.20.0.9' }), 'Address already in use', 'forbidden');
  // without --gateway, Docker takes the gateway from the ip-range: its first address
  assert.is(c.topology().networks.find((n) => n.name === 'user')!.gateway, '10.20.0.128');
  throwsNet(() => c.connect('ce', 'user', { ip: '10.20.0.128' }), 'Address already in use', 'forbidden');
  throwsNet(() => c.connect('ce', 'user', { mac: '02:42:zz:00:00:01' }), '02:42:zz:00:00:01 is not a valid mac address');
  // the failed attempts left no address behind: the first dynamic one follows the gateway
  assert.is(c.connect('cf', 'user').cidr(), '10.20.0.129/24');
});

Ep('a full network: "no available IPv4 addresses on this network\'s address pools"', () => {
  const c = ctl();
  const n = c.newNetwork('bridge', 'tiny', { ipam: { subnet: '10.30.0.0/30' } });
  c.newSandbox('t1');
  c.newSandbox('t2');
  c.connect('t1', 'tiny'); // .2 (.1 is the gateway)
  throwsNet(() => c.connect('t2', 'tiny'), `no available IPv4 addresses on this network's address pools: tiny (${n.id})`, 'unavailable');
});

Ep('none: only the loopback, and nothing else can be joined', () => {
  const c = ctl();
  c.newSandbox('iso');
  c.connect('iso', 'none');
  throwsNet(() => c.connect('iso', 'bridge'), 'container cannot be connected to multiple networks with one of the networks in private (none) mode', 'invalid-parameter');
  c.newSandbox('two');
  c.connect('two', 'bridge');
  throwsNet(() => c.connect('two', 'none'), 'container cannot be connected to multiple networks with one of the networks in private (none) mode');
  const t = c.topology();
  assert.equal(t.sandboxes.find((s) => s.name === 'iso')!, {
    name: 'iso',
    id: t.sandboxes.find((s) => s.name === 'iso')!.id,
    sandboxId: t.sandboxes.find((s) => s.name === 'iso')!.sandboxId,
    host: 'local',
    service: null,
    slot: null,
    networks: ['none'],
    ports: ['iso/lo'],
  });
  const lo = t.endpoints.filter((e) => e.container === 'iso');
  assert.is(lo.length, 1);
  assert.equal([lo[0]!.ifname, lo[0]!.driver, lo[0]!.ip, lo[0]!.mac], ['lo', 'none', null, null]);
});

Ep('container names: Docker\'s conflict and format errors; one endpoint per network', () => {
  const c = ctl();
  const sb = c.newSandbox('web');
  throwsNet(
    () => c.newSandbox('web'),
    `Conflict. The container name "/web" is already in use by container "${sb.containerId}". You have to remove (or rename) that container to be able to reuse that name.`,
    'conflict',
  );
  throwsNet(() => c.newSandbox('x'), 'Invalid container name (x), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed');
  c.connect('web', 'bridge');
  throwsNet(() => c.connect('web', 'bridge'), 'endpoint with name web already exists in network bridge', 'forbidden');
});

Ep('disconnect frees the address and the interface name', () => {
  const c = ctl();
  c.newNetwork('bridge', 'n2');
  c.newSandbox('a1');
  c.newSandbox('a2');
  c.connect('a1', 'bridge');
  c.connect('a1', 'n2');
  c.disconnect('a1', 'bridge');
  c.connect('a2', 'bridge');
  const t = c.topology();
  assert.is(ep(t, 'a2/eth0').ip, '172.17.0.2', 'freed address reused');
  c.connect('a1', 'bridge');
  assert.is(ep(c.topology(), 'a1/eth0').ip, '172.17.0.3', 'eth0 reused for the next join');
  assert.is(ep(c.topology(), 'a1/eth1').network, 'n2');
});

Ep('network rm: predefined and in-use networks are refused with Docker\'s wording', () => {
  const c = ctl();
  c.newNetwork('bridge', 'busy');
  c.newNetwork('bridge', 'idle');
  c.newSandbox('u1');
  const e = c.connect('u1', 'busy');
  throwsNet(() => c.removeNetwork('bridge'), 'bridge is a pre-defined network and cannot be removed', 'forbidden');
  throwsNet(
    () => c.removeNetwork('busy'),
    `error while removing network: network busy has active endpoints (name:"u1" id:"${e.id.slice(0, 12)}")`,
    'forbidden',
  );
  c.removeNetwork('idle');
  throwsNet(() => c.network('idle'), 'network idle not found', 'not-found');
  // its pool is free again
  assert.is(c.newNetwork('bridge', 'again').subnet!.toString(), '172.19.0.0/16');
});

// ---------------------------------------------------------------------------
const Drv = suite('cnm: macvlan, ipvlan, overlay');

Drv('parent eth0.10: VLAN 10 on eth0; Docker\'s parent errors', () => {
  const host = { name: 'h', interfaces: new Map([['eth0', { name: 'eth0', mac: '02:00:00:00:00:01', mtu: 1500, ip: null }]]) };
  assert.equal(resolveParent('eth0.10', host), { parent: 'eth0.10', iface: 'eth0', vlan: 10 });
  assert.equal(resolveParent('eth0', host), { parent: 'eth0', iface: 'eth0', vlan: 0 });
  const table: [string, string][] = [
    ['eth0.4095', 'vlan id must be between 1-4094, received: 4095'],
    ['eth0.0', 'vlan id must be between 1-4094, received: 0'],
    ['eth9', 'invalid subinterface vlan name eth9, example formatting is eth0.10'],
    ['eth0.x', 'unable to parse a valid vlan id from: x (ex. eth0.10 for vlan 10)'],
    ['eth0.1.2', 'required interface name format is: name.vlan_id, ex. eth0.10 for vlan 10, instead received eth0.1.2'],
    ['eth9.10', '-o parent interface was not found on the host: eth9'],
  ];
  for (const [parent, msg] of table) {
    const e = throwsNet(() => resolveParent(parent, host), msg, 'invalid-parameter');
    assert.is(e.field, 'options.parent');
  }
});

Drv('macvlan: per-host instances on the parent, modes, Docker\'s option errors', () => {
  const c = ctl(TWO_HOSTS);
  c.newNetwork('macvlan', 'v10', { options: { parent: 'eth0.10', macvlan_mode: 'private' }, ipam: { subnet: '192.168.100.0/24', gateway: '192.168.100.1' } });
  c.newSandbox('m1', { host: 'h1' });
  c.newSandbox('m2', { host: 'h2' });
  c.connect('m1', 'v10');
  c.connect('m2', 'v10');
  const t = c.topology();
  const n = t.networks.find((x) => x.name === 'v10')!;
  assert.equal(n.macvlan, { parent: 'eth0.10', mode: 'private' });
  assert.equal(
    n.instances.map((i) => [i.host, i.uplinks, i.vlan]),
    [
      ['h1', ['h1/eth0'], 10],
      ['h2', ['h2/eth0'], 10],
    ],
  );
  // each Docker host has its own IPAM for a local network: both get the first address
  assert.is(ep(t, 'm1/eth0').ip, '192.168.100.2');
  assert.is(ep(t, 'm2/eth0').ip, '192.168.100.2');
  assert.is.not(ep(t, 'm1/eth0').mac, ep(t, 'm2/eth0').mac);
  assert.is(ep(t, 'm1/eth0').vlan, 10);
  throwsNet(
    () => c.newNetwork('macvlan', 'bad', { options: { parent: 'eth0', macvlan_mode: 'turbo' } }),
    "requested macvlan mode 'turbo' is not valid, 'bridge' mode is the macvlan driver default",
  );
  throwsNet(() => c.newNetwork('macvlan', 'lo', { options: { parent: 'lo' } }), 'loopback interface is not a valid macvlan parent link');
  throwsNet(
    () => c.newNetwork('macvlan', 'v4095', { options: { parent: 'eth0.4095' }, ipam: { subnet: '192.168.101.0/24' } }),
    'vlan id must be between 1-4094, received: 4095 (host h1)',
  );
  throwsNet(
    () => c.newNetwork('macvlan', 'pt', { options: { parent: 'eth0.10', macvlan_mode: 'passthru' }, ipam: { subnet: '192.168.102.0/24' } }),
    `cannot use mode passthru, macvlan network ${c.network('v10').id} is already using parent interface eth0.10 (host h1)`,
  );
});

Drv('macvlan without parent is internal and has no gateway', () => {
  const c = ctl();
  const n = c.newNetwork('macvlan', 'dummy', { ipam: { subnet: '10.40.0.0/24' } });
  assert.is(n.internal, true);
  assert.is(n.gateway, null);
  c.newSandbox('d1');
  assert.is(c.connect('d1', 'dummy').cidr(), '10.40.0.1/24', 'the first address goes to the container');
});

Drv('ipvlan: the parent\'s MAC, l3 without gateway, one network per parent', () => {
  const c = ctl(TWO_HOSTS);
  const l2 = c.newNetwork('ipvlan', 'l2', { options: { parent: 'eth0' }, ipam: { subnet: '10.50.0.0/24' } });
  const l3 = c.newNetwork('ipvlan', 'l3', { options: { parent: 'eth0.30', ipvlan_mode: 'l3' }, ipam: { subnet: '10.51.0.0/24' } });
  assert.is(l2.gateway, 0x0a320001);
  assert.is(l3.gateway, null);
  c.newSandbox('i1', { host: 'h1' });
  assert.is(c.connect('i1', 'l2').mac, '02:00:00:00:01:01');
  throwsNet(
    () => c.newNetwork('ipvlan', 'again', { options: { parent: 'eth0' }, ipam: { subnet: '10.52.0.0/24' } }),
    `network di-${l2.id.slice(0, 12)} is already using parent interface eth0 (host h1)`,
  );
  throwsNet(() => c.newNetwork('ipvlan', 'm', { options: { parent: 'eth0.20', ipvlan_mode: 'l4' } }), "requested ipvlan mode 'l4' is not valid, 'l2' mode is the ipvlan driver default");
  throwsNet(() => c.newNetwork('ipvlan', 'f', { options: { parent: 'eth0.20', ipvlan_flag: 'loud' } }), "requested ipvlan flag 'loud' is not valid, 'bridge' is the ipvlan driver default");
  c.newSandbox('i2', { host: 'h1' });
  throwsNet(() => c.connect('i2', 'l2', { mac: '02:00:00:00:00:99' }), 'ipvlan interfaces do not support custom mac address assignment');
});

Drv('overlay: global pool 10.0.0.0/24, VNIs from 4096 in order, vxlanid_list, MTU 1450, 02:42 MACs', () => {
  const c = ctl(TWO_HOSTS);
  const o1 = c.newNetwork('overlay', 'o1', { attachable: true });
  const o2 = c.newNetwork('overlay', 'o2', { options: { 'com.docker.network.driver.overlay.vxlanid_list': '4097' } });
  const o3 = c.newNetwork('overlay', 'o3');
  const o4 = c.newNetwork('overlay', 'o4', { options: { 'com.docker.network.driver.mtu': '9000' } });
  assert.equal([o1, o2, o3, o4].map((n) => n.options['com.docker.network.driver.overlay.vxlanid_list']), ['4096', '4097', '4098', '4099']);
  assert.equal([o1, o2, o3].map((n) => n.subnet!.toString()), ['10.0.0.0/24', '10.0.1.0/24', '10.0.2.0/24']);
  assert.is(o1.config.mtu, 1450);
  assert.is(o4.config.mtu, 8950);
  throwsNet(
    () => c.newNetwork('overlay', 'dup', { ipam: { subnet: '10.9.0.0/24' }, options: { 'com.docker.network.driver.overlay.vxlanid_list': '4096' } }),
    'could not assign vxlan id 4096 to pool 10.9.0.0/24: requested bit is already allocated',
    'unavailable',
  );
  throwsNet(() => c.newNetwork('overlay', 'bad', { options: { 'com.docker.network.driver.overlay.vxlanid_list': 'abc' } }), 'invalid vxlan id value "abc" passed');
  c.newSandbox('att', { host: 'h2' });
  const e = c.connect('att', 'o1');
  assert.is(e.mac, '02:42:0a:00:00:02');
  c.newSandbox('nope', { host: 'h1' });
  throwsNet(
    () => c.connect('nope', 'o3'),
    'Could not attach to network o3: rpc error: code = PermissionDenied desc = network o3 not manually attachable',
    'forbidden',
  );
  const t = c.topology();
  assert.is(ep(t, 'att/eth0').vni, 4096);
  assert.is(ep(t, 'att/eth0').mtu, 1450);
  assert.equal(t.networks.find((n) => n.name === 'o1')!.instances.map((i) => i.host), ['h2'], 'overlay exists where it has endpoints');
});

Drv('services: VIP first (serial), then tasks round-robin on hosts; peers between VTEPs', () => {
  const c = ctl(TWO_HOSTS);
  c.newNetwork('overlay', 'ov', { ipam: { subnet: '10.0.9.0/24' }, peers: [{ vtep: '192.0.2.9', vtepMac: '02:00:00:00:09:01', mac: '02:42:0a:00:09:09', ip: '10.0.9.9' }] });
  c.createService({ name: 'nginx', network: 'ov', replicas: 3, ports: [{ port: 80, protocol: 'tcp' }], scheduler: 'mh', flags: ['mh-port'] });
  const t = c.topology();
  const s = t.services[0]!;
  assert.is(s.vip, '10.0.9.2');
  assert.equal(s.hosts, ['h1', 'h2']);
  const rs = s.virtualServices[0]!.realServers;
  assert.equal(rs.map((r) => [r.endpoint, r.host, r.ip, r.port, r.weight]), [
    ['nginx.1/eth0', 'h1', '10.0.9.3', 80, 1],
    ['nginx.2/eth0', 'h2', '10.0.9.4', 80, 1],
    ['nginx.3/eth0', 'h1', '10.0.9.5', 80, 1],
  ]);
  assert.equal(s.virtualServices[0]!.flags, ['mh-port']);
  const ov = t.networks.find((n) => n.name === 'ov')!;
  const i1 = ov.instances.find((i) => i.host === 'h1')!;
  assert.equal(i1.vtep, { ip: '192.0.2.1', mac: '02:00:00:00:01:01', port: 'h1/eth0' });
  assert.equal(i1.peers, [
    { ip: '10.0.9.4', mac: '02:42:0a:00:09:04', vtep: '192.0.2.2', vtepMac: '02:00:00:00:02:01', host: 'h2', uplink: 'h1/eth0' },
    { ip: '10.0.9.9', mac: '02:42:0a:00:09:09', vtep: '192.0.2.9', vtepMac: '02:00:00:00:09:01', host: null, uplink: 'h1/eth0' },
  ]);
  assert.equal(ov.instances.find((i) => i.host === 'h2')!.peers.map((p) => p.ip), ['10.0.9.3', '10.0.9.5', '10.0.9.9']);
  assert.equal(t.sandboxes.find((x) => x.name === 'nginx.2')!.service, 'nginx');
});

Drv('service errors: name conflict (swarm wording), flags that do not fit the scheduler, backends off the network', () => {
  const c = ctl();
  c.newNetwork('bridge', 'sn', { ipam: { subnet: '10.60.0.0/24' } });
  c.createService({ name: 'api', network: 'sn', ports: [{ port: 8080, protocol: 'tcp' }], vip: '10.60.0.200' });
  throwsNet(
    () => c.createService({ name: 'api', network: 'sn', ports: [{ port: 80, protocol: 'tcp' }] }),
    'name conflicts with an existing object: service api already exists',
    'conflict',
  );
  throwsNet(
    () => c.createService({ name: 'x', network: 'sn', ports: [{ port: 80, protocol: 'tcp' }], scheduler: 'rr', flags: ['sh-port'] }),
    'scheduler flag sh-port needs the sh scheduler, not rr',
  );
  throwsNet(() => c.createService({ name: 'y', network: 'sn', ports: [{ port: 80, protocol: 'tcp' }], vip: '10.60.0.200' }), 'Address already in use');
  throwsNet(() => c.createService({ name: 'z', network: 'nope', ports: [{ port: 80, protocol: 'tcp' }] }), 'network nope not found', 'not-found');
  c.newSandbox('off');
  const offEp = c.connect('off', 'bridge');
  throwsNet(() => c.service('api').addBackend(offEp), 'container off is not connected to network sn', 'forbidden');
});

const Ev = suite('cnm: change events (for a compiled data plane)');

Ev('joins, leaves, peers and backends are reported in order', () => {
  const c = ctl(TWO_HOSTS);
  const seen: string[] = [];
  const off = c.subscribe((ev) => seen.push(JSON.stringify(ev)));
  c.newNetwork('overlay', 'ov', { attachable: true, ipam: { subnet: '10.0.9.0/24' } });
  c.createService({ name: 's', network: 'ov', replicas: 1, ports: [{ port: 80, protocol: 'tcp' }] });
  c.newSandbox('extra', { host: 'h2' });
  const e = c.connect('extra', 'ov');
  c.service('s').addBackend(e, { weight: 3 });
  c.addPeer('ov', { vtep: '192.0.2.9', vtepMac: '02:00:00:00:09:01', mac: '02:42:0a:00:09:63', ip: '10.0.9.99' });
  c.removeSandbox('extra');
  off();
  c.newNetwork('bridge', 'quiet');
  assert.equal(seen.map((x) => JSON.parse(x)), [
    { type: 'network-create', network: 'ov' },
    { type: 'service-create', service: 's' },
    { type: 'endpoint-join', port: 's.1/eth0', network: 'ov', container: 's.1', host: 'h1' },
    { type: 'backend-add', service: 's', endpoint: 's.1/eth0' },
    { type: 'endpoint-join', port: 'extra/eth0', network: 'ov', container: 'extra', host: 'h2' },
    { type: 'backend-add', service: 's', endpoint: 'extra/eth0' },
    { type: 'peer-add', network: 'ov', ip: '10.0.9.99', mac: '02:42:0a:00:09:63', vtep: '192.0.2.9' },
    { type: 'backend-remove', service: 's', endpoint: 'extra/eth0' },
    { type: 'endpoint-leave', port: 'extra/eth0', network: 'ov', container: 'extra', host: 'h2' },
  ]);
  // the topology follows: the peer is there, the removed container is not
  const t = c.topology();
  assert.not.ok(t.endpoints.some((x) => x.container === 'extra'));
  assert.ok(t.networks.find((n) => n.name === 'ov')!.instances.find((i) => i.host === 'h2')!.peers.some((p) => p.ip === '10.0.9.99'));
  assert.equal(t.services[0]!.virtualServices[0]!.realServers.map((r) => r.endpoint), ['s.1/eth0']);
});

Net.run();
Ep.run();
Drv.run();
Ev.run();
