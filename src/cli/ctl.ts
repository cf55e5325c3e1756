/**
 * `netwasm` commands that talk to a running netwasmd over its control socket
 * (`--socket PATH`, `-H unix://PATH`, or $NETWASM_SOCKET; default
 * /run/netwasm/netwasmd.sock):
 *
 *   netwasm ps [-a] [--json]                   containers (this host's; -a: the whole model)
 *   netwasm ports [--json]                     ports, their interfaces, state and packet counts
 *   netwasm counters [--all] [--json] [FILTER...]   the data plane's named counters
 *   netwasm ctl info
 *   netwasm ctl add-container [--network NET|name=NET,ip=IP,mac-address=MAC]... [--ip IP]
 *                             [--mac-address MAC] [--host HOST] [--bind ethN=IFACE]... [--tap ethN=NAME]... NAME
 *   netwasm ctl rm-container NAME...
 *   netwasm ctl add-peer --network NET --vtep IP --vtep-mac MAC --mac MAC --ip IP
 *   netwasm ctl rm-peer --network NET (--ip IP | --mac MAC)
 *   netwasm ctl add-backend --service SVC [--port N] [--weight N] CONTAINER
 *   netwasm ctl rm-backend --service SVC CONTAINER
 *   netwasm ctl bind [--tap] PORT IFACE
 *   netwasm ctl unbind PORT
 *   netwasm ctl reload
 *
 * The flags follow Docker's (`docker run --network/--ip/--mac-address`,
 * `docker rm NAME...`). Exit status: 0 done, 1 the daemon refused the request
 * (its message is printed as "Error response from daemon: ...") or cannot be
 * reached, 2 a mistake on the command line.
 */
import { parseMac } from '../ipam/mac.ts';
import { control, DaemonUnreachableError } from '../daemon/client.ts';
import { ControlError } from '../daemon/protocol.ts';
import type { PortInfo } from '../daemon/daemon.ts';
import { CliError, parseFlags, UsageError, type CliIO, type FlagDef, type ParsedArgs } from './network.ts';
import { parseNetworkOpt } from './run.ts';

const SOCKET_FLAGS: FlagDef[] = [
  { name: 'socket', type: 'string' },
  { name: 'host-socket', short: 'H', type: 'string' },
  { name: 'help', short: 'h', type: 'bool' },
];

export const CTL_USAGE = `netwasm ctl COMMAND [--socket PATH]

Commands:
  info            Show the daemon's host, scenario, uptime and port count
  add-container   Add a container: [--network NET]... [--ip IP] [--mac-address MAC] [--bind ethN=IFACE]... [--tap ethN=NAME]... NAME
  rm-container    Remove one or more containers: NAME...
  add-peer        Add an overlay peer: --network NET --vtep IP --vtep-mac MAC --mac MAC --ip IP
  rm-peer         Remove an overlay peer: --network NET (--ip IP | --mac MAC)
  add-backend     Add a real server to a service: --service SVC [--port N] [--weight N] CONTAINER
  rm-backend      Remove a real server from a service: --service SVC CONTAINER
  bind            Put a port behind an interface: [--tap] PORT IFACE
  unbind          Release a port's interface: PORT
  reload          Read the scenario file again (changes made with ctl are kept)`;

