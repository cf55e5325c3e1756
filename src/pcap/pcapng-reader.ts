/**
 * pcapng reader (internal; use `openCapture`). No maintained npm library
 * reads pcapng synchronously through a fixed buffer with byte offsets in its
 * errors (`pcap-parser` does not read pcapng at all), so this is by hand.
 *
 * Handles several sections (each may switch byte order; interface ids restart
 * per section), IDB options `if_tsresol` / `if_tsoffset` / `if_name`, EPB, SPB
 * and the obsolete PB. Every other block type (NRB, ISB, DSB, custom, ...) is
 * skipped by its length, without buffering it whole.
 */
import { CaptureError } from './errors.ts';
import type { ByteSource } from './source.ts';
import { DEFAULT_TSRESOL, TsUnits } from './tsresol.ts';
import type { CaptureInterface, CaptureRecord } from './types.ts';

export const BT_SHB = 0x0a0d0d0a;
export const BT_IDB = 0x00000001;
export const BT_PB = 0x00000002;
export const BT_SPB = 0x00000003;
export const BT_NRB = 0x00000004;
export const BT_ISB = 0x00000005;
export const BT_EPB = 0x00000006;
export const BYTE_ORDER_MAGIC = 0x1a2b3c4d;

export const OPT_ENDOFOPT = 0;
export const OPT_IF_NAME = 2;
export const OPT_IF_TSRESOL = 9;
export const OPT_IF_TSOFFSET = 14;

const SHB_MIN = 28;
const IDB_MIN = 20;
const EPB_MIN = 32;
const SPB_MIN = 16;
const PB_MIN = 32;
/** Room for options beyond the packet data when bounding a block's length. */
const OPTIONS_SLACK = 1 << 16;

/** An IDB as the packet path needs it. */
interface Iface {
  readonly linkType: number;
  readonly snaplen: number;
  readonly resolution: 'us' | 'ns';
  readonly tsOffset: number;
  readonly units: TsUnits;
}

const utf8 = new TextDecoder();

export class PcapngParser {
  /** Index of the current section (0-based). */
  section = -1;
  /** Byte order of the current section. */
  littleEndian = true;
  private ifaces: Iface[] = [];
  private infos: CaptureInterface[] = [];
  private readonly src: ByteSource;
  private readonly file: string;
  private readonly copy: boolean;
  private readonly maxCaplen: number;
  private readonly maxBlock: number;

  /** Reads the first section header; `src` must be at offset 0. */
  constructor(src: ByteSource, file: string, copy: boolean, maxCaplen: number) {
    this.src = src;
    this.file = file;
    this.copy = copy;
    this.maxCaplen = maxCaplen;
    this.maxBlock = maxCaplen + OPTIONS_SLACK;
    if (!src.ensure(4) || src.view.getUint32(src.pos, true) !== BT_SHB) {
      const got = src.available >= 4 ? `0x${src.view.getUint32(src.pos, true).toString(16).padStart(8, '0')}` : 'end of file';
      throw new CaptureError(file, 0, 'bad-magic', 'not a pcapng section header', got);
    }
    this.readSectionHeader();
  }

  /** Interfaces of the current section, by interface id. */
  get interfaces(): readonly CaptureInterface[] {
    return this.infos;
  }

  /** The next packet record, or null at a clean end of file. */
  next(): CaptureRecord | null {
    const src = this.src;
    for (;;) {
      if (!src.ensure(8)) {
        if (src.available === 0) return null;
        throw this.truncated('block header', 8);
      }
      const le = this.littleEndian;
      const type = src.view.getUint32(src.pos, le);
      if (type === BT_SHB) {
        this.readSectionHeader();
        continue;
      }
      const len = src.view.getUint32(src.pos + 4, le);
      this.checkLength(len, 12, false);
      if (type === BT_EPB) return this.packet(len, EPB_MIN, false);
      if (type === BT_SPB) return this.simplePacket(len);
      if (type === BT_IDB) this.interfaceDescription(len);
      else if (type === BT_PB) return this.packet(len, PB_MIN, true);
      else this.skipBlock(len);
    }
  }

