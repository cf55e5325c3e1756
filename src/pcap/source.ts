import fs from 'node:fs';
import type { ReaderStats } from './types.ts';

/** Default read-buffer size: large sequential reads, bounded memory. */
export const DEFAULT_READ_BUFFER = 1 << 20;

/**
 * Sequential reader over a file descriptor through one fixed-size buffer
 * (internal). Parsers look at `buf[pos..end)` through `view`; `ensure(n)`
 * makes `n` bytes available at `pos`, moving the unread tail to the front
 * and refilling the rest of the buffer with one `fs.readSync`. The buffer
 * grows only when a single record is larger than it. Reads use the file's
 * own position, so pipes and FIFOs work too.
 */
export class ByteSource {
  buf: Uint8Array;
  view: DataView;
  /** Index in `buf` of the next unread byte. */
  pos = 0;
  /** Index in `buf` one past the last valid byte. */
  end = 0;
  /** File offset of `buf[0]`. */
  private base = 0;
  private fd: number;
  private eof = false;
  /** File size for a regular file (refreshed when a read would pass it), else Infinity. */
  private size: number;
  private readonly stats: ReaderStats;
  /** The caller's buffer (ReadOptions.buffer): reading goes back to it once a record that needed a larger one is consumed. */
  private readonly home: Uint8Array | undefined;

  constructor(fd: number, bufferSize: number, buffer?: Uint8Array) {
    this.fd = fd;
    const st = fs.fstatSync(fd);
    this.size = st.isFile() ? st.size : Infinity;
    this.home = buffer;
    this.buf = buffer ?? new Uint8Array(bufferSize);
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
    bufferSize = this.buf.length;
    this.stats = { bufferCapacity: bufferSize, maxReadLength: 0, readCalls: 0, bytesRead: 0 };
  }

  /** File offset of `buf[pos]`. */
  get offset(): number {
    return this.base + this.pos;
  }

  /** Bytes available at `pos` without reading. */
  get available(): number {
    return this.end - this.pos;
  }

  /** Bytes left in the file from `pos` (what is buffered, for a pipe). */
  get remaining(): number {
    return Number.isFinite(this.size) ? Math.max(this.size - this.offset, this.available) : this.available;
  }

  /** Make `n` bytes available at `pos`; false if the file ends first. */
  ensure(n: number): boolean {
    return this.end - this.pos >= n || this.fill(n);
  }

  /** Consume `n` bytes, reading through (not buffering) what is not loaded; returns the count skipped. */
  skip(n: number): number {
    const avail = this.end - this.pos;
    if (n <= avail) {
      this.pos += n;
      return n;
    }
    let left = n - avail;
    this.base += this.end;
    this.pos = this.end = 0;
    while (left > 0 && !this.eof) {
      const got = this.read(0, Math.min(left, this.buf.length));
      this.base += got;
      left -= got;
    }
    return n - left;
  }

  snapshot(): ReaderStats {
    return { ...this.stats };
  }

  close(): void {
    if (this.fd >= 0) {
      const fd = this.fd;
      this.fd = -1;
      this.eof = true;
      fs.closeSync(fd);
    }
  }

  private fill(n: number): boolean {
    if (this.eof) return false;
    let want = n;
    if (n > this.buf.length && this.offset + n > this.size) {
      // Never grow the buffer for a record the file is too short to hold
      // (a corrupt length); the size is re-read in case the file is growing.
      this.size = fs.fstatSync(this.fd).size;
      if (this.offset + n > this.size) want = this.buf.length;
    }
    const tail = this.end - this.pos;
    if (want > this.buf.length) {
      let cap = this.buf.length;
      while (cap < want) cap *= 2;
      const next = new Uint8Array(cap);
      next.set(this.buf.subarray(this.pos, this.end));
      this.buf = next;
      this.view = new DataView(next.buffer, next.byteOffset, next.byteLength);
      this.stats.bufferCapacity = cap;
    } else if (this.home && this.buf !== this.home && want <= this.home.length) {
      // The record that needed the larger buffer is consumed: back to the
      // caller's memory (tail < want, so it fits).
      const home = this.home;
      home.set(this.buf.subarray(this.pos, this.end));
      this.buf = home;
      this.view = new DataView(home.buffer, home.byteOffset, home.byteLength);
      this.stats.bufferCapacity = home.length;
    } else if (this.pos > 0) {
      this.buf.copyWithin(0, this.pos, this.end);
    }
    this.base += this.pos;
    this.pos = 0;
    this.end = tail;
    while (this.end < want && !this.eof) {
      this.end += this.read(this.end, this.buf.length - this.end);
    }
    return this.end >= n;
  }

  private read(at: number, len: number): number {
    const got = fs.readSync(this.fd, this.buf, at, len, null);
    const s = this.stats;
    s.readCalls++;
    s.bytesRead += got;
    if (len > s.maxReadLength) s.maxReadLength = len;
    if (got === 0) this.eof = true;
    return got;
  }
}
