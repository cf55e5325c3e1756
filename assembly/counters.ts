// Every counter of the data plane, by id. One u64 per id in linear memory.
//
// This file is plain TypeScript that AssemblyScript also compiles. The host
// derives each counter's public kebab-case name from its key here
// (`EthRunt` -> `eth-runt`), so a name is defined exactly once.
// Each node owns a block of 64 ids; a node adds its counters inside its block.

export enum Ctr {
  // ---- graph (0..63): the vector as a whole -----------------------------------
  GraphRx = 0,
  GraphTx = 1,
  GraphDrop = 2,
  GraphLocal = 3,
  GraphNoPort = 4,
  GraphPortDown = 5,
  GraphBadDesc = 6,
  GraphTxFull = 7,
  GraphNoSlot = 8,
  GraphMtuExceeded = 9,
  NoneDrop = 10,

  // ---- eth (64..127): Ethernet parsing ----------------------------------------
  EthRunt = 64,
  EthOversize = 65,
  EthLenMismatch = 66,
  EthBadSlot = 67,

  // ---- vlan (128..191) -----------------------------------------------------------

  // ---- bridge / fdb (192..319) -------------------------------------------------

  // ---- vxlan, ipv4, ipv6, udp (320..447) ---------------------------------------

  // ---- ipvs, conntrack, maglev (448..575) --------------------------------------

  // ---- cnm drivers: macvlan, ipvlan, gateway, arp (576..703) -------------------

  /** One past the highest id: the counters region holds MAX_COUNTERS u64. */
  _End = 1023,
}
