// Replay: frames from capture files (or memory) go through a Dataplane in
// timestamp order, in vectors; what leaves each port is written to one capture
// per port. Packet timestamps are the data plane's clock, so a replay is
// deterministic: the same inputs always give the same outputs.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Dataplane, MAX_VECTOR, D_TS_SEC, D_TS_NSEC } from '../dataplane/index.ts';
import { openCapture, PcapWriter, LINKTYPE_ETHERNET } from '../pcap/index.ts';

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
}

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

interface Cursor {
  port: number;
  next(): TimedFrame | undefined;
  head: TimedFrame | undefined;
  order: number;
}

interface Pending extends TimedFrame {
  port: number;
  hops: number;
}

/** Runs the inputs through dp. */
export function replay(dp: Dataplane, inputs: ReadonlyArray<ReplayInput>, opts: ReplayOptions): ReplayResult {
  const names = new Map<number, string>();
  for (const [name, id] of opts.ports) names.set(id, name);
  const resolutionNs = { value: false };
  const cursors: Cursor[] = inputs.map((inp, order) => {
    const id = opts.ports.get(inp.port);
    if (id === undefined) throw new Error(`replay: unknown port "${inp.port}" (known: ${[...opts.ports.keys()].join(', ')})`);
    let it: Iterator<TimedFrame>;
    if (inp.path !== undefined) {
      // Views into the read buffer are enough: a frame is copied into its
      // slot before the next one is read.
      const reader = openCapture(inp.path, { copy: false });
      const path = inp.path;
      it = {
        next: () => {
          const r = reader.next();
          if (!r.done && r.value.linkType !== LINKTYPE_ETHERNET) {
            throw new Error(`${path}: link type ${r.value.linkType} is not Ethernet (1); netwasm replays Ethernet frames`);
          }
          if (!r.done && r.value.resolution === 'ns') resolutionNs.value = true;
          return r.done ? { done: true, value: undefined } : { done: false, value: r.value };
        },
      };
    } else it = (inp.frames ?? [])[Symbol.iterator]();
    const c: Cursor = { port: id, order, head: undefined, next: () => { const r = it.next(); return r.done ? undefined : r.value; } };
    c.head = c.next();
    return c;
  });

  // Segment peers: port id -> the other port ids of its segment.
  const peers = new Map<number, number[]>();
  for (const seg of opts.segments ?? []) {
    const ids = seg.map((n) => {
      const id = opts.ports.get(n);
      if (id === undefined) throw new Error(`replay: unknown segment port "${n}"`);
      return id;
    });
    for (const id of ids) peers.set(id, [...(peers.get(id) ?? []), ...ids.filter((x) => x !== id)]);
  }

  const writers = new Map<number, PcapWriter>();
  const files: Record<string, string> = {};
  const output: Record<string, TimedFrame[]> = {};
  if (opts.outDir) mkdirSync(opts.outDir, { recursive: true });
  const maxHops = opts.maxSegmentHops ?? 8;
  let frames = 0;
  let segmentLoops = 0;
  let feedback: Pending[] = [];
  const hopsOf: number[] = new Array(MAX_VECTOR).fill(0);

  const nextInput = (): Cursor | undefined => {
    let best: Cursor | undefined;
    for (const c of cursors) {
      if (!c.head) continue;
      if (!best || c.head.tsSec < best.head!.tsSec || (c.head.tsSec === best.head!.tsSec && c.head.tsNsec < best.head!.tsNsec)) best = c;
    }
    return best;
  };

  for (;;) {
    // Fill one vector: frames fed back from segments first (they were sent
    // in the vector before), then inputs in timestamp order.
    let n = 0;
    const queued = feedback;
    feedback = [];
    let qi = 0;
    while (qi < queued.length && n < MAX_VECTOR) {
      const f = queued[qi++]!;
      if (!dp.push(f.data, f.port, f.tsSec, f.tsNsec)) break;
      hopsOf[n++] = f.hops;
    }
    if (qi < queued.length) feedback = queued.slice(qi);
    while (n < MAX_VECTOR && qi >= queued.length) {
      const c = nextInput();
      if (!c) break;
      const f = c.head!;
      if (!dp.push(f.data, c.port, f.tsSec, f.tsNsec)) break;
      hopsOf[n++] = 0;
      frames++;
      c.head = c.next();
    }
    if (n === 0) break;
    const nTx = dp.run();
    for (let i = 0; i < nTx; i++) {
      const port = dp.txPort(i);
      const src = dp.txSrc(i);
      const tsSec = dp.descField(src, D_TS_SEC);
      const tsNsec = dp.descField(src, D_TS_NSEC);
      const data = dp.txData(i);
      const name = names.get(port) ?? `port${port}`;
      if (opts.outDir) {
        let w = writers.get(port);
        if (!w) {
          const file = join(opts.outDir, outputFileName(name));
          w = new PcapWriter(file, { resolution: resolutionNs.value ? 'ns' : 'us' });
          writers.set(port, w);
          files[name] = file;
        }
        w.write(data, tsSec, tsNsec);
      }
      if (opts.collect) (output[name] ??= []).push({ data: data.slice(), tsSec, tsNsec });
      const p = peers.get(port);
      if (p) {
        const hops = hopsOf[src]! + 1;
        if (hops > maxHops) segmentLoops++;
        else for (const q of p) feedback.push({ data: data.slice(), tsSec, tsNsec, port: q, hops });
      }
    }
    opts.onProgress?.(frames);
  }
  dp.releaseTx();
  for (const w of writers.values()) w.close();

  const ports: Record<string, PortStats> = {};
  for (const [name, id] of opts.ports) ports[name] = { rx: dp.rxPerPort[id]!, tx: dp.txPerPort[id]! };
  const counters: Record<string, number> = {};
  for (const [k, v] of Object.entries(dp.counters(true))) counters[k] = Number(v);
  return { ports, counters, frames, files, output, segmentLoops };
}
