/**
 * The `-o parent=` of macvlan and ipvlan networks, resolved against a host's
 * interfaces as the drivers' createNetwork does it (moby v28
 * `libnetwork/drivers/macvlan/macvlan_setup.go` createVlanLink/parseVlan; the
 * ipvlan copy is identical):
 *
 * - an existing interface is used as it is (untagged);
 * - `eth0.10` names an 802.1Q sub-interface of `eth0` for VLAN 10, which the
 *   driver creates: frames are tagged 10 on eth0 going out and untagged coming
 *   in;
 * - anything else is refused, with Docker's messages.
 *
 * @example
 * resolveParent('eth0.10', host); // { parent: 'eth0.10', iface: 'eth0', vlan: 10 }
 */
import { InvalidParameterError } from '../cnm/errors.ts';
import { parseGoInt, type HostInfo } from './types.ts';

/** A resolved parent: the host uplink carrying the traffic and the VLAN (0: untagged). */
export interface ParentLink {
  /** The `parent` option as given. */
  parent: string;
  /** The host interface frames leave on. */
  iface: string;
  /** 802.1Q VLAN ID, or 0 for an untagged parent. */
  vlan: number;
}

/**
 * Resolves `parent` on `host`. Throws InvalidParameterError with Docker's
 * wording ("vlan id must be between 1-4094, received: 4095", "invalid
 * subinterface vlan name eth9, example formatting is eth0.10", ...).
 */
export function resolveParent(parent: string, host: HostInfo): ParentLink {
  const err = (m: string) => new InvalidParameterError(m, { field: 'options.parent', code: 'ErrParent' });
  if (host.interfaces.has(parent)) return { parent, iface: parent, vlan: 0 };
  if (!parent.includes('.')) throw err(`invalid subinterface vlan name ${parent}, example formatting is eth0.10`);
  const split = parent.split('.');
  if (split.length !== 2) {
    throw err(`required interface name format is: name.vlan_id, ex. eth0.10 for vlan 10, instead received ${parent}`);
  }
  const [base, vidStr] = split as [string, string];
  const vid = parseGoInt(vidStr);
  if (vid === null) throw err(`unable to parse a valid vlan id from: ${vidStr} (ex. eth0.10 for vlan 10)`);
  if (!host.interfaces.has(base)) throw err(`-o parent interface was not found on the host: ${base}`);
  if (vid > 4094 || vid < 1) throw err(`vlan id must be between 1-4094, received: ${vid}`);
  return { parent, iface: base, vlan: vid };
}

/**
 * The host interface names a parent needs (for a scenario without `hosts:`,
 * whose single host has the interfaces its networks name): `eth0.10` needs
 * `eth0`, `eth1` needs `eth1`.
 */
export function parentInterfaceName(parent: string): string | null {
  if (parent === '' || parent === 'lo') return null;
  const split = parent.split('.');
  if (split.length === 2 && parseGoInt(split[1]!) !== null && split[0] !== '') return split[0]!;
  return split.length === 1 ? parent : null;
}
