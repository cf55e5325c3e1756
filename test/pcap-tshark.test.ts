/**
 * Interoperability with Wireshark's tools (tshark, editcap, mergecap): they
 * must read what we write, and we must read what they write, frame for frame.
 * Skipped (with a note) when tshark is not installed.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { PcapWriter, PcapngWriter, openCapture, readCaptureSync } from '../src/pcap/index.ts';
import type { CaptureRecord } from '../src/pcap/index.ts';
import { assertSameFrame, tmpDir, udpFrame } from './helpers/pcap-fixtures.ts';

const TSHARK = '/usr/bin/tshark';
const haveTshark = fs.existsSync(TSHARK);
const tool = (name: string): string => path.join(path.dirname(TSHARK), name);

const dir = tmpDir();
process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
const at = (name: string): string => path.join(dir, name);

/** Run a Wireshark tool; fail on a non-zero exit or anything on stderr but the root warning. */
function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  const stderr = r.stderr
    .split('\n')
    .filter((l) => l.trim() !== '' && !/^Running as user "root"/.test(l))
    .join('\n');
  assert.is(r.status, 0, `${path.basename(cmd)} ${args.join(' ')} exited ${r.status}: ${stderr}`);
  assert.is(stderr, '', `${path.basename(cmd)} ${args.join(' ')} stderr`);
  return r.stdout;
}

/** tshark's view of each frame: interface, seconds, nanoseconds, lengths, protocols. */
function tsharkFrames(file: string): { iface: number; sec: number; nsec: number; len: number; caplen: number; protocols: string }[] {
  const out = run(TSHARK, ['-r', file, '-T', 'fields', '-E', 'separator=/t', '-e', 'frame.interface_id', '-e', 'frame.time_epoch', '-e', 'frame.len', '-e', 'frame.cap_len', '-e', 'frame.protocols']);
  return out
    .trimEnd()
    .split('\n')
    .map((line) => {
      const [iface = '', epoch = '', len = '', caplen = '', protocols = ''] = line.split('\t');
      const [sec = '0', frac = ''] = epoch.split('.');
      return { iface: Number(iface || 0), sec: Number(sec), nsec: Number(frac.padEnd(9, '0')), len: Number(len), caplen: Number(caplen), protocols };
    });
}

/** `tshark -V` must dissect every frame without a malformed-packet report. */
function assertDissectsCleanly(file: string, frames: number): void {
  const out = run(TSHARK, ['-r', file, '-V']);
  assert.not.match(out, /malformed/i);
  assert.is((out.match(/^Frame \d+:/gm) ?? []).length, frames);
}

interface Frame {
  data: Uint8Array;
  sec: number;
  nsec: number;
}

const FRAMES: Frame[] = Array.from({ length: 12 }, (_, i) => ({
  data: udpFrame(i, [42, 60, 61, 590, 1514][i % 5]),
  sec: 1_700_000_000 + i,
  nsec: (i * 123_456_789 + 1) % 1_000_000_000,
}));

function writePcap(file: string, resolution: 'us' | 'ns'): void {
  const w = new PcapWriter(file, { resolution });
  for (const f of FRAMES) w.write(f.data, f.sec, f.nsec);
  w.close();
}

function assertSameFrames(a: CaptureRecord[], b: CaptureRecord[], what: string): void {
  assert.is(a.length, b.length, `${what}: frame count`);
  a.forEach((r, i) => assertSameFrame(r, b[i]!, `${what} frame ${i}`));
}

const tshark = suite('tshark interop');

