/**
 * netwasmd: a scenario's topology on this machine's interfaces.
 *
 * One daemon runs one host of the scenario (`--host`, default: the only one).
 * The host's part of the topology is compiled into one data plane (other
 * hosts' overlay endpoints stay as VXLAN peers behind their VTEPs); each port
 * named in a binding (`bind:` in the host's section, `--bind PORT=IFACE`,
 * `--tap PORT=NAME`, or `netwasm ctl`) is put behind an AF_PACKET socket on
 * that interface or a TAP device, and a HostLoop runs vectors as frames
 * arrive: receive a batch, one WASM call, send each transmit entry out of its
 * port (floods are already one entry per port).
 *
 * The model (the CNM Controller) is the scenario file plus a journal of the
 * changes made over the control socket. A change is made on the live
 * Controller; the new topology is compared with the one the data plane runs
 * and the difference is written into its tables between vectors
 * (src/compile/apply.ts), so learned stations and IPVS connections stay. What
 * cannot change in place (a network created, a service's definition, an
 * overlay's first container here) compiles a fresh data plane and moves the
 * open interfaces over to it. A failed change leaves everything as it was:
 * the model is rebuilt from the file and the journal without it.
 *
 * `reload` (and SIGHUP) reads the file again and replays the journal on it;
 * journal entries that no longer apply are dropped and reported.
 *
 * Interfaces: one deleted while running is reported (`down`) and its port is
 * marked down in the data plane (frames to it are counted as
 * graph-port-down); when an interface of that name comes back it is opened
 * again (`up`). A binding whose interface does not exist yet waits for it.
 */
import { resolve as resolvePath } from 'node:path';
import type { Controller } from '../cnm/controller.ts';
import { ForbiddenError, InvalidParameterError, NotFoundError } from '../cnm/errors.ts';
import { formatAddr, parseAddr } from '../ipam/ip.ts';
import { resolvePortName, type Topology } from '../cnm/topology.ts';
import { compileTopology, type CompiledTopology } from '../compile/compile.ts';
import { ApplyError, applyTopology, restrictToHost } from '../compile/apply.ts';
import { HostLoop, HostPort, HOST_SLOT_SIZE, type HostEvent } from '../host/index.ts';
import { parseScenario, readScenarioFile } from '../scenario/load.ts';
import { resolveScenario, type ResolvedScenario } from '../scenario/resolve.ts';
import { ScenarioError } from '../scenario/errors.ts';
import type { ScenarioSpec } from '../scenario/spec.ts';
import { Args, ControlError, DEFAULT_SOCKET, type ControlRequest } from './protocol.ts';
import { ControlServer } from './server.ts';

export const NETWASMD_VERSION = '0.1.0';

/** How a port reaches this machine: an AF_PACKET socket on an interface, or a TAP device. */
export interface Binding {
  kind: 'packet' | 'tap';
  iface: string;
}

export interface NetwasmdOptions {
  /** Scenario file path. */
  scenario: string;
  /** How messages name the file (default: the path as given). */
  name?: string;
  /** The scenario host this daemon runs (default: the only one). */
  host?: string;
  /** `--bind PORT=IFACE`. */
  bind?: Record<string, string>;
  /** `--tap PORT=NAME`. */
  tap?: Record<string, string>;
  /** Control socket (default DEFAULT_SOCKET). */
  socket?: string;
  /** Pool slots of the data plane (default 1024, of HOST_SLOT_SIZE bytes each). */
  slots?: number;
  /** How often to look for a missing or deleted interface, ms (default 200). */
  reopenMs?: number;
  /** Where log lines go (default: stderr). */
  log?: (line: string) => void;
}

/** A change made over the control socket, kept to be replayed on reload. */
export interface JournalEntry {
  cmd: string;
  args: Record<string, unknown>;
}

/** What `ports` reports for one port. */
export interface PortInfo {
  port: string;
  id: number;
  type: 'uplink' | 'container';
  network: string | null;
  mac: string | null;
  ip: string | null;
  binding: Binding | null;
  /** up, down (interface gone, waiting for it), waiting (never opened yet), unbound. */
  state: 'up' | 'down' | 'waiting' | 'unbound';
  reason?: string;
  rx: number;
  tx: number;
  rxBytes: number;
  txBytes: number;
  rxDropped: number;
  txDropped: number;
}

