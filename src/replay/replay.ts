// Replay: frames from capture files (or memory) go through a Dataplane in
// timestamp order, in vectors; what leaves each port is written to one capture
// per port. Packet timestamps are the data plane's clock, so a replay is
// deterministic: the same inputs always give the same outputs.
import { mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Dataplane, MAX_VECTOR, MAX_PORTS, DESC_SIZE, TX_SIZE, HEADROOM, FREE_TOP, D_TS_SEC, D_TS_NSEC, T_SLOT, T_OFF, T_LEN, T_PORT, T_SRC } from '../dataplane/index.ts';
import { openCapture, PcapWriter, WriteBehind, LINKTYPE_ETHERNET, DEFAULT_SNAPLEN, type CaptureReader } from '../pcap/index.ts';
import type { PcapBulk } from '../pcap/reader.ts';
import * as R from '../../assembly/replay-layout.ts';

if (R.RP_PORTS !== MAX_PORTS || R.RP_VECTOR !== MAX_VECTOR) throw new Error('netwasm: assembly/replay-layout.ts does not match assembly/layout.ts');

/** A source of frames for one port. */
export interface ReplayInput {
  port: string;
  /** A capture file, or frames already in memory. */
  path?: string;
  frames?: Iterable<TimedFrame>;
}

export interface TimedFrame {
  data: Uint8Array;
  tsSec: number;
  tsNsec: number;
}

export interface ReplayOptions {
  /** Port name -> data-plane port id. */
  ports: ReadonlyMap<string, number>;
  /**
   * Underlay segments: groups of port names wired together. A frame that
   * leaves one of them arrives at every other one of its group (as input, at
   * the same packet time), besides being written to its own output.
   */
  segments?: ReadonlyArray<ReadonlyArray<string>>;
  /** Write `DIR/PORT.pcap` (`/` becomes `_`) for every port that transmitted. */
  outDir?: string;
  /** Keep every output frame in memory, per port (for tests and --expect). */
  collect?: boolean;
  /** Called after every vector with the number of input frames so far (progress). */
  onProgress?: (frames: number) => void;
  /** Most hops a frame may take across segments before it is counted as a loop. */
  maxSegmentHops?: number;
  /**
   * Write the output captures from a second thread (see WriteBehind), so the
   * kernel's part of writing them runs beside the data plane: true always,
   * false never; by default when the input captures hold WRITE_BEHIND_MIN
   * bytes or more and the machine has a second CPU (not under Deno). The
   * outputs are the same either way.
   */
  writeBehind?: boolean;
  /**
   * Where the per-frame host work runs: 'wasm' (the default, where the data
   * plane has a host region: see REPLAY_HOST_BYTES) moves records, output
   * records and segment frames in the data plane's module, one call per
   * vector; 'js' does it per frame in TypeScript (and is what `collect`
   * uses). The outputs are the same either way.
   */
  engine?: 'wasm' | 'js';
  /** @internal Entries of the module's feedback queue (tests: a small one overflows into the TypeScript queue). */
  feedbackEntries?: number;
}

/** Input bytes from which replay writes its outputs from a second thread by default. */
export const WRITE_BEHIND_MIN = 32 << 20;

export interface PortStats {
  rx: number;
  tx: number;
}

export interface ReplayResult {
  ports: Record<string, PortStats>;
  counters: Record<string, number>;
  /** Frames read from the inputs. */
  frames: number;
  /** Output files written, by port. */
  files: Record<string, string>;
  /** Output frames by port (with `collect`). */
  output: Record<string, TimedFrame[]>;
  /** Frames that arrived on a segment after maxSegmentHops crossings (loops), dropped. */
  segmentLoops: number;
}

/** `c1/eth0` -> `c1_eth0.pcap` */
export function outputFileName(port: string): string {
  return `${port.replace(/\//g, '_')}.pcap`;
}

const EMPTY = new Uint8Array(0);

/**
 * One input: a capture file read through the reader's allocation-free cursor,
 * or frames from an iterable. `buf[at .. at + len)` is the head frame.
 */
