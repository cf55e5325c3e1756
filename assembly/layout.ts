// The packet vector ABI: the single source of truth for every offset and size
// shared by the AssemblyScript data plane and the TypeScript host.
//
// This file is plain TypeScript that AssemblyScript also compiles: it holds only
// numeric constants and enums, so `src/dataplane/layout.ts` re-exports it as is
// and the two sides can never disagree. A test (test/layout.test.ts) also asks
// the compiled .wasm for the values it was built with.

/** Bytes reserved in front of every frame in its slot, for pushes (VXLAN, 802.1Q). */
export const HEADROOM = 128;
/** Default slot size: headroom + the largest frame a slot holds. */
export const DEFAULT_SLOT_SIZE = 2048;
/** Most frames in one input vector. */
export const MAX_VECTOR = 256;
/** Capacity of the transmit vector (floods and replication fill it). */
export const MAX_TX = 4096;
/** Most counters (u64 each). */
export const MAX_COUNTERS = 1024;
/** Most ports of one data plane. */
export const MAX_PORTS = 256;

// ---- Input descriptor: one per frame in the vector (64 bytes). ----------------
export const DESC_SIZE = 64;
/** u32: pool slot index. */
export const D_SLOT = 0;
/** u32: frame start, offset from the start of the slot (>= 0, headroom moves it). */
export const D_OFF = 4;
/** u32: frame length in bytes. */
export const D_LEN = 8;
/** u16: port the frame arrived on. */
export const D_IN_PORT = 12;
/** u16: output port (verdict TX) or flood domain (verdict FLOOD). */
export const D_OUT = 14;
/** u8: Verdict. */
export const D_VERDICT = 16;
/** u8: frame flags (FrameFlag). */
export const D_FLAGS = 17;
/** u16: counter id of the drop reason when verdict is DROP. */
export const D_DROP = 18;
/** u16: VLAN id the frame was classified into (0 = none). */
export const D_VLAN = 20;
/** u16: bridge domain the frame was classified into. */
export const D_BRIDGE = 22;
/** u32: VNI (overlay frames). */
export const D_VNI = 24;
/** u32: flow hash of the inner frame. */
export const D_HASH = 28;
/** u32: packet time, seconds. */
export const D_TS_SEC = 32;
/** u32: packet time, nanoseconds. */
export const D_TS_NSEC = 36;
/** u32: node-specific scratch (tunnel index, next hop, ...). */
export const D_AUX = 40;
/** u16: number of transmit entries this frame produced. */
export const D_TX_COUNT = 44;
// Offload metadata (virtio_net_hdr, as PACKET_VNET_HDR / IFF_VNET_HDR deliver it).
// Nodes that move the frame start keep D_CSUM_START and D_HDR_LEN relative to it.
/** u8: virtio_net_hdr flags (1 = NEEDS_CSUM, 2 = DATA_VALID). */
export const D_VNET_FLAGS = 46;
/** u8: virtio_net_hdr gso_type (0 none, 1 TCPv4, 3 UDP, 4 TCPv6, 0x80 ECN). */
export const D_GSO_TYPE = 47;
/** u16: gso_size (MSS) of a super-frame, 0 if none. */
export const D_GSO_SIZE = 48;
/** u16: where the partial checksum starts, from the frame start. */
export const D_CSUM_START = 50;
/** u16: where to store the checksum, from D_CSUM_START. */
export const D_CSUM_OFFSET = 52;
/** u16: length of the headers of a super-frame. */
export const D_HDR_LEN = 54;

// ---- Transmit entry: one per frame copy leaving a port (32 bytes). ------------
export const TX_SIZE = 32;
/** u32: pool slot holding the frame (the entry owns it). */
export const T_SLOT = 0;
/** u32: frame start within the slot. */
export const T_OFF = 4;
/** u32: frame length. */
export const T_LEN = 8;
/** u16: output port. */
export const T_PORT = 12;
/** u16: index of the input descriptor it came from. */
export const T_SRC = 14;
/** u8, u8, u16 x 4: the offload metadata of the frame as sent (see D_VNET_FLAGS..D_HDR_LEN). */
export const T_VNET_FLAGS = 16;
export const T_GSO_TYPE = 17;
export const T_GSO_SIZE = 18;
export const T_CSUM_START = 20;
export const T_CSUM_OFFSET = 22;
export const T_HDR_LEN = 24;