interface Bound {
  port: string;
  id: number;
  binding: Binding;
  hp: HostPort | null;
  state: 'up' | 'down' | 'waiting';
  reason?: string;
}

type ChangeOp = (ctl: Controller, args: Record<string, unknown>, d: Netwasmd) => Record<string, unknown>;

export class Netwasmd {
  readonly path: string;
  readonly name: string;
  readonly socketPath: string;
  host = '';
  private readonly opts: NetwasmdOptions;
  private readonly log: (line: string) => void;
  private spec!: ScenarioSpec;
  private sc!: ResolvedScenario;
  /** The whole model's topology, and this host's part (what the data plane runs). */
  private full!: Topology;
  private topo!: Topology;
  private c!: CompiledTopology;
  private loop!: HostLoop;
  private server: ControlServer | null = null;
  private journal: JournalEntry[] = [];
  private readonly cliBinds = new Map<string, Binding>();
  /** Bindings made over the socket (null: explicitly unbound). */
  private readonly ctlBinds = new Map<string, Binding | null>();
  private readonly bound = new Map<string, Bound>();
  private retryTimer: ReturnType<typeof setInterval> | null = null;
  private houseTimer: ReturnType<typeof setInterval> | null = null;
  /** Counters of data planes replaced by a recompile (so totals survive it). */
  private readonly counterBase = new Map<string, number>();
  private readonly started = Date.now();
  private stopping: Promise<void> | null = null;
  /** Compiles since start (1 = only the first). */
  compiles = 0;

  constructor(opts: NetwasmdOptions) {
    this.opts = opts;
    this.path = resolvePath(opts.scenario);
    this.name = opts.name ?? opts.scenario;
    this.socketPath = opts.socket ?? DEFAULT_SOCKET;
    this.log = opts.log ?? ((l) => process.stderr.write(`netwasmd: ${l}\n`));
  }

  // ---- start and stop ----------------------------------------------------------------

  /**
   * Loads and compiles the scenario, checks the bindings, takes the control
   * socket and opens the interfaces. Throws ScenarioError (exit 2) for the
   * scenario or a binding, ControlError('unavailable') if another daemon
   * holds the socket.
   */
  async start(): Promise<void> {
    this.spec = parseScenario(readScenarioFile(this.path, this.name), this.name);
    this.sc = resolveScenario(this.spec, { file: this.name, path: this.path });
    const hosts = this.sc.topology.hosts.map((h) => h.name);
    if (this.opts.host) {
      if (!hosts.includes(this.opts.host)) throw new ScenarioError(this.name, '--host', `no host ${this.opts.host} in the scenario (hosts: ${hosts.join(', ')})`);
      this.host = this.opts.host;
    } else if (hosts.length === 1) {
      this.host = hosts[0]!;
    } else {
      throw new ScenarioError(this.name, 'hosts', `the scenario has ${hosts.length} hosts (${hosts.join(', ')}): choose the one this daemon runs with --host NAME`);
    }
    this.full = this.sc.topology;
    for (const [flag, map, kind] of [['--bind', this.opts.bind, 'packet'], ['--tap', this.opts.tap, 'tap']] as const) {
      for (const [k, iface] of Object.entries(map ?? {})) {
        const p = this.localPortName(k);
        if (!p) throw new ScenarioError(this.name, `${flag} ${k}`, `no such port ${k} on host ${this.host} (ports are CONTAINER/ethN or HOST/IFACE)`);
        if (this.cliBinds.has(p)) throw new ScenarioError(this.name, `${flag} ${k}`, `port ${p} is bound twice on the command line`);
        this.cliBinds.set(p, { kind, iface });
      }
    }
    this.checkDuplicateInterfaces();
    this.topo = restrictToHost(this.full, this.host);
    this.c = this.compile(this.topo);
    this.loop = this.newLoop(this.c);
    this.server = await ControlServer.listen({ path: this.socketPath, handler: (r) => this.handle(r) });
    try {
      this.reconcileBindings();
      const denied = [...this.bound.values()].find((b) => b.state === 'waiting' && /EPERM|permission/i.test(b.reason ?? ''));
      if (denied) throw new ControlError('forbidden', `cannot open ${denied.binding.iface} for ${denied.port}: ${denied.reason} (netwasmd needs root or CAP_NET_RAW)`);
    } catch (e) {
      await this.stop();
      throw e;
    }
    this.retryTimer = setInterval(() => this.retryWaiting(), this.opts.reopenMs ?? 200);
    this.houseTimer = setInterval(() => this.housekeeping(), 1000);
    this.houseTimer.unref();
  }

