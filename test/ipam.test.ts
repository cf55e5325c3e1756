import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { isNetworkError, NetworkError, type ErrorCategory } from '../src/cnm/errors.ts';
import {
  cliIpamConfig,
  formatAddr,
  Ipam,
  isMulticastMac,
  MacAllocator,
  macFromIPv4,
  parseAddr,
  parseMac,
  parsePrefix,
  seededMac,
  validateIpamConfig,
} from '../src/ipam/index.ts';

/** Runs `f`, expecting a NetworkError with exactly `message` (and category/code when given). */
function throwsNet(f: () => unknown, message: string, category?: ErrorCategory, code?: string): NetworkError {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof NetworkError, `expected a NetworkError, got ${String(e)}`);
    const ne = e as NetworkError;
    assert.is(ne.message, message);
    if (category) assert.is(ne.category, category, `category of "${message}"`);
    if (code) assert.ok(isNetworkError(ne, code), `code ${code} in "${message}"`);
    return ne;
  }
  assert.unreachable(`expected "${message}" to be thrown`);
  throw new Error('unreachable');
}

const ip = (a: number) => formatAddr(a);

// ---------------------------------------------------------------------------
const Errors = suite('ipam: error table (moby ipamapi/contract.go wording)');

Errors('a static pool overlapping an allocated one: "Pool overlaps with other one on this address space"', () => {
  const ipam = new Ipam();
  ipam.requestPool({ addressSpace: 'LocalDefault', pool: '10.0.0.0/16' });
  throwsNet(
    () => ipam.requestPool({ addressSpace: 'LocalDefault', pool: '10.0.1.0/24' }),
    'invalid pool request: Pool overlaps with other one on this address space',
    'forbidden',
    'ErrPoolOverlap',
  );
  throwsNet(
    () => ipam.requestPool({ addressSpace: 'LocalDefault', pool: '10.0.0.0/8' }),
    'invalid pool request: Pool overlaps with other one on this address space',
    'forbidden',
  );
  throwsNet(
    () => ipam.requestPool({ addressSpace: 'LocalDefault', pool: '10.0.0.0/16' }),
    'invalid pool request: Pool overlaps with other one on this address space',
  );
});

Errors('an address taken twice: "Address already in use"', () => {
  const ipam = new Ipam();
  const { poolId } = ipam.requestPool({ addressSpace: 'LocalDefault', pool: '10.1.0.0/24' });
  assert.is(ip(ipam.requestAddress(poolId, '10.1.0.7')), '10.1.0.7');
  throwsNet(() => ipam.requestAddress(poolId, '10.1.0.7'), 'Address already in use', 'forbidden', 'ErrIPAlreadyAllocated');
  // network and broadcast addresses are reserved
  throwsNet(() => ipam.requestAddress(poolId, '10.1.0.0'), 'Address already in use');
  throwsNet(() => ipam.requestAddress(poolId, '10.1.0.255'), 'Address already in use');
});

Errors('a full pool: "no available addresses on this pool"', () => {
  const ipam = new Ipam();
  const { poolId } = ipam.requestPool({ addressSpace: 'LocalDefault', pool: '10.2.0.0/30' });
  assert.is(ip(ipam.requestAddress(poolId)), '10.2.0.1');
  assert.is(ip(ipam.requestAddress(poolId)), '10.2.0.2');
  throwsNet(() => ipam.requestAddress(poolId), 'no available addresses on this pool', 'unavailable', 'ErrNoAvailableIPs');
});

Errors('an address outside the pool: "requested address is out of range"', () => {
  const ipam = new Ipam();
  const { poolId } = ipam.requestPool({ addressSpace: 'LocalDefault', pool: '10.3.0.0/24' });
  throwsNet(() => ipam.requestAddress(poolId, '10.3.1.1'), 'requested address is out of range', 'invalid-parameter', 'ErrIPOutOfRange');
});

