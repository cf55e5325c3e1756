import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { PcapngWriter, openCapture, readCaptureSync } from '../src/pcap/index.ts';
import type { CaptureRecord } from '../src/pcap/index.ts';
import { TsUnits } from '../src/pcap/tsresol.ts';
import { assertCaptureError, concat, ngBlock, ngEpb, ngIdb, ngOpt, ngShb, ngSpb, readAll, tmpDir, udpFrame } from './helpers/pcap-fixtures.ts';

const dir = tmpDir();
process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
let seq = 0;
function file(name: string, bytes?: Uint8Array): string {
  const p = path.join(dir, `${seq++}-${name}`);
  if (bytes !== undefined) fs.writeFileSync(p, bytes);
  return p;
}

const BE = false;
const LE = true;
const T0 = 1_700_000_000n;

/** Only the fields a test compares. */
function brief(r: CaptureRecord): Omit<CaptureRecord, 'data'> & { len: number } {
  const { data, ...rest } = r;
  return { ...rest, len: data.length };
}

// ---------------------------------------------------------------------------
const reading = suite('pcapng reading');

/**
 * Section 0 (big-endian): if0 10^-9, if1 10^-3, if2 2^-20, if3 default (µs),
 * with NRB, ISB and custom blocks to skip. Section 1 (little-endian): if0 raw
 * IP with snaplen 64 and default µs, an EPB and an SPB.
 */
function mixedFile(): { bytes: Uint8Array; frames: Uint8Array[] } {
  const f = Array.from({ length: 8 }, (_, i) => udpFrame(i, 60 + i * 13));
  const bytes = concat(
    ngShb(BE),
    ngIdb(BE, { tsresol: 9, snaplen: 65535, options: [ngOpt(BE, 2, new TextEncoder().encode('eth0'))] }),
    ngIdb(BE, { tsresol: 3 }),
    ngBlock(BE, 4, Uint8Array.of(0, 0, 0, 0)), // NRB: only opt_endofrecord
    ngIdb(BE, { tsresol: 0x80 | 20 }),
    ngIdb(BE, {}),
    ngEpb(BE, 0, T0 * 1_000_000_000n + 123_456_789n, f[0]!),
    ngEpb(BE, 1, T0 * 1000n + 999n, f[1]!, { origLen: 5000 }),
    ngEpb(BE, 2, (T0 << 20n) + 524_288n, f[2]!), // exactly .5 s
    ngBlock(BE, 5, new Uint8Array(20)), // ISB
    ngEpb(BE, 2, (T0 << 20n) + 3n, f[3]!), // 3 * 953.67431640625 ns -> 2861
    ngBlock(BE, 0x40000bad, new Uint8Array(9)), // custom block, do not copy
    ngEpb(BE, 3, T0 * 1_000_000n + 42n, f[4]!),
    ngShb(LE),
    ngIdb(LE, { linkType: 101, snaplen: 64 }),
    ngBlock(LE, 0x0000000a, new Uint8Array(33)), // DSB
    ngEpb(LE, 0, (T0 + 1n) * 1_000_000n + 7n, f[5]!),
    ngSpb(LE, f[6]!.subarray(0, 64), f[6]!.length), // cut to snaplen 64
    ngSpb(LE, f[7]!.subarray(0, 60)), // shorter than snaplen
  );
  return { bytes, frames: f };
}

