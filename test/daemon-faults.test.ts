// netwasmd under faults (issue 9, "Daemon faults"): killed with SIGKILL while
// forwarding and started again on the same scenario and socket; SIGTERM while
// frames flow; an egress interface that refuses every frame (ENOBUFS from
// sendmmsg); more control connections than the daemon takes. Containers are
// network namespaces on veth pairs with the kernel's default offloads; the
// root-namespace ends carry no address and sit in no bridge.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { join } from 'node:path';
import { countersCmd } from '../src/cli/ctl.ts';
import type { PortInfo } from '../src/daemon/daemon.ts';
import { LineSplitter } from '../src/daemon/protocol.ts';
import { hostTest, ifName, netnsName, NetnsSet, run } from './helpers/netns.ts';
import { container, Daemon, ping, py, sleep, spawnIn, tempDir, transfer, until } from './daemon-helpers.ts';

const scenarioText = (binds: string): string => `
default_bridge: false
hosts:
  - name: local
    bind: { ${binds} }
networks:
  - name: mybr
    driver: bridge
    subnet: 10.242.0.0/24
containers:
  - name: c1
    networks: [{ mybr: { ip: 10.242.0.11, mac: "02:42:0a:f2:00:0b" } }]
  - name: c2
    networks: [{ mybr: { ip: 10.242.0.12, mac: "02:42:0a:f2:00:0c" } }]
  - name: c3
    networks: [{ mybr: { ip: 10.242.0.13, mac: "02:42:0a:f2:00:0d" } }]
`;

function writeScenario(dir: string, binds: string): string {
  const f = join(dir, 'scenario.yaml');
  writeFileSync(f, scenarioText(binds));
  return f;
}

const sha256 = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');

const MAC = { c1: '02:42:0a:f2:00:0b', c2: '02:42:0a:f2:00:0c', c3: '02:42:0a:f2:00:0d' };

/** Namespaces a, b (and c) as containers c1, c2 (c3) behind root-namespace veth ends. */
function containers(set: NetnsSet, n: 2 | 3): { ns: string[]; ends: string[] } {
  const ns: string[] = [];
  const ends: string[] = [];
  for (let i = 0; i < n; i++) {
    const name = (['c1', 'c2', 'c3'] as const)[i]!;
    const x = set.add(netnsName(`nwf${name}`));
    const e = ifName('nwf');
    container(set, x, e, `10.242.0.1${i + 1}/24`, { mac: MAC[name] });
    ns.push(x);
    ends.push(e);
  }
  return { ns, ends };
}

/** A bulk TCP transfer that runs until stopped (to have frames flowing). */
function bulkFlow(from: string, to: string, addr: string, port: number): { started: Promise<void>; stop: () => void } {
  const srv = spawnIn(to, ['python3', py('server.py'), addr, String(port)], 40000);
  srv.done.catch(() => {});
  let cli: ReturnType<typeof spawnIn> | undefined;
  const started = srv.started.then(() => {
    cli = spawnIn(from, ['python3', py('client.py'), addr, String(port), '2000'], 40000);
    cli.done.catch(() => {});
  });
  return { started, stop: () => { cli?.kill(); srv.kill(); } };
}

interface Link { ifname: string; flags: string[]; promiscuity?: number; master?: string; linkinfo?: { info_kind?: string } }
const link = (name: string): Link => (JSON.parse(run('ip', ['-j', '-d', 'link', 'show', 'dev', name])) as Link[])[0]!;

async function counters(d: Daemon): Promise<Record<string, number>> {
  return ((await d.ctl('counters')) as { counters: Record<string, number> }).counters;
}

/** Waits until the daemon has forwarded `n` more frames than now (frames are flowing). */
async function flowing(d: Daemon, n: number): Promise<void> {
  const from = (await counters(d))['host-tx'] ?? 0;
  await until('frames to flow through netwasmd', async () => ((await counters(d))['host-tx'] ?? 0) >= from + n, 10000);
}

// ---- SIGKILL, SIGTERM ----------------------------------------------------------------------

const Kill = suite('netwasmd faults: killed and restarted, stopped mid-traffic');

