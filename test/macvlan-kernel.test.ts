/**
 * macvlan against the Linux kernel: the same frames go into a real macvlan
 * setup in a network namespace (a veth pair is the wire: one end the parent,
 * the other the "switch" we inject from and capture on) and into the WASM data
 * plane; every frame must come out of the same ports, byte for byte.
 * Needs root and network namespaces (skipped with a note otherwise, a failure
 * under CI).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Dataplane, Macvlans } from '../src/dataplane/index.ts';
import type { MacvlanMode } from '../src/dataplane/index.ts';
import { hostTest, NetnsSet, netnsName, run } from './helpers/netns.ts';
import { SMALL, BCAST, eth, ipv4, udp, send, hex } from './helpers/l2dev-frames.ts';

const PMAC = '02:00:00:00:01:01';
const EXT = '02:00:00:00:09:09';
const PEER = 'sw0'; // the switch side of the wire

/** Sends each frame on its interface, then reports which interfaces received which marked frame. */
const PY = `
import socket, sys, json, select, time
req = json.loads(sys.argv[1])
socks = {}
for name in req['watch']:
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
    s.bind((name, 0))
    s.setblocking(False)
    socks[s.fileno()] = (name, s)
time.sleep(0.05)
for _, s in socks.values():
    try:
        while True:
            s.recv(65535)
    except BlockingIOError:
        pass
tx = {}
for name, frame in req['send']:
    if name not in tx:
        t = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        t.bind((name, 0))
        tx[name] = t
    tx[name].send(bytes.fromhex(frame))
    time.sleep(0.02)
seen = []
end = time.time() + 0.4
while time.time() < end:
    r, _, _ = select.select([s for _, s in socks.values()], [], [], 0.05)
    for s in r:
        name = socks[s.fileno()][0]
        while True:
            try:
                data, addr = s.recvfrom(65535)
            except BlockingIOError:
                break
            if addr[2] == socket.PACKET_OUTGOING:
                continue
            seen.append([name, data.hex()])
print(json.dumps(seen))
`;

interface Child {
  mac: string;
  mode: MacvlanMode;
}

interface Case {
  what: string;
  /** Interface index: 0 = the wire (switch side), k = child k. */
  from: number;
  frame: Uint8Array;
  /** Where the kernel is known to deliver it (checks the harness). */
  kernel?: number[];
}

/** Marks frame k with a recognisable UDP payload. */
function marked(dst: string, src: string, k: number): Uint8Array {
  return eth(dst, src, 0x0800, ipv4('10.9.0.1', '10.9.0.2', udp(47000, 47001, [0x6e, 0x77, 0x6d, 0x76, k >> 8, k & 0xff, ...new Array<number>(20).fill(k & 0xff)])));
}

