// HostLoop: runs a Dataplane on real interfaces. Each HostPort is watched for
// readiness by the event loop (uv_poll in Node, a watcher thread in Deno);
// when one is readable the loop receives a batch straight into pool slots,
// runs ONE data plane call for it, finishes offloads for ports that take no
// metadata, sends every transmit entry out of its port (one sendmmsg per run of
// entries for the same port) and gives the slots back. Nothing spins: an idle
// interface costs nothing.
import * as L from '../dataplane/layout.ts';
import { counterId } from '../dataplane/counters.ts';
import type { Dataplane } from '../dataplane/dataplane.ts';
import { native, isDeno, type NativeWatcher, type NativePortStats } from './native.ts';
import { HostPort, HOST_SLOT_SIZE, hostError, poolOf } from './port.ts';
import { finishOffloads, releaseFinished, setPortOffload } from './offload.ts';

/** Options of a HostLoop. */
export interface HostLoopOptions {
  /** Most vectors handled per readiness callback before yielding to the event loop (default 16). */
  maxBatches?: number;
  /** How often to look for a deleted interface to come back, in ms (default 200). */
  reopenMs?: number;
  /** Keep the process alive while ports are watched (default true). */
  ref?: boolean;
  /** Use the watcher thread instead of uv_poll (default: only under Deno). */
  thread?: boolean;
  /**
   * Allow a pool whose slots cannot hold 64 KiB super-frames (default false).
   * Only for interfaces that never deliver them: larger frames are dropped
   * as eth-oversize.
   */
  smallSlots?: boolean;
}

/** Lets the process exit with the timer pending (Node: .unref(); Deno: Deno.unrefTimer). */
function unrefTimer(t: ReturnType<typeof setInterval>): void {
  if (typeof t === 'object' && t !== null && typeof (t as { unref?: unknown }).unref === 'function') {
    (t as { unref(): void }).unref();
    return;
  }
  const deno = (globalThis as { Deno?: { unrefTimer?: (id: number) => void } }).Deno;
  if (typeof t === 'number') deno?.unrefTimer?.(t);
}

/** What a HostLoop reports. */
export type HostEvent =
  | { type: 'down'; port: number; name: string; reason: string }
  | { type: 'up'; port: number; name: string }
  | { type: 'error'; port: number; name: string; error: Error };

interface Entry {
  port: number;
  hp: HostPort;
  w: NativeWatcher | undefined;
  timer: ReturnType<typeof setInterval> | undefined;
  down: boolean;
}

/**
 * Forwards frames between real interfaces through a data plane.
 *
 * ```ts
 * const dp = hostDataplane();
 * dp.setPort(0, { kind: PortKind.WIRE, aux: 1 });
 * dp.setPort(1, { kind: PortKind.WIRE, aux: 0 });
 * const loop = new HostLoop(dp);
 * loop.add(0, HostPort.openPacket('veth0'));
 * loop.add(1, HostPort.openTap('tap0'));
 * // ... later
 * loop.close();
 * ```
 */
export class HostLoop {
  readonly dp: Dataplane;
  private readonly entries = new Map<number, Entry>();
  private readonly listeners: Array<(e: HostEvent) => void> = [];
  private readonly maxBatches: number;
  private readonly reopenMs: number;
  private readonly ref: boolean;
  private readonly thread: boolean;
  private readonly smallSlots: boolean;
  /** Some bound port takes no offload metadata: offloadFinish runs on every vector. */
  private finishing = false;
  private readonly kernelDropId: number;
  private closed = false;
  /** Reads the kernel's receive-queue drops into host-rx-kernel-drop once a second. */
  private readonly statsTimer: ReturnType<typeof setInterval>;
  /** Vectors run so far. */
  vectors = 0;

  constructor(dp: Dataplane, opts: HostLoopOptions = {}) {
    this.dp = dp;
    this.maxBatches = opts.maxBatches ?? 16;
    this.reopenMs = opts.reopenMs ?? 200;
    this.ref = opts.ref ?? true;
    this.thread = opts.thread ?? isDeno;
    this.smallSlots = opts.smallSlots ?? false;
    this.kernelDropId = counterId('host-rx-kernel-drop')!;
    poolOf(dp);
    this.statsTimer = setInterval(() => this.syncKernelDrops(), 1000);
    unrefTimer(this.statsTimer);
  }

