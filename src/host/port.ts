// HostPort: one real interface (an AF_PACKET socket bound to it, or a TAP
// device) feeding a port of a Dataplane. Frames go from the kernel straight into
// free pool slots of the data plane's memory and out of it again, in batches,
// with the offload metadata (virtio_net_hdr) in the descriptors and transmit
// entries. See native/netwasm.c for the system calls.
import * as L from '../dataplane/layout.ts';
import { counterId } from '../dataplane/counters.ts';
import type { Dataplane } from '../dataplane/dataplane.ts';
import { native, type NativePool, type NativePortStats } from './native.ts';

/**
 * Slot size a data plane needs to take a host port's frames whole: 64 KiB
 * super-frames (TSO/GRO, IP total length up to 65535) plus Ethernet and two
 * VLAN tags, behind the headroom. Big slots cost address space, not memory:
 * WebAssembly memory is zero pages until touched, and the pool hands out the
 * most recently freed slots first, so a host uses only the few slots its
 * vectors keep busy.
 */
export const HOST_SLOT_SIZE = 65536 + 512;

/** Options of an AF_PACKET port. */
export interface PacketOptions {
  /** Receive frames for every MAC (default true: a bridge port must). */
  promisc?: boolean;
  /**
   * Exchange a virtio_net_hdr with every frame (PACKET_VNET_HDR, default true):
   * partial checksums and super-frames pass through with their metadata. Off,
   * the kernel hands over super-frames with partial checksums and no way to
   * tell: use it only on interfaces without offloads.
   */
  vnetHdr?: boolean;
  /** PACKET_QDISC_BYPASS: send straight to the driver, no queueing discipline (default false). */
  qdiscBypass?: boolean;
  /** Socket receive buffer in bytes (default 8 MiB). */
  rcvbuf?: number;
  /** Socket send buffer in bytes (default 8 MiB). */
  sndbuf?: number;
  /**
   * Frames in the mmap'ed TPACKET_V2 receive ring (default 4096, 2 KiB each;
   * 0: no ring, every batch is a recvmmsg). The kernel copies frames into the
   * ring as they arrive, a batch is taken with no system call; frames longer
   * than a ring frame (super-frames, jumbo frames) are read whole from the
   * socket, in order.
   */
  ring?: number;
  /**
   * Send from a second socket bound to the interface that receives nothing
   * and is never polled (default true): a sent frame's release then wakes no
   * poller, as it does on the watched receiving socket.
   */
  txSocket?: boolean;
}

/** Options of a TAP port. */
export interface TapOptions {
  /** IFF_VNET_HDR (default true): offload metadata with every frame. */
  vnetHdr?: boolean;
  /** With vnetHdr: ask the kernel for partial checksums and super-frames (TUNSETOFFLOAD, default true). */
  offloads?: boolean;
}

/** Kind codes of the adapter's port table. */
const KIND_PACKET = 1;
const KIND_TAP = 2;

/** Counter ids the adapter adds to, by its own keys (see assembly/counters.ts, block 704..767). */
const ADAPTER_COUNTERS: Record<string, string> = {
  rx: 'host-rx', tx: 'host-tx', rxTrunc: 'host-rx-trunc', rxBadVnet: 'host-rx-bad-vnet', rxError: 'host-rx-error',
  rxNoSlot: 'host-rx-no-slot', txNobufs: 'host-tx-nobufs', txBusy: 'host-tx-busy', txDown: 'host-tx-down',
  txTooBig: 'host-tx-too-big', txError: 'host-tx-error', txNoPort: 'host-tx-no-port', txBadEntry: 'host-tx-bad-entry',
};

const pools = new WeakMap<Dataplane, NativePool>();

/** The adapter's binding of a data plane's memory (made once per Dataplane). */
export function poolOf(dp: Dataplane): NativePool {
  let p = pools.get(dp);
  if (p) return p;
  const r = dp.regions;
  const counters: Record<string, number> = {};
  for (const [key, name] of Object.entries(ADAPTER_COUNTERS)) {
    const id = counterId(name);
    if (id === undefined) throw new Error(`netwasm: counter ${name} missing from assembly/counters.ts`);
    counters[key] = id;
  }
  p = native().bindPool(dp.memory.buffer, {
    ...L,
    slots: dp.slots,
    slotSize: dp.slotSize,
    descBase: r.desc!.ptr,
    txBase: r.tx!.ptr,
    freeBase: r.free!.ptr,
    poolBase: r.pool!.ptr,
    countersBase: r.counters!.ptr,
    counters,
  });
  pools.set(dp, p);
  return p;
}

