// The native adapter itself (native/netwasm.c through src/host): loading,
// errors with clear text, the counters it keeps, and forwarding through the
// event loop of whichever runtime runs this file. The same file runs under
// Node (uv_poll readiness) and Deno 2 (Node-API addon, watcher-thread
// readiness): `npx --yes deno@2 run -A scripts/test.mjs native`.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PortKind } from '../src/dataplane/index.ts';
import * as L from '../src/dataplane/layout.ts';
import { HostLoop, HostPort, hostDataplane, isDeno, native, nativePath, poolOf } from '../src/host/index.ts';
import { hasCommand, hostTest, ifName, netnsName, NetnsSet, run } from './helpers/netns.ts';
import { spawnIn } from './daemon-helpers.ts';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(what: string, ok: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

const Load = suite('native: the addon');

Load('loads through Node-API in this runtime and exposes the adapter', () => {
  assert.ok(nativePath(), 'built by npm install / npm run build:native');
  const n = native();
  for (const f of ['openPacket', 'openTap', 'close', 'ifindex', 'kernelStats', 'bindPool', 'setPort', 'rx', 'tx', 'portStats', 'watch', 'rearm', 'unwatch']) {
    assert.type((n as unknown as Record<string, unknown>)[f], 'function', f);
  }
  assert.is(n.VNET_HDR_LEN, 10, 'struct virtio_net_hdr');
  if (!isDeno) assert.ok(n.hasUvPoll, 'Node: uv_poll found in the process');
});

Load('bindPool refuses a layout that does not fit the memory', () => {
  const dp = hostDataplane({ slots: 4 });
  assert.throws(() => native().bindPool(dp.memory.buffer, { HEADROOM: 128, DESC_SIZE: 64, TX_SIZE: 32, MAX_VECTOR: 256, MAX_TX: 4096, slots: 1 << 20, slotSize: 66048 }), /does not fit the memory/);
  assert.ok(poolOf(dp), 'the real layout fits');
});

Load('bad arguments are TypeErrors that name the argument', () => {
  assert.throws(() => native().openPacket('', {}), /ifname must be a non-empty interface name/);
  assert.throws(() => native().openPacket('a-name-far-too-long-for-linux', {}), /at most 15 bytes/);
  assert.throws(() => native().openTap('a-name-far-too-long-for-linux', {}), /at most 15 bytes/);
});

const Errors = suite('native: errors from the system');

hostTest(Errors, 'a missing interface: ENODEV, and the message says so', () => {
  try {
    HostPort.openPacket('nwnosuch0');
    assert.unreachable('opened a missing interface');
  } catch (e) {
    const err = e as Error & { code?: string };
    assert.is(err.code, 'ENODEV');
    assert.match(err.message, 'no such interface "nwnosuch0"');
  }
});

hostTest(Errors, 'without CAP_NET_RAW: EPERM, and the message says what is needed', () => {
  if (!hasCommand('setpriv')) throw new Error('setpriv (util-linux) is needed for this test');
  const addon = nativePath()!;
  const code = `import { createRequire } from 'node:module';
const m = createRequire(${JSON.stringify(addon)})(${JSON.stringify(addon)});
try { m.openPacket('lo', {}); console.log('opened'); } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }`;
  const argv = isDeno ? ['eval', code] : ['--input-type=module', '-e', code];
  const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', '--bounding-set=-all', process.execPath, ...argv], {
    encoding: 'utf8',
    env: { ...process.env, HOME: tmpdir(), DENO_DIR: join(tmpdir(), 'netwasm-deno-nobody') },
  });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  assert.ok(line.startsWith('{'), `child printed: ${r.stdout} ${r.stderr}`);
  const got = JSON.parse(line) as { code: string; message: string };
  assert.is(got.code, 'EPERM');
  assert.match(got.message, 'AF_PACKET needs root or CAP_NET_RAW');
});

