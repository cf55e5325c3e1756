/**
 * The `none` driver (Docker's "null" driver): a sandbox with no connectivity.
 * Its endpoints have no interface, no address and no MAC; the container keeps
 * only its loopback.
 */
import type { Capability, Driver, DriverConfig, NetworkInstanceInfo } from './types.ts';

export class NoneDriver implements Driver<DriverConfig> {
  readonly type = 'none' as const;
  readonly capability: Capability = { dataScope: 'local', connectivityScope: 'local' };

  parseOptions(_nid: string, _options: Readonly<Record<string, string>>, internal: boolean): DriverConfig {
    return { mtu: 0, internal };
  }

  skipGatewayAlloc(): boolean {
    return true;
  }

  createNetwork(): void {}
  deleteNetwork(): void {}

  instanceInfo(): NetworkInstanceInfo {
    return { device: null, deviceMac: null, parent: null, mtu: 0 };
  }

  createEndpoint(): { mac: string | null } {
    return { mac: null };
  }

  deleteEndpoint(): void {}
}