hostTest(Kill, 'SIGKILL mid-traffic, then a new netwasmd on the same scenario and socket takes over and forwards', async () => {
  const set = new NetnsSet();
  const dir = tempDir('netwasmd-kill-');
  const sock = join(dir, 'run', 'nw.sock');
  const tap = ifName('nwft');
  let d1: Daemon | undefined;
  let d2: Daemon | undefined;
  let flow: ReturnType<typeof bulkFlow> | undefined;
  try {
    const { ns: [a, b], ends: [e1, e2] } = containers(set, 2);
    const file = writeScenario(dir, `c1/eth0: ${e1}, c2/eth0: ${e2}`);
    const fileHash = sha256(file);
    const args = [file, '--tap', `c3/eth0=${tap}`];
    d1 = await Daemon.start(args, { socket: sock });
    assert.is(await ping(a!, '10.242.0.12'), 3, 'before: c1 -> c2');
    assert.ok(existsSync(`/sys/class/net/${tap}`), 'its TAP exists');
    for (const e of [e1!, e2!]) assert.ok(link(e).promiscuity! > 0, `${e} is promiscuous while netwasmd holds it`);

    flow = bulkFlow(a!, b!, '10.242.0.12', 5301);
    await flow.started;
    await flowing(d1, 2000);
    d1.kill();
    assert.is(await d1.exited, -1, 'killed by the signal');
    flow.stop();

    // What SIGKILL leaves: the socket and the lock (stale), nothing else of the daemon's.
    assert.ok(statSync(sock).isSocket(), 'the stale socket is still a socket');
    assert.is(readFileSync(`${sock}.lock`, 'utf8'), `${d1.proc.pid}\n`, 'the stale lock holds the dead daemon\'s pid, whole');
    await until(`TAP ${tap} to go with its process`, () => !existsSync(`/sys/class/net/${tap}`), 3000);
    for (const e of [e1!, e2!]) {
      const l = link(e);
      assert.is(l.promiscuity, 0, `${e}: the kernel dropped the dead socket's promiscuous membership`);
      assert.ok(l.flags.includes('UP'), `${e} still up`);
      assert.is(l.master, undefined, `${e} in no bridge`);
    }
    assert.is(await ping(a!, '10.242.0.12', 1), 0, 'nothing forwards c1 -> c2 without netwasmd');

    d2 = await Daemon.start(args, { socket: sock });
    const info = (await d2.ctl('info')) as { pid: number };
    assert.is(info.pid, d2.proc.pid, 'the new daemon answers on the old path');
    assert.is(readFileSync(`${sock}.lock`, 'utf8'), `${d2.proc.pid}\n`, 'the lock is the new daemon\'s');
    const st = statSync(sock);
    assert.ok(st.isSocket());
    assert.is(st.mode & 0o777, 0o600, 'mode 0600 again');
    assert.ok(existsSync(`/sys/class/net/${tap}`), 'its TAP is back');
    const ports = (await d2.ctl('ports')) as PortInfo[];
    assert.equal(ports.map((p) => [p.port, p.state]), [['c1/eth0', 'up'], ['c2/eth0', 'up'], ['c3/eth0', 'up']]);

    assert.is(await ping(a!, '10.242.0.12'), 3, 'after: c1 -> c2');
    assert.is(await ping(b!, '10.242.0.11'), 3, 'after: c2 -> c1');
    const t = await transfer(a!, b!, '10.242.0.12', 8, 5302);
    assert.is(t.got, t.sent, 'after: 8 MiB c1 -> c2, same sha256');
    assert.ok(Number(t.got.split(' ')[0]) >= 8 << 20);
    const c = await counters(d2);
    assert.is(c['graph-drop'] ?? 0, 0, 'nothing dropped by the new data plane');
    assert.is(sha256(file), fileHash, 'the scenario file is untouched');

    assert.is(await d2.stop(), 0);
    assert.not.ok(existsSync(sock), 'socket removed');
    assert.not.ok(existsSync(`${sock}.lock`), 'lock removed');
    await until(`TAP ${tap} removed`, () => !existsSync(`/sys/class/net/${tap}`), 3000);
  } finally {
    flow?.stop();
    d1?.kill();
    d2?.kill();
    set.cleanup();
  }
});

