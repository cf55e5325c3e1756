/**
 * The `netwasmd` command.
 *
 *   netwasmd SCENARIO [--bind PORT=IFACE]... [--tap PORT=NAME]... [--host NAME]
 *            [--socket PATH] [--slots N]
 *
 * Runs host NAME of the scenario (default: its only host) on this machine's
 * interfaces and serves the control socket (default /run/netwasm/netwasmd.sock,
 * or $NETWASM_SOCKET) until SIGTERM or SIGINT; SIGHUP reloads the scenario.
 * Exit status: 0 after a clean shutdown, 2 for an error in the scenario or on
 * the command line, 1 when it cannot run (socket held by another daemon,
 * no permission to open an interface, ...).
 */
import { isScenarioError } from '../scenario/errors.ts';
import { Netwasmd, NETWASMD_VERSION, type NetwasmdOptions } from './daemon.ts';
import { ControlError } from './protocol.ts';

export const USAGE = `usage: netwasmd SCENARIO [--bind PORT=IFACE]... [--tap PORT=NAME]... [--host NAME] [--socket PATH] [--slots N]

Runs a scenario host's topology on this machine's interfaces.

  --bind PORT=IFACE   put port PORT (CONTAINER/ethN or HOST/IFACE) behind interface IFACE (AF_PACKET)
  --tap PORT=NAME     put port PORT behind a TAP device NAME (created by netwasmd)
  --host NAME         the scenario host to run (default: the only one)
  --socket PATH       control socket (default: $NETWASM_SOCKET or /run/netwasm/netwasmd.sock)
  --slots N           packet buffers of the data plane (default 1024)

Signals: SIGTERM/SIGINT stop it cleanly, SIGHUP reloads the scenario.
`;

class UsageError extends Error {}

/** Parses netwasmd's arguments. */
export function parseArgs(argv: string[]): NetwasmdOptions {
  const bind: Record<string, string> = {};
  const tap: Record<string, string> = {};
  let scenario: string | undefined;
  let host: string | undefined;
  let socket: string | undefined = process.env['NETWASM_SOCKET'] || undefined;
  let slots: number | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const eq = a.indexOf('=');
    const flag = a.startsWith('--') && eq > 0 ? a.slice(0, eq) : a;
    const value = (): string => {
      if (a.startsWith('--') && eq > 0) return a.slice(eq + 1);
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`flag needs an argument: ${flag}`);
      return v;
    };
    const pair = (into: Record<string, string>, what: string): void => {
      const v = value();
      const k = v.indexOf('=');
      if (k <= 0 || k === v.length - 1) throw new UsageError(`${flag} takes PORT=${what}, got "${v}"`);
      const port = v.slice(0, k);
      if (port in bind || port in tap) throw new UsageError(`${flag}: port ${port} is bound twice`);
      into[port] = v.slice(k + 1);
    };
    switch (flag) {
      case '--bind': pair(bind, 'IFACE'); break;
      case '--tap': pair(tap, 'NAME'); break;
      case '--host': host = value(); break;
      case '--socket': socket = value(); break;
      case '--slots': {
        const v = value();
        slots = Number(v);
        if (!/^[0-9]+$/.test(v) || slots < 64 || slots > 65536) throw new UsageError(`--slots must be an integer in 64..65536, got "${v}"`);
        break;
      }
      default:
        if (a.startsWith('-')) throw new UsageError(`unknown flag: ${a}`);
        if (scenario !== undefined) throw new UsageError(`unexpected argument "${a}"`);
        scenario = a;
    }
  }
  if (scenario === undefined) throw new UsageError('a SCENARIO file is required');
  return { scenario, bind, tap, ...(host ? { host } : {}), ...(socket ? { socket } : {}), ...(slots ? { slots } : {}) };
}

/** Runs the daemon until a signal stops it; resolves with the exit status. */
export async function main(argv: string[]): Promise<number> {
  if (argv.includes('-h') || argv.includes('--help')) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (argv.includes('--version')) {
    process.stdout.write(`netwasmd ${NETWASMD_VERSION}\n`);
    return 0;
  }
  let opts: NetwasmdOptions;
  try {
    opts = parseArgs(argv);
  } catch (e) {
    process.stderr.write(`netwasmd: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  const d = new Netwasmd(opts);
  try {
    await d.start();
  } catch (e) {
    if (isScenarioError(e)) {
      process.stderr.write(`${e.message}\n`);
      return 2;
    }
    if (e instanceof Error && e.name === 'CompileError') {
      process.stderr.write(`${opts.scenario}: ${e.message}\n`);
      return 2;
    }
    if (e instanceof ControlError) {
      process.stderr.write(`netwasmd: ${e.message}\n`);
      return 1;
    }
    process.stderr.write(`netwasmd: ${(e as Error).message}\n`);
    return 1;
  }
  process.stderr.write(`netwasmd: ready: host ${d.host}, control socket ${d.socketPath}\n`);
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (sig: string): void => {
      if (stopping) return;
      stopping = true;
      process.stderr.write(`netwasmd: ${sig}: shutting down\n`);
      d.stop().then(() => {
        process.stderr.write('netwasmd: stopped\n');
        resolve(0);
      }, (e) => {
        process.stderr.write(`netwasmd: shutdown: ${(e as Error).message}\n`);
        resolve(1);
      });
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGHUP', () => {
      try {
        const r = d.handle({ cmd: 'reload' }) as { changes: string[] };
        process.stderr.write(`netwasmd: SIGHUP: reloaded (${r.changes.length} change(s))\n`);
      } catch (e) {
        process.stderr.write(`netwasmd: SIGHUP: reload failed: ${(e as Error).message}\n`);
      }
    });
    // A bug must not leave the socket behind: clean up, then fail.
    process.on('uncaughtException', (e) => {
      process.stderr.write(`netwasmd: internal error: ${e.stack ?? e}\n`);
      d.stop().finally(() => process.exit(70));
    });
  });
}

const invoked = process.argv[1] ?? '';
if (/(^|[\\/])daemon[\\/]main\.(ts|js)$/.test(invoked)) {
  main(process.argv.slice(2)).then((code) => process.exit(code), (e) => {
    process.stderr.write(`netwasmd: ${(e as Error).stack ?? e}\n`);
    process.exit(70);
  });
}
