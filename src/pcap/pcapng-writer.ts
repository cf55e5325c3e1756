import fs from 'node:fs';
import { BT_EPB, BT_IDB, BT_SHB, BT_SPB, BYTE_ORDER_MAGIC, OPT_IF_NAME, OPT_IF_TSOFFSET, OPT_IF_TSRESOL } from './pcapng-reader.ts';
import { DEFAULT_TSRESOL, TsUnits } from './tsresol.ts';
import { DEFAULT_SNAPLEN, DEFAULT_WRITE_BUFFER, LINKTYPE_ETHERNET, writeAll } from './writer.ts';

/** Options of {@link PcapngWriter} and {@link PcapngWriter.startSection}. */
export interface PcapngSectionOptions {
  /** Byte order of the section (default 'le'). */
  byteOrder?: 'le' | 'be';
}

/** Options of {@link PcapngWriter.addInterface}. */
export interface PcapngInterfaceOptions {
  /** LINKTYPE_* (default 1, Ethernet). */
  linkType?: number;
  /** Snapshot length (default 262144; 0 = no limit). */
  snaplen?: number;
  /**
   * Raw `if_tsresol` byte: 10^-v seconds, or 2^-(v & 0x7f) with the high bit
   * set (e.g. 9 = ns, 0x80 | 20 = 2^-20 s). Default 6 (µs, no option written).
   */
  tsresol?: number;
  /** `if_tsoffset` in seconds (written only when given). */
  tsOffset?: number;
  /** `if_name`. */
  name?: string;
}

interface WriterIface {
  snaplen: number;
  units: TsUnits;
  tsOffset: number;
}

const utf8 = new TextEncoder();

/**
 * Writes pcapng: sections of either byte order, interfaces with their own
 * timestamp resolution, EPBs, SPBs, and raw blocks of any type (for tests of
 * readers that must skip them). Timestamps are rounded down to each
 * interface's resolution.
 *
 * @example
 * const w = new PcapngWriter('out.pcapng', { byteOrder: 'be' });
 * const eth0 = w.addInterface({ tsresol: 9, name: 'eth0' });
 * w.writePacket(eth0, frame, 1700000000, 5);
 * w.startSection({ byteOrder: 'le' }); // interface ids restart at 0
 * w.close();
 */
export class PcapngWriter {
  /** Packet blocks written so far (EPB and SPB). */
  count = 0;
  readonly path: string;
  private fd: number;
  private le = true;
  private ifaces: WriterIface[] = [];
  private readonly buf: Uint8Array;
  private readonly view: DataView;
  private used = 0;

  constructor(path: string, opts: PcapngSectionOptions & { bufferSize?: number } = {}) {
    const size = opts.bufferSize ?? DEFAULT_WRITE_BUFFER;
    if (!Number.isInteger(size) || size < 64) throw new RangeError(`bufferSize must be an integer >= 64, got ${size}`);
    this.path = path;
    this.buf = new Uint8Array(size);
    this.view = new DataView(this.buf.buffer);
    this.fd = fs.openSync(path, 'w');
    this.startSection(opts);
  }

  /** Start a new section (SHB); its interfaces are numbered from 0 again. */
  startSection(opts: PcapngSectionOptions = {}): void {
    this.le = (opts.byteOrder ?? 'le') === 'le';
    this.ifaces = [];
    const body = new Uint8Array(16);
    const v = new DataView(body.buffer);
    v.setUint32(0, BYTE_ORDER_MAGIC, this.le);
    v.setUint16(4, 1, this.le);
    v.setUint16(6, 0, this.le);
    v.setBigInt64(8, -1n, this.le); // section length not specified
    this.writeBlock(BT_SHB, body);
  }

