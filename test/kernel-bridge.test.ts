// The learning bridge against the Linux kernel bridge: the same seeded
// sequence of frames (random stations, broadcasts, multicast, moves, frames
// to unknown and to learned MACs, link-local groups, bad sources, tagged
// frames) goes into a Linux bridge in a network namespace and into netwasm;
// the frames leaving each port must be identical and in the same order, and
// the two FDBs must agree. Needs root + netns (runs in CI, never skipped there).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Dataplane, Bridges } from '../src/dataplane/index.ts';
import { hostTest, NetnsSet, netnsName } from './helpers/netns.ts';

const Kernel = suite('bridge vs the Linux kernel bridge');

// ---- the frame sequence ------------------------------------------------------------

/** mulberry32: a small seeded PRNG, so the sequence is the same on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface PortSetup {
  /** `bridge link set` words for the kernel */
  kernel: string;
  opts: { learning?: boolean; flood?: boolean; mcastFlood?: boolean; bcastFlood?: boolean; hairpin?: boolean; isolated?: boolean };
}

/** Five ports with different switches, so flooding and filtering rules all meet traffic. */
const PORTS: PortSetup[] = [
  { kernel: '', opts: {} },
  { kernel: 'isolated on', opts: { isolated: true } },
  { kernel: 'isolated on flood off', opts: { isolated: true, flood: false } },
  { kernel: 'hairpin on mcast_flood off', opts: { hairpin: true, mcastFlood: false } },
  { kernel: 'bcast_flood off learning off', opts: { bcastFlood: false, learning: false } },
];