reading('two sections of different byte order, four resolutions, EPB and SPB, skipped blocks', () => {
  const { bytes, frames } = mixedFile();
  const p = file('mixed.pcapng', bytes);
  const cap = openCapture(p);
  assert.is(cap.format, 'pcapng');
  assert.is(cap.byteOrder, 'be');
  const got = [...cap];
  assert.equal(
    got.map((r) => r.data),
    [frames[0], frames[1], frames[2], frames[3], frames[4], frames[5], frames[6]!.subarray(0, 64), frames[7]!.subarray(0, 60)],
  );
  const base = { linkType: 1, section: 0 };
  assert.equal(got.map(brief), [
    { ...base, interfaceId: 0, tsSec: 1_700_000_000, tsNsec: 123_456_789, origLen: 60, resolution: 'ns', len: 60 },
    { ...base, interfaceId: 1, tsSec: 1_700_000_000, tsNsec: 999_000_000, origLen: 5000, resolution: 'us', len: 73 },
    { ...base, interfaceId: 2, tsSec: 1_700_000_000, tsNsec: 500_000_000, origLen: 86, resolution: 'ns', len: 86 },
    { ...base, interfaceId: 2, tsSec: 1_700_000_000, tsNsec: 2861, origLen: 99, resolution: 'ns', len: 99 },
    { ...base, interfaceId: 3, tsSec: 1_700_000_000, tsNsec: 42_000, origLen: 112, resolution: 'us', len: 112 },
    { linkType: 101, section: 1, interfaceId: 0, tsSec: 1_700_000_001, tsNsec: 7000, origLen: 125, resolution: 'us', len: 125 },
    { linkType: 101, section: 1, interfaceId: 0, tsSec: 0, tsNsec: 0, origLen: 138, resolution: 'us', len: 64 },
    { linkType: 101, section: 1, interfaceId: 0, tsSec: 0, tsNsec: 0, origLen: 60, resolution: 'us', len: 60 },
  ]);
});

reading('interfaces and byte order follow the current section', () => {
  const p = file('mixed.pcapng', mixedFile().bytes);
  const cap = openCapture(p);
  assert.is(cap.interfaces.length, 0, 'no IDB read yet');
  const first = cap.read();
  assert.is(first?.interfaceId, 0);
  assert.equal(cap.interfaces.map((i) => [i.tsresol, i.resolution]), [[9, 'ns'], [3, 'us'], [0x94, 'ns'], [6, 'us']]);
  assert.is(cap.interfaces[0]?.name, 'eth0');
  for (let i = 0; i < 5; i++) cap.read();
  assert.is(cap.byteOrder, 'le');
  assert.equal(cap.interfaces.map((i) => [i.linkType, i.snaplen]), [[101, 64]]);
});

reading('if_tsoffset adds seconds; obsolete packet block; odd lengths are padded', () => {
  const le = BE;
  const offset = new Uint8Array(8);
  new DataView(offset.buffer).setBigInt64(0, 1_000_000_000n, le);
  const pbBody = new Uint8Array(20 + 64);
  const v = new DataView(pbBody.buffer);
  v.setUint16(0, 1, le); // interface 1
  v.setUint32(8, 100, le); // ts low: 100 µs
  v.setUint32(12, 61, le);
  v.setUint32(16, 61, le);
  pbBody.set(udpFrame(9, 61), 20);
  const bytes = concat(
    ngShb(le),
    ngIdb(le, { options: [ngOpt(le, 14, offset)] }),
    ngIdb(le, {}),
    ngEpb(le, 0, 700_000_000n * 1_000_000n + 1n, udpFrame(8, 61)),
    ngBlock(le, 2, pbBody.subarray(0, 20 + 61)),
  );
  const got = [...readCaptureSync(file('offset.pcapng', bytes))];
  assert.is(got.length, 2);
  assert.is(got[0]?.tsSec, 1_700_000_000);
  assert.is(got[0]?.tsNsec, 1000);
  assert.equal(got[0]?.data, udpFrame(8, 61));
  assert.is(got[1]?.interfaceId, 1);
  assert.is(got[1]?.tsSec, 0);
  assert.is(got[1]?.tsNsec, 100_000);
  assert.equal(got[1]?.data, udpFrame(9, 61));
});

reading('SPB with snaplen 0 (no limit) takes the original length', () => {
  const bytes = concat(ngShb(LE), ngIdb(LE, { snaplen: 0 }), ngSpb(LE, udpFrame(1, 1514)));
  const got = [...readCaptureSync(file('spb0.pcapng', bytes))];
  assert.equal(got[0]?.data, udpFrame(1, 1514));
});

