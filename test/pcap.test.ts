import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CaptureError, PcapWriter, openCapture, readCapture, readCaptureSync } from '../src/pcap/index.ts';
import type { CaptureRecord } from '../src/pcap/index.ts';
import { assertCaptureError, concat, pcapBytes, readAll, tmpDir, udpFrame } from './helpers/pcap-fixtures.ts';

const dir = tmpDir();
process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
let seq = 0;
/** A path in the temp dir; with `bytes`, the file is written. */
function file(name: string, bytes?: Uint8Array): string {
  const p = path.join(dir, `${seq++}-${name}`);
  if (bytes !== undefined) fs.writeFileSync(p, bytes);
  return p;
}

/** Open file descriptors of this process (Linux), to prove readers close theirs. */
function openFds(): number {
  return fs.readdirSync('/proc/self/fd').length;
}
const haveProcFds = fs.existsSync('/proc/self/fd');

interface Frame {
  data: Uint8Array;
  sec: number;
  nsec: number;
  origLen?: number;
}

const FRAMES: Frame[] = [
  { data: udpFrame(0, 42), sec: 0, nsec: 0 },
  { data: udpFrame(1, 60), sec: 1700000000, nsec: 999_999_999 },
  { data: udpFrame(2, 61), sec: 1700000000, nsec: 123_456_789, origLen: 1000 },
  { data: udpFrame(3, 1514), sec: 1700000001, nsec: 1 },
  { data: udpFrame(4, 9000), sec: 4294967295, nsec: 500_000_000 },
];

function writeFrames(p: string, resolution: 'us' | 'ns', frames: Frame[] = FRAMES): PcapWriter {
  const w = new PcapWriter(p, { resolution });
  for (const f of frames) w.write(f.data, f.sec, f.nsec, f.origLen);
  w.close();
  return w;
}

// ---------------------------------------------------------------------------
const writer = suite('PcapWriter');

writer('µs: header and record bytes on disk, little-endian', () => {
  const p = file('us.pcap');
  const w = writeFrames(p, 'us');
  assert.is(w.count, FRAMES.length);
  const bytes = fs.readFileSync(p);
  assert.equal([...bytes.subarray(0, 4)], [0xd4, 0xc3, 0xb2, 0xa1]);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  assert.is(v.getUint16(4, true), 2);
  assert.is(v.getUint16(6, true), 4);
  assert.is(v.getUint32(16, true), 262144, 'default snaplen');
  assert.is(v.getUint32(20, true), 1, 'default link type Ethernet');
  assert.is(bytes.length, 24 + FRAMES.reduce((n, f) => n + 16 + f.data.length, 0));
  // Third record: 123456789 ns is written as 123456 µs, original length kept.
  const at = 24 + 16 + 42 + 16 + 60;
  assert.is(v.getUint32(at, true), 1700000000);
  assert.is(v.getUint32(at + 4, true), 123456);
  assert.is(v.getUint32(at + 8, true), 61);
  assert.is(v.getUint32(at + 12, true), 1000);
});

writer('µs: write then read gives identical bytes, timestamps rounded down to µs', () => {
  const p = file('us.pcap');
  writeFrames(p, 'us');
  const { records, error } = readAll(p);
  assert.is(error, undefined);
  assert.is(records.length, FRAMES.length);
  records.forEach((r, i) => {
    const f = FRAMES[i]!;
    assert.equal(r.data, f.data, `frame ${i}`);
    assert.is(r.origLen, f.origLen ?? f.data.length);
    assert.is(r.tsSec, f.sec);
    assert.is(r.tsNsec, Math.floor(f.nsec / 1000) * 1000);
    assert.is(r.resolution, 'us');
    assert.is(r.linkType, 1);
    assert.is(r.interfaceId, 0);
    assert.is(r.section, 0);
  });
});

writer('ns: write then read gives identical bytes and nanosecond timestamps', () => {
  const p = file('ns.pcap');
  writeFrames(p, 'ns');
  assert.equal([...fs.readFileSync(p).subarray(0, 4)], [0x4d, 0x3c, 0xb2, 0xa1]);
  const records = [...readCaptureSync(p)];
  assert.is(records.length, FRAMES.length);
  records.forEach((r, i) => {
    const f = FRAMES[i]!;
    assert.equal(r.data, f.data, `frame ${i}`);
    assert.is(r.origLen, f.origLen ?? f.data.length);
    assert.is(r.tsSec, f.sec);
    assert.is(r.tsNsec, f.nsec);
    assert.is(r.resolution, 'ns');
  });
});

