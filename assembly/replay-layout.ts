// The replay helpers' control block and feedback queue (assembly/replay.ts):
// the offsets shared with src/replay/replay.ts. Plain TypeScript that
// AssemblyScript also compiles: numeric constants only.

/** MAX_PORTS and MAX_VECTOR of assembly/layout.ts (src/replay checks they agree). */
export const RP_PORTS = 256;
export const RP_VECTOR = 256;

// ---- The control block (laid out by the host in its region) ----------------
/** Per output port, RP_OUT_SIZE bytes: u32 buffer address, capacity, bytes used, flags, records added. */
export const RP_OUT = 0;
export const RP_OUT_SIZE = 32;
export const RP_O_BUF = 0;
export const RP_O_CAP = 4;
export const RP_O_USED = 8;
export const RP_O_FLAGS = 12;
export const RP_O_COUNT = 16;
/** RP_O_FLAGS: the port has a writer whose buffer is ours to fill. */
export const RP_OUT_ACTIVE = 1;
/** RP_O_FLAGS: ns timestamps (else µs). */
export const RP_OUT_NS = 2;
/** RP_O_FLAGS: the port has a writer, but the host writes its records (its buffer is not in the module's memory). */
export const RP_OUT_HOST = 4;
/** Per port, u32: first peer (u16, an index in RP_PEER_LIST) | peer count << 16. */
export const RP_PEERS = RP_OUT + RP_PORTS * RP_OUT_SIZE;
/** u16 peer port ids. */
export const RP_PEER_LIST = RP_PEERS + RP_PORTS * 4;
export const RP_PEER_MAX = 1024;
/** Per port, u32: frames this module put into a vector (the host adds them to rxPerPort). */
export const RP_RX = RP_PEER_LIST + RP_PEER_MAX * 2;
/** Per input descriptor, u32: segment crossings of the frame so far. */
export const RP_HOPS = RP_RX + RP_PORTS * 4;
export const RP_CTL_BYTES = RP_HOPS + RP_VECTOR * 4;

// ---- Feedback queue entries ---------------------------------------------------
export const FE_START = 0; // u32: offset of the bytes in the feedback buffer
export const FE_LEN = 4;
export const FE_PORT = 8;
export const FE_HOPS = 12;
export const FE_SEC = 16;
export const FE_NSEC = 20;
/** u32: the slot the frame stayed in (at HEADROOM), or FE_NO_SLOT: its bytes are in the feedback buffer. */
export const FE_SLOT = 24;
export const FE_NO_SLOT = 0xffffffff;
export const FE_SIZE = 32;

/** Why replayEmit stopped before the end (the host does its part, then calls it again). */
export const RP_DONE = 0;
/** The port has no writer (in the control block) yet. */
export const RP_NEED_WRITER = 1;
/** The port's buffer has no room for the record: flush it. */
export const RP_FLUSH = 2;
/** The host writes this one (a record longer than the snaplen or the buffer, an odd timestamp, a port without buffer of ours). */
export const RP_SLOW = 3;
/** The feedback queue is full. */
export const RP_FEEDBACK_FULL = 4;