Errors('predefined pools used up: "all predefined address pools have been fully subnetted"', () => {
  const ipam = new Ipam();
  for (let i = 0; i < 31; i++) ipam.requestPool({ addressSpace: 'LocalDefault' });
  throwsNet(() => ipam.requestPool({ addressSpace: 'LocalDefault' }), 'all predefined address pools have been fully subnetted', 'invalid-parameter');
});

Errors('a malformed pool or sub-pool request', () => {
  const ipam = new Ipam();
  throwsNet(
    () => ipam.requestPool({ addressSpace: 'LocalDefault', pool: '10.0.0.0/33' }),
    'failed to parse pool request for address space "LocalDefault" pool "10.0.0.0/33" subpool "": invalid address pool',
    'internal',
  );
  throwsNet(
    () => ipam.requestPool({ addressSpace: 'LocalDefault', subPool: '10.0.0.0/25' }),
    'failed to parse pool request for address space "LocalDefault" pool "" subpool "10.0.0.0/25": invalid address subpool',
  );
});

// ---------------------------------------------------------------------------
const Pools = suite('ipam: default pools');

Pools('local pools: 172.17-172.31 as /16s, then 192.168.0.0/16 as /20s', () => {
  const ipam = new Ipam();
  const got: string[] = [];
  for (let i = 0; i < 31; i++) got.push(ipam.requestPool({ addressSpace: 'LocalDefault' }).pool.toString());
  const want = [
    ...Array.from({ length: 15 }, (_, i) => `172.${17 + i}.0.0/16`),
    ...Array.from({ length: 16 }, (_, i) => `192.168.${i * 16}.0/20`),
  ];
  assert.equal(got, want);
});

Pools('global pools: 10.0.0.0/8 as /24s, in a space separate from the local one', () => {
  const ipam = new Ipam();
  assert.is(ipam.requestPool({ addressSpace: 'GlobalDefault' }).pool.toString(), '10.0.0.0/24');
  assert.is(ipam.requestPool({ addressSpace: 'GlobalDefault' }).pool.toString(), '10.0.1.0/24');
  // the same prefix in the local space does not overlap the global one
  assert.is(ipam.requestPool({ addressSpace: 'LocalDefault', pool: '10.0.0.0/24' }).pool.toString(), '10.0.0.0/24');
});

Pools('dynamic pools skip static pools, excluded prefixes (host routes) and partial overlaps', () => {
  const ipam = new Ipam();
  ipam.requestPool({ addressSpace: 'LocalDefault', pool: '172.17.5.0/24' }); // partially overlaps 172.17.0.0/16
  const exclude = [parsePrefix('172.18.200.0/24')!];
  assert.is(ipam.requestPool({ addressSpace: 'LocalDefault', exclude }).pool.toString(), '172.19.0.0/16');
  assert.is(ipam.requestPool({ addressSpace: 'LocalDefault', exclude }).pool.toString(), '172.20.0.0/16');
  // the exclusion only applies when asked for
  assert.is(ipam.requestPool({ addressSpace: 'LocalDefault' }).pool.toString(), '172.18.0.0/16');
});

Pools('a /20 of 192.168 partially used is skipped to the next free /20', () => {
  const ipam = new Ipam({ localPools: [{ base: '192.168.0.0/16', size: 20 }] });
  ipam.requestPool({ addressSpace: 'LocalDefault', pool: '192.168.0.0/24' });
  ipam.requestPool({ addressSpace: 'LocalDefault', pool: '192.168.17.0/24' });
  assert.is(ipam.requestPool({ addressSpace: 'LocalDefault' }).pool.toString(), '192.168.32.0/20');
});

Pools('`0.0.0.0/N` asks for a predefined pool of length N', () => {
  const ipam = new Ipam();
  assert.is(ipam.requestPool({ addressSpace: 'LocalDefault', pool: '0.0.0.0/24' }).pool.toString(), '172.17.0.0/24');
  assert.is(ipam.requestPool({ addressSpace: 'LocalDefault', pool: '0.0.0.0/24' }).pool.toString(), '172.17.1.0/24');
});

