// The gateway of a bridge network: the address Docker puts on the bridge
// device (docker0's 172.17.0.1) answering ARP and ICMP echo, as the host's
// stack does (net/ipv4/arp.c arp_process, net/ipv4/icmp.c icmp_echo). The
// bridge calls gatewayHook for its ARP and IPv4 frames; everything else sent
// to the gateway's MAC (routed traffic, TCP to the host) is the bridge's local
// delivery, not ours.
//
// Internal networks (`--internal`) answer too: moby's bridge driver
// (setupBridgeIPv4) still puts the gateway address on the bridge of an
// internal network and only leaves out the containers' default route through
// it, and the iptables rules of an internal network filter forwarded traffic
// leaving the subnet, never traffic to the bridge's own address. Only
// `com.docker.network.bridge.gateway_mode_ipv4=isolated` (internal networks
// only) and `com.docker.network.bridge.inhibit_ipv4=true` leave the bridge
// without the address: the control plane then disables the entry.
import { D_LEN, D_OUT, D_FLAGS, D_VLAN, D_VNET_FLAGS, FrameFlag } from './layout';
import { Ctr } from './counters';
import { dropFrame, cloneDesc } from './graph';
import { count } from './state';
import { framePtr } from './frame';
import { macAt, storeMac, isMulticast, ETH_HLEN, ETHERTYPE_ARP, ETHERTYPE_IPV4 } from './eth';
import { ArpKind, arpKind, arpReplyInPlace, arpSenderIp, arpTargetIp } from './arp';
import { IPPROTO_ICMP, ipv4Check, ipv4Dst, ipv4Src, ipv4Proto, ipv4TotLen, ipv4IsFragment, ipv4SetChecksum } from './ipv4';
import { csumPartial, csumFold, csum } from './checksum';
import { portEgress } from './egress';

/** One entry per bridge domain. */
export const GW_SIZE: u32 = 16;
/** u32: the gateway IPv4 address, as load<u32> reads it from the wire. */
export const GW_IP: u32 = 0;
/** u8[6]: the gateway (bridge device) MAC. */
export const GW_MAC: u32 = 4;
/** u8: GatewayFlag bits. */
export const GW_FLAGS: u32 = 10;
/** u16: answer only in this VLAN of a VLAN-filtering bridge (0 = any). */
export const GW_VLAN: u32 = 12;

export enum GatewayFlag {
  ENABLED = 1,
}

const ICMP_ECHO: u8 = 8;
const ICMP_ECHOREPLY: u8 = 0;
/** TTL of the replies: Linux's ip_default_ttl. */
const REPLY_TTL: u8 = 64;

let gwBase: usize = 0;
let gwCount: u32 = 0;

/** Called once by the host with the gateway table (one entry per bridge id). */
export function gatewaySetup(base: usize, n: u32): void {
  gwBase = base;
  gwCount = n;
}

/**
 * For the bridge, on ARP and IPv4 frames of bridge `bridge` that arrived on
 * inPort, after learning and before forwarding. Answers, out of inPort:
 * - an ARP request for the gateway IP with the gateway MAC (a broadcast
 *   request is answered from a copy and still flooded, as the Linux bridge
 *   both delivers it to the bridge device and floods it);
 * - an ICMP echo request to the gateway's MAC and IP with an echo reply.
 * Returns true when the frame is consumed: answered in place, or dropped
 * (counted) as an IPv4/ICMP frame for the gateway the host would discard.
 * Returns false when the bridge must go on with the frame as usual.
 */
export function gatewayHook(d: usize, frame: usize, bridge: u32, inPort: u32): bool {
  if (bridge >= gwCount) return false;
  const g = gwBase + <usize>bridge * GW_SIZE;
  if ((load<u8>(g, GW_FLAGS) & <u8>GatewayFlag.ENABLED) == 0) return false;
  const gvlan = load<u16>(g, GW_VLAN);
  if (gvlan != 0 && gvlan != load<u16>(d, D_VLAN)) return false;
  // A frame of a VLAN-filtering bridge may still carry its tag (vlan.ts).
  const l3: u32 = (load<u8>(d, D_FLAGS) & <u8>FrameFlag.VLAN_TAGGED) != 0 ? ETH_HLEN + 4 : ETH_HLEN;
  const len = load<u32>(d, D_LEN);
  if (len < l3) return false;
  const et = bswap<u16>(load<u16>(frame + l3 - 2));
  if (et == ETHERTYPE_ARP) return gatewayArp(d, frame, l3, len, g, inPort);
  if (et == ETHERTYPE_IPV4) return gatewayIcmp(d, frame, l3, len, g, inPort);
  return false;
}

/** Whether Linux's route lookup rejects `a` as a source (a martian): 0/8, 127/8, multicast, 255.255.255.255. */
// @ts-ignore: decorator
@inline function martian(a: u32): bool {
  const first = a & 0xff;
  return first == 0 || first == 127 || (first & 0xf0) == 0xe0 || a == 0xffffffff;
}

/** The gateway MAC in memory order (as arpReplyInPlace takes it). */
// @ts-ignore: decorator
@inline function gmacMem(g: usize): u64 {
  return load<u64>(g, GW_MAC) & 0xffffffffffff;
}

