// The IPVS region of linear memory: the single source of every offset shared
// by the AssemblyScript node (assembly/ipvs.ts, conntrack.ts) and its
// TypeScript control plane (src/ipvs/). Plain TypeScript that AssemblyScript
// also compiles: numeric constants and enums only.
//
// The region is one TablePlan ('ipvs') laid out as:
//   header (IH_SIZE) | bridges | services | service hash | real servers |
//   address hash | mark rules | arena (lookup tables, service dest lists) |
//   builder work area | connection buckets | connection entries
// The header records where each part is, so the control plane reads the
// layout back instead of recomputing it.

// ---- header -------------------------------------------------------------------
export const IH_SIZE = 1024;
/** u32: IPVS_MAGIC once set up. */
export const IH_MAGIC = 0;
export const IPVS_MAGIC = 0x49505653; // "IPVS"
export const IH_MAX_SVC = 4;
export const IH_MAX_DEST = 8;
/** u32: connection capacity (entries). */
export const IH_CONN_CAP = 12;
/** u32: connection hash buckets (a power of two). */
export const IH_CONN_BUCKETS = 16;
/** u32: mh table size M (a prime of the kernel's list). */
export const IH_MH_M = 20;
/** u32: the kernel's IP_VS_MH_TAB_BITS (CONFIG_IP_VS_MH_TAB_INDEX / 2). */
export const IH_MH_BITS = 24;
export const IH_BRIDGES = 28;
export const IH_SVC_TAB = 32;
export const IH_SVC_HASH = 36;
export const IH_SVC_HASH_MASK = 40;
export const IH_DEST_TAB = 44;
export const IH_ADDR_HASH = 48;
export const IH_ADDR_HASH_MASK = 52;
export const IH_MARK_RULES = 56;
/** u32: mark rules in use (0 = no fwmark classification at all). */
export const IH_MARK_COUNT = 60;
export const IH_ARENA = 64;
export const IH_ARENA_BYTES = 68;
export const IH_WORK = 72;
export const IH_WORK_BYTES = 76;
export const IH_CONN_BUCKET_PTR = 80;
export const IH_CONN_ENTRIES = 84;
/** u32: entries ever handed out by the bump allocator (high-water mark). */
export const IH_CONN_BUMP = 88;
/** u32: head of the free list (entry index + 1; 0 = empty). */
export const IH_CONN_FREE = 92;
/** u32: entries in use (connections and templates). */
export const IH_CONN_LIVE = 96;
/** u32: next bucket the sweeper looks at. */
export const IH_SWEEP = 100;
/** u32: seed of the connection hash. */
export const IH_CONN_SEED = 104;
/** u32: IpvsSysctl bits. */
export const IH_SYSCTL = 108;
/** u32: templates in use (persistence). */
export const IH_CONN_TEMPLATES = 112;
/** u32: buckets the sweeper visits per second of packet time. */
export const IH_SWEEP_STEP = 116;
/** u32: bridges with at least one service (0: the graph skips the IPVS touch pass). */
export const IH_ACTIVE_BRIDGES = 120;
/** u32 x TO_COUNT: timeouts in seconds, by TcpState, then TO_UDP, TO_ICMP (at most MAX_TIMEOUT). */
export const IH_TIMEOUTS = 128;
/**
 * u32 x 3 x 5 x 11: the TCP transition table joined with the timeouts,
 * [direction][event][state] = timeout(next) << 8 | next (built by the data
 * plane from IH_TIMEOUTS: conntrackTimeouts()).
 */
export const IH_TCP_TABLE = 256;
/** Longest timeout, seconds (24 bits: 194 days). */
export const MAX_TIMEOUT = 0xffffff;

/** Bits of IH_SYSCTL (as the net.ipv4.vs.* sysctls). */
export enum IpvsSysctl {
  /** expire_nodest_conn: a connection whose real server is gone is expired on its next packet (Docker sets it). */
  EXPIRE_NODEST_CONN = 1,
  /** expire_quiescent_template: a persistence template to a weight-0 server is not reused. */
  EXPIRE_QUIESCENT_TEMPLATE = 2,
  /** sloppy_tcp: schedule TCP on any packet, not only SYN. */
  SLOPPY_TCP = 4,
}

/** IPVS TCP states (IP_VS_TCP_S_*), indexes of the timeout table. */
export enum TcpState {
  NONE = 0,
  ESTABLISHED = 1,
  SYN_SENT = 2,
  SYN_RECV = 3,
  FIN_WAIT = 4,
  TIME_WAIT = 5,
  CLOSE = 6,
  CLOSE_WAIT = 7,
  LAST_ACK = 8,
  LISTEN = 9,
  SYNACK = 10,
}
/** Timeout table index of UDP (single state). */
export const TO_UDP = 11;
/** Timeout table index of ICMP and other protocols. */
export const TO_ICMP = 12;
export const TO_COUNT = 13;

