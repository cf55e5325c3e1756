import fs from 'node:fs';
import { CaptureError } from './errors.ts';
import { PcapParser, isPcapMagic } from './pcap-reader.ts';
import { BT_SHB, PcapngParser } from './pcapng-reader.ts';
import { ByteSource, DEFAULT_READ_BUFFER } from './source.ts';
import type { CaptureFormat, CaptureInterface, CaptureRecord, ReadOptions, ReaderStats } from './types.ts';

/** Default sanity bound on a record's captured length: 256 MiB. */
export const DEFAULT_MAX_CAPLEN = 256 * 1024 * 1024;
const MIN_BUFFER = 64;
const MAX_BUFFER = 1 << 30;
/** `readCapture` lets the event loop run after this many records. */
const ASYNC_BATCH = 4096;
const EMPTY = new Uint8Array(0);

/**
 * An open capture file (classic pcap or pcapng, detected by magic), read
 * sequentially through one fixed-size buffer. Iterable; `read()` is the
 * allocation-light form. The file is closed at the end, on an error, on
 * `close()`, or when a `for...of` loop exits early.
 *
 * @example
 * const cap = openCapture('captures/c1.pcap', { bufferSize: 1 << 16 });
 * for (let r = cap.read(); r !== null; r = cap.read()) handle(r.data, r.tsSec, r.tsNsec);
 */
export class CaptureReader implements Iterator<CaptureRecord, undefined>, Iterable<CaptureRecord> {
  /** Path as given to {@link openCapture}; used in error messages. */
  readonly path: string;
  readonly format: CaptureFormat;
  private readonly src: ByteSource;
  private readonly parser: PcapParser | PcapngParser;
  private closed = false;
  private failed = false;
  private failure: unknown;

  /** @internal Use {@link openCapture}. */
  constructor(path: string, src: ByteSource, parser: PcapParser | PcapngParser) {
    this.path = path;
    this.src = src;
    this.parser = parser;
    this.format = parser instanceof PcapParser ? 'pcap' : 'pcapng';
  }

  /**
   * Interfaces of the current section: one (from the file header) for classic
   * pcap; the IDBs read so far in the current section for pcapng.
   */
  get interfaces(): readonly CaptureInterface[] {
    return this.parser instanceof PcapParser ? [this.parser.iface] : this.parser.interfaces;
  }

  /** Byte order of the file (classic pcap) or of the current section (pcapng). */
  get byteOrder(): 'le' | 'be' {
    return this.parser.littleEndian ? 'le' : 'be';
  }

  /** I/O figures: buffer capacity, largest read, read calls, bytes read. */
  get stats(): ReaderStats {
    return this.src.snapshot();
  }

  /**
   * The next record, or null at the end of the file. Throws {@link CaptureError}
   * at the first bad record (every good record before it has been returned),
   * and again on any later call.
   */
  read(): CaptureRecord | null {
    if (this.closed) {
      if (this.failed) throw this.failure;
      return null;
    }
    try {
      const rec = this.parser.next();
      if (rec === null) this.close();
      return rec;
    } catch (err) {
      this.failed = true;
      this.failure = err;
      this.close();
      throw err;
    }
  }

  /** Of the record {@link step} last reached: its bytes are `recBuf[recAt .. recAt + recLen)`. */
  recBuf: Uint8Array = EMPTY;
  recAt = 0;
  recLen = 0;
  recOrigLen = 0;
  recTsSec = 0;
  recTsNsec = 0;
  recLinkType = 0;
  recResolution: 'us' | 'ns' = 'us';

  /**
   * The allocation-free form of {@link read}, for hot loops: moves to the next
   * record and returns true (its bytes are `recBuf[recAt .. recAt + recLen)`,
   * a view valid until the next call whatever the `copy` option; its fields
   * in `recTsSec`, `recTsNsec`, `recOrigLen`, `recLinkType`, `recResolution`),
   * or false at the end of the file. Errors as {@link read}.
   *
   * @example
   * while (cap.step()) dp.pushBytes(cap.recBuf, cap.recAt, cap.recAt + cap.recLen, 0, cap.recTsSec, cap.recTsNsec);
   */
  step(): boolean {
    if (this.closed) {
      if (this.failed) throw this.failure;
      return false;
    }
    try {
      const parser = this.parser;
      if (parser instanceof PcapParser) {
        if (!parser.step()) {
          this.close();
          return false;
        }
        this.recBuf = this.src.buf;
        this.recAt = parser.at;
        this.recLen = parser.caplen;
        this.recOrigLen = parser.origLen;
        this.recTsSec = parser.tsSec;
        this.recTsNsec = parser.tsNsec;
        this.recLinkType = parser.iface.linkType;
        this.recResolution = parser.iface.resolution;
        return true;
      }
      const rec = parser.next();
      if (rec === null) {
        this.close();
        return false;
      }
      this.recBuf = rec.data;
      this.recAt = 0;
      this.recLen = rec.data.length;
      this.recOrigLen = rec.origLen;
      this.recTsSec = rec.tsSec;
      this.recTsNsec = rec.tsNsec;
      this.recLinkType = rec.linkType;
      this.recResolution = rec.resolution;
      return true;
    } catch (err) {
      this.failed = true;
      this.failure = err;
      this.close();
      throw err;
    }
  }

