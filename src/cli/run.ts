/**
 * `netwasm run`: `docker run --network N [--ip A] ...` adding a container to
 * a scenario file. Networks are joined in the order given (eth0, eth1, ...);
 * `--ip` and `--mac-address` apply to the first one, per-network settings use
 * Docker's advanced syntax `--network name=N,ip=A,mac-address=M`. Docker's
 * client-side checks and wording are kept ("conflicting options: cannot
 * attach both user-defined and non-user-defined network-modes", ...).
 *
 * @example
 * await runCmd(['--network', 'mynet', '--ip', '10.1.0.10', 'web'], io); // prints the container ID
 */
import { parseMac } from '../ipam/mac.ts';
import { ScenarioFile } from '../scenario/edit.ts';
import {
  checkedEdit,
  CliError,
  FILE_FLAG,
  parseFlags,
  runCommand,
  scenarioPath,
  shownName,
  UsageError,
  type CliIO,
} from './network.ts';

const USAGE =
  'netwasm run [-f SCENARIO] [--network NETWORK|name=NETWORK,ip=IP,mac-address=MAC]... [--ip IP] [--mac-address MAC] [--host HOST] [--name NAME] NAME|IMAGE';

interface Attachment {
  target: string;
  ip?: string;
  mac?: string;
}

/** Docker's network attachment option (opts.NetworkOpt.Set): `NAME` or `name=N,ip=A,mac-address=M`. */
export function parseNetworkOpt(value: string): Attachment {
  if (!value.includes('=')) return { target: value };
  const out: Attachment = { target: '' };
  for (const field of value.split(',')) {
    const eq = field.indexOf('=');
    if (eq < 0) throw new CliError(`invalid argument "${value}" for "--network" flag: invalid field ${field}`);
    const key = field.slice(0, eq).toLowerCase();
    const val = field.slice(eq + 1);
    switch (key) {
      case 'name':
        out.target = val;
        break;
      case 'ip':
        out.ip = val;
        break;
      case 'mac-address':
        out.mac = val;
        break;
      case 'alias':
      case 'driver-opt':
      case 'gw-priority':
      case 'link-local-ip':
      case 'ip6':
        throw new CliError(`invalid argument "${value}" for "--network" flag: ${key} is not supported by netwasm`);
      default:
        throw new CliError(`invalid argument "${value}" for "--network" flag: invalid field key ${key}`);
    }
  }
  if (out.target === '') throw new CliError(`invalid argument "${value}" for "--network" flag: network name/id is not specified`);
  return out;
}

function isUserDefined(n: string): boolean {
  return !['bridge', 'host', 'none', 'default'].includes(n) && !n.startsWith('container:');
}

/** `netwasm run ...`; returns the exit code. */
export async function runCmd(argv: string[], io: CliIO): Promise<number> {
  return runCommand(io, USAGE, () => {
    const p = parseFlags(argv, [
      FILE_FLAG,
      { name: 'network', type: 'list', aliases: ['net'] },
      { name: 'ip', type: 'string' },
      { name: 'mac-address', type: 'string' },
      { name: 'host', type: 'string' },
      { name: 'name', type: 'string' },
      { name: 'detach', short: 'd', type: 'bool' },
      { name: 'help', short: 'h', type: 'bool' },
    ]);
    if (p.flags['help']) {
      io.stdout.write(`Usage:  ${USAGE}\n`);
      return 0;
    }
    const name = (p.flags['name'] as string | undefined) ?? p.args[0];
    if (!name) throw new UsageError('"netwasm run" requires a container name (NAME, or --name NAME)');
    const ip = p.flags['ip'] as string | undefined;
    const mac = p.flags['mac-address'] as string | undefined;
    if (mac !== undefined && !parseMac(mac)) throw new CliError(`${mac} is not a valid mac address`);

    let atts = (p.flags['network'] as string[]).map(parseNetworkOpt);
    const explicit = atts.length > 0;
    if (!explicit && (ip !== undefined || mac !== undefined)) atts = [{ target: 'default' }];
    let user = false;
    let nonUser = false;
    const seen = new Set<string>();
    atts.forEach((a, i) => {
      if (isUserDefined(a.target)) user = true;
      else nonUser = true;
      if (i === 0) {
        if (a.ip !== undefined && ip !== undefined) {
          throw new CliError('conflicting options: cannot specify both --ip and per-network IPv4 address');
        }
        if (a.mac !== undefined && mac !== undefined) {
          throw new CliError('conflicting options: cannot specify both --mac-address and per-network MAC address');
        }
        if (ip !== undefined) a.ip = ip;
        if (mac !== undefined) a.mac = mac;
      }
      if (a.mac !== undefined && !parseMac(a.mac)) throw new CliError(`${a.mac} is not a valid mac address`);
      if (seen.has(a.target)) throw new CliError(`network "${a.target}" is specified multiple times`);
      seen.add(a.target);
    });
    if (user && nonUser) {
      throw new CliError('conflicting options: cannot attach both user-defined and non-user-defined network-modes');
    }
    for (const a of atts) {
      if (a.target === 'default') a.target = 'bridge';
      if (a.target === 'host' || a.target.startsWith('container:')) {
        throw new CliError(`network mode ${a.target} is not supported by netwasm`);
      }
    }
    const entry: Record<string, unknown> = { name };
    const host = p.flags['host'] as string | undefined;
    if (host !== undefined) entry['host'] = host;
    if (atts.length > 0) {
      entry['networks'] = atts.map((a) => {
        if (a.ip === undefined && a.mac === undefined) return a.target;
        const settings: Record<string, string> = {};
        if (a.ip !== undefined) settings['ip'] = a.ip;
        if (a.mac !== undefined) settings['mac'] = a.mac;
        return { [a.target]: settings };
      });
    }
    const f = ScenarioFile.open(scenarioPath(p, io), { create: true, name: shownName(p) });
    const s = checkedEdit(f, 'containers', () => f.add('containers', entry));
    f.save();
    io.stdout.write(`${s.topology.sandboxes.find((x) => x.name === name)!.id}\n`);
    return 0;
  });
}
