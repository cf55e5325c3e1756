/** One captured frame, as delivered by every reader in this module. */
export interface CaptureRecord {
  /**
   * Captured bytes. By default a fresh copy that the caller owns. With the
   * reader option `copy: false` it is a view into the reader's buffer, valid
   * only until the next record is requested.
   */
  data: Uint8Array;
  /** Original length on the wire (may exceed `data.length` when snapped). */
  origLen: number;
  /** Integer seconds since the epoch. */
  tsSec: number;
  /** Integer nanoseconds, 0..999999999 (exact for decimal resolutions, rounded down otherwise). */
  tsNsec: number;
  /** LINKTYPE_* value; 1 = Ethernet. */
  linkType: number;
  /** 0 for classic pcap; the interface's index within its section for pcapng. */
  interfaceId: number;
  /** 0-based pcapng section index; 0 for classic pcap. */
  section: number;
  /** 'ns' if the source resolution is finer than a microsecond, else 'us'. */
  resolution: 'us' | 'ns';
}

/** Container format, detected from the file's magic number. */
export type CaptureFormat = 'pcap' | 'pcapng';

/** A capture interface: the classic pcap file header, or one pcapng IDB. */
export interface CaptureInterface {
  linkType: number;
  /** Snapshot length; 0 means "no limit" in pcapng. */
  snaplen: number;
  resolution: 'us' | 'ns';
  /** Raw `if_tsresol` byte (pcapng) or 6 / 9 for a µs / ns classic pcap. */
  tsresol: number;
  /** `if_tsoffset` in seconds, added to every timestamp (0 when absent). */
  tsOffset: number;
  /** `if_name`, when the IDB carries one. */
  name?: string;
}

/** Options of {@link openCapture}, {@link readCaptureSync} and {@link readCapture}. */
export interface ReadOptions {
  /**
   * Size of the fixed read buffer in bytes (default 1 MiB). The buffer grows
   * only when one single record or block is larger than it.
   */
  bufferSize?: number;
  /**
   * `true` (default): each record's `data` is a fresh copy. `false`: `data`
   * is a view into the read buffer, valid until the next record is read
   * (no allocation or copy per record; copy out what you keep).
   */
  copy?: boolean;
  /** Sanity bound on a record's captured length (default 256 MiB). */
  maxCaplen?: number;
  /**
   * Read into this memory instead of a buffer of its own (`bufferSize` is then
   * its length): replay hands it a part of the data plane's memory so frames
   * move into their slots with copyWithin. A record larger than it still gets
   * a grown buffer of the reader's own, until it is consumed: then reading
   * goes back to this memory.
   */
  buffer?: Uint8Array;
}

/** I/O figures of a reader, for tests and tuning. */
export interface ReaderStats {
  /** Current read-buffer capacity in bytes. */
  bufferCapacity: number;
  /** Largest single read request issued to the file. */
  maxReadLength: number;
  /** Number of read calls. */
  readCalls: number;
  /** Bytes read from the file so far. */
  bytesRead: number;
}
