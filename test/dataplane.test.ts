import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Dataplane, PortKind, PortFlag, Verdict, HEADROOM, MAX_VECTOR, MAX_TX, D_OFF, D_LEN, D_TS_SEC, D_TS_NSEC } from '../src/dataplane/index.ts';

/** A broadcast ARP-typed frame of `len` bytes with a recognisable payload. */
function frame(len: number, seed = 1): Uint8Array {
  const f = new Uint8Array(len);
  f.fill(0xff, 0, 6);
  f.set([2, 0, 0, 0, 0, seed & 0xff], 6);
  if (len >= 14) { f[12] = 0x08; f[13] = 0x06; }
  for (let i = 14; i < len; i++) f[i] = (i * 7 + seed) & 0xff;
  return f;
}

function wired(opts = {}): Dataplane {
  const dp = new Dataplane({ slots: 512, ...opts });
  dp.setPort(0, { kind: PortKind.WIRE, aux: 1 });
  dp.setPort(1, { kind: PortKind.WIRE, aux: 0 });
  return dp;
}

const Abi = suite('packet vector ABI');

Abi('frames go through one vector call and come back byte for byte', () => {
  const dp = wired();
  const sent: Uint8Array[] = [];
  for (let i = 0; i < 100; i++) {
    const f = frame(60 + i * 13, i);
    sent.push(f);
    assert.ok(dp.push(f, i % 2, 1000 + i, i));
  }
  const n = dp.run();
  assert.is(n, 100);
  for (let i = 0; i < n; i++) {
    assert.is(dp.txSrc(i), i);
    assert.is(dp.txPort(i), (i % 2) ^ 1);
    assert.equal(Array.from(dp.txData(i)), Array.from(sent[i]!));
    assert.is(dp.verdict(i), Verdict.TX);
    assert.is(dp.descField(i, D_TS_SEC), 1000 + i);
    assert.is(dp.descField(i, D_TS_NSEC), i);
  }
  assert.is(dp.counter('graph-rx'), 100n);
  assert.is(dp.counter('graph-tx'), 100n);
  assert.is(dp.rxPerPort[0], 50);
  assert.is(dp.txPerPort[1], 50);
});

Abi('the vector holds MAX_VECTOR frames and slots are recycled across vectors', () => {
  const dp = wired({ slots: 300 });
  for (let round = 0; round < 20; round++) {
    let k = 0;
    while (dp.push(frame(64, k), 0)) k++;
    assert.is(k, MAX_VECTOR, 'push refuses the frame after a full vector');
    assert.is(dp.run(), MAX_VECTOR);
  }
  dp.releaseTx();
  assert.is(dp.freeSlots, 300, 'every slot is back in the pool');
});

Abi('push refuses a frame when the pool is empty, and nothing is lost', () => {
  const dp = wired({ slots: 10 });
  let k = 0;
  while (dp.push(frame(64), 0)) k++;
  assert.is(k, 10);
  assert.is(dp.run(), 10);
  assert.is(dp.freeSlots, 0, 'transmit entries still own their slots');
  assert.ok(dp.push(frame(64), 0), 'the next push releases them');
  assert.is(dp.freeSlots, 9);
});

Abi('frames are placed after the headroom; prepend and strip move the start, not the bytes', () => {
  const dp = wired();
  const f = frame(100);
  dp.push(f, 0);
  const ex = dp.exports as unknown as { framePrepend(i: number, n: number): number; frameStrip(i: number, n: number): number };
  assert.is(dp.descField(0, D_OFF), HEADROOM);
  const base = ex.framePrepend(0, 4);
  assert.ok(base > 0);
  assert.is(dp.descField(0, D_OFF), HEADROOM - 4);
  assert.is(dp.descField(0, D_LEN), 104);
  dp.bytes.set([0x81, 0x00, 0x00, 0x0a], base);
  assert.equal(Array.from(dp.bytes.subarray(base + 4, base + 104)), Array.from(f), 'frame bytes untouched');
  assert.is(ex.framePrepend(0, HEADROOM - 3), 0, 'no more headroom than there is');
  assert.is(dp.descField(0, D_OFF), HEADROOM - 4, 'a refused prepend changes nothing');
  const after = ex.frameStrip(0, 4);
  assert.is(after, base + 4);
  assert.is(dp.descField(0, D_LEN), 100);
  assert.is(ex.frameStrip(0, 101), 0, 'cannot strip more than the frame');
  assert.is(dp.run(), 1);
  assert.equal(Array.from(dp.txData(0)), Array.from(f));
});

