// Every fixture under test/regressions/ (found by the fuzzer, or written for
// a bug it found) replayed on the fuzz topology: no trap, every frame
// accounted for, every transmit entry inside its own slot. The named ones
// also check what the fix does.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { FuzzRunner, loadRegression, REGRESSIONS_DIR, P, A, T0, Rng, build, buildFuzzTopology } from './helpers/fuzz.ts';
import { Verdict, TX_SIZE, T_SLOT, T_OFF, T_LEN, T_PORT } from '../src/dataplane/index.ts';

const R = suite('fuzz regressions: each saved frame replays cleanly');

const files = readdirSync(REGRESSIONS_DIR).filter((f) => f.endsWith('.hex')).sort();

R('there are fixtures', () => {
  assert.ok(files.length >= 4, `fixtures in ${REGRESSIONS_DIR}`);
});

for (const f of files) {
  R(f, () => {
    const { slots, frames, lastSlots } = loadRegression(join(REGRESSIONS_DIR, f));
    const rep = new FuzzRunner({ seed: 0, slots, saveTraps: false }).replay(frames, { lastSlots });
    assert.is(rep.traps, 0, 'no trap');
    assert.equal(rep.failures, [], 'accounted for');
    assert.is(rep.unaccounted + rep.violations + rep.slotLeaks, 0);
  });
}

R('clone-full-slot: copies of a frame that fills its slot stay inside their own slots', () => {
  const { slots, frames } = loadRegression(join(REGRESSIONS_DIR, 'clone-full-slot.hex'));
  const r = new FuzzRunner({ seed: 0, slots, saveTraps: false });
  const dp = r.topo.dp;
  const out: Array<{ port: number; off: number; len: number }> = [];
  frames.forEach((x, i) => {
    const slot = dp.allocSlot();
    dp.bytes.set(x.data, dp.slotAddr(slot) + x.off);
    dp.describe(i, slot, x.off, x.data.length, x.port, x.ts, 0);
  });
  const n = dp.run(frames.length);
  const t0 = dp.regions.tx!.ptr;
  for (let k = 0; k < n; k++) {
    const t = t0 + k * TX_SIZE;
    out.push({ port: dp.view.getUint16(t + T_PORT, true), off: dp.view.getUint32(t + T_OFF, true), len: dp.view.getUint32(t + T_LEN, true) });
    assert.ok(dp.view.getUint32(t + T_SLOT, true) < slots);
  }
  for (const o of out) assert.ok(o.off + o.len <= dp.slotSize, `entry to port ${o.port}: [${o.off}, +${o.len}) inside ${dp.slotSize}`);
  // the macvlan children of the bare parent both got the broadcast, whole
  const mv = out.filter((o) => o.port === P.mv1 || o.port === P.mv2);
  assert.is(mv.length, 2);
  for (const o of mv) assert.is(o.len, 2040);
  dp.releaseTx();
  assert.is(dp.freeSlots, slots);
});

R('tx-vector-full: a frame the transmit vector refuses is a DROP graph-tx-full', () => {
  const { slots, frames } = loadRegression(join(REGRESSIONS_DIR, 'tx-vector-full.hex'));
  const r = new FuzzRunner({ seed: 0, slots, saveTraps: false });
  const dp = r.topo.dp;
  for (const x of frames) assert.ok(dp.push(x.data, x.port, x.ts, 0));
  const before = dp.counter('graph-tx-full');
  const n = dp.run();
  assert.is(n, 4096, 'the transmit vector is full');
  let refused = 0;
  for (let i = 0; i < frames.length; i++) {
    if (dp.verdict(i) === Verdict.DROP) {
      assert.is(dp.dropReason(i), 'graph-tx-full');
      refused++;
    } else assert.is(dp.verdict(i), Verdict.TX);
  }
  assert.ok(refused > 0, 'some frames were refused');
  assert.ok(dp.counter('graph-tx-full') - before >= BigInt(refused));
  dp.releaseTx();
  assert.is(dp.freeSlots, slots);
});

R('offload-before-encap: offload metadata that cannot be finished before a tunnel is a counted drop', () => {
  const { slots, frames } = loadRegression(join(REGRESSIONS_DIR, 'offload-before-encap.hex'));
  const r = new FuzzRunner({ seed: 0, slots, saveTraps: false });
  const dp = r.topo.dp;
  r.replay(frames);
  const want = ['offload-bad-csum', 'offload-gso-unsupported', 'offload-bad-gso', 'offload-bad-gso'];
  frames.forEach((_, i) => {
    assert.is(dp.verdict(i), Verdict.DROP, `frame ${i}`);
    assert.is(dp.dropReason(i), want[i], `frame ${i}`);
  });
});

R('udp-gso-at-memory-end: a UDP super-frame ending where memory ends is finished, not a trap', () => {
  const { slots, frames, lastSlots } = loadRegression(join(REGRESSIONS_DIR, 'udp-gso-at-memory-end.hex'));
  assert.ok(lastSlots);
  const r = new FuzzRunner({ seed: 0, slots, saveTraps: false });
  const dp = r.topo.dp;
  assert.is(dp.regions.pool!.ptr + slots * dp.slotSize, dp.memoryBytes, 'the last slot ends where memory ends');
  const before = dp.counter('offload-csum');
  const rep = r.replay(frames, { lastSlots });
  assert.is(rep.traps, 0);
  assert.is(dp.verdict(0), Verdict.TX);
  assert.is(dp.counter('offload-csum') - before, 1n, 'its checksum was completed');
});

R('a learning flood from the underlay leaves room for the static peers the control plane adds', () => {
  // Found by the fuzzer's churn: learned stations (random inner MACs from
  // random sender VTEPs on a learning overlay) filled the peer and remote
  // tables, and netwasmd's next peerAdd failed with "table is full".
  const t = buildFuzzTopology(1024);
  const dp = t.dp;
  const r = new Rng(7);
  for (let v = 0; v < 8; v++) {
    for (let i = 0; i < 256; i++) {
      const vtep = `192.168.${1 + (r.u32() & 0x3f)}.${1 + (r.u32() & 0x7f)}`;
      const mac = `02:42:0a:05:${(r.u32() & 0xff).toString(16).padStart(2, '0')}:${(r.u32() & 0xff).toString(16).padStart(2, '0')}`;
      const inner = build.udp4(A.ovG, mac, '10.5.0.99', A.ovGip, 1, 2, 20);
      assert.ok(dp.push(build.vxlan({ dmac: A.vtepMac, smac: A.rvtepMac[0]!, src: vtep, dst: A.vtepIp, vni: 4098 }, inner), P.vtep, T0 + 1, 0));
    }
    dp.run();
    dp.releaseTx();
  }
  assert.ok(dp.counter('vxlan-learn-full') > 0n, 'learning hit its limit');
  // The control plane still adds peers, to the learning overlay and to another one, with new VTEPs.
  for (let i = 0; i < 8; i++) {
    t.vxlan.setNeighbor(P.vtep, `192.168.200.${i + 1}`, `02:00:00:00:c8:${(i + 1).toString(16).padStart(2, '0')}`);
    t.vxlan.peerAdd(i % 2 ? 0 : 2, { mac: `02:42:0a:0${i % 2 ? 0 : 5}:01:${(i + 1).toString(16).padStart(2, '0')}`, vtep: `192.168.200.${i + 1}` });
  }
});

R.run();