// ---- bridges: IPVS_MAX_BRIDGES x BR_SIZE -------------------------------------------
/** Bridge domains that can carry services (ids 0..4095). */
export const IPVS_MAX_BRIDGES = 4096;
export const BR_SIZE = 16;
/** u32: services on this bridge (0 = the hook lets everything pass untouched). */
export const BR_SERVICES = 0;
/** u64: MAC that answers ARP/ND for this bridge's VIPs and sources rewritten replies (48 bits, first byte most significant). */
export const BR_MAC = 8;

// ---- virtual services: maxServices x SVC_SIZE --------------------------------------
export const SVC_SIZE = 128;
/** u8: 1 when the entry is in use. */
export const S_USED = 0;
/** u8: 4 or 6. */
export const S_AF = 1;
/** u8: IP protocol (6 TCP, 17 UDP); 0 for a firewall-mark service. */
export const S_PROTO = 2;
/** u8: Scheduler. */
export const S_SCHED = 3;
/** u32: firewall mark (fwmark services), else 0. */
export const S_FWMARK = 4;
/** u16: virtual port, network order as load<u16> reads it (0 = all ports). */
export const S_PORT = 8;
/** u16: SvcFlag bits. */
export const S_FLAGS = 10;
/** u32: persistence timeout in seconds. */
export const S_TIMEOUT = 12;
/** u32: persistence netmask: IPv4 mask as load<u32> reads it; IPv6 prefix length. */
export const S_NETMASK = 16;
/** u16: bridge domain. */
export const S_BRIDGE = 20;
/** u16: real servers in the list. */
export const S_NDESTS = 22;
/** u32: address of u16[S_NDESTS] real server indexes, in the kernel's list order (newest first). */
export const S_DESTS = 24;
/** u32: address of the scheduler's lookup table (mh table, Maglev ring, sh buckets: i32 real server indexes, -1 empty). */
export const S_TABLE = 28;
/** u32: slots in S_TABLE. */
export const S_TABLE_SIZE = 32;
/** u32: rr/wrr cursor: position in the list of the last pick (S_NDESTS = the list head). */
export const S_CURSOR = 36;
/** i32: wrr current weight. */
export const S_WRR_CW = 40;
/** i32: wrr maximum weight (reduced by di - 1, as the kernel does). */
export const S_WRR_MW = 44;
/** i32: wrr decreasing interval (gcd of weights). */
export const S_WRR_DI = 48;
/** u32: Katran vip flags for the maglev scheduler (MaglevFlag). */
export const S_MAGLEV_FLAGS = 52;
/** u8[16]: virtual address (IPv4 in the first 4 bytes). */
export const S_ADDR = 64;
/** u64 statistics (ipvsadm --stats). */
export const S_CONNS = 80;
export const S_INPKTS = 88;
export const S_OUTPKTS = 96;
export const S_INBYTES = 104;
export const S_OUTBYTES = 112;

/** Schedulers (ipvsadm -s). */
export enum Scheduler {
  RR = 0,
  WRR = 1,
  LC = 2,
  WLC = 3,
  SH = 4,
  MH = 5,
  /** Katran's Maglev ring (MaglevHash v1 / MaglevHashV2) with Katran's packet hash. */
  MAGLEV = 6,
}

/** Service flags (IP_VS_SVC_F_*). */
export enum SvcFlag {
  PERSISTENT = 0x1,
  HASHED = 0x2,
  ONEPACKET = 0x4,
  /** mh-fallback / sh-fallback. */
  SCHED1 = 0x8,
  /** mh-port / sh-port. */
  SCHED2 = 0x10,
  SCHED3 = 0x20,
}

/** Katran vip flags the maglev scheduler honours (balancer_consts.h). */
export enum MaglevFlag {
  /** F_HASH_NO_SRC_PORT: the client port is not hashed. */
  HASH_NO_SRC_PORT = 1,
  /** F_HASH_DPORT_ONLY: only the destination port is hashed. */
  HASH_DPORT_ONLY = 8,
}

/** sh table size (IP_VS_SH_TAB_BITS = 8). */
export const SH_TAB_BITS = 8;
export const SH_TAB_SIZE = 256;

// ---- service hash: u16 slots (service index + 1) ------------------------------------