  /** Stops serving, closes every interface (TAPs it created disappear), removes the socket. */
  stop(): Promise<void> {
    if (this.stopping) return this.stopping;
    this.stopping = (async () => {
      if (this.retryTimer) clearInterval(this.retryTimer);
      if (this.houseTimer) clearInterval(this.houseTimer);
      if (this.server) await this.server.close();
      for (const b of this.bound.values()) this.detach(b);
      this.bound.clear();
      this.loop?.close();
    })();
    return this.stopping;
  }

  // ---- the model ---------------------------------------------------------------------

  /** A port name as given (`c1/eth0`, `host1/eth0`, `eth0`) if it is a port of this host. */
  private localPortName(name: string, topo: Topology = this.full): string | null {
    const p = resolvePortName(topo, name);
    if (!p) return null;
    const ep = topo.endpoints.find((e) => e.port === p);
    const owner = ep ? ep.host : p.slice(0, p.indexOf('/'));
    return owner === this.host ? p : null;
  }

  /** Resolves the file's spec and replays `journal` on it; entries that fail are returned apart. */
  private build(spec: ScenarioSpec, journal: JournalEntry[]): { sc: ResolvedScenario; full: Topology; kept: JournalEntry[]; dropped: { entry: JournalEntry; error: string }[] } {
    const sc = resolveScenario(spec, { file: this.name, path: this.path });
    if (!sc.topology.hosts.some((h) => h.name === this.host)) throw new ScenarioError(this.name, 'hosts', `host ${this.host} is no longer in the scenario`);
    const kept: JournalEntry[] = [];
    const dropped: { entry: JournalEntry; error: string }[] = [];
    for (const entry of journal) {
      try {
        OPS[entry.cmd]!(sc.controller, entry.args, this);
        kept.push(entry);
      } catch (e) {
        dropped.push({ entry, error: (e as Error).message });
      }
    }
    return { sc, full: sc.controller.topology(), kept, dropped };
  }

  /** The model as it was before a failed change: the file and the journal, again. */
  private restoreModel(): void {
    const b = this.build(this.spec, this.journal);
    this.sc = b.sc;
  }

  /** Makes one change through the Controller, then in the data plane. */
  private change(cmd: string, args: Record<string, unknown>): Record<string, unknown> {
    const op = OPS[cmd]!;
    let result: Record<string, unknown>;
    let full: Topology;
    try {
      result = op(this.sc.controller, args, this);
      full = this.sc.controller.topology();
    } catch (e) {
      this.restoreModel();
      throw e;
    }
    let changes: string[];
    try {
      changes = this.commit(full);
    } catch (e) {
      this.restoreModel();
      throw e;
    }
    this.journal.push({ cmd, args });
    return { ...result, changes };
  }

  /**
   * Brings the data plane to `full`'s topology: in place if it can, else by
   * compiling afresh and moving the open interfaces over. Throws (with the
   * data plane as it was) if the new topology cannot be compiled.
   */
  private commit(full: Topology): string[] {
    const to = restrictToHost(full, this.host);
    let changes: string[];
    try {
      changes = applyTopology(this.c, this.topo, to, this.host);
    } catch (e) {
      let fresh: CompiledTopology;
      try {
        fresh = this.compile(to);
      } catch (e2) {
        // An in-place update that failed half-way leaves tables to redo.
        if (!(e instanceof ApplyError)) this.swap(this.compile(this.topo));
        throw e2;
      }
      if (!(e instanceof ApplyError)) this.log(`in-place update failed (${(e as Error).message}); compiled afresh`);
      this.swap(fresh);
      changes = [`data plane compiled afresh: ${(e as Error).message.replace(/^cannot apply in place: /, '')}`];
    }
    this.full = full;
    this.topo = to;
    for (const l of changes) this.log(l);
    this.reconcileBindings();
    return changes;
  }

