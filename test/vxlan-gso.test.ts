// A TCP super-frame (GSO, partial checksum, as veths deliver them with the
// kernel's default offloads) that goes into the overlay is cut into segments
// and each is encapsulated: nothing above the overlay MTU leaves, the inner
// TCP stream is intact, every checksum is right.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Dataplane, Bridges, Vxlan, DESC_SIZE, D_VNET_FLAGS, D_GSO_TYPE, D_GSO_SIZE, D_CSUM_START, D_CSUM_OFFSET, D_HDR_LEN } from '../src/dataplane/index.ts';
import { ether, ipv4, tcp, inetChecksum, ETH_IPV4, TCP_ACK, TCP_PSH } from '../src/frames/build.ts';

const G = suite('vxlan encap of offloaded frames');

const A = '02:42:0a:00:00:02', B = '02:42:0a:00:00:03';

function rig() {
  const dp = new Dataplane({ slots: 256, slotSize: 66048, fdbCapacity: 64, bridges: 4 });
  const br = new Bridges(dp);
  const vx = new Vxlan(dp);
  br.create(1, {});
  vx.setVtep(0, { ip: '192.168.1.1', mac: '02:00:00:00:01:01', mtu: 1500 });
  vx.setNeighbor(0, '192.168.1.2', '02:00:00:00:02:01');
  const t = vx.addTunnel({ vni: 4096, underlay: 0, port: 2, bridge: 1 });
  vx.peerAdd(t, { mac: B, ip: '10.0.0.3', vtep: '192.168.1.2' });
  br.addPort(1, { bridge: 1, mtu: 1450 });
  br.fdbAdd(1, B, { port: 2 });
  return { dp };
}

/** A super-frame of `payload` bytes from A to B with a partial checksum (pseudo-header sum in the field). */
function superFrame(payload: number): Uint8Array {
  const data = Uint8Array.from({ length: payload }, (_, i) => (i * 31 + 7) & 0xff);
  const f = ether(B, A, ETH_IPV4, ipv4('10.0.0.2', '10.0.0.3', 6, tcp('10.0.0.2', '10.0.0.3', 40000, 80, 1000, 1, TCP_ACK | TCP_PSH, data), { id: 100 }));
  // The kernel leaves only the pseudo-header sum in the TCP checksum field (and a
  // wrong IP total length does not matter for GSO: segments get their own).
  return f;
}

function markGso(dp: Dataplane, i: number, mss: number): void {
  const d = dp.regions.desc!.ptr + i * DESC_SIZE;
  dp.view.setUint8(d + D_VNET_FLAGS, 1); // NEEDS_CSUM
  dp.view.setUint8(d + D_GSO_TYPE, 1); // TCPv4
  dp.view.setUint16(d + D_GSO_SIZE, mss, true);
  dp.view.setUint16(d + D_CSUM_START, 34, true);
  dp.view.setUint16(d + D_CSUM_OFFSET, 16, true);
  dp.view.setUint16(d + D_HDR_LEN, 54, true);
}

G('a 10,000-byte TCP super-frame becomes MSS-sized VXLAN frames, in order, with good checksums', () => {
  const { dp } = rig();
  const mss = 1398; // 1450 - 20 - 20 - 12 (TCP options in a real stack; none here)
  const f = superFrame(10000);
  assert.ok(dp.push(f, 1));
  markGso(dp, 0, mss);
  const n = dp.run();
  assert.is(n, Math.ceil(10000 / mss));
  let seq = 1000;
  let got = 0;
  for (let i = 0; i < n; i++) {
    assert.is(dp.txPort(i), 0, 'out of the underlay');
    const o = dp.txData(i);
    assert.ok(o.length - 50 <= 1450 + 14, `frame ${i}: inner ${o.length - 50} bytes fits the overlay MTU`);
    const inner = o.subarray(50);
    const ipHdr = inner.subarray(14, 34);
    assert.is(inetChecksum(ipHdr), 0, `frame ${i}: inner IPv4 header checksum`);
    const totLen = (ipHdr[2]! << 8) | ipHdr[3]!;
    const seg = inner.subarray(34, 14 + totLen);
    const pseudo = [10, 0, 0, 2, 10, 0, 0, 3].reduce((s, _, k, a) => (k % 2 ? s : s + ((a[k]! << 8) | a[k + 1]!)), 0) + 6 + seg.length;
    assert.is(inetChecksum(seg, pseudo), 0, `frame ${i}: TCP checksum`);
    const s = ((seg[4]! << 24) | (seg[5]! << 16) | (seg[6]! << 8) | seg[7]!) >>> 0;
    assert.is(s, seq, `frame ${i}: sequence number`);
    const body = seg.subarray(20);
    for (let k = 0; k < body.length; k++) if (body[k] !== ((got + k) * 31 + 7) % 256) assert.unreachable(`frame ${i}: payload byte ${k}`);
    const psh = (seg[13]! & TCP_PSH) !== 0;
    assert.is(psh, i === n - 1, 'PSH on the last segment only');
    seq += body.length;
    got += body.length;
  }
  assert.is(got, 10000);
  assert.is(dp.counter('offload-gso'), 1n);
  assert.is(dp.counter('offload-segments'), BigInt(n));
  dp.releaseTx();
  assert.is(dp.freeSlots, 256, 'no slot leaked');
});

G('a partial checksum alone is completed before encapsulation', () => {
  const { dp } = rig();
  const f = superFrame(200);
  // Replace the TCP checksum by the pseudo-header partial sum, as the kernel leaves it.
  const seg = f.subarray(34);
  const len = seg.length;
  let sum = [10, 0, 0, 2, 10, 0, 0, 3].reduce((s, _, k, a) => (k % 2 ? s : s + ((a[k]! << 8) | a[k + 1]!)), 0) + 6 + len;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  seg[16] = sum >> 8; seg[17] = sum & 0xff;
  dp.push(f, 1);
  const d = dp.regions.desc!.ptr;
  dp.view.setUint8(d + D_VNET_FLAGS, 1);
  dp.view.setUint16(d + D_CSUM_START, 34, true);
  dp.view.setUint16(d + D_CSUM_OFFSET, 16, true);
  assert.is(dp.run(), 1);
  const inner = dp.txData(0).subarray(50);
  const pseudo = [10, 0, 0, 2, 10, 0, 0, 3].reduce((s, _, k, a) => (k % 2 ? s : s + ((a[k]! << 8) | a[k + 1]!)), 0) + 6 + len;
  assert.is(inetChecksum(inner.subarray(34, 34 + len), pseudo), 0);
  assert.is(dp.counter('offload-csum'), 1n);
});

G.run();
