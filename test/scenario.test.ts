import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { resolvePortName } from '../src/cnm/topology.ts';
import { isScenarioError, loadScenario, loadScenarioText, ScenarioError } from '../src/scenario/index.ts';

const FIX = resolve(import.meta.dirname, '../fixtures/scenarios');

/** Loads `text` as `scenario.yaml`, expecting a ScenarioError with exactly `message`. */
function fails(text: string, message: string): ScenarioError {
  try {
    loadScenarioText(text, 'scenario.yaml');
  } catch (e) {
    assert.ok(isScenarioError(e), `expected a ScenarioError, got ${String(e)}`);
    assert.is((e as ScenarioError).message, message);
    assert.is((e as ScenarioError).exitCode, 2);
    return e as ScenarioError;
  }
  assert.unreachable(`expected "${message}"`);
  throw new Error('unreachable');
}

// ---------------------------------------------------------------------------
const Talk = suite('scenario: the talk topology (fixtures/scenarios/talk.yaml)');

const talk = loadScenario(join(FIX, 'talk.yaml'));
const t = talk.topology;
const ep = (port: string) => {
  const e = t.endpoints.find((x) => x.port === port);
  assert.ok(e, port);
  return e!;
};

Talk('none: a sandbox with its loopback only', () => {
  const iso = t.sandboxes.find((s) => s.name === 'isolated')!;
  assert.equal(iso.networks, ['none']);
  assert.equal(iso.ports, ['isolated/lo']);
});

Talk('docker0 with two containers', () => {
  assert.equal([ep('c1/eth0').ip, ep('c2/eth0').ip], ['172.17.0.2', '172.17.0.3']);
  const br = t.networks.find((n) => n.name === 'bridge')!;
  assert.equal(br.instances.find((i) => i.host === 'host1')!.endpoints, ['c1/eth0', 'c2/eth0']);
  assert.is(br.instances.find((i) => i.host === 'host1')!.device, 'docker0');
});

Talk('a custom bridge named by its option', () => {
  const n = t.networks.find((x) => x.name === 'mybridge')!;
  assert.is(n.subnet, '172.18.0.0/16');
  assert.is(n.instances[0]!.device, 'mybridge');
  assert.equal([ep('web1/eth0').ip, ep('web2/eth0').ip], ['172.18.0.2', '172.18.0.3']);
});

Talk('the IPAM underlay bridge: uplink, ip-range, aux default gateway', () => {
  const n = t.networks.find((x) => x.name === 'myunderbr')!;
  assert.equal([n.subnet, n.gateway, n.ipRange], ['192.168.10.0/24', '192.168.10.254', '192.168.10.128/25']);
  assert.equal(n.auxAddresses, { DefaultGatewayIPv4: '192.168.10.1' });
  assert.equal(n.instances.find((i) => i.host === 'host1')!.uplinks, ['host1/enp5s0']);
  assert.is(t.hosts[0]!.uplinks.find((u) => u.name === 'enp5s0')!.bridge, 'myunderbr');
  assert.equal([ep('under1/eth0').ip, ep('under2/eth0').ip], ['192.168.10.90', '192.168.10.128']);
  assert.is(ep('under2/eth0').gateway, '192.168.10.1', 'containers route through the aux DefaultGatewayIPv4');
});

Talk('macvlan on eth0.10: VLAN 10 tagged on each host\'s eth0', () => {
  const n = t.networks.find((x) => x.name === 'vlan10')!;
  assert.equal(n.instances.map((i) => [i.host, i.uplinks[0], i.vlan]), [
    ['host1', 'host1/eth0', 10],
    ['host2', 'host2/eth0', 10],
  ]);
  assert.equal([ep('mv1/eth0').ip, ep('mv1/eth0').host, ep('mv2/eth0').ip, ep('mv2/eth0').host], ['192.168.100.10', 'host1', '192.168.100.20', 'host2']);
  assert.is(ep('mv1/eth0').vlan, 10);
});

Talk('an overlay between two hosts with a three-replica service', () => {
  const n = t.networks.find((x) => x.name === 'myoverlay')!;
  assert.equal([n.vni, n.mtu, n.scope], [4096, 1450, 'global']);
  const svc = t.services.find((s) => s.name === 'web')!;
  // The attachable overlay's container client takes .2 (containers first), then
  // the service's VIP, then its tasks.
  assert.is(ep('client/eth0').ip, '10.0.9.2');
  assert.is(svc.vip, '10.0.9.3');
  assert.equal(svc.virtualServices[0]!.realServers.map((r) => `${r.endpoint}@${r.host}=${r.ip}`), [
    'web.1/eth0@host1=10.0.9.4',
    'web.2/eth0@host2=10.0.9.5',
    'web.3/eth0@host1=10.0.9.6',
  ]);
  assert.is(ep('web.2/eth0').mac, '02:42:0a:00:09:05');
  const h2 = n.instances.find((i) => i.host === 'host2')!;
  assert.equal(h2.vtep, { ip: '192.0.2.2', mac: '02:00:00:00:02:01', port: 'host2/eth0' });
  assert.equal(h2.peers.map((p) => `${p.ip}@${p.vtep}/${p.vtepMac}`), ['10.0.9.4@192.0.2.1/02:00:00:00:01:01', '10.0.9.6@192.0.2.1/02:00:00:00:01:01']);
});

