// Headroom: prepending a header moves the frame start back into the slot's
// headroom and stripping one moves it forward; the frame is never copied.
import { D_SLOT, D_OFF, D_LEN } from './layout';
import { slotPtr } from './state';

/**
 * Grows the frame of descriptor d by n bytes at the front. Returns the new
 * frame address, or 0 when the headroom left is smaller than n.
 */
export function prepend(d: usize, n: u32): usize {
  const off = load<u32>(d, D_OFF);
  if (off < n) return 0;
  store<u32>(d, off - n, D_OFF);
  store<u32>(d, load<u32>(d, D_LEN) + n, D_LEN);
  return slotPtr(load<u32>(d, D_SLOT)) + off - n;
}

/**
 * Removes n bytes from the front of descriptor d's frame. Returns the new frame
 * address, or 0 when the frame is shorter than n.
 */
export function strip(d: usize, n: u32): usize {
  const len = load<u32>(d, D_LEN);
  if (len < n) return 0;
  const off = load<u32>(d, D_OFF) + n;
  store<u32>(d, off, D_OFF);
  store<u32>(d, len - n, D_LEN);
  return slotPtr(load<u32>(d, D_SLOT)) + off;
}

/** Address of descriptor d's frame. */
// @ts-ignore: decorator
@inline export function framePtr(d: usize): usize {
  return slotPtr(load<u32>(d, D_SLOT)) + load<u32>(d, D_OFF);
}
