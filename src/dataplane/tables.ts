import type { Dataplane } from './dataplane.ts';
import { bridgeTablePlan } from './bridge.ts';
import { vxlanTablePlan } from './vxlan.ts';
import { ipvsTablePlan } from './ipvs.ts';
import { macvlanTablePlan } from './macvlan.ts';
import { gatewayTablePlan } from './gateway.ts';

/** How a Dataplane is created. Node tables add their own sizing options here. */
export interface DataplaneOptions {
  /** Slots in the buffer pool (default 4096). */
  slots?: number;
  /** Bytes per slot, headroom included (default 2048, a multiple of 64). */
  slotSize?: number;
  /** Size of linear memory; default: exactly what the configuration needs. */
  memoryBytes?: number;
  /**
   * Bytes of linear memory for the host's own buffers, region `host` (default
   * 0): replay reads captures into it and writes output captures from it, so
   * frames move with copyWithin, never through a view per frame.
   */
  hostBytes?: number;
  /** Which build of the module to load (default release). */
  build?: 'release' | 'debug';
  /** Most FDB entries, all bridges together: a power of two, 16..4194304 (default 65536). */
  fdbCapacity?: number;
  /** Bridge domains (ids 0 .. bridges-1), 1..65536 (default 1024). */
  bridges?: number;
  /** VXLAN tunnels (overlay networks, one VNI each), default 64. */
  vxlanTunnels?: number;
  /** VXLAN remote VTEP records, all tunnels together, default 1024. */
  vxlanRemotes?: number;
  /** VXLAN MAC -> VTEP entries (static and learned), all tunnels together, default 4096. */
  vxlanPeers?: number;
  /** VXLAN ARP proxy entries (IPv4 -> MAC), all tunnels together, default 4096. */
  vxlanNeighbors?: number;
  /** Most VTEPs in one VXLAN flood list, default 64. */
  vxlanFloodMax?: number;
  /** IPVS connection table entries, fixed at creation (default 1048576; 64 + 4 bytes each; 0 = no IPVS). */
  /**
   * Seed of the connection table's hash. Default: random, as the kernel
   * randomises its hashes against hash flooding; a replay gives a fixed one so
   * that the same inputs always give the same table layout.
   */
  connSeed?: number;
  connCapacity?: number;
  /** Most IPVS virtual services (default 256). */
  ipvsServices?: number;
  /** Most IPVS real servers, all services together (default 4096). */
  ipvsRealServers?: number;
  /** Bytes for IPVS lookup tables (Maglev rings, mh tables) and server lists (default 8 MiB). */
  ipvsTableBytes?: number;
  /** CONFIG_IP_VS_MH_TAB_INDEX for the mh scheduler, 8..17 (default 12: table size 4093). */
  ipvsMhTabIndex?: number;
  /** macvlan/ipvlan parent (uplink) ports, 1..256 (default 8; 8 KiB each for the VLAN map). */
  macvlanParents?: number;
  /** macvlan/ipvlan parent links (a parent or one of its 802.1Q sub-interfaces; a parentless network is one too), default 64. */
  macvlanLowers?: number;
  /** macvlan MAC table slots, all parent links together: a power of two (default 1024; holds slots - 1 endpoints). */
  macvlanMacSlots?: number;
  /** ipvlan address table slots, all parent links together: a power of two (default 1024; holds slots - 1 addresses). */
  macvlanIpSlots?: number;
}

/** A node table: its region of linear memory and how to initialise it. */
export interface TablePlan {
  name: string;
  bytes: number;
  align?: number;
  init(dp: Dataplane, ptr: number): void;
}

/**
 * Every node table. Each entry sizes its region from the options (or returns
 * null when not wanted); Dataplane lays the regions out in this order.
 */
export const TABLES: Array<(opts: Readonly<DataplaneOptions>) => TablePlan | null> = [
  bridgeTablePlan,
  vxlanTablePlan,
  ipvsTablePlan,
  macvlanTablePlan,
  gatewayTablePlan,
];