  private compile(topo: Topology): CompiledTopology {
    this.compiles++;
    return compileTopology(topo, { slots: this.opts.slots ?? 1024, slotSize: HOST_SLOT_SIZE });
  }

  private newLoop(c: CompiledTopology): HostLoop {
    const loop = new HostLoop(c.dp, { reopenMs: this.opts.reopenMs ?? 200 });
    loop.on((ev) => this.onHostEvent(loop, ev));
    return loop;
  }

  /** Replaces the data plane, keeping every open interface (and its queued frames). */
  private swap(fresh: CompiledTopology): void {
    for (const [k, v] of Object.entries(this.c.dp.counters(true))) this.counterBase.set(k, (this.counterBase.get(k) ?? 0) + Number(v));
    const old = this.loop;
    const loop = this.newLoop(fresh);
    for (const b of this.bound.values()) {
      const hp = b.hp ? old.remove(b.id) : undefined;
      const id = fresh.ports.get(b.port);
      if (!hp || id === undefined || hp.closed) {
        hp?.close();
        b.hp = null;
        if (b.state === 'up') b.state = 'waiting';
        continue;
      }
      b.id = id;
      loop.add(id, hp);
    }
    old.close();
    this.c = fresh;
    this.loop = loop;
  }

  // ---- bindings ----------------------------------------------------------------------

  /** The binding port `port` should have now. */
  private desired(port: string): Binding | null {
    if (this.ctlBinds.has(port)) return this.ctlBinds.get(port)!;
    const cli = this.cliBinds.get(port);
    if (cli) return cli;
    const h = this.full.hosts.find((x) => x.name === this.host);
    for (const [k, iface] of Object.entries(h?.bind ?? {})) {
      if (resolvePortName(this.full, k) === port) return { kind: 'packet', iface };
    }
    return null;
  }

  /** This host's ports in the data plane (uplinks, then its containers' interfaces). */
  private localPorts(): Map<string, number> {
    const out = new Map<string, number>();
    for (const [name, id] of this.c.ports) {
      const ep = this.topo.endpoints.find((e) => e.port === name);
      if (ep ? ep.host === this.host : name.startsWith(`${this.host}/`)) out.set(name, id);
    }
    return out;
  }

  /** Refuses two ports on one interface (each would see the other's frames twice). */
  private checkDuplicateInterfaces(extra?: { port: string; binding: Binding }[]): void {
    const seen = new Map<string, string>();
    const ports = new Set([...this.localPortNames(), ...(extra ?? []).map((x) => x.port)]);
    for (const p of ports) {
      const b = extra?.find((x) => x.port === p)?.binding ?? this.desired(p);
      if (!b) continue;
      const k = `${b.kind}:${b.iface}`;
      const other = seen.get(k);
      if (other) throw new ControlError('conflict', `interface ${b.iface} is bound to both ${other} and ${p}`);
      seen.set(k, p);
    }
  }

  /** Port names of this host in the model (also before the first compile). */
  private localPortNames(): string[] {
    const t = this.full;
    return [
      ...(t.hosts.find((h) => h.name === this.host)?.uplinks.map((u) => u.port) ?? []),
      ...t.endpoints.filter((e) => e.host === this.host).map((e) => e.port),
    ];
  }

  /** Opens what should be open, closes what should not. */
  private reconcileBindings(): void {
    const local = this.localPorts();
    for (const b of [...this.bound.values()]) {
      const want = this.desired(b.port);
      const id = local.get(b.port);
      if (!want || id === undefined || want.kind !== b.binding.kind || want.iface !== b.binding.iface || id !== b.id) {
        this.detach(b);
        this.bound.delete(b.port);
        if (want && id !== undefined) continue; // re-attached below
        this.log(`port ${b.port}: ${b.binding.iface} released`);
      }
    }
    for (const [port, id] of local) {
      const want = this.desired(port);
      if (!want || this.bound.has(port)) continue;
      const b: Bound = { port, id, binding: want, hp: null, state: 'waiting' };
      this.bound.set(port, b);
      this.attach(b, true);
    }
  }

