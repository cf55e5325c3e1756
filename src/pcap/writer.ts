import fs from 'node:fs';
import { PCAP_MAGIC_NS, PCAP_MAGIC_US } from './pcap-reader.ts';
import type { WriteBehind } from './write-behind.ts';

/** LINKTYPE_ETHERNET. */
export const LINKTYPE_ETHERNET = 1;
/** Default snapshot length, as tcpdump and Wireshark use. */
export const DEFAULT_SNAPLEN = 262144;
/** Default output buffer: 1 MiB. */
export const DEFAULT_WRITE_BUFFER = 1 << 20;

/** Options of {@link PcapWriter}. */
export interface PcapWriterOptions {
  /** Timestamp resolution of the file: 'us' (default, magic 0xa1b2c3d4) or 'ns' (0xa1b23c4d). */
  resolution?: 'us' | 'ns';
  /** LINKTYPE_* of the file (default 1, Ethernet). */
  linkType?: number;
  /** Snapshot length (default 262144); longer frames are cut to it. */
  snaplen?: number;
  /** Output buffer size in bytes (default 1 MiB). */
  bufferSize?: number;
  /**
   * Buffer output in this memory instead of a buffer of its own (`bufferSize`
   * is then its length): replay hands it a part of the data plane's memory,
   * so frames move into it with copyWithin (see `writeBytes`).
   */
  buffer?: Uint8Array;
  /**
   * Hand each full buffer to this write-behind thread (one bulk copy into its
   * shared memory) instead of writing it here. `close()` waits until
   * everything is written.
   */
  writeBehind?: WriteBehind;
}

/**
 * Writes a classic pcap file in little-endian order, buffering output and
 * flushing it with `fs.writeSync`. Call `close()` to flush the rest.
 *
 * @example
 * const w = new PcapWriter('out/c1_eth0.pcap', { resolution: 'ns' });
 * w.write(frame, 1700000000, 123456789);
 * w.close();
 */
export class PcapWriter {
  /** Records written so far. */
  count = 0;
  /** Path of the file being written. */
  readonly path: string;
  readonly resolution: 'us' | 'ns';
  readonly linkType: number;
  readonly snaplen: number;
  private fd: number;
  private readonly buf: Uint8Array;
  private readonly view: DataView;
  /** All of the buffer's ArrayBuffer (for copyWithin from elsewhere in it). */
  private readonly whole: Uint8Array;
  /** The last `src` of writeBytes, whether it shares the buffer's memory, and its offset (checking `.buffer` per frame costs more than the copy). */
  private lastSrc: Uint8Array | undefined;
  private lastShared = false;
  private sharedOff = 0;
  private readonly wb: WriteBehind | undefined;
  private used = 0;
  /** With write-behind to a regular file: file offset of the buffer's first byte (writes are positional); -1: sequential (a pipe). */
  private filePos = -1;
  private readonly nsDiv: number;

  constructor(path: string, opts: PcapWriterOptions = {}) {
    const resolution = opts.resolution ?? 'us';
    const linkType = opts.linkType ?? LINKTYPE_ETHERNET;
    const snaplen = opts.snaplen ?? DEFAULT_SNAPLEN;
    const bufferSize = opts.buffer ? opts.buffer.length : (opts.bufferSize ?? DEFAULT_WRITE_BUFFER);
    if (resolution !== 'us' && resolution !== 'ns') throw new RangeError(`resolution must be 'us' or 'ns', got ${String(resolution)}`);
    if (!isU32(linkType) || linkType > 0xffff) throw new RangeError(`linkType must be an integer 0..65535, got ${linkType}`);
    if (!isU32(snaplen) || snaplen < 1) throw new RangeError(`snaplen must be a positive 32-bit integer, got ${snaplen}`);
    if (!Number.isInteger(bufferSize) || bufferSize < 64) throw new RangeError(`bufferSize must be an integer >= 64, got ${bufferSize}`);
    this.path = path;
    this.resolution = resolution;
    this.linkType = linkType;
    this.snaplen = snaplen;
    this.nsDiv = resolution === 'ns' ? 1 : 1000;
    this.wb = opts.writeBehind;
    this.buf = opts.buffer ?? new Uint8Array(bufferSize);
    this.fd = fs.openSync(path, 'w');
    if (this.wb && fs.fstatSync(this.fd).isFile()) this.filePos = 0;
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
    this.whole = new Uint8Array(this.buf.buffer);
    const v = this.view;
    v.setUint32(0, resolution === 'ns' ? PCAP_MAGIC_NS : PCAP_MAGIC_US, true);
    v.setUint16(4, 2, true);
    v.setUint16(6, 4, true);
    v.setInt32(8, 0, true); // thiszone
    v.setUint32(12, 0, true); // sigfigs
    v.setUint32(16, snaplen, true);
    v.setUint32(20, linkType, true);
    this.used = 24;
  }