/** One interface as a frame source and sink for a data plane port. */
export class HostPort {
  /** 'packet' (AF_PACKET on an existing interface) or 'tap' (a TAP device). */
  readonly kind: 'packet' | 'tap';
  private _name: string;
  /** Offload metadata travels with frames (PACKET_VNET_HDR / IFF_VNET_HDR). */
  readonly vnetHdr: boolean;
  private readonly opts: PacketOptions | TapOptions;
  private _fd = -1;
  private _ifindex = 0;
  private _mtu = 0;
  private _mac = '';
  private _offloads = 0;
  private _ring = 0;
  /** Data planes and ports this interface is bound to (the adapter's port table). */
  private bound: Array<{ dp: Dataplane; port: number }> = [];

  private constructor(kind: 'packet' | 'tap', name: string, opts: PacketOptions | TapOptions) {
    this.kind = kind;
    this._name = name;
    this.opts = opts;
    this.vnetHdr = opts.vnetHdr ?? true;
    this.open();
  }

  /**
   * Opens an AF_PACKET socket on interface `ifname` (promiscuous, deaf to its
   * own transmissions, with virtio_net_hdr offload metadata).
   *
   * ```ts
   * const eth = HostPort.openPacket('veth1');
   * ```
   * Throws an Error with code ENODEV (no such interface), EPERM (needs root or
   * CAP_NET_RAW) and a message that says so.
   */
  static openPacket(ifname: string, opts: PacketOptions = {}): HostPort {
    return new HostPort('packet', ifname, opts);
  }

  /**
   * Creates (or attaches to) TAP device `name` (IFF_TAP | IFF_NO_PI, with
   * IFF_VNET_HDR unless vnetHdr is false). A TAP created here lives as long as
   * the port is open. `name` '' lets the kernel choose (see `.name`).
   */
  static openTap(name: string, opts: TapOptions = {}): HostPort {
    return new HostPort('tap', name, opts);
  }

  /** Interface name (for a TAP opened as '', the one the kernel chose). */
  get name(): string {
    return this._name;
  }
  /** The open descriptor (-1 when closed). */
  get fd(): number {
    return this._fd;
  }
  get ifindex(): number {
    return this._ifindex;
  }
  /** MTU of the interface when opened (AF_PACKET ports). */
  get mtu(): number {
    return this._mtu;
  }
  /** MAC of the interface (AF_PACKET ports). */
  get mac(): string {
    return this._mac;
  }
  /** Frames in the receive ring (AF_PACKET ports; 0: recvmmsg). */
  get ring(): number {
    return this._ring;
  }
  /** TUN_F_* offloads the kernel accepted (TAP ports). */
  get offloads(): number {
    return this._offloads;
  }
  /** Whether the port takes frames with offload metadata as they are (else the data plane finishes them). */
  get acceptsOffload(): boolean {
    return this.vnetHdr;
  }
  get closed(): boolean {
    return this._fd < 0;
  }

  private open(): void {
    const n = native();
    if (this.kind === 'packet') {
      const i = n.openPacket(this.name, { ...this.opts, vnetHdr: this.vnetHdr });
      this._fd = i.fd;
      this._ifindex = i.ifindex;
      this._mtu = i.mtu;
      this._mac = i.mac;
      this._ring = i.ring;
    } else {
      const i = n.openTap(this.name, { ...this.opts, vnetHdr: this.vnetHdr });
      this._fd = i.fd;
      this._ifindex = i.ifindex;
      this._offloads = i.offloads;
      this._name = i.name;
    }
    for (const b of this.bound) n.setPort(poolOf(b.dp), b.port, this._fd, this.kind === 'packet' ? KIND_PACKET : KIND_TAP, this.vnetHdr);
  }

  /** Whether the interface is still the one this port opened (not deleted, not re-created). */
  present(): boolean {
    return this._fd >= 0 && native().ifindex(this.name) === this._ifindex && this._ifindex !== 0;
  }

  /** Whether an interface of this name exists now. */
  exists(): boolean {
    return native().ifindex(this.name) !== 0;
  }

  /** Closes and opens again (after the interface was deleted and re-created). */
  reopen(): void {
    this.closeFd();
    this.open();
  }