  /**
   * @internal For replay's bulk path (records parsed in the data plane's
   * module straight from the read buffer): the classic pcap file's byte
   * source and record rules, or undefined for pcapng or a closed reader. The
   * caller may move `src.pos` past whole records it took, and must leave
   * every other record (a truncated or corrupt one) to step().
   */
  bulk(): PcapBulk | undefined {
    const parser = this.parser;
    if (this.closed || !(parser instanceof PcapParser)) return undefined;
    return {
      src: this.src,
      swap: !parser.littleEndian,
      nsMul: parser.nsMul,
      fracLimit: parser.fracLimit,
      maxCaplen: parser.maxCaplen,
      linkType: parser.iface.linkType,
      resolution: parser.iface.resolution,
    };
  }

  next(): IteratorResult<CaptureRecord, undefined> {
    const rec = this.read();
    return rec === null ? { done: true, value: undefined } : { done: false, value: rec };
  }

  return(): IteratorResult<CaptureRecord, undefined> {
    this.close();
    return { done: true, value: undefined };
  }

  [Symbol.iterator](): this {
    return this;
  }

  /** Close the file; further reads return null. Idempotent. */
  close(): void {
    if (!this.closed) {
      this.closed = true;
      this.src.close();
    }
  }
}

/** @internal What {@link CaptureReader.bulk} gives. */
export interface PcapBulk {
  src: ByteSource;
  /** The file is big-endian. */
  swap: boolean;
  nsMul: number;
  fracLimit: number;
  maxCaplen: number;
  linkType: number;
  resolution: 'us' | 'ns';
}

/**
 * Open a capture file, detecting classic pcap (µs or ns, either byte order)
 * or pcapng by its magic number. Throws {@link CaptureError} when the file is
 * neither or its header is cut off, and the usual `fs` errors (ENOENT, ...).
 *
 * @example
 * const cap = openCapture('in.pcapng');
 * console.log(cap.format); // 'pcapng'
 * for (const r of cap) console.log(r.interfaceId, r.tsSec, r.tsNsec, r.data.length);
 */
export function openCapture(path: string, opts: ReadOptions = {}): CaptureReader {
  const bufferSize = opts.buffer ? opts.buffer.length : (opts.bufferSize ?? DEFAULT_READ_BUFFER);
  const maxCaplen = opts.maxCaplen ?? DEFAULT_MAX_CAPLEN;
  const copy = opts.copy ?? true;
  if (!Number.isInteger(bufferSize) || bufferSize < MIN_BUFFER || bufferSize > MAX_BUFFER) {
    throw new RangeError(`bufferSize must be an integer from ${MIN_BUFFER} to ${MAX_BUFFER}, got ${bufferSize}`);
  }
  if (!Number.isInteger(maxCaplen) || maxCaplen < 1) {
    throw new RangeError(`maxCaplen must be a positive integer, got ${maxCaplen}`);
  }
  const src = new ByteSource(fs.openSync(path, 'r'), bufferSize, opts.buffer);
  try {
    if (!src.ensure(4)) {
      throw new CaptureError(path, 0, 'truncated-header', 'file too short for a capture header', `need 4 bytes, have ${src.available}`);
    }
    const magic = src.view.getUint32(src.pos, true);
    let parser: PcapParser | PcapngParser;
    if (isPcapMagic(magic)) parser = new PcapParser(src, path, copy, maxCaplen);
    else if (magic === BT_SHB) parser = new PcapngParser(src, path, copy, maxCaplen);
    else throw new CaptureError(path, 0, 'bad-magic', 'not a pcap or pcapng file, bad magic', `0x${magic.toString(16).padStart(8, '0')}`);
    return new CaptureReader(path, src, parser);
  } catch (err) {
    src.close();
    throw err;
  }
}

/**
 * Read every record of a capture file, synchronously, through a fixed-size
 * buffer (see {@link ReadOptions}). The file is opened on the first `next()`
 * and closed when the generator finishes, throws, or is abandoned by `break`.
 *
 * @example
 * for (const r of readCaptureSync('captures/c1.pcap')) frames.push(r.data);
 */
export function* readCaptureSync(path: string, opts?: ReadOptions): Generator<CaptureRecord, void, undefined> {
  const cap = openCapture(path, opts);
  try {
    for (let rec = cap.read(); rec !== null; rec = cap.read()) yield rec;
  } finally {
    cap.close();
  }
}

/**
 * Async-iterator form of {@link readCaptureSync}. Reads stay synchronous (a
 * bounded buffer at a time); the event loop gets a turn every few thousand
 * records so a multi-GB capture does not starve other work.
 *
 * @example
 * for await (const r of readCapture('captures/c1.pcap')) await send(r.data);
 */
export async function* readCapture(path: string, opts?: ReadOptions): AsyncGenerator<CaptureRecord, void, undefined> {
  const cap = openCapture(path, opts);
  try {
    let n = 0;
    for (let rec = cap.read(); rec !== null; rec = cap.read()) {
      yield rec;
      if (++n % ASYNC_BATCH === 0) await new Promise<void>((resolve) => setImmediate(resolve));
    }
  } finally {
    cap.close();
  }
}