hostTest(Errors, 'a TAP with a kernel-chosen name exists while open and is gone after close', () => {
  const tap = HostPort.openTap('');
  try {
    assert.match(tap.name, /^tap\d+$/);
    assert.ok(native().ifindex(tap.name) > 0);
  } finally {
    tap.close();
  }
  assert.is(native().ifindex(tap.name), 0);
});

const Counters = suite('native: counters');

/** A veth pair in this namespace with MTU `mtu`, both ends up; returns its names. */
function pair(set: NetnsSet, mtu = 1500): [string, string] {
  const x = ifName('nwn');
  const y = ifName('nwn');
  set.addVethPair({ name: x }, { name: y });
  for (const n of [x, y]) {
    run('sysctl', ['-qw', `net.ipv6.conf.${n}.disable_ipv6=1`]);
    run('ip', ['link', 'set', n, 'mtu', String(mtu), 'up']);
  }
  return [x, y];
}

hostTest(Counters, 'a frame longer than a slot is read with its true length and dropped whole (host-rx-trunc, eth-oversize)', async () => {
  const set = new NetnsSet();
  const dp = hostDataplane({ slots: 16, slotSize: 2048 });
  const loop = new HostLoop(dp, { smallSlots: true });
  try {
    const [x, y] = pair(set, 9000);
    dp.setPort(0, { kind: PortKind.WIRE, aux: 1 });
    dp.setPort(1, { kind: PortKind.WIRE, aux: 0 });
    loop.add(0, HostPort.openPacket(x));
    const frame = '02000000000202000000000188b5' + 'ab'.repeat(4000);
    run('python3', ['-c', `import socket; s=socket.socket(socket.AF_PACKET, socket.SOCK_RAW); s.bind(('${y}',0)); s.send(bytes.fromhex('${frame}'))`]);
    await until('the frame', () => dp.counter('host-rx') > 0n);
    assert.is(dp.counter('host-rx-trunc'), 1n);
    assert.is(dp.counter('eth-oversize'), 1n, 'dropped by the data plane');
    assert.is(dp.counter('graph-tx'), 0n, 'never forwarded half-read');
    assert.is(loop.stats(0).rxBytes, 4014, 'its true length');
    assert.is(dp.freeSlots, 16);
  } finally {
    loop.close();
    set.cleanup();
  }
});

for (const ring of [4096, 0]) {
  hostTest(Counters, `${ring ? 'receive ring' : 'recvmmsg'}: small, jumbo (longer than a ring frame) and 1514-byte frames arrive whole and in order, then a deleted interface is ENETDOWN`, async () => {
    const set = new NetnsSet();
    const dp = hostDataplane({ slots: 64 });
    try {
      const [x, y] = pair(set, 9000);
      const port = HostPort.openPacket(x, { ring });
      assert.is(port.ring, ring, ring ? 'the ring is mapped' : 'no ring asked for');
      const sizes = [60, 9014, 100, 4000, 1514, 2000, 64];
      const frame = (i: number, n: number): string => '020000000002020000000001' + '88b5' + (i.toString(16).padStart(2, '0') + 'ab').repeat((n - 14) >> 1);
      const hex = sizes.map((n, i) => `'${frame(i, n)}'`).join(',');
      run('python3', ['-c', `import socket; s=socket.socket(socket.AF_PACKET, socket.SOCK_RAW); s.bind(('${y}',0))\nfor f in [${hex}]: s.send(bytes.fromhex(f))`]);
      const got: Uint8Array[] = [];
      const end = Date.now() + 5000;
      while (got.length < sizes.length && Date.now() < end) {
        const n = port.rx(dp, 0, 0, 64);
        for (let i = 0; i < n; i++) {
          const d = dp.regions.desc!.ptr + i * L.DESC_SIZE;
          const slot = dp.view.getUint32(d + L.D_SLOT, true);
          const a = dp.slotAddr(slot) + dp.view.getUint32(d + L.D_OFF, true);
          got.push(dp.bytes.slice(a, a + dp.view.getUint32(d + L.D_LEN, true)));
          dp.freeSlot(slot);
        }
        if (!n) await sleep(10);
      }
      assert.equal(got.map((f) => f.length), sizes, 'every frame whole, in order');
      got.forEach((f, i) => assert.is(Buffer.from(f).toString('hex'), frame(i, sizes[i]!), `frame ${i} byte for byte`));
      assert.is(dp.counter('host-rx'), BigInt(sizes.length));
      assert.is(dp.counter('host-rx-trunc'), 0n);
      run('ip', ['link', 'del', x]);
      let code = '';
      for (let i = 0; i < 50 && !code; i++) {
        try {
          port.rx(dp, 0, 0, 64);
        } catch (e) {
          code = (e as { code: string }).code;
        }
        if (!code) await sleep(20);
      }
      assert.is(code, 'ENETDOWN', 'the socket error is reported once the ring is empty');
      port.close();
    } finally {
      set.cleanup();
    }
  });
}