class Source {
  has = false;
  buf: Uint8Array = EMPTY;
  at = 0;
  len = 0;
  tsSec = 0;
  tsNsec = 0;

  constructor(
    readonly port: number,
    readonly reader: CaptureReader | undefined,
    private readonly frames: Iterator<TimedFrame> | undefined,
    private readonly path: string,
    private readonly onNs: () => void,
  ) {}

  /** Moves to the next frame (has = false at the end). */
  advance(): void {
    const r = this.reader;
    if (r) {
      if (!r.step()) {
        this.has = false;
        return;
      }
      if (r.recLinkType !== LINKTYPE_ETHERNET) {
        throw new Error(`${this.path}: link type ${r.recLinkType} is not Ethernet (1); netwasm replays Ethernet frames`);
      }
      if (r.recResolution === 'ns') this.onNs();
      this.buf = r.recBuf;
      this.at = r.recAt;
      this.len = r.recLen;
      this.tsSec = r.recTsSec;
      this.tsNsec = r.recTsNsec;
      this.has = true;
      return;
    }
    const it = this.frames!.next();
    if (it.done) {
      this.has = false;
      return;
    }
    const f = it.value;
    this.buf = f.data;
    this.at = 0;
    this.len = f.data.length;
    this.tsSec = f.tsSec;
    this.tsNsec = f.tsNsec;
    this.has = true;
  }
}


/**
 * Frames fed back from an underlay segment, first in first out: their bytes
 * copied into one growing buffer (no object per frame), their fields in
 * typed arrays.
 */
class FeedbackQueue {
  /** Where the bytes are kept: a part of the data plane's memory (see REPLAY_HOST_BYTES) or, once that is full, a buffer of our own. */
  bytes: Uint8Array;
  /** bytes is a part of mem (frames move with copyWithin). */
  private shared: boolean;
  private readonly base: number;
  /** End of the bytes in use. */
  used = 0;
  start = new Uint32Array(1024);
  len = new Uint32Array(1024);
  port = new Uint16Array(1024);
  tsSec = new Uint32Array(1024);
  tsNsec = new Uint32Array(1024);
  hops = new Uint32Array(1024);
  head = 0;
  tail = 0;

  /** `mem`: the data plane's memory, where add() copies from; `bytes`: a part of it to keep frames in, if any. */
  constructor(private readonly mem: Uint8Array, bytes: Uint8Array | undefined) {
    this.bytes = bytes ?? new Uint8Array(1 << 20);
    this.shared = bytes !== undefined;
    this.base = bytes?.byteOffset ?? 0;
  }

  get empty(): boolean {
    return this.head === this.tail;
  }

  /** Queues the frame at mem[at .. at + len). */
  add(at: number, len: number, port: number, tsSec: number, tsNsec: number, hops: number): void {
    if (this.tail === this.start.length) this.growEntries();
    if (this.used + len > this.bytes.length) this.growBytes(len);
    if (this.shared) this.mem.copyWithin(this.base + this.used, at, at + len);
    else this.bytes.set(this.mem.subarray(at, at + len), this.used);
    const t = this.tail++;
    this.start[t] = this.used;
    this.len[t] = len;
    this.port[t] = port;
    this.tsSec[t] = tsSec;
    this.tsNsec[t] = tsNsec;
    this.hops[t] = hops;
    this.used += len;
  }

  /** Drops the entries before head (call between vectors, when nothing points into the bytes). */
  compact(): void {
    if (this.head === 0) return;
    if (this.head === this.tail) {
      this.head = this.tail = this.used = 0;
      return;
    }
    const n = this.tail - this.head;
    const b0 = this.start[this.head]!;
    this.bytes.copyWithin(0, b0, this.used);
    this.used -= b0;
    for (let i = 0; i < n; i++) {
      const j = this.head + i;
      this.start[i] = this.start[j]! - b0;
      this.len[i] = this.len[j]!;
      this.port[i] = this.port[j]!;
      this.tsSec[i] = this.tsSec[j]!;
      this.tsNsec[i] = this.tsNsec[j]!;
      this.hops[i] = this.hops[j]!;
    }
    this.head = 0;
    this.tail = n;
  }

