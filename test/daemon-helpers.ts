// Helpers of the netwasmd tests (test/daemon*.test.ts): the daemon as a child
// process, traffic generators in python3 (no ping binary on the machine), and
// "containers" as network namespaces on veth pairs. No uvu suites here.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { control } from '../src/daemon/client.ts';
import { NetnsSet, run } from './helpers/netns.ts';

const IS_DENO = typeof (globalThis as { Deno?: unknown }).Deno !== 'undefined';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export { py } from './helpers/py.ts';
import { py } from './helpers/py.ts';

/** A child process (in namespace `ns` if given) that does not block the event loop. */
export function spawnIn(ns: string | undefined, argv: string[], timeoutMs = 30000): { done: Promise<string>; started: Promise<void>; kill: () => void } {
  const cmd = ns ? ['ip', 'netns', 'exec', ns, ...argv] : argv;
  const p = spawn(cmd[0]!, cmd.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let onStart: () => void = () => {};
  const started = new Promise<void>((r) => (onStart = r));
  p.stdout.on('data', (d: Buffer) => {
    out += d;
    if (out.includes('listening')) onStart();
  });
  p.stderr.on('data', (d: Buffer) => (err += d));
  const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
  const done = new Promise<string>((res, rej) => {
    p.on('close', (code) => {
      clearTimeout(timer);
      onStart();
      if (code === 0) res(out.replace('listening\n', '').trim());
      else rej(new Error(`${cmd.join(' ')} exited ${code}: ${err.trim() || out.trim()}`));
    });
  });
  return { done, started, kill: () => void (p.exitCode === null && p.kill('SIGKILL')) };
}

/** ICMP echo requests from `ns` to `dst`; the number of replies. */
export async function ping(ns: string, dst: string, count = 3): Promise<number> {
  return Number(await spawnIn(ns, ['python3', py('ping.py'), dst, String(count)]).done);
}

/** A TCP transfer of `mb` MiB from ns `from` to `addr` in ns `to`; both ends' "bytes sha256". */
export async function transfer(from: string, to: string, addr: string, mb: number, port = 5201): Promise<{ sent: string; got: string }> {
  const srv = spawnIn(to, ['python3', py('server.py'), addr, String(port)]);
  const got = srv.done;
  got.catch(() => {}); // reported below, once the client is done
  await srv.started;
  const sent = await spawnIn(from, ['python3', py('client.py'), addr, String(port), String(mb)]).done;
  return { sent, got: await got };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function until(what: string, ok: () => boolean | Promise<boolean>, ms = 8000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** A veth end for netwasm in namespace `ns` (or here): up, no IPv6, no address, no master. */
export function bareEnd(name: string, ns?: string): void {
  const sysctl = ['-qw', `net.ipv6.conf.${name}.disable_ipv6=1`];
  if (ns) run('ip', ['netns', 'exec', ns, 'sysctl', ...sysctl]);
  else run('sysctl', sysctl);
  run('ip', [...(ns ? ['-n', ns] : []), 'link', 'set', name, 'up']);
}

/**
 * Container namespace `ns` with eth0 at `cidr`, whose veth peer `end` stays in
 * namespace `hostNs` (or here) for netwasmd.
 */
export function container(set: NetnsSet, ns: string, end: string, cidr: string, opts: { mac?: string; hostNs?: string; gw?: string } = {}): void {
  set.addVethPair({ name: end, ...(opts.hostNs ? { ns: opts.hostNs } : {}) }, { ns, name: 'eth0', ...(opts.mac ? { mac: opts.mac } : {}) });
  set.exec(ns, `sysctl -qw net.ipv6.conf.eth0.disable_ipv6=1; ip addr add ${cidr} dev eth0 && ip link set eth0 up${opts.gw ? ` && ip route add default via ${opts.gw}` : ''}`);
  bareEnd(end, opts.hostNs);
}

/** A running netwasmd child process. */
export class Daemon {
  readonly proc: ChildProcess;
  readonly socket: string;
  private out = '';
  readonly exited: Promise<number | null>;
  exitCode: number | null | undefined = undefined;

  private constructor(proc: ChildProcess, socket: string) {
    this.proc = proc;
    this.socket = socket;
    proc.stdout!.on('data', (d: Buffer) => (this.out += d));
    proc.stderr!.on('data', (d: Buffer) => (this.out += d));
    this.exited = new Promise((res) => proc.on('exit', (code, sig) => {
      // Deno's child_process reports a child that handled the signal it was
      // sent and then exited as killed by it (code null): netwasmd prints
      // "stopped" right before exit(0), so that tells it there.
      if (code === null && sig === 'SIGTERM' && IS_DENO && /netwasmd: stopped\n$/.test(this.out)) code = 0;
      this.exitCode = code ?? (sig ? -1 : null);
      res(this.exitCode);
    }));
  }

  /**
   * Starts `netwasmd ARGS... --socket SOCKET` from the sources (node + tsx),
   * in namespace `ns` if given. With `ready` (default), waits for the ready
   * line and throws with the log if the daemon exits first.
   */
  static async start(args: string[], o: { socket: string; ns?: string; ready?: boolean } ): Promise<Daemon> {
    const argv = ['node', '--import', 'tsx', join(ROOT, 'src/daemon/main.ts'), ...args, '--socket', o.socket];
    const cmd = o.ns ? ['ip', 'netns', 'exec', o.ns, ...argv] : argv;
    const env = { ...process.env };
    delete env['NETWASM_SOCKET'];
    const d = new Daemon(spawn(cmd[0]!, cmd.slice(1), { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env }), o.socket);
    if (o.ready === false) return d;
    const end = Date.now() + 20000;
    while (!d.out.includes('netwasmd: ready')) {
      if (d.exitCode !== undefined) throw new Error(`netwasmd exited ${d.exitCode}:\n${d.out}`);
      if (Date.now() > end) {
        d.kill();
        throw new Error(`netwasmd did not get ready in 20 s:\n${d.out}`);
      }
      await sleep(25);
    }
    return d;
  }

  /** Everything it printed so far. */
  get log(): string {
    return this.out;
  }

  async waitLog(re: RegExp, ms = 8000): Promise<void> {
    await until(`netwasmd to log ${re}\n--- log:\n${this.out}`, () => re.test(this.out), ms);
  }

  /** One control request. */
  ctl(cmd: string, args?: Record<string, unknown>): Promise<unknown> {
    return control(cmd, args, { socket: this.socket, timeoutMs: 10000 });
  }

  /**
   * Sends `sig` to the daemon (`ip netns exec` execs it: the pid is the
   * daemon's). By pid: Deno's ChildProcess.kill() sends only one signal per child.
   */
  signal(sig: NodeJS.Signals): void {
    if (this.exitCode !== undefined || this.proc.pid === undefined) return;
    try {
      process.kill(this.proc.pid, sig);
    } catch {
      // already gone
    }
  }

  /** Sends SIGTERM and waits for the exit code. */
  async stop(ms = 10000): Promise<number | null> {
    if (this.exitCode !== undefined) return this.exitCode;
    this.signal('SIGTERM');
    const t = setTimeout(() => this.kill(), ms);
    const code = await this.exited;
    clearTimeout(t);
    return code;
  }

  /** SIGKILL, if still running (cleanup in finally blocks). */
  kill(): void {
    this.signal('SIGKILL');
  }
}

/** A fresh directory for sockets and scenario files; removed on process exit. */
export function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  if (tempDirs.length === 0) process.on('exit', () => tempDirs.forEach((x) => rmSync(x, { recursive: true, force: true })));
  tempDirs.push(d);
  return d;
}
const tempDirs: string[] = [];
