// The VXLAN node against what the Linux kernel put on the wire
// (fixtures/captures/vxlan.pcap and vxlan-inner.pcap, see fixtures/README.md),
// and tshark dissecting the captures netwasm writes.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Dataplane, Vxlan, Verdict } from '../src/dataplane/index.ts';
import type { TunnelOptions } from '../src/dataplane/index.ts';
import { readCaptureSync, PcapWriter } from '../src/pcap/index.ts';
import * as F from './vxlan-frames.ts';

const CAPS = new URL('../fixtures/captures/', import.meta.url).pathname;
const A = { ip: '10.10.0.1', mac: '02:00:00:00:00:0a', vx: '02:00:00:00:01:0a' };
const B = { ip: '10.10.0.2', mac: '02:00:00:00:00:0b', vx: '02:00:00:00:01:0b' };

const records = (f: string): Uint8Array[] => Array.from(readCaptureSync(join(CAPS, f)), (r) => r.data);

/** A VTEP like one side of the fixture: underlay 0, tunnel port 1, the inner side cross-connected on port 2. */
function side(me: typeof A, peer: typeof A, tun: Partial<TunnelOptions> = {}): { dp: Dataplane; vx: Vxlan } {
  const dp = new Dataplane({ slots: 256 });
  const vx = new Vxlan(dp);
  vx.setVtep(0, { ip: me.ip, mac: me.mac });
  vx.setNeighbor(0, peer.ip, peer.mac);
  const t = vx.addTunnel({ vni: 4096, underlay: 0, port: 1, xconnect: 2, arpProxy: false, udpCsum: true, ...tun });
  vx.floodAdd(t, peer.ip); // the kernel device's `remote`
  vx.peerAdd(t, { mac: peer.vx, vtep: peer.ip });
  return { dp, vx };
}

function through(dp: Dataplane, f: Uint8Array, port: number): Uint8Array[] {
  dp.push(f, port);
  const n = dp.run();
  return Array.from({ length: n }, (_, i) => dp.txData(i).slice());
}

const Fixture = suite('vxlan vs the kernel fixture');
const have = existsSync(join(CAPS, 'vxlan.pcap')) && existsSync(join(CAPS, 'vxlan-inner.pcap'));

Fixture('decapsulating the kernel frames of vxlan.pcap gives vxlan-inner.pcap byte for byte', () => {
  assert.ok(have, 'fixtures/captures/vxlan.pcap and vxlan-inner.pcap are committed');
  const outer = records('vxlan.pcap');
  const inner = records('vxlan-inner.pcap');
  assert.is(outer.length, 8);
  const a = side(A, B);
  const b = side(B, A);
  outer.forEach((f, i) => {
    const toA = F.parseOuter(f).dst === A.ip;
    const dp = toA ? a.dp : b.dp;
    const out = through(dp, f, 0);
    assert.is(dp.verdict(0), Verdict.TX, `frame ${i + 1}: ${dp.dropReason(0)}`);
    assert.is(out.length, 1);
    assert.is(F.frameDiff(out[0]!, inner[i]!), '', `frame ${i + 1}`);
  });
  // Every one had a non-zero, verified UDP checksum (the devices were made with udpcsum).
  assert.is(a.dp.counter('vxlan-decap') + b.dp.counter('vxlan-decap'), 8n);
});

Fixture('encapsulating vxlan-inner.pcap gives the kernel frames, but for the fields the kernel chooses per packet', () => {
  const outer = records('vxlan.pcap');
  const inner = records('vxlan-inner.pcap');
  const a = side(A, B);
  const b = side(B, A);
  inner.forEach((f, i) => {
    const fromA = F.hex(f.subarray(6, 12)) === A.vx.replaceAll(':', '');
    const out = through(fromA ? a.dp : b.dp, f, 2);
    assert.is(out.length, 1, `frame ${i + 1}`);
    const ours = out[0]!;
    const theirs = outer[i]!;
    const p = F.parseOuter(ours);
    assert.ok(p.ipCsumOk && p.udpCsumOk, `frame ${i + 1}: checksums`);
    // IPv4 ID, header checksum, UDP source port (a hash) and UDP checksum differ by design.
    const mask = (x: Uint8Array): Uint8Array => {
      const y = x.slice();
      for (const k of [18, 19, 24, 25, 34, 35, 40, 41]) y[k] = 0;
      return y;
    };
    assert.is(F.frameDiff(mask(ours), mask(theirs)), '', `frame ${i + 1}`);
  });
});

