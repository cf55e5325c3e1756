// Bad configuration (issue 9): a table of invalid scenarios and commands.
// Each one fails with a clear message (Docker's wording where Docker has
// one), names the file and the key at fault, exits 2, and leaves nothing
// half-applied (an edited scenario file is left as it was).
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { loadScenarioText, isScenarioError, type ScenarioError } from '../src/scenario/index.ts';
import { networkCmd, type CliIO } from '../src/cli/network.ts';
import { runCmd } from '../src/cli/run.ts';
import { serviceCmd } from '../src/cli/service.ts';
import { replayCmd, testCmd } from '../src/cli/replay.ts';

const H2 = 'hosts:\n  - { name: h1, interfaces: { eth0: { mac: "02:00:00:00:01:01", ip: 192.0.2.1/24 }, eth1: {} } }\n  - { name: h2, interfaces: { eth0: { mac: "02:00:00:00:02:01", ip: 192.0.2.2/24 } } }\n';
const H1 = 'hosts: [{ name: h, interfaces: { eth0: { ip: 192.0.2.1/24 }, eth1: {} } }]\n';
const N = 'networks: [{ name: n, subnet: 10.3.0.0/24 }]\n';

/** [what, scenario, key path at fault, message (exact, or a pattern)]. */
const TABLE: Array<[string, string, string, string | RegExp]> = [
  // overlapping subnets
  ['overlapping subnets', 'networks: [{ name: aa, subnet: 10.1.0.0/16 }, { name: bb, subnet: 10.1.2.0/24 }]', 'networks[1].subnet', 'invalid pool request: Pool overlaps with other one on this address space'],
  ['the same subnet twice', 'networks: [{ name: aa, subnet: 10.1.0.0/24 }, { name: bb, subnet: 10.1.0.0/24 }]', 'networks[1].subnet', 'invalid pool request: Pool overlaps with other one on this address space'],
  ['a subnet overlapping docker0', 'networks: [{ name: aa, subnet: 172.17.3.0/24 }]', 'networks[0].subnet', 'invalid pool request: Pool overlaps with other one on this address space'],
  ['a bad CIDR', 'networks: [{ name: aa, subnet: 10.1.0.0/33 }]', 'networks[0].subnet', 'invalid network config:\ninvalid subnet 10.1.0.0/33: invalid CIDR block notation'],
  ['host bits in a subnet', 'networks: [{ name: aa, subnet: 10.1.0.1/24 }]', 'networks[0].subnet', 'invalid network config:\ninvalid subnet 10.1.0.1/24: it should be 10.1.0.0/24'],
  ['a multicast subnet', 'networks: [{ name: aa, subnet: 224.0.0.0/24 }]', 'networks[0].subnet', /^invalid subnet 224\.0\.0\.0\/24: its addresses are multicast/],
  ['a loopback subnet', 'networks: [{ name: aa, subnet: 127.0.0.0/24 }]', 'networks[0].subnet', /^invalid subnet 127\.0\.0\.0\/24: its addresses are loopback/],
  // addresses outside or in use
  ['a gateway outside the subnet', 'networks: [{ name: aa, subnet: 10.1.0.0/24, gateway: 10.1.1.1 }]', 'networks[0].gateway', 'no matching subnet for gateway 10.1.1.1'],
  ['the network address as gateway', 'networks: [{ name: aa, subnet: 10.1.0.0/24, gateway: 10.1.0.0 }]', 'networks[0].gateway', 'failed to allocate gateway (10.1.0.0): Address already in use'],
  ['an ip_range outside the subnet', 'networks: [{ name: aa, subnet: 10.1.0.0/24, ip_range: 10.2.0.0/25 }]', 'networks[0].ip_range', 'no matching subnet for range 10.2.0.0/25'],
  ['an aux address outside the subnet', 'networks: [{ name: aa, subnet: 10.1.0.0/24, aux_addresses: { x: 10.9.0.1 } }]', 'networks[0].aux_addresses.x', 'no matching subnet for aux-address 10.9.0.1'],
  ['an aux address on the gateway', 'networks: [{ name: aa, subnet: 10.1.0.0/24, aux_addresses: { x: 10.1.0.1 } }]', 'networks[0].aux_addresses.x', 'failed to allocate secondary ip address (x:10.1.0.1): Address already in use'],
  ['a container IP outside the subnet', `${N}containers: [{ name: c1, networks: [{ n: { ip: 10.2.0.5 } }] }]`, 'containers[0].networks[0].ip', 'invalid endpoint settings:\nno configured subnet or ip-range contain the IP address 10.2.0.5'],
  ['a container IP in use (the gateway)', `${N}containers: [{ name: c1, networks: [{ n: { ip: 10.3.0.1 } }] }]`, 'containers[0].networks[0].ip', 'Address already in use'],
  ['a container IP in use (another container)', `${N}containers: [{ name: c1, networks: [{ n: { ip: 10.3.0.9 } }] }, { name: c2, networks: [{ n: { ip: 10.3.0.9 } }] }]`, 'containers[1].networks[0].ip', 'Address already in use'],
  ['a static IP on a network without a user subnet', 'networks: [{ name: aa }]\ncontainers: [{ name: c1, networks: [{ aa: { ip: 172.18.0.9 } }] }]', 'containers[0].networks[0].ip', 'invalid endpoint settings:\nuser specified IP address is supported only when connecting to networks with user configured subnets'],
  ['a full pool', 'networks: [{ name: aa, subnet: 10.1.0.0/30 }]\ncontainers: [{ name: c1, networks: [aa] }, { name: c2, networks: [aa] }]', 'containers[1].networks[0]', /^no available IPv4 addresses on this network's address pools: aa/],
  ['a multicast container MAC', `${N}containers: [{ name: c1, networks: [{ n: { mac: "01:00:5e:00:00:01" } }] }]`, 'containers[0].networks[0].mac', /^invalid MAC address: 01:00:5e:00:00:01 is a multicast address/],
  ['the zero MAC', `${N}containers: [{ name: c1, networks: [{ n: { mac: "00:00:00:00:00:00" } }] }]`, 'containers[0].networks[0].mac', /^invalid MAC address: 00:00:00:00:00:00 is the all-zero address/],
  ['a malformed MAC', 'containers: [{ name: c1, networks: [{ bridge: { mac: "02:42" } }] }]', 'containers[0].networks[0].mac', '02:42 is not a valid mac address'],
  ['a broadcast uplink MAC', 'hosts: [{ name: h, interfaces: { eth0: { mac: "ff:ff:ff:ff:ff:ff" } } }]', 'hosts[0].interfaces.eth0.mac', /^invalid MAC address: ff:ff:ff:ff:ff:ff is a multicast address/],
  ['two hosts with one address', `${H2.replace('192.0.2.2/24', '192.0.2.1/24')}`, 'hosts[1].interfaces.eth0.ip', 'Address already in use: 192.0.2.1 is also the address of h1/eth0'],
  ['an uplink address without prefix', 'hosts: [{ name: h, interfaces: { eth0: { ip: 10.0.0.1 } } }]', 'hosts[0].interfaces.eth0.ip', 'invalid CIDR address: 10.0.0.1'],
  ['an uplink MTU too large', 'hosts: [{ name: h, interfaces: { eth0: { mtu: 100000 } } }]', 'hosts[0].interfaces.eth0.mtu', 'invalid MTU 100000: must be 68..65535'],
  // bad parents
  ['a parent VLAN out of range', 'networks: [{ name: v, driver: macvlan, options: { parent: eth0.5000 } }]', 'networks[0].options.parent', 'vlan id must be between 1-4094, received: 5000'],
  ['a parent VLAN that is no number', 'networks: [{ name: v, driver: macvlan, options: { parent: eth0.x } }]', 'networks[0].options.parent', 'unable to parse a valid vlan id from: x (ex. eth0.10 for vlan 10)'],
  ['a parent that is not on the host', `${H1}networks: [{ name: v, driver: macvlan, options: { parent: eth9.10 } }]`, 'networks[0].options.parent', '-o parent interface was not found on the host: eth9'],
  ['a parent that does not exist', `${H1}networks: [{ name: v, driver: ipvlan, options: { parent: eth7 } }]`, 'networks[0].options.parent', 'invalid subinterface vlan name eth7, example formatting is eth0.10'],
  ['loopback as parent', 'networks: [{ name: v, driver: macvlan, options: { parent: lo } }]', 'networks[0].options.parent', 'loopback interface is not a valid macvlan parent link'],
  ['two ipvlan networks on one parent', 'networks: [{ name: v1, driver: ipvlan, options: { parent: eth0.10 } }, { name: v2, driver: ipvlan, options: { parent: eth0.10 } }]', 'networks[1].options.parent', /^network di-[0-9a-f]{12} is already using parent interface eth0\.10$/],
  ['macvlan and ipvlan on one parent', 'networks: [{ name: v1, driver: macvlan, options: { parent: eth0.10 } }, { name: v2, driver: ipvlan, options: { parent: eth0.10 } }]', 'networks[1].options.parent', 'failed to create the ipvlan port: device or resource busy (eth0.10 carries macvlan network v1)'],
  ['a passthru parent shared', 'networks: [{ name: v1, driver: macvlan, options: { parent: eth0.10, macvlan_mode: passthru } }, { name: v2, driver: macvlan, options: { parent: eth0.10 } }]', 'networks[1].options.parent', /^macvlan network [0-9a-f]{64} is already using parent interface eth0\.10 in mode passthru$/],
  ['a bridge port as macvlan parent', `${H1}networks: [{ name: br, attach: [h/eth0] }, { name: v, driver: macvlan, options: { parent: eth0.10 } }]`, 'networks[1].options.parent', 'interface h/eth0 is attached to bridge network br: it cannot also be the parent of macvlan network v (a bridge port carries nothing else)'],
  ['the VTEP attached to a bridge', `${H1}networks: [{ name: o, driver: overlay, attachable: true }, { name: br, attach: [h/eth0] }]\ncontainers: [{ name: c1, networks: [o] }]`, 'networks[1].attach[0]', 'interface h/eth0 is the VTEP of overlay network o: it cannot also be attached to bridge network br (a bridge port carries nothing else)'],
  ['an interface attached twice', `${H1}networks: [{ name: b1, attach: [h/eth1] }, { name: b2, attach: [h/eth1] }]`, 'networks[1].attach[0]', 'interface h/eth1 is already attached to network b1'],
  ['attach without the host in a multi-host scenario', `${H2}networks: [{ name: br, attach: [eth0] }]`, 'networks[0].attach[0]', 'uplink eth0: name the host as HOST/IFACE when the scenario has several hosts'],
  // unknown drivers and options
  ['an unknown driver', 'networks: [{ name: aa, driver: weave }]', 'networks[0].driver', 'could not find plugin weave in v1 plugin registry: plugin not found'],
  ['a second none network', 'networks: [{ name: aa, driver: none }]', 'networks[0].driver', 'only one instance of "null" network is allowed'],
  ['an unknown bridge option (a typo)', 'networks: [{ name: aa, options: { com.docker.network.bridge.enable_ic: "false" } }]', 'networks[0].options.com.docker.network.bridge.enable_ic', /^unknown option com\.docker\.network\.bridge\.enable_ic for the bridge driver \(known: com\.docker\.network\.bridge\.name, /],
  ['an unknown macvlan option', 'networks: [{ name: v, driver: macvlan, options: { parent: eth0, macvlan_mod: vepa } }]', 'networks[0].options.macvlan_mod', /^unknown option macvlan_mod for the macvlan driver \(known: parent, macvlan_mode, /],
  ['an unknown ipvlan option', 'networks: [{ name: v, driver: ipvlan, options: { parent: eth0, mode: l3 } }]', 'networks[0].options.mode', /^unknown option mode for the ipvlan driver/],
  ['an unknown overlay option', 'networks: [{ name: o, driver: overlay, options: { com.docker.network.driver.overlay.vxlan: "5000" } }]', 'networks[0].options.com.docker.network.driver.overlay.vxlan', /^unknown option com\.docker\.network\.driver\.overlay\.vxlan for the overlay driver/],
  ['an encrypted overlay', 'networks: [{ name: o, driver: overlay, options: { encrypted: "" } }]', 'networks[0].options.encrypted', 'encrypted overlay networks are not supported by netwasm: VXLAN traffic would cross the underlay unencrypted'],
  ['a bad macvlan mode', 'networks: [{ name: v, driver: macvlan, options: { parent: eth0, macvlan_mode: turbo } }]', 'networks[0].options.macvlan_mode', "requested macvlan mode 'turbo' is not valid, 'bridge' mode is the macvlan driver default"],
  ['a bad ipvlan mode', 'networks: [{ name: v, driver: ipvlan, options: { parent: eth0, ipvlan_mode: l4 } }]', 'networks[0].options.ipvlan_mode', "requested ipvlan mode 'l4' is not valid, 'l2' mode is the ipvlan driver default"],
  ['a bad boolean option', 'networks: [{ name: aa, options: { com.docker.network.bridge.enable_icc: maybe } }]', 'networks[0].options.com.docker.network.bridge.enable_icc', 'failed to parse com.docker.network.bridge.enable_icc value: maybe (strconv.ParseBool: parsing "maybe": invalid syntax)'],
  ['a negative MTU', 'networks: [{ name: aa, options: { com.docker.network.driver.mtu: "-5" } }]', 'networks[0].options.com.docker.network.driver.mtu', 'invalid MTU number: -5'],
  ['an MTU beyond 16 bits', 'networks: [{ name: aa, options: { com.docker.network.driver.mtu: "70000" } }]', 'networks[0].options.com.docker.network.driver.mtu', 'invalid MTU number: 70000 (a Linux bridge takes 68..65535)'],
  ['an overlay MTU too small', 'networks: [{ name: o, driver: overlay, options: { com.docker.network.driver.mtu: "100" } }]', 'networks[0].options.com.docker.network.driver.mtu', 'invalid MTU value: 100 (an overlay takes 118..65535)'],
  ['a bridge name taken', 'networks: [{ name: aa, options: { com.docker.network.bridge.name: docker0 } }]', 'networks[0].options.com.docker.network.bridge.name', /^cannot create network [0-9a-f]{64} \(docker0\): conflicts with network [0-9a-f]{64} \(docker0\): networks have same bridge name$/],
  // VNI out of range
  ['a VNI beyond 24 bits', 'networks: [{ name: o, driver: overlay, options: { com.docker.network.driver.overlay.vxlanid_list: "16777216" } }]', 'networks[0].options.com.docker.network.driver.overlay.vxlanid_list', /^could not assign vxlan id 16777216 to pool [0-9./]+: bit does not belong to the sequence$/],
  ['a negative VNI', 'networks: [{ name: o, driver: overlay, options: { com.docker.network.driver.overlay.vxlanid_list: "-1" } }]', 'networks[0].options.com.docker.network.driver.overlay.vxlanid_list', 'invalid vxlan id value "-1" passed'],
  ['a VNI that is no number', 'networks: [{ name: o, driver: overlay, options: { com.docker.network.driver.overlay.vxlanid_list: "abc" } }]', 'networks[0].options.com.docker.network.driver.overlay.vxlanid_list', 'invalid vxlan id value "abc" passed'],
  ['one VNI for two overlays', 'networks: [{ name: o1, driver: overlay, options: { com.docker.network.driver.overlay.vxlanid_list: "5000" } }, { name: o2, driver: overlay, options: { com.docker.network.driver.overlay.vxlanid_list: "5000" } }]', 'networks[1].options.com.docker.network.driver.overlay.vxlanid_list', /^could not assign vxlan id 5000 to pool [0-9./]+: requested bit is already allocated$/],
  // duplicate names
  ['a network name twice', 'networks: [{ name: aa }, { name: aa, driver: macvlan }]', 'networks[1].name', 'network with name aa already exists'],
  ['a predefined network name', 'networks: [{ name: bridge }]', 'networks[0].name', 'operation is not permitted on predefined bridge network '],
  ['a container name twice', 'containers:\n  - { name: c1 }\n  - { name: c1 }\n', 'containers[1].name', /^Conflict\. The container name "\/c1" is already in use by container "[0-9a-f]{64}"\. You have to remove \(or rename\) that container to be able to reuse that name\.$/],
  ['a host name twice', 'hosts: [{ name: h }, { name: h }]', 'hosts[0].name', 'host h is listed twice'],
  ['a service name twice', `${N}services: [{ name: s, network: n, ports: [80] }, { name: s, network: n, ports: [81] }]`, 'services[1].name', 'name conflicts with an existing object: service s already exists'],
  ['one network twice for a container', 'containers: [{ name: c1, networks: [bridge, bridge] }]', 'containers[0].networks[1]', 'endpoint with name c1 already exists in network bridge'],
  ['an invalid container name', 'containers: [{ name: "web/1" }]', 'containers[0].name', 'Invalid container name (web/1), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed'],
  // containers, services, replay
  ['an unknown network', 'containers: [{ name: c1, networks: [nosuch] }]', 'containers[0].networks[0]', 'network nosuch not found'],
  ['an unknown host', 'containers: [{ name: c1, host: elsewhere }]', 'containers[0].host', 'host elsewhere not found'],
  ['a service on a macvlan network', 'networks: [{ name: v, driver: macvlan, subnet: 10.3.0.0/24, options: { parent: eth0 } }]\nservices: [{ name: s, network: v, ports: [80] }]', 'services[0].network', 'service s: network v is a macvlan network; netwasm balances services (IPVS) on bridge and overlay networks only'],
  ['an sctp service', `${N}services: [{ name: s, network: n, ports: [80/sctp] }]`, 'services[0].ports[0]', "service s: 80/sctp: netwasm's IPVS balances tcp and udp, not sctp"],
  ['a port out of range', `${N}services: [{ name: s, network: n, ports: [70000] }]`, 'services[0].ports[0]', 'invalid port 70000: must be 1..65535'],
  ['an unknown scheduler', `${N}services: [{ name: s, network: n, ports: [80], scheduler: fifo }]`, 'services[0].scheduler', 'unknown scheduler fifo (use rr, wrr, lc, wlc, sh, mh, maglev)'],
  ['a VIP outside the network', `${N}services: [{ name: s, network: n, ports: [80], vip: 10.4.0.1 }]`, 'services[0].vip', 'requested address is out of range'],
  ['a VIP in use', `${N}services: [{ name: s, network: n, ports: [80], vip: 10.3.0.1 }]`, 'services[0].vip', 'Address already in use'],
  ['a backend on another network', `${N}containers: [{ name: web, networks: [n] }, { name: other }]\nservices: [{ name: s, network: n, ports: [80], backends: [{ container: other }] }]`, 'services[0].backends[0].container', 'container other is not connected to network n'],
  ['an unknown replay port', 'containers: [{ name: c1 }]\nreplay: { inputs: { c9/eth0: x.pcap } }', 'replay.inputs.c9/eth0', 'no such port c9/eth0 (ports are CONTAINER/ethN or HOST/IFACE)'],
  ['an unknown counter to expect', 'replay: { expect: { counters: { bridge-reflekt-drop: 0 } } }', 'replay.expect.counters.bridge-reflekt-drop', 'unknown counter "bridge-reflekt-drop"'],
  ['an unknown key', 'networks: [{ name: aa, subnett: 10.0.0.0/24 }]', 'networks[0].subnett', /^unknown key \(expected one of: name, driver, subnet, /],
  ['a wrong type', 'networks: { name: aa }', 'networks', 'expected a list, got a mapping'],
  ['YAML syntax', 'networks:\n  - name: aa\n   driver: bridge\n', 'line 3, column 1', 'Sequence item without - indicator'],
];

const root = mkdtempSync(join(tmpdir(), 'netwasm-badconfig-'));
process.on('exit', () => rmSync(root, { recursive: true, force: true }));
let nDir = 0;
function dir(text?: string, name = 'netwasm.yaml'): string {
  const d = join(root, `d${nDir++}`);
  mkdirSync(d, { recursive: true });
  if (text !== undefined) writeFileSync(join(d, name), text);
  return d;
}

type Cmd = (argv: string[], io: CliIO) => Promise<number>;
async function run(cmd: Cmd, cwd: string, ...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIO = { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) }, cwd };
  const code = await cmd(argv, io);
  return { code, out, err };
}

/** A clear message: no stack trace, no JavaScript leaking through. */
function clear(msg: string, what: string): void {
  assert.not.match(msg, /\n\s+at /, `${what}: no stack trace in "${msg}"`);
  assert.not.match(msg, /undefined|\[object |NaN|TypeError|RangeError|ReferenceError/, `${what}: "${msg}"`);
}

const Table = suite(`bad configuration: ${TABLE.length} invalid scenarios`);

Table('each fails with a ScenarioError naming the file and the key, exit code 2, Docker\'s wording where it has one', () => {
  for (const [what, text, path, detail] of TABLE) {
    let err: ScenarioError | undefined;
    try {
      loadScenarioText(text, 'bad.yaml');
    } catch (e) {
      if (!isScenarioError(e)) throw new Error(`${what}: not a ScenarioError: ${(e as Error).stack}`);
      err = e;
    }
    assert.ok(err, `${what}: the scenario was accepted`);
    assert.is(err!.file, 'bad.yaml', what);
    assert.is(err!.path, path, what);
    if (typeof detail === 'string') assert.is(err!.detail, detail, what);
    else assert.match(err!.detail, detail, what);
    assert.is(err!.message, `bad.yaml: ${path}: ${err!.detail}`, what);
    assert.is(err!.exitCode, 2, what);
    clear(err!.message, what);
  }
});

const Cli = suite('bad configuration: commands exit 2 and leave the scenario file as it was');

Cli('network create, run, service create: refused edits do not touch the file', async () => {
  const original = `${H1}networks:\n  - { name: front, subnet: 10.3.0.0/16 }\n  - { name: v10, driver: macvlan, options: { parent: eth0.10 } }\ncontainers:\n  - { name: web, networks: [front] }\n`;
  const d = dir(original);
  const cases: Array<[Cmd, string[], RegExp]> = [
    [networkCmd, ['create', '--subnet', '10.3.1.0/24', 'back'], /^Error response from daemon: invalid pool request: Pool overlaps with other one on this address space\n$/],
    [networkCmd, ['create', '-o', 'com.docker.network.bridge.enable_ic=false', 'back'], /^Error response from daemon: unknown option com\.docker\.network\.bridge\.enable_ic for the bridge driver/],
    [networkCmd, ['create', '-o', 'com.docker.network.driver.mtu=70000', 'back'], /^Error response from daemon: invalid MTU number: 70000/],
    [networkCmd, ['create', '-d', 'ipvlan', '-o', 'parent=eth0.10', 'v10b'], /device or resource busy \(eth0\.10 carries macvlan network v10\)\n$/],
    [networkCmd, ['create', '-d', 'overlay', '-o', 'encrypted', 'sec'], /^Error: invalid argument "encrypted" for "-o, --opt" flag|encrypted overlay networks are not supported/],
    [networkCmd, ['create', '-d', 'overlay', '-o', 'encrypted=true', 'sec'], /encrypted overlay networks are not supported by netwasm/],
    [networkCmd, ['create', '-d', 'overlay', '-o', 'com.docker.network.driver.overlay.vxlanid_list=16777216', 'ov'], /bit does not belong to the sequence\n$/],
    [networkCmd, ['create', '-d', 'null', 'nothing'], /could not find plugin null|only one instance of "null" network is allowed/],
    [networkCmd, ['create', '--attach', 'h/eth0', 'lan'], /^Error response from daemon: interface h\/eth0 is the parent of macvlan network v10: it cannot also be attached to bridge network lan/],
    [networkCmd, ['create', 'front'], /^Error response from daemon: network with name front already exists\n$/],
    [runCmd, ['--network', 'front', '--ip', '10.9.0.5', 'db'], /no configured subnet or ip-range contain the IP address 10\.9\.0\.5\n$/],
    [runCmd, ['--network', 'front', '--mac-address', '01:00:5e:00:00:01', 'db'], /invalid MAC address: 01:00:5e:00:00:01 is a multicast address/],
    [runCmd, ['--network', 'nosuch', 'db'], /network nosuch not found\n$/],
    [runCmd, ['--network', 'front', 'web'], /Conflict\. The container name "\/web" is already in use/],
    [serviceCmd, ['create', '--name', 'api', '--network', 'v10', '--port', '80/tcp'], /network v10 is a macvlan network; netwasm balances services \(IPVS\) on bridge and overlay networks only\n$/],
    [serviceCmd, ['create', '--name', 'api', '--network', 'front', '--port', '80/sctp'], /not sctp\n$/],
    [serviceCmd, ['create', '--name', 'api', '--network', 'front', '--port', '80/tcp', '--scheduler', 'fifo'], /unknown scheduler fifo/],
  ];
  for (const [cmd, args, want] of cases) {
    const r = await run(cmd, d, ...args);
    assert.is(r.code, 2, `${args.join(' ')}: exit code (stderr: ${r.err})`);
    assert.match(r.err, want, args.join(' '));
    clear(r.err, args.join(' '));
    assert.is(readFileSync(join(d, 'netwasm.yaml'), 'utf8'), original, `${args.join(' ')} left the file as it was`);
  }
});

Cli('replay and test: a bad scenario exits 2 with the file and the key, before any output is written', async () => {
  const d = dir(`${N}containers: [{ name: c1, networks: [{ n: { ip: 10.4.0.9 } }] }]\n`, 's.yaml');
  const r = await run(replayCmd, d, 's.yaml', '--out', 'out');
  assert.is(r.code, 2);
  assert.is(r.err, 's.yaml: containers[0].networks[0].ip: invalid endpoint settings:\nno configured subnet or ip-range contain the IP address 10.4.0.9\n');
  const t = await run(testCmd, d, 's.yaml');
  assert.is(t.code, 2);
  assert.match(t.err, /^s\.yaml: containers\[0\]\.networks\[0\]\.ip: /);
  // more ports than one data plane has: a clear error from the compile step, not a stack
  const many = `networks: [{ name: n, subnet: 10.0.0.0/16 }]\ncontainers:\n${Array.from({ length: 300 }, (_, i) => `  - { name: c${i}, networks: [n] }`).join('\n')}\n`;
  writeFileSync(join(d, 'many.yaml'), many);
  const m = await run(replayCmd, d, 'many.yaml', '--out', 'out2');
  assert.is(m.code, 2);
  assert.is(m.err, 'many.yaml: the topology needs more than 256 ports\n');
  clear(m.err, 'many ports');
});

Table.run();
Cli.run();
