/**
 * `netwasm network create|ls|inspect|rm`: Docker's `docker network` commands,
 * working on a scenario file (`-f/--file SCENARIO`, default `./netwasm.yaml`)
 * instead of a daemon. `create` and `rm` edit the file (keeping comments);
 * every edit is checked by resolving the whole scenario first, so the file is
 * only written when it stays valid. Errors print Docker's wording and exit 2.
 *
 * @example
 * await networkCmd(['create', '-d', 'bridge', '--subnet', '10.1.0.0/24', 'mynet'], { stdout: process.stdout, stderr: process.stderr });
 */
import { isAbsolute, resolve } from 'node:path';
import { isNetworkError } from '../cnm/errors.ts';
import { truncateId } from '../cnm/ids.ts';
import type { Topology, TopologyNetwork } from '../cnm/topology.ts';
import { cliIpamConfig } from '../ipam/validate.ts';
import { ScenarioError } from '../scenario/errors.ts';
import { ScenarioFile } from '../scenario/edit.ts';
import type { ResolvedScenario } from '../scenario/resolve.ts';

/** Where a command writes. `process.stdout`/`process.stderr` fit. */
export interface CliIO {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
  /** Directory relative paths are taken from (default process.cwd()). */
  cwd?: string;
}

/** Default scenario file of the editing commands. */
export const DEFAULT_SCENARIO = 'netwasm.yaml';

/** An error the CLI itself finds (before any "daemon" work): printed as it is, exit 2. */
export class CliError extends Error {
  readonly exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = 'CliError';
  }
}

/** A command-line mistake (unknown flag, missing argument): exit 2 with usage. */
export class UsageError extends Error {
  readonly exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface FlagDef {
  /** Long name without dashes. */
  name: string;
  short?: string;
  /** `bool`: no value; `string`: last one wins; `list`: every occurrence (and comma lists for `csv`). */
  type: 'bool' | 'string' | 'list';
  /** Also accepted as `--alias`. */
  aliases?: string[];
}

export interface ParsedArgs {
  flags: Record<string, string | boolean | string[] | undefined>;
  args: string[];
}

/**
 * pflag-like parsing: `--name value`, `--name=value`, `-n value`, `-nvalue`,
 * bundled short booleans, `--` to end flags; arguments may be interspersed.
 */
export function parseFlags(argv: string[], defs: FlagDef[]): ParsedArgs {
  const flags: ParsedArgs['flags'] = {};
  const args: string[] = [];
  const byLong = new Map<string, FlagDef>();
  const byShort = new Map<string, FlagDef>();
  for (const d of defs) {
    byLong.set(d.name, d);
    for (const a of d.aliases ?? []) byLong.set(a, d);
    if (d.short) byShort.set(d.short, d);
    if (d.type === 'list') flags[d.name] = [];
  }
  const set = (d: FlagDef, v: string | true) => {
    if (d.type === 'list') (flags[d.name] as string[]).push(v as string);
    else flags[d.name] = v;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      args.push(...argv.slice(i + 1));
      break;
    }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = eq < 0 ? a.slice(2) : a.slice(2, eq);
      const d = byLong.get(name);
      if (!d) throw new UsageError(`unknown flag: --${name}`);
      if (d.type === 'bool') {
        if (eq >= 0) {
          const v = a.slice(eq + 1);
          if (!['true', 'false', '1', '0'].includes(v)) throw new UsageError(`invalid argument "${v}" for "--${name}" flag`);
          flags[d.name] = v === 'true' || v === '1';
        } else flags[d.name] = true;
        continue;
      }
      let v: string;
      if (eq >= 0) v = a.slice(eq + 1);
      else {
        if (i + 1 >= argv.length) throw new UsageError(`flag needs an argument: --${name}`);
        v = argv[++i]!;
      }
      set(d, v);
      continue;
    }
    if (a.startsWith('-') && a.length > 1) {
      for (let j = 1; j < a.length; j++) {
        const c = a[j]!;
        const d = byShort.get(c);
        if (!d) throw new UsageError(`unknown shorthand flag: '${c}' in ${a}`);
        if (d.type === 'bool') {
          flags[d.name] = true;
          continue;
        }
        let v = a.slice(j + 1);
        if (v.startsWith('=')) v = v.slice(1);
        if (v === '') {
          if (i + 1 >= argv.length) throw new UsageError(`flag needs an argument: '${c}' in ${a}`);
          v = argv[++i]!;
        }
        set(d, v);
        break;
      }
      continue;
    }
    args.push(a);
  }
  return { flags, args };
}

