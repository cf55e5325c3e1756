/**
 * A sandbox: a container's network namespace (libnetwork Sandbox). Endpoints
 * join it in order and get interface names `eth0`, `eth1`, ... (the lowest
 * free one); an endpoint of a `none` network gives no interface, and a
 * sandbox on `none` can join nothing else (Docker's ErrConflictNoNetwork).
 */
import { ForbiddenError, InvalidParameterError } from './errors.ts';
import type { Endpoint } from './network.ts';

export class Sandbox {
  /** Container name (`/` not included). */
  readonly name: string;
  /** Container ID. */
  readonly containerId: string;
  /** Sandbox ID. */
  readonly id: string;
  readonly host: string;
  /** For swarm tasks: the service and slot. */
  readonly service: string | null;
  readonly slot: number | null;
  /** Joined endpoints in join order. */
  readonly endpoints: Endpoint[] = [];

  constructor(init: { name: string; containerId: string; id: string; host: string; service?: string | null; slot?: number | null }) {
    this.name = init.name;
    this.containerId = init.containerId;
    this.id = init.id;
    this.host = init.host;
    this.service = init.service ?? null;
    this.slot = init.slot ?? null;
  }

  /** Called by Endpoint.join. */
  attach(ep: Endpoint): void {
    if (ep.sandbox) throw new ForbiddenError(`endpoint ${ep.name} is already joined to a sandbox`);
    if (ep.host !== this.host) {
      throw new InvalidParameterError(`endpoint ${ep.name} of network ${ep.network.name} is on host ${ep.host}, the container on host ${this.host}`);
    }
    const isNone = (e: Endpoint) => e.network.driver.type === 'none';
    if (this.endpoints.length > 0 && (isNone(ep) || this.endpoints.some(isNone))) {
      throw new InvalidParameterError(
        'container cannot be connected to multiple networks with one of the networks in private (none) mode',
        { code: 'ErrConflictNoNetwork' },
      );
    }
    if (isNone(ep)) {
      // Docker's none network leaves the container its loopback only: the
      // port `CONTAINER/lo`, where whatever is sent goes nowhere (none-drop).
      ep.ifname = 'lo';
    } else {
      const used = new Set(this.endpoints.map((e) => e.ifname));
      let i = 0;
      while (used.has(`eth${i}`)) i++;
      ep.ifname = `eth${i}`;
    }
    ep.sandbox = this;
    this.endpoints.push(ep);
  }

  /** Called by Endpoint.leave. */
  detach(ep: Endpoint): void {
    const i = this.endpoints.indexOf(ep);
    if (i < 0) return;
    this.endpoints.splice(i, 1);
    ep.sandbox = null;
    ep.ifname = null;
  }

  /** Interface ports of the sandbox, in interface order. */
  ports(): string[] {
    return this.endpoints
      .filter((e) => e.ifname !== null)
      .sort((a, b) => Number(a.ifname!.slice(3)) - Number(b.ifname!.slice(3)))
      .map((e) => `${this.name}/${e.ifname}`);
  }
}