/** The socket from `--socket PATH` or `-H unix://PATH`. */
function socketOf(p: ParsedArgs): string | undefined {
  const s = p.flags['socket'] as string | undefined;
  const h = p.flags['host-socket'] as string | undefined;
  if (s !== undefined) return s;
  if (h !== undefined) {
    if (!h.startsWith('unix://') && !h.startsWith('/')) throw new UsageError(`-H: netwasmd listens on a Unix socket (unix:///PATH), got "${h}"`);
    return h.replace(/^unix:\/\//, '');
  }
  return undefined;
}

/** Runs a client command: maps daemon, connection and usage errors to exit codes. */
async function clientCommand(io: CliIO, usage: string, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr.write(`Error: ${e.message}\n\nUsage:  ${usage}\n`);
      return 2;
    }
    if (e instanceof CliError) {
      io.stderr.write(`${e.message}\n`);
      return 2;
    }
    if (e instanceof DaemonUnreachableError) {
      io.stderr.write(`${e.message}\n`);
      return 1;
    }
    if (e instanceof ControlError) {
      io.stderr.write(`Error response from daemon: ${e.message}\n`);
      return 1;
    }
    io.stderr.write(`Error: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
}

/** A table with Docker's three-space gaps. */
export function table(head: string[], rows: string[][]): string {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(w[i]!))).join('   ').trimEnd();
  return [line(head), ...rows.map(line)].join('\n') + '\n';
}

interface PsEntry {
  name: string;
  id: string;
  host: string;
  service: string | null;
  networks: { network: string; port: string; ip: string | null; cidr: string | null; mac: string | null; state: string }[];
}

/** `netwasm ps` */
export async function psCmd(argv: string[], io: CliIO): Promise<number> {
  const usage = 'netwasm ps [-a] [--json] [--socket PATH]';
  return clientCommand(io, usage, async () => {
    const p = parseFlags(argv, [...SOCKET_FLAGS, { name: 'all', short: 'a', type: 'bool' }, { name: 'json', type: 'bool' }]);
    if (p.flags['help']) return help(io, usage);
    if (p.args.length) throw new UsageError(`"netwasm ps" accepts no arguments`);
    const r = (await control('ps', p.flags['all'] ? { all: true } : {}, opts(p))) as PsEntry[];
    if (p.flags['json']) {
      io.stdout.write(JSON.stringify(r, null, 2) + '\n');
      return 0;
    }
    const rows = r.map((c) => [
      c.id.slice(0, 12),
      c.name,
      ...(p.flags['all'] ? [c.host] : []),
      c.networks.map((n) => n.network).join(',') || '-',
      c.networks.map((n) => n.ip ?? '-').join(','),
      c.networks.map((n) => `${n.port.slice(n.port.indexOf('/') + 1)}:${n.state}`).join(','),
    ]);
    io.stdout.write(table(['CONTAINER ID', 'NAMES', ...(p.flags['all'] ? ['HOST'] : []), 'NETWORKS', 'IP ADDRESS', 'INTERFACES'], rows));
    return 0;
  });
}

/** `netwasm ports` */
export async function portsCmd(argv: string[], io: CliIO): Promise<number> {
  const usage = 'netwasm ports [--json] [--socket PATH]';
  return clientCommand(io, usage, async () => {
    const p = parseFlags(argv, [...SOCKET_FLAGS, { name: 'json', type: 'bool' }]);
    if (p.flags['help']) return help(io, usage);
    if (p.args.length) throw new UsageError(`"netwasm ports" accepts no arguments`);
    const r = (await control('ports', {}, opts(p))) as PortInfo[];
    if (p.flags['json']) {
      io.stdout.write(JSON.stringify(r, null, 2) + '\n');
      return 0;
    }
    const rows = r.map((x) => [
      x.port,
      String(x.id),
      x.network ?? '-',
      x.binding ? `${x.binding.kind === 'tap' ? 'tap:' : ''}${x.binding.iface}` : '-',
      x.state + (x.reason ? ` (${x.reason})` : ''),
      String(x.rx),
      String(x.tx),
      String(x.rxDropped + x.txDropped),
    ]);
    io.stdout.write(table(['PORT', 'ID', 'NETWORK', 'INTERFACE', 'STATE', 'RX', 'TX', 'DROPPED'], rows));
    return 0;
  });
}

/** `netwasm counters` */
export async function countersCmd(argv: string[], io: CliIO): Promise<number> {
  const usage = 'netwasm counters [--all] [--json] [--socket PATH] [FILTER...]';
  return clientCommand(io, usage, async () => {
    const p = parseFlags(argv, [...SOCKET_FLAGS, { name: 'all', type: 'bool' }, { name: 'json', type: 'bool' }]);
    if (p.flags['help']) return help(io, usage);
    const r = (await control('counters', p.flags['all'] ? { all: true } : {}, opts(p))) as { counters: Record<string, number>; ports: Record<string, { rx: number; tx: number }> };
    const keep = (k: string) => p.args.length === 0 || p.args.some((f) => k.includes(f));
    const counters = Object.fromEntries(Object.entries(r.counters).filter(([k]) => keep(k)));
    if (p.flags['json']) {
      io.stdout.write(JSON.stringify({ ...r, counters }) + '\n');
      return 0;
    }
    io.stdout.write(table(['COUNTER', 'VALUE'], Object.entries(counters).map(([k, v]) => [k, String(v)])));
    return 0;
  });
}

function opts(p: ParsedArgs): { socket?: string } {
  const s = socketOf(p);
  return s ? { socket: s } : {};
}

function help(io: CliIO, usage: string): number {
  io.stdout.write(`Usage:  ${usage}\n`);
  return 0;
}

/** `ethN=VALUE` pairs of --bind / --tap. */
function pairs(list: string[], flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of list) {
    const eq = v.indexOf('=');
    if (eq <= 0 || eq === v.length - 1) throw new UsageError(`--${flag} takes ethN=${flag === 'tap' ? 'NAME' : 'IFACE'}, got "${v}"`);
    out[v.slice(0, eq)] = v.slice(eq + 1);
  }
  return out;
}

function one(p: ParsedArgs, what: string, cmd: string): string {
  if (p.args.length !== 1) throw new UsageError(`"netwasm ctl ${cmd}" requires exactly 1 argument (${what})`);
  return p.args[0]!;
}

function need(p: ParsedArgs, flag: string, cmd: string): string {
  const v = p.flags[flag] as string | undefined;
  if (v === undefined || v === '') throw new UsageError(`"netwasm ctl ${cmd}" requires --${flag}`);
  return v;
}

/** `netwasm ctl SUBCOMMAND ...` */
export async function ctlCmd(argv: string[], io: CliIO): Promise<number> {
  const [sub, ...rest] = argv;
  const usage = CTL_USAGE;
  return clientCommand(io, usage, async () => {
    if (sub === undefined || sub === '-h' || sub === '--help' || sub === 'help') {
      io.stdout.write(`Usage:  ${CTL_USAGE}\n`);
      return sub === undefined ? 2 : 0;
    }
    const flags = (extra: FlagDef[]) => parseFlags(rest, [...SOCKET_FLAGS, ...extra]);
    switch (sub) {
      case 'info': {
        const p = flags([]);
        if (p.flags['help']) return help(io, 'netwasm ctl info');
        const r = (await control('info', {}, opts(p))) as Record<string, unknown>;
        for (const [k, v] of Object.entries(r)) io.stdout.write(`${k}: ${v}\n`);
        return 0;
      }
      case 'add-container': {
        const p = flags([
          { name: 'network', type: 'list', aliases: ['net'] },
          { name: 'ip', type: 'string' },
          { name: 'mac-address', type: 'string' },
          { name: 'host', type: 'string' },
          { name: 'bind', type: 'list' },
          { name: 'tap', type: 'list' },
        ]);
        if (p.flags['help']) return help(io, 'netwasm ctl add-container [--network NET|name=NET,ip=IP,mac-address=MAC]... [--ip IP] [--mac-address MAC] [--host HOST] [--bind ethN=IFACE]... [--tap ethN=NAME]... NAME');
        const name = one(p, 'NAME', sub);
        const atts = (p.flags['network'] as string[]).map(parseNetworkOpt);
        const ip = p.flags['ip'] as string | undefined;
        const mac = p.flags['mac-address'] as string | undefined;
        if ((ip !== undefined || mac !== undefined) && atts.length === 0) atts.push({ target: 'bridge' });
        if (atts[0]) {
          if (ip !== undefined && atts[0].ip !== undefined) throw new CliError('conflicting options: cannot specify both --ip and per-network IPv4 address');
          if (mac !== undefined && atts[0].mac !== undefined) throw new CliError('conflicting options: cannot specify both --mac-address and per-network MAC address');
          if (ip !== undefined) atts[0].ip = ip;
          if (mac !== undefined) atts[0].mac = mac;
        }
        for (const a of atts) if (a.mac !== undefined && !parseMac(a.mac)) throw new CliError(`${a.mac} is not a valid mac address`);
        const args: Record<string, unknown> = {
          name,
          networks: atts.map((a) => ({ network: a.target === 'default' ? 'bridge' : a.target, ...(a.ip ? { ip: a.ip } : {}), ...(a.mac ? { mac: a.mac } : {}) })),
          bind: pairs(p.flags['bind'] as string[], 'bind'),
          tap: pairs(p.flags['tap'] as string[], 'tap'),
        };
        if (p.flags['host']) args['host'] = p.flags['host'];
        const r = (await control('add-container', args, opts(p))) as { id: string };
        io.stdout.write(`${r.id}\n`);
        return 0;
      }
      case 'rm-container': {
        const p = flags([]);
        if (p.flags['help']) return help(io, 'netwasm ctl rm-container NAME...');
        if (p.args.length === 0) throw new UsageError('"netwasm ctl rm-container" requires at least 1 argument (NAME...)');
        let code = 0;
        for (const name of p.args) {
          try {
            await control('rm-container', { name }, opts(p));
            io.stdout.write(`${name}\n`);
          } catch (e) {
            if (!(e instanceof ControlError)) throw e;
            io.stderr.write(`Error response from daemon: ${e.message}\n`);
            code = 1;
          }
        }
        return code;
      }
      case 'add-peer': {
        const p = flags([
          { name: 'network', type: 'string' },
          { name: 'vtep', type: 'string' },
          { name: 'vtep-mac', type: 'string' },
          { name: 'mac', type: 'string' },
          { name: 'ip', type: 'string' },
        ]);
        if (p.flags['help']) return help(io, 'netwasm ctl add-peer --network NET --vtep IP --vtep-mac MAC --mac MAC --ip IP');
        if (p.args.length) throw new UsageError('"netwasm ctl add-peer" accepts no arguments');
        const args = { network: need(p, 'network', sub), vtep: need(p, 'vtep', sub), vtep_mac: need(p, 'vtep-mac', sub), mac: need(p, 'mac', sub), ip: need(p, 'ip', sub) };
        await control('add-peer', args, opts(p));
        io.stdout.write(`${args.ip}\n`);
        return 0;
      }
      case 'rm-peer': {
        const p = flags([
          { name: 'network', type: 'string' },
          { name: 'mac', type: 'string' },
          { name: 'ip', type: 'string' },
        ]);
        if (p.flags['help']) return help(io, 'netwasm ctl rm-peer --network NET (--ip IP | --mac MAC)');
        if (p.args.length) throw new UsageError('"netwasm ctl rm-peer" accepts no arguments');
        if (!p.flags['ip'] && !p.flags['mac']) throw new UsageError('"netwasm ctl rm-peer" requires --ip or --mac');
        const args: Record<string, unknown> = { network: need(p, 'network', sub) };
        if (p.flags['ip']) args['ip'] = p.flags['ip'];
        if (p.flags['mac']) args['mac'] = p.flags['mac'];
        const r = (await control('rm-peer', args, opts(p))) as { ip: string };
        io.stdout.write(`${r.ip}\n`);
        return 0;
      }
      case 'add-backend':
      case 'rm-backend': {
        const add = sub === 'add-backend';
        const p = flags([{ name: 'service', type: 'string' }, ...(add ? [{ name: 'port', type: 'string' } as FlagDef, { name: 'weight', type: 'string' } as FlagDef] : [])]);
        if (p.flags['help']) return help(io, `netwasm ctl ${sub} --service SVC${add ? ' [--port N] [--weight N]' : ''} CONTAINER`);
        const container = one(p, 'CONTAINER', sub);
        const args: Record<string, unknown> = { service: need(p, 'service', sub), container };
        for (const k of ['port', 'weight']) {
          const v = p.flags[k] as string | undefined;
          if (v === undefined) continue;
          if (!/^[0-9]+$/.test(v)) throw new UsageError(`invalid argument "${v}" for "--${k}" flag: not a number`);
          args[k] = Number(v);
        }
        await control(sub, args, opts(p));
        io.stdout.write(`${container}\n`);
        return 0;
      }
      case 'bind': {
        const p = flags([{ name: 'tap', type: 'bool' }]);
        if (p.flags['help']) return help(io, 'netwasm ctl bind [--tap] PORT IFACE');
        if (p.args.length !== 2) throw new UsageError('"netwasm ctl bind" requires exactly 2 arguments (PORT IFACE)');
        const r = (await control('bind', { port: p.args[0], iface: p.args[1], tap: !!p.flags['tap'] }, opts(p))) as PortInfo;
        io.stdout.write(`${r.port} ${r.state}\n`);
        return 0;
      }
      case 'unbind': {
        const p = flags([]);
        if (p.flags['help']) return help(io, 'netwasm ctl unbind PORT');
        const port = one(p, 'PORT', sub);
        await control('unbind', { port }, opts(p));
        io.stdout.write(`${port}\n`);
        return 0;
      }
      case 'reload': {
        const p = flags([]);
        if (p.flags['help']) return help(io, 'netwasm ctl reload');
        if (p.args.length) throw new UsageError('"netwasm ctl reload" accepts no arguments');
        const r = (await control('reload', {}, opts(p))) as { changes: string[]; dropped: { cmd: string; error: string }[] };
        for (const c of r.changes) io.stdout.write(`${c}\n`);
        for (const d of r.dropped) io.stderr.write(`dropped ${d.cmd}: ${d.error}\n`);
        io.stdout.write(`reloaded: ${r.changes.length} change(s)${r.dropped.length ? `, ${r.dropped.length} run-time change(s) no longer apply` : ''}\n`);
        return 0;
      }
      default:
        throw new UsageError(`unknown command "netwasm ctl ${sub}"`);
    }
  });
}
