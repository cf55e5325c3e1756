// VXLAN encap and decap, Mpps for 64-byte and 1400-byte inner frames: the
// WASM node (its real functions: vxlanBenchEncap/vxlanBenchDecap run the
// encap and decap of vxlanEgress/vtepInput over the input vector), beside
// the same algorithm in C (gcc -O2) and in plain TypeScript, in the same run.
import { Dataplane, Vxlan } from '../src/dataplane/index.ts';
import { throughput, buildC, runC, rateRow, type Row } from './common.ts';
import { VxlanTs, TS_FRAMES } from './ts/vxlan.ts';

interface BenchExports {
  vxlanBenchEncap(n: number, iters: number, vxPort: number): number;
  vxlanBenchDecap(n: number, iters: number, inPort: number): number;
}

const N = TS_FRAMES; // 256 frames: one full vector

/** A data plane as in the C and TS baselines: VTEP 192.168.1.1, one peer behind 192.168.1.2, VNI 4096. */
function wasmRig(mode: 'encap' | 'decap', size: number, udpCsum: boolean): { run(iters: number): number } {
  const dp = new Dataplane({ slots: N + 16 });
  const vx = new Vxlan(dp);
  vx.setVtep(0, { ip: '192.168.1.1', mac: '02:00:00:00:00:01' });
  vx.setNeighbor(0, '192.168.1.2', '02:00:00:00:00:02');
  const t = vx.addTunnel({ vni: 4096, underlay: 0, port: 1, xconnect: 2, udpCsum });
  vx.peerAdd(t, { mac: '02:42:0a:00:00:03', vtep: '192.168.1.2' });
  // The very frames the baselines process.
  const src = new VxlanTs(mode, size, udpCsum);
  for (let i = 0; i < N; i++) {
    if (!dp.push(src.frame(i), mode === 'encap' ? 2 : 0)) throw new Error('push refused');
  }
  const ex = dp.exports as unknown as BenchExports;
  const per = mode === 'encap' ? size + 50 : size;
  return {
    run(iters: number): number {
      const acc = mode === 'encap' ? ex.vxlanBenchEncap(N, iters, 1) : ex.vxlanBenchDecap(N, iters, 0);
      if (acc >>> 0 !== (N * iters * per) >>> 0) throw new Error(`wasm ${mode}: frames did not all pass (${acc})`);
      return N * iters;
    },
  };
}

export async function suite(): Promise<Row[]> {
  const bin = buildC('vxlan');
  const rows: Row[] = [];
  const works: Array<{ mode: 'encap' | 'decap'; csum: boolean; name: string }> = [
    { mode: 'encap', csum: false, name: 'vxlan encap (IPv4, UDP checksum 0)' },
    { mode: 'encap', csum: true, name: 'vxlan encap + UDP checksum' },
    { mode: 'decap', csum: false, name: 'vxlan decap (UDP checksum 0)' },
    { mode: 'decap', csum: true, name: 'vxlan decap + UDP checksum check' },
  ];
  for (const w of works) {
    for (const size of [64, 1400]) {
      const work = `${w.name}, ${size} B inner`;
      const iters = w.csum && size > 1000 ? 2 : 16;
      const wasm = wasmRig(w.mode, size, w.csum);
      const wasmMpps = (await throughput(`wasm ${work}`, () => void wasm.run(iters), N * iters, 300)) / 1e6;
      const ts = new VxlanTs(w.mode, size, w.csum);
      const tsMpps = (await throughput(`ts ${work}`, () => {
        if (ts.run(iters) !== N * iters) throw new Error(`ts ${work}: frames did not all pass`);
      }, N * iters, 300)) / 1e6;
      const cMpps = runC(bin, [w.mode, String(size), String(w.csum && size > 1000 ? 2000 : 20000), w.csum ? '1' : '0'], 'mpps', 5);
      rows.push(rateRow(work, 'Mpps', wasmMpps, 'C gcc -O2', cMpps, 0.8));
      rows.push(rateRow(work, 'Mpps', wasmMpps, 'TypeScript', tsMpps, 2));
    }
  }
  return rows;
}
