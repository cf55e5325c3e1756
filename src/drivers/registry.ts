/**
 * Driver registration by type (libnetwork's drvregistry): a controller owns
 * one registry with one instance of each built-in driver.
 *
 * @example
 * const reg = DriverRegistry.builtin();
 * reg.get('macvlan').parseOptions(id, { parent: 'eth0.10' }, false);
 */
import { NotFoundError } from '../cnm/errors.ts';
import { BridgeDriver } from './bridge.ts';
import { IpvlanDriver } from './ipvlan.ts';
import { MacvlanDriver } from './macvlan.ts';
import { NoneDriver } from './none.ts';
import { OverlayDriver } from './overlay.ts';
import type { Driver, DriverConfig, DriverType } from './types.ts';

export class DriverRegistry {
  private readonly drivers = new Map<string, Driver<DriverConfig>>();

  /** A registry holding none, bridge, macvlan, ipvlan and overlay. */
  static builtin(): DriverRegistry {
    const r = new DriverRegistry();
    r.register(new NoneDriver());
    r.register(new BridgeDriver());
    r.register(new MacvlanDriver());
    r.register(new IpvlanDriver());
    r.register(new OverlayDriver());
    return r;
  }

  register(d: Driver<any>): void {
    this.drivers.set(d.type, d);
  }

  /**
   * The driver of that type; `null` is accepted for `none` (Docker's name).
   * Unknown types fail as Docker's plugin lookup does.
   */
  get(type: string): Driver<DriverConfig> {
    const d = this.drivers.get(type === 'null' ? 'none' : type);
    if (!d) {
      throw new NotFoundError(`could not find plugin ${type} in v1 plugin registry: plugin not found`, {
        field: 'driver',
        code: 'ErrPluginNotFound',
      });
    }
    return d;
  }

  types(): DriverType[] {
    return [...this.drivers.keys()] as DriverType[];
  }
}
