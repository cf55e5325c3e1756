/**
 * `netwasm replay` and `netwasm test`, as ../shared/SCENARIO.md specifies:
 *
 *   netwasm replay SCENARIO [--in PORT=CAPTURE]... --out DIR [--json] [--expect DIR]
 *   netwasm test SCENARIO...
 *
 * Exit codes: 0 success, 1 an output differs from what was expected (or a
 * counter), 2 an error in the scenario or on the command line.
 */
import { isAbsolute, resolve } from 'node:path';
import { existsSync } from 'node:fs';
import { loadScenario } from '../scenario/load.ts';
import { ScenarioError } from '../scenario/errors.ts';
import { resolvePortName } from '../cnm/topology.ts';
import { compileTopology, CompileError } from '../compile/compile.ts';
import { replay, REPLAY_HOST_BYTES, type ReplayResult } from '../replay/replay.ts';
import { compareOutputs, expectDir, formatDifference, type Difference } from '../replay/expect.ts';
import { CaptureError } from '../pcap/index.ts';
import { counterId } from '../dataplane/counters.ts';
import type { CliIO } from './network.ts';

export interface ReplayRun {
  result: ReplayResult;
  differences: Difference[];
  counterMismatches: string[];
}

/** A replay's fixed connection-table hash seed: the same inputs, the same outputs. */
export const REPLAY_CONN_SEED = 0x9e3779b9;

class ArgError extends Error {
  readonly exitCode = 2;
}

function parseReplayArgs(argv: string[]): { scenario: string; ins: Array<[string, string]>; out?: string; json: boolean; expect?: string } {
  const ins: Array<[string, string]> = [];
  let out: string | undefined;
  let expect: string | undefined;
  let json = false;
  let scenario: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (name: string): string => {
      const eq = a.indexOf('=');
      if (a.startsWith('--') && eq > 0) return a.slice(eq + 1);
      const v = argv[++i];
      if (v === undefined) throw new ArgError(`flag needs an argument: ${name}`);
      return v;
    };
    if (a === '--json') json = true;
    else if (a === '--in' || a.startsWith('--in=')) {
      const v = value('--in');
      const eq = v.indexOf('=');
      if (eq <= 0) throw new ArgError(`--in takes PORT=CAPTURE, got "${v}"`);
      ins.push([v.slice(0, eq), v.slice(eq + 1)]);
    } else if (a === '--out' || a.startsWith('--out=')) out = value('--out');
    else if (a === '--expect' || a.startsWith('--expect=')) expect = value('--expect');
    else if (a.startsWith('-')) throw new ArgError(`unknown flag: ${a}`);
    else if (scenario === undefined) scenario = a;
    else throw new ArgError(`unexpected argument "${a}"`);
  }
  if (!scenario) throw new ArgError('usage: netwasm replay SCENARIO [--in PORT=CAPTURE]... --out DIR [--json] [--expect DIR]');
  return { scenario, ins, out, json, expect };
}

interface RunOpts {
  scenario: string;
  ins: Array<[string, string]>;
  out?: string;
  expect?: string;
  cwd: string;
  progress?: (frames: number) => void;
}

/** Loads, compiles and replays a scenario; compares with what it expects. */
export function runScenario(o: RunOpts): ReplayRun {
  const path = isAbsolute(o.scenario) ? o.scenario : resolve(o.cwd, o.scenario);
  const sc = loadScenario(path, o.scenario);
  const topo = sc.topology;
  const inputs = new Map<string, string>();
  for (const i of sc.replay?.inputs ?? []) inputs.set(i.port, i.file);
  for (const [port, file] of o.ins) {
    const p = resolvePortName(topo, port);
    if (!p) throw new ScenarioError(o.scenario, `--in ${port}`, `no such port "${port}"`);
    inputs.set(p, isAbsolute(file) ? file : resolve(o.cwd, file));
  }
  for (const [port, file] of inputs) {
    if (!existsSync(file)) throw new ScenarioError(o.scenario, `replay.inputs.${port}`, `capture not found: ${file}`);
  }
  let compiled: ReturnType<typeof compileTopology>;
  try {
    compiled = compileTopology(topo, { hostBytes: REPLAY_HOST_BYTES, connSeed: REPLAY_CONN_SEED });
  } catch (e) {
    // What the data plane cannot hold (more ports than it has...): exit 2 with the file named, not a stack.
    if (e instanceof CompileError) throw new ScenarioError(o.scenario, '', e.message, e);
    throw e;
  }
  const expected: Record<string, string> = {};
  for (const e of sc.replay?.expect?.ports ?? []) expected[e.port] = e.file;
  if (o.expect) Object.assign(expected, expectDir(isAbsolute(o.expect) ? o.expect : resolve(o.cwd, o.expect), compiled.ports.keys()));
  const collect = Object.keys(expected).length > 0;
  const result = replay(compiled.dp, [...inputs].map(([port, path]) => ({ port, path })), {
    ports: compiled.ports,
    segments: compiled.segments,
    outDir: o.out ? (isAbsolute(o.out) ? o.out : resolve(o.cwd, o.out)) : undefined,
    collect,
    onProgress: o.progress,
  });
  const differences = collect ? compareOutputs(result.output, expected) : [];
  const counterMismatches: string[] = [];
  for (const [name, want] of Object.entries(sc.replay?.expect?.counters ?? {})) {
    if (counterId(name) === undefined) throw new ScenarioError(o.scenario, `replay.expect.counters.${name}`, `unknown counter "${name}"`);
    const got = result.counters[name] ?? 0;
    if (got !== want) counterMismatches.push(`counter ${name}: ${got}, expected ${want}`);
  }
  return { result, differences, counterMismatches };
}

