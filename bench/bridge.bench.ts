/**
 * Bridge forwarding with learning at 1K, 100K and 1M FDB entries: the WASM
 * data plane (runVector over vectors of 256 frames, the real graph + bridge
 * code, driven from inside the module by bridgeBenchLoop so no host call sits
 * in the loop), beside the same algorithm in C (gcc -O2, bench/c/bridge.c) and
 * in plain TypeScript (bench/ts/bridge.ts), measured in the same run on the
 * same traffic (every frame a known unicast between random stations, source
 * looked up and refreshed, destination looked up, forwarded).
 *
 *   node --import tsx -e "import('./bench/bridge.bench.ts').then(async m => console.table(await m.suite()))"
 */
import { execFileSync } from 'node:child_process';
import { Dataplane, Bridges, HEADROOM } from '../src/dataplane/index.ts';
import { buildC, median, rateRow, type Row } from './common.ts';
import { TsBridge, traffic, stationLo, STATION_HI, BENCH_SLOT_SIZE } from './ts/bridge.ts';

const N_PORTS = 8;
const REPEATS = 5;

/** One run of the C baseline: Mpps, after checking it forwarded every frame. */
function runC(bin: string, entries: number, vectors: number): number {
  const out = execFileSync(bin, [String(entries), String(vectors)], { encoding: 'utf8' });
  const r = JSON.parse(out) as { mpps: number; tx: number; forwarded: number };
  if (r.tx !== vectors * 256 || r.forwarded !== vectors * 256) throw new Error(`C baseline did not forward every frame: ${out}`);
  return r.mpps;
}

interface WasmRig {
  run(vectors: number): number;
}

export function wasmRig(entries: number): WasmRig {
  const t = traffic(entries);
  let cap = 16;
  while (cap < entries) cap *= 2;
  const ringSlots = Math.ceil((t.frames * 8) / BENCH_SLOT_SIZE);
  const dp = new Dataplane({ slots: t.frames + ringSlots + 64, slotSize: BENCH_SLOT_SIZE, fdbCapacity: cap, bridges: 16 });
  const br = new Bridges(dp);
  for (let i = 0; i < N_PORTS; i++) br.addPort(i, { bridge: 0 });
  const ex = dp.exports as unknown as {
    fdbAdd(b: number, vlan: number, hi: number, lo: number, port: number, flags: number, now: number): number;
    bridgeBenchLoop(ring: number, count: number, n: number, iters: number, ts: number): number;
  };
  for (let i = 0; i < entries; i++) if (!ex.fdbAdd(0, 0, STATION_HI, stationLo(i), i % N_PORTS, 1, 1000)) throw new Error('FDB full');
  // frames into slots 0..frames-1 (the free stack hands them out in order), then the ring right after them
  const first = dp.allocSlot();
  for (let j = 1; j < t.frames + ringSlots; j++) if (dp.allocSlot() !== first + j) throw new Error('slots are not handed out in order');
  const base = dp.slotAddr(first);
  for (let j = 0; j < t.frames; j++) {
    dp.bytes.set(t.pool.subarray(j * BENCH_SLOT_SIZE + HEADROOM, j * BENCH_SLOT_SIZE + HEADROOM + t.len[j]!), base + j * BENCH_SLOT_SIZE + HEADROOM);
  }
  const ring = dp.slotAddr(first + t.frames);
  for (let j = 0; j < t.frames; j++) {
    dp.view.setUint32(ring + j * 8, first + j, true);
    dp.view.setUint16(ring + j * 8 + 4, t.port[j]!, true);
    dp.view.setUint16(ring + j * 8 + 6, t.len[j]!, true);
  }
  return {
    run(vectors: number): number {
      const before = dp.counter('bridge-forward');
      const tx = ex.bridgeBenchLoop(ring, t.frames, 256, vectors, 1000);
      if (tx !== vectors * 256 || dp.counter('bridge-forward') - before !== BigInt(vectors * 256)) {
        throw new Error(`netwasm did not forward every frame (${tx} of ${vectors * 256}): ${JSON.stringify(dp.counters(true), (_, v) => (typeof v === 'bigint' ? Number(v) : v))}`);
      }
      return tx;
    },
  };
}

/** Mpps of one call of fn(vectors) (vectors x 256 frames). */
function mpps(fn: (vectors: number) => number, vectors: number): number {
  const t0 = process.hrtime.bigint();
  fn(vectors);
  return (vectors * 256) / (Number(process.hrtime.bigint() - t0) / 1e9) / 1e6;
}

export async function suite(): Promise<Row[]> {
  const bin = buildC('bridge');
  const out: Row[] = [];
  for (const [entries, label] of [[1000, '1K'], [100_000, '100K'], [1_000_000, '1M']] as const) {
    const vectors = entries >= 1_000_000 ? 2000 : 4000;
    const wasm = wasmRig(entries);
    const tsb = new TsBridge(entries);
    const ts = (v: number): number => {
      const tx = tsb.run(v);
      if (tx !== v * 256) throw new Error(`TypeScript baseline did not forward every frame (${tx})`);
      return tx;
    };
    wasm.run(vectors >> 2); // warm up (tier-up, caches)
    ts(vectors >> 2);
    // The three take turns, so a busy machine slows them alike; medians of REPEATS.
    const w: number[] = [], c: number[] = [], t: number[] = [];
    for (let k = 0; k < REPEATS; k++) {
      w.push(mpps((v) => wasm.run(v), vectors));
      c.push(runC(bin, entries, vectors));
      t.push(mpps(ts, vectors));
    }
    const work = `bridge forward + learn, ${label} FDB entries`;
    out.push(rateRow(work, 'Mpps', median(w), 'C gcc -O2', median(c), 0.8));
    out.push(rateRow(work, 'Mpps', median(w), 'TypeScript', median(t), 2));
  }
  return out;
}