/** A test frame of n bytes (EtherType 0x88b5) whose payload repeats its id i. */
const idFrame = (i: number, n: number): string => '020000000002020000000001' + '88b5' + (i.toString(16).padStart(2, '0') + 'ab').repeat((n - 14) >> 1);

/** Sends frames [id, length] made by idFrame out of interface `ifname`, in order. */
function sendFrames(ifname: string, frames: [number, number][]): void {
  const list = frames.map(([i, n]) => `(${i},${n})`).join(',');
  run('python3', ['-c', `import socket; s=socket.socket(socket.AF_PACKET, socket.SOCK_RAW); s.bind(('${ifname}',0))
for i, n in [${list}]: s.send(bytes.fromhex('020000000002020000000001' + '88b5') + bytes([i, 0xab]) * ((n - 14) // 2))`]);
}

/** Receives on `port` for `ms` (or until `want` frames came): the frames as hex, and the codes of the errors thrown. */
async function drain(port: HostPort, dp: ReturnType<typeof hostDataplane>, ms: number, want = Infinity): Promise<{ frames: string[]; errors: string[] }> {
  const frames: string[] = [];
  const errors: string[] = [];
  const end = Date.now() + ms;
  while (frames.length < want && Date.now() < end) {
    let n = 0;
    try {
      n = port.rx(dp, 0, 0, 64);
    } catch (e) {
      errors.push((e as { code: string }).code);
      continue;
    }
    for (let i = 0; i < n; i++) {
      const d = dp.regions.desc!.ptr + i * L.DESC_SIZE;
      const slot = dp.view.getUint32(d + L.D_SLOT, true);
      const a = dp.slotAddr(slot) + dp.view.getUint32(d + L.D_OFF, true);
      frames.push(Buffer.from(dp.bytes.subarray(a, a + dp.view.getUint32(d + L.D_LEN, true))).toString('hex'));
      dp.freeSlot(slot);
    }
    if (!n) await sleep(10);
  }
  return { frames, errors };
}

/** "length:id" of each frame (hex), for readable failures. */
const ids = (frames: string[]): string[] => frames.map((f) => `${f.length / 2}:${parseInt(f.slice(28, 30), 16)}`);