  private readSectionHeader(): void {
    const src = this.src;
    if (!src.ensure(12)) throw this.truncated('section header block', 12);
    const v = src.view;
    const bom = v.getUint32(src.pos + 8, true);
    let le: boolean;
    if (bom === BYTE_ORDER_MAGIC) le = true;
    else if (bom === 0x4d3c2b1a) le = false;
    else throw new CaptureError(this.file, src.offset, 'bad-magic', 'bad section byte-order magic', `0x${bom.toString(16).padStart(8, '0')}`);
    const len = v.getUint32(src.pos + 4, le);
    this.checkLength(len, SHB_MIN);
    this.load(len, 'section header block');
    this.checkTrailer(len, le);
    const major = src.view.getUint16(src.pos + 12, le);
    if (major !== 1) {
      throw new CaptureError(this.file, src.offset, 'bad-version', 'unsupported pcapng version', `${major}.${src.view.getUint16(src.pos + 14, le)}`);
    }
    this.littleEndian = le;
    this.section++;
    this.ifaces = [];
    this.infos = [];
    src.pos += len;
  }

  private interfaceDescription(len: number): void {
    const src = this.src;
    const le = this.littleEndian;
    this.checkLength(len, IDB_MIN);
    this.load(len, 'interface description block');
    this.checkTrailer(len, le);
    const v = src.view;
    const p = src.pos;
    let tsresol = DEFAULT_TSRESOL;
    let tsOffset = 0;
    let name: string | undefined;
    const end = p + len - 4;
    let o = p + 16;
    while (o + 4 <= end) {
      const code = v.getUint16(o, le);
      const olen = v.getUint16(o + 2, le);
      if (code === OPT_ENDOFOPT) break;
      const at = o + 4;
      if (at + olen > end) {
        throw new CaptureError(this.file, src.offset, 'bad-option', 'corrupt interface description block', `option ${code} of length ${olen} overruns the block`);
      }
      if (code === OPT_IF_TSRESOL) {
        if (olen !== 1) throw new CaptureError(this.file, src.offset, 'bad-option', 'corrupt interface description block', `if_tsresol length ${olen}, expected 1`);
        tsresol = src.buf[at] ?? DEFAULT_TSRESOL;
      } else if (code === OPT_IF_TSOFFSET) {
        if (olen !== 8) throw new CaptureError(this.file, src.offset, 'bad-option', 'corrupt interface description block', `if_tsoffset length ${olen}, expected 8`);
        tsOffset = Number(v.getBigInt64(at, le));
      } else if (code === OPT_IF_NAME) {
        name = utf8.decode(src.buf.subarray(at, at + olen));
      }
      o = at + ((olen + 3) & ~3);
    }
    const units = new TsUnits(tsresol);
    const info: CaptureInterface = {
      linkType: v.getUint16(p + 8, le),
      snaplen: v.getUint32(p + 12, le),
      resolution: units.finerThanUs ? 'ns' : 'us',
      tsresol,
      tsOffset,
    };
    if (name !== undefined) info.name = name;
    this.infos.push(Object.freeze(info));
    this.ifaces.push({ linkType: info.linkType, snaplen: info.snaplen, resolution: info.resolution, tsOffset, units });
    src.pos += len;
  }

  /** An EPB, or an obsolete PB (16-bit interface id) when `obsolete`. */
  private packet(len: number, min: number, obsolete: boolean): CaptureRecord {
    const src = this.src;
    const le = this.littleEndian;
    this.checkLength(len, min);
    this.load(len, 'packet block');
    this.checkTrailer(len, le);
    const v = src.view;
    const p = src.pos;
    const ifid = obsolete ? v.getUint16(p + 8, le) : v.getUint32(p + 8, le);
    const iface = this.ifaces[ifid];
    if (iface === undefined) {
      throw new CaptureError(this.file, src.offset, 'unknown-interface', `packet block references unknown interface id ${ifid}`, `section ${this.section} has ${this.ifaces.length} interface(s)`);
    }
    const caplen = v.getUint32(p + 20, le);
    if (caplen > len - min || caplen > this.maxCaplen) {
      throw new CaptureError(this.file, src.offset, 'caplen-too-large', 'corrupt packet block', `captured length ${caplen} exceeds the block body (${len - min} bytes)`);
    }
    const units = iface.units;
    units.convert(v.getUint32(p + 12, le), v.getUint32(p + 16, le));
    const origLen = v.getUint32(p + 24, le);
    const d = p + 28;
    src.pos = p + len;
    return {
      data: this.copy ? src.buf.slice(d, d + caplen) : src.buf.subarray(d, d + caplen),
      origLen,
      tsSec: units.sec + iface.tsOffset,
      tsNsec: units.nsec,
      linkType: iface.linkType,
      interfaceId: ifid,
      section: this.section,
      resolution: iface.resolution,
    };
  }