Fixture.run();

// ---------------------------------------------------------------------------- tshark

const Tshark = suite('vxlan captures through tshark');

function hasTshark(): boolean {
  try {
    execFileSync('tshark', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

Tshark('tshark dissects every frame netwasm encapsulates: the right VNI and inner frame, good checksums', () => {
  if (!hasTshark()) {
    if (process.env.CI) throw new Error('tshark is required in CI');
    console.log('  SKIP tshark not installed');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'netwasm-vxlan-'));
  try {
    const inner = records('vxlan-inner.pcap');
    const cases: Array<{ name: string; tun: Partial<TunnelOptions>; v6?: boolean }> = [
      { name: 'ipv4-zero-csum', tun: { udpCsum: false } },
      { name: 'ipv4-csum', tun: { udpCsum: true } },
      { name: 'ipv6', tun: { family: 6 }, v6: true },
    ];
    for (const c of cases) {
      const dp = new Dataplane({ slots: 64 });
      const vx = new Vxlan(dp);
      vx.setVtep(0, { ip: A.ip, ip6: 'fd00:10::1', mac: A.mac, vlan: c.name === 'ipv4-csum' ? 5 : 0 });
      const remote = c.v6 ? 'fd00:10::2' : B.ip;
      vx.setNeighbor(0, remote, B.mac);
      const t = vx.addTunnel({ vni: 4096 + cases.indexOf(c), underlay: 0, port: 1, xconnect: 2, arpProxy: false, ...c.tun });
      vx.floodAdd(t, remote);
      const file = join(dir, `${c.name}.pcap`);
      const w = new PcapWriter(file);
      for (const f of inner) for (const o of through(dp, f, 2)) w.write(o, 1700000000, 0);
      w.close();
      const out = execFileSync('tshark', [
        '-r', file, '-o', 'ip.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE',
        '-T', 'fields', '-E', 'separator=|', '-e', 'vxlan.vni', '-e', 'eth.src', '-e', 'ip.checksum.status',
        '-e', 'udp.checksum.status', '-e', '_ws.malformed', '-e', '_ws.expert.severity', '-e', 'frame.protocols',
        '-e', 'udp.dstport',
      ], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim().split('\n');
      assert.is(out.length, inner.length, `${c.name}: one dissected frame per frame`);
      out.forEach((line, i) => {
        const [vni, srcs, ipStatus, udpStatus, malformed, severity, protos, dport] = line.split('|');
        const what = `${c.name} frame ${i + 1}: ${line}`;
        assert.is(vni, String(4096 + cases.indexOf(c)), what);
        assert.is(dport, '4789', what);
        const innerSrc = Array.from(inner[i]!.subarray(6, 12), (x) => x.toString(16).padStart(2, '0')).join(':');
        assert.equal(srcs!.split(','), [A.mac, innerSrc], what);
        assert.is(malformed, '', what);
        assert.not.match(severity ?? '', /error|warn/i, what);
        assert.match(protos!, /vxlan:eth:ethertype:(arp|ip:icmp)/, what);
        // tshark's checksum status: 1 = Good, 3 = Not present. The outer IPv4 header, and the inner one of ICMP frames.
        if (!c.v6) assert.ok(ipStatus!.split(',').every((s) => s === '1'), `${what}: IPv4 checksums`);
        if (c.name !== 'ipv4-zero-csum') assert.is(udpStatus, '1', `${what}: UDP checksum`);
        else assert.is(udpStatus, '3', `${what}: a zero UDP checksum is "not present"`);
      });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

Tshark.run();