hostTest(Kill, 'SIGTERM while frames flow: exit 0 within 5 s, socket, lock and TAP removed', async () => {
  const set = new NetnsSet();
  const dir = tempDir('netwasmd-term-');
  const sock = join(dir, 'nw.sock');
  const tap = ifName('nwft');
  let d: Daemon | undefined;
  let flow: ReturnType<typeof bulkFlow> | undefined;
  try {
    const { ns: [a, b], ends: [e1, e2] } = containers(set, 2);
    const file = writeScenario(dir, `c1/eth0: ${e1}, c2/eth0: ${e2}`);
    d = await Daemon.start([file, '--tap', `c3/eth0=${tap}`], { socket: sock });
    flow = bulkFlow(b!, a!, '10.242.0.11', 5303);
    await flow.started;
    await flowing(d, 2000);
    await flowing(d, 2000); // still flowing right before the signal
    const t0 = Date.now();
    d.signal('SIGTERM');
    const code = await Promise.race([d.exited, sleep(5000).then(() => 'timeout' as const)]);
    const took = Date.now() - t0;
    assert.is(code, 0, `exit 0 within 5 s (got ${code} after ${took} ms)\n${d.log}`);
    assert.match(d.log, /SIGTERM: shutting down\n(.*\n)*netwasmd: stopped\n$/);
    assert.not.ok(existsSync(sock), 'socket removed');
    assert.not.ok(existsSync(`${sock}.lock`), 'lock removed');
    await until(`TAP ${tap} removed`, () => !existsSync(`/sys/class/net/${tap}`), 3000);
    for (const e of [e1!, e2!]) assert.is(link(e).promiscuity, 0, `${e} released`);
  } finally {
    flow?.stop();
    d?.kill();
    set.cleanup();
  }
});

hostTest(Kill, 'a lock left empty or garbled (killed while writing it) and a stale socket are taken over', async () => {
  const dir = tempDir('netwasmd-lock-');
  const file = writeScenario(dir, 'c1/eth0: nosuchif0');
  const sock = join(dir, 'nw.sock');
  for (const content of ['', '12ab\n']) {
    const d = await Daemon.start([file], { socket: sock });
    d.kill();
    await d.exited;
    writeFileSync(`${sock}.lock`, content);
    const d2 = await Daemon.start([file], { socket: sock });
    try {
      assert.is(((await d2.ctl('info')) as { pid: number }).pid, d2.proc.pid, `lock ${JSON.stringify(content)} taken over`);
      assert.is(readFileSync(`${sock}.lock`, 'utf8'), `${d2.proc.pid}\n`);
    } finally {
      assert.is(await d2.stop(), 0);
    }
    assert.not.ok(existsSync(sock) || existsSync(`${sock}.lock`), 'both removed');
  }
});

// ---- an egress interface that takes nothing -----------------------------------------------

const Full = suite('netwasmd faults: an egress interface that refuses frames');

// flood.py DST PORT COUNT: COUNT UDP datagrams as fast as the socket takes them; prints how many went.
const FLOOD = `
import socket, sys, errno
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); n = 0
for i in range(int(sys.argv[3])):
    try: s.sendto(b'x' * 200, (sys.argv[1], int(sys.argv[2]))); n += 1
    except OSError as e:
        if e.errno not in (errno.ENOBUFS, errno.EAGAIN): raise
print(n)
`;