  private growEntries(): void {
    const n = this.start.length * 2;
    const grow = <T extends Uint32Array | Uint16Array | Uint8Array>(a: T, make: (n: number) => T): T => {
      const b = make(n);
      b.set(a);
      return b;
    };
    this.start = grow(this.start, (k) => new Uint32Array(k));
    this.len = grow(this.len, (k) => new Uint32Array(k));
    this.port = grow(this.port, (k) => new Uint16Array(k));
    this.tsSec = grow(this.tsSec, (k) => new Uint32Array(k));
    this.tsNsec = grow(this.tsNsec, (k) => new Uint32Array(k));
    this.hops = grow(this.hops, (k) => new Uint32Array(k));
  }

  private growBytes(need: number): void {
    let n = this.bytes.length * 2;
    while (n < this.used + need) n *= 2;
    const b = new Uint8Array(n);
    b.set(this.bytes.subarray(0, this.used));
    this.bytes = b;
    this.shared = false;
  }
}

/**
 * Capture read buffer (one input; several get a quarter each) and output
 * buffer per port (also the write-behind chunk: 16 of 128 KiB stay in the
 * cache between the copy into them and the worker's write(2); with 512 KiB
 * both copies took a third more time).
 */
const READ_BUFFER = 1 << 20;
const WRITE_BUFFER = 128 << 10;
const FEEDBACK_BUFFER = 1 << 20;
/** The module's feedback queue (engine 'wasm'): entries and bytes (a full vector's worth of full slots, and more). */
const FAST_FEEDBACK_ENTRIES = 8192;
const FAST_FEEDBACK_BYTES = 4 << 20;
/** The module's control block and feedback queue, in one piece of the host region. */
const FAST_BYTES = R.RP_CTL_BYTES + FAST_FEEDBACK_ENTRIES * R.FE_SIZE + FAST_FEEDBACK_BYTES;

/**
 * `hostBytes` for a Dataplane that replays (compileTopology(topo, { hostBytes:
 * REPLAY_HOST_BYTES })): room in its memory for the capture read buffer, the
 * segment feedback queue (with the module's control block) and 16 output
 * buffers, so frames move between them and the slots inside the module's
 * memory (see the `engine` option). Without it replay works the same, through
 * buffers of its own (a view per frame).
 */
export const REPLAY_HOST_BYTES = READ_BUFFER + Math.max(FEEDBACK_BUFFER, FAST_BYTES) + 16 * WRITE_BUFFER;

/** The replay helpers of the module (assembly/replay.ts). */
interface ReplayExports {
  replaySetup(ctl: number, ent: number, entCap: number, buf: number, cap: number, maxHops: number, snaplen: number, outputs: number): void;
  replayStop(): number;
  replayLoops(): number;
  replayPcapPos(): number;
  replayFeedbackHead(): number;
  replayFeedbackTail(): number;
  replayFeedbackEntry(i: number): number;
  replayFeedbackBuf(): number;
  replayCompact(): void;
  replayFeedbackIn(first: number, max: number): number;
  replayPcapIn(buf: number, end: number, first: number, max: number, inPort: number, swap: number, nsMul: number, fracLimit: number, maxCaplen: number): number;
  replayEmit(from: number, nTx: number, noOutput: number): number;
}

