// The native adapter itself (native/netwasm.c through src/host): loading,
// errors with clear text, the counters it keeps, and forwarding through the
// event loop of whichever runtime runs this file. The same file runs under
// Node (uv_poll readiness) and Deno 2 (Node-API addon, watcher-thread
// readiness): `npx --yes deno@2 run -A scripts/test.mjs native`.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PortKind } from '../src/dataplane/index.ts';
import * as L from '../src/dataplane/layout.ts';
import { HostLoop, HostPort, hostDataplane, isDeno, native, nativePath, poolOf } from '../src/host/index.ts';
import { hasCommand, hostTest, ifName, netnsName, NetnsSet, run } from './helpers/netns.ts';

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

function spawnIn(ns: string, argv: string[]): { done: Promise<string>; started: Promise<void> } {
  const p = spawn('ip', ['netns', 'exec', ns, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let onStart: () => void = () => {};
  const started = new Promise<void>((r) => (onStart = r));
  p.stdout.on('data', (d: Buffer) => {
    out += d;
    if (out.includes('listening')) onStart();
  });
  p.stderr.on('data', (d: Buffer) => (err += d));
  const timer = setTimeout(() => p.kill('SIGKILL'), 30000);
  const done = new Promise<string>((res, rej) =>
    p.on('close', (code) => {
      clearTimeout(timer);
      onStart();
      if (code === 0) res(out.replace('listening\n', '').trim());
      else rej(new Error(`${argv.join(' ')} in ${ns} exited ${code}: ${err.trim()}`));
    }),
  );
  return { done, started };
}

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
