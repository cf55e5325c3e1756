// Loads the native adapter (native/build/Release/netwasm.node) through
// Node-API: `require` from Node, and the same in Deno 2 (its Node-API support
// loads .node files through createRequire; it needs --allow-ffi or -A).
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** What `openPacket` returns. */
export interface NativePacketInfo {
  fd: number;
  ifindex: number;
  mtu: number;
  mac: string;
  vnetHdr: boolean;
  qdiscBypass: boolean;
  /** Frames in the TPACKET_V2 receive ring (0: no ring, recvmmsg). */
  ring: number;
  /** The separate transmit socket (-1: frames go out of `fd`). Closed with `fd`. */
  txFd: number;
}

/** What `openTap` returns. */
export interface NativeTapInfo {
  fd: number;
  name: string;
  ifindex: number;
  vnetHdr: boolean;
  /** TUN_F_* bits the kernel accepted (TUNSETOFFLOAD). */
  offloads: number;
}

/** Counters the adapter keeps per bound port. */
export interface NativePortStats {
  rxPackets: number;
  rxBytes: number;
  /** Super-frames received (virtio gso_type set). */
  rxGso: number;
  /** Frames received with a partial checksum (NEEDS_CSUM). */
  rxCsumPartial: number;
  rxTruncated: number;
  rxBadVnet: number;
  rxErrors: number;
  txPackets: number;
  txBytes: number;
  txGso: number;
  txCsumPartial: number;
  txNobufs: number;
  txBusy: number;
  txDown: number;
  txTooBig: number;
  txErrors: number;
  /** errno of the last failure on this port (0 = none). */
  lastErrno: number;
}

declare const poolBrand: unique symbol;
declare const watcherBrand: unique symbol;
/** An opaque binding of a Dataplane's memory in the adapter. */
export type NativePool = { readonly [poolBrand]: true };
/** An opaque readiness watcher. */
export type NativeWatcher = { readonly [watcherBrand]: true };

/** The C functions of native/netwasm.c. */
export interface NativeAddon {
  openPacket(ifname: string, opts: object): NativePacketInfo;
  openTap(name: string, opts: object): NativeTapInfo;
  close(fd: number): void;
  ifindex(name: string): number;
  kernelStats(fd: number): { packets: number; drops: number };
  bindPool(memory: ArrayBuffer, cfg: object): NativePool;
  setPort(pool: NativePool, port: number, fd: number, kind: number, vnet: boolean): void;
  rx(pool: NativePool, port: number, descIndex: number, max: number): number;
  tx(pool: NativePool, first: number, count: number, port: number): number;
  portStats(pool: NativePool, port: number): NativePortStats;
  watch(fd: number, cb: (status: number, events: number) => void, thread: boolean, ref: boolean): NativeWatcher;
  rearm(w: NativeWatcher): void;
  unwatch(w: NativeWatcher): void;
  /** libuv's uv_poll functions were found in the process (Node). */
  hasUvPoll: boolean;
  VNET_HDR_LEN: number;
}

/** Running under Deno (readiness then comes from a watcher thread, not uv_poll). */
export const isDeno = typeof (globalThis as { Deno?: unknown }).Deno !== 'undefined';

let addon: NativeAddon | undefined;
let loadError: Error | undefined;

/** Path of the built addon, searched upwards from this file; undefined if not built. */
export function nativePath(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const f = join(dir, 'native', 'build', 'Release', 'netwasm.node');
    if (existsSync(f)) return f;
    dir = dirname(dir);
  }
  return undefined;
}

/** The native adapter. Throws an Error saying how to build it when it is missing. */
export function native(): NativeAddon {
  if (addon) return addon;
  if (loadError) throw loadError;
  const f = nativePath();
  if (!f) {
    loadError = new Error('netwasm: the native adapter native/build/Release/netwasm.node is not built; run `npm run build:native` (needs python3, make and a C compiler)');
    throw loadError;
  }
  try {
    addon = createRequire(import.meta.url)(f) as NativeAddon;
  } catch (e) {
    loadError = new Error(`netwasm: cannot load the native adapter ${f}: ${(e as Error).message}`);
    throw loadError;
  }
  return addon;
}

/** Whether the native adapter can be loaded here (Linux, built). */
export function nativeAvailable(): boolean {
  try {
    native();
    return true;
  } catch {
    return false;
  }
}
