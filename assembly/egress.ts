// Per-port output: the egress port's rules, then the frame is emitted.
// Bridge ports apply their 802.1Q rule (access: untagged; trunk: tagged with
// the frame's VLAN unless it is the native one) and their MTU; VXLAN tunnel
// ports encapsulate (vxlan.ts); every other kind emits the frame as it is.
import { offloadEach } from './offload';
import { D_LEN, D_DROP, D_VNET_FLAGS, D_GSO_TYPE, D_GSO_SIZE, D_HDR_LEN, P_KIND, P_VLAN_MODE, P_MTU, PortKind, VlanMode } from './layout';
import { Ctr } from './counters';
import { emitDesc, emitInline, emitSelfInline, releaseDesc } from './graph';
import { port, count } from './state';
import { framePtr } from './frame';
import { vlanEgress, isTpid } from './vlan';
import { ETH_HLEN } from './eth';
import { vxlanEgress } from './vxlan';

/** Sends descriptor x's frame out of port `out`, applying that port's egress rules. */
export function portEgress(x: usize, out: u32): void {
  const q = port(out);
  switch (<i32>load<u8>(q, P_KIND)) {
    case PortKind.VXLAN:
      // Encapsulate finished frames only: a partial checksum is completed and a
      // super-frame cut into segments first, as the kernel does before a tunnel.
      if ((load<u8>(x, D_VNET_FLAGS) | load<u8>(x, D_GSO_TYPE)) != 0) offloadEach(x, out, vxlanEgress);
      else vxlanEgress(x, out);
      return;
    case PortKind.BRIDGE:
      bridgePortEgress(x, q, out);
      return;
    default:
      emitDesc(x, out);
  }
}

/** A bridge port: VLAN rule, then MTU (an 802.1Q tag does not count against it). */
// @ts-ignore: decorator
@inline export function bridgePortEgress(x: usize, q: usize, out: u32, self: bool = false): void {
  let frame = framePtr(x);
  if (<u32>load<u8>(q, P_VLAN_MODE) != VlanMode.NONE) {
    frame = vlanEgress(x, frame, q);
    if (frame == 0) {
      if (!self) releaseDesc(x);
      return;
    }
  }
  const mtu = <u32>load<u16>(q, P_MTU);
  if (mtu != 0) {
    // A GSO super-frame is checked by the segments it will be cut into (the
    // kernel's skb_gso_validate_network_len): headers plus gso_size.
    const gso = load<u16>(x, D_GSO_SIZE);
    let len = load<u32>(x, D_LEN);
    if (load<u8>(x, D_GSO_TYPE) != 0) {
      if (gso != 0) len = <u32>load<u16>(x, D_HDR_LEN) + <u32>gso;
    }
    // Untagged, the payload is len - 14: a frame within mtu + 14 always fits,
    // and only a longer one needs the 802.1Q tag looked at.
    if (len > mtu + ETH_HLEN) {
      let payload = len - ETH_HLEN;
      if (len >= 18 && isTpid(<u32>bswap<u16>(load<u16>(frame, 12)))) payload -= 4;
      if (payload > mtu) {
        store<u16>(x, <u16>Ctr.BridgeMtuExceeded, D_DROP);
        count(Ctr.BridgeMtuExceeded);
        if (!self) releaseDesc(x);
        return;
      }
    }
  }
  // self: x is the input descriptor (curDesc), as on the bridge's forward path.
  if (self) emitSelfInline(x, out);
  else emitInline(x, out);
}
