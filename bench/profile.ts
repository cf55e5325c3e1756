/**
 * `npm run bench:profile -- SUITE [SUITE...]`: runs bench suites under
 * `perf record` (cpu-clock sampling; this machine has no hardware counters)
 * and prints where the time of each side went: netwasm's WASM functions (by
 * name: the run loads build/profile.wasm, the release build plus a name
 * section, same code), the plain TypeScript baseline's functions, the C
 * baseline's functions (perf follows the child processes), the kernel.
 *
 * The profile of a suite is what explains its rows: a row below its target
 * shows here where netwasm spends what the baseline does not. For each suite it
 * writes bench/results/profile-SUITE.txt with the sample table and the
 * annotated hottest instructions of netwasm's two hottest WASM functions.
 *
 * V8 writes a jitdump (--perf-prof) and `perf inject --jit` turns it into
 * symbols, so JIT-compiled WASM and JS are named like native code.
 */
import { spawnSync, execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync, readdirSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { BENCH_DIR, type Row } from './common.ts';

const ROOT = resolve(BENCH_DIR, '..');

/** A side of the comparison a perf sample belongs to. */
type Side = 'netwasm (wasm)' | 'netwasm (JS host code)' | 'TypeScript baseline' | 'C baseline' | 'kernel' | 'V8/runtime' | 'other';

interface Sample { pct: number; comm: string; dso: string; sym: string }

/** Which side a sample line belongs to, from its command, object and symbol. */
function sideOf(s: Sample): Side {
  if (s.dso.includes('kernel')) return 'kernel';
  if (s.comm === 'esbuild') return 'other'; // tsx compiling the TypeScript
  if (s.comm !== 'node' && !s.comm.startsWith('node') && !s.comm.startsWith('V8')) return 'C baseline';
  if (/^JS:(wasm-function|assembly\/|~lib\/)/.test(s.sym)) return 'netwasm (wasm)';
  if (/bench\/ts\//.test(s.sym)) return 'TypeScript baseline';
  if (/\/(src|bench)\//.test(s.sym)) return 'netwasm (JS host code)';
  if (s.dso === 'node' || s.dso.startsWith('libc') || s.dso.startsWith('libstdc')) return 'V8/runtime';
  return 'other';
}

function tidy(sym: string): string {
  return sym
    .replace(/^JS:wasm-function\[(.*?)\]-\d+-(turbofan|liftoff)$/, 'wasm $1 ($2)')
    .replace(/^JS:((assembly|~lib)\/\S+?)-\d+-(turbofan|liftoff)$/, 'wasm $1 ($3)')
    .replace(/^JS:\*?/, '')
    .replace(/file:\/\/\/\S*?\/((src|bench)\/\S+)/, '$1');
}

/** Runs one suite in a child under perf; returns the report text. */
function profileSuite(suite: string): string {
  const dir = join(ROOT, '.tmp', `profile-${suite}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const rec = spawnSync('perf', [
    'record', '-e', 'cpu-clock', '-F', '999', '-k', '1', '-o', 'perf.data', '--',
    process.execPath, '--perf-prof', '--perf-prof-unwinding-info', '--import', 'tsx', join(BENCH_DIR, 'profile.ts'), '--child', suite,
  ], { cwd: dir, env: { ...process.env, NETWASM_WASM: 'profile' }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (rec.status !== 0) throw new Error(`perf record of ${suite} failed (status ${rec.status})`);
  const rows = (rec.stdout.split('\n').find((l) => l.startsWith('ROWS ')) ?? 'ROWS []').slice(5);
  execFileSync('perf', ['inject', '--jit', '-i', 'perf.data', '-o', 'perf.jit.data'], { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] });
  const rep = execFileSync('perf', ['report', '-i', 'perf.jit.data', '--sort', 'comm,dso,sym', '--stdio', '--percent-limit', '0.05'], {
    cwd: dir, encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'ignore'],
  });
  const samples: Sample[] = [];
  for (const line of rep.split('\n')) {
    const m = /^\s+([\d.]+)%\s+(\S+)\s+(\S+)\s+\[[.k]\]\s+(.*)$/.exec(line);
    if (m) samples.push({ pct: Number(m[1]), comm: m[2]!, dso: m[3]!, sym: m[4]!.trim() });
  }
  const total = /# Samples: (\S+)/.exec(rep)?.[1] ?? '?';
  // One line per function: V8 may have compiled it more than once.
  const merged = new Map<string, Sample>();
  for (const s of samples) {
    const k = `${s.comm}\0${tidy(s.sym)}`;
    const m = merged.get(k);
    if (m) m.pct += s.pct;
    else merged.set(k, { ...s });
  }
  const bySide = new Map<Side, Sample[]>();
  for (const s of [...merged.values()].sort((a, b) => b.pct - a.pct)) {
    const k = sideOf(s);
    if (!bySide.has(k)) bySide.set(k, []);
    bySide.get(k)!.push(s);
  }
  const out: string[] = [];
  out.push(`# profile of bench/${suite}.bench.ts (perf cpu-clock, ${total} samples, all processes)`, '');
  out.push('rows measured in this (profiled, so slower) run:');
  for (const r of JSON.parse(rows) as Row[]) {
    out.push(`  ${r.work} | ${r.baseline}: netwasm ${r.netwasm.toPrecision(4)} ${r.unit}, baseline ${r.baselineValue?.toPrecision(4) ?? '-'}, ratio ${r.ratio?.toFixed(2) ?? '-'}`);
  }
  out.push('');
  for (const [side, list] of [...bySide].sort((a, b) => sum(b[1]) - sum(a[1]))) {
    out.push(`## ${side}: ${sum(list).toFixed(1)}% of samples`);
    for (const s of list.slice(0, 12)) out.push(`  ${s.pct.toFixed(2).padStart(6)}%  ${s.comm.padEnd(10)} ${tidy(s.sym)}`);
    out.push('');
  }
  // The hottest instructions of netwasm's two hottest WASM functions.
  for (const s of (bySide.get('netwasm (wasm)') ?? []).slice(0, 2)) {
    const ann = spawnSync('perf', ['annotate', '-i', 'perf.jit.data', '--stdio', '-s', s.sym], { cwd: dir, encoding: 'utf8', maxBuffer: 64 << 20 });
    const hot = ann.stdout.split('\n')
      .map((l) => ({ l, p: Number(/^\s*([\d.]+)\s*:/.exec(l)?.[1] ?? 0) }))
      .filter((x) => x.p >= 1)
      .sort((a, b) => b.p - a.p)
      .slice(0, 25)
      .map((x) => '  ' + x.l.trim());
    out.push(`## hottest instructions of ${tidy(s.sym)} (% of the function's samples, >= 1%)`, ...hot, '');
  }
  return out.join('\n');
}

const sum = (l: Sample[]): number => l.reduce((a, s) => a + s.pct, 0);

if (process.argv[2] === '--child') {
  // Inside perf: run one suite and hand its rows to the parent.
  const mod = (await import(join(BENCH_DIR, `${process.argv[3]}.bench.ts`))) as { suite(): Promise<Row[]> };
  const rows = await mod.suite();
  console.log('ROWS ' + JSON.stringify(rows));
} else {
  const suites = process.argv.slice(2);
  const known = readdirSync(BENCH_DIR).filter((f) => f.endsWith('.bench.ts')).map((f) => f.slice(0, -9));
  if (!suites.length || suites.some((s) => !known.includes(s))) {
    console.error(`usage: npm run bench:profile -- SUITE...   (suites: ${known.join(', ')})`);
    process.exit(2);
  }
  try {
    execFileSync('perf', ['--version'], { stdio: 'ignore' });
  } catch {
    console.error('bench:profile needs perf (Debian: linux-perf)');
    process.exit(2);
  }
  // The release build plus a name section (same code: asc --debug adds names only).
  execFileSync(join(ROOT, 'node_modules', '.bin', 'asc'), ['assembly/index.ts', '--target', 'profile'], { cwd: ROOT, stdio: 'inherit' });
  if (!existsSync(join(ROOT, 'build', 'profile.wasm'))) throw new Error('build/profile.wasm was not built');
  mkdirSync(join(BENCH_DIR, 'results'), { recursive: true });
  for (const s of suites) {
    process.stderr.write(`bench:profile: ${s} ...\n`);
    const text = profileSuite(s);
    writeFileSync(join(BENCH_DIR, 'results', `profile-${s}.txt`), text + '\n');
    console.log(text);
  }
}
