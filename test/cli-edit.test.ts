import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { networkCmd, type CliIO } from '../src/cli/network.ts';
import { runCmd } from '../src/cli/run.ts';
import { serviceCmd } from '../src/cli/service.ts';
import { loadScenario } from '../src/scenario/index.ts';

const root = mkdtempSync(join(tmpdir(), 'netwasm-cli-'));
process.on('exit', () => rmSync(root, { recursive: true, force: true }));
let n = 0;

/** A fresh directory, optionally with a scenario file holding `text`. */
function dir(text?: string, name = 'netwasm.yaml'): string {
  const d = join(root, `d${n++}`);
  mkdirSync(d, { recursive: true });
  if (text !== undefined) writeFileSync(join(d, name), text);
  return d;
}

type Cmd = (argv: string[], io: CliIO) => Promise<number>;

/** Runs a command in `cwd`, returning exit code, stdout and stderr. */
async function run(cmd: Cmd, cwd: string, ...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIO = { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) }, cwd };
  const code = await cmd(argv, io);
  return { code, out, err };
}
const network = (cwd: string, ...a: string[]) => run(networkCmd, cwd, ...a);
const docker_run = (cwd: string, ...a: string[]) => run(runCmd, cwd, ...a);
const service = (cwd: string, ...a: string[]) => run(serviceCmd, cwd, ...a);

const read = (d: string, name = 'netwasm.yaml') => readFileSync(join(d, name), 'utf8');

// ---------------------------------------------------------------------------
const Create = suite('cli: netwasm network create');

Create('creates ./netwasm.yaml and prints the network ID', async () => {
  const d = dir();
  const r = await network(d, 'create', '--subnet', '10.1.0.0/24', '--gateway', '10.1.0.254', '--ip-range', '10.1.0.128/25', '--aux-address', 'router=10.1.0.1', '-o', 'com.docker.network.bridge.name=br-front', 'front');
  assert.is(r.code, 0, r.err);
  assert.match(r.out, /^[0-9a-f]{64}\n$/);
  assert.is(
    read(d),
    'networks:\n  - name: front\n    driver: bridge\n    subnet: 10.1.0.0/24\n    gateway: 10.1.0.254\n    ip_range: 10.1.0.128/25\n    aux_addresses: { router: 10.1.0.1 }\n    options: { com.docker.network.bridge.name: br-front }\n',
  );
  const t = loadScenario(join(d, 'netwasm.yaml')).topology;
  const front = t.networks.find((x) => x.name === 'front')!;
  assert.is(front.id, r.out.trim());
  assert.is(front.instances[0]!.device, 'br-front');
});

Create('keeps the comments and layout of an existing file', async () => {
  const original = '# my lab\nnetworks:   # user networks\n  - name: a   # first\n    subnet: 10.2.0.0/24\n\n# containers below\ncontainers: []\n';
  const d = dir(original);
  assert.is((await network(d, '-f', 'netwasm.yaml', 'create', '-d', 'macvlan', '-o', 'parent=eth0.10', '--internal', 'vlan10')).code, 0);
  const text = read(d);
  // every comment survives (the yaml Document API may move one onto its own line)
  for (const c of ['# my lab\n', '# user networks\n', '# first\n', '# containers below\n']) assert.ok(text.includes(c), `${c} kept in:\n${text}`);
  assert.ok(text.includes('  - name: a # first\n    subnet: 10.2.0.0/24\n  - name: vlan10\n    driver: macvlan\n    options: { parent: eth0.10 }\n    internal: true\n'), text);
  assert.ok(text.endsWith('\n# containers below\ncontainers: []\n'), text);
});

