// The allocation-free replay path: the capture reader's cursor (step), reads
// into and writes from memory that is not the reader's/writer's own (the
// data plane's `host` region), Dataplane.pushBytes, and replay with and
// without a host region giving the very same outputs.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, readFileSync, readdirSync, openSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Dataplane, PortKind, HEADROOM, DESC_SIZE, D_SLOT, D_OFF, D_LEN, D_IN_PORT, D_TS_SEC, D_TS_NSEC } from '../src/dataplane/index.ts';
import { openCapture, readCaptureSync, PcapWriter, WriteBehind } from '../src/pcap/index.ts';
import { replay, REPLAY_HOST_BYTES } from '../src/replay/replay.ts';
import { loadScenarioText } from '../src/scenario/load.ts';
import { compileTopology } from '../src/compile/compile.ts';
import { ether, ipv4, udp, arpRequest, ETH_IPV4, ETH_ARP } from '../src/frames/build.ts';

const FIX = new URL('../fixtures/captures/', import.meta.url).pathname;
const CAPTURES = readdirSync(FIX).filter((f) => /\.pcap(ng)?$/.test(f));

const Cursor = suite('pcap: the reader cursor (step) and external buffers');

Cursor('step() gives every record of every fixture, as read() does', () => {
  assert.ok(CAPTURES.length >= 8);
  for (const f of CAPTURES) {
    const want = [...readCaptureSync(join(FIX, f))];
    const cap = openCapture(join(FIX, f));
    let i = 0;
    while (cap.step()) {
      const w = want[i++]!;
      assert.equal(Array.from(cap.recBuf.subarray(cap.recAt, cap.recAt + cap.recLen)), Array.from(w.data), `${f} #${i}`);
      assert.is(cap.recTsSec, w.tsSec);
      assert.is(cap.recTsNsec, w.tsNsec);
      assert.is(cap.recOrigLen, w.origLen);
      assert.is(cap.recLinkType, w.linkType);
      assert.is(cap.recResolution, w.resolution);
    }
    assert.is(i, want.length, f);
    assert.is(cap.step(), false, 'and stays at the end');
  }
});

Cursor('a reader on a small buffer that is a part of other memory reads the same (and grows past it for a large record)', () => {
  const mem = new Uint8Array(4096);
  for (const f of CAPTURES) {
    const want = [...readCaptureSync(join(FIX, f))];
    mem.fill(0xee);
    const buffer = mem.subarray(1000, 1000 + 128); // an odd offset, smaller than many records
    const got = [...readCaptureSync(join(FIX, f), { buffer })];
    assert.is(got.length, want.length, f);
    got.forEach((r, i) => {
      assert.equal(Array.from(r.data), Array.from(want[i]!.data), `${f} #${i}`);
      assert.is(r.tsNsec, want[i]!.tsNsec);
    });
    assert.ok(mem.subarray(0, 1000).every((b) => b === 0xee) && mem.subarray(1128).every((b) => b === 0xee), 'nothing written outside it');
  }
});

