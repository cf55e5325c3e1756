/**
 * Memory: the resident size of a data plane holding 1M FDB entries (learned
 * from 1M frames of 1M stations) and of one holding 1M IPVS connections (1M
 * SYNs from 1M client addresses to a VIP), both driven through the real
 * graph (push + run, vectors of 256). Each is measured in a child process of
 * its own: its RSS before the Dataplane is created and after the tables are
 * full (delta), and the linear memory the Dataplane reserved (memoryBytes; its
 * untouched pages are not resident).
 *
 *   npm run bench -- memory
 *   node --import tsx bench/memory.bench.ts child fdb|conns     (one measurement, JSON on stdout)
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Dataplane, Bridges, MAX_VECTOR } from '../src/dataplane/index.ts';
import { Ipvs } from '../src/ipvs/ipvs.ts';
import type { Row } from './common.ts';

const FILE = fileURLToPath(import.meta.url);
const N = 1_000_000;
const MiB = 1 << 20;

interface Measure {
  rssBefore: number;
  rssAfter: number;
  memoryBytes: number;
  entries: number;
  tableBytes: number;
  secs: number;
}

const rss = (): number => {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().rss;
};

/** 60-byte frame template: dst, src, IPv4/TCP SYN to 10.0.0.100:80 from 10.128.0.0:40000. */
function synTemplate(dstMac: number[], srcMac: number[]): Uint8Array {
  const f = new Uint8Array(60);
  f.set(dstMac, 0);
  f.set(srcMac, 6);
  f[12] = 0x08;
  const ip = 14;
  f[ip] = 0x45;
  f[ip + 3] = 40;
  f[ip + 6] = 0x40;
  f[ip + 8] = 64;
  f[ip + 9] = 6;
  f.set([10, 128, 0, 0], ip + 12);
  f.set([10, 0, 0, 100], ip + 16);
  const t = ip + 20;
  f[t] = 40000 >> 8;
  f[t + 1] = 40000 & 0xff;
  f[t + 3] = 80;
  f[t + 12] = 0x50;
  f[t + 13] = 0x02; // SYN
  f[t + 14] = 0xff;
  f[t + 15] = 0xff;
  return f;
}

function sum16(f: Uint8Array, from: number, to: number, init = 0): number {
  let s = init;
  for (let i = from; i < to; i += 2) s += (f[i]! << 8) | f[i + 1]!;
  return s;
}

