/** IPVS: virtual services, real servers, schedulers (rr, wrr, lc, wlc, sh, mh, maglev), connection table. */
export { Ipvs, defaultHash, TCP_STATE_NAMES } from './ipvs.ts';
export type {
  Protocol, SchedulerName, ServiceFlag, ServiceKey, ServiceOptions, MaglevOptions, RealServer, MarkRule,
  ServerStats, ServiceInfo, Connection,
} from './ipvs.ts';
export { katranRing, katranPermutation, mhTable, mhSetup, mhHashKey, shTable, addrFold, MH_PRIMES } from './maglev.ts';
export type { KatranEndpoint, MhDest } from './maglev.ts';
export { murmur3x64_64, hsiphash32, siphash13, jhash2words, jhash16, MH_KEY1, MH_KEY2 } from './hash.ts';
export { parseIp, formatIp } from './addr.ts';
