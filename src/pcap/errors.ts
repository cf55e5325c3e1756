/**
 * Why a capture file could not be read. Kebab-case, like the data-plane
 * counter names, so a caller can branch on the kind without parsing text.
 */
export type CaptureErrorReason =
  | 'bad-magic'
  | 'bad-version'
  | 'truncated-header'
  | 'truncated-record'
  | 'bad-block-length'
  | 'block-length-mismatch'
  | 'caplen-too-large'
  | 'bad-timestamp'
  | 'bad-option'
  | 'unknown-interface';

/**
 * A truncated or corrupt capture file. The message names the file and the
 * byte offset of the bad record or block, e.g.
 * `captures/x.pcap: truncated packet record at byte offset 1234 (need 60 bytes, have 20)`.
 * Readers throw it only after every good record before `offset` was delivered.
 *
 * @example
 * try { for (const r of readCaptureSync(p)) use(r); }
 * catch (e) { if (e instanceof CaptureError) console.error(e.file, e.offset, e.reason); }
 */
export class CaptureError extends Error {
  /** Path of the capture file, as given to the reader. */
  readonly file: string;
  /** Byte offset in the file of the record or block that is bad. */
  readonly offset: number;
  /** Machine-readable kind of problem. */
  readonly reason: CaptureErrorReason;

  constructor(file: string, offset: number, reason: CaptureErrorReason, what: string, detail?: string) {
    super(`${file}: ${what} at byte offset ${offset}${detail === undefined ? '' : ` (${detail})`}`);
    this.name = 'CaptureError';
    this.file = file;
    this.offset = offset;
    this.reason = reason;
  }
}
