// netwasmd end to end: the daemon as its own process, containers as network
// namespaces on veth pairs (the kernel's default offloads left on), the CLI's
// client over the control socket. The root-namespace veth ends carry no
// address and sit in no bridge: the kernel forwards nothing, netwasmd does.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { controlLines } from '../src/daemon/client.ts';
import { ControlError } from '../src/daemon/protocol.ts';
import { psCmd, portsCmd, countersCmd, ctlCmd } from '../src/cli/ctl.ts';
import type { PortInfo } from '../src/daemon/daemon.ts';
import { hostTest, ifName, netnsName, NetnsSet, run } from './helpers/netns.ts';
import { container, Daemon, ping, sleep, tempDir, transfer } from './daemon-helpers.ts';

function scenario(dir: string, text: string): string {
  const f = join(dir, 'scenario.yaml');
  writeFileSync(f, text);
  return f;
}

/** Captures what a CLI command prints. */
function io(): { stdout: { write(s: string): void }; stderr: { write(s: string): void }; out: () => string; err: () => string } {
  let o = '';
  let e = '';
  return { stdout: { write: (s) => void (o += s) }, stderr: { write: (s) => void (e += s) }, out: () => o, err: () => e };
}

async function ctlError(p: Promise<unknown>): Promise<ControlError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof ControlError) return e;
    throw e;
  }
  throw new Error('expected the daemon to refuse the request');
}

const TWO = (binds: string) => `
default_bridge: false
hosts:
  - name: local
    bind: { ${binds} }
networks:
  - name: mybr
    driver: bridge
    subnet: 10.241.0.0/24
containers:
  - name: c1
    networks: [{ mybr: { ip: 10.241.0.11, mac: "02:42:0a:f1:00:0b" } }]
  - name: c2
    networks: [{ mybr: { ip: 10.241.0.12, mac: "02:42:0a:f1:00:0c" } }]
`;

// ---- the control socket -------------------------------------------------------------

const Control = suite('netwasmd: the control socket');