  /** Tries to open b's interface; on failure it waits (and is retried). */
  private attach(b: Bound, first: boolean): boolean {
    let hp: HostPort;
    try {
      hp = b.binding.kind === 'tap' ? HostPort.openTap(b.binding.iface) : HostPort.openPacket(b.binding.iface);
    } catch (e) {
      const reason = (e as Error).message.replace(/^netwasm: /, '');
      if (first || reason !== b.reason) this.log(`port ${b.port}: ${b.binding.iface} not available (${reason}); waiting for it`);
      b.reason = reason;
      b.state = 'waiting';
      return false;
    }
    try {
      this.loop.add(b.id, hp);
    } catch (e) {
      hp.close();
      b.reason = (e as Error).message;
      b.state = 'waiting';
      this.log(`port ${b.port}: ${b.reason}`);
      return false;
    }
    b.hp = hp;
    b.state = 'up';
    delete b.reason;
    this.log(`port ${b.port} (id ${b.id}): ${b.binding.kind === 'tap' ? 'TAP' : 'interface'} ${hp.name} up`);
    return true;
  }

  private detach(b: Bound): void {
    if (b.hp) {
      this.loop.remove(b.id);
      b.hp.close();
      b.hp = null;
    }
  }

  private retryWaiting(): void {
    for (const b of this.bound.values()) if (b.state === 'waiting') this.attach(b, false);
  }

  private onHostEvent(loop: HostLoop, ev: HostEvent): void {
    if (loop !== this.loop) return;
    const b = [...this.bound.values()].find((x) => x.id === ev.port && x.hp);
    const name = b ? `${b.port} (${ev.name})` : `${ev.port} (${ev.name})`;
    if (ev.type === 'down') {
      if (b) {
        b.state = 'down';
        b.reason = ev.reason;
      }
      this.log(`port ${name}: down: ${ev.reason}; waiting for the interface to come back`);
    } else if (ev.type === 'up') {
      if (b) {
        b.state = 'up';
        delete b.reason;
      }
      this.log(`port ${name}: up again`);
    } else {
      this.log(`port ${name}: ${ev.error.message}`);
    }
  }

  private housekeeping(): void {
    const now = Math.floor(Date.now() / 1000);
    this.c.bridges.age(now);
    if (this.topo.services.length > 0) this.c.ipvs.sweep(now, 4096);
  }

  // ---- control requests ----------------------------------------------------------------

  /** Answers one control request. */
  handle(req: ControlRequest): unknown {
    if (this.stopping) throw new ControlError('unavailable', 'netwasmd is shutting down');
    const raw = req.args ?? {};
    switch (req.cmd) {
      case 'info':
        new Args(raw, 'info', []);
        return this.info();
      case 'ps': {
        const a = new Args(raw, 'ps', ['all']);
        return this.ps(a.bool('all'));
      }
      case 'ports':
        new Args(raw, 'ports', []);
        return this.ports();
      case 'counters': {
        const a = new Args(raw, 'counters', ['all']);
        return this.counters(a.bool('all'));
      }
      case 'reload':
        new Args(raw, 'reload', []);
        return this.reload();
      case 'bind': {
        const a = new Args(raw, 'bind', ['port', 'iface', 'tap']);
        const port = this.localPortName(a.str('port'));
        if (!port) throw new NotFoundError(`no such port ${a.str('port')} on host ${this.host}`);
        const binding: Binding = { kind: a.bool('tap') ? 'tap' : 'packet', iface: a.str('iface') };
        this.checkIfName(binding.iface, 'iface');
        this.checkDuplicateInterfaces([{ port, binding }]);
        this.ctlBinds.set(port, binding);
        this.reconcileBindings();
        return this.portInfo(port);
      }
      case 'unbind': {
        const a = new Args(raw, 'unbind', ['port']);
        const port = this.localPortName(a.str('port'));
        if (!port) throw new NotFoundError(`no such port ${a.str('port')} on host ${this.host}`);
        this.ctlBinds.set(port, null);
        this.reconcileBindings();
        return this.portInfo(port);
      }
      default: {
        const parse = PARSE[req.cmd];
        if (!parse) {
          throw new ControlError('unknown-command', `unknown command "${req.cmd}" (commands: info, ps, ports, counters, ${Object.keys(PARSE).join(', ')}, bind, unbind, reload)`);
        }
        const args = parse(raw, this);
        const result = this.change(req.cmd, args);
        if (req.cmd === 'add-container') this.afterAddContainer(args);
        if (req.cmd === 'rm-container') for (const p of [...this.ctlBinds.keys()]) if (p.startsWith(`${args['name']}/`)) this.ctlBinds.delete(p);
        if (req.cmd === 'add-container' || req.cmd === 'rm-container') this.reconcileBindings();
        const ports = (result['ports'] as string[] | undefined)?.map((p) => this.portInfo(p)).filter((x) => x !== null);
        return ports ? { ...result, ports } : result;
      }
    }
  }