  /**
   * Binds this interface to port `port` of `dp` in the adapter (done by rx/tx
   * on first use; the HostLoop does it when the port is added).
   */
  bind(dp: Dataplane, port: number): void {
    if (!Number.isInteger(port) || port < 0 || port >= L.MAX_PORTS) throw new RangeError(`port must be in 0..${L.MAX_PORTS - 1}, got ${port}`);
    if (this._fd < 0) throw new Error(`netwasm: host port ${this.name} is closed`);
    if (!this.bound.some((b) => b.dp === dp && b.port === port)) this.bound.push({ dp, port });
    native().setPort(poolOf(dp), port, this._fd, this.kind === 'packet' ? KIND_PACKET : KIND_TAP, this.vnetHdr);
  }

  /** Removes the binding made by bind(). */
  unbind(dp: Dataplane, port: number): void {
    const i = this.bound.findIndex((b) => b.dp === dp && b.port === port);
    if (i < 0) return;
    this.bound.splice(i, 1);
    native().setPort(poolOf(dp), port, -1, 0, false);
  }

  private ensureBound(dp: Dataplane, port: number): void {
    if (!this.bound.some((b) => b.dp === dp && b.port === port)) this.bind(dp, port);
  }

  /**
   * Receives a batch (from the receive ring or recvmmsg, or reads on a TAP) into free pool
   * slots of `dp` and describes the frames as input descriptors
   * [at, at + n) arriving on `port`, offload metadata included. Never blocks.
   * Returns n (0 when nothing is waiting); run them with `dp.run(at + n)`.
   * Throws on a socket error (ENETDOWN when the interface went down or away).
   */
  rx(dp: Dataplane, port: number, at = 0, max = L.MAX_VECTOR - at): number {
    this.ensureBound(dp, port);
    const n = native().rx(poolOf(dp), port, at, max);
    if (n < 0) throw hostError(-n, `receive on ${this.name}`);
    dp.rxPerPort[port]! += n;
    return n;
  }

  /**
   * Sends transmit entries [first, first + count) of `dp`'s last vector out of
   * this interface (sendmmsg, or writes on a TAP), with their offload metadata
   * when the port takes it, whatever their T_PORT. Returns the number sent;
   * failures are counted (host-tx-nobufs, host-tx-down, ...), never thrown.
   * The entries' slots stay owned by the data plane (freed by its next run).
   */
  tx(dp: Dataplane, first: number, count: number, port?: number): number {
    const p = port ?? this.bound.find((b) => b.dp === dp)?.port ?? 0;
    this.ensureBound(dp, p);
    return native().tx(poolOf(dp), first, count, p);
  }

  /** The adapter's counters for this interface on (dp, port). */
  stats(dp: Dataplane, port: number): NativePortStats {
    return native().portStats(poolOf(dp), port);
  }

  /** Frames the kernel dropped on this socket's receive queue since the last call (AF_PACKET). */
  kernelDrops(): number {
    if (this.kind !== 'packet' || this._fd < 0) return 0;
    return native().kernelStats(this._fd).drops;
  }

  private closeFd(): void {
    if (this._fd < 0) return;
    const n = native();
    for (const b of this.bound) n.setPort(poolOf(b.dp), b.port, -1, 0, false);
    n.close(this._fd);
    this._fd = -1;
  }

  /** Closes the socket or TAP (a TAP created here disappears). */
  close(): void {
    this.closeFd();
    this.bound = [];
  }
}

const ERRNO: Record<number, [string, string]> = {
  1: ['EPERM', 'operation not permitted'],
  6: ['ENXIO', 'no such device or address'],
  9: ['EBADF', 'port not open'],
  14: ['EFAULT', 'the pool free list is corrupt'],
  19: ['ENODEV', 'no such device'],
  77: ['EBADFD', 'the TAP device was deleted'],
  100: ['ENETDOWN', 'the interface is down or was deleted'],
  105: ['ENOBUFS', 'no buffer space available'],
};

/** An Error for errno `e` with its code. */
export function hostError(e: number, what: string): Error & { code: string; errno: number } {
  const [code, text] = ERRNO[e] ?? [`E${e}`, `error ${e}`];
  const err = new Error(`netwasm: ${what}: ${text} (${code})`) as Error & { code: string; errno: number };
  err.code = code;
  err.errno = e;
  return err;
}