hostTest(Control, 'mode 0600 owned by root; malformed requests get errors and the daemon keeps serving; one daemon per socket; SIGTERM cleans up', async () => {
  const dir = tempDir('netwasmd-ctl-');
  const file = scenario(dir, TWO('c1/eth0: nosuchif0'));
  const sock = join(dir, 'run', 'netwasmd.sock');
  const d = await Daemon.start([file], { socket: sock });
  try {
    const st = statSync(sock);
    assert.ok(st.isSocket(), 'a Unix socket');
    assert.is(st.mode & 0o777, 0o600, 'mode 0600');
    assert.is(st.uid, 0, 'owned by root');
    assert.ok(existsSync(`${sock}.lock`), 'the lock file holds the path');

    const info = (await d.ctl('info')) as { pid: number; host: string; ports: number };
    assert.is(info.pid, d.proc.pid);
    assert.is(info.host, 'local');
    assert.is(info.ports, 2);
    // A binding whose interface does not exist waits for it.
    const ports = (await d.ctl('ports')) as PortInfo[];
    assert.equal(ports.map((p) => [p.port, p.state, p.binding?.iface ?? null]), [['c1/eth0', 'waiting', 'nosuchif0'], ['c2/eth0', 'unbound', null]]);

    // Malformed requests on one connection: each gets its error, the connection stays usable.
    const r = await controlLines(
      [
        'this is not json',
        '[1, 2]',
        '{"cmd": "launch-missiles"}',
        '{"id": 3, "cmd": "rm-container", "args": {"name": 42}}',
        '{"id": 4, "cmd": "rm-container", "args": {"name": "ghost"}}',
        '{"id": "five", "cmd": "info", "args": {"verbose": true}}',
        '{"id": 6, "cmd": "info", "extra": 1}',
        '{"id": 7, "cmd": "add-backend", "args": {"service": "nope", "container": "c1"}}',
        '{"id": 8, "cmd": "info"}',
      ],
      { socket: sock },
    );
    const codes = r.map((x) => (x.ok ? 'ok' : x.error.code));
    assert.equal(codes, ['bad-request', 'bad-request', 'unknown-command', 'bad-request', 'not-found', 'bad-request', 'bad-request', 'not-found', 'ok']);
    assert.equal(r.map((x) => x.id), [null, null, null, 3, 4, 'five', 6, 7, 8], 'ids echoed back');
    assert.match((r[0] as { error: { message: string } }).error.message, /malformed JSON/);
    assert.match((r[4] as { error: { message: string } }).error.message, /No such container: ghost/);
    assert.match((r[7] as { error: { message: string } }).error.message, /service nope not found/);

    // A request over the size limit: an error, then the connection is closed.
    const big = await new Promise<string>((res, rej) => {
      const s = createConnection(sock);
      let got = '';
      s.on('data', (b) => (got += b));
      s.on('close', () => res(got));
      s.on('error', rej);
      s.write('{"cmd":"info","args":{"pad":"' + 'x'.repeat(100_000));
    });
    assert.match(big, /"code":"too-large"/);
    // ... and the daemon still serves.
    assert.is(((await d.ctl('info')) as { pid: number }).pid, d.proc.pid);
    assert.is(d.exitCode, undefined, 'still running');

    // SIGHUP reloads the scenario (nothing changed in it).
    d.signal('SIGHUP');
    await d.waitLog(/SIGHUP: reloaded \(0 change\(s\)\)/);

    // A second daemon on the same socket refuses to start.
    const second = await Daemon.start([file], { socket: sock, ready: false });
    assert.is(await second.exited, 1);
    assert.match(second.log, new RegExp(`another netwasmd \\(pid ${d.proc.pid}\\) holds`));
    assert.ok(existsSync(sock), 'the first daemon\'s socket is untouched');
    assert.is(((await d.ctl('info')) as { pid: number }).pid, d.proc.pid);

    // SIGTERM: exit 0, socket and lock removed.
    assert.is(await d.stop(), 0);
    assert.match(d.log, /SIGTERM: shutting down/);
    assert.not.ok(existsSync(sock), 'socket removed');
    assert.not.ok(existsSync(`${sock}.lock`), 'lock removed');
    const gone = await d.ctl('info').then(() => null, (e: Error) => e);
    assert.match(String(gone?.message), /Cannot connect to the netwasm daemon/);
  } finally {
    d.kill();
  }
});

hostTest(Control, 'a stale socket and lock (daemon killed) are taken over; scenario and command-line errors exit 2', async () => {
  const dir = tempDir('netwasmd-ctl-');
  const file = scenario(dir, TWO('c1/eth0: nosuchif0'));
  const sock = join(dir, 'netwasmd.sock');
  const d = await Daemon.start([file], { socket: sock });
  d.kill();
  await d.exited;
  assert.ok(existsSync(sock) && existsSync(`${sock}.lock`), 'SIGKILL leaves both behind');
  const d2 = await Daemon.start([file], { socket: sock });
  try {
    assert.is(((await d2.ctl('info')) as { pid: number }).pid, d2.proc.pid);
  } finally {
    assert.is(await d2.stop(), 0);
  }
  const bad = await Daemon.start([file, '--bind', 'c9/eth0=lo'], { socket: join(dir, 'b.sock'), ready: false });
  assert.is(await bad.exited, 2);
  assert.match(bad.log, /--bind c9\/eth0: no such port c9\/eth0 on host local/);
  const usage = await Daemon.start([file, '--frobnicate'], { socket: join(dir, 'c.sock'), ready: false });
  assert.is(await usage.exited, 2);
  assert.match(usage.log, /unknown flag: --frobnicate/);
  mkdirSync(join(dir, 'bad'));
  const broken = scenario(join(dir, 'bad'), 'networks:\n  - name: x\n    driver: bridge\n    subnet: 10.0.0.0/33\n');
  const d3 = await Daemon.start([broken], { socket: join(dir, 'd.sock'), ready: false });
  assert.is(await d3.exited, 2);
  assert.match(d3.log, /scenario\.yaml: networks\[0\]/);
});

// ---- two containers on a netwasm bridge ------------------------------------------------

const Bridge = suite('netwasmd: containers on a netwasm bridge');

