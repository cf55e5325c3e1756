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
  GraphTxFull = 7,
  GraphNoSlot = 8,
  NoneDrop = 10,

  // ---- eth (64..127): Ethernet parsing ----------------------------------------
  EthRunt = 64,
  EthOversize = 65,
  EthLenMismatch = 66,
  EthBadSlot = 67,

  // ---- vlan (128..191) -----------------------------------------------------------
  /** Ingress: tagged with a VID the port does not carry (drop). */
  VlanNotAllowed = 128,
  /** Ingress: untagged or priority-tagged on a port without PVID / native VLAN (drop). */
  VlanNoPvid = 129,
  /** Ingress: a second tag behind the first on an access port, 802.1Q VLAN hopping (drop). */
  VlanAccessDoubleTag = 130,
  /** Ingress: tagged frame shorter than 18 bytes (drop). */
  VlanTruncated = 131,
  /** Egress: no headroom left to push a tag (drop of that copy). */
  VlanNoHeadroom = 132,
  /** Egress: known unicast to a port that does not carry the frame's VLAN (drop). */
  VlanEgressNotAllowed = 133,
  /** Tags pushed. */
  VlanPush = 134,
  /** Tags popped. */
  VlanPop = 135,
  /** Tags rewritten in place (VID of a priority tag, or TPID). */
  VlanRewrite = 136,

  // ---- bridge / fdb (192..319) -------------------------------------------------
  /** The port names a bridge domain beyond the bridge table (drop). */
  BridgeNoBridge = 192,
  /** Source MAC is multicast, broadcast or all-zero; Linux drops these too (drop). */
  BridgeBadSrcMac = 193,
  /** Known unicast whose port is the ingress port, hairpin off (drop). */
  BridgeReflectDrop = 194,
  /** Known unicast from an isolated port to an isolated port (drop). */
  BridgeIsolatedDrop = 195,
  /** To 01:80:C2:00:00:01 (802.3x pause): never forwarded (drop). */
  BridgePauseDrop = 196,
  /** To 01:80:C2:00:00:02..0F (link-local protocols): learned from, not forwarded (drop). */
  BridgeLinkLocalDrop = 197,
  /** Flood with no eligible port (drop). */
  BridgeFloodNoPort = 198,
  /** Known unicast to a port that is down (drop). */
  BridgeEgressDown = 199,
  /** Known unicast to a port no longer in this bridge (drop). */
  BridgeStalePort = 200,
  /** Egress: frame longer than the port's MTU (drop of that copy). */
  BridgeMtuExceeded = 201,
  /** Unknown unicast, broadcast and multicast frames flooded. */
  BridgeFlood = 202,
  /** Known unicast frames forwarded. */
  BridgeForward = 203,
  /** Frames to a local entry (the bridge's own address), delivered locally. */
  BridgeLocal = 204,
  /** Stations learned (new FDB entries). */
  BridgeLearned = 205,
  /** A known station seen on another port: its entry moved. */
  BridgeMacMove = 206,
  /** A new station not learned: the bridge's learn limit is reached (still forwarded). */
  BridgeLearnLimit = 207,
  /** A new station not learned: the FDB is full (still forwarded). */
  BridgeFdbFull = 208,
  /** Learned entries removed by ageing. */
  BridgeAged = 209,
  /** A frame whose source is one of the bridge's own (local) addresses: not learned. */
  BridgeOwnSrcMac = 210,

  // ---- vxlan, ipv4, ipv6, udp (320..447) ---------------------------------------
  // vxlan (320..383): decap on VTEP ports, encap on tunnel ports, learning.
  /** Frames decapsulated and handed to the overlay. */
  VxlanDecap = 320,
  /** Frames (copies) encapsulated and sent on the underlay. */
  VxlanEncap = 321,
  /** Underlay frame is neither IPv4 nor IPv6. */
  VxlanDecapNotIp = 322,
  /** Outer IP packet is not UDP. */
  VxlanDecapNotUdp = 323,
  /** Outer destination MAC or IP is not this VTEP's. */
  VxlanDecapNotLocal = 324,
  /** UDP destination port is not the VTEP's VXLAN port. */
  VxlanDecapBadPort = 325,
  /** UDP payload too short for the VXLAN header and an inner Ethernet header, or a cut VLAN tag. */
  VxlanDecapBadLength = 326,
  /** The I flag (valid VNI) is not set. */
  VxlanDecapBadFlags = 327,
  /** No tunnel has this VNI on this underlay port. */
  VxlanDecapNoVni = 328,
  /** The sender is not in the tunnel's allow-list of remote VTEPs. */
  VxlanDecapUnknownVtep = 329,
  /** The overlay's tunnel port (or cross-connected port) is down or missing. */
  VxlanDecapPortDown = 330,
  /** Outer 802.1Q tag does not carry the VTEP's VLAN. */
  VxlanDecapWrongVlan = 331,
  /** Learning on: the inner source MAC is statically bound to another VTEP (Linux drops these). */
  VxlanLearnStaticConflict = 332,
  /** A new MAC -> VTEP entry was learned. */
  VxlanLearn = 333,
  /** A learned MAC moved to another VTEP. */
  VxlanLearnMove = 334,
  /** Learning wanted an entry (or a remote VTEP record) but the table was full. */
  VxlanLearnFull = 335,
  /** A learned entry expired (ageing). */
  VxlanLearnExpired = 336,
  /** Egress on a tunnel port whose tunnel does not exist. */
  VxlanEncapNoTunnel = 337,
  /** Inner frame larger than the overlay MTU, or the outer packet larger than the underlay MTU. */
  VxlanEncapMtuExceeded = 338,
  /** Not enough headroom (or slot room) for the outer headers. */
  VxlanEncapNoHeadroom = 339,
  /** No VTEP for the destination MAC and an empty flood list. */
  VxlanEncapNoVtep = 340,
  /** Copies sent by head-end replication (broadcast, multicast, unknown unicast). */
  VxlanEncapFlood = 341,
  /** The tunnel's underlay port is missing, not a VTEP, or down. */
  VxlanEncapNoUnderlay = 342,
  /** A partial (offloaded) inner checksum that points outside the frame. */
  VxlanEncapBadCsumOffload = 343,

  // ipv4 (384..399): outer header checks.
  Ipv4BadVersion = 384,
  Ipv4BadIhl = 385,
  /** Total length shorter than the header or longer than the frame. */
  Ipv4BadLength = 386,
  Ipv4BadChecksum = 387,
  /** A fragment: netwasm does not reassemble. */
  Ipv4Fragment = 388,

  // ipv6 (400..415).
  Ipv6BadVersion = 400,
  /** Payload length longer than the frame, or a cut extension header. */
  Ipv6BadLength = 401,
  /** A fragment: netwasm does not reassemble. */
  Ipv6Fragment = 402,

  // udp (416..431).
  /** UDP length shorter than 8 or different from the IP payload length. */
  UdpBadLength = 416,
  UdpBadChecksum = 417,
  /** A zero UDP checksum over IPv6 (RFC 8200), unless the VTEP accepts it (RFC 6935). */
  UdpZeroChecksum6 = 418,

  // arp (432..447): the overlay's ARP proxy.
  /** ARP requests answered locally from the overlay's neighbour table. */
  ArpProxyReply = 432,
  /** ARP requests for an unknown IP flooded over the overlay (setting arpUnknown = flood). */
  ArpProxyFlood = 433,
  /** ARP requests for an unknown IP dropped (setting arpUnknown = drop, as Linux does). */
  ArpProxyDrop = 434,
  /** An ARP frame that is cut short or not Ethernet/IPv4, at the proxy. */
  ArpMalformed = 435,

  // ---- ipvs, conntrack, maglev (448..575) --------------------------------------
  // ipvs (448..511): virtual services on a bridge.
  /** Client -> VIP packets forwarded to a real server (NAT or direct routing). */
  IpvsInPackets = 448,
  /** Real server -> client packets rewritten back to the VIP (NAT). */
  IpvsOutPackets = 449,
  /** New connections scheduled to a real server. */
  IpvsNewConns = 450,
  /** ARP requests for a VIP answered. */
  IpvsArpReply = 451,
  /** Neighbour solicitations for a VIP answered. */
  IpvsNdpReply = 452,
  /** ICMP errors about a connection rewritten (in or out). */
  IpvsIcmpNat = 453,
  /** No real server available (scheduler found none, or the connection's server is gone). */
  IpvsNoDest = 460,
  /** A TCP segment other than SYN for a VIP with no connection. */
  IpvsNoConn = 461,
  /** The connection table is full: the new connection is refused (no live flow is evicted). */
  IpvsConnTableFull = 462,
  /** A fragment for a VIP: netwasm does not reassemble. */
  IpvsFragment = 463,
  /** A malformed IPv4/IPv6 header addressed to a VIP. */
  IpvsBadHeader = 464,
  /** A transport header cut short, addressed to a VIP. */
  IpvsTruncated = 465,
  /** A protocol IPVS does not balance (not TCP/UDP), or an ICMP query, for a VIP. */
  IpvsUnsupportedProto = 466,
  /** Traffic for a VIP that no service (protocol, port, mark) matches. */
  IpvsNoService = 467,
  /** An ICMP error for a VIP that is malformed or matches no connection. */
  IpvsBadIcmp = 468,
  /** A malformed neighbour solicitation for a VIP. */
  IpvsBadNdp = 469,

  // conntrack (512..543): the IPVS connection table.
  /** Connections reclaimed after their timeout. */
  ConntrackExpired = 512,
  /** Connections reclaimed because their real server was removed (expire_nodest_conn). */
  ConntrackExpiredNodest = 513,

  // ---- cnm drivers: macvlan, ipvlan, gateway, arp (576..703) -------------------
  // macvlan (576..607), and the parent's VLAN demultiplexing when the parent
  // carries macvlan networks.
  /** A CHILD port whose network (P_AUX) is not a configured macvlan/ipvlan network. */
  MacvlanBadChild = 576,
  /** A PARENT port whose parent index (P_AUX) is not configured. */
  MacvlanBadParent = 577,
  /** A frame on the parent of a VLAN (or untagged) that no network uses. */
  MacvlanWrongVlan = 578,
  /** An 802.1Q-tagged frame on the parent cut short inside its tag. */
  MacvlanBadTag = 579,
  /** Unicast from the parent to a MAC that is no child's: not for us. */
  MacvlanNoChild = 580,
  /** The destination child is administratively down. */
  MacvlanChildDown = 581,
  /** A frame from a child whose source MAC is not the child's (checkSourceMac). */
  MacvlanSrcSpoof = 582,
  /** A frame for the outside from a network without a parent (Docker's dummy parent). */
  MacvlanNoParent = 583,
  /** The parent (uplink) port is administratively down. */
  MacvlanParentDown = 584,
  /** No headroom left to push the sub-interface's 802.1Q tag. */
  MacvlanNoHeadroom = 585,
  /** Broadcast/multicast from the parent with no child to deliver it to. */
  MacvlanFloodEmpty = 586,
  /** Frames (and copies) delivered to a child. */
  MacvlanToChild = 587,
  /** Frames sent out of the parent. */
  MacvlanToParent = 588,
  /** Child-to-child unicast delivered inside the host (bridge mode). */
  MacvlanLocal = 589,

  // ipvlan (608..639). (A misconfigured CHILD port counts as macvlan-bad-child.)
  IpvlanBadParent = 609,
  IpvlanWrongVlan = 610,
  IpvlanBadTag = 611,
  /** Unicast (IP, or ARP by target IP) for an address that is no child's: not for us. */
  IpvlanNoChild = 612,
  IpvlanChildDown = 613,
  /** A frame from a child whose source MAC is not the (shared) parent MAC (checkSourceMac). */
  IpvlanSrcSpoof = 614,
  IpvlanNoParent = 615,
  IpvlanParentDown = 616,
  IpvlanNoHeadroom = 617,
  IpvlanFloodEmpty = 618,
  /** Unicast from the parent to a MAC other than the parent's. */
  IpvlanOtherMac = 619,
  /** Neither ARP, IPv4 nor IPv6: ipvlan demultiplexes by IP only. */
  IpvlanNotIp = 620,
  /** ARP cut short, or an IPv4/IPv6 header that fails the kernel's checks. */
  IpvlanBadIp = 621,
  /** l2: a child's frame to the parent's MAC for an IP that is no child's (the kernel hands it to the host stack). */
  IpvlanToHost = 622,
  /** Child-to-child traffic refused by ipvlan_flag private. */
  IpvlanPrivate = 623,
  /** l2: a broadcast/multicast from the parent that one of our children sent (own MAC and source IP). */
  IpvlanLoop = 624,
  /** l3: ARP never crosses an l3 ipvlan (the children are NOARP). */
  IpvlanL3Arp = 625,
  /** l3: broadcast/multicast for no child's address (l3 carries unicast IP only). */
  IpvlanL3Mcast = 626,
  /** l3: a child's frame for the outside that is not IP. */
  IpvlanL3NotIp = 627,
  /** l3: routed traffic with no next-hop MAC configured for the network. */
  IpvlanL3NoNextHop = 628,
  IpvlanToChild = 629,
  IpvlanToParent = 630,
  /** Child-to-child delivered inside the host. */
  IpvlanLocal = 631,

  // gateway (640..671): a bridge network's gateway address (ARP and ICMP echo).
  /** ARP requests for the gateway IP answered with the gateway MAC. */
  GatewayArpReply = 640,
  /** ICMP echo requests to the gateway answered. */
  GatewayEchoReply = 641,
  /** IPv4 to the gateway whose total length runs past the frame (or under the header). */
  GatewayIpTruncated = 642,
  /** IPv4 to the gateway with a bad version or header length. */
  GatewayIpBadHeader = 643,
  /** IPv4 to the gateway with a bad header checksum. */
  GatewayIpBadCsum = 644,
  /** A fragmented ICMP message to the gateway: netwasm does not reassemble. */
  GatewayFragment = 645,
  /** ICMP to the gateway shorter than its 8-byte header. */
  GatewayIcmpTruncated = 646,
  /** ICMP echo request to the gateway with a bad ICMP checksum. */
  GatewayIcmpBadCsum = 647,
  /** Echo request to the gateway from a martian source (0/8, 127/8, multicast, broadcast, the gateway itself). */
  GatewayMartianSrc = 648,

  // ---- host, offload (704..767): the native adapter (native/, src/host) and ----
  // offload.ts (checksums and segmentation for ports that take no virtio_net_hdr).
  // host-* are counted by the adapter in C, per batch, straight into this region.
  /** Frames received from interfaces (AF_PACKET, TAP). */
  HostRx = 704,
  /** Frames handed to interfaces. */
  HostTx = 705,
  /** Frames longer than a slot (then dropped as eth-oversize, never half-read). */
  HostRxTrunc = 706,
  /** Frames the kernel refused to describe with a virtio_net_hdr (EINVAL), lost. */
  HostRxBadVnet = 707,
  /** Receive errors (ENETDOWN when the interface went down or away, ...). */
  HostRxError = 708,
  /** Receive attempts with no free slot in the pool. */
  HostRxNoSlot = 709,
  /** Frames dropped by the kernel on send for lack of buffers (ENOBUFS, a full peer). */
  HostTxNobufs = 710,
  /** Frames dropped because the socket's send buffer was full (EAGAIN). */
  HostTxBusy = 711,
  /** Frames dropped because the interface is down or gone (ENETDOWN, ENXIO, EIO). */
  HostTxDown = 712,
  /** Frames the interface refused as too long (EMSGSIZE). */
  HostTxTooBig = 713,
  /** Frames dropped on any other send error (EINVAL ...). */
  HostTxError = 714,
  /** Transmit entries for a port with no interface behind it. */
  HostTxNoPort = 715,
  /** Transmit entries that point outside the pool (never sent). */
  HostTxBadEntry = 716,
  /** Frames the kernel dropped before we read them (socket queue full; PACKET_STATISTICS). */
  HostRxKernelDrop = 717,
  /** Partial checksums completed (NEEDS_CSUM) for a port without offload. */
  OffloadCsum = 736,
  /** Super-frames (TSO/GSO/GRO) segmented for a port without offload. */
  OffloadGso = 737,
  /** Frames produced by segmentation. */
  OffloadSegments = 738,
  /** Partial checksum whose csum_start/csum_offset lie outside the frame: dropped. */
  OffloadBadCsum = 739,
  /** Super-frame whose headers do not match its gso_type, or gso_size 0: dropped. */
  OffloadBadGso = 740,
  /** Super-frame of a GSO type not segmented here (UFO): dropped. */
  OffloadGsoUnsupported = 741,
  /** Super-frame dropped: not enough free slots for its segments. */
  OffloadNoSlot = 742,
  /** Super-frame dropped: the transmit vector has no room for its segments. */
  OffloadTxFull = 743,

  /** One past the highest id: the counters region holds MAX_COUNTERS u64. */
  _End = 1023,
}