/** Runs the cases through the kernel: returns, per case, the sorted interface indices that received it (with the bytes). */
function kernel(children: Child[], cases: Case[]): Array<Array<{ at: number; hex: string }>> {
  const ns = new NetnsSet();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netwasm-mvk-'));
  try {
    const n = ns.add(netnsName('nwmv'));
    ns.exec(n, 'sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1');
    ns.exec(n, `ip link add eth0 address ${PMAC} type veth peer name ${PEER}`);
    children.forEach((c, i) => {
      ns.exec(n, `ip link add mv${i + 1} link eth0 address ${c.mac} type macvlan mode ${c.mode}`);
      // The data plane delivers every multicast (no per-child filter): as allmulticast children.
      ns.exec(n, `ip link set mv${i + 1} allmulticast on`);
    });
    for (const dev of ['eth0', PEER, ...children.map((_, i) => `mv${i + 1}`)]) ns.exec(n, `ip link set ${dev} up`);
    const script = path.join(dir, 'mv.py');
    fs.writeFileSync(script, PY);
    const names = [PEER, ...children.map((_, i) => `mv${i + 1}`)];
    const out = run('ip', ['netns', 'exec', n, 'python3', script, JSON.stringify({ watch: names, send: cases.map((c) => [names[c.from], hex(c.frame)]) })]);
    const seen = JSON.parse(out) as Array<[string, string]>;
    // The UDP payload starts with "nwmv" and the case number: unique per case.
    return cases.map((c) => {
      const marker = hex(c.frame.subarray(42, 48));
      return seen
        .filter(([, h]) => h.slice(84, 96) === marker)
        .map(([name, h]) => ({ at: names.indexOf(name), hex: h }))
        .sort((a, b) => a.at - b.at);
    });
  } finally {
    ns.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The same cases through the data plane (port 0 = parent, k = child k). */
function netwasm(children: Child[], cases: Case[]): Array<Array<{ at: number; hex: string }>> {
  const dp = new Dataplane(SMALL);
  const mv = new Macvlans(dp);
  mv.addParent(0, { name: 'eth0', mac: PMAC });
  const modes = [...new Set(children.map((c) => c.mode))];
  for (const m of modes) mv.createNetwork(m, { driver: 'macvlan', parent: 0, macvlanMode: m });
  children.forEach((c, i) => mv.addEndpoint(c.mode, i + 1, { mac: c.mac }));
  return cases.map((c) => send(dp, c.frame, c.from).out.map((o) => ({ at: o.port, hex: hex(o.data) })).sort((a, b) => a.at - b.at));
}

function compare(children: Child[], cases: Case[]): void {
  const k = kernel(children, cases);
  const w = netwasm(children, cases);
  // The harness itself: the kernel's answers are what these cases are known to give.
  cases.forEach((c, i) => {
    if (c.kernel) assert.equal(k[i]!.map((x) => x.at), c.kernel, `${c.what}: the kernel's own result`);
  });
  cases.forEach((c, i) => {
    const ks = k[i]!;
    const ws = w[i]!;
    assert.equal(ws.map((x) => x.at), ks.map((x) => x.at), `${c.what}: ports (0 = parent's wire, k = child k) kernel ${JSON.stringify(ks.map((x) => x.at))}`);
    // The kernel pads nothing on veth/macvlan: the bytes are the same.
    ws.forEach((x, j) => assert.is(x.hex, ks[j]!.hex, `${c.what}: bytes at ${x.at}`));
  });
}

const M = ['02:42:0a:09:00:01', '02:42:0a:09:00:02', '02:42:0a:09:00:03', '02:42:0a:09:00:04', '02:42:0a:09:00:05'];

function standardCases(mode?: MacvlanMode): Case[] {
  const by = (b: number[], p: number[], v: number[]): number[] | undefined => (mode === 'bridge' ? b : mode === 'private' ? p : mode === 'vepa' ? v : undefined);
  let k = 0;
  return [
    { what: 'child 1 broadcast', from: 1, frame: marked(BCAST, M[0]!, ++k), kernel: by([0, 2, 3], [0], [0]) },
    { what: 'child 1 multicast', from: 1, frame: marked('01:00:5e:00:00:fb', M[0]!, ++k) },
    { what: 'child 1 to child 2', from: 1, frame: marked(M[1]!, M[0]!, ++k), kernel: by([2], [0], [0]) },
    { what: 'child 1 to the outside', from: 1, frame: marked(EXT, M[0]!, ++k), kernel: [0] },
    { what: 'child 1 to the parent\'s MAC', from: 1, frame: marked(PMAC, M[0]!, ++k) },
    { what: 'outside broadcast', from: 0, frame: marked(BCAST, EXT, ++k) },
    { what: 'outside multicast', from: 0, frame: marked('01:00:5e:00:00:fb', EXT, ++k) },
    { what: 'child 1 broadcast reflected by the switch', from: 0, frame: marked(BCAST, M[0]!, ++k), kernel: by([], [1], [2, 3]) },
    { what: 'outside to child 2', from: 0, frame: marked(M[1]!, EXT, ++k), kernel: [2] },
    { what: 'child 1 to child 2 hairpinned by the switch', from: 0, frame: marked(M[1]!, M[0]!, ++k) },
    { what: 'outside to an unknown MAC', from: 0, frame: marked('02:42:0a:09:00:99', EXT, ++k), kernel: [] },
  ];
}

const Kernel = suite('macvlan against the Linux kernel');

for (const mode of ['bridge', 'private', 'vepa'] as const) {
  hostTest(Kernel, `${mode} mode: three children, the same frames out of the same ports`, () => {
    compare([0, 1, 2].map((i) => ({ mac: M[i]!, mode })), standardCases(mode));
  });
}

hostTest(Kernel, 'mixed modes on one parent: bridge, bridge, vepa, vepa, private', () => {
  const children: Child[] = [
    { mac: M[0]!, mode: 'bridge' }, { mac: M[1]!, mode: 'bridge' }, { mac: M[2]!, mode: 'vepa' },
    { mac: M[3]!, mode: 'vepa' }, { mac: M[4]!, mode: 'private' },
  ];
  let k = 100;
  const cases: Case[] = [
    ...standardCases(),
    { what: 'bridge child to vepa child', from: 1, frame: marked(M[2]!, M[0]!, ++k) },
    { what: 'vepa child broadcast', from: 3, frame: marked(BCAST, M[2]!, ++k) },
    { what: 'vepa child broadcast reflected', from: 0, frame: marked(BCAST, M[2]!, ++k) },
    { what: 'private child broadcast reflected', from: 0, frame: marked(BCAST, M[4]!, ++k) },
    { what: 'private child to bridge child', from: 5, frame: marked(M[0]!, M[4]!, ++k) },
  ];
  compare(children, cases);
});

hostTest(Kernel, 'passthru: one child gets everything', () => {
  let k = 200;
  compare([{ mac: M[0]!, mode: 'passthru' }], [
    { what: 'outside to another MAC', from: 0, frame: marked('02:42:0a:09:00:77', EXT, ++k) },
    { what: 'outside broadcast', from: 0, frame: marked(BCAST, EXT, ++k) },
    { what: 'child out', from: 1, frame: marked(EXT, M[0]!, ++k) },
  ]);
});

Kernel.run();