for (const ring of [4096, 0]) {
  const how = ring ? 'receive ring' : 'recvmmsg';
  // A link flap leaves ENETDOWN pending on the socket (sk_err): the kernel's
  // recvmsg returns it INSTEAD of the next queued frame, and clears it. With the
  // ring, that recvmsg is the one for a long frame's slot: the slot must not be
  // handed back unread, or every later long frame would be read one late.
  hostTest(Counters, `${how}: after a link flap, ENETDOWN is reported once and the jumbo frames still arrive whole and in order`, async () => {
    const set = new NetnsSet();
    const dp = hostDataplane({ slots: 64 });
    try {
      const [x, y] = pair(set, 9000);
      const port = HostPort.openPacket(x, { ring });
      run('ip', ['link', 'set', x, 'down']);
      run('ip', ['link', 'set', x, 'up']);
      await until(`${y} up again`, () => run('cat', [`/sys/class/net/${y}/operstate`]) === 'up');
      const sizes = [4000, 5000, 6000, 100];
      sendFrames(y, sizes.map((n, i) => [i, n]));
      const a = await drain(port, dp, 3000, sizes.length);
      assert.equal(ids(a.frames), sizes.map((n, i) => `${n}:${i}`), 'every frame, whole and in order');
      a.frames.forEach((f, i) => assert.is(f, idFrame(i, sizes[i]!), `frame ${i} byte for byte`));
      assert.equal(a.errors, ['ENETDOWN'], 'the pending socket error is reported, once');
      assert.is(dp.counter('host-rx-error'), 1n);
      assert.is(dp.counter('host-rx-trunc'), 0n, 'nothing cut short');
      assert.is(port.stats(dp, 0).lastErrno, 100, 'ENETDOWN');
      // and the next long frame is itself, not a stale one
      sendFrames(y, [[9, 7000]]);
      const b = await drain(port, dp, 3000, 1);
      assert.equal(ids(b.frames), ['7000:9']);
      assert.is(b.frames[0], idFrame(9, 7000));
      assert.equal(b.errors, []);
      assert.is(dp.counter('host-rx'), 5n);
      port.close();
    } finally {
      set.cleanup();
    }
  });

  // The same error met in the middle of a batch: the frames before it come
  // first, the error on the next call, then the rest.
  hostTest(Counters, `${how}: a socket error behind a frame already received is reported on its own, and no frame is lost`, async () => {
    const set = new NetnsSet();
    const dp = hostDataplane({ slots: 64 });
    try {
      const [x, y] = pair(set, 9000);
      const port = HostPort.openPacket(x, { ring });
      sendFrames(y, [[0, 100]]);
      await sleep(50);
      run('ip', ['link', 'set', x, 'down']);
      run('ip', ['link', 'set', x, 'up']);
      await until(`${y} up again`, () => run('cat', [`/sys/class/net/${y}/operstate`]) === 'up');
      sendFrames(y, [[1, 4000], [2, 60], [3, 8000]]);
      const a = await drain(port, dp, 3000, 4);
      assert.equal(ids(a.frames), ['100:0', '4000:1', '60:2', '8000:3'], 'every frame, in order');
      a.frames.forEach((f, i) => assert.is(f, idFrame(i, [100, 4000, 60, 8000][i]!), `frame ${i} byte for byte`));
      assert.equal(a.errors, ['ENETDOWN']);
      assert.is(dp.counter('host-rx-error'), 1n);
      assert.is(dp.counter('host-rx-trunc'), 0n);
      port.close();
    } finally {
      set.cleanup();
    }
  });
}

