/**
 * `netwasm demo` (what `npm start` runs): replays the bundled scenario of the
 * talk "Demystifying Docker Networking" — --network none, docker0 with two
 * containers, a custom bridge, an IPAM underlay with an uplink, macvlan on
 * eth0.10, an overlay between two hosts with a three-replica service — and
 * prints what arrived at and left each port, the counters, and where the
 * output captures are.
 */
import { fileURLToPath } from 'node:url';
import { join, relative } from 'node:path';
import { runScenario, formatReport } from './replay.ts';
import { formatDifference } from '../replay/expect.ts';
import type { CliIO } from './network.ts';

export const DEMO_SCENARIO = fileURLToPath(new URL('../../fixtures/scenarios/talk.yaml', import.meta.url));

export async function demoCmd(argv: string[], io: CliIO): Promise<number> {
  const cwd = io.cwd ?? process.cwd();
  const out = argv[0] ?? join(cwd, 'out', 'demo');
  const scenario = DEMO_SCENARIO.replace(/[\\/]dist[\\/]fixtures[\\/]/, '/fixtures/');
  io.stdout.write(`netwasm demo: replaying ${relative(cwd, scenario) || scenario}\n\n`);
  const run = runScenario({ scenario, ins: [], out, cwd });
  io.stdout.write(formatReport(run.result));
  io.stdout.write(`\noutput captures (one per port that sent something) in ${relative(cwd, out) || out}/:\n`);
  for (const [port, file] of Object.entries(run.result.files)) io.stdout.write(`  ${port.padEnd(16)} ${relative(cwd, file)}\n`);
  for (const d of run.differences) io.stderr.write(formatDifference(d) + '\n');
  for (const m of run.counterMismatches) io.stderr.write(m + '\n');
  return run.differences.length || run.counterMismatches.length ? 1 : 0;
}
