// Shared helpers for the benchmark suites: one row type, medians, and the C
// baselines built with the system gcc in the same run.
import { execFileSync } from 'node:child_process';
import { mkdirSync, statSync, existsSync } from 'node:fs';
import { dirname, join, basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Bench } from 'tinybench';

/** One figure beside one baseline (the shape of bench/results/latest.json). */
export interface Row {
  work: string;
  unit: string;
  netwasm: number;
  baseline: string;
  baselineValue: number | null;
  /** netwasm relative to the baseline, >1 = netwasm better (for a time unit: baseline / netwasm). */
  ratio: number | null;
  target: string;
  met: boolean | null;
}

export const BENCH_DIR = dirname(fileURLToPath(import.meta.url));

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * Runs fn (which processes `perCall` items) under tinybench for at least
 * `time` ms and returns the median throughput in items per second.
 */
export async function throughput(name: string, fn: () => void, perCall: number, time = 400): Promise<number> {
  // Each tinybench sample runs fn `reps` times, so that one sample lasts about
  // 50 µs and the timer's resolution does not quantise the median.
  for (let i = 0; i < 2000; i++) fn(); // warm up before calibrating
  let reps = 1;
  for (;;) {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) fn();
    if (performance.now() - t0 >= 0.05 || reps >= 1 << 24) break;
    reps *= 2;
  }
  const b = new Bench({ time, warmupTime: 100 });
  b.add(name, () => { for (let i = 0; i < reps; i++) fn(); });
  await b.run();
  const t = b.tasks[0]!.result as unknown as { latency?: { p50?: number }; median?: number; p50?: number };
  const ms = t.latency?.p50 ?? t.p50 ?? t.median;
  if (!ms) throw new Error(`tinybench gave no median for ${name}`);
  return (perCall * reps) / (ms / 1000);
}

/** Median ns per call of fn, measured by tinybench. */
export async function nsPerCall(name: string, fn: () => void, time = 400): Promise<number> {
  return 1e9 / (await throughput(name, fn, 1, time));
}

/** Compiles bench/c/NAME.c with gcc -O2 (if stale) and returns the binary path. */
export function buildC(name: string, extra: string[] = []): string {
  const src = join(BENCH_DIR, 'c', `${name}.c`);
  const outDir = join(BENCH_DIR, 'bin');
  mkdirSync(outDir, { recursive: true });
  const bin = join(outDir, basename(name));
  // common.h is every baseline's too: a change to it rebuilds them.
  const newest = Math.max(statSync(src).mtimeMs, statSync(join(BENCH_DIR, 'c', 'common.h')).mtimeMs);
  if (!existsSync(bin) || statSync(bin).mtimeMs < newest) {
    execFileSync('gcc', ['-O2', '-o', bin, src, ...extra], { stdio: 'inherit' });
  }
  return bin;
}

/** Runs a C baseline `repeats` times; each run prints JSON; returns the median of `key`. */
export function runC(bin: string, args: string[], key: string, repeats = 5): number {
  const vals: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const out = execFileSync(bin, args, { encoding: 'utf8' });
    const v = JSON.parse(out)[key];
    if (typeof v !== 'number') throw new Error(`${bin} printed no "${key}": ${out}`);
    vals.push(v);
  }
  return median(vals);
}

/** A row comparing a rate (higher is better) with a baseline rate. */
export function rateRow(work: string, unit: string, netwasm: number, baseline: string, baselineValue: number, minRatio: number): Row {
  const ratio = netwasm / baselineValue;
  return { work, unit, netwasm, baseline, baselineValue, ratio, target: `>= ${minRatio}x`, met: ratio >= minRatio };
}

/** A row comparing a time (lower is better) with a baseline time; ratio = netwasm / baseline. */
export function timeRow(work: string, unit: string, netwasm: number, baseline: string, baselineValue: number, maxRatio: number): Row {
  const ratio = netwasm / baselineValue;
  return { work, unit, netwasm, baseline, baselineValue, ratio, target: `<= ${maxRatio}x time`, met: ratio <= maxRatio };
}