  /** Listens to port events (down, up, error). */
  on(fn: (e: HostEvent) => void): this {
    this.listeners.push(fn);
    return this;
  }

  private emit(e: HostEvent): void {
    for (const fn of this.listeners) fn(e);
  }

  /** The host port on data plane port `port`. */
  get(port: number): HostPort | undefined {
    return this.entries.get(port)?.hp;
  }

  /** Ports in use. */
  ports(): number[] {
    return [...this.entries.keys()];
  }

  /**
   * Puts interface `hp` behind data plane port `port` and starts watching it.
   * The port's kind and forwarding (dp.setPort) are the caller's.
   */
  add(port: number, hp: HostPort): this {
    if (this.closed) throw new Error('netwasm: HostLoop is closed');
    if (this.entries.has(port)) throw new Error(`netwasm: port ${port} already has an interface (${this.entries.get(port)!.hp.name})`);
    if (!this.smallSlots && this.dp.slotSize < HOST_SLOT_SIZE) {
      throw new RangeError(
        `netwasm: slotSize ${this.dp.slotSize} cannot hold the 64 KiB super-frames (TSO/GRO) an interface delivers; ` +
          `create the data plane with hostDataplane() or slotSize >= ${HOST_SLOT_SIZE} (or pass smallSlots: true)`,
      );
    }
    hp.bind(this.dp, port);
    setPortOffload(this.dp, port, hp.acceptsOffload);
    const e: Entry = { port, hp, w: undefined, timer: undefined, down: false };
    this.entries.set(port, e);
    this.updateFinishing();
    this.watch(e);
    return this;
  }

  /** Stops using data plane port `port`; returns its HostPort (still open). */
  remove(port: number): HostPort | undefined {
    const e = this.entries.get(port);
    if (!e) return undefined;
    this.unwatch(e);
    if (e.timer) clearInterval(e.timer);
    e.hp.unbind(this.dp, port);
    setPortOffload(this.dp, port, false);
    this.entries.delete(port);
    this.updateFinishing();
    return e.hp;
  }

  private updateFinishing(): void {
    this.finishing = [...this.entries.values()].some((e) => !e.hp.acceptsOffload);
  }

  private watch(e: Entry): void {
    e.w = native().watch(e.hp.fd, (status) => this.ready(e, status), this.thread, this.ref);
  }

  private unwatch(e: Entry): void {
    if (e.w) native().unwatch(e.w);
    e.w = undefined;
  }

  /** Readiness callback of one port: drain it, a bounded number of vectors. */
  private ready(e: Entry, status: number): void {
    if (this.closed || !e.w) return;
    try {
      for (let b = 0; b < this.maxBatches; b++) {
        const n = native().rx(poolOf(this.dp), e.port, 0, L.MAX_VECTOR);
        if (n < 0) return this.rxError(e, -n);
        if (n === 0) break;
        this.forward(e.port, n);
        if (n < L.MAX_VECTOR) break;
      }
      if (status < 0 && e.hp.kind === 'packet' && !e.hp.present()) return this.gone(e, 'interface deleted');
    } catch (err) {
      this.emit({ type: 'error', port: e.port, name: e.hp.name, error: err as Error });
    }
    if (e.w) native().rearm(e.w);
  }

  /**
   * Runs the n frames just received. When some port needs its offloads
   * finished, a super-frame may become dozens of frames: the frames then run
   * in chunks whose worst-case expansion fits the free slots and the transmit
   * vector, in order (the descriptors left over move down between chunks).
   */
  private forward(port: number, n: number): void {
    const dp = this.dp;
    dp.rxPerPort[port]! += n;
    if (!this.finishing) return this.runSend(n);
    const base = dp.regions.desc!.ptr;
    const v = dp.view;
    while (n > 0) {
      const budget = Math.max(1, Math.min(L.MAX_TX, dp.freeSlots) >>> 1);
      let k = 0;
      let need = 0;
      while (k < n) {
        const d = base + k * L.DESC_SIZE;
        const mss = v.getUint16(d + L.D_GSO_SIZE, true);
        const cost = v.getUint8(d + L.D_GSO_TYPE) !== 0 && mss > 0 ? Math.ceil(v.getUint32(d + L.D_LEN, true) / mss) + 1 : 1;
        if (k > 0 && need + cost > budget) break;
        need += cost;
        k++;
      }
      this.runSend(k);
      n -= k;
      if (n > 0) dp.bytes.copyWithin(base, base + k * L.DESC_SIZE, base + (k + n) * L.DESC_SIZE);
    }
  }