// When the socket's receive buffer is full, the kernel makes no queued copy of
// a long frame: its ring slot holds it cut short, without TP_STATUS_COPY. Such
// a frame is lost (counted), and the frames behind it must still be themselves.
hostTest(Counters, 'receive ring: long frames the full receive buffer could not hold are counted as lost (host-rx-trunc), the rest stay in step', async () => {
  const set = new NetnsSet();
  const dp = hostDataplane({ slots: 64 });
  try {
    const [x, y] = pair(set, 9000);
    // the smallest buffer the kernel allows: the first queued copy fills it
    const port = HostPort.openPacket(x, { ring: 4096, rcvbuf: 1 });
    assert.is(port.ring, 4096);
    const sizes = [4000, 5000, 100, 6000, 200];
    sendFrames(y, sizes.map((n, i) => [i, n]));
    await sleep(200);
    const a = await drain(port, dp, 1000);
    assert.equal(ids(a.frames), ['4000:0', '100:2', '200:4'], 'the frames that were held, in order');
    assert.is(a.frames[0], idFrame(0, 4000));
    assert.is(dp.counter('host-rx-trunc'), 2n, 'the 5000- and 6000-byte frames, cut short by the kernel: lost');
    assert.equal(a.errors, []);
    // the buffer is empty again: the next long frame is queued whole (and fills it), read in its place
    sendFrames(y, [[7, 7000], [8, 64], [9, 3000]]);
    await sleep(200);
    const b = await drain(port, dp, 1000);
    assert.equal(ids(b.frames), ['7000:7', '64:8']);
    b.frames.forEach((f, i) => assert.is(f, idFrame(7 + i, [7000, 64][i]!), `frame ${7 + i} byte for byte`));
    assert.is(dp.counter('host-rx-trunc'), 3n, 'and the 3000-byte frame behind it: lost');
    sendFrames(y, [[10, 3000]]);
    const c = await drain(port, dp, 3000, 1);
    assert.equal(c.frames, [idFrame(10, 3000)], 'the next one is itself');
    assert.equal([...a.errors, ...b.errors, ...c.errors], []);
    assert.is(dp.counter('host-rx-error'), 0n);
    port.close();
  } finally {
    set.cleanup();
  }
});

// When the ring is full, the kernel drops a long frame with its queued copy:
// no copy is left behind to be read in place of a later frame.
hostTest(Counters, 'receive ring: long frames dropped on a full ring leave nothing queued behind (later frames stay in step)', async () => {
  const set = new NetnsSet();
  const dp = hostDataplane({ slots: 256 });
  try {
    const [x, y] = pair(set, 9000);
    const port = HostPort.openPacket(x, { ring: 1 });
    const nr = port.ring;
    assert.ok(nr >= 1 && nr < 100, `one block of ring frames (${nr})`);
    const sizes = Array.from({ length: nr + 20 }, (_, i) => (i % 2 ? 100 : 3000 + i));
    sendFrames(y, sizes.map((n, i) => [i & 0xff, n]));
    await sleep(200);
    const a = await drain(port, dp, 1000);
    assert.equal(ids(a.frames), sizes.slice(0, nr).map((n, i) => `${n}:${i}`), 'the frames the ring held, in order');
    a.frames.forEach((f, i) => assert.is(f, idFrame(i, sizes[i]!), `frame ${i} byte for byte`));
    assert.is(dp.counter('host-rx-trunc'), 0n);
    assert.equal(a.errors, []);
    sendFrames(y, [[0xf0, 5000], [0xf1, 100], [0xf2, 9014]]);
    const b = await drain(port, dp, 3000, 3);
    assert.equal(ids(b.frames), ['5000:240', '100:241', '9014:242'], 'the next frames are themselves');
    b.frames.forEach((f, i) => assert.is(f, idFrame(0xf0 + i, [5000, 100, 9014][i]!), `frame ${0xf0 + i} byte for byte`));
    port.close();
  } finally {
    set.cleanup();
  }
});

hostTest(Counters, 'a frame the interface refuses as too long is counted (host-tx-too-big), the rest still go', () => {
  const set = new NetnsSet();
  const dp = hostDataplane({ slots: 16 });
  const port = (() => {
    const [x] = pair(set, 1500);
    return HostPort.openPacket(x);
  })();
  try {
    dp.setPort(0, { kind: PortKind.WIRE, aux: 1 });
    dp.setPort(1, { kind: PortKind.WIRE, aux: 0 });
    const f = (n: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i < 12 ? 2 : i === 12 ? 0x88 : i === 13 ? 0xb5 : i & 0xff));
    dp.push(f(100), 0);
    dp.push(f(3000), 0);
    dp.push(f(200), 0);
    const nTx = dp.run();
    assert.is(nTx, 3);
    assert.is(port.tx(dp, 0, nTx, 1), 2, 'two sent');
    assert.is(dp.counter('host-tx-too-big'), 1n);
    assert.is(port.stats(dp, 1).txTooBig, 1);
    assert.is(port.stats(dp, 1).txPackets, 2);
    assert.is(port.stats(dp, 1).lastErrno, 90, 'EMSGSIZE');
  } finally {
    port.close();
    set.cleanup();
  }
});