  /** Describe an interface (IDB) in the current section; returns its id. */
  addInterface(opts: PcapngInterfaceOptions = {}): number {
    const tsresol = opts.tsresol ?? DEFAULT_TSRESOL;
    const snaplen = opts.snaplen ?? DEFAULT_SNAPLEN;
    const options: Uint8Array[] = [];
    if (opts.tsresol !== undefined) options.push(this.option(OPT_IF_TSRESOL, Uint8Array.of(tsresol)));
    if (opts.tsOffset !== undefined) {
      const val = new Uint8Array(8);
      new DataView(val.buffer).setBigInt64(0, BigInt(opts.tsOffset), this.le);
      options.push(this.option(OPT_IF_TSOFFSET, val));
    }
    if (opts.name !== undefined) options.push(this.option(OPT_IF_NAME, utf8.encode(opts.name)));
    if (options.length > 0) options.push(new Uint8Array(4)); // opt_endofopt
    const optLen = options.reduce((n, o) => n + o.length, 0);
    const body = new Uint8Array(8 + optLen);
    const v = new DataView(body.buffer);
    v.setUint16(0, opts.linkType ?? LINKTYPE_ETHERNET, this.le);
    v.setUint32(4, snaplen, this.le);
    let at = 8;
    for (const o of options) {
      body.set(o, at);
      at += o.length;
    }
    this.writeBlock(BT_IDB, body);
    this.ifaces.push({ snaplen, units: new TsUnits(tsresol), tsOffset: opts.tsOffset ?? 0 });
    return this.ifaces.length - 1;
  }

  /** Write an EPB on `interfaceId`; data is cut to the interface's snaplen. */
  writePacket(interfaceId: number, data: Uint8Array, tsSec: number, tsNsec: number, origLen: number = data.length): void {
    const iface = this.ifaces[interfaceId];
    if (iface === undefined) throw new RangeError(`no interface ${interfaceId} in the current section`);
    const caplen = iface.snaplen !== 0 && iface.snaplen < data.length ? iface.snaplen : data.length;
    const [hi, lo] = iface.units.fromTimestamp(tsSec - iface.tsOffset, tsNsec);
    const body = new Uint8Array(20 + pad4(caplen));
    const v = new DataView(body.buffer);
    v.setUint32(0, interfaceId, this.le);
    v.setUint32(4, hi, this.le);
    v.setUint32(8, lo, this.le);
    v.setUint32(12, caplen, this.le);
    v.setUint32(16, origLen, this.le);
    body.set(data.subarray(0, caplen), 20);
    this.writeBlock(BT_EPB, body);
    this.count++;
  }

  /** Write an SPB (interface 0, no timestamp); data is cut to interface 0's snaplen. */
  writeSimplePacket(data: Uint8Array, origLen: number = data.length): void {
    const iface = this.ifaces[0];
    if (iface === undefined) throw new RangeError('a simple packet block needs interface 0 in the current section');
    const limit = iface.snaplen !== 0 && iface.snaplen < origLen ? iface.snaplen : origLen;
    const caplen = Math.min(limit, data.length);
    const body = new Uint8Array(4 + pad4(caplen));
    new DataView(body.buffer).setUint32(0, origLen, this.le);
    body.set(data.subarray(0, caplen), 4);
    this.writeBlock(BT_SPB, body);
    this.count++;
  }

  /** Write a block of any type; `body` is padded to 4 bytes. */
  writeBlock(type: number, body: Uint8Array): void {
    if (this.fd < 0) throw new Error(`${this.path}: write after close`);
    const total = 12 + pad4(body.length);
    if (this.buf.length - this.used < total) this.flush();
    if (total > this.buf.length) {
      const block = new Uint8Array(total);
      fillBlock(new DataView(block.buffer), block, 0, type, total, body, this.le);
      writeAll(this.fd, block);
      return;
    }
    fillBlock(this.view, this.buf, this.used, type, total, body, this.le);
    this.used += total;
  }

  /** Write out what is buffered. */
  flush(): void {
    if (this.used > 0 && this.fd >= 0) {
      writeAll(this.fd, this.buf.subarray(0, this.used));
      this.used = 0;
    }
  }

  /** Flush and close the file. Idempotent. */
  close(): void {
    if (this.fd < 0) return;
    try {
      this.flush();
    } finally {
      const fd = this.fd;
      this.fd = -1;
      fs.closeSync(fd);
    }
  }

  private option(code: number, value: Uint8Array): Uint8Array {
    const o = new Uint8Array(4 + pad4(value.length));
    const v = new DataView(o.buffer);
    v.setUint16(0, code, this.le);
    v.setUint16(2, value.length, this.le);
    o.set(value, 4);
    return o;
  }
}

function pad4(n: number): number {
  return (n + 3) & ~3;
}

function fillBlock(v: DataView, bytes: Uint8Array, at: number, type: number, total: number, body: Uint8Array, le: boolean): void {
  v.setUint32(at, type, le);
  v.setUint32(at + 4, total, le);
  bytes.set(body, at + 8);
  bytes.fill(0, at + 8 + body.length, at + total - 4);
  v.setUint32(at + total - 4, total, le);
}
