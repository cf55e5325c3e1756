/**
 * `netwasm service create`: `docker service create --name NAME --network NET
 * [--replicas N]` adding a service to a scenario file, plus what an IPVS
 * virtual service needs: ports (`--port 80/tcp`), scheduler
 * (`--scheduler mh`, `--sched-flags mh-port` as ipvsadm -b), a static VIP,
 * explicit real servers (`--backend web` or `--backend container=web,weight=2,port=8081`)
 * and the forwarding method (`--forwarding nat|dr`).
 *
 * @example
 * await serviceCmd(['create', '--name', 'nginx', '--network', 'myoverlay', '--replicas', '3', '--port', '80/tcp', 'nginx'], io);
 */
import { parsePortSpec } from '../cnm/service.ts';
import { isNetworkError } from '../cnm/errors.ts';
import { ScenarioFile } from '../scenario/edit.ts';
import {
  checkedEdit,
  CliError,
  FILE_FLAG,
  parseFlags,
  runCommand,
  scenarioPath,
  shownName,
  splitSubcommand,
  UsageError,
  type CliIO,
} from './network.ts';

const USAGE =
  'netwasm service create [-f SCENARIO] --name NAME --network NETWORK [--replicas N | --backend CONTAINER[,weight=W][,port=P]...] [--port PORT/PROTO]... [--scheduler rr|wrr|lc|wlc|sh|mh|maglev] [--sched-flags FLAG,...] [--vip IP] [--forwarding nat|dr] [--host HOST] [IMAGE]';

/** `--backend web` or `--backend container=web,weight=2,port=8081`. */
export function parseBackendOpt(value: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  value.split(',').forEach((field, i) => {
    const eq = field.indexOf('=');
    if (eq < 0) {
      if (i !== 0) throw new CliError(`invalid argument "${value}" for "--backend" flag: invalid field ${field}`);
      out['container'] = field;
      return;
    }
    const key = field.slice(0, eq);
    const val = field.slice(eq + 1);
    if (key === 'container') out['container'] = val;
    else if (key === 'weight' || key === 'port') {
      if (!/^[0-9]+$/.test(val)) throw new CliError(`invalid argument "${value}" for "--backend" flag: ${key} must be a number`);
      out[key] = Number(val);
    } else throw new CliError(`invalid argument "${value}" for "--backend" flag: invalid field key ${key}`);
  });
  if (!out['container']) throw new CliError(`invalid argument "${value}" for "--backend" flag: container is not specified`);
  return out;
}

/** `netwasm service SUBCOMMAND ...`; returns the exit code. */
export async function serviceCmd(argv: string[], io: CliIO): Promise<number> {
  const { sub, rest } = splitSubcommand(argv);
  if (sub === 'create') return serviceCreate(rest, io);
  if (sub === undefined || sub === 'help' || sub === '--help' || sub === '-h') {
    io.stdout.write(`Usage:  ${USAGE}\n`);
    return sub === undefined ? 2 : 0;
  }
  io.stderr.write(`Error: unknown command "${sub}" for "netwasm service"\n\nUsage:  ${USAGE}\n`);
  return 2;
}

/** `netwasm service create ...`; prints the service ID. */
export async function serviceCreate(argv: string[], io: CliIO): Promise<number> {
  return runCommand(io, USAGE, () => {
    const p = parseFlags(argv, [
      FILE_FLAG,
      { name: 'name', type: 'string' },
      { name: 'network', type: 'string' },
      { name: 'replicas', type: 'string' },
      { name: 'port', type: 'list' },
      { name: 'scheduler', type: 'string' },
      { name: 'sched-flags', type: 'list' },
      { name: 'vip', type: 'string' },
      { name: 'backend', type: 'list' },
      { name: 'forwarding', type: 'string' },
      { name: 'host', type: 'string' },
      { name: 'detach', short: 'd', type: 'bool' },
      { name: 'help', short: 'h', type: 'bool' },
    ]);
    if (p.flags['help']) {
      io.stdout.write(`Usage:  ${USAGE}\n`);
      return 0;
    }
    const name = p.flags['name'] as string | undefined;
    if (!name) throw new UsageError('"netwasm service create" requires --name NAME');
    const network = p.flags['network'] as string | undefined;
    if (!network) throw new UsageError('"netwasm service create" requires --network NETWORK');
    const entry: Record<string, unknown> = { name, network };
    const backends = (p.flags['backend'] as string[]).map(parseBackendOpt);
    const replicas = p.flags['replicas'] as string | undefined;
    if (replicas !== undefined) {
      if (!/^[0-9]+$/.test(replicas)) throw new CliError(`invalid argument "${replicas}" for "--replicas" flag: invalid syntax`);
      if (backends.length > 0) throw new CliError('conflicting options: cannot specify both --replicas and --backend');
      entry['replicas'] = Number(replicas);
    }
    const ports = (p.flags['port'] as string[])
      .flatMap((s) => s.split(','))
      .map((s) => {
        try {
          const ps = parsePortSpec(s);
          return `${ps.port}/${ps.protocol}`;
        } catch (e) {
          throw isNetworkError(e) ? new CliError(e.message) : e;
        }
      });
    entry['ports'] = ports;
    const sched = p.flags['scheduler'] as string | undefined;
    if (sched !== undefined) entry['scheduler'] = sched;
    const flags = (p.flags['sched-flags'] as string[]).flatMap((s) => s.split(','));
    if (flags.length > 0) entry['flags'] = flags;
    const vip = p.flags['vip'] as string | undefined;
    if (vip !== undefined) entry['vip'] = vip;
    if (backends.length > 0) entry['backends'] = backends;
    const fwd = p.flags['forwarding'] as string | undefined;
    if (fwd !== undefined) entry['forwarding'] = fwd;
    const host = p.flags['host'] as string | undefined;
    if (host !== undefined) entry['host'] = host;

    const f = ScenarioFile.open(scenarioPath(p, io), { create: true, name: shownName(p) });
    const s = checkedEdit(f, 'services', () => f.add('services', entry));
    f.save();
    io.stdout.write(`${s.topology.services.find((x) => x.name === name)!.id}\n`);
    return 0;
  });
}