/** Runs the inputs through dp. */
export function replay(dp: Dataplane, inputs: ReadonlyArray<ReplayInput>, opts: ReplayOptions): ReplayResult {
  const names: string[] = [];
  for (let p = 0; p < MAX_PORTS; p++) names.push(`port${p}`);
  for (const [name, id] of opts.ports) names[id] = name;
  let resolutionNs = false;
  const sawNs = (): void => {
    resolutionNs = true;
  };
  const readers: CaptureReader[] = [];
  const sources: Source[] = [];
  const host = new HostBuffers(dp);
  const readBuffer = inputs.filter((i) => i.path !== undefined).length > 1 ? READ_BUFFER >> 2 : READ_BUFFER;
  try {
    for (const inp of inputs) {
      const id = opts.ports.get(inp.port);
      if (id === undefined) throw new Error(`replay: unknown port "${inp.port}" (known: ${[...opts.ports.keys()].join(', ')})`);
      let src: Source;
      if (inp.path !== undefined) {
        // The reader's cursor: frames are copied into their slots straight
        // from its read buffer.
        const buffer = host.take(readBuffer);
        const reader = openCapture(inp.path, buffer ? { copy: false, buffer } : { copy: false });
        readers.push(reader);
        src = new Source(id, reader, undefined, inp.path, sawNs);
      } else src = new Source(id, undefined, (inp.frames ?? [])[Symbol.iterator](), '', sawNs);
      sources.push(src);
    }
    let inputBytes = 0;
    for (const inp of inputs) if (inp.path !== undefined) inputBytes += statSync(inp.path).size;
    const writeBehind = opts.outDir !== undefined && (opts.writeBehind ?? inputBytes >= WRITE_BEHIND_MIN);
    return run(dp, sources, readers, opts, names, () => resolutionNs, sawNs, host, writeBehind);
  } finally {
    for (const r of readers) r.close();
  }
}

const withBuffer = (buffer: Uint8Array | undefined): { buffer?: Uint8Array } => (buffer ? { buffer } : {});

/** Carves buffers out of the data plane's `host` region while it lasts. */
class HostBuffers {
  private at: number;
  private readonly end: number;
  constructor(private readonly dp: Dataplane) {
    const r = dp.regions.host;
    this.at = r?.ptr ?? 0;
    this.end = r ? r.ptr + r.bytes : 0;
  }

  take(bytes: number): Uint8Array | undefined {
    if (this.at + bytes > this.end) return undefined;
    const b = this.dp.bytes.subarray(this.at, this.at + bytes);
    this.at += bytes;
    return b;
  }
}

