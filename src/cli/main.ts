/**
 * The `netwasm` command line.
 *
 *   netwasm replay SCENARIO [--in PORT=CAPTURE]... --out DIR [--json] [--expect DIR]
 *   netwasm test SCENARIO...
 *   netwasm network create|ls|inspect|rm [-f SCENARIO] ...
 *   netwasm run [-f SCENARIO] --network N [--ip A] NAME
 *   netwasm service create [-f SCENARIO] ...
 *   netwasm demo                      (what `npm start` runs)
 *   netwasm ps|ports|counters|ctl ...  (a running netwasmd)
 */
import { networkCmd, type CliIO } from './network.ts';
import { runCmd } from './run.ts';
import { serviceCmd } from './service.ts';
import { replayCmd, testCmd } from './replay.ts';
import { demoCmd } from './demo.ts';
import { psCmd, portsCmd, countersCmd, ctlCmd } from './ctl.ts';

export const USAGE = `usage: netwasm COMMAND

Commands:
  replay SCENARIO [--in PORT=CAPTURE]... --out DIR [--json] [--expect DIR]
                       replay captures through the scenario's topology
  test SCENARIO...     run each scenario's replay: section and its expectations
  network create|ls|inspect|rm
                       Docker's network commands, on a scenario file (-f, default ./netwasm.yaml)
  run --network N [--ip A] NAME
                       add a container to a scenario file
  service create ...   add a service to a scenario file
  demo                 replay the bundled talk scenario and print what each port saw

Talking to a running netwasmd (control socket /run/netwasm/netwasmd.sock, or $NETWASM_SOCKET):
  ps [-a] [--json]     containers of the running netwasmd
  ports [--json]       its ports: interface, state, rx/tx
  counters [--all] [--json] [FILTER...]
  ctl info|add-container|rm-container|add-peer|rm-peer|add-backend|rm-backend|bind|unbind|reload
`;

export async function main(argv: string[], io: CliIO = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'replay': return replayCmd(rest, io);
    case 'test': return testCmd(rest, io);
    case 'network': return networkCmd(rest, io);
    case 'run': return runCmd(rest, io);
    case 'service': return serviceCmd(rest, io);
    case 'demo': return demoCmd(rest, io);
    case 'ps': return psCmd(rest, io);
    case 'ports': return portsCmd(rest, io);
    case 'counters': return countersCmd(rest, io);
    case 'ctl': return ctlCmd(rest, io);
    case undefined: case '-h': case '--help': case 'help':
      io.stdout.write(USAGE);
      return cmd === undefined ? 2 : 0;
    default:
      io.stderr.write(`netwasm: unknown command "${cmd}"\n${USAGE}`);
      return 2;
  }
}

const invoked = process.argv[1] ?? '';
if (/(^|[\\/])cli[\\/]main\.(ts|js)$/.test(invoked)) {
  main(process.argv.slice(2)).then((code) => process.exit(code), (e) => {
    process.stderr.write(`netwasm: ${(e as Error).stack ?? e}\n`);
    process.exit(70);
  });
}