function progressBar(io: CliIO): ((n: number) => void) | undefined {
  const err = io.stderr as { isTTY?: boolean; write(s: string): unknown };
  if (!err.isTTY) return undefined;
  let last = 0;
  return (n: number) => {
    const now = Date.now();
    if (now - last < 100) return;
    last = now;
    err.write(`\r  replaying: ${n.toLocaleString('en')} frames`);
  };
}

function reportError(e: unknown, io: CliIO): number {
  if (e instanceof ScenarioError || e instanceof ArgError) {
    io.stderr.write(`${e.message}\n`);
    return 2;
  }
  if (e instanceof CaptureError) {
    io.stderr.write(`${e.message}\n`);
    return 2;
  }
  throw e;
}

/** `netwasm replay` */
export async function replayCmd(argv: string[], io: CliIO): Promise<number> {
  try {
    const a = parseReplayArgs(argv);
    if (!a.out) throw new ArgError('netwasm replay: --out DIR is required');
    const bar = progressBar(io);
    const run = runScenario({ scenario: a.scenario, ins: a.ins, out: a.out, expect: a.expect, cwd: io.cwd ?? process.cwd(), progress: bar });
    if (bar) io.stderr.write('\r\x1b[K');
    const r = run.result;
    if (a.json) {
      io.stdout.write(JSON.stringify({ ports: r.ports, counters: r.counters, frames: r.frames }) + '\n');
    } else {
      io.stdout.write(formatReport(r));
      io.stdout.write(`output captures in ${a.out}\n`);
    }
    for (const d of run.differences) io.stderr.write(formatDifference(d) + '\n');
    for (const m of run.counterMismatches) io.stderr.write(m + '\n');
    return run.differences.length || run.counterMismatches.length ? 1 : 0;
  } catch (e) {
    return reportError(e, io);
  }
}

/** `netwasm test SCENARIO...`: runs each file's replay section and its expectations. */
export async function testCmd(argv: string[], io: CliIO): Promise<number> {
  if (!argv.length) {
    io.stderr.write('usage: netwasm test SCENARIO...\n');
    return 2;
  }
  let worst = 0;
  let passed = 0;
  let failed = 0;
  for (const file of argv) {
    try {
      const run = runScenario({ scenario: file, ins: [], cwd: io.cwd ?? process.cwd() });
      const bad = run.differences.length + run.counterMismatches.length;
      if (bad) {
        failed++;
        worst = Math.max(worst, 1);
        io.stdout.write(`FAIL ${file}\n`);
        for (const d of run.differences) io.stdout.write(formatDifference(d) + '\n');
        for (const m of run.counterMismatches) io.stdout.write(`  ${m}\n`);
      } else {
        passed++;
        io.stdout.write(`ok   ${file} (${run.result.frames} frames)\n`);
      }
    } catch (e) {
      failed++;
      worst = Math.max(worst, reportError(e, io));
      io.stdout.write(`FAIL ${file}\n`);
    }
  }
  io.stdout.write(`${passed} passed, ${failed} failed\n`);
  return worst;
}

/** A per-port table (rx/tx) and the non-zero counters. */
export function formatReport(r: ReplayResult): string {
  const rows = Object.entries(r.ports).filter(([, s]) => s.rx || s.tx);
  const w = Math.max(4, ...rows.map(([p]) => p.length));
  let s = `${'port'.padEnd(w)}  ${'rx'.padStart(8)}  ${'tx'.padStart(8)}\n`;
  for (const [p, st] of rows) s += `${p.padEnd(w)}  ${String(st.rx).padStart(8)}  ${String(st.tx).padStart(8)}\n`;
  s += `\n${r.frames} frames in\ncounters:\n`;
  for (const [k, v] of Object.entries(r.counters)) s += `  ${k.padEnd(32)} ${v}\n`;
  return s;
}

