/**
 * Hand-built frames and a small harness for the macvlan, ipvlan and gateway
 * tests: Ethernet, 802.1Q, ARP, IPv4 (UDP, ICMP echo), IPv6; run one frame
 * through a Dataplane and see what left where. No uvu suites here.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as assert from 'uvu/assert';
import type { Dataplane } from '../../src/dataplane/index.ts';
import { Verdict } from '../../src/dataplane/index.ts';
import { PcapWriter } from '../../src/pcap/index.ts';

export const mac = (s: string): number[] => s.split(':').map((h) => parseInt(h, 16));
export const ip4 = (s: string): number[] => s.split('.').map(Number);
export const BCAST = 'ff:ff:ff:ff:ff:ff';

/** Small tables: these tests create many data planes. */
export const SMALL = { slots: 256, fdbCapacity: 1024, bridges: 16, connCapacity: 0 } as const;

export function csum16(b: ArrayLike<number>, start = 0, end = b.length, initial = 0): number {
  let s = initial;
  for (let i = start; i < end; i += 2) s += (b[i]! << 8) | (i + 1 < end ? b[i + 1]! : 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

export function eth(dst: string, src: string, type: number, payload: ArrayLike<number>): Uint8Array {
  const f = new Uint8Array(14 + payload.length);
  f.set(mac(dst), 0);
  f.set(mac(src), 6);
  f[12] = type >> 8;
  f[13] = type & 0xff;
  f.set(Array.from(payload), 14);
  return f;
}

/** Inserts an 802.1Q tag (TPID 0x8100) after the MACs. */
export function tag(f: Uint8Array, vid: number, pcp = 0, tpid = 0x8100): Uint8Array {
  const out = new Uint8Array(f.length + 4);
  out.set(f.subarray(0, 12), 0);
  out.set([tpid >> 8, tpid & 0xff, (pcp << 5) | (vid >> 8), vid & 0xff], 12);
  out.set(f.subarray(12), 16);
  return out;
}

/** ARP payload (28 bytes) padded to a 60-byte frame by `arpFrame`. */
export function arp(op: number, sha: string, sip: string, tha: string, tip: string): number[] {
  return [0, 1, 8, 0, 6, 4, 0, op, ...mac(sha), ...ip4(sip), ...mac(tha), ...ip4(tip)];
}

export function arpFrame(dst: string, src: string, op: number, sha: string, sip: string, tha: string, tip: string): Uint8Array {
  const p = arp(op, sha, sip, tha, tip);
  return eth(dst, src, 0x0806, [...p, ...new Array<number>(18).fill(0)]);
}

export interface Ip4Opts {
  proto?: number;
  ttl?: number;
  id?: number;
  tos?: number;
  frag?: number;
  options?: number[];
  /** Override the total length field. */
  totLen?: number;
  /** Corrupt the header checksum. */
  badCsum?: boolean;
  version?: number;
}

export function ipv4(src: string, dst: string, payload: ArrayLike<number>, o: Ip4Opts = {}): number[] {
  const opts = o.options ?? [];
  const hl = 20 + opts.length;
  const tot = o.totLen ?? hl + payload.length;
  const h = [((o.version ?? 4) << 4) | (hl >> 2), o.tos ?? 0, tot >> 8, tot & 0xff, (o.id ?? 0x1234) >> 8, (o.id ?? 0x1234) & 0xff,
    (o.frag ?? 0) >> 8, (o.frag ?? 0) & 0xff, o.ttl ?? 64, o.proto ?? 17, 0, 0, ...ip4(src), ...ip4(dst), ...opts];
  let c = csum16(h);
  if (o.badCsum) c ^= 0x5555;
  h[10] = c >> 8;
  h[11] = c & 0xff;
  return [...h, ...Array.from(payload)];
}

export function udp(sport: number, dport: number, data: number[]): number[] {
  const len = 8 + data.length;
  return [sport >> 8, sport & 0xff, dport >> 8, dport & 0xff, len >> 8, len & 0xff, 0, 0, ...data];
}

/** ICMP echo request (type 8) or reply (0) with a correct checksum unless badCsum. */
export function icmpEcho(type: number, id: number, seq: number, data: number[], badCsum = false): number[] {
  const m = [type, 0, 0, 0, id >> 8, id & 0xff, seq >> 8, seq & 0xff, ...data];
  let c = csum16(m);
  if (badCsum) c ^= 0x0f0f;
  m[2] = c >> 8;
  m[3] = c & 0xff;
  return m;
}

export function ip6(s: string): number[] {
  const [head = '', tail = ''] = s.split('::');
  const h = head ? head.split(':') : [];
  const t = s.includes('::') ? (tail ? tail.split(':') : []) : [];
  const words = [...h, ...new Array<string>(8 - h.length - t.length).fill('0'), ...t].map((w) => parseInt(w, 16));
  return words.flatMap((w) => [w >> 8, w & 0xff]);
}

export function ipv6(src: string, dst: string, nh: number, payload: number[]): number[] {
  const len = payload.length;
  return [0x60, 0, 0, 0, len >> 8, len & 0xff, nh, 64, ...ip6(src), ...ip6(dst), ...payload];
}

/** ICMPv6 neighbour solicitation for `target` (checksum left 0: the data planes here do not check it). */
export function ns(target: string): number[] {
  return [135, 0, 0, 0, 0, 0, 0, 0, ...ip6(target)];
}

export interface Out {
  port: number;
  data: Uint8Array;
}

export interface Result {
  out: Out[];
  verdict: Verdict;
  drop: string;
}

/** Runs one frame in on `inPort`; returns copies of what left, with the verdict and drop reason. */
export function send(dp: Dataplane, frame: Uint8Array, inPort: number): Result {
  assert.ok(dp.push(frame, inPort), 'push');
  const n = dp.run();
  const out: Out[] = [];
  for (let i = 0; i < n; i++) out.push({ port: dp.txPort(i), data: Uint8Array.from(dp.txData(i)) });
  return { out, verdict: dp.verdict(0), drop: dp.dropReason(0) };
}

/** Ports that got a frame, sorted. */
export const ports = (r: Result): number[] => r.out.map((o) => o.port).sort((a, b) => a - b);

export const hex = (b: ArrayLike<number>): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

export function assertBytes(got: Uint8Array, want: Uint8Array, msg = ''): void {
  if (got.length !== want.length || got.some((x, i) => x !== want[i])) {
    let i = 0;
    while (i < Math.min(got.length, want.length) && got[i] === want[i]) i++;
    assert.unreachable(`${msg}: frames differ at byte ${i} (len ${got.length} vs ${want.length})\n got  ${hex(got.subarray(i, i + 24))}\n want ${hex(want.subarray(i, i + 24))}`);
  }
}

// ---- tshark ---------------------------------------------------------------------------------

export const TSHARK = '/usr/bin/tshark';
export const haveTshark = fs.existsSync(TSHARK);

/** Writes frames to a temporary pcap and returns tshark's fields for each frame. */
export function tsharkFields(frames: Uint8Array[], fields: string[], extra: string[] = []): string[][] {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netwasm-l2dev-'));
  try {
    const file = path.join(dir, 'out.pcap');
    const w = new PcapWriter(file);
    frames.forEach((f, i) => w.write(f, 1700000000 + i, 0));
    w.close();
    const r = spawnSync(TSHARK, ['-r', file, ...extra, '-T', 'fields', '-E', 'separator=|', ...fields.flatMap((f) => ['-e', f])], { encoding: 'utf8' });
    const stderr = r.stderr.split('\n').filter((l) => l.trim() && !/^Running as user "root"/.test(l)).join('\n');
    assert.is(r.status, 0, `tshark exited ${r.status}: ${stderr}`);
    assert.is(stderr, '', 'tshark stderr');
    return r.stdout.trimEnd().split('\n').map((l) => l.split('|'));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** tshark -V must dissect every frame without an expert "malformed" report. */
export function tsharkClean(frames: Uint8Array[], extra: string[] = []): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netwasm-l2dev-'));
  try {
    const file = path.join(dir, 'out.pcap');
    const w = new PcapWriter(file);
    frames.forEach((f, i) => w.write(f, 1700000000 + i, 0));
    w.close();
    const r = spawnSync(TSHARK, ['-r', file, ...extra, '-V'], { encoding: 'utf8' });
    assert.is(r.status, 0, `tshark exited ${r.status}`);
    assert.not.match(r.stdout, /malformed/i);
    return r.stdout;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