  /** An SPB: interface 0, no timestamp (0.0), captured length min(original length, snaplen). */
  private simplePacket(len: number): CaptureRecord {
    const src = this.src;
    const le = this.littleEndian;
    this.checkLength(len, SPB_MIN);
    this.load(len, 'simple packet block');
    this.checkTrailer(len, le);
    const iface = this.ifaces[0];
    if (iface === undefined) {
      throw new CaptureError(this.file, src.offset, 'unknown-interface', 'simple packet block before any interface description', `section ${this.section}`);
    }
    const p = src.pos;
    const origLen = src.view.getUint32(p + 8, le);
    const caplen = iface.snaplen !== 0 && iface.snaplen < origLen ? iface.snaplen : origLen;
    if (caplen > len - SPB_MIN) {
      throw new CaptureError(this.file, src.offset, 'bad-block-length', 'simple packet block too short', `need ${caplen} bytes of packet data, block has ${len - SPB_MIN}`);
    }
    const d = p + 12;
    src.pos = p + len;
    return {
      data: this.copy ? src.buf.slice(d, d + caplen) : src.buf.subarray(d, d + caplen),
      origLen,
      tsSec: 0,
      tsNsec: 0,
      linkType: iface.linkType,
      interfaceId: 0,
      section: this.section,
      resolution: iface.resolution,
    };
  }

  /** Skip a block we do not interpret; large ones are read through, not buffered. */
  private skipBlock(len: number): void {
    const src = this.src;
    const le = this.littleEndian;
    if (len <= src.buf.length) {
      this.load(len, 'block');
      this.checkTrailer(len, le);
      src.pos += len;
      return;
    }
    const off = src.offset;
    const body = len - 4;
    const skipped = src.skip(body);
    if (skipped < body || !src.ensure(4)) {
      throw new CaptureError(this.file, off, 'truncated-record', 'truncated block', `need ${len} bytes, have ${skipped + src.available}`);
    }
    const trailer = src.view.getUint32(src.pos, le);
    if (trailer !== len) {
      throw new CaptureError(this.file, off, 'block-length-mismatch', 'block length mismatch', `header says ${len}, trailer says ${trailer}`);
    }
    src.pos += 4;
  }

  /** Minimum, alignment and (for blocks that get buffered) a sanity bound. */
  private checkLength(len: number, min: number, bounded = true): void {
    if (len < min || len % 4 !== 0 || (bounded && len > this.maxBlock)) {
      const why = len < min ? `${len} is less than ${min}` : len % 4 !== 0 ? `${len} is not a multiple of 4` : `${len} exceeds ${this.maxBlock}`;
      throw new CaptureError(this.file, this.src.offset, 'bad-block-length', 'bad block length', why);
    }
  }

  /** Buffer the whole block at the current position. */
  private load(len: number, what: string): void {
    if (!this.src.ensure(len)) throw this.truncated(what, len);
  }

  private checkTrailer(len: number, le: boolean): void {
    const src = this.src;
    const trailer = src.view.getUint32(src.pos + len - 4, le);
    if (trailer !== len) {
      throw new CaptureError(this.file, src.offset, 'block-length-mismatch', 'block length mismatch', `header says ${len}, trailer says ${trailer}`);
    }
  }

  private truncated(what: string, need: number): CaptureError {
    const src = this.src;
    return new CaptureError(this.file, src.offset, 'truncated-record', `truncated ${what}`, `need ${need} bytes, have ${src.remaining}`);
  }
}
