// Replay's two engines: 'wasm' (records into slots, output records and segment
// frames moved in the module, once per vector) and 'js' (per frame in
// TypeScript) write the very same captures and count the same, for one
// capture (the module parses it from the read buffer) or several, µs, ns and
// big-endian files, oversize frames, a feedback queue that overflows into the
// TypeScript one, and corrupt or truncated captures.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, readFileSync, readdirSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PcapWriter, CaptureError, WriteBehind } from '../src/pcap/index.ts';
import { openCapture } from '../src/pcap/index.ts';
import { FREE_TOP, type Dataplane } from '../src/dataplane/index.ts';
import { openSync, closeSync } from 'node:fs';
import { execFileSync, spawn } from 'node:child_process';
import { replay, REPLAY_HOST_BYTES, type ReplayOptions, type ReplayInput } from '../src/replay/replay.ts';
import { loadScenarioText } from '../src/scenario/load.ts';
import { compileTopology } from '../src/compile/compile.ts';
import { ether, ipv4, udp, arpRequest, ETH_IPV4, ETH_ARP } from '../src/frames/build.ts';

const SCENARIO = `
hosts:
  - name: host1
    interfaces: { eth0: { mac: "02:00:00:00:01:01", ip: 192.0.2.1/24 } }
  - name: host2
    interfaces: { eth0: { mac: "02:00:00:00:02:01", ip: 192.0.2.2/24 } }
default_bridge: false
networks:
  - { name: ov, driver: overlay, attachable: true, subnet: 10.0.9.0/24 }
containers:
  - { name: c1, host: host1, networks: [ov] }
  - { name: c2, host: host1, networks: [ov] }
  - { name: c3, host: host2, networks: [ov] }
  - { name: c4, host: host2, networks: [ov] }
`;

const E = suite('replay engines: wasm and js write the same captures');

const scenario = loadScenarioText(SCENARIO, 'engine');
const ep = new Map(scenario.topology.endpoints.map((e) => [e.port, e]));
const c1 = ep.get('c1/eth0')!, c2 = ep.get('c2/eth0')!, c3 = ep.get('c3/eth0')!, c4 = ep.get('c4/eth0')!;

/** c1's traffic: to c2 (local), c3/c4 (VXLAN), ARP floods, unknown unicast, some frames longer than a slot. */
function capture(path: string, frames: number, resolution: 'us' | 'ns', oversize = false): void {
  const w = new PcapWriter(path, { resolution });
  for (let i = 0; i < frames; i++) {
    const to = [c2, c3, c4][i % 3]!;
    let f: Uint8Array;
    if (i % 37 === 0) f = ether('ff:ff:ff:ff:ff:ff', c1.mac!, ETH_ARP, arpRequest(c1.mac!, c1.ip!, [c2, c3, c4][i % 3]!.ip!));
    else if (i % 53 === 0) f = ether('02:42:0a:00:09:99', c1.mac!, ETH_IPV4, ipv4(c1.ip!, '10.0.9.99', 17, udp(c1.ip!, '10.0.9.99', 1, 2, new Uint8Array(30))));
    else f = ether(to.mac!, c1.mac!, ETH_IPV4, ipv4(c1.ip!, to.ip!, 17, udp(c1.ip!, to.ip!, 1000 + i, 53, new Uint8Array(oversize && i % 101 === 0 ? 3000 : (i * 7) % 1400))));
    w.write(f, 100 + Math.floor(i / 1000), (i % 1000) * 1_000_000 + (resolution === 'ns' ? i % 999 : 0));
  }
  w.close();
}

/** The same capture, big-endian. */
function bigEndian(from: string, to: string): void {
  const b = Buffer.from(readFileSync(from));
  const sw = (at: number, n: number) => { for (let k = 0; k < n; k++) b.writeUInt32BE(b.readUInt32LE(at + 4 * k), at + 4 * k); };
  const v = (at: number) => { b.writeUInt16BE(b.readUInt16LE(at), at); };
  sw(0, 1); v(4); v(6); sw(8, 4);
  for (let at = 24; at < b.length;) {
    const caplen = b.readUInt32LE(at + 8);
    sw(at, 4);
    at += 16 + caplen;
  }
  writeFileSync(to, b);
}