/** What became of an input frame. */
export enum Verdict {
  /** Dropped; D_DROP names the reason. */
  DROP = 0,
  /** Left through one or more transmit entries. */
  TX = 1,
  /** Consumed by the data plane itself (answered, absorbed), nothing left. */
  LOCAL = 2,
}

/** Flags in D_FLAGS. */
export enum FrameFlag {
  NONE = 0,
  /** The frame was flooded (broadcast, multicast or unknown unicast). */
  FLOODED = 1,
  /** The frame arrived encapsulated and was decapsulated. */
  DECAPPED = 2,
  /** The data plane answered the frame itself (ARP proxy, ICMP echo). */
  REPLIED = 4,
  /** The frame carries its bridge VLAN's tag at byte 12 (set by VLAN ingress, kept up to date by push/pop). */
  VLAN_TAGGED = 8,
}

// ---- Free slot stack -----------------------------------------------------------
// u32 top (number of free slots), then u32 slot indices; slots [0, top) are free.
export const FREE_TOP = 0;
export const FREE_ENTRIES = 4;

// ---- Port table: MAX_PORTS entries of PORT_SIZE bytes. -------------------------
export const PORT_SIZE = 64;
/** u8: PortKind. */
export const P_KIND = 0;
/** u8: VlanMode. */
export const P_VLAN_MODE = 1;
/** u16: PortFlag bits. */
export const P_FLAGS = 2;
/** u16: bridge domain the port belongs to. */
export const P_BRIDGE = 4;
/** u16: PVID (access VLAN, or native VLAN of a trunk; 0 = none). */
export const P_PVID = 6;
/** u16: MTU of frames leaving the port (payload bytes, as `ip link` shows). */
export const P_MTU = 8;
/** u16: 802.1Q TPID pushed on tagged egress (0x8100, or 0x88A8 for 802.1ad). */
export const P_TPID = 10;
/** u32: node-specific index (tunnel, parent, service ...). */
export const P_AUX = 12;
/** u32: second node-specific value. */
export const P_AUX2 = 16;
/** u8[6]: the port's own MAC (gateway, VTEP, parent) where it has one. */
export const P_MAC = 20;
/** u32: the port's own IPv4 address (network byte order as read by load<u32>). */
export const P_IP4 = 28;

/** What a port is, which selects the path its frames take. */
export enum PortKind {
  /** No port here: frames are dropped as `graph-no-port`. */
  UNUSED = 0,
  /** A sandbox with no connectivity (driver none): everything is dropped. */
  NONE = 1,
  /** A port of a learning bridge (container veth, uplink, trunk). */
  BRIDGE = 2,
  /** An underlay interface carrying VXLAN (decap on ingress). */
  VTEP = 3,
  /** The VXLAN tunnel side of an overlay bridge (a virtual bridge port). */
  VXLAN = 4,
  /** A macvlan/ipvlan parent (uplink, possibly through an 802.1Q sub-interface). */
  PARENT = 5,
  /** A macvlan/ipvlan child endpoint. */
  CHILD = 6,
  /** A wire: every frame leaves through the port in P_AUX unchanged (a patch cable). */
  WIRE = 7,
}

/** 802.1Q mode of a bridge port. */
export enum VlanMode {
  /** VLAN filtering off on this port: frames pass with their tags. */
  NONE = 0,
  /** Untagged member of PVID. */
  ACCESS = 1,
  /** Tagged member of an allowed set, optional native (untagged) VLAN = PVID. */
  TRUNK = 2,
}

/** Bits of P_FLAGS (as `bridge link set` has them). */
export enum PortFlag {
  /** Learning on (default). */
  LEARNING = 1,
  /** Flood unknown unicast to this port (default). */
  FLOOD = 2,
  /** Flood multicast to this port (default). */
  MCAST_FLOOD = 4,
  /** Flood broadcast to this port (default). */
  BCAST_FLOOD = 8,
  /** Hairpin: frames may leave through the port they came in on. */
  HAIRPIN = 16,
  /** Isolated: never forwards to another isolated port (enable_icc=false). */
  ISOLATED = 32,
  /** Administratively down: nothing in, nothing out. */
  DOWN = 64,
}