  /** One vector: run, finish offloads, send, free. */
  private runSend(n: number): void {
    const dp = this.dp;
    const nTx = dp.run(n);
    this.vectors++;
    const total = this.finishing ? finishOffloads(dp, nTx) : nTx;
    if (total > 0) native().tx(poolOf(dp), 0, total, -1);
    releaseFinished(dp, nTx, total);
  }

  /**
   * Runs everything waiting on all ports once, without waiting for readiness.
   * Returns the frames received. (The loop does this by itself; for tests and
   * for hosts with their own polling.)
   */
  pump(): number {
    let total = 0;
    for (const e of this.entries.values()) {
      if (e.down) continue;
      for (let b = 0; b < this.maxBatches; b++) {
        const n = native().rx(poolOf(this.dp), e.port, 0, L.MAX_VECTOR);
        if (n <= 0) break;
        total += n;
        this.forward(e.port, n);
        if (n < L.MAX_VECTOR) break;
      }
    }
    return total;
  }

  private rxError(e: Entry, errno: number): void {
    // EFAULT (the pool's free list is corrupt) or EBADF (not bound): nothing
    // will get better by polling again; say so and stop watching the port.
    if (errno === 14 || errno === 9) {
      this.unwatch(e);
      this.emit({ type: 'error', port: e.port, name: e.hp.name, error: hostError(errno, `receive on ${e.hp.name}`) });
      return;
    }
    // ENETDOWN also means "deleted": an AF_PACKET socket is unbound when its
    // interface goes away, and a TAP fd is detached (EBADFD).
    if (!e.hp.present()) return this.gone(e, errno === 77 ? 'TAP deleted' : 'interface deleted');
    // Down but still there: the socket picks up again when it comes up.
    if (e.w) native().rearm(e.w);
  }

  /** The interface is gone: mark the port down and wait for it to come back. */
  private gone(e: Entry, reason: string): void {
    if (e.down) return;
    e.down = true;
    this.unwatch(e);
    this.setDown(e.port, true);
    this.emit({ type: 'down', port: e.port, name: e.hp.name, reason });
    e.timer = setInterval(() => this.tryReopen(e), this.reopenMs);
    if (!this.ref) unrefTimer(e.timer);
  }

  private tryReopen(e: Entry): void {
    if (this.closed) return;
    // A TAP of ours is re-created by opening it again; an AF_PACKET port waits for its interface.
    if (e.hp.kind === 'packet' && !e.hp.exists()) return;
    try {
      e.hp.reopen();
    } catch {
      return; // not there yet (or not usable yet): try again later
    }
    if (e.timer) clearInterval(e.timer);
    e.timer = undefined;
    e.down = false;
    this.setDown(e.port, false);
    this.watch(e);
    this.emit({ type: 'up', port: e.port, name: e.hp.name });
  }

  private setDown(port: number, down: boolean): void {
    const a = this.dp.portAddr(port) + L.P_FLAGS;
    const v = this.dp.view;
    const f = v.getUint16(a, true);
    v.setUint16(a, down ? f | L.PortFlag.DOWN : f & ~L.PortFlag.DOWN, true);
  }

  /** Whether port `port`'s interface is gone (waiting to be re-created). */
  isDown(port: number): boolean {
    return this.entries.get(port)?.down ?? false;
  }

  /** The adapter's counters for port `port`. */
  stats(port: number): NativePortStats {
    return native().portStats(poolOf(this.dp), port);
  }

  /** Adds the kernel's receive-queue drops of every AF_PACKET port to host-rx-kernel-drop. */
  syncKernelDrops(): number {
    let d = 0;
    for (const e of this.entries.values()) d += e.hp.kernelDrops();
    if (d > 0) {
      const a = this.dp.regions.counters!.ptr + this.kernelDropId * 8;
      const v = this.dp.view;
      v.setBigUint64(a, v.getBigUint64(a, true) + BigInt(d), true);
    }
    return d;
  }

  /** Stops watching every port and closes them. */
  close(): void {
    if (this.closed) return;
    clearInterval(this.statsTimer);
    this.syncKernelDrops();
    for (const port of [...this.entries.keys()]) this.remove(port)?.close();
    this.closed = true;
  }
}