/** The `-f/--file` flag every editing command takes. */
export const FILE_FLAG: FlagDef = { name: 'file', short: 'f', type: 'string' };

/** The scenario path from the parsed flags, relative to `io.cwd`. */
export function scenarioPath(p: ParsedArgs, io: CliIO): string {
  const f = (p.flags['file'] as string | undefined) ?? DEFAULT_SCENARIO;
  return isAbsolute(f) || !io.cwd ? f : resolve(io.cwd, f);
}

/** The file name to show in messages: as the user typed it. */
export function shownName(p: ParsedArgs): string {
  return (p.flags['file'] as string | undefined) ?? DEFAULT_SCENARIO;
}

/**
 * Runs a command body and maps errors to exit codes: ScenarioError and
 * UsageError -> 2 (message on stderr), anything else -> 1.
 */
export async function runCommand(io: CliIO, usage: string, body: () => number | Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr.write(`Error: ${e.message}\n\nUsage:  ${usage}\n`);
      return 2;
    }
    if (e instanceof CliError) {
      io.stderr.write(`${e.message}\n`);
      return e.exitCode;
    }
    if (e instanceof ScenarioError) {
      io.stderr.write(`Error: ${e.message}\n`);
      return e.exitCode;
    }
    if (isNetworkError(e)) {
      io.stderr.write(`Error response from daemon: ${e.message}\n`);
      return 2;
    }
    io.stderr.write(`Error: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
}

/**
 * Applies an edit: the scenario must be valid before it (errors name the
 * file and key); after it, a ScenarioError from the new entry is reported
 * with Docker's message only, as `docker` would print it.
 */
export function checkedEdit(f: ScenarioFile, list: 'networks' | 'containers' | 'services', edit: () => void): ResolvedScenario {
  if (f.existed) f.resolve();
  edit();
  try {
    return f.resolve();
  } catch (e) {
    if (e instanceof ScenarioError && e.path.startsWith(`${list}[`) && e.cause !== undefined) {
      const idx = Number(/^\w+\[(\d+)\]/.exec(e.path)?.[1]);
      const count = (f.spec()[list] as unknown[]).length;
      if (idx === count - 1) throw e.cause;
    }
    throw e;
  }
}

const NETWORK_USAGE = 'netwasm network COMMAND [-f SCENARIO]\n\nCommands:\n  create   Create a network\n  inspect  Display detailed information on one or more networks\n  ls       List networks\n  rm       Remove one or more networks';

/**
 * Splits `[-f FILE] SUBCOMMAND ARGS...`: a `-f/--file` given before the
 * subcommand is passed on to it.
 */
export function splitSubcommand(argv: string[]): { sub: string | undefined; rest: string[] } {
  const pre: string[] = [];
  let i = 0;
  while (i < argv.length) {
    const a = argv[i]!;
    if (a === '-f' || a === '--file') {
      pre.push(a, ...(i + 1 < argv.length ? [argv[i + 1]!] : []));
      i += 2;
    } else if (a.startsWith('--file=') || (a.startsWith('-f') && a.length > 2 && !a.startsWith('--'))) {
      pre.push(a);
      i++;
    } else break;
  }
  return { sub: argv[i], rest: [...pre, ...argv.slice(i + 1)] };
}

/** `netwasm network [-f SCENARIO] SUBCOMMAND ...`; returns the exit code. */
export async function networkCmd(argv: string[], io: CliIO): Promise<number> {
  const { sub, rest } = splitSubcommand(argv);
  switch (sub) {
    case 'create':
      return networkCreate(rest, io);
    case 'ls':
    case 'list':
      return networkLs(rest, io);
    case 'inspect':
      return networkInspect(rest, io);
    case 'rm':
    case 'remove':
      return networkRm(rest, io);
    case undefined:
    case '--help':
    case '-h':
    case 'help':
      io.stdout.write(`Usage:  ${NETWORK_USAGE}\n`);
      return sub === undefined ? 2 : 0;
    default:
      io.stderr.write(`Error: unknown command "${sub}" for "netwasm network"\n\nUsage:  ${NETWORK_USAGE}\n`);
      return 2;
  }
}

const CREATE_USAGE =
  'netwasm network create [-f SCENARIO] [-d DRIVER] [--subnet CIDR] [--gateway IP] [--ip-range CIDR] [--aux-address NAME=IP]... [-o KEY=VALUE]... [--internal] [--attachable] [--attach HOST/IFACE]... NETWORK';

/** `docker network create` flags: -d, --subnet, --gateway, --aux-address, --ip-range, -o, --internal, --attachable. */
export async function networkCreate(argv: string[], io: CliIO): Promise<number> {
  return runCommand(io, CREATE_USAGE, () => {
    const p = parseFlags(argv, [
      FILE_FLAG,
      { name: 'driver', short: 'd', type: 'string' },
      { name: 'subnet', type: 'list' },
      { name: 'gateway', type: 'list' },
      { name: 'ip-range', type: 'list' },
      { name: 'aux-address', type: 'list' },
      { name: 'opt', short: 'o', type: 'list' },
      { name: 'internal', type: 'bool' },
      { name: 'attachable', type: 'bool' },
      { name: 'attach', type: 'list' },
      { name: 'ipam-driver', type: 'string' },
      { name: 'help', short: 'h', type: 'bool' },
    ]);
    if (p.flags['help']) {
      io.stdout.write(`Usage:  ${CREATE_USAGE}\n`);
      return 0;
    }
    if (p.args.length !== 1) throw new UsageError(`"netwasm network create" requires exactly 1 argument.`);
    const name = p.args[0]!;
    const ipamDriver = p.flags['ipam-driver'] as string | undefined;
    if (ipamDriver !== undefined && ipamDriver !== 'default') {
      throw new UsageError(`only the default IPAM driver is supported, not ${ipamDriver}`);
    }
    const kv = (list: string[], flag: string): [string, string][] =>
      list.flatMap((s) => s.split(',')).map((s) => {
        const eq = s.indexOf('=');
        if (eq <= 0) throw new UsageError(`invalid argument "${s}" for "${flag}" flag: bad format for key=value: ${s}`);
        return [s.slice(0, eq), s.slice(eq + 1)];
      });
    const splitList = (l: unknown) => (l as string[]).flatMap((s) => s.split(','));
    const aux = kv(p.flags['aux-address'] as string[], '--aux-address');
    const opts = (p.flags['opt'] as string[]).map((s): [string, string] => {
      const eq = s.indexOf('=');
      if (eq <= 0) throw new UsageError(`invalid argument "${s}" for "-o, --opt" flag: bad format for key=value: ${s}`);
      return [s.slice(0, eq), s.slice(eq + 1)];
    });
    const subnets = splitList(p.flags['subnet']);
    const ipRanges = splitList(p.flags['ip-range']);
    const gateways = splitList(p.flags['gateway']);
    // The docker CLI's own checks come first, with its wording.
    let configs;
    try {
      configs = cliIpamConfig({ subnets, ipRanges, gateways, auxAddresses: aux });
    } catch (e) {
      throw isNetworkError(e) ? new CliError(e.message) : e;
    }
    if (configs.length > 1) throw new CliError('netwasm networks take one IPv4 subnet');
    const cfg = configs[0];
    const entry: Record<string, unknown> = { name, driver: (p.flags['driver'] as string | undefined) ?? 'bridge' };
    if (cfg) {
      entry['subnet'] = cfg.subnet;
      if (cfg.gateway !== undefined) entry['gateway'] = cfg.gateway;
      if (cfg.ipRange !== undefined) entry['ip_range'] = cfg.ipRange;
      if (Object.keys(cfg.auxAddresses).length > 0) entry['aux_addresses'] = cfg.auxAddresses;
    }
    if (opts.length > 0) entry['options'] = Object.fromEntries(opts);
    if (p.flags['internal']) entry['internal'] = true;
    if (p.flags['attachable']) entry['attachable'] = true;
    const attach = splitList(p.flags['attach']);
    if (attach.length > 0) entry['attach'] = attach;

    const f = ScenarioFile.open(scenarioPath(p, io), { create: true, name: shownName(p) });
    const s = checkedEdit(f, 'networks', () => f.add('networks', entry));
    f.save();
    io.stdout.write(`${s.topology.networks.find((n) => n.name === name)!.id}\n`);
    return 0;
  });
}

/** Docker's display name of a driver and scope. */
function dockerDriver(n: TopologyNetwork): string {
  return n.driver === 'none' ? 'null' : n.driver;
}
function dockerScope(n: TopologyNetwork): string {
  return n.scope === 'global' ? 'swarm' : 'local';
}

/** sortorder.NaturalLess: digit runs compare as numbers. */
export function naturalLess(a: string, b: string): number {
  const re = /(\d+|\D+)/g;
  const xa = a.match(re) ?? [];
  const xb = b.match(re) ?? [];
  for (let i = 0; i < Math.min(xa.length, xb.length); i++) {
    const p = xa[i]!;
    const q = xb[i]!;
    if (p === q) continue;
    const dp = /^\d/.test(p);
    const dq = /^\d/.test(q);
    if (dp && dq) {
      const d = Number(p) - Number(q);
      if (d !== 0) return d;
      return p.length - q.length;
    }
    return p < q ? -1 : 1;
  }
  return xa.length - xb.length;
}

/** Go tabwriter with minwidth 10, tabwidth 1, padding 3 (docker's table format). */
export function formatTable(rows: string[][]): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows
    .map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(Math.max(10, widths[i]! + 3)))).join(''))
    .map((l) => `${l}\n`)
    .join('');
}

function openResolved(p: ParsedArgs, io: CliIO): ResolvedScenario {
  return ScenarioFile.open(scenarioPath(p, io), { name: shownName(p) }).resolve();
}

const LS_USAGE = 'netwasm network ls [-f SCENARIO] [-q] [--no-trunc]';

/** `docker network ls`: NETWORK ID, NAME, DRIVER, SCOPE, sorted by name. */
export async function networkLs(argv: string[], io: CliIO): Promise<number> {
  return runCommand(io, LS_USAGE, () => {
    const p = parseFlags(argv, [FILE_FLAG, { name: 'quiet', short: 'q', type: 'bool' }, { name: 'no-trunc', type: 'bool' }]);
    if (p.args.length > 0) throw new UsageError(`"netwasm network ls" accepts no arguments.`);
    const s = openResolved(p, io);
    const nets = [...s.topology.networks].sort((a, b) => naturalLess(a.name, b.name));
    const id = (n: TopologyNetwork) => (p.flags['no-trunc'] ? n.id : truncateId(n.id));
    if (p.flags['quiet']) {
      io.stdout.write(nets.map((n) => `${id(n)}\n`).join(''));
      return 0;
    }
    const rows = [['NETWORK ID', 'NAME', 'DRIVER', 'SCOPE'], ...nets.map((n) => [id(n), n.name, dockerDriver(n), dockerScope(n)])];
    io.stdout.write(formatTable(rows));
    return 0;
  });
}

/** The `docker network inspect` object of a network. */
export function inspectNetwork(topo: Topology, n: TopologyNetwork): Record<string, unknown> {
  const containers: Record<string, unknown> = {};
  for (const e of topo.endpoints) {
    if (e.network !== n.name) continue;
    const sb = topo.sandboxes.find((x) => x.name === e.container)!;
    containers[sb.id] = {
      Name: e.container,
      EndpointID: e.id,
      MacAddress: e.mac ?? '',
      IPv4Address: e.cidr ?? '',
      IPv6Address: '',
    };
  }
  const config: Record<string, unknown>[] = [];
  if (n.subnet) {
    const c: Record<string, unknown> = { Subnet: n.subnet };
    if (n.ipRange) c['IPRange'] = n.ipRange;
    if (n.gateway) c['Gateway'] = n.gateway;
    if (Object.keys(n.auxAddresses).length > 0) c['AuxiliaryAddresses'] = n.auxAddresses;
    config.push(c);
  }
  const out: Record<string, unknown> = {
    Name: n.name,
    Id: n.id,
    Created: '0001-01-01T00:00:00Z',
    Scope: dockerScope(n),
    Driver: dockerDriver(n),
    EnableIPv4: n.driver !== 'none',
    EnableIPv6: false,
    IPAM: { Driver: 'default', Options: null, Config: config },
    Internal: n.internal,
    Attachable: n.attachable,
    Ingress: false,
    ConfigFrom: { Network: '' },
    ConfigOnly: false,
    Containers: containers,
    Options: n.options,
    Labels: {},
  };
  if (n.driver === 'overlay') {
    out['Peers'] = n.instances
      .map((i) => topo.hosts.find((h) => h.name === i.host)!)
      .map((h) => ({ Name: h.name, IP: h.vtep?.ip ?? '' }));
  }
  return out;
}

const INSPECT_USAGE = 'netwasm network inspect [-f SCENARIO] NETWORK [NETWORK...]';

/** `docker network inspect NAME...`: a JSON array; unknown names fail with "No such network". */
export async function networkInspect(argv: string[], io: CliIO): Promise<number> {
  return runCommand(io, INSPECT_USAGE, () => {
    const p = parseFlags(argv, [FILE_FLAG]);
    if (p.args.length === 0) throw new UsageError(`"netwasm network inspect" requires at least 1 argument.`);
    const s = openResolved(p, io);
    const found: Record<string, unknown>[] = [];
    const missing: string[] = [];
    for (const a of p.args) {
      const n = s.topology.networks.find((x) => x.name === a || x.id === a || (a.length >= 1 && x.id.startsWith(a)));
      if (n) found.push(inspectNetwork(s.topology, n));
      else missing.push(a);
    }
    io.stdout.write(`${JSON.stringify(found, null, 4)}\n`);
    for (const m of missing) io.stderr.write(`Error: No such network: ${m}\n`);
    return missing.length > 0 ? 2 : 0;
  });
}

const RM_USAGE = 'netwasm network rm [-f SCENARIO] NETWORK [NETWORK...]';

/** `docker network rm NAME...`: refuses predefined networks and networks with endpoints. */
export async function networkRm(argv: string[], io: CliIO): Promise<number> {
  return runCommand(io, RM_USAGE, () => {
    const p = parseFlags(argv, [FILE_FLAG, { name: 'force', type: 'bool' }]);
    if (p.args.length === 0) throw new UsageError(`"netwasm network rm" requires at least 1 argument.`);
    const f = ScenarioFile.open(scenarioPath(p, io), { name: shownName(p) });
    const s = f.resolve();
    let status = 0;
    let changed = false;
    for (const a of p.args) {
      try {
        const n = s.controller.networks().find((x) => x.name === a || x.id === a || x.id.startsWith(a));
        if (!n) throw new ScenarioError(shownName(p), '', `network ${a} not found`);
        s.controller.removeNetwork(n.name);
        if (!f.remove('networks', n.name)) throw new ScenarioError(shownName(p), '', `network ${a} not found`);
        changed = true;
        io.stdout.write(`${a}\n`);
      } catch (e) {
        if (isNetworkError(e)) io.stderr.write(`Error response from daemon: ${e.message}\n`);
        else if (e instanceof ScenarioError) io.stderr.write(`Error response from daemon: ${e.detail}\n`);
        else throw e;
        status = 2;
      }
    }
    if (changed) {
      f.resolve();
      f.save();
    }
    return status;
  });
}