Talk('resolving the same file twice gives the same topology', () => {
  assert.is(JSON.stringify(loadScenario(join(FIX, 'talk.yaml')).topology), JSON.stringify(t));
});

// ---------------------------------------------------------------------------
const Files = suite('scenario: files');

Files('the SCENARIO.md example resolves; replay paths are relative to the file', () => {
  const s = loadScenario(join(FIX, 'scenario-md.yaml'));
  assert.equal(s.replay!.inputs, [
    { port: 'c1/eth0', file: join(FIX, 'captures/c1.pcap') },
    { port: 'host1/eth0', file: join(FIX, 'captures/underlay.pcapng') },
  ]);
  assert.equal(s.replay!.expect!.counters, { 'bridge-reflect-drop': 0 });
  const api = s.topology.services.find((x) => x.name === 'api')!;
  assert.equal(api.virtualServices[0]!.realServers.map((r) => [r.container, r.port, r.weight]), [
    ['web', 8080, 2],
    ['web2', 8081, 1],
  ]);
  assert.is(api.vip, '192.168.10.200');
  const web = s.topology.endpoints.find((e) => e.port === 'web/eth0')!;
  assert.equal([web.ip, web.mac], ['192.168.10.90', '02:42:c0:a8:0a:5a']);
});

Files('JSON scenarios use the same keys', () => {
  const s = loadScenario(join(FIX, 'overlay.json'));
  assert.not.ok(s.topology.networks.some((n) => n.name === 'bridge'), 'default_bridge: false');
  const ov2 = s.topology.networks.find((n) => n.name === 'ov2')!;
  assert.is(ov2.vni, 5000);
  const ov1 = s.topology.networks.find((n) => n.name === 'ov1')!;
  assert.equal([ov1.vni, ov1.subnet], [4096, '10.0.0.0/24']);
  const cache = s.topology.services.find((x) => x.name === 'cache')!;
  assert.equal(cache.virtualServices.map((v) => `${v.port}/${v.protocol}`), ['6379/tcp', '6379/udp']);
  assert.is(s.topology.services.find((x) => x.name === 'db')!.scheduler, 'maglev');
});

Files('one host without hosts: its interfaces come from parents and attach lists; port names', () => {
  const s = loadScenario(join(FIX, 'single-host.yaml'));
  const t1 = s.topology;
  assert.equal(t1.hosts.map((h) => [h.name, h.uplinks.map((u) => u.port)]), [['local', ['local/eth0']]]);
  assert.is(resolvePortName(t1, 'eth0'), 'local/eth0');
  assert.is(resolvePortName(t1, 'proxy/eth1'), 'proxy/eth1');
  assert.is(resolvePortName(t1, 'proxy/eth2'), null);
  assert.equal(t1.endpoints.find((e) => e.port === 'legacy/eth0')!.network, 'bridge', 'no networks: the default bridge');
  assert.is(t1.networks.find((n) => n.name === 'back')!.internal, true);
});

Files('without the default bridge a container with no networks is on none', () => {
  const s = loadScenarioText('default_bridge: false\ncontainers:\n  - name: lonely\n', 'x.yaml');
  assert.not.ok(s.topology.networks.some((n) => n.name === 'bridge'));
  assert.equal(s.topology.sandboxes[0]!.networks, ['none']);
  // the first user bridge then takes 172.17.0.0/16
  const s2 = loadScenarioText('default_bridge: false\nnetworks: [{ name: first }]\n', 'x.yaml');
  assert.is(s2.topology.networks.find((n) => n.name === 'first')!.subnet, '172.17.0.0/16');
});

