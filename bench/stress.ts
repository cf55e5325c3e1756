// The large robustness runs of issue 9 (`npm run stress`): the fuzzer over
// 100,000,000 frames (every node and the whole graph; a roomy pool, a tight
// one, a tight one with control-plane changes between vectors; several seeds), a MAC flood and a SYN flood of 10,000,000 each, and
// the isolation matrix. Prints the figures and writes bench/results/stress.json.
//
//   node --import tsx bench/stress.ts [--frames N] [--macs N] [--syns N] [--seeds a,b,...]
//
// Exits 1 if anything is wrong (a trap, a frame unaccounted, a slot leaked,
// memory that grew, a leak between networks).
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpus, totalmem } from 'node:os';
import { FuzzRunner, macFlood, synFlood, isolationMatrix, rss, type FuzzReport } from '../test/helpers/fuzz.ts';

const args = process.argv.slice(2);
const opt = (name: string, dflt: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const FRAMES = opt('frames', 100_000_000);
const MACS = opt('macs', 10_000_000);
const SYNS = opt('syns', 10_000_000);
const seedArg = args.indexOf('--seeds');
const SEEDS = seedArg >= 0 ? args[seedArg + 1]!.split(',').map(Number) : [1, 2, 3, 4];

const MiB = (n: number): string => `${(n / 2 ** 20).toFixed(1)} MiB`;
const t0 = performance.now();
const problems: string[] = [];

// ---- fuzz -------------------------------------------------------------------------------
console.log(`fuzz: ${FRAMES.toLocaleString('en')} frames over seeds ${SEEDS.join(', ')}: roomy pool, tight pool, tight pool with control-plane churn`);
const runs: Array<{ seed: number; tight: boolean; churn: number; report: Omit<FuzzReport, 'counters'> }> = [];
const counters: Record<string, number> = {};
// Per seed: a roomy pool, a tight pool ending at the end of memory, and a tight pool with the control plane changing tables between vectors.
const CONFIGS = [{ tight: false, churn: 0 }, { tight: true, churn: 0 }, { tight: true, churn: 0.3 }] as const;
const per = Math.ceil(FRAMES / (SEEDS.length * CONFIGS.length));
let fuzzed = 0;
for (const seed of SEEDS) {
  for (const { tight, churn } of CONFIGS) {
    const n = Math.min(per, FRAMES - fuzzed);
    if (n <= 0) break;
    const r = new FuzzRunner({ seed, tight, churn }).run(n);
    fuzzed += r.frames;
    const { counters: c, ...rest } = r;
    for (const [k, v] of Object.entries(c)) counters[k] = (counters[k] ?? 0) + v;
    runs.push({ seed, tight, churn, report: rest });
    console.log(`  seed ${seed} ${tight ? 'tight' : 'roomy'}${churn ? ` churn ${r.churn}` : ''}: ${r.frames.toLocaleString('en')} frames in ${r.seconds.toFixed(1)} s `
      + `(${(r.frames / r.seconds / 1e6).toFixed(2)} M/s): TX ${r.verdicts.tx}, DROP ${r.verdicts.drop}, LOCAL ${r.verdicts.local}; `
      + `traps ${r.traps}, unaccounted ${r.unaccounted}, slot leaks ${r.slotLeaks}, violations ${r.violations}`);
    for (const f of r.failures.slice(0, 5)) console.log(`    ${f}`);
  }
}
const sum = (f: (r: Omit<FuzzReport, 'counters'>) => number): number => runs.reduce((a, x) => a + f(x.report), 0);
const fuzz = {
  frames: fuzzed,
  seconds: sum((r) => r.seconds),
  traps: sum((r) => r.traps),
  unaccounted: sum((r) => r.unaccounted),
  slotLeaks: sum((r) => r.slotLeaks),
  violations: sum((r) => r.violations),
  verdicts: { tx: sum((r) => r.verdicts.tx), drop: sum((r) => r.verdicts.drop), local: sum((r) => r.verdicts.local) },
  txEntries: sum((r) => r.txEntries),
  trapFiles: runs.flatMap((r) => r.report.trapFiles),
  distinctCounters: Object.keys(counters).length,
  runs,
};
if (fuzz.traps) problems.push(`${fuzz.traps} traps (saved: ${fuzz.trapFiles.join(', ')})`);
if (fuzz.unaccounted) problems.push(`${fuzz.unaccounted} frames unaccounted`);
if (fuzz.slotLeaks) problems.push(`${fuzz.slotLeaks} slot leaks`);
if (fuzz.violations) problems.push(`${fuzz.violations} invariant violations`);

// ---- floods -----------------------------------------------------------------------------
console.log(`mac flood: ${MACS.toLocaleString('en')} random source MACs`);
const macLimit = macFlood(MACS, { learnLimit: 4096 });
const macFull = macFlood(MACS, { fdbCapacity: 16384 });
for (const [name, r] of [['learn limit 4096', macLimit], ['FDB of 16384, no limit', macFull]] as const) {
  console.log(`  ${name}: ${r.seconds.toFixed(2)} s, memory ${r.memoryBefore} -> ${r.memoryAfter} bytes, RSS ${MiB(r.rssBefore)} -> ${MiB(r.rssAfter)}, `
    + `learned ${r.learned}, learn-limit ${r.learnLimitHits}, fdb-full ${r.fdbFullHits}, known stations misdelivered ${r.legitMisdelivered} of ${r.legit}`);
  if (r.memoryAfter !== r.memoryBefore) problems.push(`mac flood (${name}): memory grew`);
  if (r.legitMisdelivered) problems.push(`mac flood (${name}): ${r.legitMisdelivered} frames of known stations misdelivered`);
}
if (macLimit.learnLimitHits < MACS - 4096) problems.push('mac flood: the learn limit was not counted');

console.log(`syn flood: ${SYNS.toLocaleString('en')} SYNs from random sources at a VIP (8192 connection entries)`);
const syn = synFlood(SYNS, { connCapacity: 8192 });
console.log(`  ${syn.seconds.toFixed(2)} s (${(syn.syns / syn.seconds / 1e6).toFixed(2)} M SYN/s), memory ${syn.memoryBefore} -> ${syn.memoryAfter} bytes, `
  + `RSS ${MiB(syn.rssBefore)} -> ${MiB(syn.rssAfter)}, live <= ${syn.maxLive}, table-full ${syn.tableFull}, `
  + `${syn.flows} established flows: ${syn.flowMisdelivered} of ${syn.flowPackets} packets misdelivered, recovered ${syn.recovered}`);
if (syn.maxLive > syn.connCapacity) problems.push('syn flood: the connection table grew past its capacity');
if (syn.memoryAfter !== syn.memoryBefore) problems.push('syn flood: memory grew');
if (syn.flowMisdelivered) problems.push(`syn flood: ${syn.flowMisdelivered} packets of established flows misdelivered`);
if (!syn.recovered) problems.push('syn flood: no new connection after the flood');

// ---- isolation ----------------------------------------------------------------------------
const iso = isolationMatrix();
const isolation = { ports: iso.ports, kinds: iso.m.kinds.size, targets: iso.victims, injections: iso.m.injections, outputs: iso.m.outputs, leaks: iso.m.leakCount, firstLeaks: iso.m.leaks };
console.log(`isolation matrix: ${isolation.ports} ports x ${isolation.kinds} frame kinds (${isolation.targets} target stations) = ${isolation.injections} injections, ${isolation.outputs} frames out, ${isolation.leaks} leaks`);
if (isolation.leaks) problems.push(`${isolation.leaks} isolation leaks`);

// ---- summary --------------------------------------------------------------------------------
const seconds = (performance.now() - t0) / 1000;
console.log(`\nframes fuzzed ${fuzz.frames.toLocaleString('en')}, traps ${fuzz.traps}, frames unaccounted ${fuzz.unaccounted}, slot leaks ${fuzz.slotLeaks}; `
  + `isolation leaks ${isolation.leaks}; ${seconds.toFixed(0)} s in all`);
console.log(problems.length ? `PROBLEMS:\n  ${problems.join('\n  ')}` : 'no problems found');

const out = {
  date: new Date().toISOString(),
  machine: { cpus: cpus().length, cpu: cpus()[0]?.model ?? '', memory: totalmem(), node: process.version },
  seconds,
  fuzz: { ...fuzz, counters },
  macFlood: { learnLimit: macLimit, fdbFull: macFull },
  synFlood: syn,
  isolation,
  rssEnd: rss(),
  problems,
};
const file = join(dirname(fileURLToPath(import.meta.url)), 'results', 'stress.json');
mkdirSync(dirname(file), { recursive: true });
writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);
console.log(`written ${file}`);
process.exit(problems.length ? 1 : 0);