writer('snaplen cuts frames and keeps the original length; link type is written', () => {
  const p = file('snap.pcap');
  const w = new PcapWriter(p, { snaplen: 60, linkType: 101 });
  w.write(udpFrame(7, 100), 10, 0);
  w.write(udpFrame(8, 50), 11, 0);
  w.close();
  const cap = openCapture(p);
  assert.equal(cap.interfaces, [{ linkType: 101, snaplen: 60, resolution: 'us', tsresol: 6, tsOffset: 0 }]);
  const [a, b] = [...cap];
  assert.equal(a?.data, udpFrame(7, 100).subarray(0, 60));
  assert.is(a?.origLen, 100);
  assert.is(a?.linkType, 101);
  assert.equal(b?.data, udpFrame(8, 50));
  assert.is(b?.origLen, 50);
});

writer('small output buffer: frames larger than the buffer and many flushes', () => {
  const p = file('flush.pcap');
  const frames: Frame[] = [];
  for (let i = 0; i < 50; i++) frames.push({ data: udpFrame(i, i % 3 === 0 ? 300 : 42 + i), sec: 100 + i, nsec: i * 1000 });
  const w = new PcapWriter(p, { bufferSize: 128 });
  for (const f of frames) w.write(f.data, f.sec, f.nsec);
  w.close();
  w.close(); // idempotent
  const got = [...readCaptureSync(p)];
  assert.is(got.length, 50);
  got.forEach((r, i) => {
    assert.equal(r.data, frames[i]!.data);
    assert.is(r.tsSec, 100 + i);
    assert.is(r.tsNsec, i * 1000);
  });
});

writer('rejects bad arguments and writes after close', () => {
  const w = new PcapWriter(file('bad.pcap'));
  const f = udpFrame(0);
  assert.throws(() => w.write(f, -1, 0), RangeError);
  assert.throws(() => w.write(f, 1.5, 0), RangeError);
  assert.throws(() => w.write(f, 0, 1_000_000_000), RangeError);
  assert.throws(() => w.write(f, 0, 0, f.length - 1), RangeError);
  assert.is(w.count, 0);
  w.close();
  assert.throws(() => w.write(f, 0, 0), /write after close/);
  assert.throws(() => new PcapWriter(file('x.pcap'), { snaplen: 0 }), RangeError);
});

writer.run();

// ---------------------------------------------------------------------------
const classic = suite('classic pcap reading');

const HAND = [
  { sec: 1, frac: 2, data: udpFrame(1, 42) },
  { sec: 0x01020304, frac: 999_999, data: udpFrame(2, 61), origLen: 1514 },
];
const HAND_NS = [
  { sec: 7, frac: 999_999_999, data: udpFrame(3, 43) },
  { sec: 0xfffffffe, frac: 5, data: udpFrame(4, 64) },
];

for (const le of [true, false]) {
  const order = le ? 'little' : 'big';
  classic(`${order}-endian µs file built by hand`, () => {
    const p = file(`${order}-us.pcap`, pcapBytes({ le, ns: false, snaplen: 1600, linkType: 1, records: HAND }));
    const cap = openCapture(p);
    assert.is(cap.format, 'pcap');
    assert.is(cap.byteOrder, le ? 'le' : 'be');
    assert.is(cap.interfaces[0]?.snaplen, 1600);
    const got = [...cap];
    assert.is(got.length, 2);
    assert.equal(got[0]?.data, HAND[0]?.data);
    assert.is(got[0]?.tsSec, 1);
    assert.is(got[0]?.tsNsec, 2000);
    assert.is(got[1]?.tsSec, 0x01020304);
    assert.is(got[1]?.tsNsec, 999_999_000);
    assert.is(got[1]?.origLen, 1514);
    assert.is(got[1]?.data.length, 61);
    assert.ok(got.every((r) => r.resolution === 'us' && r.linkType === 1));
  });

  classic(`${order}-endian ns file built by hand`, () => {
    const p = file(`${order}-ns.pcap`, pcapBytes({ le, ns: true, linkType: 228, records: HAND_NS }));
    const got = [...readCaptureSync(p)];
    assert.is(got.length, 2);
    assert.equal(got[0]?.data, HAND_NS[0]?.data);
    assert.is(got[0]?.tsSec, 7);
    assert.is(got[0]?.tsNsec, 999_999_999);
    assert.is(got[1]?.tsSec, 0xfffffffe);
    assert.is(got[1]?.tsNsec, 5);
    assert.ok(got.every((r) => r.resolution === 'ns' && r.linkType === 228));
  });
}