hostTest(Bridge, 'two containers: ping both ways, 12 MiB of TCP each way intact; the kernel bridges nothing; ps/ports/counters', async () => {
  const set = new NetnsSet();
  const dir = tempDir('netwasmd-br-');
  const e1 = ifName('nwd');
  const e2 = ifName('nwd');
  const file = scenario(dir, TWO(`c1/eth0: ${e1}`));
  let d: Daemon | undefined;
  try {
    const a = set.add(netnsName('nwda'));
    const b = set.add(netnsName('nwdb'));
    container(set, a, e1, '10.241.0.11/24', { mac: '02:42:0a:f1:00:0b' });
    container(set, b, e2, '10.241.0.12/24', { mac: '02:42:0a:f1:00:0c' });
    // c1 from the file's bind:, c2 from the command line.
    d = await Daemon.start([file, '--bind', `c2/eth0=${e2}`], { socket: join(dir, 'nw.sock') });
    assert.is(await ping(a, '10.241.0.12'), 3, 'c1 -> c2');
    assert.is(await ping(b, '10.241.0.11'), 3, 'c2 -> c1');
    const ab = await transfer(a, b, '10.241.0.12', 12);
    assert.is(ab.got, ab.sent, 'c1 -> c2: same bytes, same sha256');
    const ba = await transfer(b, a, '10.241.0.11', 12);
    assert.is(ba.got, ba.sent, 'c2 -> c1: same bytes, same sha256');
    assert.ok(Number(ab.got.split(' ')[0]) >= 12 << 20);

    for (const r of [e1, e2]) {
      const info = JSON.parse(run('ip', ['-j', '-d', 'addr', 'show', 'dev', r]))[0] as { master?: string; addr_info: Array<{ family: string }> };
      assert.is(info.master, undefined, `${r} is in no bridge`);
      assert.equal(info.addr_info.filter((x) => x.family === 'inet'), [], `${r} has no IPv4 address`);
    }

    const ports = (await d.ctl('ports')) as PortInfo[];
    assert.equal(ports.map((p) => [p.port, p.network, p.binding?.iface, p.state]), [['c1/eth0', 'mybr', e1, 'up'], ['c2/eth0', 'mybr', e2, 'up']]);
    assert.ok(ports.every((p) => p.rx > 0 && p.tx > 0 && p.rxDropped === 0 && p.txDropped === 0));
    const c = (await d.ctl('counters')) as { counters: Record<string, number> };
    assert.ok(c.counters['bridge-forward']! > 0, 'forwarded by the netwasm bridge');
    assert.is(c.counters['host-rx'], c.counters['graph-rx'], 'every frame received went through the data plane');
    assert.is(c.counters['graph-drop'] ?? 0, 0);

    // The CLI side.
    const sockFlag = ['--socket', d.socket];
    let o = io();
    assert.is(await psCmd(sockFlag, o), 0, o.err());
    assert.match(o.out(), /CONTAINER ID\s+NAMES\s+NETWORKS\s+IP ADDRESS\s+INTERFACES/);
    assert.match(o.out(), /c1\s+mybr\s+10\.241\.0\.11\s+eth0:up/);
    o = io();
    assert.is(await portsCmd(sockFlag, o), 0, o.err());
    assert.match(o.out(), new RegExp(`c2/eth0\\s+1\\s+mybr\\s+${e2}\\s+up`));
    o = io();
    assert.is(await countersCmd([...sockFlag, '--json', 'bridge-'], o), 0, o.err());
    const cj = JSON.parse(o.out()) as { counters: Record<string, number> };
    assert.ok(Object.keys(cj.counters).length > 0 && Object.keys(cj.counters).every((k) => k.includes('bridge-')));
    o = io();
    assert.is(await ctlCmd(['rm-container', ...sockFlag, 'ghost'], o), 1);
    assert.match(o.err(), /Error response from daemon: No such container: ghost/);
    o = io();
    assert.is(await psCmd(['--socket', join(dir, 'none.sock')], o), 1);
    assert.match(o.err(), /Cannot connect to the netwasm daemon at unix:\/\/.*none\.sock\. Is netwasmd running\?/);
  } finally {
    if (d) assert.is(await d.stop(), 0);
    set.cleanup();
  }
});

