import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Dataplane, Bridges, D_GSO_TYPE, D_GSO_SIZE, D_HDR_LEN, DESC_SIZE } from '../src/dataplane/index.ts';

const G = suite('bridge egress MTU and GSO super-frames');

function rig(): { dp: Dataplane } {
  const dp = new Dataplane({ slots: 64, slotSize: 32768, fdbCapacity: 64, bridges: 4 });
  const br = new Bridges(dp);
  br.create(1, {});
  br.addPort(0, { bridge: 1, mtu: 1500 });
  br.addPort(1, { bridge: 1, mtu: 1500 });
  br.fdbAdd(1, '02:00:00:00:00:02', { port: 1 });
  return { dp };
}

function frame(len: number): Uint8Array {
  const f = new Uint8Array(len);
  f.set([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00]);
  return f;
}

function gso(dp: Dataplane, i: number, type: number, size: number, hdr: number): void {
  const d = dp.regions.desc!.ptr + i * DESC_SIZE;
  dp.view.setUint8(d + D_GSO_TYPE, type);
  dp.view.setUint16(d + D_GSO_SIZE, size, true);
  dp.view.setUint16(d + D_HDR_LEN, hdr, true);
}

G('a super-frame whose segments fit the MTU passes; one whose segments do not is dropped', () => {
  const { dp } = rig();
  dp.push(frame(20000), 0); gso(dp, 0, 1, 1448, 66);   // 66 + 1448 = 1514: fits
  dp.push(frame(20000), 0); gso(dp, 1, 1, 1449, 66);   // 1515: one byte too many
  dp.push(frame(1514), 0);                             // a plain full-size frame
  dp.push(frame(1515), 0);                             // a plain frame over the MTU
  assert.is(dp.run(), 2);
  assert.equal([0, 1, 2, 3].map((i) => dp.dropReason(i)), ['', 'bridge-mtu-exceeded', '', 'bridge-mtu-exceeded']);
  assert.is(dp.txData(0).length, 20000, 'the super-frame leaves whole, for the egress to segment');
});

G.run();
