// netwasm VXLAN against a Linux `vxlan` device, both ways, in two network
// namespaces joined by a veth underlay:
//
//   ns A: vA (underlay) + vx0 (type vxlan, VNI 4096, dstport 4789, local A, remote B)
//   ns B: vB, no addresses: the wire netwasm sends on and listens to
//
// netwasm -> kernel: inner frames are encapsulated by netwasm, injected on vB
// with an AF_PACKET socket, and must come out of vx0 (tcpdump -Q in) as the
// inner frames. kernel -> netwasm: frames enter vx0 (AF_PACKET on vx0, and one
// datagram from the kernel's own stack), the kernel encapsulates them, tcpdump
// captures the underlay at vB, and netwasm's decapsulation of that capture must
// equal what entered vx0 (tcpdump -Q out on vx0). Over IPv4 (with and without
// the outer UDP checksum) and IPv6.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Dataplane, Vxlan, Verdict } from '../src/dataplane/index.ts';
import { readCaptureSync, PcapWriter } from '../src/pcap/index.ts';
import { hostTest, NetnsSet, netnsName, ifName, run } from './helpers/netns.ts';
import * as F from './vxlan-frames.ts';

const MAC_A = '02:00:00:00:00:0a';
const MAC_B = '02:00:00:00:00:0b';
const VX_A = '02:00:00:00:01:0a';
const VX_B = '02:00:00:00:01:0b';

const INJECT = `
import socket, struct, sys, time
iface, path = sys.argv[1], sys.argv[2]
data = open(path, 'rb').read()
assert struct.unpack('<I', data[:4])[0] in (0xa1b2c3d4, 0xa1b23c4d)
off, n = 24, 0
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((iface, 0))
while off < len(data):
    incl = struct.unpack('<I', data[off + 8:off + 12])[0]
    off += 16
    s.send(data[off:off + incl])
    off += incl
    n += 1
    time.sleep(0.002)
print(n)
`;

const SEND_UDP = `
import socket, sys
fam = socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.sendto(b'netwasm kernel interop ' + sys.argv[3].encode(), (sys.argv[1], int(sys.argv[2])))
`;

/** tcpdump in a namespace, writing a pcap; resolves once it listens. */
async function capture(ns: string, dev: string, file: string, dir: 'in' | 'out', filter: string[] = []): Promise<ChildProcess> {
  const p = spawn('ip', ['netns', 'exec', ns, 'tcpdump', '-i', dev, '-w', file, '-U', '-Z', 'root', '-n', '-Q', dir, '--immediate-mode', ...filter], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  await new Promise<void>((resolve, reject) => {
    let err = '';
    const t = setTimeout(() => reject(new Error(`tcpdump on ${dev} did not start: ${err}`)), 10000);
    p.stderr!.on('data', (b: Buffer) => {
      err += b.toString();
      if (err.includes('listening on')) {
        clearTimeout(t);
        resolve();
      }
    });
    p.on('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`tcpdump on ${dev} exited (${code}): ${err}`));
    });
  });
  return p;
}

