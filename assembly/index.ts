// The netwasm data plane: the module's exports. Layout constants are exported
// as WebAssembly globals so the host can check it was built against the same ABI.
export {
  HEADROOM, DEFAULT_SLOT_SIZE, MAX_VECTOR, MAX_TX, MAX_COUNTERS, MAX_PORTS,
  DESC_SIZE, D_SLOT, D_OFF, D_LEN, D_IN_PORT, D_OUT, D_VERDICT, D_FLAGS, D_DROP, D_VLAN, D_BRIDGE,
  D_VNI, D_HASH, D_TS_SEC, D_TS_NSEC, D_AUX, D_TX_COUNT,
  D_VNET_FLAGS, D_GSO_TYPE, D_GSO_SIZE, D_CSUM_START, D_CSUM_OFFSET, D_HDR_LEN,
  TX_SIZE, T_SLOT, T_OFF, T_LEN, T_PORT, T_SRC,
  T_VNET_FLAGS, T_GSO_TYPE, T_GSO_SIZE, T_CSUM_START, T_CSUM_OFFSET, T_HDR_LEN,
  PORT_SIZE, P_KIND, P_VLAN_MODE, P_FLAGS, P_BRIDGE, P_PVID, P_MTU, P_TPID, P_AUX, P_AUX2, P_MAC, P_IP4,
  FREE_TOP, FREE_ENTRIES,
} from './layout';
export { setup } from './state';
export { runVector } from './graph';

/** First byte after the module's static data: the host lays its regions out above it. */
export function heapBase(): usize {
  return __heap_base;
}

import { prepend, strip } from './frame';
import { desc } from './state';

/** Test hook: prepend n bytes to input frame i (0 when no headroom is left). */
export function framePrepend(i: u32, n: u32): usize {
  return prepend(desc(i), n);
}

/** Test hook: strip n bytes from input frame i (0 when it is shorter). */
export function frameStrip(i: u32, n: u32): usize {
  return strip(desc(i), n);
}

// Bridge, FDB and 802.1Q (issue 3).
export {
  fdbSetup, fdbAdd, fdbDel, fdbFlush, fdbSweep, fdbSize, fdbNext, fdbSlotAddr, fdbLookup,
  FDB_ENTRY_SIZE, FDB_E_KEY, FDB_E_BRIDGE, FDB_E_PORT, FDB_E_FLAGS, FDB_E_SEEN, FDB_ANY,
  BR_SIZE, BR_AGEING, BR_LEARN_LIMIT, BR_LEARNED, BR_MEMBER_START, BR_MEMBER_COUNT, BR_FLAGS, DEFAULT_AGEING,
} from './fdb';
export { bridgeSync, bridgeClock, bridgeBenchLoop } from './bridge';
export { VLAN_MAP_BYTES, vlanBenchLoop } from './vlan';
export { offloadSetPort, offloadPortAccepts, offloadFinish } from './offload';

// ---- VXLAN, checksums (issue 4) ----
export {
  vxlanInit, vxlanStaging, vxlanVtepSet, vxlanVtepClear, vxlanTunnelSet, vxlanTunnelClear, vxlanRebuild,
  vxlanRemoteHold, vxlanRemoteRelease, vxlanRemoteInfo, vxlanRemoteIsV6, vxlanFloodSet, vxlanFloodCount,
  vxlanPeerSet, vxlanPeerDelete, vxlanPeerGet, vxlanPeerCap, vxlanPeerAt, vxlanNeighSet, vxlanNeighDelete,
  vxlanUsed, vxlanBenchEncap, vxlanBenchDecap, vxlanSetFastPath,
} from './vxlan';
export { checksumPartial, checksumOf, checksumReplace16, checksumReplace32 } from './checksum';

// IPVS (issue 5): control plane and test hooks, never called per packet.
export {
  ipvsSetup, ipvsSvcHashAdd, ipvsSvcHashDel, ipvsAddrRef, ipvsProcessFrame, ipvsLastDrop, ipvsReplyLen,
  ipvsScheduleTest, ipvsBenchRun, ipvsBenchNew,
} from './ipvs';
export { conntrackSweep, conntrackFlush, conntrackEntry, conntrackLive, conntrackTimeouts } from './conntrack';
export { maglevMurmur3, maglevSip13u32, maglevSiphash13, maglevBuildKatran, maglevBuildMh } from './maglev';

// ---- macvlan, ipvlan, the bridge gateway (issue 6) ----
export {
  macvlanSetup, PARENT_MAP_BYTES, LOWER_SIZE, LW_DRIVER, LW_MODE, LW_FLAGS, LW_VLAN, LW_PARENT, LW_MEMBER_START,
  LW_MEMBER_COUNT, LW_MAC, LW_NEXT_HOP, NO_PARENT, MODE_PRIVATE, MODE_VEPA, MODE_BRIDGE, MODE_PASSTHRU,
  CHILD_CHECK_SRC, PARENT_IPVLAN, MAC_ENTRY_SIZE, IP_ENTRY_SIZE,
} from './macvlan';
export { gatewaySetup, GW_SIZE, GW_IP, GW_MAC, GW_FLAGS, GW_VLAN } from './gateway';

// ---- replay's host loop (issue 8): capture records in, pcap records out, once per vector ----
export {
  replaySetup, replayStop, replayLoops, replayPcapPos, replayFeedbackHead, replayFeedbackTail, replayFeedbackEntry,
  replayFeedbackBuf, replayCompact, replayFeedbackIn, replayPcapIn, replayEmit,
} from './replay';

// IPVS: the vector touch pass (for the graph, before its frame loop) and its benchmark loop
export { ipvsTouchVector, ipvsBenchNewV, ipvsBenchEstV, ipvsSetTouchPass } from './ipvs';