Pools('a released pool can be allocated again', () => {
  const ipam = new Ipam();
  const a = ipam.requestPool({ addressSpace: 'LocalDefault' });
  ipam.releasePool(a.poolId);
  assert.is(ipam.requestPool({ addressSpace: 'LocalDefault' }).pool.toString(), '172.17.0.0/16');
});

// ---------------------------------------------------------------------------
const Addr = suite('ipam: addresses');

Addr('first free address; the gateway is the first address unless given', () => {
  const ipam = new Ipam();
  const { poolId } = ipam.requestPool({ addressSpace: 'LocalDefault' });
  assert.is(ip(ipam.requestAddress(poolId)), '172.17.0.1');
  assert.is(ip(ipam.requestAddress(poolId)), '172.17.0.2');
  assert.is(ip(ipam.requestAddress(poolId, '172.17.0.4')), '172.17.0.4');
  assert.is(ip(ipam.requestAddress(poolId)), '172.17.0.3');
  assert.is(ip(ipam.requestAddress(poolId)), '172.17.0.5');
  ipam.releaseAddress(poolId, parseAddr('172.17.0.2')!);
  assert.is(ip(ipam.requestAddress(poolId)), '172.17.0.2', 'local allocation takes the lowest free address');
});

Addr('serial allocation (swarm) continues after the last address handed out, then wraps', () => {
  const ipam = new Ipam();
  const { poolId } = ipam.requestPool({ addressSpace: 'GlobalDefault', pool: '10.0.9.0/29' });
  const next = () => ip(ipam.requestAddress(poolId, null, { serial: true }));
  assert.equal([next(), next(), next()], ['10.0.9.1', '10.0.9.2', '10.0.9.3']);
  ipam.releaseAddress(poolId, parseAddr('10.0.9.2')!);
  assert.is(next(), '10.0.9.4', 'not the freed .2');
  ipam.requestAddress(poolId, '10.0.9.6'); // a static address does not move the cursor
  assert.is(next(), '10.0.9.5');
  assert.is(next(), '10.0.9.2', 'wraps to the freed address');
  assert.throws(() => next(), /no available addresses on this pool/);
});

Addr('--ip-range: dynamic addresses come from the range (first one included), static ones from the subnet', () => {
  const ipam = new Ipam();
  const { poolId, pool } = ipam.requestPool({ addressSpace: 'LocalDefault', pool: '192.168.10.0/24', subPool: '192.168.10.128/25' });
  assert.is(pool.toString(), '192.168.10.0/24');
  assert.is(poolId, 'LocalDefault/192.168.10.0/24/192.168.10.128/25');
  assert.is(ip(ipam.requestAddress(poolId)), '192.168.10.128');
  assert.is(ip(ipam.requestAddress(poolId, '192.168.10.90')), '192.168.10.90');
  assert.is(ip(ipam.requestAddress(poolId)), '192.168.10.129');
});

Addr('sub-pools: the same subnet with another range is accepted (moby#46756), the same range is not', () => {
  const ipam = new Ipam();
  const a = ipam.requestPool({ addressSpace: 'LocalDefault', pool: '10.5.0.0/24', subPool: '10.5.0.0/25' });
  const b = ipam.requestPool({ addressSpace: 'LocalDefault', pool: '10.5.0.0/24', subPool: '10.5.0.128/25' });
  // both ranges share one address set
  ipam.requestAddress(a.poolId, '10.5.0.200');
  assert.throws(() => ipam.requestAddress(b.poolId, '10.5.0.200'), /Address already in use/);
  throwsNet(
    () => ipam.requestPool({ addressSpace: 'LocalDefault', pool: '10.5.0.0/24', subPool: '10.5.0.0/25' }),
    'invalid pool request: Pool overlaps with other one on this address space',
  );
});