Files('the file is read relative to the caller; a missing file is a scenario error', () => {
  const dir = mkdtempSync(join(tmpdir(), 'netwasm-scen-'));
  try {
    writeFileSync(join(dir, 's.yaml'), 'networks:\n  - name: n1\n    subnet: 10.7.0.0/24\n');
    assert.is(loadScenario(join(dir, 's.yaml')).topology.networks.find((n) => n.name === 'n1')!.gateway, '10.7.0.1');
    try {
      loadScenario(join(dir, 'missing.yaml'));
      assert.unreachable('missing file loaded');
    } catch (e) {
      assert.ok(isScenarioError(e));
      assert.is((e as Error).message, `${join(dir, 'missing.yaml')}: open ${join(dir, 'missing.yaml')}: no such file or directory`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// ---------------------------------------------------------------------------
const Errs = suite('scenario: errors name the file and the key at fault');

Errs('IPAM: aux address outside the subnet (the docker CLI check)', () => {
  const e = fails(
    `networks:
  - name: a
  - name: b
  - name: c
    subnet: 10.8.0.0/24
    aux_addresses: { DefaultGatewayIPv4: 10.9.0.1 }
`,
    'scenario.yaml: networks[2].aux_addresses.DefaultGatewayIPv4: no matching subnet for aux-address 10.9.0.1',
  );
  assert.is(e.path, 'networks[2].aux_addresses.DefaultGatewayIPv4');
  assert.is(e.detail, 'no matching subnet for aux-address 10.9.0.1');
  assert.is(e.category, 'invalid-parameter');
});

Errs('IPAM: overlapping subnets, address in use, full pool, gateway outside', () => {
  fails(
    'networks:\n  - { name: a, subnet: 10.1.0.0/16 }\n  - { name: b, subnet: 10.1.2.0/24 }\n',
    'scenario.yaml: networks[1].subnet: invalid pool request: Pool overlaps with other one on this address space',
  );
  fails(
    'networks: [{ name: a, subnet: 10.1.0.0/24 }]\ncontainers:\n  - { name: c1, networks: [{ a: { ip: 10.1.0.5 } }] }\n  - { name: c2, networks: [bridge, { a: { ip: 10.1.0.5 } }] }\n',
    'scenario.yaml: containers[1].networks[1].ip: Address already in use',
  );
  const e = fails(
    'networks: [{ name: a, subnet: 10.1.0.0/30 }]\ncontainers:\n  - { name: c1, networks: [a] }\n  - { name: c2, networks: [a] }\n',
    `scenario.yaml: containers[1].networks[0]: no available IPv4 addresses on this network's address pools: a (${loadScenarioText('networks: [{ name: a }]', 'x').topology.networks.find((n) => n.name === 'a')!.id})`,
  );
  assert.is(e.category, 'unavailable');
  fails(
    'networks: [{ name: a, subnet: 10.1.0.0/24, gateway: 10.2.0.1 }]\n',
    'scenario.yaml: networks[0].gateway: no matching subnet for gateway 10.2.0.1',
  );
  fails(
    'networks: [{ name: a, subnet: 10.1.0.1/24 }]\n',
    'scenario.yaml: networks[0].subnet: invalid network config:\ninvalid subnet 10.1.0.1/24: it should be 10.1.0.0/24',
  );
});

Errs('containers: unknown network, static IP on the default bridge, bad MAC, unknown host', () => {
  fails('containers: [{ name: c1, networks: [nosuch] }]\n', 'scenario.yaml: containers[0].networks[0]: network nosuch not found');
  fails(
    'containers: [{ name: c1, networks: [{ bridge: { ip: 172.17.0.9 } }] }]\n',
    'scenario.yaml: containers[0].networks[0].ip: invalid endpoint settings:\nuser specified IP address is supported on user defined networks only',
  );
  fails('containers: [{ name: c1, networks: [{ bridge: { mac: "02:42" } }] }]\n', 'scenario.yaml: containers[0].networks[0].mac: 02:42 is not a valid mac address');
  fails('containers: [{ name: c1, host: elsewhere }]\n', 'scenario.yaml: containers[0].host: host elsewhere not found');
  fails(
    'containers:\n  - { name: c1 }\n  - { name: c1 }\n',
    `scenario.yaml: containers[1].name: Conflict. The container name "/c1" is already in use by container "${loadScenarioText('containers: [{ name: c1 }]', 'x').topology.sandboxes[0]!.id}". You have to remove (or rename) that container to be able to reuse that name.`,
  );
  fails(
    'containers: [{ name: c1, networks: [none, bridge] }]\n',
    'scenario.yaml: containers[0].networks[1]: container cannot be connected to multiple networks with one of the networks in private (none) mode',
  );
});

Errs('drivers: bad parent, duplicate network, unknown driver, overlay not attachable', () => {
  fails(
    'networks: [{ name: v, driver: macvlan, options: { parent: eth0.5000 } }]\n',
    'scenario.yaml: networks[0].options.parent: vlan id must be between 1-4094, received: 5000',
  );
  fails(
    'hosts: [{ name: h, interfaces: { eth0: {} } }]\nnetworks: [{ name: v, driver: ipvlan, options: { parent: eth1 } }]\n',
    'scenario.yaml: networks[0].options.parent: invalid subinterface vlan name eth1, example formatting is eth0.10',
  );
  fails('networks: [{ name: a }, { name: a }]\n', 'scenario.yaml: networks[1].name: network with name a already exists');
  fails('networks: [{ name: a, driver: token-ring }]\n', 'scenario.yaml: networks[0].driver: could not find plugin token-ring in v1 plugin registry: plugin not found');
  fails(
    'networks: [{ name: o, driver: overlay }]\ncontainers: [{ name: c1, networks: [o] }]\n',
    'scenario.yaml: containers[0].networks[0]: Could not attach to network o: rpc error: code = PermissionDenied desc = network o not manually attachable',
  );
  fails('networks: [{ name: bridge }]\n', 'scenario.yaml: networks[0].name: operation is not permitted on predefined bridge network ');
});

Errs('hosts, attach and overlay peers', () => {
  fails("hosts: [{ name: h, interfaces: { eth0: { mac: 'zz' } } }]\n", 'scenario.yaml: hosts[0].interfaces.eth0.mac: zz is not a valid mac address');
  fails(
    'hosts: [{ name: h1, interfaces: { eth0: {} } }, { name: h2, interfaces: { eth0: {} } }]\nnetworks: [{ name: b, attach: [eth0] }]\n',
    'scenario.yaml: networks[0].attach[0]: uplink eth0: name the host as HOST/IFACE when the scenario has several hosts',
  );
  fails(
    'hosts: [{ name: h1, interfaces: { eth0: { ip: 192.0.2.1/24 } } }]\nnetworks:\n  - name: o\n    driver: overlay\n    attachable: true\n    peers: [{ vtep: 203.0.113.9, vtep_mac: "02:00:00:00:09:01", mac: "02:42:0a:00:00:09", ip: 10.0.0.9 }]\ncontainers: [{ name: c1, networks: [o] }]\n',
    'scenario.yaml: networks[0].peers[0].vtep: overlay network o: host h1 has no uplink in the subnet of VTEP 203.0.113.9',
  );
  fails(
    'hosts: [{ name: h1, interfaces: { eth0: { ip: 192.0.2.1/24 } } }, { name: h2, interfaces: { eth0: {} } }]\nservices: [{ name: s, network: o, replicas: 2, ports: [80] }]\nnetworks: [{ name: o, driver: overlay }]\n',
    'scenario.yaml: hosts[1].advertise_addr: overlay network o: host h2 has no interface with an ip to use as its VTEP (set advertise_addr)',
  );
});

Errs('services: flags, backends, ports', () => {
  const base = 'networks: [{ name: n, subnet: 10.3.0.0/24 }]\ncontainers: [{ name: web, networks: [n] }, { name: other }]\n';
  fails(`${base}services: [{ name: s, network: n, ports: [80], flags: [mh-port] }]\n`, 'scenario.yaml: services[0].flags[0]: scheduler flag mh-port needs the mh or maglev scheduler, not rr');
  fails(
    `${base}services: [{ name: s, network: n, ports: [80], backends: [{ container: web }, { container: other }] }]\n`,
    'scenario.yaml: services[0].backends[1].container: container other is not connected to network n',
  );
  fails(`${base}services: [{ name: s, network: n, ports: [80], backends: [{ container: ghost }] }]\n`, 'scenario.yaml: services[0].backends[0].container: No such container: ghost');
  fails(`${base}services: [{ name: s, network: n, ports: [80/icmp] }]\n`, 'scenario.yaml: services[0].ports[0]: invalid port 80/icmp: expected PORT[/tcp|udp|sctp]');
  fails(`${base}services: [{ name: s, network: n, ports: [80], vip: 10.4.0.1 }]\n`, 'scenario.yaml: services[0].vip: requested address is out of range');
});

Errs('shape: unknown keys, wrong types, YAML syntax, replay ports', () => {
  fails('networks: [{ name: a, subnett: 10.0.0.0/24 }]\n', 'scenario.yaml: networks[0].subnett: unknown key (expected one of: name, driver, subnet, gateway, ip_range, aux_addresses, options, internal, attachable, attach, peers)');
  fails('networks: [{ name: a, internal: yes }]\n', 'scenario.yaml: networks[0].internal: expected true or false, got string "yes"');
  fails('networks: { name: a }\n', 'scenario.yaml: networks: expected a list, got a mapping');
  fails('networks:\n  - name: a\n   driver: bridge\n', 'scenario.yaml: line 3, column 1: Sequence item without - indicator');
  fails('containers: [{ name: c1 }]\nreplay:\n  inputs: { c9/eth0: x.pcap }\n', 'scenario.yaml: replay.inputs.c9/eth0: no such port c9/eth0 (ports are CONTAINER/ethN or HOST/IFACE)');
  fails(
    'hosts: [{ name: h, interfaces: { eth0: {} }, bind: { c1/eth1: veth0 } }]\ncontainers: [{ name: c1 }]\n',
    'scenario.yaml: hosts[0].bind.c1/eth1: no such port c1/eth1 on host h',
  );
});

Talk.run();
Files.run();
Errs.run();
