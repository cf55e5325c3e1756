/**
 * Replay of a 1,000,000-frame capture through a two-host scenario (a bridge
 * network and an overlay; the capture is what container c1 sends on the
 * overlay): the overlay's bridge domain on host1 (c1 -> c2, local), VXLAN
 * encap to host2 across the underlay segment, VXLAN decap and host2's bridge
 * (c1 -> c3/c4), ARP proxy replies, floods; every port's output written to
 * its capture. Timed beside `tcpdump -r in -w out` (a plain copy of the same
 * file, the floor of what any capture-to-capture tool pays), medians of
 * REPEATS, taking turns.
 *
 * The capture is generated into a temp dir from a fixed seed with the
 * src/frames builders and PcapWriter; its mix (of frames):
 *   44% c1 -> c2 unicast (bridge)        IPv4 UDP/TCP, IMIX sizes
 *   48% c1 -> c3/c4 unicast (VXLAN)      IPv4 UDP/TCP, IMIX sizes
 *    4% ARP requests for c3/c4 (flooded on host1's bridge; the VXLAN port's
 *       ARP proxy answers them)
 *    2% ARP requests for c2 (flooded on host1's bridge; the proxy sends none
 *       into the overlay)
 *    2% unknown unicast (flooded)
 * IMIX: 7/12 60 B, 4/12 590 B, 1/12 1414 B (IP 46/576/1400).
 *
 * The FDB is warm, as after the stations' first exchange: c2 (on host1) and
 * c3/c4 (on host2) are entered on their ports, as the bridges would have
 * learned them from replies (the capture holds only what c1 sends).
 *
 *   npm run bench -- replay
 *   node --import tsx bench/replay.bench.ts [frames]     (one run, timings on stderr)
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, readdirSync, readFileSync, existsSync, openSync, closeSync, readSync, writeSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadScenarioText } from '../src/scenario/load.ts';
import { compileTopology } from '../src/compile/compile.ts';
import { replay, REPLAY_HOST_BYTES } from '../src/replay/replay.ts';
import { PcapWriter } from '../src/pcap/index.ts';
import { ether, ipv4, udp, tcp, arpRequest, ETH_IPV4, ETH_ARP, TCP_ACK, TCP_PSH } from '../src/frames/build.ts';
import { median, type Row } from './common.ts';

const FILE = fileURLToPath(import.meta.url);
export const FRAMES = 1_000_000;
const REPEATS = 3;

export const SCENARIO = `
hosts:
  - name: host1
    interfaces:
      eth0: { mac: "02:00:00:00:01:01", ip: 192.0.2.1/24 }
  - name: host2
    interfaces:
      eth0: { mac: "02:00:00:00:02:01", ip: 192.0.2.2/24 }
default_bridge: true
networks:
  - name: ov
    driver: overlay
    attachable: true
    subnet: 10.0.9.0/24
containers:
  - name: c1
    host: host1
    networks:
      - bridge: { mac: "02:42:ac:11:00:02" }
      - ov: { mac: "02:42:0a:00:09:02" }
  - name: c2
    host: host1
    networks:
      - bridge: { mac: "02:42:ac:11:00:03" }
      - ov: { mac: "02:42:0a:00:09:03" }
  - { name: c3, host: host2, networks: [ov] }
  - { name: c4, host: host2, networks: [ov] }
`;

const C1 = { mac: '02:42:0a:00:09:02', ip: '10.0.9.2' };
const C2 = { mac: '02:42:0a:00:09:03', ip: '10.0.9.3' };
const C3 = { mac: '02:42:0a:00:09:04', ip: '10.0.9.4' };
const C4 = { mac: '02:42:0a:00:09:05', ip: '10.0.9.5' };
const INPUT_PORT = 'c1/eth1';

/** xorshift32: the same capture on every run. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    return s / 4294967296;
  };
}

/** What the generated capture holds, by class (for checking the replay's outputs). */
export interface CaptureMix { local: number; remote: number; arpProxy: number; arpFlood: number; unknown: number; bytes: number }

