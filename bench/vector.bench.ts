// The cost of one call into the data plane, and how a vector amortises it.
import { Dataplane, PortKind } from '../src/dataplane/index.ts';
import { nsPerCall, type Row } from './common.ts';

export async function suite(): Promise<Row[]> {
  const dp = new Dataplane({ slots: 1024 });
  dp.setPort(0, { kind: PortKind.WIRE, aux: 1 });
  dp.setPort(1, { kind: PortKind.WIRE, aux: 0 });
  const frame = new Uint8Array(64);
  frame.fill(0xff, 0, 6);
  frame[12] = 0x08;
  // The fixed cost: one call with an empty vector.
  const fixed = await nsPerCall('runVector(0)', () => { dp.exports.runVector(0); });
  const rows: Row[] = [{
    work: 'vector call, fixed cost (empty vector)', unit: 'ns/call', netwasm: fixed,
    baseline: '-', baselineValue: null, ratio: null, target: '', met: null,
  }];
  const perFrame = new Map<number, number>();
  for (const batch of [1, 32, 256]) {
    // Descriptors are written once; every iteration re-runs the same vector
    // (the wire hands each slot to a transmit entry, which we return at once).
    const ns = await nsPerCall(`batch ${batch}`, () => {
      for (let i = 0; i < batch; i++) dp.push(frame, 0);
      dp.run();
      dp.releaseTx();
    });
    perFrame.set(batch, ns / batch);
  }
  // The data plane's part alone: the same descriptors run again and again; the
  // slots the wire handed to transmit entries are taken back off the free stack.
  const runOnly = new Map<number, number>();
  for (const batch of [1, 32, 256]) {
    for (let i = 0; i < batch; i++) dp.push(frame, 0);
    const ns = await nsPerCall(`run ${batch}`, () => {
      dp.run(batch);
      dp.releaseTx();
      for (let i = 0; i < batch; i++) dp.allocSlot();
    });
    runOnly.set(batch, ns / batch);
    dp.run(0);
  }
  for (const batch of [1, 32, 256]) {
    const v = runOnly.get(batch)!;
    rows.push({
      work: `vector of ${batch}: run + recycle only, wire`, unit: 'ns/frame', netwasm: v,
      baseline: batch === 1 ? '-' : 'batch 1', baselineValue: batch === 1 ? null : runOnly.get(1)!,
      ratio: batch === 1 ? null : runOnly.get(1)! / v, target: '', met: null,
    });
  }
  const one = perFrame.get(1)!;
  for (const batch of [1, 32, 256]) {
    const v = perFrame.get(batch)!;
    rows.push({
      work: `vector of ${batch} (push + run + release), wire`, unit: 'ns/frame', netwasm: v,
      baseline: batch === 1 ? '-' : 'batch 1', baselineValue: batch === 1 ? null : one,
      ratio: batch === 1 ? null : one / v, target: '', met: null,
    });
  }
  return rows;
}
