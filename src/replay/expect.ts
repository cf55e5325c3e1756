// Comparing what left each port with expected captures, frame by frame.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { readCaptureSync } from '../pcap/index.ts';
import { outputFileName, type TimedFrame } from './replay.ts';

export interface Difference {
  port: string;
  /** 0-based frame index in the port's output. */
  index: number;
  /** What differs, in one line. */
  reason: string;
  /** A hex dump around the first differing byte (expected, then actual). */
  dump: string;
}

/** Hex dump of bytes [from, to) of a and b side by side, marking the first difference. */
export function hexDiff(expected: Uint8Array, actual: Uint8Array): { offset: number; dump: string } {
  const n = Math.max(expected.length, actual.length);
  let offset = 0;
  while (offset < n && expected[offset] === actual[offset]) offset++;
  const start = Math.max(0, (offset & ~15) - 16);
  const end = Math.min(n, start + 48);
  const row = (buf: Uint8Array, at: number): string => {
    const cells: string[] = [];
    for (let i = at; i < at + 16; i++) cells.push(i < buf.length && i < end ? buf[i]!.toString(16).padStart(2, '0') : '  ');
    return cells.join(' ');
  };
  const lines: string[] = [];
  for (let at = start; at < end; at += 16) {
    lines.push(`  ${at.toString(16).padStart(4, '0')}  expected ${row(expected, at)}`);
    lines.push(`        actual   ${row(actual, at)}`);
    if (offset >= at && offset < at + 16) lines.push(`                 ${'   '.repeat(offset - at)}^^ first difference at byte ${offset}`);
  }
  return { offset, dump: lines.join('\n') };
}

/** Compares one port's frames. Returns the first difference or null. */
export function compareFrames(port: string, expected: ReadonlyArray<Uint8Array>, actual: ReadonlyArray<Uint8Array>): Difference | null {
  const n = Math.min(expected.length, actual.length);
  for (let i = 0; i < n; i++) {
    const e = expected[i]!;
    const a = actual[i]!;
    if (e.length === a.length && e.every((b, k) => b === a[k])) continue;
    const { offset, dump } = hexDiff(e, a);
    const reason = e.length !== a.length && offset >= Math.min(e.length, a.length)
      ? `length ${a.length}, expected ${e.length}`
      : `byte ${offset} is 0x${(a[offset] ?? 0).toString(16).padStart(2, '0')}, expected 0x${(e[offset] ?? 0).toString(16).padStart(2, '0')}`;
    return { port, index: i, reason, dump };
  }
  if (expected.length !== actual.length) {
    const extra = expected.length > actual.length ? 'missing' : 'unexpected';
    const i = n;
    const f = expected.length > actual.length ? expected[i]! : actual[i]!;
    return { port, index: i, reason: `${Math.abs(expected.length - actual.length)} ${extra} frame(s): ${actual.length} sent, ${expected.length} expected`, dump: hexDiff(extra === 'missing' ? f : new Uint8Array(0), extra === 'missing' ? new Uint8Array(0) : f).dump };
  }
  return null;
}

/** Reads every frame of a capture. */
export function readFrames(path: string): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const r of readCaptureSync(path)) out.push(r.data);
  return out;
}

/**
 * Compares the replay's output with expected captures: `expected` maps port
 * names to capture paths. Ports not named are not compared.
 */
export function compareOutputs(output: Record<string, TimedFrame[]>, expected: Record<string, string>): Difference[] {
  const diffs: Difference[] = [];
  for (const [port, path] of Object.entries(expected)) {
    const d = compareFrames(port, readFrames(path), (output[port] ?? []).map((f) => f.data));
    if (d) diffs.push(d);
  }
  return diffs;
}

/**
 * `--expect DIR`: every `PORT.pcap` in DIR names an expected output; ports
 * given in the map are matched by their file name (`c1/eth0` -> `c1_eth0.pcap`).
 */
export function expectDir(dir: string, ports: Iterable<string>): Record<string, string> {
  const files = new Set(existsSync(dir) ? readdirSync(dir) : []);
  const out: Record<string, string> = {};
  for (const p of ports) {
    const f = outputFileName(p);
    if (files.has(f)) out[p] = join(dir, f);
  }
  return out;
}

/** Formats a difference the way `netwasm replay --expect` prints it. */
export function formatDifference(d: Difference): string {
  return `${d.port}: frame ${d.index}: ${d.reason}\n${d.dump}`;
}