reading('a block larger than the buffer is skipped without growing it', () => {
  const bytes = concat(
    ngShb(LE),
    ngIdb(LE, {}),
    ngEpb(LE, 0, 1n, udpFrame(1)),
    ngBlock(LE, 0x00000bad, new Uint8Array(100_000).fill(7)),
    ngEpb(LE, 0, 2n, udpFrame(2)),
  );
  const cap = openCapture(file('bigskip.pcapng', bytes), { bufferSize: 4096 });
  const got = [...cap];
  assert.equal(got.map((r) => r.data), [udpFrame(1), udpFrame(2)]);
  assert.is(cap.stats.bufferCapacity, 4096);
  assert.is(cap.stats.bytesRead, bytes.length);
});

reading('a 5 MB pcapng streams through a 64 KiB buffer', () => {
  const n = 4000;
  const parts = [ngShb(LE), ngIdb(LE, { tsresol: 9 })];
  for (let i = 0; i < n; i++) parts.push(ngEpb(LE, 0, T0 * 1_000_000_000n + BigInt(i), udpFrame(i, 1300 + (i % 5))));
  const bytes = concat(...parts);
  assert.ok(bytes.length > 5_000_000);
  const cap = openCapture(file('big.pcapng', bytes), { bufferSize: 65536, copy: false });
  let i = 0;
  for (const r of cap) {
    assert.is(r.tsNsec, i);
    assert.is(r.data.length, 1300 + (i % 5));
    assert.is(r.data[r.data.length - 1], (i * 31 + r.data.length - 1) & 0xff);
    i++;
  }
  assert.is(i, n);
  assert.is(cap.stats.bufferCapacity, 65536);
  assert.ok(cap.stats.maxReadLength <= 65536);
});

reading.run();

// ---------------------------------------------------------------------------
const units = suite('pcapng timestamp units');

/** Reference conversion with BigInt. */
function reference(tsresol: number, value: bigint): [number, number] {
  const per = tsresol & 0x80 ? 1n << BigInt(tsresol & 0x7f) : 10n ** BigInt(tsresol);
  return [Number(value / per), Number(((value % per) * 1_000_000_000n) / per)];
}

units('exact split of 64-bit unit counts for decimal and binary resolutions', () => {
  let seed = 12345;
  const rnd32 = (): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return (seed ^ (seed >>> 13)) >>> 0;
  };
  for (const tsresol of [0, 1, 3, 6, 9, 10, 11, 12, 15, 0x80, 0x80 | 10, 0x80 | 20, 0x80 | 23, 0x80 | 24, 0x80 | 32, 0x80 | 40]) {
    const u = new TsUnits(tsresol);
    const per = tsresol & 0x80 ? 1n << BigInt(tsresol & 0x7f) : 10n ** BigInt(tsresol);
    const values: bigint[] = [0n, 1n, per - 1n, per, per + 1n, 0xffffffffn, 0x100000000n];
    for (let k = 0; k < 2000; k++) {
      // keep the seconds below 2^52 so the reference itself is exact
      const v = ((BigInt(rnd32()) << 32n) | BigInt(rnd32())) % (per << 52n);
      values.push(v);
    }
    for (const v of values) {
      u.convert(Number(v >> 32n), Number(v & 0xffffffffn));
      const [sec, nsec] = reference(tsresol, v);
      if (u.sec !== sec || u.nsec !== nsec) assert.unreachable(`tsresol ${tsresol}, value ${v}: got ${u.sec}.${u.nsec}, want ${sec}.${nsec}`);
    }
  }
});

units('finer than a microsecond means ns resolution', () => {
  assert.equal([6, 7, 9, 0x80 | 19, 0x80 | 20].map((t) => new TsUnits(t).finerThanUs), [false, true, true, false, true]);
});

units('fromTimestamp rounds down and inverts convert', () => {
  const u = new TsUnits(0x80 | 20);
  const [hi, lo] = u.fromTimestamp(1_700_000_000, 999_999_999);
  u.convert(hi, lo);
  assert.is(u.sec, 1_700_000_000);
  assert.is(u.nsec, Math.floor((Math.floor((999_999_999 * 2 ** 20) / 1e9) * 1e9) / 2 ** 20));
  assert.throws(() => u.fromTimestamp(-1, 0), RangeError);
});

units.run();

