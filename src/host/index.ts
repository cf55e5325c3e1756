// Real interfaces for the data plane: AF_PACKET and TAP ports through the
// native adapter (native/), and a loop that forwards between them.
import { Dataplane, type DataplaneOptions } from '../dataplane/dataplane.ts';
import { HOST_SLOT_SIZE } from './port.ts';

export { HostPort, HOST_SLOT_SIZE, hostError, poolOf, type PacketOptions, type TapOptions } from './port.ts';
export { finishOffloads, releaseFinished, setPortOffload, portOffload } from './offload.ts';
export { HostLoop, type HostLoopOptions, type HostEvent } from './loop.ts';
export { native, nativeAvailable, nativePath, isDeno, type NativeAddon, type NativePortStats } from './native.ts';

/**
 * A Dataplane sized for real interfaces: slots of HOST_SLOT_SIZE bytes (room for
 * 64 KiB super-frames) and 1024 of them unless told otherwise.
 *
 * ```ts
 * const dp = hostDataplane({ slots: 2048 });
 * ```
 */
export function hostDataplane(opts: DataplaneOptions = {}): Dataplane {
  return new Dataplane({ slots: 1024, slotSize: HOST_SLOT_SIZE, ...opts });
}