/** Writes `frames` frames of c1's traffic to `path` (µs pcap, 1 µs apart). */
export function generateCapture(path: string, frames: number, seed = 0x6e77): CaptureMix {
  const r = rng(seed);
  const ipLen = (): number => { const x = r() * 12; return x < 7 ? 46 : x < 11 ? 576 : 1400; };
  // A pool of distinct frames per class (flows differ by ports), sampled per frame.
  const POOL = 512;
  const unicast = (dst: { mac: string; ip: string }): Uint8Array[] => Array.from({ length: POOL }, (_, i) => {
    const len = ipLen();
    const sport = 32768 + i;
    const dport = [80, 443, 5432, 6379, 53][i % 5]!;
    const l4 = i % 3 === 0
      ? udp(C1.ip, dst.ip, sport, dport, new Uint8Array(len - 28).fill(i & 0xff))
      : tcp(C1.ip, dst.ip, sport, dport, i * 7919, i * 104729, TCP_ACK | TCP_PSH, new Uint8Array(len - 40).fill(i & 0xff));
    return ether(dst.mac, C1.mac, ETH_IPV4, ipv4(C1.ip, dst.ip, i % 3 === 0 ? 17 : 6, l4, { id: i }));
  });
  const local = unicast(C2);
  const remote = [...unicast(C3).slice(0, POOL / 2), ...unicast(C4).slice(0, POOL / 2)];
  const arpRemote = [C3, C4].map((d) => ether('ff:ff:ff:ff:ff:ff', C1.mac, ETH_ARP, arpRequest(C1.mac, C1.ip, d.ip)));
  const arpLocal = ether('ff:ff:ff:ff:ff:ff', C1.mac, ETH_ARP, arpRequest(C1.mac, C1.ip, C2.ip));
  const unknown = Array.from({ length: 16 }, (_, i) => ether(`02:42:0a:00:09:${(0x80 + i).toString(16)}`, C1.mac, ETH_IPV4, ipv4(C1.ip, `10.0.9.${0x80 + i}`, 17, udp(C1.ip, `10.0.9.${0x80 + i}`, 40000, 53, new Uint8Array(40)))));
  const mix: CaptureMix = { local: 0, remote: 0, arpProxy: 0, arpFlood: 0, unknown: 0, bytes: 0 };
  const w = new PcapWriter(path, { bufferSize: 4 << 20 });
  let sec = 1_700_000_000;
  let usec = 0;
  for (let i = 0; i < frames; i++) {
    const x = r() * 100;
    let f: Uint8Array;
    const pick = (pool: Uint8Array[]): Uint8Array => pool[Math.floor(r() * pool.length)]!;
    if (x < 44) { f = pick(local); mix.local++; }
    else if (x < 92) { f = pick(remote); mix.remote++; }
    else if (x < 96) { f = pick(arpRemote); mix.arpProxy++; }
    else if (x < 98) { f = arpLocal; mix.arpFlood++; }
    else { f = pick(unknown); mix.unknown++; }
    mix.bytes += f.length;
    w.write(f, sec, usec * 1000);
    if (++usec === 1_000_000) { usec = 0; sec++; }
  }
  w.close();
  return mix;
}

/** The compiled scenario with a warm FDB (see the header). */
export function compiledScenario() {
  const s = loadScenarioText(SCENARIO, 'replay.bench');
  const c = compileTopology(s.topology, { hostBytes: REPLAY_HOST_BYTES });
  const h1 = c.bridgeIds.get('host1/ov')!;
  const h2 = c.bridgeIds.get('host2/ov')!;
  c.bridges.fdbAdd(h1, C2.mac, { port: c.ports.get('c2/eth1')! });
  c.bridges.fdbAdd(h2, C3.mac, { port: c.ports.get('c3/eth0')! });
  c.bridges.fdbAdd(h2, C4.mac, { port: c.ports.get('c4/eth0')! });
  return c;
}

/** One netwasm replay of `capture` into `outDir`: seconds (scenario compile included), after checking the outputs. */
export function netwasmReplay(capture: string, outDir: string, mix: CaptureMix): { secs: number; outFrames: number } {
  const t0 = process.hrtime.bigint();
  const c = compiledScenario();
  const res = replay(c.dp, [{ port: INPUT_PORT, path: capture }], { ports: c.ports, segments: c.segments, outDir });
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  // What must have come out (a fast replay that lost frames would be worthless).
  const n = mix.local + mix.remote + mix.arpProxy + mix.arpFlood + mix.unknown;
  // ARP requests are flooded on host1's bridge (c2 gets them); the VXLAN
  // port's ARP proxy answers those for c3/c4 and sends none into the overlay.
  const want: Record<string, number> = {
    'c1/eth1': mix.arpProxy,
    'c2/eth1': mix.local + mix.arpProxy + mix.arpFlood + mix.unknown,
    'host1/eth0': mix.remote + mix.unknown,
    'host2/eth0': 0,
  };
  if (res.frames !== n) throw new Error(`replay read ${res.frames} frames, the capture has ${n}`);
  for (const [p, w] of Object.entries(want)) {
    const got = res.ports[p]!.tx;
    if (got !== w) throw new Error(`replay: ${p} sent ${got} frames, expected ${w}: ${JSON.stringify(res.counters)}`);
  }
  const c3c4 = res.ports['c3/eth0']!.tx + res.ports['c4/eth0']!.tx;
  if (c3c4 !== mix.remote + 2 * mix.unknown) throw new Error(`replay: c3+c4 sent ${c3c4}, expected ${mix.remote + 2 * mix.unknown}`);
  let outFrames = 0;
  for (const s of Object.values(res.ports)) outFrames += s.tx;
  return { secs, outFrames };
}

