/** Hand-built capture bytes and small helpers for the pcap tests (independent of src/pcap's writers). */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as assert from 'uvu/assert';
import { CaptureError, readCaptureSync } from '../../src/pcap/index.ts';
import type { CaptureErrorReason, CaptureRecord, ReadOptions } from '../../src/pcap/index.ts';

/** A fresh temporary directory; remove it with `fs.rmSync(dir, { recursive: true })`. */
export function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'netwasm-pcap-'));
}

/** A valid Ethernet/IPv4/UDP frame of `len` bytes (>= 42) whose payload encodes `i`. */
export function udpFrame(i: number, len = 64): Uint8Array {
  if (len < 42) throw new RangeError('frame too short');
  const f = new Uint8Array(len);
  const v = new DataView(f.buffer);
  f.set([0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01], 0);
  v.setUint16(12, 0x0800);
  const ip = 14;
  f[ip] = 0x45;
  v.setUint16(ip + 2, len - 14);
  v.setUint16(ip + 4, i & 0xffff);
  f[ip + 8] = 64;
  f[ip + 9] = 17;
  f.set([10, 0, 0, 1, 10, 0, 0, 2], ip + 12);
  let sum = 0;
  for (let k = 0; k < 20; k += 2) sum += v.getUint16(ip + k);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  v.setUint16(ip + 10, ~sum & 0xffff);
  const udp = ip + 20;
  v.setUint16(udp, 40000 + (i % 1000));
  v.setUint16(udp + 2, 9);
  v.setUint16(udp + 4, len - udp);
  for (let k = udp + 8; k < len; k++) f[k] = (i * 31 + k) & 0xff;
  return f;
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export interface RawPcapRecord {
  sec: number;
  /** µs or ns, as the file's magic says. */
  frac: number;
  data: Uint8Array;
  origLen?: number;
  /** Override the captured-length field (to corrupt it). */
  caplen?: number;
}

/** Classic pcap bytes, either byte order and resolution. */
export function pcapBytes(opts: { le: boolean; ns: boolean; snaplen?: number; linkType?: number; records: RawPcapRecord[] }): Uint8Array {
  const le = opts.le;
  const head = new Uint8Array(24);
  const h = new DataView(head.buffer);
  h.setUint32(0, opts.ns ? 0xa1b23c4d : 0xa1b2c3d4, le);
  h.setUint16(4, 2, le);
  h.setUint16(6, 4, le);
  h.setUint32(16, opts.snaplen ?? 65535, le);
  h.setUint32(20, opts.linkType ?? 1, le);
  const parts = [head];
  for (const r of opts.records) {
    const rec = new Uint8Array(16 + r.data.length);
    const v = new DataView(rec.buffer);
    v.setUint32(0, r.sec, le);
    v.setUint32(4, r.frac, le);
    v.setUint32(8, r.caplen ?? r.data.length, le);
    v.setUint32(12, r.origLen ?? r.data.length, le);
    rec.set(r.data, 16);
    parts.push(rec);
  }
  return concat(...parts);
}

const pad4 = (n: number): number => (n + 3) & ~3;

/** One pcapng block; `trailer` overrides the trailing length (to corrupt it), `total` the leading one. */
export function ngBlock(le: boolean, type: number, body: Uint8Array, over: { total?: number; trailer?: number } = {}): Uint8Array {
  const total = 12 + pad4(body.length);
  const b = new Uint8Array(total);
  const v = new DataView(b.buffer);
  v.setUint32(0, type, le);
  v.setUint32(4, over.total ?? total, le);
  b.set(body, 8);
  v.setUint32(total - 4, over.trailer ?? total, le);
  return b;
}

export function ngShb(le: boolean): Uint8Array {
  const body = new Uint8Array(16);
  const v = new DataView(body.buffer);
  v.setUint32(0, 0x1a2b3c4d, le);
  v.setUint16(4, 1, le);
  v.setBigInt64(8, -1n, le);
  return ngBlock(le, 0x0a0d0d0a, body);
}

/** An option TLV (code, length, value padded to 4). */
export function ngOpt(le: boolean, code: number, value: Uint8Array): Uint8Array {
  const o = new Uint8Array(4 + pad4(value.length));
  const v = new DataView(o.buffer);
  v.setUint16(0, code, le);
  v.setUint16(2, value.length, le);
  o.set(value, 4);
  return o;
}

export function ngIdb(le: boolean, opts: { linkType?: number; snaplen?: number; tsresol?: number; options?: Uint8Array[] } = {}): Uint8Array {
  const options = [...(opts.options ?? [])];
  if (opts.tsresol !== undefined) options.unshift(ngOpt(le, 9, Uint8Array.of(opts.tsresol)));
  if (options.length > 0) options.push(new Uint8Array(4));
  const head = new Uint8Array(8);
  const v = new DataView(head.buffer);
  v.setUint16(0, opts.linkType ?? 1, le);
  v.setUint32(4, opts.snaplen ?? 0, le);
  return ngBlock(le, 1, concat(head, ...options));
}

/** An EPB with a raw 64-bit timestamp (in the interface's units). */
export function ngEpb(le: boolean, ifid: number, ts: bigint, data: Uint8Array, over: { origLen?: number; caplen?: number } = {}): Uint8Array {
  const head = new Uint8Array(20);
  const v = new DataView(head.buffer);
  v.setUint32(0, ifid, le);
  v.setUint32(4, Number(ts >> 32n), le);
  v.setUint32(8, Number(ts & 0xffffffffn), le);
  v.setUint32(12, over.caplen ?? data.length, le);
  v.setUint32(16, over.origLen ?? data.length, le);
  return ngBlock(le, 6, concat(head, data));
}

export function ngSpb(le: boolean, data: Uint8Array, origLen = data.length): Uint8Array {
  const head = new Uint8Array(4);
  new DataView(head.buffer).setUint32(0, origLen, le);
  return ngBlock(le, 3, concat(head, data));
}

/** Read a whole capture, returning the records delivered before any error, and the error. */
export function readAll(file: string, opts?: ReadOptions): { records: CaptureRecord[]; error: unknown } {
  const records: CaptureRecord[] = [];
  try {
    for (const r of readCaptureSync(file, opts)) records.push(r);
  } catch (error) {
    return { records, error };
  }
  return { records, error: undefined };
}

/** Assert `err` is a CaptureError for `file` at `offset` with `reason`, and that the message names both. */
export function assertCaptureError(err: unknown, file: string, offset: number, reason: CaptureErrorReason): void {
  assert.instance(err, CaptureError);
  const e = err as CaptureError;
  assert.is(e.file, file);
  assert.is(e.offset, offset, `offset in: ${e.message}`);
  assert.is(e.reason, reason, `reason in: ${e.message}`);
  assert.ok(e.message.startsWith(`${file}: `), e.message);
  assert.ok(e.message.includes(`at byte offset ${offset}`), e.message);
}

/** Assert two records carry the same frame and timestamp. */
export function assertSameFrame(a: CaptureRecord, b: CaptureRecord, what: string): void {
  assert.equal(a.data, b.data, `${what}: data`);
  assert.is(a.origLen, b.origLen, `${what}: origLen`);
  assert.is(a.tsSec, b.tsSec, `${what}: tsSec`);
  assert.is(a.tsNsec, b.tsNsec, `${what}: tsNsec`);
}