// ---- real servers: maxDests x DEST_SIZE ---------------------------------------------
export const DEST_SIZE = 128;
export const R_USED = 0;
export const R_AF = 1;
/** u8: Forward. */
export const R_FWD = 2;
/** u8: DestFlag bits. */
export const R_FLAGS = 3;
/** u16: generation, bumped when the slot is freed (connections remember it). */
export const R_GEN = 4;
/** u16: real port, network order as load<u16> reads it (0 = the packet's port). */
export const R_PORT = 6;
/** i32: current weight (0 = quiesced). */
export const R_WEIGHT = 8;
export const R_ACTIVE = 12;
export const R_INACT = 16;
export const R_PERSIST = 20;
/** u32: upper connection threshold (0 = none). */
export const R_UTHRESH = 24;
/** u32: lower connection threshold. */
export const R_LTHRESH = 28;
/** u8[16]: address. */
export const R_ADDR = 32;
/** u64: the real server's MAC (48 bits, first byte most significant). */
export const R_MAC = 48;
/** u16: service index. */
export const R_SVC = 56;
export const R_CONNS = 64;
export const R_INPKTS = 72;
export const R_OUTPKTS = 80;
export const R_INBYTES = 88;
export const R_OUTBYTES = 96;

/** Packet forwarding method (ipvsadm -m / -g). */
export enum Forward {
  NAT = 0,
  DR = 1,
}

/** Real server flags (IP_VS_DEST_F_*). */
export enum DestFlag {
  AVAILABLE = 1,
  OVERLOAD = 2,
}

// ---- address hash: ADDR_SIZE records keyed (bridge, af, kind, address) --------------
export const ADDR_SIZE = 32;
/** u16: bridge. */
export const A_BRIDGE = 0;
/** u8: 4 or 6 (0 = empty slot). */
export const A_AF = 2;
/** u8: AddrKind. */
export const A_KIND = 3;
/** u32: references (services using the VIP / real servers at the address). */
export const A_COUNT = 4;
/** u8[16]. */
export const A_ADDR = 8;

export enum AddrKind {
  VIP = 1,
  REAL = 2,
}

// ---- mark rules (iptables -t mangle ... -j MARK --set-mark) --------------------------
export const MAX_MARK_RULES = 64;
export const MARK_SIZE = 48;
export const M_BRIDGE = 0;
/** u8: 4 or 6. */
export const M_AF = 2;
/** u8: protocol (0 = any). */
export const M_PROTO = 3;
/** u16: destination port range, host order (0..65535 = any). */
export const M_PORT_LO = 4;
export const M_PORT_HI = 6;
export const M_MARK = 8;
/** u8[16]: destination address, already masked. */
export const M_ADDR = 16;
/** u8[16]: mask. */
export const M_MASK = 32;

// ---- connections: CONN_SIZE entries, chained from u32 buckets ------------------------
export const CONN_SIZE = 64;
/** u32: next entry in the bucket chain (index + 1, 0 = end); the free list uses it too. */
export const C_NEXT = 0;
/** u32: packet time (seconds) at which the entry expires. */
export const C_EXPIRES = 4;
/** u8: IP protocol (templates: the service protocol or 0). */
export const C_PROTO = 8;
/** u8: TcpState (TCP), 0 otherwise. */
export const C_STATE = 9;
/** u8: ConnFlag bits. */
export const C_FLAGS = 10;
/** u8: 4 or 6. */
export const C_AF = 11;
/** u16: client port (network order as load<u16> reads it). */
export const C_CPORT = 12;
/** u16: virtual port. */
export const C_VPORT = 14;
/** u16: real server index. */
export const C_DEST = 16;
/** u16: the real server's generation when the connection was bound. */
export const C_DEST_GEN = 18;
/** u16: real server port. */
export const C_DPORT = 20;
/** u16: service index. */
export const C_SVC = 22;
/** u32: connections: controlling template (index + 1, 0 = none); templates: connections it controls. */
export const C_CTL = 24;
/** u16: bridge domain. */
export const C_BRIDGE = 28;
/** u8[16]: client address. */
export const C_CADDR = 32;
/** u8[16]: virtual address (templates of fwmark services: the mark in the first word). */
export const C_VADDR = 48;

export enum ConnFlag {
  /** A persistence template, not a connection. */
  TEMPLATE = 1,
  /** Direct routing: only client-to-server packets are seen (INPUT-ONLY state table). */
  NOOUTPUT = 2,
  /** Counted in the real server's inactive connections. */
  INACTIVE = 4,
  /** A template that must not be reused (its server went away); reclaimed when it expires. */
  DEAD = 8,
}