hostTest(Bridge, 'run-time changes: add-container (its interface appears later), traffic, rm-container; learned stations survive; reload', async () => {
  const set = new NetnsSet();
  const dir = tempDir('netwasmd-rt-');
  const e1 = ifName('nwd');
  const e2 = ifName('nwd');
  const e3 = ifName('nwd');
  const file = scenario(dir, TWO(`c1/eth0: ${e1}, c2/eth0: ${e2}`));
  let d: Daemon | undefined;
  try {
    const a = set.add(netnsName('nwda'));
    const b = set.add(netnsName('nwdb'));
    const c = set.add(netnsName('nwdc'));
    container(set, a, e1, '10.241.0.11/24', { mac: '02:42:0a:f1:00:0b' });
    container(set, b, e2, '10.241.0.12/24', { mac: '02:42:0a:f1:00:0c' });
    d = await Daemon.start([file], { socket: join(dir, 'nw.sock') });
    assert.is(await ping(a, '10.241.0.12'), 3);
    const sockFlag = ['--socket', d.socket];

    // docker run --network mybr: the daemon allocates the address, the interface comes later.
    let o = io();
    assert.is(await ctlCmd(['add-container', ...sockFlag, '--network', 'mybr', '--bind', `eth0=${e3}`, 'c3'], o), 0, o.err());
    assert.match(o.out(), /^[0-9a-f]{64}\n$/, 'prints the container ID');
    const c3 = ((await d.ctl('ports')) as PortInfo[]).find((p) => p.port === 'c3/eth0')!;
    assert.is(c3.state, 'waiting', 'the interface does not exist yet');
    assert.is(c3.ip, '10.241.0.2/24', 'the lowest free address of the pool (.1 is the gateway)');
    assert.is((await d.ctl('info') as { compiles: number }).compiles, 1, 'applied in place, no recompile');
    container(set, c, e3, c3.ip!, { mac: c3.mac! });
    await d.waitLog(new RegExp(`port c3/eth0 \\(id \\d+\\): interface ${e3} up`));
    assert.is(await ping(c, '10.241.0.11'), 3, 'c3 -> c1');
    assert.is(await ping(b, '10.241.0.2'), 3, 'c2 -> c3');
    const before = ((await d.ctl('counters')) as { counters: Record<string, number> }).counters['bridge-learned'];

    // rm-container: the port leaves the bridge, its traffic stops.
    o = io();
    assert.is(await ctlCmd(['rm-container', ...sockFlag, 'c3'], o), 0, o.err());
    assert.not.ok(((await d.ctl('ports')) as PortInfo[]).some((p) => p.port === 'c3/eth0'));
    await d.waitLog(new RegExp(`port c3/eth0: ${e3} released`));
    assert.is(await ping(c, '10.241.0.11', 1), 0, 'c3 is gone');
    assert.is(await ping(a, '10.241.0.12'), 3, 'c1 <-> c2 unaffected');
    const after = ((await d.ctl('counters')) as { counters: Record<string, number> }).counters['bridge-learned'];
    assert.is(after, before, 'c1 and c2 were not learned again: the FDB survived the change');

    // reload: a container added to the file joins; run-time changes are kept (c3 stays removed).
    writeFileSync(file, TWO(`c1/eth0: ${e1}, c2/eth0: ${e2}, c4/eth0: ${e3}`) + '  - name: c4\n    networks: [{ mybr: { ip: 10.241.0.14, mac: "02:42:0a:f1:00:0e" } }]\n');
    run('ip', ['link', 'del', e3]);
    container(set, c, e3, '10.241.0.14/24', { mac: '02:42:0a:f1:00:0e' });
    o = io();
    assert.is(await ctlCmd(['reload', ...sockFlag], o), 0, o.err());
    assert.match(o.out(), /port c4\/eth0 joined mybr/);
    await d.waitLog(new RegExp(`port c4/eth0 \\(id \\d+\\): interface ${e3} up`));
    assert.is(await ping(c, '10.241.0.11'), 3, 'c4 -> c1');
    const ps = (await d.ctl('ps')) as { name: string }[];
    assert.equal(ps.map((x) => x.name), ['c1', 'c2', 'c4']);

    // A change the model refuses leaves everything as it was.
    const e = await ctlError(d.ctl('add-container', { name: 'c5', networks: [{ network: 'mybr', ip: '10.241.0.11' }] }));
    assert.is(e.code, 'forbidden', 'libnetwork\'s category for ErrIPAlreadyAllocated');
    assert.is(e.message, 'Address already in use');
    assert.equal(((await d.ctl('ps')) as { name: string }[]).map((x) => x.name), ['c1', 'c2', 'c4']);
    const e2b = await ctlError(d.ctl('add-container', { name: 'c6', bind: { eth0: e1 } }));
    assert.is(e2b.code, 'conflict', 'one interface, two ports');
    assert.is(await ping(a, '10.241.0.12'), 3);
    // The model rebuilt after the refusals is the same one: the next change still applies in place.
    const r7 = (await d.ctl('add-container', { name: 'c7', networks: [{ network: 'mybr' }] })) as { changes: string[] };
    assert.equal(r7.changes.map((x) => x.replace(/\(port \d+\)/, '')), ['port c7/eth0 joined mybr '], 'in place');
    assert.is(((await d.ctl('info')) as { compiles: number }).compiles, 1, 'one compile since start, reload included');
  } finally {
    if (d) assert.is(await d.stop(), 0);
    set.cleanup();
  }
});

