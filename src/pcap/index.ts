/**
 * Capture I/O: read classic pcap (µs/ns, either byte order) and pcapng,
 * write classic pcap (and pcapng), streaming through fixed-size buffers.
 */
export { CaptureError } from './errors.ts';
export type { CaptureErrorReason } from './errors.ts';
export type { CaptureFormat, CaptureInterface, CaptureRecord, ReadOptions, ReaderStats } from './types.ts';
export { CaptureReader, DEFAULT_MAX_CAPLEN, openCapture, readCapture, readCaptureSync } from './reader.ts';
export { DEFAULT_SNAPLEN, LINKTYPE_ETHERNET, PcapWriter } from './writer.ts';
export type { PcapWriterOptions } from './writer.ts';
export { WriteBehind } from './write-behind.ts';
export { PcapngWriter } from './pcapng-writer.ts';
export type { PcapngInterfaceOptions, PcapngSectionOptions } from './pcapng-writer.ts';