  checkIfName(name: string, field: string): void {
    if (!/^[A-Za-z0-9_.:@-]{1,15}$/.test(name)) throw new InvalidParameterError(`invalid interface name ${JSON.stringify(name)}`, { field });
  }

  private afterAddContainer(args: Record<string, unknown>): void {
    const name = args['name'] as string;
    for (const [kind, key] of [['packet', 'bind'], ['tap', 'tap']] as const) {
      for (const [ifname, iface] of Object.entries((args[key] ?? {}) as Record<string, string>)) {
        this.ctlBinds.set(`${name}/${ifname}`, { kind, iface });
      }
    }
  }

  /** Bindings of an add-container request, checked against the bindings in use. */
  checkNewBindings(name: string, bind: Record<string, string>, tap: Record<string, string>): void {
    const extra: { port: string; binding: Binding }[] = [];
    for (const [kind, m] of [['packet', bind], ['tap', tap]] as const) {
      for (const [ifname, iface] of Object.entries(m)) {
        if (!/^eth[0-9]+$/.test(ifname)) throw new InvalidParameterError(`${kind === 'tap' ? 'tap' : 'bind'}: ${ifname} is not an interface of a container (eth0, eth1, ...)`, { field: kind === 'tap' ? 'tap' : 'bind' });
        this.checkIfName(iface, kind === 'tap' ? 'tap' : 'bind');
        const port = `${name}/${ifname}`;
        if (extra.some((x) => x.port === port)) throw new InvalidParameterError(`${port} is bound twice`, { field: 'bind' });
        extra.push({ port, binding: { kind, iface } });
      }
    }
    if (extra.length) this.checkDuplicateInterfaces(extra);
  }

  private reload(): Record<string, unknown> {
    const spec = parseScenario(readScenarioFile(this.path, this.name), this.name);
    const b = this.build(spec, this.journal);
    const oldSc = this.sc;
    const oldSpec = this.spec;
    this.sc = b.sc;
    this.spec = spec;
    let changes: string[];
    try {
      changes = this.commit(b.full);
    } catch (e) {
      this.sc = oldSc;
      this.spec = oldSpec;
      throw e;
    }
    this.journal = b.kept;
    for (const d of b.dropped) this.log(`reload: dropped ${d.entry.cmd} ${JSON.stringify(d.entry.args)}: ${d.error}`);
    this.log(`reloaded ${this.name}: ${changes.length} change(s)`);
    return { changes, dropped: b.dropped.map((d) => ({ cmd: d.entry.cmd, args: d.entry.args, error: d.error })) };
  }

  private info(): Record<string, unknown> {
    const ports = [...this.localPorts().keys()];
    return {
      version: NETWASMD_VERSION,
      pid: process.pid,
      host: this.host,
      scenario: this.path,
      socket: this.socketPath,
      uptimeSeconds: Math.round((Date.now() - this.started) / 1000),
      ports: ports.length,
      bound: [...this.bound.values()].filter((b) => b.state === 'up').length,
      vectors: this.loop.vectors,
      compiles: this.compiles,
      journal: this.journal.length,
    };
  }

  private ps(all: boolean): unknown[] {
    return this.full.sandboxes
      .filter((s) => all || s.host === this.host)
      .map((s) => ({
        name: s.name,
        id: s.id,
        host: s.host,
        service: s.service,
        networks: this.full.endpoints
          .filter((e) => e.container === s.name)
          .map((e) => ({ network: e.network, port: e.port, ip: e.ip, cidr: e.cidr, mac: e.mac, state: s.host === this.host ? (this.bound.get(e.port)?.state ?? 'unbound') : 'remote' })),
      }));
  }