  /**
   * Append one frame. `tsSec` is an unsigned 32-bit second count, `tsNsec`
   * 0..999999999 (rounded down to µs in a µs file). Frames longer than the
   * snaplen are cut; `origLen` (default `data.length`) is kept as given.
   */
  write(data: Uint8Array, tsSec: number, tsNsec: number, origLen: number = data.length): void {
    if (this.fd < 0) throw new Error(`${this.path}: write after close`);
    if (!isU32(tsSec)) throw new RangeError(`tsSec must be an unsigned 32-bit integer, got ${tsSec}`);
    if (!isU32(tsNsec) || tsNsec > 999_999_999) throw new RangeError(`tsNsec must be an integer 0..999999999, got ${tsNsec}`);
    if (!isU32(origLen) || origLen < data.length) throw new RangeError(`origLen ${origLen} must be an unsigned 32-bit integer >= data.length (${data.length})`);
    const caplen = data.length < this.snaplen ? data.length : this.snaplen;
    if (this.buf.length - this.used < 16 + caplen) this.flush();
    const v = this.view;
    const o = this.used;
    v.setUint32(o, tsSec, true);
    v.setUint32(o + 4, this.nsDiv === 1 ? tsNsec : Math.floor(tsNsec / 1000), true);
    v.setUint32(o + 8, caplen, true);
    v.setUint32(o + 12, origLen, true);
    const frame = caplen === data.length ? data : data.subarray(0, caplen);
    if (16 + caplen <= this.buf.length) {
      this.buf.set(frame, o + 16);
      this.used = o + 16 + caplen;
    } else {
      // Larger than the whole buffer: write the header, then the frame directly.
      this.used = o + 16;
      this.flush();
      if (this.wb && this.filePos >= 0) {
        this.wb.write(this.fd, frame, this.filePos);
        this.filePos += frame.length;
      } else {
        this.wb?.drain();
        writeAll(this.fd, frame);
      }
    }
    this.count++;
  }

  /**
   * `write` of the bytes `src[start .. end)` without a view of them: when
   * `src` shares this writer's buffer memory (a data plane's memory, see the
   * `buffer` option), they are moved with copyWithin.
   */
  writeBytes(src: Uint8Array, start: number, end: number, tsSec: number, tsNsec: number): void {
    const len = end - start;
    if (src !== this.lastSrc) {
      this.lastSrc = src;
      this.lastShared = src.buffer === this.buf.buffer;
      this.sharedOff = src.byteOffset;
    }
    if (!this.lastShared || len > this.snaplen || 16 + len > this.buf.length || this.fd < 0 || !isU32(tsSec) || !isU32(tsNsec) || tsNsec > 999_999_999) {
      this.write(src.subarray(start, end), tsSec, tsNsec);
      return;
    }
    if (this.buf.length - this.used < 16 + len) this.flush();
    const v = this.view;
    const o = this.used;
    v.setUint32(o, tsSec, true);
    v.setUint32(o + 4, this.nsDiv === 1 ? tsNsec : Math.floor(tsNsec / 1000), true);
    v.setUint32(o + 8, len, true);
    v.setUint32(o + 12, len, true);
    const base = this.buf.byteOffset + o + 16;
    this.whole.copyWithin(base, this.sharedOff + start, this.sharedOff + end);
    this.used = o + 16 + len;
    this.count++;
  }

  /** @internal For replay's bulk path: the output buffer, which it fills itself (see `filled`). */
  get buffer(): Uint8Array {
    return this.buf;
  }

  /** @internal Bytes in the buffer not yet written out. */
  get buffered(): number {
    return this.used;
  }

  /**
   * @internal `records` whole records were appended to the buffer from
   * elsewhere, which now holds `used` bytes.
   */
  filled(used: number, records: number): void {
    this.used = used;
    this.count += records;
  }

  /** Write out what is buffered (the file stays open). */
  flush(): void {
    if (this.used > 0 && this.fd >= 0) {
      if (this.wb && this.filePos >= 0) {
        // At its place in the file: the write-behind thread or, when it is
        // behind, this one writes it.
        this.wb.write(this.fd, this.buf.subarray(0, this.used), this.filePos);
        this.filePos += this.used;
      } else if (this.wb) this.wb.write(this.fd, this.buf.subarray(0, this.used));
      else writeAll(this.fd, this.buf.subarray(0, this.used));
      this.used = 0;
    }
  }

  /** Flush and close the file. Idempotent. */
  close(): void {
    if (this.fd < 0) return;
    try {
      this.flush();
      this.wb?.drain();
    } finally {
      const fd = this.fd;
      this.fd = -1;
      fs.closeSync(fd);
    }
  }
}

function isU32(n: number): boolean {
  return n >>> 0 === n;
}

/** `fs.writeSync` until every byte is written. */
export function writeAll(fd: number, bytes: Uint8Array): void {
  let off = 0;
  while (off < bytes.length) off += fs.writeSync(fd, bytes, off, bytes.length - off);
}