classic('header-only file has no records', () => {
  const p = file('empty.pcap', pcapBytes({ le: true, ns: false, records: [] }));
  assert.equal([...readCaptureSync(p)], []);
});

classic('default copy: records own their bytes; copy:false gives views into one buffer', () => {
  const records = Array.from({ length: 20 }, (_, i) => ({ sec: i, frac: 0, data: udpFrame(i, 100) }));
  const p = file('copy.pcap', pcapBytes({ le: true, ns: false, records }));
  const owned = [...readCaptureSync(p)];
  owned.forEach((r, i) => {
    assert.is(r.data.byteLength, r.data.buffer.byteLength, 'a fresh copy');
    assert.equal(r.data, records[i]!.data);
  });
  const cap = openCapture(p, { copy: false });
  const buffers = new Set<ArrayBufferLike>();
  let i = 0;
  for (let r = cap.read(); r !== null; r = cap.read()) {
    assert.equal(r.data, records[i++]!.data, 'valid until the next read');
    buffers.add(r.data.buffer);
  }
  assert.is(i, 20);
  assert.is(buffers.size, 1, 'all views share the reader buffer');
});

classic('async readCapture yields the same records as readCaptureSync', async () => {
  const p = file('async.pcap');
  const frames = Array.from({ length: 10_000 }, (_, i) => ({ data: udpFrame(i, 60 + (i % 7)), sec: i, nsec: i }));
  writeFrames(p, 'ns', frames);
  const sync = [...readCaptureSync(p)];
  const got: CaptureRecord[] = [];
  for await (const r of readCapture(p, { bufferSize: 4096 })) got.push(r);
  assert.is(got.length, 10_000);
  assert.equal(got, sync);
});

classic('readCaptureSync and readCapture reject a missing file', async () => {
  assert.throws(() => [...readCaptureSync(path.join(dir, 'missing.pcap'))], /ENOENT/);
  try {
    for await (const r of readCapture(path.join(dir, 'missing.pcap'))) assert.unreachable(String(r));
    assert.unreachable('no error');
  } catch (e) {
    assert.match(String(e), /ENOENT/);
  }
});

classic('rejects bad options', () => {
  const p = file('opt.pcap', pcapBytes({ le: true, ns: false, records: [] }));
  assert.throws(() => openCapture(p, { bufferSize: 10 }), RangeError);
  assert.throws(() => openCapture(p, { maxCaplen: 0 }), RangeError);
});

classic.run();

// ---------------------------------------------------------------------------
const corrupt = suite('corrupt classic pcap');

const GOOD = [
  { sec: 1, frac: 10, data: udpFrame(1, 60) },
  { sec: 2, frac: 20, data: udpFrame(2, 70) },
];
/** Offset of the record after the GOOD ones. */
const AFTER_GOOD = 24 + 16 + 60 + 16 + 70;

function assertGoodDelivered(records: CaptureRecord[], ns = false): void {
  assert.is(records.length, 2, 'the good records come first');
  assert.equal(records[0]?.data, GOOD[0]?.data);
  assert.equal(records[1]?.data, GOOD[1]?.data);
  assert.is(records[1]?.tsNsec, ns ? 20 : 20_000);
}

corrupt('bad magic', () => {
  const bytes = pcapBytes({ le: true, ns: false, records: GOOD });
  bytes.set([0xde, 0xad, 0xbe, 0xef], 0);
  const p = file('magic.pcap', bytes);
  const { records, error } = readAll(p);
  assert.is(records.length, 0);
  assertCaptureError(error, p, 0, 'bad-magic');
  assert.match((error as Error).message, /0xefbeadde/);
});

corrupt('file shorter than a magic number, and a cut file header', () => {
  const tiny = file('tiny.pcap', Uint8Array.of(0xd4, 0xc3));
  assertCaptureError(readAll(tiny).error, tiny, 0, 'truncated-header');
  const empty = file('empty.pcap', new Uint8Array(0));
  assertCaptureError(readAll(empty).error, empty, 0, 'truncated-header');
  const cut = file('cut-header.pcap', pcapBytes({ le: false, ns: true, records: [] }).subarray(0, 20));
  const { error } = readAll(cut);
  assertCaptureError(error, cut, 0, 'truncated-header');
  assert.match((error as Error).message, /need 24 bytes, have 20/);
});