async function stop(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null) return;
  await new Promise<void>((resolve) => {
    p.removeAllListeners('exit');
    p.on('exit', () => resolve());
    p.kill('SIGINT');
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const frames = (file: string): Uint8Array[] => Array.from(readCaptureSync(file), (r) => r.data);

function writePcap(file: string, fs: Uint8Array[]): void {
  const w = new PcapWriter(file);
  for (const f of fs) w.write(f, 1700000000, 0);
  w.close();
}

/** Inner frames from one side's container (MAC vxMe, 10.20.0.me) to the other's. */
function innerFrames(vxMe: string, vxPeer: string, me: number, peer: number, v6: boolean): Uint8Array[] {
  const src = `10.20.0.${me}`;
  const dst = `10.20.0.${peer}`;
  return [
    F.arpRequest(vxMe, src, dst),
    F.icmpEcho(vxPeer, vxMe, src, dst, 98, 1),
    F.udpFrame('ff:ff:ff:ff:ff:ff', vxMe, src, '10.20.0.255', 9998, 9999, 60),
    F.udpFrame(vxPeer, vxMe, src, dst, 40000, 9999, 77),
    // The overlay MTU: 1450 bytes of IP over an IPv4 underlay, 1430 over IPv6.
    F.icmpEcho(vxPeer, vxMe, src, dst, v6 ? 1444 : 1464, 2),
    F.icmpEcho(vxPeer, vxMe, src, dst, 300, 3),
  ];
}

interface Topo { ns: NetnsSet; a: string; b: string; vA: string; vB: string; dir: string }

function topology(v6: boolean, udpcsum: boolean): Topo {
  const ns = new NetnsSet();
  const a = ns.add(netnsName('nwvxa'));
  const b = ns.add(netnsName('nwvxb'));
  const vA = ifName('vxa');
  const vB = ifName('vxb');
  ns.addVethPair({ ns: a, name: vA, mac: MAC_A }, { ns: b, name: vB, mac: MAC_B });
  try {
    return configure(ns, a, b, vA, vB, v6, udpcsum);
  } catch (e) {
    ns.cleanup();
    throw e;
  }
}

function configure(ns: NetnsSet, a: string, b: string, vA: string, vB: string, v6: boolean, udpcsum: boolean): Topo {
  const ipA = v6 ? 'fd00:77::1' : '10.77.0.1';
  const ipB = v6 ? 'fd00:77::2' : '10.77.0.2';
  // B is only a wire for netwasm: no addresses, no IPv6 chatter.
  ns.exec(b, `sysctl -q -w net.ipv6.conf.${vB}.disable_ipv6=1; ip link set ${vB} up; ethtool -K ${vB} tx off rx off >/dev/null 2>&1 || true`);
  ns.exec(a, [
    v6 ? `ip -6 addr add ${ipA}/64 dev ${vA} nodad` : `ip addr add ${ipA}/24 dev ${vA}`,
    `ip link set ${vA} up`,
    // No offloads: every checksum on the wire and in the captures is final.
    `ethtool -K ${vA} tx off rx off >/dev/null 2>&1 || true`,
    `ip ${v6 ? '-6 ' : ''}neigh replace ${ipB} lladdr ${MAC_B} dev ${vA} nud permanent`,
    `ip link add vx0 address ${VX_A} type vxlan id 4096 dstport 4789 local ${ipA} remote ${ipB} dev ${vA} nolearning ${udpcsum ? 'udpcsum' : 'noudpcsum'}`,
    'sysctl -q -w net.ipv6.conf.vx0.disable_ipv6=1',
    'ip addr add 10.20.0.1/24 dev vx0',
    'ethtool -K vx0 tx off >/dev/null 2>&1 || true',
    'ip link set vx0 up',
    `ip neigh replace 10.20.0.2 lladdr ${VX_B} dev vx0 nud permanent`,
  ].join(' && '));
  const dir = mkdtempSync(join(tmpdir(), 'netwasm-kvx-'));
  writeFileSync(join(dir, 'inject.py'), INJECT);
  writeFileSync(join(dir, 'send_udp.py'), SEND_UDP);
  return { ns, a, b, vA, vB, dir };
}

/** netwasm as B's VTEP: underlay port 0 (B's MAC and address), tunnel port 1, inner side cross-connected on port 2. */
function netwasmB(v6: boolean, udpCsum: boolean): { dp: Dataplane; vx: Vxlan } {
  const dp = new Dataplane({ slots: 256 });
  const vx = new Vxlan(dp);
  vx.setVtep(0, v6 ? { ip6: 'fd00:77::2', mac: MAC_B } : { ip: '10.77.0.2', mac: MAC_B });
  const ipA = v6 ? 'fd00:77::1' : '10.77.0.1';
  vx.setNeighbor(0, ipA, MAC_A);
  const t = vx.addTunnel({ vni: 4096, underlay: 0, port: 1, xconnect: 2, arpProxy: false, udpCsum, allowList: true });
  vx.floodAdd(t, ipA);
  vx.peerAdd(t, { mac: VX_A, vtep: ipA });
  return { dp, vx };
}

function through(dp: Dataplane, f: Uint8Array, port: number): Uint8Array[] {
  dp.push(f, port);
  const n = dp.run();
  assert.is(dp.verdict(0), Verdict.TX, `netwasm: ${dp.dropReason(0)}`);
  return Array.from({ length: n }, (_, i) => dp.txData(i).slice());
}

/** netwasm encap -> inject on vB -> what vx0 in A received. */
async function netwasmToKernel(topo: Topo, v6: boolean, udpCsum: boolean): Promise<void> {
  const { dp } = netwasmB(v6, udpCsum);
  const inner = innerFrames(VX_B, VX_A, 2, 1, v6);
  const outer = inner.map((f) => {
    const o = through(dp, f, 2);
    assert.is(o.length, 1);
    const p = F.parseOuter(o[0]!);
    assert.is(p.v6, v6);
    assert.is(p.vni, 4096);
    return o[0]!;
  });
  const wire = join(topo.dir, 'netwasm-outer.pcap');
  const got = join(topo.dir, 'vx0-in.pcap');
  writePcap(wire, outer);
  const cap = await capture(topo.a, 'vx0', got, 'in');
  try {
    run('ip', ['netns', 'exec', topo.b, 'python3', join(topo.dir, 'inject.py'), topo.vB, wire]);
    await sleep(300);
  } finally {
    await stop(cap);
  }
  const rx = frames(got);
  assert.is(rx.length, inner.length, `vx0 received ${rx.length} of ${inner.length} frames`);
  rx.forEach((f, i) => assert.is(F.frameDiff(f, inner[i]!), '', `frame ${i + 1} out of the kernel's vx0`));
  // The kernel counted them as received on vx0, no errors.
  const stats = run('ip', ['netns', 'exec', topo.a, 'cat', '/sys/class/net/vx0/statistics/rx_errors']);
  assert.is(stats, '0');
}

/** Frames into vx0 -> kernel encap -> captured at vB -> netwasm decap == what entered vx0. */
async function kernelToNetwasm(topo: Topo, v6: boolean, udpcsum: boolean): Promise<void> {
  const inner = innerFrames(VX_A, VX_B, 1, 2, v6);
  const innerFile = join(topo.dir, 'inner.pcap');
  writePcap(innerFile, inner);
  const wire = join(topo.dir, 'vB-in.pcap');
  const entered = join(topo.dir, 'vx0-out.pcap');
  const capWire = await capture(topo.b, topo.vB, wire, 'in', ['udp', 'port', '4789']);
  const capVx = await capture(topo.a, 'vx0', entered, 'out');
  try {
    run('ip', ['netns', 'exec', topo.a, 'python3', join(topo.dir, 'inject.py'), 'vx0', innerFile]);
    // And one datagram built by the kernel's own stack.
    run('ip', ['netns', 'exec', topo.a, 'python3', join(topo.dir, 'send_udp.py'), '10.20.0.2', '9999', v6 ? 'v6' : 'v4']);
    await sleep(300);
  } finally {
    await stop(capVx);
    await stop(capWire);
  }
  const want = frames(entered);
  const onWire = frames(wire);
  assert.ok(want.length >= inner.length + 1, `${want.length} frames entered vx0`);
  assert.is(onWire.length, want.length, 'one VXLAN frame on the underlay per frame into vx0');
  const { dp } = netwasmB(v6, false);
  onWire.forEach((f, i) => {
    const p = F.parseOuter(f);
    assert.is(p.vni, 4096);
    assert.is(p.dport, 4789);
    if (v6 || udpcsum) assert.ok(p.udpCsum !== 0 && p.udpCsumOk, `frame ${i + 1}: the kernel computed the UDP checksum`);
    else assert.is(p.udpCsum, 0, `frame ${i + 1}: noudpcsum`);
    const out = through(dp, f, 0);
    assert.is(out.length, 1);
    assert.is(F.frameDiff(out[0]!, want[i]!), '', `frame ${i + 1} decapsulated by netwasm`);
  });
  assert.is(dp.counter('vxlan-decap'), BigInt(onWire.length));
}

const K = suite('vxlan against the Linux kernel');

for (const udpcsum of [false, true]) {
  hostTest(K, `IPv4 underlay (${udpcsum ? 'udpcsum' : 'noudpcsum'}): netwasm -> kernel vxlan, and kernel vxlan -> netwasm`, async () => {
    const topo = topology(false, udpcsum);
    try {
      await netwasmToKernel(topo, false, udpcsum);
      await kernelToNetwasm(topo, false, udpcsum);
    } finally {
      topo.ns.cleanup();
      rmSync(topo.dir, { recursive: true, force: true });
    }
  });
}

hostTest(K, 'IPv6 underlay: netwasm -> kernel vxlan, and kernel vxlan -> netwasm', async () => {
  let topo: Topo;
  try {
    topo = topology(true, true);
  } catch (e) {
    const msg = (e as Error).message;
    if (/not supported|Address family not supported|Operation not supported/i.test(msg)) {
      console.log(`  SKIP the kernel refuses a vxlan device over IPv6: ${msg.split('\n').pop()}`);
      return;
    }
    throw e;
  }
  try {
    await netwasmToKernel(topo, true, true);
    await kernelToNetwasm(topo, true, true);
  } finally {
    topo.ns.cleanup();
    rmSync(topo.dir, { recursive: true, force: true });
  }
});

K.run();