Addr('/31 and /32 pools reserve nothing (RFC 3021)', () => {
  const ipam = new Ipam();
  const p31 = ipam.requestPool({ addressSpace: 'LocalDefault', pool: '10.6.0.0/31' }).poolId;
  assert.equal([ip(ipam.requestAddress(p31)), ip(ipam.requestAddress(p31))], ['10.6.0.0', '10.6.0.1']);
  const p32 = ipam.requestPool({ addressSpace: 'LocalDefault', pool: '10.7.0.9/32' }).poolId;
  assert.is(ip(ipam.requestAddress(p32)), '10.7.0.9');
});

// ---------------------------------------------------------------------------
const Checks = suite('ipam: network create checks (docker CLI, then daemon ValidateIPAM)');

const cli = (o: Partial<Parameters<typeof cliIpamConfig>[0]>) =>
  cliIpamConfig({ subnets: [], ipRanges: [], gateways: [], auxAddresses: [], ...o });

Checks('the docker CLI pairs gateway, ip-range and aux addresses with their subnet', () => {
  assert.equal(cli({ subnets: ['10.1.0.0/24'], gateways: ['10.1.0.254'], ipRanges: ['10.1.0.128/25'], auxAddresses: [['r', '10.1.0.1']] }), [
    { subnet: '10.1.0.0/24', gateway: '10.1.0.254', ipRange: '10.1.0.128/25', auxAddresses: { r: '10.1.0.1' } },
  ]);
  const table: [Parameters<typeof cli>[0], string, string][] = [
    [{ subnets: ['10.1.0.0/24'], auxAddresses: [['DefaultGatewayIPv4', '10.9.0.1']] }, 'no matching subnet for aux-address 10.9.0.1', 'aux_addresses.DefaultGatewayIPv4'],
    [{ auxAddresses: [['x', '10.9.0.1']] }, 'no matching subnet for aux-address 10.9.0.1', 'aux_addresses.x'],
    [{ subnets: ['10.1.0.0/24'], gateways: ['10.9.0.1'] }, 'no matching subnet for gateway 10.9.0.1', 'gateway'],
    [{ subnets: ['10.1.0.0/24'], ipRanges: ['10.9.0.0/25'] }, 'no matching subnet for range 10.9.0.0/25', 'ip_range'],
    [{ gateways: ['10.9.0.1'] }, 'every ip-range or gateway must have a corresponding subnet', 'gateway'],
    [{ ipRanges: ['10.9.0.0/25'] }, 'every ip-range or gateway must have a corresponding subnet', 'ip_range'],
    [{ subnets: ['10.1.0.0/24', '10.1.0.0/25'] }, 'multiple overlapping subnet configuration is not supported', 'subnet'],
    [{ subnets: ['10.1.0.0/24'], ipRanges: ['banana'] }, 'invalid CIDR address: banana', 'ip_range'],
    [{ subnets: ['nope'], gateways: ['10.1.0.1'] }, 'invalid subnet: invalid CIDR address: nope', 'subnet'],
    [{ subnets: ['fd00::/64'] }, 'IPv6 is not supported by netwasm: fd00::/64', 'subnet'],
  ];
  for (const [flags, msg, field] of table) {
    const e = throwsNet(() => cli(flags), msg, 'invalid-parameter');
    assert.is(e.field, field, msg);
  }
});