// ---------------------------------------------------------------------------
const writer = suite('PcapngWriter');

writer('sections, interfaces and resolutions round-trip through the reader', () => {
  const p = file('written.pcapng');
  const w = new PcapngWriter(p, { byteOrder: 'be' });
  const ns = w.addInterface({ tsresol: 9, name: 'eth0' });
  const ms = w.addInterface({ tsresol: 3, snaplen: 100 });
  const bin = w.addInterface({ tsresol: 0x80 | 20, tsOffset: 1_000_000_000 });
  w.writePacket(ns, udpFrame(1), 1_700_000_000, 123_456_789);
  w.writePacket(ms, udpFrame(2, 300), 1_700_000_000, 123_456_789);
  w.writePacket(bin, udpFrame(3), 1_700_000_000, 123_456_789);
  w.writeBlock(0x40000bad, Uint8Array.of(1, 2, 3));
  w.startSection({ byteOrder: 'le' });
  assert.throws(() => w.writePacket(1, udpFrame(4), 0, 0), RangeError, 'interface ids restart per section');
  const us = w.addInterface({ linkType: 101, snaplen: 64 });
  w.writePacket(us, udpFrame(4), 1, 1999);
  w.writeSimplePacket(udpFrame(5, 80));
  w.close();
  assert.is(w.count, 5);

  const cap = openCapture(p);
  const got = [...cap];
  const binNs = Math.floor((Math.floor((123_456_789 * 2 ** 20) / 1e9) * 1e9) / 2 ** 20);
  assert.equal(got.map((r) => [r.section, r.interfaceId, r.tsSec, r.tsNsec, r.data.length, r.origLen, r.resolution]), [
    [0, 0, 1_700_000_000, 123_456_789, 64, 64, 'ns'],
    [0, 1, 1_700_000_000, 123_000_000, 100, 300, 'us'],
    [0, 2, 1_700_000_000, binNs, 64, 64, 'ns'],
    [1, 0, 1, 1000, 64, 64, 'us'],
    [1, 0, 0, 0, 64, 80, 'us'],
  ]);
  assert.equal(got[1]?.data, udpFrame(2, 300).subarray(0, 100));
  assert.equal(got[4]?.data, udpFrame(5, 80).subarray(0, 64));
  assert.is(got[3]?.linkType, 101);
});

writer.run();

// ---------------------------------------------------------------------------
const corrupt = suite('corrupt pcapng');

const HEAD = concat(ngShb(LE), ngIdb(LE, { tsresol: 9 }));
const GOOD = concat(ngEpb(LE, 0, 1n, udpFrame(1)), ngEpb(LE, 0, 2n, udpFrame(2, 61)));
const AT = HEAD.length + GOOD.length;

function check(name: string, tail: Uint8Array, offset: number, reason: Parameters<typeof assertCaptureError>[3], message?: RegExp): void {
  corrupt(name, () => {
    const p = file(`${name.replace(/\W+/g, '-')}.pcapng`, concat(HEAD, GOOD, tail));
    const { records, error } = readAll(p);
    assert.equal(records.map((r) => [r.tsNsec, r.data]), [[1, udpFrame(1)], [2, udpFrame(2, 61)]], 'good blocks first');
    assertCaptureError(error, p, offset, reason);
    if (message) assert.match((error as Error).message, message);
  });
}

function withLength(block: Uint8Array, le: boolean, total: number, trailer = total): Uint8Array {
  const b = block.slice();
  const v = new DataView(b.buffer);
  v.setUint32(4, total, le);
  v.setUint32(b.length - 4, trailer, le);
  return b;
}

