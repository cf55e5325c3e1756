/**
 * 802.1Q tag operations: push, pop and rewrite of the tag in front of the
 * ethertype, moving the frame start within the headroom (assembly/vlan.ts,
 * driven by vlanBenchLoop over the 256 descriptors of an input vector), beside
 * the same operations in C (gcc -O2, bench/c/vlan.c) and plain TypeScript
 * (bench/ts/vlan.ts), measured in turns in the same run.
 *
 *   node --import tsx -e "import('./bench/vlan.bench.ts').then(async m => console.table(await m.suite()))"
 */
import { execFileSync } from 'node:child_process';
import { Dataplane, HEADROOM, DESC_SIZE, D_SLOT, D_OFF, D_LEN, D_AUX, D_HASH } from '../src/dataplane/index.ts';
import { buildC, median, rateRow, type Row } from './common.ts';
import { TsVlan } from './ts/vlan.ts';

const N = 256;
const REPEATS = 5;
const ITERS = 20_000;
const OPS = [
  [0, 'push'],
  [1, 'pop'],
  [2, 'rewrite (TPID + VID, PCP/DEI kept)'],
] as const;

function wasmRig(): (op: number, iters: number) => number {
  const dp = new Dataplane({ slots: N + 8 });
  const ex = dp.exports as unknown as { vlanBenchLoop(op: number, n: number, iters: number, tpid: number, vid: number): number };
  const d0 = dp.regions.desc!.ptr;
  for (let i = 0; i < N; i++) {
    const s = dp.allocSlot();
    const f = dp.slotAddr(s) + HEADROOM;
    for (let k = 0; k < 64; k++) dp.bytes[f + k] = (k * 7 + i) & 0xff;
    dp.bytes.set([0x81, 0x00, 0xa0, 0x0a], f + 12);
    const d = d0 + i * DESC_SIZE;
    dp.view.setUint32(d + D_SLOT, s, true);
    dp.view.setUint32(d + D_OFF, HEADROOM, true);
    dp.view.setUint32(d + D_LEN, 64, true);
    dp.view.setUint32(d + D_AUX, HEADROOM, true); // the offset vlanBenchLoop restores
    dp.view.setUint32(d + D_HASH, 64, true); // and the length
  }
  return (op, iters) => {
    const before = dp.counter('vlan-push') + dp.counter('vlan-pop') + dp.counter('vlan-rewrite');
    ex.vlanBenchLoop(op, N, iters, 0x88a8, 20);
    const done = dp.counter('vlan-push') + dp.counter('vlan-pop') + dp.counter('vlan-rewrite') - before;
    if (done !== BigInt(iters * N)) throw new Error(`netwasm did ${done} tag operations, not ${iters * N}`);
    return iters * N;
  };
}

function runC(bin: string, op: number, iters: number): number {
  const out = execFileSync(bin, [String(op), String(iters)], { encoding: 'utf8' });
  const r = JSON.parse(out) as { mpps: number; ops: number };
  if (r.ops < iters * N) throw new Error(`C baseline did not do the work: ${out}`);
  return r.mpps;
}

function mops(fn: () => number): number {
  const t0 = process.hrtime.bigint();
  const n = fn();
  return n / (Number(process.hrtime.bigint() - t0) / 1e9) / 1e6;
}

export async function suite(): Promise<Row[]> {
  const bin = buildC('vlan');
  const wasm = wasmRig();
  const ts = new TsVlan();
  const out: Row[] = [];
  for (const [op, name] of OPS) {
    wasm(op, ITERS >> 2);
    ts.loop(op, ITERS >> 2, 0x88a8, 20);
    const w: number[] = [], c: number[] = [], t: number[] = [];
    for (let k = 0; k < REPEATS; k++) {
      w.push(mops(() => wasm(op, ITERS)));
      c.push(runC(bin, op, ITERS));
      t.push(mops(() => (ts.loop(op, ITERS, 0x88a8, 20), ITERS * N)));
    }
    const work = `VLAN ${name}`;
    out.push(rateRow(work, 'Mpps', median(w), 'C gcc -O2', median(c), 0.8));
    out.push(rateRow(work, 'Mpps', median(w), 'TypeScript', median(t), 2));
  }
  return out;
}