hostTest(Full, 'sendmmsg gets ENOBUFS on one port: counted as host-tx-nobufs (netwasm counters), the daemon serves, other ports forward', async () => {
  const set = new NetnsSet();
  const dir = tempDir('netwasmd-full-');
  const flood = join(dir, 'flood.py');
  writeFileSync(flood, FLOOD);
  let d: Daemon | undefined;
  try {
    const { ns: [a, b, c], ends: [e1, e2, e3] } = containers(set, 3);
    const file = writeScenario(dir, `c1/eth0: ${e1}, c2/eth0: ${e2}, c3/eth0: ${e3}`);
    // c2's end drops everything at its queueing discipline: a pfifo of length 0
    // cannot be bypassed, so every frame netwasmd sends there fails with
    // ENOBUFS (NET_XMIT_DROP), as on a saturated egress queue.
    run('tc', ['qdisc', 'replace', 'dev', e2!, 'root', 'pfifo', 'limit', '0']);
    d = await Daemon.start([file], { socket: join(dir, 'nw.sock') });

    assert.is(await ping(a!, '10.242.0.13'), 3, 'c1 -> c3');
    // c2 talks (its ARP requests teach the bridge where c2 is) but hears nothing back.
    assert.is(await ping(b!, '10.242.0.11', 1), 0, 'c2 hears nothing');
    const before = await counters(d);
    assert.ok((before['host-tx-nobufs'] ?? 0) > 0, 'the replies to c2 already failed with ENOBUFS');

    // Flood c2 from c1 (its MAC is known: unicast to c2's port only), while c1 and c3 talk and the socket is asked.
    set.exec(a!, `ip neigh replace 10.242.0.12 lladdr ${MAC.c2} dev eth0 nud permanent`);
    const N = 30000;
    const fl = spawnIn(a!, ['python3', flood, '10.242.0.12', '9', String(N)]);
    const pinging = ping(c!, '10.242.0.11', 5);
    let answered = 0;
    let fin = false;
    void fl.done.finally(() => (fin = true)).catch(() => {});
    while (!fin) {
      assert.is(((await d.ctl('info')) as { pid: number }).pid, d.proc.pid, 'the daemon answers during the flood');
      answered++;
      await sleep(20);
    }
    const sent = Number(await fl.done);
    assert.ok(sent > N / 2, `the flood went out of c1 (${sent})`);
    assert.ok(answered > 0);
    assert.is(await pinging, 5, 'c3 -> c1 during the flood');
    const t = await transfer(a!, c!, '10.242.0.13', 4, 5304);
    assert.is(t.got, t.sent, 'c1 -> c3: 4 MiB intact');

    // Visible through `netwasm counters`.
    let out = '';
    const io = { stdout: { write: (s: string) => void (out += s) }, stderr: { write: (s: string) => void (out += s) } };
    assert.is(await countersCmd(['--socket', d.socket, '--json', 'host-tx'], io), 0, out);
    const cj = (JSON.parse(out) as { counters: Record<string, number> }).counters;
    const nobufs = cj['host-tx-nobufs'] ?? 0;
    const rx = (await counters(d))['host-rx'] ?? 0;
    assert.ok(nobufs - (before['host-tx-nobufs'] ?? 0) >= sent * 0.9, `host-tx-nobufs counts the flood (${nobufs} for ${sent} sent, ${rx} received)`);
    assert.ok((cj['host-tx'] ?? 0) > 0, 'frames to other ports are sent');
    assert.is(cj['host-tx-error'] ?? 0, 0, 'no other kind of failure');
    const ports = (await d.ctl('ports')) as PortInfo[];
    const p2 = ports.find((p) => p.port === 'c2/eth0')!;
    assert.is(p2.state, 'up', 'the port stays up');
    assert.ok(p2.txDropped >= sent * 0.9, `its failed frames are the port's tx drops (${p2.txDropped})`);
    assert.is(p2.tx, 0, 'nothing went out of it');
    for (const p of ports.filter((x) => x.port !== 'c2/eth0')) assert.is(p.txDropped, 0, `${p.port} lost nothing`);
    assert.is(d.exitCode, undefined, 'still running');

    // The queue takes frames again: so does the port.
    run('tc', ['qdisc', 'del', 'dev', e2!, 'root']);
    // c2's neighbour entry for c1 failed while its replies were refused: the
    // first echo may wait on a fresh ARP exchange (1 s each on a loaded machine).
    await until('c2 to hear c1 again', async () => (await ping(b!, '10.242.0.11', 1)) === 1, 10000);
    assert.is(await ping(b!, '10.242.0.11'), 3, 'c2 -> c1 once its interface takes frames');
    assert.is(await d.stop(), 0);
  } finally {
    d?.kill();
    set.cleanup();
  }
});

// ---- control connections ------------------------------------------------------------------

const Conns = suite('netwasmd faults: control connections');