const NEXT = ngEpb(LE, 0, 3n, udpFrame(3));
check('block length less than 12', withLength(NEXT, LE, 8, NEXT.length), AT, 'bad-block-length', /8 is less than 12/);
check('EPB length less than its minimum', ngBlock(LE, 6, new Uint8Array(8)), AT, 'bad-block-length', /20 is less than 32/);
check('block length not a multiple of 4', withLength(NEXT, LE, NEXT.length - 2), AT, 'bad-block-length', /not a multiple of 4/);
check('trailing length mismatch', withLength(NEXT, LE, NEXT.length, NEXT.length + 4), AT, 'block-length-mismatch', /header says 96, trailer says 100/);
check('block length above the sanity bound', withLength(NEXT, LE, 0x7ffffff0, NEXT.length), AT, 'bad-block-length', /exceeds/);
check('block cut off', NEXT.subarray(0, 50), AT, 'truncated-record', /truncated packet block at byte offset \d+ \(need 96 bytes, have 50\)/);
check('block header cut off', NEXT.subarray(0, 5), AT, 'truncated-record', /need 8 bytes, have 5/);
check('EPB captured length beyond the block', ngEpb(LE, 0, 3n, udpFrame(3), { caplen: 65 }), AT, 'caplen-too-large', /captured length 65 exceeds the block body \(64 bytes\)/);
check('EPB references an unknown interface', ngEpb(LE, 1, 3n, udpFrame(3)), AT, 'unknown-interface', /unknown interface id 1 .*section 0 has 1 interface/);
check('interface ids restart per section', concat(ngShb(BE), ngEpb(BE, 0, 3n, udpFrame(3))), AT + 28, 'unknown-interface');
check('SPB before any IDB of its section', concat(ngShb(BE), ngSpb(BE, udpFrame(3))), AT + 28, 'unknown-interface');
check('SPB shorter than its packet', concat(ngShb(LE), ngIdb(LE, {}), ngSpb(LE, udpFrame(3, 60), 100)), AT + 28 + 20, 'bad-block-length');
check('bad byte-order magic in a later section', (() => {
  const shb = ngShb(LE);
  shb[8] = 0x99;
  return shb;
})(), AT, 'bad-magic', /byte-order magic/);
check('unsupported section version', (() => {
  const shb = ngShb(BE);
  shb[13] = 2;
  return shb;
})(), AT, 'bad-version');
check('IDB option overruns the block', ngIdb(LE, { options: [Uint8Array.of(9, 0, 40, 0)] }), AT, 'bad-option', /option 9 of length 40/);
check('if_tsresol of the wrong length', ngIdb(LE, { options: [ngOpt(LE, 9, Uint8Array.of(9, 9))] }), AT, 'bad-option');
check('large skipped block cut off', ngBlock(LE, 0xbad, new Uint8Array(2_000_000)).subarray(0, 1_500_000), AT, 'truncated-record', /need 2000012 bytes, have 1500000/);

corrupt('large skipped block with a bad trailer (read through a small buffer)', () => {
  const big = ngBlock(LE, 0xbad, new Uint8Array(10_000), { trailer: 4 });
  const p = file('big-trailer.pcapng', concat(HEAD, GOOD, big));
  const { records, error } = readAll(p, { bufferSize: 1024 });
  assert.is(records.length, 2);
  assertCaptureError(error, p, AT, 'block-length-mismatch');
});

corrupt('a block length the file cannot hold does not grow the buffer', () => {
  const p = file('huge-epb.pcapng', concat(HEAD, GOOD, withLength(NEXT, LE, 200 << 20, NEXT.length)));
  const cap = openCapture(p, { bufferSize: 4096 });
  assert.ok(cap.read() !== null && cap.read() !== null);
  assert.throws(() => cap.read(), (e: unknown) => {
    assertCaptureError(e, p, AT, 'truncated-record');
    assert.match((e as Error).message, /need 209715200 bytes, have 96\)/);
    return true;
  });
  assert.is(cap.stats.bufferCapacity, 4096);
});

corrupt('first SHB with a bad byte-order magic', () => {
  const bytes = concat(HEAD, GOOD);
  bytes[8] = 0;
  const p = file('bom0.pcapng', bytes);
  const { records, error } = readAll(p);
  assert.is(records.length, 0);
  assertCaptureError(error, p, 0, 'bad-magic');
});

corrupt('file cut inside the first SHB', () => {
  const p = file('shb-cut.pcapng', HEAD.subarray(0, 20));
  assertCaptureError(readAll(p).error, p, 0, 'truncated-record');
});

corrupt.run();
