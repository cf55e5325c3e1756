/**
 * pcapng timestamp units (internal). An `if_tsresol` byte with the high bit
 * clear means 10^-v seconds per unit, with it set 2^-(v & 0x7f). A 64-bit
 * unit count is split into seconds + nanoseconds exactly, without BigInt for
 * every resolution up to 10^-11 and 2^-23 (long division by 16-bit limbs keeps
 * every intermediate below 2^53); anything finer falls back to BigInt.
 * Nanoseconds are rounded down when the unit does not divide a nanosecond.
 */

/** Default `if_tsresol`: microseconds. */
export const DEFAULT_TSRESOL = 6;

const TWO_32 = 4294967296;
const FAST_LIMIT = 2 ** 37;

export class TsUnits {
  /** The raw `if_tsresol` byte. */
  readonly tsresol: number;
  /** True when a unit is finer than a microsecond. */
  readonly finerThanUs: boolean;
  /** Seconds from the last `convert`. */
  sec = 0;
  /** Nanoseconds from the last `convert`. */
  nsec = 0;

  private readonly perSec: number;
  private readonly bigPerSec: bigint;
  /** 0: nsec = r * nsMul; 1: nsec = floor(r / nsDiv); 2: nsec = floor(r * 1e9 / perSec); 3: BigInt. */
  private readonly mode: 0 | 1 | 2 | 3;
  private readonly nsMul: number;
  private readonly nsDiv: number;

  constructor(tsresol: number) {
    this.tsresol = tsresol;
    const binary = (tsresol & 0x80) !== 0;
    const exp = tsresol & 0x7f;
    this.bigPerSec = binary ? 1n << BigInt(exp) : 10n ** BigInt(exp);
    this.perSec = Number(this.bigPerSec);
    this.finerThanUs = this.perSec > 1e6;
    this.nsMul = 1;
    this.nsDiv = 1;
    if (this.perSec > FAST_LIMIT) this.mode = 3;
    else if (binary) this.mode = exp <= 23 ? 2 : 3;
    else if (exp <= 9) {
      this.mode = 0;
      this.nsMul = 10 ** (9 - exp);
    } else {
      this.mode = 1;
      this.nsDiv = 10 ** (exp - 9);
    }
  }

  /** Split the unit count `hi * 2^32 + lo` into `sec` and `nsec`. */
  convert(hi: number, lo: number): void {
    if (this.mode === 3) return this.convertBig(hi, lo);
    const d = this.perSec;
    // Long division of four 16-bit limbs: r < d <= 2^37, so r * 65536 + limb < 2^53.
    let r = hi >>> 16;
    let q = Math.floor(r / d);
    r -= q * d;
    let cur = r * 65536 + (hi & 0xffff);
    let t = Math.floor(cur / d);
    r = cur - t * d;
    q = q * 65536 + t;
    cur = r * 65536 + (lo >>> 16);
    t = Math.floor(cur / d);
    r = cur - t * d;
    q = q * 65536 + t;
    cur = r * 65536 + (lo & 0xffff);
    t = Math.floor(cur / d);
    r = cur - t * d;
    this.sec = q * 65536 + t;
    this.nsec = this.mode === 0 ? r * this.nsMul : this.mode === 1 ? Math.floor(r / this.nsDiv) : Math.floor((r * 1e9) / d);
  }

  /** Unit count for a timestamp (rounded down), as [hi, lo] 32-bit halves; for writers. */
  fromTimestamp(sec: number, nsec: number): [number, number] {
    const units = BigInt(sec) * this.bigPerSec + (BigInt(nsec) * this.bigPerSec) / 1_000_000_000n;
    if (units < 0n || units >= 1n << 64n) throw new RangeError(`timestamp ${sec}.${nsec} does not fit 64 bits at if_tsresol ${this.tsresol}`);
    return [Number(units >> 32n), Number(units & 0xffffffffn)];
  }

  private convertBig(hi: number, lo: number): void {
    const units = BigInt(hi) * BigInt(TWO_32) + BigInt(lo);
    const per = this.bigPerSec;
    this.sec = Number(units / per);
    this.nsec = Number(((units % per) * 1_000_000_000n) / per);
  }
}