Create('Docker\'s errors, exit code 2, and the file left untouched', async () => {
  const original = 'networks:\n  - { name: a, subnet: 10.3.0.0/16 }\n';
  const d = dir(original);
  const table: [string[], string][] = [
    [['--subnet', '10.3.1.0/24', 'b'], 'Error response from daemon: invalid pool request: Pool overlaps with other one on this address space\n'],
    [['a'], 'Error response from daemon: network with name a already exists\n'],
    [['bridge'], 'Error response from daemon: operation is not permitted on predefined bridge network \n'],
    [['--subnet', '10.4.0.0/24', '--aux-address', 'DefaultGatewayIPv4=10.9.0.1', 'c'], 'no matching subnet for aux-address 10.9.0.1\n'],
    [['--gateway', '10.4.0.1', 'c'], 'every ip-range or gateway must have a corresponding subnet\n'],
    [['--subnet', '10.4.0.1/24', 'c'], 'Error response from daemon: invalid network config:\ninvalid subnet 10.4.0.1/24: it should be 10.4.0.0/24\n'],
    [['-d', 'macvlan', '-o', 'parent=eth0.4095', 'c'], 'Error response from daemon: vlan id must be between 1-4094, received: 4095\n'],
    [['-d', 'macvlan', '-o', 'parent=eth0.ten', 'c'], 'Error response from daemon: unable to parse a valid vlan id from: ten (ex. eth0.10 for vlan 10)\n'],
    [['-d', 'nat', 'c'], 'Error response from daemon: could not find plugin nat in v1 plugin registry: plugin not found\n'],
  ];
  for (const [args, err] of table) {
    const r = await network(d, 'create', ...args);
    assert.is(r.err, err, args.join(' '));
    assert.is(r.code, 2, args.join(' '));
    assert.is(r.out, '');
    assert.is(read(d), original, `${args.join(' ')} left the file as it was`);
  }
});

Create('usage errors print the usage and exit 2', async () => {
  const d = dir();
  const r = await network(d, 'create', '--bogus', 'x');
  assert.is(r.code, 2);
  assert.match(r.err, /^Error: unknown flag: --bogus\n\nUsage:  netwasm network create/);
  const r2 = await network(d, 'create');
  assert.is(r2.code, 2);
  assert.match(r2.err, /requires exactly 1 argument/);
  assert.not.ok(existsSync(join(d, 'netwasm.yaml')));
  assert.is((await network(d, 'frobnicate')).code, 2);
});

Create('a broken scenario is reported with its file and key, and not edited', async () => {
  const original = 'networks:\n  - { name: a, subnet: 10.5.0.0/24, gateway: 10.6.0.1 }\n';
  const d = dir(original);
  const r = await network(d, 'create', 'b');
  assert.is(r.code, 2);
  assert.is(r.err, 'Error: netwasm.yaml: networks[0].gateway: no matching subnet for gateway 10.6.0.1\n');
  assert.is(read(d), original);
});

// ---------------------------------------------------------------------------
const Read = suite('cli: netwasm network ls / inspect');

Read('ls: Docker\'s table, sorted by name, null driver, swarm scope', async () => {
  const d = dir('networks:\n  - { name: zeta }\n  - { name: alpha10 }\n  - { name: alpha9 }\n  - { name: ov, driver: overlay }\n');
  const t = loadScenario(join(d, 'netwasm.yaml')).topology;
  const id = (name: string) => t.networks.find((x) => x.name === name)!.id.slice(0, 12);
  const r = await network(d, 'ls');
  assert.is(r.code, 0, r.err);
  assert.is(
    r.out,
    [
      'NETWORK ID     NAME      DRIVER    SCOPE',
      `${id('alpha9')}   alpha9    bridge    local`,
      `${id('alpha10')}   alpha10   bridge    local`,
      `${id('bridge')}   bridge    bridge    local`,
      `${id('none')}   none      null      local`,
      `${id('ov')}   ov        overlay   swarm`,
      `${id('zeta')}   zeta      bridge    local`,
      '',
    ].join('\n'),
  );
  const q = await network(d, 'ls', '-q');
  assert.is(q.out.split('\n').filter(Boolean).length, 6);
  assert.ok(q.out.split('\n').filter(Boolean).every((l) => /^[0-9a-f]{12}$/.test(l)));
});

