// src/compile/apply.ts: run-time changes written into a running data plane
// must leave it in the same state as compiling the changed topology afresh
// (port entries, static FDB entries, VXLAN peers and flood lists, IPVS real
// servers), keep what was learned, and refuse (changing nothing) what cannot
// change in place. Through the real .wasm.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { compileTopology, type CompiledTopology } from '../src/compile/compile.ts';
import { ApplyError, applyTopology, restrictToHost } from '../src/compile/apply.ts';
import { loadScenarioText } from '../src/scenario/load.ts';
import type { Controller } from '../src/cnm/controller.ts';
import type { Topology } from '../src/cnm/topology.ts';
import { PORT_SIZE } from '../src/dataplane/layout.ts';
import { MAX_PORTS } from '../src/dataplane/layout.ts';

const SCENARIO = `
default_bridge: false
hosts:
  - name: host1
    interfaces:
      eth0: { mac: "02:00:00:00:01:01", ip: 192.0.2.1/24 }
      eth1: {}
  - name: host2
    interfaces:
      eth0: { mac: "02:00:00:00:02:01", ip: 192.0.2.2/24 }
      eth1: {}
networks:
  - name: br
    driver: bridge
    subnet: 10.50.0.0/24
  - name: ov
    driver: overlay
    attachable: true
    subnet: 10.51.0.0/24
  - name: mv
    driver: macvlan
    subnet: 10.52.0.0/24
    options: { parent: eth1 }
containers:
  - { name: ca, host: host1, networks: [br, ov] }
  - { name: cb, host: host1, networks: [br] }
  - { name: cr, host: host2, networks: [ov] }
  - { name: cm, host: host1, networks: [mv] }
services:
  - name: web
    network: br
    host: host1
    ports: [80/tcp]
    backends: [{ container: ca }, { container: cb }]
`;

/** Everything of the data plane the control plane writes, by port name (ids may differ). */
function state(c: CompiledTopology, topo: Topology): unknown {
  const names = new Map([...c.ports].map(([n, id]) => [id, n]));
  const local = topo.endpoints.filter((e) => e.host === topo.hosts[0]!.name).map((e) => e.port);
  const ports: Record<string, string> = {};
  for (const name of [...topo.hosts[0]!.uplinks.map((u) => u.port), ...local]) {
    const id = c.ports.get(name);
    assert.ok(id !== undefined, `port ${name} has an id`);
    const a = c.dp.portAddr(id!);
    ports[name] = Buffer.from(c.dp.bytes.subarray(a, a + PORT_SIZE)).toString('hex');
  }
  const tport = new Set([...c.tunnels.values()].map((t) => c.vxlan.tunnelOptions(t).port));
  const portName = (p: number) => (tport.has(p) ? 'tunnel' : (names.get(p) ?? `?${p}`));
  const fdb = c.bridges.fdb().filter((e) => !e.flags.includes('learned')).map((e) => `${e.bridge} ${e.mac} ${e.flags.includes('local') ? 'local' : portName(e.port)}`).sort();
  const vx = c.vxlan.fdb().map((e) => `${e.tunnel} ${e.mac} ${e.vtep} ${e.via}`).sort();
  const flood = [...c.tunnels.values()].map((t) => c.vxlan.floodList(t).sort().join(','));
  const ipvs = c.ipvs.list().map((s) => ({ key: s.key, servers: s.servers.map((x) => `${x.address}:${x.port} w${x.weight} ${x.forward}`).sort() }));
  const mv = c.macvlans.networks().map((n) => ({ ...n, endpoints: n.endpoints.map(portName).sort() }));
  return { ports, fdb, vx, flood, ipvs, mv };
}

/** Applies `change` to the model and to `c`; checks the result equals a fresh compile. */
function step(ctl: Controller, c: CompiledTopology, before: Topology, change: (ctl: Controller) => void, expect: RegExp[]): Topology {
  change(ctl);
  const after = restrictToHost(ctl.topology(), 'host1');
  const log = applyTopology(c, before, after, 'host1');
  for (const re of expect) assert.ok(log.some((l) => re.test(l)), `${re} in ${JSON.stringify(log)}`);
  const fresh = compileTopology(after, { slots: 64 });
  assert.equal(state(c, after), state(fresh, after), 'the same tables as a fresh compile');
  const used = [...c.ports.values()];
  assert.is(new Set(used).size, used.length, 'no port id given twice');
  assert.ok(used.every((id) => id >= 0 && id < MAX_PORTS));
  return after;
}

const Apply = suite('apply: run-time topology changes in place');

Apply('restrictToHost keeps one host: its uplinks, instances, containers, services; overlay peers point at the other host', () => {
  const s = loadScenarioText(SCENARIO, 's.yaml');
  const t = restrictToHost(s.topology, 'host1');
  assert.equal(t.hosts.map((h) => h.name), ['host1']);
  assert.equal(t.endpoints.map((e) => e.port), ['ca/eth0', 'ca/eth1', 'cb/eth0', 'cm/eth0']);
  assert.ok(t.networks.every((n) => n.instances.every((i) => i.host === 'host1')));
  const ov = t.networks.find((n) => n.name === 'ov')!.instances[0]!;
  assert.equal(ov.peers.map((p) => [p.ip, p.vtep]), [['10.51.0.3', '192.0.2.2']], "cr's endpoint, behind host2's VTEP");
  assert.equal(t.services.map((x) => x.hosts), [['host1']]);
  assert.equal(restrictToHost(s.topology, 'host2').services, [], 'the service lives on host1');
  assert.throws(() => restrictToHost(s.topology, 'host3'), /no host host3/);
});