interface Run { r?: ReturnType<typeof replay>; err?: unknown; files: Record<string, Buffer>; dp: Dataplane }

function run(dir: string, out: string, inputs: (ports: Map<string, number>) => ReplayInput[], opts: Partial<ReplayOptions>, hostBytes = REPLAY_HOST_BYTES, slots?: number): Run {
  const c = compileTopology(scenario.topology, { hostBytes, ...(slots !== undefined ? { slots } : {}) });
  for (const [mac, p] of [[c2.mac!, 'c2/eth0'], [c3.mac!, 'c3/eth0']] as const) {
    c.bridges.fdbAdd(c.bridgeIds.get(p === 'c2/eth0' ? 'host1/ov' : 'host2/ov')!, mac, { port: c.ports.get(p)! });
  }
  const outDir = join(dir, out);
  let r: ReturnType<typeof replay> | undefined;
  let err: unknown;
  try {
    r = replay(c.dp, inputs(c.ports), { ports: c.ports, segments: c.segments, outDir, writeBehind: false, ...opts });
  } catch (e) {
    err = e;
  }
  const files = existsSync(outDir) ? Object.fromEntries(readdirSync(outDir).map((f) => [f, readFileSync(join(outDir, f))])) : {};
  return { r, err, files, dp: c.dp };
}

/** After a replay every slot is back on the free stack, once each. */
function poolIntact(dp: Dataplane, what: string): void {
  const f = (dp.regions.free!.ptr + FREE_TOP) >>> 2;
  const u32 = new Uint32Array(dp.memory.buffer);
  assert.is(u32[f], dp.slots, `${what}: free slots`);
  assert.is(dp.freeSlots, dp.slots, `${what}: freeSlots`);
  const seen = new Uint8Array(dp.slots);
  for (let i = 0; i < dp.slots; i++) {
    const slot = u32[f + 1 + i]!;
    assert.ok(slot < dp.slots && !seen[slot], `${what}: slot ${slot} on the free stack twice or out of range`);
    seen[slot] = 1;
  }
}

/** A classic pcap file (µs, little-endian unless `be`) from records. */
function pcapFile(path: string, records: Array<{ data: Uint8Array; sec: number; usec: number }>, be = false): void {
  const u32 = (b: Buffer, v: number, at: number) => (be ? b.writeUInt32BE(v, at) : b.writeUInt32LE(v, at));
  const gh = Buffer.alloc(24);
  u32(gh, 0xa1b2c3d4, 0);
  if (be) { gh.writeUInt16BE(2, 4); gh.writeUInt16BE(4, 6); } else { gh.writeUInt16LE(2, 4); gh.writeUInt16LE(4, 6); }
  u32(gh, 0x7fffffff, 16);
  u32(gh, 1, 20);
  const parts: Buffer[] = [gh];
  for (const r of records) {
    const h = Buffer.alloc(16);
    u32(h, r.sec, 0); u32(h, r.usec, 4); u32(h, r.data.length, 8); u32(h, r.data.length, 12);
    parts.push(h, Buffer.from(r.data));
  }
  writeFileSync(path, Buffer.concat(parts));
}

function same(a: Run, b: Run, what: string): void {
  assert.equal(Object.keys(b.files).sort(), Object.keys(a.files).sort(), what);
  for (const f of Object.keys(a.files)) assert.ok(b.files[f]!.equals(a.files[f]!), `${what}: ${f} differs`);
  assert.equal(b.r?.counters, a.r?.counters, what);
  assert.equal(b.r?.ports, a.r?.ports, what);
  assert.is(b.r?.frames, a.r?.frames, what);
  assert.is(b.r?.segmentLoops, a.r?.segmentLoops, what);
  assert.equal(Object.keys(b.r?.files ?? {}).sort(), Object.keys(a.r?.files ?? {}).sort(), what);
}