const Drops = suite('eth and graph drop reasons');

Drops('runts, oversize frames, lying 802.3 lengths and bad descriptors are counted drops', () => {
  const dp = wired({ slots: 64, slotSize: 1024 });
  const ok = frame(60);
  dp.push(frame(13), 0); // runt
  dp.push(frame(1024 - HEADROOM + 1), 0); // longer than the slot can hold
  const lying = frame(60); lying[12] = 0x05; lying[13] = 0x00; // 802.3 length 1280 > 46
  dp.push(lying, 0);
  const padded = frame(60); padded[12] = 0x00; padded[13] = 0x20; // 802.3 length 32 + padding: fine
  dp.push(padded, 0);
  dp.push(ok, 7); // no such port
  dp.push(ok, 0);
  // A descriptor naming a slot outside the pool.
  dp.describe(dp.pending, 9999, HEADROOM, 60, 0, 0, 0);
  const n = dp.run(7);
  assert.is(n, 2);
  const reasons = [0, 1, 2, 3, 4, 5, 6].map((i) => dp.dropReason(i));
  assert.equal(reasons, ['eth-runt', 'eth-oversize', 'eth-len-mismatch', '', 'graph-no-port', '', 'eth-bad-slot']);
  assert.is(dp.verdict(0), Verdict.DROP);
  assert.is(dp.verdict(3), Verdict.TX);
  const c = dp.counters(true);
  assert.equal(
    { runt: c['eth-runt'], over: c['eth-oversize'], len: c['eth-len-mismatch'], port: c['graph-no-port'], slot: c['eth-bad-slot'], drop: c['graph-drop'] },
    { runt: 1n, over: 1n, len: 1n, port: 1n, slot: 1n, drop: 5n },
  );
  dp.releaseTx();
  assert.is(dp.freeSlots, 64, 'dropped frames gave their slots back; the bogus slot was not pushed');
});

Drops('a sandbox with driver none drops everything; a port that is down drops too', () => {
  const dp = new Dataplane({ slots: 16 });
  dp.setPort(0, { kind: PortKind.NONE });
  dp.setPort(1, { kind: PortKind.WIRE, aux: 2, flags: PortFlag.DOWN });
  dp.setPort(2, { kind: PortKind.WIRE, aux: 3 });
  dp.setPort(3, { kind: PortKind.WIRE, aux: 1 });
  dp.push(frame(60), 0);
  dp.push(frame(60), 1);
  dp.push(frame(60), 2);
  dp.push(frame(60), 3); // to port 1, which is down
  assert.is(dp.run(), 1);
  assert.equal([0, 1, 2, 3].map((i) => dp.dropReason(i)), ['none-drop', 'graph-port-down', '', 'graph-port-down']);
  assert.is(dp.counter('none-drop'), 1n);
  assert.is(dp.counter('graph-port-down'), 2n);
});

Drops('counter names are checked', () => {
  const dp = new Dataplane({ slots: 4 });
  assert.throws(() => dp.counter('no-such-counter'), /unknown counter "no-such-counter"/);
});

const Config = suite('configuration errors');

Config('bad pool shapes are refused with a clear message', () => {
  assert.throws(() => new Dataplane({ slots: 0 }), /slots must be an integer/);
  assert.throws(() => new Dataplane({ slotSize: 1000 }), /slotSize must be a multiple of 64/);
  assert.throws(() => new Dataplane({ slots: 4, memoryBytes: 65536 }), /memoryBytes 65536 is too small/);
  const dp = new Dataplane({ slots: 4 });
  assert.throws(() => dp.setPort(300, { kind: PortKind.WIRE }), /port id must be in 0\.\.255/);
  assert.throws(() => dp.setPort(1, { kind: PortKind.BRIDGE, mac: '02:00:00:00:00' }), /invalid MAC address/);
  assert.throws(() => dp.setPort(1, { kind: PortKind.BRIDGE, ip4: '10.0.0.256' }), /invalid IPv4 address/);
});

Config('memory is fixed: views never detach and the size is what was laid out', () => {
  const dp = new Dataplane({ slots: 1000, slotSize: 2048 });
  assert.ok(dp.memoryBytes >= 1000 * 2048);
  assert.is(dp.memoryBytes % 65536, 0);
  const before = dp.bytes;
  for (let i = 0; i < 10; i++) { dp.push(frame(60), 0); dp.run(); }
  assert.is(dp.bytes.buffer, before.buffer);
  assert.is(MAX_TX, 4096);
});

Abi.run();
Drops.run();
Config.run();