// ---- faults -------------------------------------------------------------------------------

const Faults = suite('netwasmd: faults');

hostTest(Faults, 'an interface deleted and re-created while running: reported down, then up, traffic resumes; SIGTERM removes its TAP', async () => {
  const set = new NetnsSet();
  const dir = tempDir('netwasmd-fault-');
  const e1 = ifName('nwd');
  const e2 = ifName('nwd');
  const tap = ifName('nwt');
  const file = scenario(dir, TWO(`c1/eth0: ${e1}, c2/eth0: ${e2}`) + '  - name: c3\n    networks: [mybr]\n');
  let d: Daemon | undefined;
  try {
    const a = set.add(netnsName('nwda'));
    const b = set.add(netnsName('nwdb'));
    container(set, a, e1, '10.241.0.11/24', { mac: '02:42:0a:f1:00:0b' });
    container(set, b, e2, '10.241.0.12/24', { mac: '02:42:0a:f1:00:0c' });
    d = await Daemon.start([file, '--tap', `c3/eth0=${tap}`], { socket: join(dir, 'nw.sock') });
    assert.ok(existsSync(`/sys/class/net/${tap}`), 'the TAP exists while netwasmd runs');
    assert.is(await ping(a, '10.241.0.12'), 3, 'before');

    run('ip', ['link', 'del', e2]);
    await d.waitLog(new RegExp(`port c2/eth0 \\(${e2}\\): down: interface deleted`));
    let p2 = ((await d.ctl('ports')) as PortInfo[]).find((p) => p.port === 'c2/eth0')!;
    assert.is(p2.state, 'down');
    assert.is(p2.reason, 'interface deleted');
    assert.is(await ping(a, '10.241.0.12', 1), 0, 'nothing gets through meanwhile');
    assert.is(d.exitCode, undefined, 'the daemon keeps running');

    container(set, b, e2, '10.241.0.12/24', { mac: '02:42:0a:f1:00:0c' });
    await d.waitLog(new RegExp(`port c2/eth0 \\(${e2}\\): up again`));
    p2 = ((await d.ctl('ports')) as PortInfo[]).find((p) => p.port === 'c2/eth0')!;
    assert.is(p2.state, 'up');
    assert.is(await ping(a, '10.241.0.12'), 3, 'after');
    assert.is(await ping(b, '10.241.0.11'), 3, 'and back');

    assert.is(await d.stop(), 0);
    assert.match(d.log, /netwasmd: stopped/);
    await sleep(50);
    assert.not.ok(existsSync(`/sys/class/net/${tap}`), 'its TAP is gone with it');
  } finally {
    d?.kill();
    set.cleanup();
  }
});

Control.run();
Bridge.run();
Faults.run();