Apply('containers, peers and real servers come and go in place: the tables equal a fresh compile after every step; learned stations stay', () => {
  const s = loadScenarioText(SCENARIO, 's.yaml');
  const ctl = s.controller;
  let topo = restrictToHost(s.topology, 'host1');
  const c = compileTopology(topo, { slots: 64 });
  // A station learned on b's port before the changes.
  const bPort = c.ports.get('cb/eth0')!;
  const brId = c.bridgeIds.get('host1/br')!;
  c.bridges.fdbAdd(brId, '02:99:00:00:00:01', { port: bPort, dynamic: true, now: 1 });

  topo = step(ctl, c, topo, (x) => {
    x.newSandbox('cc', { host: 'host1' });
    x.connect('cc', 'br');
    x.connect('cc', 'ov');
  }, [/port cc\/eth0 joined br/, /port cc\/eth1 joined ov/]);
  topo = step(ctl, c, topo, (x) => x.addPeer('ov', { vtep: '192.0.2.9', vtepMac: '02:00:00:00:09:01', mac: '02:42:0a:33:00:63', ip: '10.51.0.99' }), [/peer 10\.51\.0\.99 .* added/]);
  topo = step(ctl, c, topo, (x) => {
    x.newSandbox('cr2', { host: 'host2' });
    x.connect('cr2', 'ov');
  }, [/peer 10\.51\.0\.\d+ .*192\.0\.2\.2 added/]);
  topo = step(ctl, c, topo, (x) => x.service('web').addBackend(x.sandbox('cc').endpoints[0]!, { weight: 3 }), [/real server 10\.50\.0\.\d+:80 added \(weight 3\)/]);
  topo = step(ctl, c, topo, (x) => x.service('web').removeBackend(x.sandbox('ca').endpoints[0]!), [/real server 10\.50\.0\.\d+:80 removed/]);
  topo = step(ctl, c, topo, (x) => {
    x.newSandbox('cm2', { host: 'host1' });
    x.connect('cm2', 'mv');
  }, [/port cm2\/eth0 joined mv/]);
  topo = step(ctl, c, topo, (x) => x.removeSandbox('ca'), [/port ca\/eth0 left br/, /port ca\/eth1 left ov/]);
  topo = step(ctl, c, topo, (x) => x.removeSandbox('cr'), [/peer .* removed/]);
  topo = step(ctl, c, topo, (x) => x.removeSandbox('cm'), [/port cm\/eth0 left mv/]);
  // The freed ids are reused.
  topo = step(ctl, c, topo, (x) => {
    x.newSandbox('cd', { host: 'host1' });
    x.connect('cd', 'br');
  }, [/port cd\/eth0 joined br \(port \d+\)/]);
  assert.ok(c.bridges.fdb({ bridge: brId }).some((e) => e.mac === '02:99:00:00:00:01' && e.port === bPort), 'the station learned on b is still there');
});

Apply('what cannot change in place is refused before anything changes', () => {
  const s = loadScenarioText(SCENARIO, 's.yaml');
  const ctl = s.controller;
  const before = restrictToHost(s.topology, 'host1');
  const c = compileTopology(before, { slots: 64 });
  const snapshot = JSON.stringify(state(c, before));
  ctl.newNetwork('bridge', 'br2', {});
  assert.throws(() => applyTopology(c, before, restrictToHost(ctl.topology(), 'host1'), 'host1'), (e: unknown) => e instanceof ApplyError && /network br2 was created/.test((e as Error).message));
  assert.is(JSON.stringify(state(c, before)), snapshot, 'nothing changed');
  // An overlay's first container on a host needs its tunnel compiled.
  const s2 = loadScenarioText(SCENARIO, 's.yaml');
  const b2 = restrictToHost(s2.topology, 'host2');
  const c2 = compileTopology(b2, { slots: 64 });
  s2.controller.newSandbox('cx', { host: 'host2' });
  s2.controller.connect('cx', 'br');
  s2.controller.service('web');
  assert.ok(applyTopology(c2, b2, restrictToHost(s2.controller.topology(), 'host2'), 'host2').some((l) => /cx\/eth0 joined br/.test(l)));
  const s3 = loadScenarioText(SCENARIO.replace("  - { name: cr, host: host2, networks: [ov] }\n", ''), 's.yaml');
  const b3 = restrictToHost(s3.topology, 'host2');
  const c3 = compileTopology(b3, { slots: 64 });
  s3.controller.newSandbox('cr', { host: 'host2' });
  s3.controller.connect('cr', 'ov');
  assert.throws(() => applyTopology(c3, b3, restrictToHost(s3.controller.topology(), 'host2'), 'host2'), /network ov changed/);
});

Apply.run();
