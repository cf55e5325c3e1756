/**
 * Write-behind for capture writers: a worker thread that does the
 * `write(2)` calls of full output buffers while the caller goes on filling
 * the next ones. `write(fd, bytes)` copies the buffer in one bulk copy into a
 * free chunk of a SharedArrayBuffer (per-frame copies into shared memory are
 * 4x slower than into plain memory in V8; one 512 KiB copy costs ~20 µs) and
 * queues it, waiting with Atomics.wait only when every chunk is queued. One
 * worker, one FIFO queue: the chunks of a file are written in the order they
 * were queued. `write(fd, bytes, position)` writes at that file offset
 * (pwrite) instead, and when every chunk is queued the caller writes the
 * bytes itself rather than wait, so the two threads share the writing
 * whatever each one's speed. Synchronous for the caller (replay is a
 * synchronous call); the worker is unref'ed and ends with `close()`.
 *
 * Used by replay for large outputs on machines with a spare CPU: the kernel's
 * share of writing the captures (page-cache copies) then runs beside the data
 * plane instead of after it.
 *
 * @example
 * const wb = WriteBehind.start();
 * const w = new PcapWriter('out.pcap', wb ? { writeBehind: wb } : {});
 * // ... w.write(...)
 * w.close();      // waits for its chunks to be written
 * wb?.close();
 */