// ---- forwarding in this runtime ----------------------------------------------------------

const Forward = suite(`native: forwarding under ${isDeno ? 'Deno (watcher thread)' : 'Node (uv_poll)'}`);

const SERVER = `
import socket, hashlib, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind((sys.argv[1], 5202)); s.listen(1)
print('listening', flush=True)
c, _ = s.accept(); h = hashlib.sha256(); n = 0
while True:
    d = c.recv(1 << 16)
    if not d: break
    h.update(d); n += len(d)
print(n, h.hexdigest())
`;
const CLIENT = `
import socket, hashlib, os, sys, struct, time
def csum(b):
    s = sum(struct.unpack('!%dH' % (len(b)//2), b)); s = (s >> 16) + (s & 0xffff); s += s >> 16
    return ~s & 0xffff
ping = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP); ping.settimeout(2)
h = struct.pack('!BBHHH', 8, 0, 0, 7, 1) + b'netwasm!'; h = h[:2] + struct.pack('!H', csum(h)) + h[4:]
ping.sendto(h, (sys.argv[1], 0)); d, a = ping.recvfrom(2048)
print('ping', d[(d[0] & 15) * 4] == 0 and a[0] == sys.argv[1])
data = os.urandom(10 << 20)
s = socket.create_connection((sys.argv[1], 5202), timeout=20); s.sendall(data); s.close()
print(len(data), hashlib.sha256(data).hexdigest())
`;

hostTest(Forward, 'two containers through netwasm: ping, then 10 MiB of TCP intact, driven by readiness alone', async () => {
  const set = new NetnsSet();
  const dp = hostDataplane();
  const loop = new HostLoop(dp);
  const dir = mkdtempSync(join(tmpdir(), 'netwasm-native-'));
  try {
    writeFileSync(join(dir, 'server.py'), SERVER);
    writeFileSync(join(dir, 'client.py'), CLIENT);
    const a = set.add(netnsName('nwna'));
    const b = set.add(netnsName('nwnb'));
    const ra = ifName('nwn');
    const rb = ifName('nwn');
    for (const [ns, r, ip] of [[a, ra, '10.236.0.1'], [b, rb, '10.236.0.2']] as const) {
      set.addVethPair({ name: r }, { ns, name: 'eth0' });
      set.exec(ns, `ip addr add ${ip}/24 dev eth0 && ip link set eth0 up`);
      run('sysctl', ['-qw', `net.ipv6.conf.${r}.disable_ipv6=1`]);
      run('ip', ['link', 'set', r, 'up']);
    }
    dp.setPort(0, { kind: PortKind.WIRE, aux: 1 });
    dp.setPort(1, { kind: PortKind.WIRE, aux: 0 });
    loop.add(0, HostPort.openPacket(ra));
    loop.add(1, HostPort.openPacket(rb));
    const srv = spawnIn(b, ['python3', join(dir, 'server.py'), '10.236.0.2']);
    await srv.started;
    const sent = (await spawnIn(a, ['python3', join(dir, 'client.py'), '10.236.0.2']).done).split('\n');
    assert.is(sent[0], 'ping True', 'echo reply came back');
    assert.is(await srv.done, sent[1], 'same bytes, same sha256');
    assert.ok(loop.stats(0).rxGso > 0, 'super-frames passed');
  } finally {
    loop.close();
    set.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
});

Load.run();
Errors.run();
Counters.run();
Forward.run();
