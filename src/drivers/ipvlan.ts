/**
 * The `ipvlan` driver (moby v28 `libnetwork/drivers/ipvlan`): containers share
 * the parent interface's MAC; `-o ipvlan_mode=` l2 (default), l3 or l3s, and
 * `-o ipvlan_flag=` bridge (default), private or vepa. L3 modes route through
 * the parent and reserve no gateway address; so does a network without parent
 * (internal). One ipvlan network per parent interface and host.
 */
import { ForbiddenError, InvalidParameterError } from '../cnm/errors.ts';
import { resolveParent, type ParentLink } from './parent.ts';
import { checkKnownOptions } from './types.ts';
import type {
  Capability,
  CreateEndpointRequest,
  CreateNetworkRequest,
  Driver,
  DriverConfig,
  NetworkInstanceInfo,
} from './types.ts';

export const IPVLAN_MODE_OPT = 'ipvlan_mode';
export const IPVLAN_FLAG_OPT = 'ipvlan_flag';

export type IpvlanMode = 'l2' | 'l3' | 'l3s';
export type IpvlanFlag = 'bridge' | 'private' | 'vepa';

export interface IpvlanConfig extends DriverConfig {
  parent: string;
  mode: IpvlanMode;
  flag: IpvlanFlag;
}

interface Instance {
  nid: string;
  config: IpvlanConfig;
  link: ParentLink | null;
  mtu: number;
  /** MAC shared by the network's endpoints on this host: the parent's. */
  mac: string;
}

export class IpvlanDriver implements Driver<IpvlanConfig> {
  readonly type = 'ipvlan' as const;
  readonly capability: Capability = { dataScope: 'local', connectivityScope: 'global' };
  private readonly hosts = new Map<string, Map<string, Instance>>();

  parseOptions(_nid: string, options: Readonly<Record<string, string>>, internal: boolean): IpvlanConfig {
    checkKnownOptions('ipvlan', options, ['parent', IPVLAN_MODE_OPT, IPVLAN_FLAG_OPT]);
    const parent = options['parent'] ?? '';
    const mode = options[IPVLAN_MODE_OPT] ?? '';
    const flag = options[IPVLAN_FLAG_OPT] ?? '';
    const cfg: IpvlanConfig = { mtu: 1500, internal, parent, mode: 'l2', flag: 'bridge' };
    if (mode === 'l2' || mode === 'l3' || mode === 'l3s') cfg.mode = mode;
    else if (mode !== '') {
      throw new InvalidParameterError(`requested ipvlan mode '${mode}' is not valid, 'l2' mode is the ipvlan driver default`, {
        field: `options.${IPVLAN_MODE_OPT}`,
      });
    }
    if (flag === 'bridge' || flag === 'private' || flag === 'vepa') cfg.flag = flag;
    else if (flag !== '') {
      throw new InvalidParameterError(`requested ipvlan flag '${flag}' is not valid, 'bridge' is the ipvlan driver default`, {
        field: `options.${IPVLAN_FLAG_OPT}`,
      });
    }
    if (parent === 'lo') {
      throw new InvalidParameterError('loopback interface is not a valid ipvlan parent link', { field: 'options.parent' });
    }
    if (parent === '') cfg.internal = true;
    return cfg;
  }

  skipGatewayAlloc(cfg: IpvlanConfig): boolean {
    return cfg.mode === 'l3' || cfg.mode === 'l3s' || cfg.internal;
  }

  createNetwork(req: CreateNetworkRequest<IpvlanConfig>): void {
    const nets = this.hosts.get(req.host.name) ?? new Map<string, Instance>();
    const cfg = req.config;
    if (cfg.parent !== '') {
      for (const o of nets.values()) {
        if (o.config.parent === cfg.parent && o.nid !== req.nid) {
          throw new ForbiddenError(`network di-${o.nid.slice(0, 12)} is already using parent interface ${cfg.parent}`, {
            field: 'options.parent',
          });
        }
      }
    }
    const link = cfg.parent === '' ? null : resolveParent(cfg.parent, req.host);
    const iface = link ? req.host.interfaces.get(link.iface) : undefined;
    const mac = iface ? iface.mac : req.macs.generate(`dummy\0${req.host.name}\0${req.name}`);
    nets.set(req.nid, { nid: req.nid, config: cfg, link, mtu: iface?.mtu ?? 1500, mac });
    this.hosts.set(req.host.name, nets);
  }

  deleteNetwork(nid: string, host: string): void {
    this.hosts.get(host)?.delete(nid);
  }

  instanceInfo(nid: string, host: string): NetworkInstanceInfo {
    const st = this.hosts.get(host)?.get(nid);
    return { device: null, deviceMac: null, parent: st?.link ?? null, mtu: st?.mtu ?? 0 };
  }

  createEndpoint(req: CreateEndpointRequest): { mac: string | null } {
    if (req.mac) {
      throw new InvalidParameterError('ipvlan interfaces do not support custom mac address assignment', { field: 'mac' });
    }
    const st = this.hosts.get(req.host.name)?.get(req.nid);
    return { mac: st ? st.mac : null };
  }

  deleteEndpoint(): void {}
}