Read('ls/inspect on a missing file: exit 2, "no such file or directory"', async () => {
  const d = dir();
  const r = await network(d, 'ls', '-f', 'nope.yaml');
  assert.is(r.code, 2);
  assert.is(r.err, 'Error: nope.yaml: open nope.yaml: no such file or directory\n');
  const i = await network(d, 'inspect', 'bridge');
  assert.is(i.code, 2);
  assert.is(i.err, 'Error: netwasm.yaml: open netwasm.yaml: no such file or directory\n');
});

Read('inspect: Docker\'s JSON shape with IPAM config, containers and options', async () => {
  const d = dir('networks:\n  - { name: front, subnet: 10.1.0.0/24, gateway: 10.1.0.254 }\ncontainers:\n  - { name: web, networks: [{ front: { ip: 10.1.0.10 } }] }\n');
  const r = await network(d, 'inspect', 'front', 'ghost');
  assert.is(r.code, 2);
  assert.is(r.err, 'Error: No such network: ghost\n');
  const [j] = JSON.parse(r.out) as Record<string, any>[];
  assert.is(j!['Name'], 'front');
  assert.is(j!['Driver'], 'bridge');
  assert.is(j!['Scope'], 'local');
  assert.equal(j!['IPAM'], { Driver: 'default', Options: null, Config: [{ Subnet: '10.1.0.0/24', Gateway: '10.1.0.254' }] });
  const containers = Object.values(j!['Containers']) as Record<string, string>[];
  assert.is(containers.length, 1);
  assert.is(containers[0]!['Name'], 'web');
  assert.is(containers[0]!['IPv4Address'], '10.1.0.10/24');
  assert.match(containers[0]!['MacAddress']!, /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
  assert.ok(r.out.startsWith('[\n    {\n        "Name": "front",'), 'four-space indent like docker');
});

// ---------------------------------------------------------------------------
const Rm = suite('cli: netwasm network rm');

Rm('removes idle networks, refuses predefined and busy ones with Docker\'s wording', async () => {
  const d = dir('# lab\nnetworks:\n  - name: idle   # will go\n  - name: busy\ncontainers:\n  - { name: c1, networks: [busy] }\n');
  const t = loadScenario(join(d, 'netwasm.yaml')).topology;
  const eid = t.endpoints.find((e) => e.port === 'c1/eth0')!.id.slice(0, 12);
  const r = await network(d, 'rm', 'bridge', 'busy', 'idle', 'ghost');
  assert.is(r.code, 2);
  assert.is(r.out, 'idle\n');
  assert.is(
    r.err,
    [
      'Error response from daemon: bridge is a pre-defined network and cannot be removed',
      `Error response from daemon: error while removing network: network busy has active endpoints (name:"c1" id:"${eid}")`,
      'Error response from daemon: network ghost not found',
      '',
    ].join('\n'),
  );
  // comments kept; the yaml package reprints flow collections with its own spacing
  assert.is(read(d), '# lab\nnetworks:\n  - name: busy\ncontainers:\n  - { name: c1, networks: [ busy ] }\n');
});

// ---------------------------------------------------------------------------
const Run = suite('cli: netwasm run');

Run('adds a container; --ip applies to the first network; networks join in order', async () => {
  const d = dir('networks:\n  - { name: front, subnet: 10.1.0.0/24 }\n  - { name: back }\n');
  const r = await docker_run(d, '--network', 'front', '--ip', '10.1.0.10', '--network', 'back', '--name', 'web', 'nginx');
  assert.is(r.code, 0, r.err);
  assert.match(r.out, /^[0-9a-f]{64}\n$/);
  assert.ok(read(d).endsWith('containers:\n  - name: web\n    networks:\n      - front: { ip: 10.1.0.10 }\n      - back\n'), read(d));
  const t = loadScenario(join(d, 'netwasm.yaml')).topology;
  assert.equal(t.sandboxes.find((s) => s.name === 'web')!.ports, ['web/eth0', 'web/eth1']);
  assert.is(t.sandboxes.find((s) => s.name === 'web')!.id, r.out.trim());
  assert.is(t.endpoints.find((e) => e.port === 'web/eth0')!.ip, '10.1.0.10');
  assert.is(t.endpoints.find((e) => e.port === 'web/eth1')!.network, 'back');
  // advanced syntax and a plain name; no --network: the default bridge
  assert.is((await docker_run(d, '--network', 'name=front,ip=10.1.0.11,mac-address=02:42:0a:01:00:0b', 'api')).code, 0);
  assert.is((await docker_run(d, 'plain')).code, 0);
  const t2 = loadScenario(join(d, 'netwasm.yaml')).topology;
  assert.equal([t2.endpoints.find((e) => e.port === 'api/eth0')!.mac, t2.endpoints.find((e) => e.port === 'plain/eth0')!.network], ['02:42:0a:01:00:0b', 'bridge']);
});

Run('Docker\'s run errors (client side and daemon side), exit 2, file untouched', async () => {
  const original = 'networks:\n  - { name: front, subnet: 10.1.0.0/24 }\n  - { name: auto }\ncontainers:\n  - { name: taken, networks: [{ front: { ip: 10.1.0.10 } }] }\n';
  const d = dir(original);
  const taken = loadScenario(join(d, 'netwasm.yaml')).topology.sandboxes[0]!.id;
  const table: [string[], string][] = [
    [['--network', 'front', '--ip', '10.1.0.10', 'cc'], 'Error response from daemon: Address already in use\n'],
    [['--network', 'auto', '--ip', '172.18.0.5', 'cc'], 'Error response from daemon: invalid endpoint settings:\nuser specified IP address is supported only when connecting to networks with user configured subnets\n'],
    [['--ip', '172.17.0.5', 'cc'], 'Error response from daemon: invalid endpoint settings:\nuser specified IP address is supported on user defined networks only\n'],
    [['--network', 'front', '--ip', '10.2.0.5', 'cc'], 'Error response from daemon: invalid endpoint settings:\nno configured subnet or ip-range contain the IP address 10.2.0.5\n'],
    [['--network', 'front', '--network', 'bridge', 'cc'], 'conflicting options: cannot attach both user-defined and non-user-defined network-modes\n'],
    [['--network', 'name=front,ip=10.1.0.5', '--ip', '10.1.0.6', 'cc'], 'conflicting options: cannot specify both --ip and per-network IPv4 address\n'],
    [['--network', 'front', '--network', 'front', 'cc'], 'network "front" is specified multiple times\n'],
    [['--network', 'front', '--mac-address', '02:42', 'cc'], '02:42 is not a valid mac address\n'],
    [['--network', 'ghost', 'cc'], 'Error response from daemon: network ghost not found\n'],
    [['--network', 'front', 'taken'], `Error response from daemon: Conflict. The container name "/taken" is already in use by container "${taken}". You have to remove (or rename) that container to be able to reuse that name.\n`],
    [['--network', 'none', '--network', 'bridge', 'cc'], 'Error response from daemon: container cannot be connected to multiple networks with one of the networks in private (none) mode\n'],
  ];
  for (const [args, err] of table) {
    const r = await docker_run(d, ...args);
    assert.is(r.err, err, args.join(' '));
    assert.is(r.code, 2, args.join(' '));
    assert.is(read(d), original, `${args.join(' ')} left the file as it was`);
  }
});

// ---------------------------------------------------------------------------
const Svc = suite('cli: netwasm service create');

Svc('a replicated service on an overlay: VIP, then tasks round-robin on the hosts', async () => {
  const d = dir(
    'hosts:\n  - name: h1\n    interfaces: { eth0: { ip: 192.0.2.1/24 } }\n  - name: h2\n    interfaces: { eth0: { ip: 192.0.2.2/24 } }\nnetworks:\n  - { name: ov, driver: overlay, subnet: 10.0.9.0/24 }\n',
  );
  const r = await service(d, 'create', '--name', 'nginx', '--network', 'ov', '--replicas', '3', '--port', '80/tcp', '--scheduler', 'mh', '--sched-flags', 'mh-port', 'nginx:latest');
  assert.is(r.code, 0, r.err);
  assert.ok(read(d).endsWith('services:\n  - name: nginx\n    network: ov\n    replicas: 3\n    ports: [ 80/tcp ]\n    scheduler: mh\n    flags: [ mh-port ]\n'), read(d));
  const t = loadScenario(join(d, 'netwasm.yaml')).topology;
  const s = t.services[0]!;
  assert.is(s.id, r.out.trim());
  assert.is(s.vip, '10.0.9.2');
  assert.equal(s.virtualServices[0]!.realServers.map((x) => `${x.endpoint}@${x.host}`), ['nginx.1/eth0@h1', 'nginx.2/eth0@h2', 'nginx.3/eth0@h1']);
});

Svc('explicit backends with weights and ports on a bridge network', async () => {
  const d = dir('networks:\n  - { name: n, subnet: 10.6.0.0/24 }\ncontainers:\n  - { name: web, networks: [n] }\n  - { name: web2, networks: [n] }\n');
  const r = await service(d, 'create', '--name', 'api', '--network', 'n', '--vip', '10.6.0.200', '--port', '8080', '--backend', 'web,weight=2', '--backend', 'container=web2,port=8081', '--forwarding', 'dr');
  assert.is(r.code, 0, r.err);
  assert.ok(read(d).includes('    ports: [ 8080/tcp ]\n'), 'the port is written in its full form');
  const s = loadScenario(join(d, 'netwasm.yaml')).topology.services[0]!;
  assert.equal([s.vip, s.forwarding], ['10.6.0.200', 'dr']);
  assert.equal(s.virtualServices[0]!.realServers.map((x) => [x.container, x.ip, x.port, x.weight]), [
    ['web', '10.6.0.2', 8080, 2],
    ['web2', '10.6.0.3', 8081, 1],
  ]);
  const bad = await service(d, 'create', '--name', 'api', '--network', 'n', '--port', '80');
  assert.is(bad.err, 'Error response from daemon: name conflicts with an existing object: service api already exists\n');
  assert.is(bad.code, 2);
  const vipTaken = await service(d, 'create', '--name', 'api2', '--network', 'n', '--port', '80', '--vip', '10.6.0.200');
  assert.is(vipTaken.err, 'Error response from daemon: Address already in use\n');
  const noNet = await service(d, 'create', '--name', 'x');
  assert.is(noNet.code, 2);
  assert.match(noNet.err, /requires --network NETWORK/);
});

Svc('JSON scenarios stay JSON', async () => {
  const d = dir('{ "networks": [ { "name": "n", "subnet": "10.7.0.0/24" } ] }\n', 'lab.json');
  assert.is((await docker_run(d, '-f', 'lab.json', '--network', 'n', 'box')).code, 0);
  assert.is((await service(d, 'create', '-f', 'lab.json', '--name', 's', '--network', 'n', '--port', '53/udp', '--backend', 'box')).code, 0);
  const j = JSON.parse(read(d, 'lab.json'));
  assert.equal(j, {
    networks: [{ name: 'n', subnet: '10.7.0.0/24' }],
    containers: [{ name: 'box', networks: ['n'] }],
    services: [{ name: 's', network: 'n', ports: ['53/udp'], backends: [{ container: 'box' }] }],
  });
});

Create.run();
Read.run();
Rm.run();
Run.run();
Svc.run();