function run(
  dp: Dataplane, sources: Source[], readers: CaptureReader[], opts: ReplayOptions, names: string[], ns: () => boolean, sawNs: () => void,
  host: HostBuffers, writeBehind: boolean,
): ReplayResult {
  const outDir = opts.outDir;
  const collect = opts.collect === true;
  const maxHops = opts.maxSegmentHops ?? 8;
  // Segment peers: port id -> the other port ids of its segment (validated below, after the inputs' first records).
  const peerIds = (): Array<number[] | undefined> => {
    const peers: Array<number[] | undefined> = new Array(MAX_PORTS).fill(undefined);
    for (const seg of opts.segments ?? []) {
      const ids = seg.map((n) => {
        const id = opts.ports.get(n);
        if (id === undefined) throw new Error(`replay: unknown segment port "${n}"`);
        return id;
      });
      for (const id of ids) peers[id] = [...(peers[id] ?? []), ...ids.filter((x) => x !== id)];
    }
    return peers;
  };

  // Engine 'wasm': the module's helpers, its control block and feedback queue in the host region.
  const X = dp.exports as unknown as ReplayExports;
  let fastBytes: Uint8Array | undefined;
  if (opts.engine !== 'js' && !collect && typeof X.replayEmit === 'function') fastBytes = host.take(FAST_BYTES);
  let fast = fastBytes !== undefined;
  // One classic pcap input whose read buffer is in the module's memory: its records go into the slots from there.
  let bulk: PcapBulk | undefined;
  const single = sources.length === 1 ? sources[0]! : undefined;
  if (fast && single?.reader) {
    const b = single.reader.bulk();
    if (b && b.linkType === LINKTYPE_ETHERNET && b.src.buf.buffer === dp.memory.buffer) bulk = b;
  }
  let bulkLive = bulk !== undefined;
  /**
   * The bulk input's record that step() last reached, not queued yet: its
   * first (read and checked here as every input's is, queued with the first
   * vector), or one the reader read for the module and no slot was free for.
   */
  let bulkPending = false;
  if (bulk) {
    if (bulk.resolution === 'ns') sawNs();
    bulkPending = single!.reader!.step();
    bulkLive = bulkPending;
  } else for (const src of sources) src.advance();
  const peers = peerIds();

  const writers: Array<PcapWriter | undefined> = new Array(MAX_PORTS).fill(undefined);
  const files: Record<string, string> = {};
  const output: Record<string, TimedFrame[]> = {};
  if (outDir) mkdirSync(outDir, { recursive: true });
  let frames = 0;
  let segmentLoops = 0;
  // The TypeScript feedback queue: the 'js' engine's, and the 'wasm' engine's overflow (in memory of its own).
  const feedback = new FeedbackQueue(dp.bytes, !fast && opts.segments?.length ? host.take(FEEDBACK_BUFFER) : undefined);
  const hopsOf = new Uint32Array(MAX_VECTOR);
  // The transmit and descriptor vectors, read in place.
  const u8 = dp.bytes;
  const memBuf = dp.memory.buffer;
  const u16 = new Uint16Array(memBuf);
  const u32 = new Uint32Array(memBuf);
  const txW = dp.regions.tx!.ptr >>> 2;
  const descW = dp.regions.desc!.ptr >>> 2;
  const poolPtr = dp.regions.pool!.ptr;
  const freeTopW = (dp.regions.free!.ptr + FREE_TOP) >>> 2;
  const slotSize = dp.slotSize;
  // Started with the first output (undefined where it cannot run: then the writers write themselves).
  let wb: WriteBehind | undefined;
  let wbTried = false;

  // The control block (engine 'wasm').
  const ctl = fastBytes?.byteOffset ?? 0;
  const ctlW = ctl >>> 2;
  const outW = (port: number): number => ctlW + ((R.RP_OUT + port * R.RP_OUT_SIZE) >>> 2);
  const hopsW = ctlW + (R.RP_HOPS >>> 2);
  const rxW = ctlW + (R.RP_RX >>> 2);
  /** Ports whose rx the module counts: the inputs' and the segments'. */
  const rxPorts: number[] = [];
  if (fast) {
    let peerAt = 0;
    for (let p = 0; p < MAX_PORTS; p++) peerAt += peers[p]?.length ?? 0;
    if (peerAt > R.RP_PEER_MAX) fast = false;
  }
  if (fast) {
    u8.fill(0, ctl, ctl + R.RP_CTL_BYTES);
    let peerAt = 0;
    for (let p = 0; p < MAX_PORTS; p++) {
      const ps = peers[p];
      if (!ps) continue;
      u32[ctlW + (R.RP_PEERS >>> 2) + p] = peerAt | (ps.length << 16);
      for (const q of ps) u16[((ctl + R.RP_PEER_LIST) >>> 1) + peerAt++] = q;
      rxPorts.push(p);
    }
    for (const src of sources) if (!rxPorts.includes(src.port)) rxPorts.push(src.port);
    const entries = opts.feedbackEntries ?? FAST_FEEDBACK_ENTRIES;
    const ent = ctl + R.RP_CTL_BYTES;
    X.replaySetup(ctl, ent, entries, ent + FAST_FEEDBACK_ENTRIES * R.FE_SIZE, FAST_FEEDBACK_BYTES, maxHops, DEFAULT_SNAPLEN, outDir ? 1 : 0);
  }

  const nextInput = (): Source | undefined => {
    if (single) return single.has ? single : undefined;
    let best: Source | undefined;
    for (const c of sources) {
      if (!c.has) continue;
      if (!best || c.tsSec < best.tsSec || (c.tsSec === best.tsSec && c.tsNsec < best.tsNsec)) best = c;
    }
    return best;
  };

  /** The writer of `port`, opened with its first frame. */
  const writerOf = (port: number): PcapWriter => {
    let w = writers[port];
    if (!w) {
      const name = names[port] ?? `port${port}`;
      const file = join(outDir!, outputFileName(name));
      if (writeBehind && !wbTried) {
        wbTried = true;
        wb = opts.writeBehind === true && WriteBehind.supported ? WriteBehind.create(WRITE_BUFFER) : WriteBehind.start(WRITE_BUFFER);
      }
      const resolution = ns() ? 'ns' : 'us';
      // Frames move into the buffer inside the data plane's memory and,
      // full, to the write-behind thread in one copy.
      w = new PcapWriter(file, { resolution, bufferSize: WRITE_BUFFER, ...(wb ? { writeBehind: wb } : {}), ...withBuffer(host.take(WRITE_BUFFER)) });
      writers[port] = w;
      files[name] = file;
    }
    return w;
  };

  /** Engine 'wasm': what the module appended to the writer's buffer, into the writer. */
  const pull = (port: number): void => {
    const o = outW(port);
    if (!(u32[o + (R.RP_O_FLAGS >>> 2)]! & R.RP_OUT_ACTIVE)) return;
    writers[port]!.filled(u32[o + (R.RP_O_USED >>> 2)]!, u32[o + (R.RP_O_COUNT >>> 2)]!);
    u32[o + (R.RP_O_COUNT >>> 2)] = 0;
  };
  /** Engine 'wasm': the writer's buffer state, into the control block. */
  const push = (port: number): void => {
    const w = writers[port]!;
    const o = outW(port);
    const buf = w.buffer;
    if (buf.buffer === memBuf) {
      u32[o + (R.RP_O_BUF >>> 2)] = buf.byteOffset;
      u32[o + (R.RP_O_CAP >>> 2)] = buf.length;
      u32[o + (R.RP_O_USED >>> 2)] = w.buffered;
      u32[o + (R.RP_O_FLAGS >>> 2)] = R.RP_OUT_ACTIVE | (w.resolution === 'ns' ? R.RP_OUT_NS : 0);
    } else u32[o + (R.RP_O_FLAGS >>> 2)] = R.RP_OUT_HOST;
  };

  /** Transmit entry i, per frame in TypeScript: its output record, its segment copies (engine 'js'). */
  const emitJs = (i: number, withOutput = true): void => {
    const t = txW + i * (TX_SIZE >> 2);
    const port = u16[(t << 1) + (T_PORT >> 1)]!;
    const src = u16[(t << 1) + (T_SRC >> 1)]!;
    const a = poolPtr + u32[t + (T_SLOT >> 2)]! * slotSize + u32[t + (T_OFF >> 2)]!;
    const len = u32[t + (T_LEN >> 2)]!;
    const d = descW + src * (DESC_SIZE >> 2);
    const tsSec = u32[d + (D_TS_SEC >> 2)]!;
    const tsNsec = u32[d + (D_TS_NSEC >> 2)]!;
    if (outDir && withOutput) writerOf(port).writeBytes(u8, a, a + len, tsSec, tsNsec);
    if (collect) (output[names[port] ?? `port${port}`] ??= []).push({ data: u8.slice(a, a + len), tsSec, tsNsec });
    const p = peers[port];
    if (p) {
      const hops = hopsOf[src]! + 1;
      if (hops > maxHops) segmentLoops++;
      else for (const q of p) feedback.add(a, len, q, tsSec, tsNsec, hops);
    }
  };

  /** Engine 'wasm': queues frame src[start .. start + len) as input descriptor n (false: the pool is empty). */
  const pushFrame = (n: number, src: Uint8Array, start: number, len: number, port: number, tsSec: number, tsNsec: number): boolean => {
    const top = u32[freeTopW]!;
    if (top === 0) return false;
    u32[freeTopW] = top - 1;
    const slot = u32[freeTopW + top]!;
    if (HEADROOM + len <= slotSize) {
      const at = poolPtr + slot * slotSize + HEADROOM;
      if (src.buffer === memBuf) u8.copyWithin(at, src.byteOffset + start, src.byteOffset + start + len);
      else u8.set(src.subarray(start, start + len), at);
    }
    dp.describe(n, slot, HEADROOM, len, port, tsSec, tsNsec);
    u32[hopsW + n] = 0;
    if (port >= 0 && port < MAX_PORTS) dp.rxPerPort[port]!++;
    return true;
  };

  /**
   * Engine 'wasm', bulk input: true when the next record is whole in the read
   * buffer, in the module's memory, and passes the reader's checks (so
   * replayPcapIn takes it when there is a slot); false when the reader must
   * refill, move its buffer or report it.
   */
  const bulkNextReady = (): boolean => {
    const s = bulk!.src;
    if (s.buf.buffer !== memBuf) return false;
    const avail = s.end - s.pos;
    if (avail < 16) return false;
    const le = !bulk!.swap;
    const caplen = s.view.getUint32(s.pos + 8, le);
    return caplen <= bulk!.maxCaplen && s.view.getUint32(s.pos + 4, le) < bulk!.fracLimit && avail - 16 >= caplen;
  };

  /**
   * Engine 'wasm': fills input descriptors n.. from the inputs; returns the new
   * count. A descriptor is written only with a slot popped for it, and a record
   * is consumed only into a descriptor or as the pending head (bulkPending).
   */
  const fillInputs = (n: number): number => {
    if (bulk) {
      const s = bulk.src;
      const reader = single!.reader!;
      const swap = bulk.swap ? 1 : 0;
      for (;;) {
        if (bulkPending) {
          // The record step() last reached; its bytes stay where step() left them until the reader's next step().
          if (n >= MAX_VECTOR || !pushFrame(n, reader.recBuf, reader.recAt, reader.recLen, single!.port, reader.recTsSec, reader.recTsNsec)) break;
          n++;
          frames++;
          bulkPending = false;
        }
        if (!bulkLive || n >= MAX_VECTOR || u32[freeTopW] === 0) break;
        const buf = s.buf;
        if (buf.buffer === memBuf) {
          const base = buf.byteOffset;
          const k = X.replayPcapIn(base + s.pos, base + s.end, n, MAX_VECTOR - n, single!.port, swap, bulk.nsMul, bulk.fracLimit, bulk.maxCaplen);
          s.pos = X.replayPcapPos() - base;
          n += k;
          frames += k;
          if (n >= MAX_VECTOR || u32[freeTopW] === 0) break;
        }
        // A record the module left (cut by the buffer's end, one the reader
        // reports, or the buffer is not in the module's memory): the reader
        // reads it, and it is queued on the next turn when a slot is free.
        bulkLive = reader.step();
        bulkPending = bulkLive;
      }
      // As the 'js' engine does (it reads each input's next record as soon as
      // it queues one): the record after the last one queued is read and
      // checked before the vector runs, so a bad one is reported after the
      // same outputs.
      if (bulkLive && !bulkPending && !bulkNextReady()) {
        bulkLive = reader.step();
        bulkPending = bulkLive;
      }
      return n;
    }
    while (n < MAX_VECTOR) {
      const c = nextInput();
      if (!c) break;
      if (!pushFrame(n, c.buf, c.at, c.len, c.port, c.tsSec, c.tsNsec)) break;
      n++;
      frames++;
      c.advance();
    }
    return n;
  };

  /** Engine 'wasm' -> 'js' when the module's feedback queue is full: its frames move to the TypeScript queue. */
  const spill = (): void => {
    for (let p = 0; p < MAX_PORTS; p++) if (writers[p]) pull(p);
    const fb = X.replayFeedbackBuf();
    for (let q = X.replayFeedbackHead(), end = X.replayFeedbackTail(); q < end; q++) {
      const e = X.replayFeedbackEntry(q) >>> 2;
      const slot = u32[e + (R.FE_SLOT >>> 2)]!;
      const at = slot === R.FE_NO_SLOT ? fb + u32[e + (R.FE_START >>> 2)]! : poolPtr + slot * slotSize + HEADROOM;
      feedback.add(at, u32[e + (R.FE_LEN >>> 2)]!, u32[e + (R.FE_PORT >>> 2)]!, u32[e + (R.FE_SEC >>> 2)]!, u32[e + (R.FE_NSEC >>> 2)]!, u32[e + (R.FE_HOPS >>> 2)]!);
      if (slot !== R.FE_NO_SLOT) {
        // the frame's slot back to the pool (Dataplane's free stack: top, then the free slots)
        const top = u32[freeTopW]!;
        u32[freeTopW + 1 + top] = slot;
        u32[freeTopW] = top + 1;
      }
    }
    hopsOf.set(u32.subarray(hopsW, hopsW + MAX_VECTOR));
    segmentLoops += X.replayLoops();
    // The bulk input goes on through its reader's cursor.
    if (bulk) {
      bulk = undefined;
      if (bulkPending) {
        // not pushed yet: the cursor's head, as advance() would have left it
        const r = single!.reader!;
        Object.assign(single!, { has: true, buf: r.recBuf, at: r.recAt, len: r.recLen, tsSec: r.recTsSec, tsNsec: r.recTsNsec });
        bulkPending = false;
      } else if (bulkLive) single!.advance();
    }
    fast = false;
  };

  try {
    for (;;) {
      if (fast) {
        // Fill one vector: frames fed back from segments first (they were
        // sent in the vector before), then inputs in timestamp order.
        dp.releaseTx();
        X.replayCompact();
        let n = X.replayFeedbackIn(0, MAX_VECTOR);
        if (n < MAX_VECTOR && X.replayFeedbackHead() === X.replayFeedbackTail() && u32[freeTopW] !== 0) n = fillInputs(n);
        for (const p of rxPorts) {
          const c = u32[rxW + p]!;
          if (c) {
            dp.rxPerPort[p]! += c;
            u32[rxW + p] = 0;
          }
        }
        if (n === 0) break;
        const nTx = dp.run(n);
        let i = 0;
        let noOutput = -1;
        while (i < nTx) {
          i = X.replayEmit(i, nTx, noOutput);
          if (i >= nTx) break;
          const port = u16[((txW + i * (TX_SIZE >> 2)) << 1) + (T_PORT >> 1)]!;
          const why = X.replayStop();
          if (why === R.RP_NEED_WRITER) {
            writerOf(port);
            push(port);
          } else if (why === R.RP_FLUSH) {
            pull(port);
            writers[port]!.flush();
            push(port);
          } else if (why === R.RP_SLOW) {
            // This record through the writer; the module does the rest of the entry.
            pull(port);
            const t = txW + i * (TX_SIZE >> 2);
            const a = poolPtr + u32[t + (T_SLOT >> 2)]! * slotSize + u32[t + (T_OFF >> 2)]!;
            const d = descW + u16[(t << 1) + (T_SRC >> 1)]! * (DESC_SIZE >> 2);
            writers[port]!.writeBytes(u8, a, a + u32[t + (T_LEN >> 2)]!, u32[d + (D_TS_SEC >> 2)]!, u32[d + (D_TS_NSEC >> 2)]!);
            push(port);
            noOutput = i;
          } else {
            spill();
            for (; i < nTx; i++) emitJs(i, i !== noOutput);
          }
        }
        opts.onProgress?.(frames);
        continue;
      }
      // Engine 'js': the same, per frame in TypeScript.
      let n = 0;
      feedback.compact();
      while (!feedback.empty && n < MAX_VECTOR) {
        const q = feedback.head;
        const s = feedback.start[q]!;
        if (!dp.pushBytes(feedback.bytes, s, s + feedback.len[q]!, feedback.port[q]!, feedback.tsSec[q]!, feedback.tsNsec[q]!)) break;
        hopsOf[n++] = feedback.hops[q]!;
        feedback.head++;
      }
      while (n < MAX_VECTOR && feedback.empty) {
        const c = nextInput();
        if (!c) break;
        if (!dp.pushBytes(c.buf, c.at, c.at + c.len, c.port, c.tsSec, c.tsNsec)) break;
        hopsOf[n++] = 0;
        frames++;
        c.advance();
      }
      if (n === 0) break;
      const nTx = dp.run();
      for (let i = 0; i < nTx; i++) emitJs(i);
      opts.onProgress?.(frames);
    }
    dp.releaseTx();
  } finally {
    try {
      if (fast) for (let p = 0; p < MAX_PORTS; p++) if (writers[p]) pull(p);
      for (const w of writers) w?.close();
    } finally {
      wb?.close();
    }
  }
  if (fast) segmentLoops += X.replayLoops();

  const ports: Record<string, PortStats> = {};
  for (const [name, id] of opts.ports) ports[name] = { rx: dp.rxPerPort[id]!, tx: dp.txPerPort[id]! };
  const counters: Record<string, number> = {};
  for (const [k, v] of Object.entries(dp.counters(true))) counters[k] = Number(v);
  return { ports, counters, frames, files, output, segmentLoops };
}