interface Seq {
  /** t: packet time in seconds from the start (the kernel run sleeps through gaps above 0.5 s) */
  frames: Array<{ port: number; bytes: Uint8Array; t: number }>;
  statics: Array<{ mac: string; port: number }>;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const macStr = (m: number[]): string => m.map((x) => x.toString(16).padStart(2, '0')).join(':');

/**
 * `count` frames 1 ms apart; `gaps` inserts pauses: [index, seconds] makes
 * frame `index` and the following ones come that much later.
 */
function makeSequence(seed: number, count: number, nPorts: number, gaps: Array<[number, number]> = []): Seq {
  const rnd = prng(seed);
  const int = (n: number): number => Math.floor(rnd() * n);
  const pick = <T>(a: readonly T[]): T => a[int(a.length)]!;
  const randMac = (): number[] => [0x02, int(256), int(256), int(256), int(256), int(256)];
  const stations = Array.from({ length: 48 }, () => ({ mac: randMac(), port: int(nPorts) }));
  const statics = [0, 1].map((i) => ({ mac: macStr(stations[i]!.mac), port: stations[i]!.port }));
  const frames: Array<{ port: number; bytes: Uint8Array }> = [];
  const build = (dst: number[], src: number[], opts: { tag?: number; type?: number } = {}): Uint8Array => {
    const len = 60 + int(200);
    const f = new Uint8Array(len);
    f.set(dst, 0);
    f.set(src, 6);
    let at = 12;
    if (opts.tag !== undefined) {
      f.set([0x81, 0x00, (opts.tag >> 8) & 0xff, opts.tag & 0xff], 12);
      at = 16;
    }
    const type = opts.type ?? pick([0x88b5, 0x88b6, 0x0800, 0x0806]);
    f[at] = type >> 8;
    f[at + 1] = type & 0xff;
    for (let i = at + 2; i < len; i++) f[i] = int(256);
    return f;
  };
  while (frames.length < count) {
    const s = pick(stations);
    const r = rnd();
    if (r < 0.5) {
      // unicast to another station (learned or not yet), or to nobody known
      const dst = rnd() < 0.85 ? pick(stations).mac : randMac();
      frames.push({ port: s.port, bytes: build(dst, s.mac) });
    } else if (r < 0.6) {
      frames.push({ port: s.port, bytes: build([0xff, 0xff, 0xff, 0xff, 0xff, 0xff], s.mac) });
    } else if (r < 0.67) {
      const dst = rnd() < 0.5 ? [0x01, 0x00, 0x5e, int(128), int(256), int(256)] : [0x33, 0x33, int(256), int(256), int(256), int(256)];
      frames.push({ port: s.port, bytes: build(dst, s.mac) });
    } else if (r < 0.74) {
      // the station moves (a static one too: Linux moves static entries that are not sticky)
      s.port = (s.port + 1 + int(nPorts - 1)) % nPorts;
      frames.push({ port: s.port, bytes: build(rnd() < 0.5 ? [0xff, 0xff, 0xff, 0xff, 0xff, 0xff] : pick(stations).mac, s.mac) });
    } else if (r < 0.78) {
      // 802.1D group addresses: 00 (STP, forwarded with STP off), 01 (pause, dropped), others (not forwarded)
      const last = pick([0x00, 0x00, 0x01, 0x02, 0x03, 0x0e, 0x0f]);
      frames.push({ port: s.port, bytes: build([0x01, 0x80, 0xc2, 0x00, 0x00, last], s.mac, { type: 0x88cc }) });
    } else if (r < 0.8) {
      // invalid sources: multicast, broadcast, all-zero
      const src = pick([[0x01, 0x00, 0x5e, 0, 0, 1], [0xff, 0xff, 0xff, 0xff, 0xff, 0xff], [0, 0, 0, 0, 0, 0], [0x03, 1, 2, 3, 4, 5]]);
      frames.push({ port: int(nPorts), bytes: build(pick(stations).mac, src) });
    } else if (r < 0.85) {
      // 802.1Q-tagged traffic through a bridge without VLAN filtering: passes with its tag
      const dst = rnd() < 0.5 ? pick(stations).mac : [0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
      frames.push({ port: s.port, bytes: build(dst, s.mac, { tag: (int(8) << 13) | (1 + int(4094)) }) });
    } else {
      // a conversation: a frame to a station that recently talked (the known-unicast path)
      const t = pick(stations);
      frames.push({ port: s.port, bytes: build(t.mac, s.mac) });
      frames.push({ port: t.port, bytes: build(s.mac, t.mac) });
    }
  }
  let t = 0;
  const timed = frames.slice(0, count).map((f, k) => {
    for (const [at, gap] of gaps) if (at === k) t += gap;
    return { ...f, t: t + k * 0.001 };
  });
  return { frames: timed, statics };
}

// ---- netwasm -----------------------------------------------------------------------

function runNetwasm(seq: Seq, nPorts: number, ageing = 300): { out: string[][]; fdb: string[] } {
  const dp = new Dataplane({ slots: 2048, fdbCapacity: 4096 });
  const br = new Bridges(dp);
  br.create(0, { ageing });
  for (let i = 0; i < nPorts; i++) br.addPort(i, { bridge: 0, ...PORTS[i]!.opts });
  for (const s of seq.statics) br.fdbAdd(0, s.mac, { port: s.port });
  const out: string[][] = Array.from({ length: nPorts }, () => []);
  let k = 0;
  while (k < seq.frames.length) {
    while (k < seq.frames.length && !dp.full) {
      const f = seq.frames[k]!;
      const ns = Math.round(f.t * 1e9);
      assert.ok(dp.push(f.bytes, f.port, 1000 + Math.floor(ns / 1e9), ns % 1e9));
      k++;
    }
    const n = dp.run();
    for (let i = 0; i < n; i++) out[dp.txPort(i)]!.push(hex(dp.txData(i)));
  }
  const fdb = br.fdb({ bridge: 0 }).map((e) => `${e.mac} p${e.port}${e.flags.includes('static') ? ' static' : ''}`).sort();
  return { out, fdb };
}

// ---- the kernel ----------------------------------------------------------------------

/**
 * Runs in the hosts' namespace: opens an AF_PACKET receiver on every port,
 * sends the whole sequence in order from one CPU (one backlog queue, so the
 * bridge sees the frames in order), reading receivers between sends, then
 * drains until the wire is quiet. VLAN tags the kernel keeps out of band
 * (auxdata) are put back in the frame, as tcpdump does.
 */
const PY = String.raw`
import json, os, select, socket, struct, sys, time
inp, outp, names = sys.argv[1], sys.argv[2], sys.argv[3].split(',')
try: os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
except Exception: pass
SOL_PACKET, PACKET_AUXDATA = 263, 8
rx, tx = [], []
for n in names:
    r = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
    r.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
    try: r.setsockopt(socket.SOL_SOCKET, 33, 1 << 25)  # SO_RCVBUFFORCE
    except OSError: r.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 25)
    r.bind((n, 0)); r.setblocking(False); rx.append(r)
    t = socket.socket(socket.AF_PACKET, socket.SOCK_RAW); t.bind((n, 0)); tx.append(t)
got = [[] for _ in names]
def drain():
    n = 0
    for i, r in enumerate(rx):
        while True:
            try: data, anc, flags, addr = r.recvmsg(65536, socket.CMSG_SPACE(20))
            except BlockingIOError: break
            if addr[2] == 4: continue  # PACKET_OUTGOING: our own sends
            for lvl, typ, cd in anc:
                if lvl == SOL_PACKET and typ == PACKET_AUXDATA and len(cd) >= 20:
                    st, ln, sn, mac, net, tci, tpid = struct.unpack('IIIHHHH', cd[:20])
                    if st & 0x10:  # TP_STATUS_VLAN_VALID
                        if not (st & 0x40): tpid = 0x8100
                        data = data[:12] + struct.pack('!HH', tpid, tci) + data[12:]
            got[i].append(data.hex()); n += 1
    return n
drain()
seq = json.load(open(inp))
last = 0.0
for k, (port, h, t) in enumerate(seq):
    if t - last > 0.5:
        drain(); time.sleep(t - last); drain()
    last = t
    tx[port].send(bytes.fromhex(h))
    if k % 8 == 7: drain()
quiet = time.time()
while time.time() - quiet < 0.5:
    select.select(rx, [], [], 0.1)
    if drain(): quiet = time.time()
json.dump(got, open(outp, 'w'))
`;

function runKernel(seq: Seq, nPorts: number, ageing = 300): { out: string[][]; fdb: string[] } {
  const ns = new NetnsSet();
  const dir = mkdtempSync(join(tmpdir(), 'nwkbr-'));
  try {
    const b = ns.add(netnsName('nwkb'));
    const h = ns.add(netnsName('nwkh'));
    for (const n of [b, h]) {
      // no kernel chatter: no IPv6 (no ND/MLD/RS), no IPv4 addresses, no STP, no IGMP snooping/querier
      ns.exec(n, 'sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1');
    }
    // br_netfilter (when loaded) would send IPv4/ARP frames through netfilter, which drops malformed ones: off
    ns.exec(b, 'for k in iptables ip6tables arptables; do f=/proc/sys/net/bridge/bridge-nf-call-$k; [ ! -e $f ] || echo 0 > $f; done');
    ns.exec(b, `ip link add br0 type bridge stp_state 0 mcast_snooping 0 nf_call_iptables 0 nf_call_ip6tables 0 nf_call_arptables 0 ageing_time ${ageing * 100}`);
    const names: string[] = [];
    for (let i = 0; i < nPorts; i++) {
      // fixed port MACs (their permanent FDB entries) that the generator never produces
      ns.exec(b, `ip link add p${i} address 0a:00:00:00:00:${(0x10 + i).toString(16)} type veth peer name h${i} netns ${h}`);
      ns.exec(h, `ip link set h${i} address 0a:00:00:00:01:${(0x10 + i).toString(16)} up`);
      ns.exec(b, `ip link set p${i} master br0 && ip link set p${i} up`);
      if (PORTS[i]!.kernel) ns.exec(b, `bridge link set dev p${i} ${PORTS[i]!.kernel}`);
      names.push(`h${i}`);
    }
    ns.exec(b, 'ip link set br0 address 0a:00:00:00:00:01 && ip link set br0 up');
    for (const s of seq.statics) ns.exec(b, `bridge fdb add ${s.mac} dev p${s.port} master static`);
    // wait for every port to forward
    for (let t = 0; ; t++) {
      const links = ns.exec(b, 'bridge link show');
      if ((links.match(/state forwarding/g) ?? []).length === nPorts) break;
      if (t > 100) throw new Error(`bridge ports did not reach forwarding:\n${links}`);
      ns.exec(b, 'sleep 0.05');
    }
    const inp = join(dir, 'seq.json');
    const outp = join(dir, 'out.json');
    const py = join(dir, 'sendrecv.py');
    writeFileSync(py, PY);
    writeFileSync(inp, JSON.stringify(seq.frames.map((f) => [f.port, hex(f.bytes), f.t])));
    ns.exec(h, `python3 ${py} ${inp} ${outp} ${names.join(',')}`);
    const out = JSON.parse(readFileSync(outp, 'utf8')) as string[][];
    const fdb = ns
      .exec(b, 'bridge fdb show br br0')
      .split('\n')
      .filter((l) => l && !/permanent/.test(l))
      .map((l) => {
        const m = /^(\S+) dev p(\d+)(?: vlan \d+)? master br0\s*(static)?/.exec(l);
        if (!m) throw new Error(`unexpected fdb line: ${l}`);
        return `${m[1]} p${m[2]}${m[3] ? ' static' : ''}`;
      })
      .sort();
    return { out, fdb };
  } finally {
    rmSync(dir, { recursive: true, force: true });
    const errs = ns.cleanup();
    if (errs.length) console.error(errs.join('\n'));
  }
}

function firstDifference(a: string[], b: string[]): string {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) {
      return `frame #${i} differs (kernel ${a.length} frames, netwasm ${b.length})\n  kernel:  ${a[i] ?? '(none)'}\n  netwasm: ${b[i] ?? '(none)'}`;
    }
  }
  return 'identical';
}