/** One `tcpdump -r capture -w out`: seconds (the process, start to exit). */
export function tcpdumpCopy(capture: string, out: string): number {
  const t0 = process.hrtime.bigint();
  execFileSync('tcpdump', ['-Z', 'root', '-r', capture, '-w', out], { stdio: ['ignore', 'ignore', 'pipe'] });
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

function tcpdumpAvailable(): boolean {
  try {
    execFileSync('tcpdump', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * What the replay's file I/O alone costs: reading the capture (1 MiB reads)
 * and writing `outs` (the bytes of its output captures, held in memory) with
 * 128 KiB writes, as replay's writers do. Seconds.
 */
export function ioFloor(capture: string, outs: Uint8Array[], scratch: string): number {
  mkdirSync(scratch, { recursive: true });
  const buf = new Uint8Array(1 << 20);
  const t0 = process.hrtime.bigint();
  const fd = openSync(capture, 'r');
  while (readSync(fd, buf, 0, buf.length, null) > 0);
  closeSync(fd);
  outs.forEach((b, i) => {
    const o = openSync(join(scratch, `${i}.pcap`), 'w');
    for (let at = 0; at < b.length; at += 128 << 10) {
      const n = Math.min(128 << 10, b.length - at);
      let done = 0;
      while (done < n) done += writeSync(o, b, at + done, n - done);
    }
    closeSync(o);
  });
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

/** A RAM-backed temp dir if there is one (the figures then measure work, not the disk's writeback). */
function tempBase(): string {
  try {
    if (existsSync('/dev/shm') && statSync('/dev/shm').isDirectory()) {
      const d = mkdtempSync('/dev/shm/nwbench-replay-');
      return d;
    }
  } catch {
    /* fall through */
  }
  return mkdtempSync(join(tmpdir(), 'nwbench-replay-'));
}

function clean(dir: string): void {
  for (const f of readdirSync(dir)) rmSync(join(dir, f), { recursive: true, force: true });
}

export async function suite(frames = FRAMES, repeats = REPEATS): Promise<Row[]> {
  const dir = tempBase();
  try {
    const capture = join(dir, 'in.pcap');
    const mix = generateCapture(capture, frames);
    const mb = statSync(capture).size / 1e6;
    process.stderr.write(`bench: replay capture ${frames} frames, ${mb.toFixed(0)} MB\n`);
    const out = join(dir, 'out');
    const copy = join(dir, 'copy.pcap');
    const hasTcpdump = tcpdumpAvailable();
    // warm-up: the file into the page cache, tier-up of the replay path; its
    // outputs, kept in memory, are what the I/O floor writes
    netwasmReplay(capture, out, mix);
    const outs = readdirSync(out).map((f) => readFileSync(join(out, f)));
    const outBytes = outs.reduce((a, b) => a + b.length, 0);
    clean(out);
    const floorDir = join(dir, 'floor');
    // Rounds of the three in turn (each writes into memory the one before freed).
    const nw: number[] = [];
    const td: number[] = [];
    const fl: number[] = [];
    let outFrames = 0;
    for (let i = 0; i < repeats; i++) {
      const r = netwasmReplay(capture, out, mix);
      nw.push(frames / r.secs);
      outFrames = r.outFrames;
      clean(out);
      fl.push(frames / ioFloor(capture, outs, floorDir));
      rmSync(floorDir, { recursive: true, force: true });
      if (hasTcpdump) {
        td.push(frames / tcpdumpCopy(capture, copy));
        rmSync(copy, { force: true });
      }
    }
    const where = dir.startsWith('/dev/shm') ? 'tmpfs' : 'disk';
    const what = `replay ${(frames / 1e6).toLocaleString('en')}M-frame capture (${mb.toFixed(0)} MB, ${where}) through bridge + VXLAN encap/decap, 2 hosts`;
    const work = `${what}: ${(outFrames / 1e6).toFixed(2)}M frames to 5 output captures`;
    const floorWork = `${what}: ceiling, its file I/O alone (read ${mb.toFixed(0)} MB, write ${(outBytes / 1e6).toFixed(0)} MB)`;
    const n = median(nw);
    const fv = median(fl);
    if (!hasTcpdump) {
      return [
        { work, unit: 'frames/s', netwasm: n, baseline: 'tcpdump -r in -w out (not installed)', baselineValue: null, ratio: null, target: '>= 1x', met: null },
        { work: floorWork, unit: 'frames/s', netwasm: fv, baseline: '-', baselineValue: null, ratio: null, target: '', met: null },
      ];
    }
    const t = median(td);
    return [
      { work, unit: 'frames/s', netwasm: n, baseline: 'tcpdump -r in -w out (plain copy)', baselineValue: t, ratio: n / t, target: '>= 1x', met: n >= t },
      { work: floorWork, unit: 'frames/s', netwasm: fv, baseline: 'tcpdump -r in -w out (plain copy)', baselineValue: t, ratio: fv / t, target: '', met: null },
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === FILE) {
  const frames = Number(process.argv[2] ?? FRAMES);
  const rows = await suite(frames, Number(process.argv[3] ?? REPEATS));
  console.table(rows);
}