function fold(s: number): number {
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

/** Sets the IPv4 source address of the template and both checksums. */
function setSource(f: Uint8Array, saddr: number): void {
  const ip = 14;
  f[ip + 12] = saddr >>> 24;
  f[ip + 13] = (saddr >>> 16) & 0xff;
  f[ip + 14] = (saddr >>> 8) & 0xff;
  f[ip + 15] = saddr & 0xff;
  f[ip + 10] = f[ip + 11] = 0;
  const c = fold(sum16(f, ip, ip + 20));
  f[ip + 10] = c >> 8;
  f[ip + 11] = c & 0xff;
  const t = ip + 20;
  f[t + 16] = f[t + 17] = 0;
  const tc = fold(sum16(f, t, t + 20, sum16(f, ip + 12, ip + 20) + 6 + 20));
  f[t + 16] = tc >> 8;
  f[t + 17] = tc & 0xff;
}

/** 1M stations learned by one bridge (8 ports): each sends one frame to a known station. */
function fillFdb(): Measure {
  const rssBefore = rss();
  const t0 = performance.now();
  const dp = new Dataplane({ slots: 4096, fdbCapacity: 1 << 20, connCapacity: 0 });
  const br = new Bridges(dp);
  br.create(1, {});
  for (let p = 0; p < 8; p++) br.addPort(p, { bridge: 1 });
  br.fdbAdd(1, '02:00:00:ff:ff:ff', { port: 7 });
  const f = synTemplate([2, 0, 0, 0xff, 0xff, 0xff], [2, 0x10, 0, 0, 0, 0]);
  let i = 0;
  while (i < N) {
    for (let k = 0; k < MAX_VECTOR && i < N; k++, i++) {
      f[8] = (i >>> 24) & 0xff;
      f[9] = (i >>> 16) & 0xff;
      f[10] = (i >>> 8) & 0xff;
      f[11] = i & 0xff;
      if (!dp.push(f, i % 7, 1000, 0)) throw new Error('push refused');
    }
    dp.run();
  }
  dp.releaseTx();
  const learned = Number(dp.counter('bridge-learned'));
  if (learned !== N || dp.counter('bridge-forward') !== BigInt(N)) {
    throw new Error(`the bridge learned ${learned} of ${N} stations: ${JSON.stringify(dp.counters(true), (_, v) => (typeof v === 'bigint' ? Number(v) : v))}`);
  }
  const secs = (performance.now() - t0) / 1000;
  const m: Measure = { rssBefore, rssAfter: rss(), memoryBytes: dp.memoryBytes, entries: learned, tableBytes: dp.regions.bridge!.bytes, secs };
  void br;
  return m;
}

/** 1M TCP connections: SYNs from 1M client addresses to one mh service with 16 real servers on a bridge. */
function fillConns(): Measure {
  const rssBefore = rss();
  const t0 = performance.now();
  const dp = new Dataplane({ slots: 4096, connCapacity: 1 << 20, fdbCapacity: 1024, bridges: 4 });
  const br = new Bridges(dp);
  const ipvs = new Ipvs(dp);
  br.create(1, {});
  for (let p = 0; p < 5; p++) br.addPort(p, { bridge: 1 });
  ipvs.setBridge(1, { mac: '02:42:0a:00:00:fe' });
  const svc = { bridge: 1, protocol: 'tcp' as const, address: '10.0.0.100', port: 80 };
  ipvs.addService(svc, { scheduler: 'mh' });
  for (let d = 0; d < 16; d++) {
    const mac = `02:42:0a:00:01:${d.toString(16).padStart(2, '0')}`;
    br.fdbAdd(1, mac, { port: 1 + (d % 4) });
    ipvs.addServer(svc, { address: `10.0.1.${10 + d}`, port: 8080, mac });
  }
  const f = synTemplate([2, 0x42, 10, 0, 0, 0xfe], [2, 0x42, 10, 0x80, 0, 2]);
  let i = 0;
  while (i < N) {
    for (let k = 0; k < MAX_VECTOR && i < N; k++, i++) {
      setSource(f, (0x0a800000 + i) >>> 0);
      if (!dp.push(f, 0, 1000, 0)) throw new Error('push refused');
    }
    dp.run();
  }
  dp.releaseTx();
  const st = ipvs.connectionStats();
  if (st.live !== N || dp.counter('ipvs-new-conns') !== BigInt(N)) {
    throw new Error(`${st.live} live connections of ${N}: ${JSON.stringify(dp.counters(true), (_, v) => (typeof v === 'bigint' ? Number(v) : v))}`);
  }
  const secs = (performance.now() - t0) / 1000;
  return { rssBefore, rssAfter: rss(), memoryBytes: dp.memoryBytes, entries: st.live, tableBytes: st.bytes, secs };
}

function child(kind: string): Measure {
  const out = execFileSync(process.execPath, ['--expose-gc', '--import', 'tsx', FILE, 'child', kind], { encoding: 'utf8', maxBuffer: 1 << 20 });
  return JSON.parse(out.trim().split('\n').pop()!) as Measure;
}

export async function suite(): Promise<Row[]> {
  const rows: Row[] = [];
  for (const [kind, what] of [['fdb', '1M FDB entries (learned from 1M frames)'], ['conns', '1M IPVS connections (1M SYNs to a VIP)']] as const) {
    const m = child(kind);
    process.stderr.write(`bench: memory ${kind}: ${m.entries} entries in ${m.secs.toFixed(2)} s; table ${(m.tableBytes / MiB).toFixed(1)} MiB\n`);
    rows.push({
      work: `memory: data plane with ${what}, resident (process RSS delta)`, unit: 'MiB', netwasm: (m.rssAfter - m.rssBefore) / MiB,
      baseline: '-', baselineValue: null, ratio: null, target: '', met: null,
    });
    rows.push({
      work: `memory: data plane with ${what}, linear memory reserved (of which table ${(m.tableBytes / MiB).toFixed(0)} MiB)`, unit: 'MiB', netwasm: m.memoryBytes / MiB,
      baseline: '-', baselineValue: null, ratio: null, target: '', met: null,
    });
  }
  return rows;
}

if (process.argv[1] === FILE && process.argv[2] === 'child') {
  const m = process.argv[3] === 'fdb' ? fillFdb() : process.argv[3] === 'conns' ? fillConns() : undefined;
  if (!m) throw new Error('child fdb|conns');
  process.stdout.write(JSON.stringify(m) + '\n');
}