const N_PORTS = PORTS.length;

hostTest(Kernel, 'the same 1,200 frames leave every port identically and in order, and the FDBs agree', () => {
  const seq = makeSequence(0x5eed_b41d, 1200, N_PORTS);
  const mine = runNetwasm(seq, N_PORTS);
  const kern = runKernel(seq, N_PORTS);
  let total = 0;
  for (let p = 0; p < N_PORTS; p++) {
    total += kern.out[p]!.length;
    assert.ok(kern.out[p]!.length > 50, `port ${p} saw traffic from the kernel (${kern.out[p]!.length} frames)`);
    assert.ok(mine.out[p]!.join() === kern.out[p]!.join(), `port ${p}: ${firstDifference(kern.out[p]!, mine.out[p]!)}`);
  }
  assert.ok(total > 1200, `the sequence produced ${total} output frames`);
  assert.equal(mine.fdb, kern.fdb, 'learned and static FDB entries');
});

hostTest(Kernel, 'ageing: with ageing_time 2 s, stations silent for 3 s are forgotten (flooded to again) by both', () => {
  // three bursts of 300 frames, 3.2 s apart; within a burst (0.3 s) nothing ages
  const seq = makeSequence(0xa6e1, 900, N_PORTS, [[300, 3.2], [600, 3.2]]);
  const mine = runNetwasm(seq, N_PORTS, 2);
  const kern = runKernel(seq, N_PORTS, 2);
  for (let p = 0; p < N_PORTS; p++) {
    assert.ok(mine.out[p]!.join() === kern.out[p]!.join(), `port ${p}: ${firstDifference(kern.out[p]!, mine.out[p]!)}`);
  }
  assert.equal(mine.fdb, kern.fdb, 'FDB after the last burst');
  // the same frames with the default ageing leave differently: the ageing really mattered
  const kept = runNetwasm(seq, N_PORTS, 300);
  assert.ok(kept.out.some((o, p) => o.join() !== mine.out[p]!.join()), 'ageing changed the outcome');
});

Kernel('the sequence exercises every path (checked on netwasm, cheap)', () => {
  const seq = makeSequence(0x5eed_b41d, 1200, N_PORTS);
  const dp = new Dataplane({ slots: 2048, fdbCapacity: 4096 });
  const br = new Bridges(dp);
  for (let i = 0; i < N_PORTS; i++) br.addPort(i, { bridge: 0, ...PORTS[i]!.opts });
  for (const s of seq.statics) br.fdbAdd(0, s.mac, { port: s.port });
  for (let k = 0; k < seq.frames.length; k++) {
    dp.push(seq.frames[k]!.bytes, seq.frames[k]!.port, 1000);
    if (dp.full) dp.run();
  }
  dp.run();
  for (const c of ['bridge-flood', 'bridge-forward', 'bridge-learned', 'bridge-mac-move', 'bridge-reflect-drop', 'bridge-isolated-drop',
    'bridge-bad-src-mac', 'bridge-pause-drop', 'bridge-link-local-drop']) {
    assert.ok(dp.counter(c) > 0n, `${c} = ${dp.counter(c)}`);
  }
});

Kernel.run();