Cursor('writeBytes from shared memory and from elsewhere writes the file write() writes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nw-fast-'));
  try {
    const frames = [...readCaptureSync(join(FIX, 'tcp.pcap'))];
    const a = new PcapWriter(join(dir, 'a.pcap'), { resolution: 'ns', bufferSize: 256 });
    for (const r of frames) a.write(r.data, r.tsSec, r.tsNsec);
    a.close();
    // the writer's buffer and the frames in one memory, at offsets
    const mem = new Uint8Array(1 << 16);
    const b = new PcapWriter(join(dir, 'b.pcap'), { resolution: 'ns', buffer: mem.subarray(333, 333 + 256) });
    let at = 8192;
    for (const [i, r] of frames.entries()) {
      if (i % 2) {
        mem.set(r.data, at);
        b.writeBytes(mem, at, at + r.data.length, r.tsSec, r.tsNsec);
        at += r.data.length;
      } else {
        const other = new Uint8Array(r.data.length + 7);
        other.set(r.data, 7);
        b.writeBytes(other, 7, 7 + r.data.length, r.tsSec, r.tsNsec);
      }
    }
    b.close();
    assert.equal(readFileSync(join(dir, 'b.pcap')), readFileSync(join(dir, 'a.pcap')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const Behind = suite('pcap: write-behind thread');

// Under Deno the thread is refused with a clear error and replays write
// directly (the same bytes: see the host-region suite below); its own tests
// are Node's.
const onDeno = !WriteBehind.supported;
if (onDeno) {
  Behind('under Deno it is refused, clearly, and never started on its own', () => {
    assert.throws(() => WriteBehind.create(4096, 2), /write-behind: not available under Deno/);
    assert.is(WriteBehind.start(), undefined);
  });
}

if (!onDeno) Behind('two files written through a few small chunks (the caller waits for free ones), in order; a buffer larger than a chunk too', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nw-wb-'));
  const wb = WriteBehind.create(4096, 3);
  try {
    const fa = openSync(join(dir, 'a'), 'w');
    const fb = openSync(join(dir, 'b'), 'w');
    const want = { a: [] as number[], b: [] as number[] };
    for (let i = 0; i < 400; i++) {
      const len = 1 + ((i * 977) % 4096);
      const bytes = Uint8Array.from({ length: len }, (_, k) => (i + k) & 0xff);
      const which = i % 3 === 0 ? 'b' : 'a';
      wb.write(which === 'a' ? fa : fb, bytes);
      want[which].push(...bytes);
      bytes.fill(0); // the caller may reuse its buffer at once
    }
    const big = Uint8Array.from({ length: 10000 }, (_, k) => (k * 7) & 0xff);
    wb.write(fa, big);
    want.a.push(...big);
    wb.drain();
    closeSync(fa);
    closeSync(fb);
    assert.equal(Array.from(readFileSync(join(dir, 'a'))), want.a);
    assert.equal(Array.from(readFileSync(join(dir, 'b'))), want.b);
  } finally {
    wb.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

if (!onDeno) Behind('a failed write is an error at the next call, with the system error', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nw-wb-'));
  const wb = WriteBehind.create(4096, 2);
  try {
    closeSync(openSync(join(dir, 'x'), 'w'));
    const fd = openSync(join(dir, 'x'), 'r'); // read-only: a write fails with EBADF
    wb.write(fd, new Uint8Array(100));
    assert.throws(() => wb.drain(), /write-behind: .*EBADF/);
    assert.throws(() => wb.write(fd, new Uint8Array(1)), /write-behind/);
    closeSync(fd);
  } finally {
    try {
      wb.close();
    } catch {
      /* the same failure */
    }
    rmSync(dir, { recursive: true, force: true });
  }
});

if (!onDeno) Behind('a PcapWriter through it writes what it writes alone', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nw-wb-'));
  const wb = WriteBehind.create(1024, 4);
  try {
    const frames = [...readCaptureSync(join(FIX, 'tcp.pcap')), ...readCaptureSync(join(FIX, 'vxlan.pcap'))];
    const a = new PcapWriter(join(dir, 'a.pcap'), { bufferSize: 1024 });
    const b = new PcapWriter(join(dir, 'b.pcap'), { bufferSize: 1024, writeBehind: wb });
    for (let k = 0; k < 20; k++) for (const r of frames) {
      a.write(r.data, r.tsSec + k, r.tsNsec);
      b.write(r.data, r.tsSec + k, r.tsNsec);
    }
    a.close();
    b.close(); // waits for its chunks
    assert.ok(readFileSync(join(dir, 'b.pcap')).equals(readFileSync(join(dir, 'a.pcap'))));
  } finally {
    wb.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

const Push = suite('Dataplane.pushBytes');

Push('from its own memory, from another buffer, and push(): the same descriptors and bytes', () => {
  const dp = new Dataplane({ slots: 64, hostBytes: 65536 });
  assert.ok(dp.regions.host!.bytes >= 65536);
  dp.setPort(0, { kind: PortKind.WIRE, aux: 1 });
  dp.setPort(1, { kind: PortKind.WIRE, aux: 0 });
  const f = Uint8Array.from({ length: 77 }, (_, i) => (i * 13) & 0xff);
  const h = dp.regions.host!.ptr + 5;
  dp.bytes.set(f, h);
  const other = new Uint8Array(100);
  other.set(f, 9);
  const hostView = dp.bytes.subarray(h - 5, h + 200);
  assert.ok(dp.pushBytes(dp.bytes, h, h + f.length, 0, 7, 8));
  assert.ok(dp.pushBytes(other, 9, 9 + f.length, 1, 0xfffffffe, 999_999_999));
  assert.ok(dp.push(f, 0, 1, 2));
  assert.ok(dp.pushBytes(hostView, 5, 5 + f.length, 1, 3, 4));
  const d0 = dp.regions.desc!.ptr;
  const ts = [[7, 8], [0xfffffffe, 999_999_999], [1, 2], [3, 4]];
  for (let i = 0; i < 4; i++) {
    const d = d0 + i * DESC_SIZE;
    const slot = dp.view.getUint32(d + D_SLOT, true);
    assert.is(dp.view.getUint32(d + D_OFF, true), HEADROOM);
    assert.is(dp.view.getUint32(d + D_LEN, true), f.length);
    assert.is(dp.view.getUint16(d + D_IN_PORT, true), [0, 1, 0, 1][i]);
    assert.is(dp.view.getUint32(d + D_TS_SEC, true), ts[i]![0]);
    assert.is(dp.view.getUint32(d + D_TS_NSEC, true), ts[i]![1]);
    const a = dp.slotAddr(slot) + HEADROOM;
    assert.equal(Array.from(dp.bytes.subarray(a, a + f.length)), Array.from(f), `frame ${i}`);
  }
  const n = dp.run();
  assert.is(n, 4);
  for (let i = 0; i < 4; i++) assert.equal(Array.from(dp.txData(i)), Array.from(f));
  assert.throws(() => new Dataplane({ slots: 4, hostBytes: -1 }), /hostBytes/);
});

const Same = suite('replay: with a host region, the very same outputs');

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
`;

Same('an overlay across the underlay segment, several inputs (µs and ns), every hostBytes size: identical captures and counters', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nw-fast-'));
  try {
    const s = loadScenarioText(SCENARIO, 'fast');
    const ep = new Map(s.topology.endpoints.map((e) => [e.port, e]));
    const c1 = ep.get('c1/eth0')!, c2 = ep.get('c2/eth0')!, c3 = ep.get('c3/eth0')!;
    // c1 sends to c2 (local), c3 (VXLAN), broadcasts ARP; c3 answers c1 (ns file)
    const w1 = new PcapWriter(join(dir, 'c1.pcap'));
    const w3 = new PcapWriter(join(dir, 'c3.pcap'), { resolution: 'ns' });
    for (let i = 0; i < 3000; i++) {
      const to = i % 3 === 0 ? c2 : c3;
      const f = i % 50 === 0
        ? ether('ff:ff:ff:ff:ff:ff', c1.mac!, ETH_ARP, arpRequest(c1.mac!, c1.ip!, c3.ip!))
        : ether(to.mac!, c1.mac!, ETH_IPV4, ipv4(c1.ip!, to.ip!, 17, udp(c1.ip!, to.ip!, 1000 + i, 53, new Uint8Array(i % 1400))));
      w1.write(f, 100 + Math.floor(i / 1000), (i % 1000) * 1_000_000);
      if (i % 7 === 0) w3.write(ether(c1.mac!, c3.mac!, ETH_IPV4, ipv4(c3.ip!, c1.ip!, 17, udp(c3.ip!, c1.ip!, 53, 1000 + i, new Uint8Array(64)))), 100 + Math.floor(i / 1000), (i % 1000) * 1_000_000 + 1);
    }
    w1.close();
    w3.close();
    const run = (hostBytes: number, out: string, writeBehind = false) => {
      const c = compileTopology(s.topology, { hostBytes });
      const r = replay(c.dp, [{ port: 'c1/eth0', path: join(dir, 'c1.pcap') }, { port: 'c3/eth0', path: join(dir, 'c3.pcap') }], { ports: c.ports, segments: c.segments, outDir: join(dir, out), writeBehind });
      const files = Object.fromEntries(readdirSync(join(dir, out)).map((f) => [f, readFileSync(join(dir, out, f))]));
      return { r, files };
    };
    const base = run(0, 'none');
    assert.ok(base.r.counters['vxlan-encap']! > 1000 && base.r.counters['vxlan-decap']! > 1000, JSON.stringify(base.r.counters));
    assert.ok(Object.keys(base.files).length >= 4);
    for (const [hb, name, wb] of [
      [REPLAY_HOST_BYTES, 'all', false], [(1 << 18) + 4096, 'reads only', false], [(1 << 18) * 2 + (1 << 20) + (512 << 10) + 4096, 'one writer', false],
      [REPLAY_HOST_BYTES, 'all, write-behind', true], [0, 'none, write-behind', true],
    ] as const) {
      const got = run(hb, name.replace(/\W+/g, '-'), wb);
      assert.equal(got.r.counters, base.r.counters, name);
      assert.equal(got.r.ports, base.r.ports, name);
      assert.equal(Object.keys(got.files).sort(), Object.keys(base.files).sort(), name);
      for (const f of Object.keys(base.files)) assert.ok(got.files[f]!.equals(base.files[f]!), `${name}: ${f} differs`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

Cursor.run();
Behind.run();
Push.run();
Same.run();