  private portInfo(port: string): PortInfo | null {
    const id = this.c.ports.get(port);
    if (id === undefined) return null;
    const ep = this.topo.endpoints.find((e) => e.port === port);
    const up = ep ? undefined : this.topo.hosts[0]?.uplinks.find((u) => u.port === port);
    const b = this.bound.get(port);
    const st = b?.hp ? this.loop.stats(id) : null;
    const info: PortInfo = {
      port,
      id,
      type: ep ? 'container' : 'uplink',
      network: ep ? ep.network : (up?.bridge ?? null),
      mac: ep ? ep.mac : (up?.mac ?? null),
      ip: ep ? ep.cidr : (up?.cidr ?? null),
      binding: b ? b.binding : this.desired(port),
      state: b ? b.state : 'unbound',
      rx: st?.rxPackets ?? 0,
      tx: st?.txPackets ?? 0,
      rxBytes: st?.rxBytes ?? 0,
      txBytes: st?.txBytes ?? 0,
      rxDropped: st ? st.rxTruncated + st.rxBadVnet + st.rxErrors : 0,
      txDropped: st ? st.txNobufs + st.txBusy + st.txDown + st.txTooBig + st.txErrors : 0,
    };
    if (b?.reason) info.reason = b.reason;
    return info;
  }

  private ports(): PortInfo[] {
    return [...this.localPorts().keys()].map((p) => this.portInfo(p)!);
  }

  private counters(all: boolean): Record<string, unknown> {
    const counters: Record<string, number> = {};
    for (const [k, v] of Object.entries(this.c.dp.counters(!all))) counters[k] = Number(v) + (this.counterBase.get(k) ?? 0);
    for (const [k, v] of this.counterBase) if (!(k in counters) && v) counters[k] = v;
    const ports: Record<string, { rx: number; tx: number }> = {};
    for (const p of this.ports()) ports[p.port] = { rx: p.rx, tx: p.tx };
    return { counters, ports, vectors: this.loop.vectors };
  }

  // ---- for tests ---------------------------------------------------------------------

  /** The data plane now running (tests). */
  get compiled(): CompiledTopology {
    return this.c;
  }
}

// ---- changes ----------------------------------------------------------------------------

const CONTAINER_NETWORK = ['network', 'ip', 'mac'] as const;

/** Request args -> the normalised args kept in the journal (checked, defaults decided). */
const PARSE: Record<string, (raw: Record<string, unknown>, d: Netwasmd) => Record<string, unknown>> = {
  'add-container': (raw, d) => {
    const a = new Args(raw, 'add-container', ['name', 'host', 'networks', 'bind', 'tap']);
    const name = a.str('name');
    const host = a.optStr('host') ?? d.host;
    const networks = a.list('networks', (n) => ({ network: n.str('network'), ip: n.optStr('ip') ?? null, mac: n.optStr('mac') ?? null }), CONTAINER_NETWORK);
    const bind = a.strMap('bind');
    const tap = a.strMap('tap');
    if (host !== d.host && (Object.keys(bind).length || Object.keys(tap).length)) {
      throw new ForbiddenError(`container ${name} is on host ${host}: its interfaces are bound by that host's netwasmd`, { field: 'bind' });
    }
    d.checkNewBindings(name, bind, tap);
    return { name, host, networks, bind, tap };
  },
  'rm-container': (raw) => {
    const a = new Args(raw, 'rm-container', ['name']);
    return { name: a.str('name') };
  },
  'add-peer': (raw) => {
    const a = new Args(raw, 'add-peer', ['network', 'vtep', 'vtep_mac', 'mac', 'ip']);
    return { network: a.str('network'), vtep: a.str('vtep'), vtep_mac: a.str('vtep_mac'), mac: a.str('mac'), ip: a.str('ip') };
  },
  'rm-peer': (raw) => {
    const a = new Args(raw, 'rm-peer', ['network', 'ip', 'mac']);
    const ip = a.optStr('ip');
    const mac = a.optStr('mac');
    if (!ip && !mac) throw new ControlError('bad-request', 'rm-peer: give the peer\'s ip or mac', 'ip');
    return { network: a.str('network'), ip: ip ?? null, mac: mac ?? null };
  },
  'add-backend': (raw) => {
    const a = new Args(raw, 'add-backend', ['service', 'container', 'port', 'weight']);
    return { service: a.str('service'), container: a.str('container'), port: a.optInt('port') ?? null, weight: a.optInt('weight') ?? null };
  },
  'rm-backend': (raw) => {
    const a = new Args(raw, 'rm-backend', ['service', 'container']);
    return { service: a.str('service'), container: a.str('container') };
  },
};

