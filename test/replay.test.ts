import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Dataplane, PortKind } from '../src/dataplane/index.ts';
import { replay, outputFileName } from '../src/replay/replay.ts';
import { compareFrames, compareOutputs, readFrames, hexDiff } from '../src/replay/expect.ts';
import { readCaptureSync } from '../src/pcap/index.ts';

const FIX = new URL('../fixtures/captures/', import.meta.url).pathname;

function wires(): { dp: Dataplane; ports: Map<string, number> } {
  const dp = new Dataplane({ slots: 1024 });
  dp.setPort(0, { kind: PortKind.WIRE, aux: 1 });
  dp.setPort(1, { kind: PortKind.WIRE, aux: 0 });
  dp.setPort(2, { kind: PortKind.WIRE, aux: 3 });
  dp.setPort(3, { kind: PortKind.WIRE, aux: 2 });
  return { dp, ports: new Map([['a/eth0', 0], ['b/eth0', 1], ['h1/eth0', 2], ['h2/eth0', 3]]) };
}

const R = suite('replay');

R('a capture replayed through a wire comes out byte for byte, with its timestamps, in a per-port pcap', () => {
  const { dp, ports } = wires();
  const out = mkdtempSync(join(tmpdir(), 'nw-replay-'));
  try {
    const res = replay(dp, [{ port: 'a/eth0', path: join(FIX, 'tcp.pcap') }], { ports, outDir: out, collect: true });
    const input = [...readCaptureSync(join(FIX, 'tcp.pcap'))];
    assert.is(res.frames, input.length);
    assert.equal(res.ports['a/eth0'], { rx: input.length, tx: 0 });
    assert.equal(res.ports['b/eth0'], { rx: 0, tx: input.length });
    const file = join(out, outputFileName('b/eth0'));
    assert.is(res.files['b/eth0'], file);
    assert.ok(!existsSync(join(out, 'a_eth0.pcap')), 'no file for a port that sent nothing');
    const written = [...readCaptureSync(file)];
    assert.is(written.length, input.length);
    written.forEach((r, i) => {
      assert.equal(Array.from(r.data), Array.from(input[i]!.data));
      assert.is(r.tsSec, input[i]!.tsSec);
      assert.is(r.tsNsec, input[i]!.tsNsec);
    });
    assert.is(res.counters['graph-rx'], input.length);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

R('inputs on several ports are merged in timestamp order; nanosecond inputs give nanosecond outputs', () => {
  const { dp, ports } = wires();
  const out = mkdtempSync(join(tmpdir(), 'nw-replay-'));
  try {
    const mk = (sec: number, tag: number) => ({ data: Uint8Array.from({ length: 60 }, (_, i) => (i < 6 ? 0xff : i === 59 ? tag : 0)), tsSec: sec, tsNsec: 5 });
    const res = replay(dp, [
      { port: 'a/eth0', frames: [mk(1, 1), mk(3, 3), mk(5, 5)] },
      { port: 'h1/eth0', frames: [mk(2, 2), mk(4, 4)] },
      { port: 'b/eth0', path: join(FIX, 'icmp-ns.pcap') },
    ], { ports, outDir: out, collect: true });
    assert.equal(res.output['b/eth0']!.map((f) => f.data[59]), [1, 3, 5]);
    assert.equal(res.output['h2/eth0']!.map((f) => f.tsSec), [2, 4]);
    const ns = [...readCaptureSync(join(FIX, 'icmp-ns.pcap'))];
    const got = [...readCaptureSync(join(out, 'a_eth0.pcap'))];
    assert.is(got[0]!.resolution, 'ns');
    assert.is(got[0]!.tsNsec, ns[0]!.tsNsec, 'nanoseconds survive');
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

R('a segment carries what one port sends to the others; loops are cut and counted', () => {
  const { dp, ports } = wires();
  // h1/eth0 <-> h2/eth0 wire, and the segment joins b/eth0 and h1/eth0: a -> b
  // arrives at h1 -> h2; h2 and b are wired... make a loop: segment [h2, a].
  const f = { data: new Uint8Array(60).fill(0xff, 0, 6), tsSec: 1, tsNsec: 0 };
  const res = replay(dp, [{ port: 'a/eth0', frames: [f] }], {
    ports, collect: true, segments: [['b/eth0', 'h1/eth0'], ['h2/eth0', 'a/eth0']], maxSegmentHops: 3,
  });
  // a -> b (seg) -> h1 -> h2 (seg) -> a -> b (seg) -> h1 -> h2 (seg, hop 4 > 3: cut)
  assert.is(res.output['b/eth0']!.length, 2);
  assert.is(res.output['h2/eth0']!.length, 2);
  assert.is(res.segmentLoops, 1);
});

R('an unknown port or a non-Ethernet capture is an error', () => {
  const { dp, ports } = wires();
  assert.throws(() => replay(dp, [{ port: 'zz/eth9', frames: [] }], { ports }), /unknown port "zz\/eth9"/);
});

const E = suite('expect');

E('identical outputs compare equal; the first difference is named with a hex dump', () => {
  const a = Uint8Array.from({ length: 40 }, (_, i) => i);
  const b = a.slice(); b[21] = 0xee;
  assert.is(compareFrames('c1/eth0', [a, a], [a, a]), null);
  const d = compareFrames('c1/eth0', [a, a], [a, b])!;
  assert.is(d.index, 1);
  assert.match(d.reason, /byte 21 is 0xee, expected 0x15/);
  assert.match(d.dump, /first difference at byte 21/);
  assert.match(d.dump, /expected 10 11 12 13 14 15 16/);
  const missing = compareFrames('c1/eth0', [a, a, a], [a])!;
  assert.is(missing.index, 1);
  assert.match(missing.reason, /2 missing frame\(s\): 1 sent, 3 expected/);
  const short = compareFrames('p', [a], [a.subarray(0, 30)])!;
  assert.match(short.reason, /length 30, expected 40/);
  assert.is(hexDiff(a, a).offset, 40);
});

E('compareOutputs reads expected captures from files', () => {
  const frames = readFrames(join(FIX, 'arp.pcap'));
  const same = compareOutputs({ p: frames.map((data) => ({ data, tsSec: 0, tsNsec: 0 })) }, { p: join(FIX, 'arp.pcap') });
  assert.equal(same, []);
  const other = compareOutputs({ p: frames.slice(1).map((data) => ({ data, tsSec: 0, tsNsec: 0 })) }, { p: join(FIX, 'arp.pcap') });
  assert.is(other.length, 1);
  assert.is(other[0]!.index, 0);
});

R.run();
E.run();