corrupt('unsupported major version', () => {
  const bytes = pcapBytes({ le: true, ns: false, records: GOOD });
  new DataView(bytes.buffer).setUint16(4, 3, true);
  const p = file('version.pcap', bytes);
  assertCaptureError(readAll(p).error, p, 0, 'bad-version');
});

corrupt('captured length above the sanity bound (256 MiB)', () => {
  const bad = { sec: 3, frac: 0, data: udpFrame(3, 60), caplen: 256 * 1024 * 1024 + 1 };
  const p = file('caplen.pcap', pcapBytes({ le: false, ns: false, records: [...GOOD, bad] }));
  const { records, error } = readAll(p);
  assertGoodDelivered(records);
  assertCaptureError(error, p, AFTER_GOOD, 'caplen-too-large');
  assert.match((error as Error).message, /captured length 268435457 exceeds 268435456/);
});

corrupt('maxCaplen option lowers the bound', () => {
  const p = file('maxcap.pcap', pcapBytes({ le: true, ns: false, records: [...GOOD, { sec: 3, frac: 0, data: udpFrame(3, 200) }] }));
  const { records, error } = readAll(p, { maxCaplen: 100 });
  assertGoodDelivered(records);
  assertCaptureError(error, p, AFTER_GOOD, 'caplen-too-large');
  assert.is(readAll(p).records.length, 3);
});

corrupt('record header cut off', () => {
  const full = pcapBytes({ le: true, ns: false, records: [...GOOD, { sec: 3, frac: 0, data: udpFrame(3, 60) }] });
  const p = file('cut-rec-header.pcap', full.subarray(0, AFTER_GOOD + 10));
  const { records, error } = readAll(p);
  assertGoodDelivered(records);
  assertCaptureError(error, p, AFTER_GOOD, 'truncated-record');
  assert.is((error as Error).message, `${p}: truncated record header at byte offset ${AFTER_GOOD} (need 16 bytes, have 10)`);
});

corrupt('packet data cut off', () => {
  const full = pcapBytes({ le: false, ns: true, records: [...GOOD, { sec: 3, frac: 0, data: udpFrame(3, 60) }] });
  const p = file('cut-data.pcap', full.subarray(0, AFTER_GOOD + 16 + 4));
  const { records, error } = readAll(p);
  assertGoodDelivered(records, true);
  assertCaptureError(error, p, AFTER_GOOD, 'truncated-record');
  assert.is((error as Error).message, `${p}: truncated packet record at byte offset ${AFTER_GOOD} (need 76 bytes, have 20)`);
});

corrupt('a corrupt length the file cannot hold does not grow the buffer', () => {
  const bad = { sec: 3, frac: 0, data: udpFrame(3, 60), caplen: 200 * 1024 * 1024 };
  const p = file('huge-caplen.pcap', pcapBytes({ le: true, ns: false, records: [...GOOD, bad] }));
  const cap = openCapture(p, { bufferSize: 4096 });
  assert.is(cap.read()?.tsSec, 1);
  assert.is(cap.read()?.tsSec, 2);
  let error: unknown;
  try {
    cap.read();
  } catch (e) {
    error = e;
  }
  assertCaptureError(error, p, AFTER_GOOD, 'truncated-record');
  assert.match((error as Error).message, /need 209715216 bytes, have 76\)/);
  assert.is(cap.stats.bufferCapacity, 4096);
});

corrupt('timestamp fraction out of range', () => {
  const p = file('frac.pcap', pcapBytes({ le: true, ns: false, records: [...GOOD, { sec: 3, frac: 1_000_000, data: udpFrame(3, 60) }] }));
  const { records, error } = readAll(p);
  assertGoodDelivered(records);
  assertCaptureError(error, p, AFTER_GOOD, 'bad-timestamp');
});

corrupt('an error found after a buffer refill still has the right offset', () => {
  const records = Array.from({ length: 300 }, (_, i) => ({ sec: i, frac: 0, data: udpFrame(i, 100) }));
  const full = pcapBytes({ le: true, ns: false, records });
  const cut = full.length - 50; // inside the last record's data
  const p = file('late.pcap', full.subarray(0, cut));
  const { records: got, error } = readAll(p, { bufferSize: 1000 });
  assert.is(got.length, 299);
  assert.equal(got[298]?.data, records[298]?.data);
  assertCaptureError(error, p, full.length - 116, 'truncated-record');
  assert.match((error as Error).message, /need 116 bytes, have 66/);
});