E('one capture (µs, ns, big-endian, with oversize frames): identical captures, counters, port figures', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nw-engine-'));
  try {
    capture(join(dir, 'us.pcap'), 5000, 'us', true);
    capture(join(dir, 'ns.pcap'), 3000, 'ns');
    bigEndian(join(dir, 'us.pcap'), join(dir, 'be.pcap'));
    for (const f of ['us.pcap', 'ns.pcap', 'be.pcap']) {
      const inputs = () => [{ port: 'c1/eth0', path: join(dir, f) }];
      const js = run(dir, `${f}-js`, inputs, { engine: 'js' });
      const wasm = run(dir, `${f}-wasm`, inputs, {});
      assert.ok(js.r!.counters['vxlan-encap']! > 1000 && js.r!.counters['vxlan-decap']! > 1000, JSON.stringify(js.r!.counters));
      assert.ok(Object.keys(js.files).length >= 5, f);
      same(js, wasm, f);
      if (f === 'be.pcap') same(run(dir, 'us-again', () => [{ port: 'c1/eth0', path: join(dir, 'us.pcap') }], {}), wasm, 'big-endian = little-endian');
    }
    // The per-frame path without a host region at all is the reference too.
    const inputs = () => [{ port: 'c1/eth0', path: join(dir, 'us.pcap') }];
    same(run(dir, 'none', inputs, {}, 0), run(dir, 'wasm2', inputs, {}), 'no host region');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

E('several captures, frames from memory, no outputs, write-behind: identical', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nw-engine-'));
  try {
    capture(join(dir, 'a.pcap'), 2000, 'us');
    capture(join(dir, 'b.pcap'), 1500, 'ns');
    const mem = [...Array(500).keys()].map((i) => ({
      data: ether(c1.mac!, c3.mac!, ETH_IPV4, ipv4(c3.ip!, c1.ip!, 17, udp(c3.ip!, c1.ip!, 53, 1000 + i, new Uint8Array(i % 700)))),
      tsSec: 100, tsNsec: i * 1_000_000 + 7,
    }));
    const inputs = () => [{ port: 'c1/eth0', path: join(dir, 'a.pcap') }, { port: 'c2/eth0', path: join(dir, 'b.pcap') }, { port: 'c3/eth0', frames: mem }];
    same(run(dir, 'js', inputs, { engine: 'js' }), run(dir, 'wasm', inputs, {}), 'several');
    same(run(dir, 'js-wb', inputs, { engine: 'js', writeBehind: true }), run(dir, 'wasm-wb', inputs, { writeBehind: true }), 'write-behind');
    const one = () => [{ port: 'c1/eth0', path: join(dir, 'a.pcap') }];
    const a = run(dir, 'x', one, { engine: 'js', outDir: undefined });
    const b = run(dir, 'y', one, { outDir: undefined });
    same(a, b, 'no outputs');
    assert.equal(a.files, {});
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

E('a feedback queue too small for a vector\'s underlay frames: the rest goes through the TypeScript queue, identically', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nw-engine-'));
  try {
    capture(join(dir, 'a.pcap'), 3000, 'us');
    const inputs = () => [{ port: 'c1/eth0', path: join(dir, 'a.pcap') }];
    const js = run(dir, 'js', inputs, { engine: 'js' });
    for (const entries of [1, 3, 40]) same(js, run(dir, `wasm-${entries}`, inputs, { feedbackEntries: entries }), `${entries} entries`);
    // segment loops past maxSegmentHops, counted the same
    const loops = (opts: Partial<ReplayOptions>) => run(dir, `loop-${opts.engine ?? 'wasm'}`, inputs, { maxSegmentHops: 0, ...opts });
    const lj = loops({ engine: 'js' });
    assert.ok(lj.r!.segmentLoops > 0);
    same(lj, loops({}), 'loops');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

E('a record larger than the read buffer, then more records than a small pool has slots: identical, the free stack intact', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nw-engine-'));
  try {
    const local = ether(c2.mac!, c1.mac!, ETH_IPV4, ipv4(c1.ip!, c2.ip!, 17, udp(c1.ip!, c2.ip!, 1000, 53, new Uint8Array(30))));
    const remote = ether(c3.mac!, c1.mac!, ETH_IPV4, ipv4(c1.ip!, c3.ip!, 17, udp(c1.ip!, c3.ip!, 1000, 53, new Uint8Array(200))));
    const big = new Uint8Array(2 << 20); // larger than the 1 MiB read buffer: the reader reads it into a grown buffer of its own
    big.set(local);
    const recs = (before: number, after: number, mix: boolean) => [
      ...Array.from({ length: before }, (_, i) => ({ data: mix && i % 3 === 0 ? remote : local, sec: 100, usec: i })),
      { data: big, sec: 101, usec: 0 },
      ...Array.from({ length: after }, (_, i) => ({ data: mix && i % 3 === 0 ? remote : local, sec: 102, usec: i })),
    ];
    const cases: Array<[string, ReturnType<typeof recs>, boolean, number]> = [
      ['big first, 600 local frames, 128 slots', recs(0, 600, false), false, 128],
      ['big first, big-endian', recs(0, 600, false), true, 128],
      ['big after 300, then 20000 frames (past the grown buffer), VXLAN too, 128 slots', recs(300, 20000, true), false, 128],
      ['big after 300, VXLAN, 300 slots (feedback keeps slots)', recs(300, 3000, true), false, 300],
      ['two big records in a row, 64 slots', [...recs(10, 0, true), ...recs(0, 900, true)], false, 64],
    ];
    for (const [what, records, be, slots] of cases) {
      const p = join(dir, 'big.pcap');
      pcapFile(p, records, be);
      const inputs = () => [{ port: 'c1/eth0', path: p }];
      const js = run(dir, 'js', inputs, { engine: 'js' }, REPLAY_HOST_BYTES, slots);
      const wasm = run(dir, 'wasm', inputs, {}, REPLAY_HOST_BYTES, slots);
      assert.is(js.err, undefined, what);
      assert.is(wasm.err, undefined, what);
      assert.is(js.r!.frames, records.length, what);
      assert.ok(js.r!.counters['graph-tx']! >= records.length - 2, `${what}: ${JSON.stringify(js.r!.counters)}`);
      assert.is(wasm.r!.counters['eth-runt'], js.r!.counters['eth-runt'], what);
      same(js, wasm, what);
      poolIntact(js.dp, `${what} (js)`);
      poolIntact(wasm.dp, `${what} (wasm)`);
      rmSync(join(dir, 'js'), { recursive: true });
      rmSync(join(dir, 'wasm'), { recursive: true });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

E('a reader on a given buffer goes back to it after a record larger than it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nw-engine-'));
  try {
    const p = join(dir, 'grow.pcap');
    const small = (i: number) => Uint8Array.from({ length: 60 + (i % 50) }, (_, k) => (i + k) & 0xff);
    const records = [
      ...Array.from({ length: 20 }, (_, i) => ({ data: small(i), sec: 1, usec: i })),
      { data: Uint8Array.from({ length: 10000 }, (_, k) => k & 0xff), sec: 2, usec: 0 },
      ...Array.from({ length: 400 }, (_, i) => ({ data: small(i + 20), sec: 3, usec: i })),
    ];
    pcapFile(p, records);
    const mem = new Uint8Array(8192 + 4096);
    const buffer = mem.subarray(4096);
    const cap = openCapture(p, { buffer, copy: false });
    let i = 0;
    let home = 0;
    for (const r of cap) {
      assert.equal(Array.from(r.data), Array.from(records[i]!.data), `record ${i}`);
      if (r.data.buffer === mem.buffer) home++;
      i++;
    }
    assert.is(i, records.length);
    assert.ok(home > 300, `records read from the given buffer: ${home}`);
    assert.is(cap.stats.bufferCapacity, buffer.length);
    cap.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

E('a bad record at the start of a vector: the same error, after the same outputs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nw-engine-'));
  try {
    // c1 -> c2 only: no underlay frames, so the vectors are inputs 0-255, 256-511, ...
    const f = ether(c2.mac!, c1.mac!, ETH_IPV4, ipv4(c1.ip!, c2.ip!, 17, udp(c1.ip!, c2.ip!, 1000, 53, new Uint8Array(30))));
    pcapFile(join(dir, 'good.pcap'), Array.from({ length: 1000 }, (_, i) => ({ data: f, sec: 100, usec: i })));
    const good = readFileSync(join(dir, 'good.pcap'));
    const starts: number[] = [];
    for (let at = 24; at < good.length; at += 16 + good.readUInt32LE(at + 8)) starts.push(at);
    for (const k of [255, 256, 257, 512]) {
      const files: Record<string, Buffer> = {};
      files[`caplen${k}`] = Buffer.from(good);
      files[`caplen${k}`]!.writeUInt32LE(0x7fffffff, starts[k]! + 8);
      files[`frac${k}`] = Buffer.from(good);
      files[`frac${k}`]!.writeUInt32LE(1_000_000, starts[k]! + 4);
      files[`cut${k}`] = good.subarray(0, starts[k]! + 10);
      for (const [name, bytes] of Object.entries(files)) {
        const p = join(dir, `${name}.pcap`);
        writeFileSync(p, bytes);
        const inputs = () => [{ port: 'c1/eth0', path: p }];
        const js = run(dir, `${name}-js`, inputs, { engine: 'js' });
        const wasm = run(dir, `${name}-wasm`, inputs, {});
        assert.instance(js.err, CaptureError, name);
        assert.instance(wasm.err, CaptureError, name);
        assert.is((wasm.err as CaptureError).message, (js.err as CaptureError).message, name);
        assert.is((wasm.err as CaptureError).offset, (js.err as CaptureError).offset, name);
        assert.equal(Object.keys(wasm.files).sort(), Object.keys(js.files).sort(), name);
        for (const x of Object.keys(js.files)) assert.ok(wasm.files[x]!.equals(js.files[x]!), `${name}: ${x} differs`);
        assert.is(existsSync(join(dir, `${name}-wasm`)), existsSync(join(dir, `${name}-js`)), `${name}: output directory`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

E('a corrupt record and a truncated end: the same error, after the same outputs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nw-engine-'));
  try {
    capture(join(dir, 'a.pcap'), 2000, 'us');
    const good = readFileSync(join(dir, 'a.pcap'));
    // record 1500: caplen past the snaplen bound; and the file cut in the middle of record 1700
    let at = 24;
    const starts: number[] = [];
    while (at < good.length) {
      starts.push(at);
      at += 16 + good.readUInt32LE(at + 8);
    }
    const bad = Buffer.from(good);
    bad.writeUInt32LE(0x7fffffff, starts[1500]! + 8);
    writeFileSync(join(dir, 'bad.pcap'), bad);
    const badFrac = Buffer.from(good);
    badFrac.writeUInt32LE(2_000_000, starts[900]! + 4);
    writeFileSync(join(dir, 'frac.pcap'), badFrac);
    writeFileSync(join(dir, 'cut.pcap'), good.subarray(0, starts[1700]! + 30));
    const badFirst = Buffer.from(good);
    badFirst.writeUInt32LE(0x7fffffff, 24 + 8);
    writeFileSync(join(dir, 'first.pcap'), badFirst);
    for (const f of ['bad.pcap', 'frac.pcap', 'cut.pcap', 'first.pcap']) {
      const inputs = () => [{ port: 'c1/eth0', path: join(dir, f) }];
      const js = run(dir, `${f}-js`, inputs, { engine: 'js' });
      const wasm = run(dir, `${f}-wasm`, inputs, {});
      assert.instance(js.err, CaptureError, f);
      assert.instance(wasm.err, CaptureError, f);
      const [e1, e2] = [js.err as CaptureError, wasm.err as CaptureError];
      assert.is(e2.reason, e1.reason, f);
      assert.is(e2.offset, e1.offset, f);
      assert.is(e2.message, e1.message, f);
      assert.equal(Object.keys(wasm.files).sort(), Object.keys(js.files).sort(), f);
      for (const k of Object.keys(js.files)) assert.ok(wasm.files[k]!.equals(js.files[k]!), `${f}: ${k} differs`);
      assert.is(existsSync(join(dir, `${f}-wasm`)), existsSync(join(dir, `${f}-js`)), `${f}: output directory`);
    }
    // a bad first record: reported before anything is written (no output directory), as before
    assert.not.ok(existsSync(join(dir, 'first.pcap-wasm')));
    // no records at all: an empty output directory, both ways
    writeFileSync(join(dir, 'empty.pcap'), good.subarray(0, 24));
    const inputs = () => [{ port: 'c1/eth0', path: join(dir, 'empty.pcap') }];
    const ej = run(dir, 'empty-js', inputs, { engine: 'js' });
    const ew = run(dir, 'empty-wasm', inputs, {});
    same(ej, ew, 'empty');
    assert.is(ew.r!.frames, 0);
    assert.ok(existsSync(join(dir, 'empty-wasm')) && existsSync(join(dir, 'empty-js')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const P = suite('write-behind: positional writes, shared with the caller');

if (WriteBehind.supported) P('two files through two small chunks: the caller writes what finds no free chunk, every byte lands at its place', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nw-wbp-'));
  const wb = WriteBehind.create(4096, 2);
  try {
    const fa = openSync(join(dir, 'a'), 'w');
    const fb = openSync(join(dir, 'b'), 'w');
    const want = { a: [] as number[], b: [] as number[] };
    for (let i = 0; i < 600; i++) {
      const len = 1 + ((i * 977) % (i % 50 === 0 ? 10000 : 4096)); // some larger than a chunk
      const bytes = Uint8Array.from({ length: len }, (_, k) => (i * 3 + k) & 0xff);
      const which = i % 3 === 0 ? 'b' : 'a';
      wb.write(which === 'a' ? fa : fb, bytes, want[which].length);
      want[which].push(...bytes);
      bytes.fill(0); // the caller may reuse its buffer at once
    }
    wb.drain();
    closeSync(fa);
    closeSync(fb);
    assert.equal(Array.from(readFileSync(join(dir, 'a'))), want.a);
    assert.equal(Array.from(readFileSync(join(dir, 'b'))), want.b);
    assert.throws(() => wb.write(fa, new Uint8Array(1), -1), /position/);
  } finally {
    wb.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

if (WriteBehind.supported) P('a PcapWriter on write-behind writes the file write() alone writes, frames larger than its buffer included', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nw-wbp-'));
  const wb = WriteBehind.create(256, 2);
  try {
    const frames = [...Array(3000).keys()].map((i) => Uint8Array.from({ length: i % 97 === 0 ? 700 : 1 + (i * 31) % 200 }, (_, k) => (i + k) & 0xff));
    const a = new PcapWriter(join(dir, 'a.pcap'), { bufferSize: 256 });
    const b = new PcapWriter(join(dir, 'b.pcap'), { bufferSize: 256, writeBehind: wb });
    const c = new PcapWriter(join(dir, 'c.pcap'), { bufferSize: 512, writeBehind: wb, resolution: 'ns' });
    const d = new PcapWriter(join(dir, 'd.pcap'), { bufferSize: 512, resolution: 'ns' });
    frames.forEach((f, i) => {
      for (const w of [a, b]) w.write(f, 100 + i, i * 1000);
      for (const w of [c, d]) w.write(f, 100 + i, i * 1001);
    });
    for (const w of [a, b, c, d]) w.close();
    assert.ok(readFileSync(join(dir, 'b.pcap')).equals(readFileSync(join(dir, 'a.pcap'))));
    assert.ok(readFileSync(join(dir, 'c.pcap')).equals(readFileSync(join(dir, 'd.pcap'))));
  } finally {
    wb.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

if (WriteBehind.supported) P('a PcapWriter on write-behind into a pipe writes in order, without positions', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nw-wbp-'));
  const wb = WriteBehind.create(256, 2);
  try {
    const fifo = join(dir, 'p.pcap');
    execFileSync('mkfifo', [fifo]);
    const cat = spawn('sh', ['-c', `cat "${fifo}" > "${join(dir, 'got.pcap')}"`]);
    const done = new Promise<number | null>((res) => cat.on('exit', res));
    const frames = [...Array(500).keys()].map((i) => Uint8Array.from({ length: i % 41 === 0 ? 600 : 1 + (i * 31) % 200 }, (_, k) => (i + k) & 0xff));
    const a = new PcapWriter(join(dir, 'a.pcap'), { bufferSize: 256 });
    const b = new PcapWriter(fifo, { bufferSize: 256, writeBehind: wb });
    frames.forEach((f, i) => {
      for (const w of [a, b]) w.write(f, 100 + i, i * 1000);
    });
    a.close();
    b.close();
    assert.is(await done, 0);
    assert.ok(readFileSync(join(dir, 'got.pcap')).equals(readFileSync(join(dir, 'a.pcap'))));
  } finally {
    wb.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

E.run();
P.run();