Checks('the daemon refuses host bits, bad ranges and addresses outside the subnet', () => {
  const v = (subnet: string, o: { ipRange?: string; gateway?: string; aux?: Record<string, string> } = {}) => () =>
    validateIpamConfig([{ subnet, ipRange: o.ipRange, gateway: o.gateway, auxAddresses: o.aux ?? {} }]);
  throwsNet(v('10.1.0.1/24'), 'invalid network config:\ninvalid subnet 10.1.0.1/24: it should be 10.1.0.0/24', 'invalid-parameter');
  throwsNet(v('10.1.0.0/24', { ipRange: '10.1.0.0/23' }), 'invalid network config:\ninvalid ip-range 10.1.0.0/23: CIDR block is bigger than its parent subnet 10.1.0.0/24');
  throwsNet(v('10.1.0.0/24', { ipRange: '10.1.0.129/25' }), 'invalid network config:\ninvalid ip-range 10.1.0.129/25: it should be 10.1.0.128/25');
  throwsNet(v('10.1.0.0/24', { gateway: '10.2.0.1' }), "invalid network config:\ninvalid gateway 10.2.0.1: parent subnet 10.1.0.0/24 doesn't contain this address");
  throwsNet(v('10.1.0.0/24', { aux: { r: 'x' } }), 'invalid network config:\ninvalid auxiliary address r: invalid address');
  throwsNet(v('bad'), 'invalid network config:\ninvalid subnet bad: invalid CIDR block notation');
  // several problems: one bullet each, as Go's joinError prints them
  throwsNet(
    v('10.1.0.1/24', { gateway: '10.2.0.1' }),
    "invalid network config:\n* invalid subnet 10.1.0.1/24: it should be 10.1.0.0/24\n* invalid gateway 10.2.0.1: parent subnet 10.1.0.1/24 doesn't contain this address",
  );
  v('10.1.0.0/24', { gateway: '10.1.0.254', ipRange: '10.1.0.128/25', aux: { r: '10.1.0.1' } })();
});

// ---------------------------------------------------------------------------
const Mac = suite('ipam: MAC addresses');

Mac('overlay endpoints: 02:42 and the IPv4 address', () => {
  assert.is(macFromIPv4(parseAddr('10.0.9.3')!), '02:42:0a:00:09:03');
  assert.is(macFromIPv4(parseAddr('172.17.255.254')!), '02:42:ac:11:ff:fe');
});

Mac('seeded MACs are locally administered unicast, stable, and differ by seed', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 500; i++) {
    const m = seededMac(`endpoint\0local\0c${i}\0bridge`);
    const b0 = parseInt(m.slice(0, 2), 16);
    assert.is(b0 & 1, 0, `${m} is unicast`);
    assert.is(b0 & 2, 2, `${m} is locally administered`);
    assert.is(seededMac(`endpoint\0local\0c${i}\0bridge`), m, 'same seed, same MAC');
    seen.add(m);
  }
  assert.is(seen.size, 500);
});

Mac('the allocator never hands out a MAC twice', () => {
  const a = new MacAllocator();
  const first = a.generate('x');
  assert.is(first, seededMac('x'));
  const second = a.generate('x');
  assert.is.not(second, first);
  a.claim(seededMac('y'));
  assert.is.not(a.generate('y'), seededMac('y'));
});

Mac('parsing accepts Go net.ParseMAC forms and normalises them', () => {
  assert.is(parseMac('02:42:C0:A8:0A:5A'), '02:42:c0:a8:0a:5a');
  assert.is(parseMac('02-42-c0-a8-0a-5a'), '02:42:c0:a8:0a:5a');
  assert.is(parseMac('0242.c0a8.0a5a'), '02:42:c0:a8:0a:5a');
  assert.is(parseMac('02:42:c0:a8:0a'), null);
  assert.is(parseMac('02:42-c0:a8:0a:5a'), null);
  assert.ok(isMulticastMac('01:00:5e:00:00:01'));
  assert.not.ok(isMulticastMac('02:42:00:00:00:01'));
});

Mac('addresses parse with netip rules (no leading zeros)', () => {
  assert.is(parseAddr('10.0.0.1'), 0x0a000001);
  assert.is(parseAddr('010.0.0.1'), null);
  assert.is(parseAddr('256.0.0.1'), null);
  assert.is(parsePrefix('10.0.0.0/33'), null);
  assert.is(parsePrefix('10.1.2.3/16')!.masked().toString(), '10.1.0.0/16');
});

Errors.run();
Pools.run();
Addr.run();
Checks.run();
Mac.run();
