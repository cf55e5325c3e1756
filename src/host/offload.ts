// The host's side of offload completion (assembly/offload.ts): which ports
// take offload metadata, and running the finishing pass on a vector's
// transmit entries before they are sent or written to a capture.
import * as L from '../dataplane/layout.ts';
import type { Dataplane } from '../dataplane/dataplane.ts';

interface OffloadExports {
  offloadFinish(n: number): number;
  offloadSetPort(port: number, accepts: number): void;
  offloadPortAccepts(port: number): number;
}

function ex(dp: Dataplane): OffloadExports {
  const e = dp.exports as unknown as OffloadExports;
  if (typeof e.offloadFinish !== 'function') throw new Error('netwasm: the data plane has no offloadFinish export; rebuild with `npm run build:wasm`');
  return e;
}

/**
 * Says whether port `port` takes frames with their offload metadata (partial
 * checksums, super-frames) as they are. Ports start as not taking it.
 */
export function setPortOffload(dp: Dataplane, port: number, accepts: boolean): void {
  if (!Number.isInteger(port) || port < 0 || port >= L.MAX_PORTS) throw new RangeError(`port must be in 0..${L.MAX_PORTS - 1}, got ${port}`);
  ex(dp).offloadSetPort(port, accepts ? 1 : 0);
}

/** Whether port `port` takes offload metadata. */
export function portOffload(dp: Dataplane, port: number): boolean {
  return ex(dp).offloadPortAccepts(port) !== 0;
}

/**
 * Finishes the offloads of the last run's `nTx` transmit entries for ports
 * that take no metadata: partial checksums completed, super-frames cut into
 * frames (in place of the super-frame, in order). Returns the new entry count;
 * entries it had to drop have length 0. Give the slots back with
 * `releaseFinished(dp, nTx, total)`.
 *
 * ```ts
 * const nTx = dp.run();
 * const total = finishOffloads(dp, nTx);
 * for (let i = 0; i < total; i++) if (dp.txData(i).length) write(dp.txPort(i), dp.txData(i));
 * releaseFinished(dp, nTx, total);
 * ```
 */
export function finishOffloads(dp: Dataplane, nTx: number): number {
  return nTx > 0 ? ex(dp).offloadFinish(nTx) : 0;
}

/** Returns every transmit entry's slot to the pool after finishOffloads grew the vector from nTx to total. */
export function releaseFinished(dp: Dataplane, nTx: number, total: number): void {
  if (total > nTx) {
    const t0 = dp.regions.tx!.ptr;
    const v = dp.view;
    for (let i = nTx; i < total; i++) dp.freeSlot(v.getUint32(t0 + i * L.TX_SIZE + L.T_SLOT, true));
  }
  dp.releaseTx();
}
