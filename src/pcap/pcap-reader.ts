/**
 * Classic pcap reader (internal; use `openCapture`).
 *
 * Written by hand rather than with `pcap-parser` (0.2.1, a dependency): that
 * library is a push-style EventEmitter over a read stream that re-concatenates
 * its whole pending buffer on every chunk, knows only the microsecond magic,
 * reports no byte offsets, cannot be paused per record or read synchronously,
 * and its errors are plain `Error`s. Everything we need here (both magics, both
 * byte orders, offsets in errors, a fixed pull buffer) is a few dozen lines.
 */
import { CaptureError } from './errors.ts';
import type { ByteSource } from './source.ts';
import type { CaptureInterface, CaptureRecord } from './types.ts';

/** Magic numbers as read little-endian from the first four bytes. */
export const PCAP_MAGIC_US = 0xa1b2c3d4;
export const PCAP_MAGIC_NS = 0xa1b23c4d;
export const PCAP_MAGIC_US_SWAPPED = 0xd4c3b2a1;
export const PCAP_MAGIC_NS_SWAPPED = 0x4d3cb2a1;

const FILE_HEADER = 24;
const RECORD_HEADER = 16;

/** True when `magicLE` (first four bytes read little-endian) is a classic pcap magic. */
export function isPcapMagic(magicLE: number): boolean {
  return (
    magicLE === PCAP_MAGIC_US ||
    magicLE === PCAP_MAGIC_NS ||
    magicLE === PCAP_MAGIC_US_SWAPPED ||
    magicLE === PCAP_MAGIC_NS_SWAPPED
  );
}

export class PcapParser {
  readonly littleEndian: boolean;
  readonly iface: CaptureInterface;
  private readonly src: ByteSource;
  private readonly file: string;
  private readonly copy: boolean;
  /** @internal Largest caplen accepted (replay's bulk path applies the same rules). */
  readonly maxCaplen: number;
  /** @internal 1000 for a µs file, 1 for ns. */
  readonly nsMul: number;
  /** @internal A record's fraction must be below this. */
  readonly fracLimit: number;

  /** Parses the 24-byte file header; `src` must be at offset 0. */
  constructor(src: ByteSource, file: string, copy: boolean, maxCaplen: number) {
    this.src = src;
    this.file = file;
    this.copy = copy;
    this.maxCaplen = maxCaplen;
    if (!src.ensure(FILE_HEADER)) {
      throw new CaptureError(file, 0, 'truncated-header', 'truncated pcap file header', `need ${FILE_HEADER} bytes, have ${src.available}`);
    }
    const v = src.view;
    const p = src.pos;
    const magic = v.getUint32(p, true);
    if (!isPcapMagic(magic)) {
      throw new CaptureError(file, 0, 'bad-magic', 'bad pcap magic', `0x${magic.toString(16).padStart(8, '0')}`);
    }
    const le = magic === PCAP_MAGIC_US || magic === PCAP_MAGIC_NS;
    const ns = magic === PCAP_MAGIC_NS || magic === PCAP_MAGIC_NS_SWAPPED;
    const major = v.getUint16(p + 4, le);
    if (major !== 2) {
      throw new CaptureError(file, 0, 'bad-version', 'unsupported pcap version', `${major}.${v.getUint16(p + 6, le)}`);
    }
    this.littleEndian = le;
    this.nsMul = ns ? 1 : 1000;
    this.fracLimit = ns ? 1_000_000_000 : 1_000_000;
    this.iface = Object.freeze({
      // The upper bits of this field carry FCS information; the link type is the low 16.
      linkType: v.getUint32(p + 20, le) & 0xffff,
      snaplen: v.getUint32(p + 16, le),
      resolution: ns ? 'ns' : 'us',
      tsresol: ns ? 9 : 6,
      tsOffset: 0,
    });
    src.pos += FILE_HEADER;
  }

  /** Of the record `step()` last reached: its bytes are `src.buf[at .. at + caplen)`. */
  at = 0;
  caplen = 0;
  origLen = 0;
  tsSec = 0;
  tsNsec = 0;

  /**
   * Moves to the next record without allocating: returns false at a clean end
   * of file, else sets `at`, `caplen`, `origLen`, `tsSec`, `tsNsec` (the
   * bytes stay valid until the next call).
   */
  step(): boolean {
    const src = this.src;
    if (!src.ensure(RECORD_HEADER)) {
      const have = src.available;
      if (have === 0) return false;
      throw new CaptureError(this.file, src.offset, 'truncated-record', 'truncated record header', `need ${RECORD_HEADER} bytes, have ${have}`);
    }
    const v = src.view;
    let p = src.pos;
    const le = this.littleEndian;
    const tsSec = v.getUint32(p, le);
    const frac = v.getUint32(p + 4, le);
    const caplen = v.getUint32(p + 8, le);
    const origLen = v.getUint32(p + 12, le);
    if (caplen > this.maxCaplen) {
      throw new CaptureError(this.file, src.offset, 'caplen-too-large', 'corrupt record header', `captured length ${caplen} exceeds ${this.maxCaplen}`);
    }
    if (frac >= this.fracLimit) {
      throw new CaptureError(this.file, src.offset, 'bad-timestamp', 'corrupt record header', `timestamp fraction ${frac} out of range`);
    }
    const size = RECORD_HEADER + caplen;
    if (!src.ensure(size)) {
      throw new CaptureError(this.file, src.offset, 'truncated-record', 'truncated packet record', `need ${size} bytes, have ${src.remaining}`);
    }
    p = src.pos + RECORD_HEADER; // ensure() may have moved the buffer
    src.pos = p + caplen;
    this.at = p;
    this.caplen = caplen;
    this.origLen = origLen;
    this.tsSec = tsSec;
    this.tsNsec = frac * this.nsMul;
    return true;
  }

  /** The next record, or null at a clean end of file. */
  next(): CaptureRecord | null {
    if (!this.step()) return null;
    const buf = this.src.buf;
    const p = this.at;
    const iface = this.iface;
    return {
      data: this.copy ? buf.slice(p, p + this.caplen) : buf.subarray(p, p + this.caplen),
      origLen: this.origLen,
      tsSec: this.tsSec,
      tsNsec: this.tsNsec,
      linkType: iface.linkType,
      interfaceId: 0,
      section: 0,
      resolution: iface.resolution,
    };
  }
}
