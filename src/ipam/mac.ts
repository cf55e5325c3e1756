/**
 * MAC addresses as Docker assigns them, made deterministic.
 *
 * - Overlay endpoints: `02:42` followed by the IPv4 address
 *   (netutils.GenerateMACFromIP).
 * - Bridge and macvlan endpoints, bridge devices, host uplinks without a
 *   `mac`: Docker 28 takes a random locally administered unicast address
 *   (netutils.GenerateRandomMAC). netwasm must replay reproducibly, so the
 *   "random" bytes are the first six bytes of SHA-256 over a seed naming the
 *   object (for example `endpoint\0host1\0c1\0mybridge`), with the multicast
 *   bit cleared and the locally administered bit set. The seed uses names
 *   only, so adding or removing other objects never changes a MAC; a clash
 *   with a MAC already handed out is resolved by rehashing with a counter.
 *
 * @example
 * macFromIPv4(parseAddr('10.0.9.3')!); // '02:42:0a:00:09:03'
 * seededMac('endpoint\0local\0c1\0bridge'); // same string on every run
 */
import { createHash } from 'node:crypto';

/** Formats 6 bytes as lower-case `aa:bb:cc:dd:ee:ff`. */
export function formatMac(b: ArrayLike<number>): string {
  const out: string[] = [];
  for (let i = 0; i < 6; i++) out.push((b[i]! & 255).toString(16).padStart(2, '0'));
  return out.join(':');
}

/**
 * Parses a 48-bit MAC in the forms Go's net.ParseMAC accepts
 * (`aa:bb:cc:dd:ee:ff`, `aa-bb-cc-dd-ee-ff`, `aabb.ccdd.eeff`) and returns it
 * normalised (lower case, colons); null if it is not one.
 */
export function parseMac(s: string): string | null {
  let hex: string;
  if (/^[0-9a-fA-F]{2}([:-])[0-9a-fA-F]{2}(\1[0-9a-fA-F]{2}){4}$/.test(s)) hex = s.replace(/[:-]/g, '');
  else if (/^[0-9a-fA-F]{4}\.[0-9a-fA-F]{4}\.[0-9a-fA-F]{4}$/.test(s)) hex = s.replace(/\./g, '');
  else return null;
  const bytes: number[] = [];
  for (let i = 0; i < 12; i += 2) bytes.push(parseInt(hex.slice(i, i + 2), 16));
  return formatMac(bytes);
}

/** True for a multicast (or broadcast) MAC: the I/G bit of the first byte. */
export function isMulticastMac(mac: string): boolean {
  return (parseInt(mac.slice(0, 2), 16) & 1) === 1;
}

/**
 * Why `mac` (normalised) cannot be an interface's address, or null: the
 * kernel refuses a multicast or all-zero address (is_valid_ether_addr,
 * "cannot assign requested address"), and a bridge drops frames from one.
 */
export function unicastMacProblem(mac: string): string | null {
  if (isMulticastMac(mac)) return `${mac} is a multicast address, an interface cannot have it (cannot assign requested address)`;
  if (mac === '00:00:00:00:00:00') return `${mac} is the all-zero address, an interface cannot have it (cannot assign requested address)`;
  return null;
}

/** `02:42` + the four bytes of an IPv4 address (overlay endpoints). */
export function macFromIPv4(addr: number): string {
  return formatMac([0x02, 0x42, (addr >>> 24) & 255, (addr >>> 16) & 255, (addr >>> 8) & 255, addr & 255]);
}

/** A locally administered unicast MAC derived from `seed` (see the module note). */
export function seededMac(seed: string): string {
  const h = createHash('sha256').update(`netwasm-mac\0${seed}`).digest();
  const b = [h[0]!, h[1]!, h[2]!, h[3]!, h[4]!, h[5]!];
  b[0] = (b[0]! & 0xfe) | 0x02;
  return formatMac(b);
}

/**
 * Hands out seeded MACs that are unique among those it has seen (given MACs
 * are recorded with `claim`, generated ones are rehashed on a clash).
 */
export class MacAllocator {
  private readonly seen = new Set<string>();

  /** Records a MAC in use (a user-given one, or an overlay `02:42:` one). */
  claim(mac: string): void {
    this.seen.add(mac);
  }

  /** A seeded MAC not handed out before. */
  generate(seed: string): string {
    let mac = seededMac(seed);
    for (let i = 1; this.seen.has(mac); i++) mac = seededMac(`${seed}#${i}`);
    this.seen.add(mac);
    return mac;
  }
}