import { Worker, MessageChannel, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { writeSync } from 'node:fs';

// ctl (Int32Array) slots
const HEAD = 0; // entries the worker has written
const TAIL = 1; // entries submitted
const FREED = 2; // bumped (and notified) every time a chunk is freed
const FAILED = 3; // 1 after a write error (its message is on the port)
const IDLE = 4; // 1 while the worker waits for work (only then does submit notify)
const WAITING = 5; // 1 while the caller waits for a chunk or the drain (only then does the worker notify)
const QUEUE = 8; // ring of (chunk, fd, len, position low, position high) entries
const ENTRY = 5;
const CHUNK_FREE = 0;
/** How long a wait may see no write complete before the worker is taken for dead. */
const STALL_MS = 60_000;
const CHUNK_OWNED = 1;
const CHUNK_QUEUED = 2;

const WORKER = `
const { workerData } = require('node:worker_threads');
const fs = require('node:fs');
const { sab, ctl: ctlBuf, chunkSize, chunks, port } = workerData;
const ctl = new Int32Array(ctlBuf);
const state = new Int32Array(ctlBuf, ${QUEUE * 4} + chunks * ${ENTRY * 4}, chunks);
let head = 0;
for (;;) {
  const tail = Atomics.load(ctl, ${TAIL});
  if (head === tail) {
    Atomics.store(ctl, ${IDLE}, 1);
    if (Atomics.load(ctl, ${TAIL}) === tail) Atomics.wait(ctl, ${TAIL}, tail);
    Atomics.store(ctl, ${IDLE}, 0);
    continue;
  }
  const q = ${QUEUE} + (head % chunks) * ${ENTRY};
  const chunk = ctl[q], fd = ctl[q + 1], len = ctl[q + 2];
  if (chunk < 0) break;
  // a position (pwrite), or -1: the file's own offset
  const pos = ctl[q + 4] < 0 ? null : (ctl[q + 3] >>> 0) + ctl[q + 4] * 4294967296;
  if (Atomics.load(ctl, ${FAILED}) === 0) {
    try {
      const view = new Uint8Array(sab, chunk * chunkSize, len);
      let off = 0;
      while (off < len) off += fs.writeSync(fd, view, off, len - off, pos === null ? null : pos + off);
    } catch (e) {
      port.postMessage(String(e && e.stack || e));
      Atomics.store(ctl, ${FAILED}, 1);
    }
  }
  Atomics.store(state, chunk, ${CHUNK_FREE});
  head++;
  Atomics.store(ctl, ${HEAD}, head);
  Atomics.add(ctl, ${FREED}, 1);
  if (Atomics.load(ctl, ${WAITING})) {
    Atomics.notify(ctl, ${HEAD});
    Atomics.notify(ctl, ${FREED});
  }
}
`;

export class WriteBehind {
  readonly chunkSize: number;
  readonly chunks: number;
  private readonly sab: SharedArrayBuffer;
  private readonly ctl: Int32Array;
  private readonly state: Int32Array;
  private readonly worker: Worker;
  private readonly port: MessagePort;
  private tail = 0;
  private closed = false;

  private constructor(chunkSize: number, chunks: number) {
    this.chunkSize = chunkSize;
    this.chunks = chunks;
    this.sab = new SharedArrayBuffer(chunkSize * chunks);
    const ctlBuf = new SharedArrayBuffer(QUEUE * 4 + chunks * ENTRY * 4 + chunks * 4);
    this.ctl = new Int32Array(ctlBuf);
    this.state = new Int32Array(ctlBuf, QUEUE * 4 + chunks * ENTRY * 4, chunks);
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    this.worker = new Worker(WORKER, { eval: true, workerData: { sab: this.sab, ctl: ctlBuf, chunkSize, chunks, port: port2 }, transferList: [port2] });
    // A worker that dies is noticed by the waits (no progress); an 'error' event must not crash the process.
    this.worker.on('error', () => {});
    this.worker.unref();
    port1.unref();
  }

  /**
   * A write-behind thread with `chunks` buffers of `chunkSize` bytes, or
   * undefined where it would not pay or cannot run (one CPU, Deno, no
   * worker threads).
   */
  static start(chunkSize = 512 << 10, chunks = 16): WriteBehind | undefined {
    if (!WriteBehind.supported) return undefined;
    try {
      if (availableParallelism() < 2) return undefined;
      return new WriteBehind(chunkSize, chunks);
    } catch {
      return undefined;
    }
  }

  /**
   * Whether this runtime can run the write-behind thread: Node's
   * worker_threads; not Deno, whose node:worker_threads cannot run the
   * worker (an eval'd script sharing memory) — its writes fail.
   */
  static get supported(): boolean {
    return typeof (globalThis as { Deno?: unknown }).Deno === 'undefined';
  }

  /** A write-behind thread whatever the machine (throws if it cannot start one). */
  static create(chunkSize = 512 << 10, chunks = 16): WriteBehind {
    if (!WriteBehind.supported) throw new Error('write-behind: not available under Deno (its worker_threads cannot run the writer); write directly');
    if (!Number.isInteger(chunkSize) || chunkSize < 64 || !Number.isInteger(chunks) || chunks < 1) {
      throw new RangeError(`write-behind: chunkSize must be an integer >= 64 and chunks >= 1, got ${chunkSize} x ${chunks}`);
    }
    return new WriteBehind(chunkSize, chunks);
  }

  /** A free chunk if there is one now (no waiting), else -1. */
  private tryAcquire(): number {
    for (let c = 0; c < this.chunks; c++) {
      if (Atomics.compareExchange(this.state, c, CHUNK_FREE, CHUNK_OWNED) === CHUNK_FREE) return c;
    }
    return -1;
  }

  /** A free chunk (waiting for the worker to free one if need be): its index and bytes. */
  acquire(): { chunk: number; bytes: Uint8Array } {
    this.check();
    let since = Date.now();
    let head = Atomics.load(this.ctl, HEAD);
    for (;;) {
      const seen = Atomics.load(this.ctl, FREED);
      for (let c = 0; c < this.chunks; c++) {
        if (Atomics.compareExchange(this.state, c, CHUNK_FREE, CHUNK_OWNED) === CHUNK_FREE) {
          return { chunk: c, bytes: new Uint8Array(this.sab, c * this.chunkSize, this.chunkSize) };
        }
      }
      Atomics.store(this.ctl, WAITING, 1);
      Atomics.wait(this.ctl, FREED, seen, 1000);
      Atomics.store(this.ctl, WAITING, 0);
      this.check();
      [since, head] = this.progress(since, head);
    }
  }

  /**
   * Queues the first `len` bytes of `chunk` for fd (at file offset
   * `position`, or at the file's own offset); the chunk is not the caller's
   * any more.
   */
  submit(chunk: number, fd: number, len: number, position?: number): void {
    this.check();
    if (this.closed) throw new Error('write-behind: submit after close');
    Atomics.store(this.state, chunk, CHUNK_QUEUED);
    const q = QUEUE + (this.tail % this.chunks) * ENTRY;
    this.ctl[q] = chunk;
    this.ctl[q + 1] = fd;
    this.ctl[q + 2] = len;
    this.ctl[q + 3] = position === undefined ? 0 : position % 4294967296 | 0;
    this.ctl[q + 4] = position === undefined ? -1 : Math.floor(position / 4294967296);
    this.tail++;
    Atomics.store(this.ctl, TAIL, this.tail);
    if (Atomics.load(this.ctl, IDLE)) Atomics.notify(this.ctl, TAIL);
  }

  /** Gives an owned chunk back unwritten. */
  release(chunk: number): void {
    Atomics.store(this.state, chunk, CHUNK_FREE);
  }

  /**
   * Queues `bytes` to be written to fd (copied: the caller may reuse them at
   * once). Bytes larger than a chunk are written here, after the queue. With
   * a `position` they go to that file offset (pwrite), and are written here
   * at once when every chunk is queued (no wait, no copy): give positions to
   * every write of a file, or to none.
   */
  write(fd: number, bytes: Uint8Array, position?: number): void {
    if (position !== undefined) {
      if (!Number.isSafeInteger(position) || position < 0) throw new RangeError(`write-behind: position must be a non-negative integer, got ${position}`);
      this.check();
      if (this.closed) throw new Error('write-behind: write after close');
      // Every chunk queued (or the bytes larger than one): write them here,
      // at their place in the file, instead of waiting for the worker.
      const c = bytes.length > this.chunkSize ? -1 : this.tryAcquire();
      if (c < 0) {
        let off = 0;
        while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off, position + off);
        return;
      }
      new Uint8Array(this.sab, c * this.chunkSize, this.chunkSize).set(bytes);
      this.submit(c, fd, bytes.length, position);
      return;
    }
    if (bytes.length > this.chunkSize) {
      this.drain();
      let off = 0;
      while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
      return;
    }
    const c = this.acquire();
    c.bytes.set(bytes);
    this.submit(c.chunk, fd, bytes.length);
  }

  /** Waits until everything submitted is written; throws the worker's error if a write failed. */
  drain(): void {
    let since = Date.now();
    let seen = Atomics.load(this.ctl, HEAD);
    for (;;) {
      const head = Atomics.load(this.ctl, HEAD);
      if (head === this.tail) break;
      Atomics.store(this.ctl, WAITING, 1);
      Atomics.wait(this.ctl, HEAD, head, 1000);
      Atomics.store(this.ctl, WAITING, 0);
      [since, seen] = this.progress(since, seen);
    }
    this.check();
  }

  /** Throws when the worker has written nothing for STALL_MS while there was work (it died). */
  private progress(since: number, head: number): [number, number] {
    const now = Atomics.load(this.ctl, HEAD);
    if (now !== head) return [Date.now(), now];
    if (Date.now() - since > STALL_MS) throw new Error(`write-behind: the writer thread wrote nothing for ${STALL_MS / 1000} s`);
    return [since, head];
  }

  /** Drains, then ends the worker. Idempotent. */
  close(): void {
    if (this.closed) return;
    try {
      this.drain();
    } finally {
      this.closed = true;
      const q = QUEUE + (this.tail % this.chunks) * ENTRY;
      this.ctl[q] = -1;
      this.tail++;
      Atomics.store(this.ctl, TAIL, this.tail);
      Atomics.notify(this.ctl, TAIL);
      this.port.close();
    }
  }

  private check(): void {
    if (Atomics.load(this.ctl, FAILED) === 0) return;
    const m = receiveMessageOnPort(this.port);
    throw new Error(`write-behind: ${m ? String(m.message) : 'a write failed'}`);
  }
}