/** A control connection kept open: request() sends one line and waits for its answer. */
class Conn {
  readonly s: Socket;
  private readonly split = new LineSplitter(1 << 20);
  private readonly lines: string[] = [];
  private waiters: Array<() => void> = [];
  closed = false;
  constructor(path: string) {
    this.s = createConnection(path);
    this.s.on('data', (b: Buffer) => {
      this.lines.push(...this.split.push(b));
      this.wake();
    });
    this.s.on('close', () => {
      this.closed = true;
      this.wake();
    });
    this.s.on('error', () => {});
  }
  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    w.forEach((f) => f());
  }
  /** The next line the daemon sends (null if it closes the connection first). */
  async next(ms = 10000): Promise<string | null> {
    const end = Date.now() + ms;
    while (this.lines.length === 0) {
      if (this.closed) return null;
      if (Date.now() > end) throw new Error('no answer from netwasmd');
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 100);
      });
    }
    return this.lines.shift()!;
  }
  async request(id: number, cmd = 'info'): Promise<{ id: unknown; ok: boolean; result?: { pid: number }; error?: { code: string } }> {
    this.s.write(JSON.stringify({ id, cmd }) + '\n');
    const l = await this.next();
    if (l === null) throw new Error(`connection closed before answering request ${id}`);
    return JSON.parse(l);
  }
  async closedByPeer(ms = 5000): Promise<void> {
    await until('netwasmd to close the connection', () => this.closed, ms);
  }
  end(): void {
    this.s.destroy();
  }
}

hostTest(Conns, '64 connections at once are served; the 65th is told busy and closed; the daemon keeps serving', async () => {
  const dir = tempDir('netwasmd-conns-');
  const file = writeScenario(dir, 'c1/eth0: nosuchif0');
  const sock = join(dir, 'nw.sock');
  const d = await Daemon.start([file], { socket: sock });
  const conns: Conn[] = [];
  try {
    for (let i = 0; i < 64; i++) conns.push(new Conn(sock));
    // Every one answered, all at once: 64 requests in flight together.
    const r = await Promise.all(conns.map((c, i) => c.request(i)));
    assert.ok(r.every((x, i) => x.ok && x.id === i && x.result?.pid === d.proc.pid), 'all 64 answered, each its own id');

    // The 65th and 66th: `busy`, then closed.
    for (const k of [0, 1]) {
      const extra = new Conn(sock);
      const line = await extra.next();
      assert.ok(line !== null, 'told why');
      const busy = JSON.parse(line) as { id: unknown; ok: boolean; error: { code: string; message: string } };
      assert.equal([busy.id, busy.ok, busy.error.code], [null, false, 'busy'], `connection ${65 + k}`);
      assert.match(busy.error.message, /too many connections \(64\)/);
      await extra.closedByPeer();
    }
    // The 64 are unaffected.
    const again = await Promise.all(conns.map((c, i) => c.request(100 + i, 'ports')));
    assert.ok(again.every((x, i) => x.ok && x.id === 100 + i), 'the 64 still served');

    // One leaves: a newcomer gets its place.
    conns.shift()!.end();
    await until('the daemon to see a connection go', async () => {
      const c = new Conn(sock);
      try {
        const res = await c.request(7);
        if (!res.ok) return false;
        conns.push(c);
        return true;
      } catch {
        return false;
      } finally {
        if (!conns.includes(c)) c.end();
      }
    });
    const busyAgain = new Conn(sock);
    assert.match(String(await busyAgain.next()), /"code":"busy"/, 'full again');
    busyAgain.end();

    // All leave: served as before, and a flood of short connections in a row too.
    for (const c of conns.splice(0)) c.end();
    await until('the connections to be released', async () => {
      try {
        return ((await d.ctl('info')) as { pid: number }).pid === d.proc.pid;
      } catch {
        return false;
      }
    });
    const many = await Promise.all(Array.from({ length: 60 }, () => d.ctl('info') as Promise<{ pid: number }>));
    assert.ok(many.every((x) => x.pid === d.proc.pid), '60 short connections at once');
    assert.is(d.exitCode, undefined, 'still running');
    assert.is(await d.stop(), 0);
  } finally {
    for (const c of conns) c.end();
    d.kill();
  }
});

Kill.run();
Full.run();
Conns.run();