function gatewayArp(d: usize, frame: usize, l3: u32, len: u32, g: usize, inPort: u32): bool {
  const a = frame + l3;
  if (arpKind(a, len - l3) != ArpKind.REQUEST) return false;
  const gip = load<u32>(g, GW_IP);
  if (arpTargetIp(a) != gip) return false;
  const gmac = macAt(g + GW_MAC);
  const dst = macAt(frame);
  // Unicast to another station is PACKET_OTHERHOST for the bridge device.
  if (!isMulticast(dst) && dst != gmac) return false;
  // arp_process replies only when the requester is routable back (a probe
  // from 0.0.0.0 included, RFC 5227); never to someone claiming our address.
  const sip = arpSenderIp(a);
  if (sip == gip || (sip != 0 && martian(sip))) return false;
  if (isMulticast(dst)) {
    const x = cloneDesc(d); // the request itself goes on to the flood
    if (x == 0) return false;
    store<u8>(d, load<u8>(d, D_FLAGS) | <u8>FrameFlag.REPLIED, D_FLAGS);
    count(Ctr.GatewayArpReply);
    const xf = framePtr(x);
    arpReplyInPlace(xf, xf + l3, gmacMem(g));
    store<u16>(x, <u16>inPort, D_OUT);
    portEgress(x, inPort);
    return false;
  }
  arpReplyInPlace(frame, a, gmacMem(g));
  store<u8>(d, load<u8>(d, D_FLAGS) | <u8>FrameFlag.REPLIED, D_FLAGS);
  count(Ctr.GatewayArpReply);
  store<u16>(d, <u16>inPort, D_OUT);
  portEgress(d, inPort);
  return true;
}

function gatewayIcmp(d: usize, frame: usize, l3: u32, len: u32, g: usize, inPort: u32): bool {
  const gmac = macAt(g + GW_MAC);
  if (macAt(frame) != gmac) return false;
  const ip = frame + l3;
  const avail = len - l3;
  // Without a whole fixed header the destination is unknown: not provably ours.
  if (avail < 20) return false;
  const gip = load<u32>(g, GW_IP);
  if (ipv4Dst(ip) != gip) return false; // routed through the gateway: not ours
  // From here on the frame is for the host's own stack (ip_rcv).
  const hl = ipv4Check(ip, avail);
  if (hl < 0) {
    const why = -hl;
    dropFrame(d, why == Ctr.Ipv4BadLength ? Ctr.GatewayIpTruncated : why == Ctr.Ipv4BadChecksum ? Ctr.GatewayIpBadCsum : Ctr.GatewayIpBadHeader);
    return true;
  }
  if (ipv4Proto(ip) != IPPROTO_ICMP) return false;
  if (ipv4IsFragment(ip)) {
    dropFrame(d, Ctr.GatewayFragment);
    return true;
  }
  const h = <u32>hl;
  const icmpLen = ipv4TotLen(ip) - h;
  if (icmpLen < 8) {
    dropFrame(d, Ctr.GatewayIcmpTruncated);
    return true;
  }
  const icmp = ip + h;
  if (load<u8>(icmp) != ICMP_ECHO) return false;
  // A checksum the sender left to offload (NEEDS_CSUM) or that was already
  // verified (DATA_VALID) is not checked again, as skb_checksum_simple_validate.
  if ((load<u8>(d, D_VNET_FLAGS) & 3) == 0 && csumFold(csumPartial(icmp, icmpLen, 0)) != 0xffff) {
    dropFrame(d, Ctr.GatewayIcmpBadCsum);
    return true;
  }
  const src = ipv4Src(ip);
  if (martian(src) || src == gip) {
    dropFrame(d, Ctr.GatewayMartianSrc);
    return true;
  }

  // The reply, in place: a fresh 20-byte header (options are not echoed), the
  // request's TOS and ID, no DF (the ICMP socket's IP_PMTUDISC_DONT), TTL 64;
  // the request's identifier, sequence, code and data with type echo reply.
  if (h > 20) memory.copy(ip + 20, icmp, icmpLen);
  const tot = 20 + icmpLen;
  store<u8>(ip, 0x45);
  store<u16>(ip, bswap<u16>(<u16>tot), 2);
  store<u16>(ip, 0, 6);
  store<u8>(ip, REPLY_TTL, 8);
  store<u32>(ip, gip, 12);
  store<u32>(ip, src, 16);
  ipv4SetChecksum(ip);
  const r = ip + 20;
  store<u8>(r, ICMP_ECHOREPLY);
  store<u16>(r, 0, 2);
  store<u16>(r, bswap<u16>(csum(r, icmpLen)), 2);
  storeMac(frame, macAt(frame + 6));
  storeMac(frame + 6, gmac);
  store<u32>(d, l3 + tot, D_LEN);
  // Fully checksummed now: no offload state left (D_VNET_FLAGS..D_HDR_LEN).
  memory.fill(d + D_VNET_FLAGS, 0, 10);
  store<u8>(d, load<u8>(d, D_FLAGS) | <u8>FrameFlag.REPLIED, D_FLAGS);
  store<u16>(d, <u16>inPort, D_OUT);
  count(Ctr.GatewayEchoReply);
  portEgress(d, inPort);
  return true;
}