if (!haveTshark) {
  console.log(`  (tshark interop skipped: ${TSHARK} not found)`);
} else {
  for (const resolution of ['us', 'ns'] as const) {
    tshark(`tshark dissects a ${resolution} PcapWriter file cleanly, with our timestamps`, () => {
      const file = at(`written-${resolution}.pcap`);
      writePcap(file, resolution);
      assertDissectsCleanly(file, FRAMES.length);
      const seen = tsharkFrames(file);
      assert.equal(
        seen,
        FRAMES.map((f) => ({
          iface: 0,
          sec: f.sec,
          nsec: resolution === 'ns' ? f.nsec : Math.floor(f.nsec / 1000) * 1000,
          len: f.data.length,
          caplen: f.data.length,
          protocols: f.data.length > 42 ? 'eth:ethertype:ip:udp:data' : 'eth:ethertype:ip:udp',
        })),
      );
    });
  }

  tshark('editcap -F pcapng and -F nsecpcap copies read back as the same frames', () => {
    for (const resolution of ['us', 'ns'] as const) {
      const src = at(`src-${resolution}.pcap`);
      writePcap(src, resolution);
      const ours = [...readCaptureSync(src)];
      assert.is(ours.length, FRAMES.length);

      const ng = at(`editcap-${resolution}.pcapng`);
      run(tool('editcap'), ['-F', 'pcapng', src, ng]);
      const cap = openCapture(ng);
      assert.is(cap.format, 'pcapng');
      const fromNg = [...cap];
      assertSameFrames(fromNg, ours, `pcapng from ${resolution}`);
      assert.ok(fromNg.every((r) => r.resolution === resolution && r.linkType === 1 && r.interfaceId === 0));

      const nsec = at(`editcap-${resolution}-nsec.pcap`);
      run(tool('editcap'), ['-F', 'nsecpcap', src, nsec]);
      const capNs = openCapture(nsec);
      assert.is(capNs.format, 'pcap');
      assert.is(capNs.interfaces[0]?.resolution, 'ns');
      assertSameFrames([...capNs], ours, `nsecpcap from ${resolution}`);
    }
  });

  tshark('tshark -F pcapng output reads as the same frames', () => {
    const src = at('tshark-src.pcap');
    writePcap(src, 'ns');
    const out = at('tshark-out.pcapng');
    run(TSHARK, ['-r', src, '-F', 'pcapng', '-w', out]);
    assertSameFrames([...readCaptureSync(out)], [...readCaptureSync(src)], 'tshark pcapng');
  });

  tshark('mergecap pcapng with three interfaces (µs, ns, raw IP) reads like its inputs', () => {
    const us = at('merge-us.pcap');
    const ns = at('merge-ns.pcap');
    const raw = at('merge-raw.pcap');
    writePcap(us, 'us');
    const w = new PcapWriter(ns, { resolution: 'ns' });
    w.write(udpFrame(100, 70), 1_700_000_000, 999_999_999);
    w.write(udpFrame(101, 71), 1_700_000_005, 5);
    w.close();
    const r = new PcapWriter(raw, { resolution: 'ns', linkType: 101 });
    r.write(udpFrame(102, 80).subarray(14), 1_700_000_001, 7);
    r.close();
    const merged = at('merged.pcapng');
    run(tool('mergecap'), ['-F', 'pcapng', '-w', merged, us, ns, raw]);

    const got = [...readCaptureSync(merged)];
    const inputs = [us, ns, raw].map((f) => [...readCaptureSync(f)]);
    assert.is(got.length, inputs.reduce((n, x) => n + x.length, 0));
    // mergecap gives each input its own interface, in order; frames come out in time order.
    for (const [id, input] of inputs.entries()) {
      const mine = got.filter((g) => g.interfaceId === id);
      assertSameFrames(mine, input, `interface ${id}`);
      assert.ok(mine.every((g) => g.linkType === input[0]?.linkType && g.resolution === input[0]?.resolution));
    }
    const inOrder = got.every((g, k) => k === 0 || g.tsSec > got[k - 1]!.tsSec || (g.tsSec === got[k - 1]!.tsSec && g.tsNsec >= got[k - 1]!.tsNsec));
    assert.ok(inOrder, 'merged in time order');
    // and tshark agrees with our timestamps and interface ids
    assert.equal(
      tsharkFrames(merged).map((t) => [t.iface, t.sec, t.nsec, t.caplen]),
      got.map((g) => [g.interfaceId, g.tsSec, g.tsNsec, g.data.length]),
    );
  });

  tshark('tshark reads a PcapngWriter file (two byte orders, four resolutions) as we do', () => {
    const file = at('ours.pcapng');
    const w = new PcapngWriter(file, { byteOrder: 'be' });
    const ids = [9, 3, 0x80 | 20, 6].map((tsresol) => w.addInterface({ tsresol }));
    let i = 0;
    for (const id of ids) for (const nsec of [0, 1, 999, 123_456_789, 999_999_999]) w.writePacket(id, udpFrame(i++, 60 + (i % 4)), 1_700_000_000 + id, nsec);
    w.startSection({ byteOrder: 'le' });
    const s1 = w.addInterface({ tsresol: 9, tsOffset: 1_000_000_000 });
    w.writePacket(s1, udpFrame(i++), 1_700_000_123, 456);
    w.close();
    assertDissectsCleanly(file, i);
    const ours = [...readCaptureSync(file)];
    assert.is(ours.length, i);
    assert.equal(
      tsharkFrames(file).map((t) => [t.iface, t.sec, t.nsec, t.caplen]),
      ours.map((r) => [r.interfaceId, r.tsSec, r.tsNsec, r.data.length]),
    );
    assert.equal(ours.slice(-1).map((r) => [r.section, r.tsSec, r.tsNsec]), [[1, 1_700_000_123, 456]]);
  });
}

tshark.run();