/** The changes themselves, on a Controller (live, or replaying the journal on reload). */
const OPS: Record<string, ChangeOp> = {
  'add-container': (ctl, a) => {
    const name = a['name'] as string;
    const sb = ctl.newSandbox(name, { host: a['host'] as string });
    let nets = a['networks'] as { network: string; ip: string | null; mac: string | null }[];
    if (nets.length === 0) {
      // `docker run` without --network joins the default network.
      const dflt = ctl.networks().some((n) => n.name === 'bridge') ? 'bridge' : 'none';
      nets = [{ network: dflt, ip: null, mac: null }];
    }
    for (const n of nets) ctl.connect(name, n.network, { ip: n.ip, mac: n.mac });
    return { id: sb.containerId, name, host: sb.host, ports: sb.ports() };
  },
  'rm-container': (ctl, a) => {
    const sb = ctl.sandbox(a['name'] as string);
    const ports = sb.ports();
    ctl.removeSandbox(sb.name);
    return { name: sb.name, removed: ports };
  },
  'add-peer': (ctl, a) => {
    ctl.addPeer(a['network'] as string, { vtep: a['vtep'] as string, vtepMac: a['vtep_mac'] as string, mac: a['mac'] as string, ip: a['ip'] as string });
    return { network: a['network'], ip: a['ip'], mac: a['mac'], vtep: a['vtep'] };
  },
  'rm-peer': (ctl, a, d) => {
    // The Controller has no removePeer (yet): the network's peer list and its address are the model.
    const n = ctl.network(a['network'] as string);
    const ip = a['ip'] as string | null;
    const mac = (a['mac'] as string | null)?.toLowerCase() ?? null;
    const want = ip === null ? null : parseAddr(ip);
    if (ip !== null && want === null) throw new InvalidParameterError(`invalid IP address ${JSON.stringify(ip)}`, { field: 'ip' });
    const i = n.peers.findIndex((p) => (want === null || p.addr === want) && (mac === null || p.mac === mac));
    if (i < 0) throw new NotFoundError(`network ${n.name} has no peer ${ip ?? mac}`);
    const [p] = n.peers.splice(i, 1);
    n.releaseAddress(d.host, p!.addr);
    return { network: n.name, ip: formatAddr(p!.addr), mac: p!.mac, vtep: formatAddr(p!.vtep) };
  },
  'add-backend': (ctl, a) => {
    const svc = ctl.service(a['service'] as string);
    const ep = backendEndpoint(ctl, svc.network.name, a['container'] as string);
    const b = svc.addBackend(ep, { port: a['port'] as number | null, weight: a['weight'] as number | null });
    return { service: svc.name, container: ep.name, ip: ep.addr === null ? null : formatAddr(ep.addr), port: b.port, weight: b.weight };
  },
  'rm-backend': (ctl, a) => {
    const svc = ctl.service(a['service'] as string);
    const ep = backendEndpoint(ctl, svc.network.name, a['container'] as string);
    if (!svc.backends.some((b) => b.endpoint === ep)) throw new NotFoundError(`container ${ep.name} is not a real server of service ${svc.name}`);
    svc.removeBackend(ep);
    return { service: svc.name, container: ep.name };
  },
};

function backendEndpoint(ctl: Controller, network: string, container: string) {
  const sb = ctl.sandbox(container);
  const ep = sb.endpoints.find((e) => e.network.name === network);
  if (!ep) throw new ForbiddenError(`container ${container} is not connected to network ${network}`, { field: 'container' });
  return ep;
}