corrupt('the reader closes its file on error and rethrows on later reads', () => {
  const full = pcapBytes({ le: true, ns: false, records: [...GOOD, { sec: 3, frac: 0, data: udpFrame(3, 60) }] });
  const p = file('sticky.pcap', full.subarray(0, AFTER_GOOD + 5));
  const before = haveProcFds ? openFds() : 0;
  const cap = openCapture(p);
  assert.ok(cap.read() !== null && cap.read() !== null);
  let first: unknown;
  try {
    cap.read();
  } catch (e) {
    first = e;
  }
  assert.instance(first, CaptureError);
  if (haveProcFds) assert.is(openFds(), before, 'file descriptor closed');
  assert.throws(() => cap.read(), (e: unknown) => e === first);
});

corrupt.run();

// ---------------------------------------------------------------------------
const streaming = suite('streaming');

streaming('a 5 MB capture is read through a 64 KiB buffer', () => {
  const p = file('big.pcap');
  const w = new PcapWriter(p, { resolution: 'ns' });
  const n = 3500;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const f = udpFrame(i, 1400 + (i % 115));
    for (const b of f) sum = (sum + b) % 1_000_000_007;
    w.write(f, 1_700_000_000 + Math.floor(i / 1000), (i % 1000) * 1_000_000 + i);
  }
  w.close();
  const size = fs.statSync(p).size;
  assert.ok(size > 5_000_000, `file is ${size} bytes`);

  const cap = openCapture(p, { bufferSize: 65536 });
  let count = 0;
  let got = 0;
  for (let r = cap.read(); r !== null; r = cap.read()) {
    assert.is(r.data.length, 1400 + (count % 115));
    assert.is(r.tsNsec, (count % 1000) * 1_000_000 + count);
    for (const b of r.data) got = (got + b) % 1_000_000_007;
    count++;
  }
  assert.is(count, n);
  assert.is(got, sum, 'same bytes');
  const stats = cap.stats;
  assert.is(stats.bufferCapacity, 65536, 'the buffer never grew');
  assert.ok(stats.maxReadLength <= 65536, `largest read ${stats.maxReadLength}`);
  assert.is(stats.bytesRead, size);
  assert.ok(stats.readCalls >= Math.ceil(size / 65536), `${stats.readCalls} reads`);
});

streaming('the buffer grows only for a record larger than itself', () => {
  const records = [
    { sec: 1, frac: 0, data: udpFrame(1, 100) },
    { sec: 2, frac: 0, data: udpFrame(2, 9000) },
    { sec: 3, frac: 0, data: udpFrame(3, 100) },
  ];
  const p = file('grow.pcap', pcapBytes({ le: true, ns: false, records }));
  const cap = openCapture(p, { bufferSize: 4096 });
  const got = [...cap];
  assert.equal(got.map((r) => r.data), records.map((r) => r.data));
  assert.is(cap.stats.bufferCapacity, 16384);
});

streaming('copy:false views stay correct across buffer refills', () => {
  const records = Array.from({ length: 500 }, (_, i) => ({ sec: i, frac: i, data: udpFrame(i, 42 + (i % 200)) }));
  const p = file('views.pcap', pcapBytes({ le: false, ns: false, records }));
  let i = 0;
  for (const r of readCaptureSync(p, { copy: false, bufferSize: 512 })) {
    assert.equal(r.data, records[i]!.data, `record ${i}`);
    i++;
  }
  assert.is(i, 500);
});

streaming('reading to the end or breaking out of a loop closes the file', () => {
  if (!haveProcFds) return;
  const p = file('break.pcap', pcapBytes({ le: true, ns: false, records: GOOD }));
  const before = openFds();
  const whole = openCapture(p);
  assert.is(openFds(), before + 1);
  while (whole.read() !== null);
  assert.is(openFds(), before, 'closed at the end');
  for (const r of readCaptureSync(p)) {
    assert.is(openFds(), before + 1);
    assert.ok(r);
    break;
  }
  assert.is(openFds(), before);
  const cap = openCapture(p);
  for (const r of cap) {
    assert.ok(r);
    break;
  }
  assert.is(openFds(), before);
});

streaming.run();
