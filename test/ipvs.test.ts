// IPVS through the real .wasm, frame by frame (ipvsProcessFrame: the function
// the bridge hook runs): schedulers, the connection table and its TCP states
// and timeouts, NAT and direct routing with verified checksums, persistence,
// firewall marks, IPv6, the ARP/ND responder, ICMP errors, malformed input.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Dataplane, COUNTERS, type DataplaneOptions } from '../src/dataplane/index.ts';
import { Ipvs, type ServiceKey, type ServiceOptions } from '../src/ipvs/ipvs.ts';
import { jhash2words } from '../src/ipvs/hash.ts';
import { frame, parse, TCP, arpRequest, neighborSolicit, icmpError, icmpOk, ipHeaderOk, l4Checksum, type FlowSpec } from './helpers/ipvs-frames.ts';

const B = 3;
const VMAC = '02:42:0a:00:00:fe';
const VIP = '10.0.0.100';
const MACS = ['02:42:0a:00:00:0a', '02:42:0a:00:00:0b', '02:42:0a:00:00:0c', '02:42:0a:00:00:0d'];
const RS = ['10.0.0.10', '10.0.0.11', '10.0.0.12', '10.0.0.13'];
const svc80: ServiceKey = { bridge: B, protocol: 'tcp', address: VIP, port: 80 };

interface Ex {
  ipvsProcessFrame(p: number, len: number, bridge: number, now: number): number;
  ipvsLastDrop(): number;
  ipvsReplyLen(): number;
}

const names = new Map(COUNTERS.map(([id, n]) => [id, n]));

function setup(opts: DataplaneOptions = {}, svcOpts: ServiceOptions = { scheduler: 'rr' }, n = 3, key: ServiceKey = svc80) {
  const dp = new Dataplane({ slots: 64, connCapacity: 4096, ...opts });
  const ipvs = new Ipvs(dp);
  ipvs.setBridge(B, { mac: VMAC });
  ipvs.addService(key, svcOpts);
  for (let i = 0; i < n; i++) ipvs.addServer(key, { address: RS[i]!, port: 8080, mac: MACS[i]! });
  const ex = dp.exports as unknown as Ex;
  const buf = dp.slotAddr(0) + 128;
  const proc = (f: Uint8Array, now = 1000, bridge = B): { r: number; out: Uint8Array; drop: string } => {
    dp.bytes.set(f, buf);
    const r = ex.ipvsProcessFrame(buf, f.length, bridge, now);
    const len = r === 2 ? ex.ipvsReplyLen() : f.length;
    return { r, out: dp.bytes.slice(buf, buf + len), drop: r === 3 ? names.get(ex.ipvsLastDrop()) ?? '?' : '' };
  };
  return { dp, ipvs, proc };
}

const client = (sport: number, flags: number = TCP.SYN, extra: Partial<FlowSpec> = {}): Uint8Array =>
  frame({ src: '10.0.0.2', dst: VIP, sport, dport: 80, flags, srcMac: '02:42:0a:00:00:02', dstMac: VMAC, ...extra });
const reply = (rs: number, sport: number, flags: number = TCP.SYN | TCP.ACK, extra: Partial<FlowSpec> = {}): Uint8Array =>
  frame({ src: RS[rs]!, dst: '10.0.0.2', sport: 8080, dport: sport, flags, srcMac: MACS[rs]!, dstMac: '02:42:0a:00:00:02', ...extra });
const serverOf = (out: Uint8Array): number => RS.indexOf(parse(out).dst);

// ---- NAT ----------------------------------------------------------------------------------------

const Nat = suite('ipvs: NAT');

Nat('a SYN to the VIP goes to a real server, rewritten, with good checksums', () => {
  const { proc, ipvs } = setup();
  const { r, out } = proc(client(40000));
  assert.is(r, 1);
  const p = parse(out);
  assert.ok(RS.includes(p.dst), p.dst);
  assert.is(p.dport, 8080);
  assert.is(p.src, '10.0.0.2', 'the client stays the source');
  assert.is(p.sport, 40000);
  assert.is(p.dstMac, MACS[RS.indexOf(p.dst)]);
  assert.is(p.srcMac, '02:42:0a:00:00:02');
  assert.ok(p.ipOk, 'IPv4 header checksum');
  assert.ok(p.l4Ok, 'TCP checksum');
  const c = ipvs.connections();
  assert.is(c.length, 1);
  assert.is(c[0]!.state, 'SYN_RECV');
  assert.is(c[0]!.server, p.dst);
});

Nat('replies come back from the VIP; the handshake reaches ESTABLISHED; the flow keeps its server', () => {
  const { proc, ipvs } = setup();
  const s = serverOf(proc(client(40001)).out);
  const back = proc(reply(s, 40001), 1001);
  assert.is(back.r, 1);
  const p = parse(back.out);
  assert.is(p.src, VIP);
  assert.is(p.sport, 80);
  assert.is(p.dst, '10.0.0.2');
  assert.is(p.dport, 40001);
  assert.is(p.srcMac, VMAC, 'the reply comes from the VIP MAC');
  assert.is(p.dstMac, '02:42:0a:00:00:02');
  assert.ok(p.ipOk && p.l4Ok);
  for (let i = 0; i < 5; i++) assert.is(serverOf(proc(client(40001, TCP.ACK, { payload: 100 + i }), 1002 + i).out), s);
  const c = ipvs.connections()[0]!;
  assert.is(c.state, 'ESTABLISHED');
  assert.is(c.expires, 1006 + 900, 'established timeout 900 s from the last packet');
  const st = ipvs.list()[0]!;
  const srv = st.servers.find((x) => x.address === RS[s])!;
  assert.is(srv.activeConns, 1);
  assert.is(srv.inactiveConns, 0);
  assert.is(srv.inPackets, 6);
  assert.is(srv.outPackets, 1);
  assert.is(st.conns, 1);
});

Nat('UDP with and without a checksum', () => {
  const { proc, ipvs } = setup({}, { scheduler: 'rr' }, 2, { bridge: B, protocol: 'udp', address: VIP, port: 53 });
  const a = proc(frame({ proto: 'udp', src: '10.0.0.2', dst: VIP, sport: 5000, dport: 53, payload: 33 }));
  assert.is(a.r, 1);
  assert.ok(parse(a.out).l4Ok);
  const b = proc(frame({ proto: 'udp', src: '10.0.0.2', dst: VIP, sport: 5001, dport: 53, payload: 12, noUdpCsum: true }));
  assert.is(b.r, 1);
  const v = new DataView(b.out.buffer);
  assert.is(v.getUint16(14 + 20 + 6), 0, 'a zero UDP checksum stays zero');
  assert.ok(parse(b.out).ipOk);
  assert.is(ipvs.connections().filter((c) => c.state === 'UDP').length, 2);
  assert.is(ipvs.connections()[0]!.expires, 1000 + 300, 'UDP timeout 300 s');
});

Nat('a tagged (802.1Q) frame is handled behind its tag', () => {
  const { proc } = setup();
  const { r, out } = proc(client(40002, TCP.SYN, { vlan: 10 }));
  assert.is(r, 1);
  const p = parse(out);
  assert.ok(RS.includes(p.dst));
  assert.ok(p.ipOk && p.l4Ok);
});

Nat('checksums stay right over many addresses and ports (incremental update, RFC 1624)', () => {
  const { proc } = setup({}, { scheduler: 'rr' }, 3);
  for (let i = 0; i < 300; i++) {
    const f = frame({ src: `10.${i & 255}.${(i * 7) & 255}.${(i * 13) & 255}`, dst: VIP, sport: 1024 + i * 97, dport: 80, flags: TCP.SYN, payload: i % 40 });
    const { r, out } = proc(f, 2000);
    assert.is(r, 1);
    const p = parse(out);
    assert.ok(p.ipOk && p.l4Ok, `frame ${i}`);
  }
});

Nat('direct routing rewrites only the destination MAC', () => {
  const dp = new Dataplane({ slots: 64, connCapacity: 1024 });
  const ipvs = new Ipvs(dp);
  ipvs.setBridge(B, { mac: VMAC });
  ipvs.addService(svc80, { scheduler: 'rr' });
  ipvs.addServer(svc80, { address: RS[0]!, mac: MACS[0]!, forward: 'dr' });
  const ex = dp.exports as unknown as Ex;
  const f = client(41000);
  const buf = dp.slotAddr(0) + 128;
  dp.bytes.set(f, buf);
  assert.is(ex.ipvsProcessFrame(buf, f.length, B, 10), 1);
  const out = dp.bytes.slice(buf, buf + f.length);
  assert.equal(Array.from(out.subarray(6)), Array.from(f.subarray(6)), 'everything after the destination MAC is untouched');
  assert.is(parse(out).dstMac, MACS[0]);
  assert.is(ipvs.connections()[0]!.state, 'SYN_RECV');
});

Nat.run();

// ---- schedulers ----------------------------------------------------------------------------------

const Sched = suite('ipvs: schedulers');

Sched('rr walks the list newest first, as the kernel', () => {
  const { proc } = setup({}, { scheduler: 'rr' }, 3);
  const picks = Array.from({ length: 6 }, (_, i) => serverOf(proc(client(42000 + i)).out));
  assert.equal(picks, [2, 1, 0, 2, 1, 0]);
});

Sched('wrr: weights 3:2:1 in the kernel order, current weight kept across adds (ip_vs_wrr_dest_changed)', () => {
  const dp = new Dataplane({ slots: 64, connCapacity: 4096 });
  const ipvs = new Ipvs(dp);
  ipvs.addService(svc80, { scheduler: 'wrr' });
  // added z (1), y (2), x (3): the list is x, y, z
  ipvs.addServer(svc80, { address: RS[2]!, mac: MACS[2]!, weight: 1 });
  ipvs.addServer(svc80, { address: RS[1]!, mac: MACS[1]!, weight: 2 });
  ipvs.addServer(svc80, { address: RS[0]!, mac: MACS[0]!, weight: 3 });
  const ex = dp.exports as unknown as Ex;
  const buf = dp.slotAddr(0) + 128;
  const picks: number[] = [];
  for (let i = 0; i < 12; i++) {
    const f = client(43000 + i);
    dp.bytes.set(f, buf);
    assert.is(ex.ipvsProcessFrame(buf, f.length, B, 5), 1);
    picks.push(serverOf(dp.bytes.slice(buf, buf + f.length)));
  }
  // The first add set cw = mw = 1 and the later adds kept it (the kernel only
  // resets cw when it exceeds the new mw or is 0): one pass at cw 1, then the
  // 3:2:1 cycle x x y x y z.
  assert.equal(picks, [0, 1, 2, 0, 0, 1, 0, 1, 2, 0, 0, 1]);
});

Sched('lc and wlc pick the least loaded (active x 256 + inactive), weighted for wlc', () => {
  for (const scheduler of ['lc', 'wlc'] as const) {
    const { proc, ipvs } = setup({}, { scheduler }, 2);
    // establish one connection to the first pick (active = 256 overhead)
    const first = serverOf(proc(client(44000)).out);
    proc(reply(first, 44000), 1000);
    proc(client(44000, TCP.ACK), 1000);
    const srv = ipvs.list()[0]!.servers;
    assert.is(srv.find((s) => s.address === RS[first])!.activeConns, 1);
    // new connections avoid it until the other has 256 inactive ones
    const other = 1 - first;
    for (let i = 0; i < 5; i++) assert.is(serverOf(proc(client(44100 + i)).out), other, `${scheduler} pick ${i}`);
  }
  // wlc: weight 3 vs 1 -> 3 connections to one per connection to the other
  const { proc, ipvs } = setup({}, { scheduler: 'wlc' }, 0);
  ipvs.addServer(svc80, { address: RS[0]!, mac: MACS[0]!, weight: 3 });
  ipvs.addServer(svc80, { address: RS[1]!, mac: MACS[1]!, weight: 1 });
  const n = [0, 0];
  for (let i = 0; i < 40; i++) n[serverOf(proc(client(45000 + i)).out)]!++;
  assert.equal(n, [30, 10]);
});

Sched('sh: a client always reaches the same server; sh-port spreads its ports', () => {
  const { proc, ipvs } = setup({}, { scheduler: 'sh' }, 3);
  const s = new Set<number>();
  for (let i = 0; i < 10; i++) s.add(serverOf(proc(client(46000 + i)).out));
  assert.is(s.size, 1);
  ipvs.editService(svc80, { flags: ['sh-port'] });
  const t = new Set<number>();
  for (let i = 0; i < 30; i++) t.add(serverOf(proc(client(47000 + i)).out));
  assert.is(t.size, 3);
});

Sched('weight 0 quiesces: the flow stays, new flows go elsewhere (rr, mh, maglev)', () => {
  for (const scheduler of ['rr', 'mh', 'maglev'] as const) {
    const { proc, ipvs } = setup({}, { scheduler }, 3);
    const s = serverOf(proc(client(48000)).out);
    ipvs.editServer(svc80, { address: RS[s]!, port: 8080, weight: 0 });
    for (let i = 0; i < 3; i++) assert.is(serverOf(proc(client(48000, TCP.ACK)).out), s, `${scheduler}: the established flow keeps its server`);
    for (let i = 0; i < 40; i++) assert.is.not(serverOf(proc(client(48100 + i)).out), s, `${scheduler}: no new flow to the quiesced server`);
  }
});

Sched('no available server: a counted drop', () => {
  const { proc, ipvs, dp } = setup({}, { scheduler: 'rr' }, 1);
  ipvs.editServer(svc80, { address: RS[0]!, port: 8080, weight: 0 });
  const { r, drop } = proc(client(49000));
  assert.is(r, 3);
  assert.is(drop, 'ipvs-no-dest');
  assert.is(dp.counter('ipvs-no-dest'), 1n);
});

Sched('maglev: the pick is Katran\'s ring[jhash(src, ports) % size]', () => {
  const { proc, ipvs } = setup({}, { scheduler: 'maglev', maglev: { ringSize: 65537 } }, 3);
  const table = ipvs.lookupTable(svc80);
  const order = ipvs.list()[0]!.servers.map((x) => RS.indexOf(x.address));
  for (let i = 0; i < 50; i++) {
    const sport = 50000 + i * 11;
    const f = client(sport);
    const v = new DataView(f.buffer);
    // flow.src and flow.ports as the BPF program reads them: little-endian loads of network bytes
    const src = v.getUint32(26, true);
    const ports = v.getUint32(34, true);
    const h = jhash2words(src, ports, 512 * 65537);
    const want = order[table[h % 65537]!]!;
    assert.is(serverOf(proc(f).out), want, `sport ${sport}`);
  }
});

Sched('maglev hash flags: no source port / destination port only', () => {
  const { proc, ipvs } = setup({}, { scheduler: 'maglev', maglev: { hashNoSrcPort: true } }, 3);
  const s = new Set<number>();
  for (let i = 0; i < 20; i++) s.add(serverOf(proc(client(51000 + i)).out));
  assert.is(s.size, 1, 'without the source port one client maps to one server');
  ipvs.editService(svc80, { maglev: { hashNoSrcPort: false, hashDportOnly: true } });
  const t = new Set<number>();
  for (let i = 0; i < 20; i++) t.add(serverOf(proc(frame({ src: `10.1.${i}.9`, dst: VIP, sport: 999 + i, dport: 80 })).out));
  assert.is(t.size, 1, 'destination port only: every client maps to one server');
});

Sched.run();

// ---- connection table ------------------------------------------------------------------------------

const Conn = suite('ipvs: connection table');

Conn('TCP states follow SYN, FIN and RST with the kernel\'s timeouts', () => {
  const { proc, ipvs } = setup();
  const s = serverOf(proc(client(52000), 100).out);
  const st = (): string => ipvs.connections()[0]!.state;
  const exp = (): number => ipvs.connections()[0]!.expires;
  assert.is(st(), 'SYN_RECV');
  assert.is(exp(), 100 + 60);
  proc(reply(s, 52000), 101);
  assert.is(st(), 'SYN_RECV');
  proc(client(52000, TCP.ACK), 102);
  assert.is(st(), 'ESTABLISHED');
  assert.is(exp(), 102 + 900);
  proc(client(52000, TCP.FIN | TCP.ACK), 103);
  assert.is(st(), 'CLOSE_WAIT');
  proc(reply(s, 52000, TCP.FIN | TCP.ACK), 104);
  assert.is(st(), 'TIME_WAIT');
  assert.is(exp(), 104 + 120);
  // and a reset
  const t = serverOf(proc(client(52001), 200).out);
  proc(reply(t, 52001), 200);
  proc(client(52001, TCP.ACK), 200);
  proc(reply(t, 52001, TCP.RST), 201);
  const c = ipvs.connections().find((x) => x.clientPort === 52001)!;
  assert.is(c.state, 'CLOSE');
  assert.is(c.expires, 201 + 10);
  // the server's active connection turned inactive
  assert.is(ipvs.list()[0]!.servers.reduce((a, x) => a + x.activeConns, 0), 0);
});

Conn('configured timeouts (ipvsadm --set) apply', () => {
  const { proc, ipvs } = setup();
  ipvs.setTimeouts({ tcp: 3600, tcpfin: 30, udp: 60 });
  assert.equal(ipvs.timeouts(), { tcp: 3600, tcpfin: 30, udp: 60 });
  const s = serverOf(proc(client(53000), 10).out);
  proc(reply(s, 53000), 10);
  proc(client(53000, TCP.ACK), 11);
  assert.is(ipvs.connections()[0]!.expires, 11 + 3600);
  proc(reply(s, 53000, TCP.FIN | TCP.ACK), 12);
  assert.is(ipvs.connections()[0]!.state, 'FIN_WAIT');
  assert.is(ipvs.connections()[0]!.expires, 12 + 30);
});

Conn('an expired connection is gone: the next packet is a new connection', () => {
  const { proc, ipvs, dp } = setup({}, { scheduler: 'rr' }, 2, { bridge: B, protocol: 'udp', address: VIP, port: 53 });
  const u = (t: number): number => serverOf(proc(frame({ proto: 'udp', src: '10.0.0.2', dst: VIP, sport: 5353, dport: 53 }), t).out);
  const a = u(1000);
  assert.is(u(1299), a, 'within 300 s: same connection');
  assert.is(ipvs.connections().length, 1);
  const b = u(1299 + 300);
  assert.is.not(b, a, 'after 300 s idle: rescheduled (rr moves on)');
  assert.is(ipvs.list()[0]!.conns, 2);
  assert.ok(dp.counter('conntrack-expired') >= 1n);
});

Conn('the sweeper reclaims expired entries without traffic to them', () => {
  const { proc, ipvs } = setup({}, { scheduler: 'rr' }, 3);
  for (let i = 0; i < 100; i++) proc(client(54000 + i), 10);
  assert.is(ipvs.connectionStats().live, 100);
  assert.is(ipvs.sweep(10 + 59), 0, 'SYN_RECV lives 60 s');
  assert.is(ipvs.sweep(10 + 60), 100);
  assert.is(ipvs.connectionStats().live, 0);
  assert.is(ipvs.list()[0]!.servers.reduce((a, x) => a + x.inactiveConns + x.activeConns, 0), 0, 'server counters back to 0');
});

Conn('a full table drops new connections, counted, and never evicts a live one', () => {
  const { proc, ipvs, dp } = setup({ connCapacity: 16 }, { scheduler: 'rr' }, 3);
  const first: number[] = [];
  for (let i = 0; i < 16; i++) {
    const { r, out } = proc(client(55000 + i), 100);
    assert.is(r, 1);
    first.push(serverOf(out));
  }
  const { r, drop } = proc(client(55100), 101);
  assert.is(r, 3);
  assert.is(drop, 'ipvs-conn-table-full');
  assert.is(dp.counter('ipvs-conn-table-full'), 1n);
  for (let i = 0; i < 16; i++) assert.is(serverOf(proc(client(55000 + i, TCP.ACK), 102).out), first[i], 'live flows keep going');
  assert.is(ipvs.connectionStats().live, 16);
  // once they expire, there is room again
  assert.is(proc(client(55200), 102 + 60 * 20).r, 1);
});

Conn('removing a real server expires its connections (expire_nodest_conn)', () => {
  const { proc, ipvs, dp } = setup({}, { scheduler: 'rr' }, 3);
  const s = serverOf(proc(client(56000), 10).out);
  proc(reply(s, 56000), 10);
  proc(client(56000, TCP.ACK), 10);
  ipvs.deleteServer(svc80, { address: RS[s]!, port: 8080 });
  const { r, drop } = proc(client(56000, TCP.ACK | TCP.PSH, { payload: 10 }), 11);
  assert.is(r, 3, 'a mid-stream segment has nowhere to go');
  assert.is(drop, 'ipvs-no-conn');
  assert.is(dp.counter('conntrack-expired-nodest'), 1n);
  const again = proc(client(56000), 12);
  assert.is(again.r, 1, 'a new SYN of the same tuple is scheduled again');
  assert.is.not(parse(again.out).dst, RS[s]);
});

Conn('with expire_nodest_conn off, packets of a removed server\'s connection are dropped', () => {
  const { proc, ipvs } = setup({}, { scheduler: 'rr' }, 2);
  ipvs.setSysctl({ expireNodestConn: false });
  const s = serverOf(proc(client(56100), 10).out);
  ipvs.deleteServer(svc80, { address: RS[s]!, port: 8080 });
  const { r, drop } = proc(client(56100, TCP.ACK), 11);
  assert.is(r, 3);
  assert.is(drop, 'ipvs-no-dest');
});

Conn('a flow keeps its server when servers are added (all schedulers)', () => {
  for (const scheduler of ['rr', 'wrr', 'lc', 'wlc', 'sh', 'mh', 'maglev'] as const) {
    const { proc, ipvs } = setup({}, { scheduler }, 2);
    const flows = Array.from({ length: 20 }, (_, i) => serverOf(proc(client(57000 + i), 10).out));
    ipvs.addServer(svc80, { address: RS[2]!, port: 8080, mac: MACS[2]! });
    ipvs.addServer(svc80, { address: RS[3]!, port: 8080, mac: MACS[3]! });
    flows.forEach((s, i) => assert.is(serverOf(proc(client(57000 + i, TCP.ACK), 11).out), s, `${scheduler} flow ${i}`));
  }
});

Conn('persistence: one client, one server, across ports; netmask groups clients', () => {
  const { proc, ipvs } = setup({}, { scheduler: 'rr', persistent: 600 }, 3);
  const s = new Set<number>();
  for (let i = 0; i < 6; i++) s.add(serverOf(proc(client(58000 + i), 10).out));
  assert.is(s.size, 1);
  const tmpl = ipvs.connections().filter((c) => c.template);
  assert.is(tmpl.length, 1);
  assert.is(tmpl[0]!.expires, 10 + 600);
  assert.is(ipvs.list()[0]!.servers.reduce((a, x) => a + x.persistentConns, 0), 1);
  // another client gets the next server
  const other = serverOf(proc(frame({ src: '10.0.0.3', dst: VIP, sport: 1, dport: 80 }), 10).out);
  assert.is.not(other, [...s][0]);
  // /24 persistence: clients of one network share
  ipvs.editService(svc80, { netmask: '255.255.255.0' });
  const n = new Set<number>();
  for (let i = 0; i < 5; i++) n.add(serverOf(proc(frame({ src: `10.5.5.${i + 1}`, dst: VIP, sport: 100 + i, dport: 80 }), 20).out));
  assert.is(n.size, 1);
  // the template outlives its timeout while it controls connections, then goes
  for (let i = 0; i < 6; i++) proc(client(58000 + i, TCP.ACK), 10); // established: they live 900 s
  ipvs.sweep(10 + 600);
  const kept = ipvs.connections().find((c) => c.template && c.client === '10.0.0.2');
  assert.ok(kept, 'kept while its connections live');
  assert.is(kept!.expires, 10 + 600 + 600, 're-armed for another persistence timeout');
  ipvs.sweep(10 + 900);
  assert.ok(ipvs.connections().some((c) => c.template && c.client === '10.0.0.2'), 'its connections gone, it waits out its time');
  ipvs.sweep(10 + 600 + 600);
  assert.not.ok(ipvs.connections().some((c) => c.client === '10.0.0.2'), 'gone once they are');
});

Conn('the connection table\'s default capacity and cost', () => {
  const dp = new Dataplane({ slots: 16 });
  const st = new Ipvs(dp).connectionStats();
  assert.is(st.capacity, 1 << 20);
  assert.is(st.bytesPerEntry, 68);
  assert.is(st.bytes, (1 << 20) * 68);
  assert.ok(dp.memoryBytes > st.bytes);
});

Conn.run();

// ---- fwmark, IPv6, ARP / ND, ICMP --------------------------------------------------------------------

const More = suite('ipvs: fwmark, IPv6, ARP and ND, ICMP');

More('a firewall-mark service (Docker\'s VIP services): any port of the VIP, real port 0 keeps it', () => {
  const dp = new Dataplane({ slots: 64, connCapacity: 1024 });
  const ipvs = new Ipvs(dp);
  ipvs.setBridge(B, { mac: VMAC });
  const key: ServiceKey = { bridge: B, fwmark: 261 };
  ipvs.addService(key, { scheduler: 'rr' });
  ipvs.addServer(key, { address: RS[0]!, mac: MACS[0]! });
  ipvs.addServer(key, { address: RS[1]!, mac: MACS[1]! });
  ipvs.addMark({ bridge: B, fwmark: 261, destination: `${VIP}/32` });
  const ex = dp.exports as unknown as Ex;
  const buf = dp.slotAddr(0) + 128;
  for (const port of [80, 443, 8443]) {
    const f = frame({ src: '10.0.0.2', dst: VIP, sport: 3000 + port, dport: port });
    dp.bytes.set(f, buf);
    assert.is(ex.ipvsProcessFrame(buf, f.length, B, 1), 1);
    const p = parse(dp.bytes.slice(buf, buf + f.length));
    assert.is(p.dport, port);
    assert.ok(RS.includes(p.dst));
    assert.ok(p.l4Ok);
    // and the reply comes back from the VIP
    const rr = frame({ src: p.dst, dst: '10.0.0.2', sport: port, dport: 3000 + port, flags: TCP.SYN | TCP.ACK });
    dp.bytes.set(rr, buf);
    assert.is(ex.ipvsProcessFrame(buf, rr.length, B, 1), 1);
    assert.is(parse(dp.bytes.slice(buf, buf + rr.length)).src, VIP);
  }
  // without the mark, nothing
  ipvs.deleteMark({ bridge: B, fwmark: 261 });
  const f = frame({ src: '10.0.0.2', dst: VIP, sport: 9999, dport: 80 });
  dp.bytes.set(f, buf);
  assert.is(ex.ipvsProcessFrame(buf, f.length, B, 1), 0);
});

More('IPv6: NAT both ways with good checksums, and mh', () => {
  const vip6 = '2001:db8::100';
  const key: ServiceKey = { bridge: B, protocol: 'tcp', address: vip6, port: 443 };
  const dp = new Dataplane({ slots: 64, connCapacity: 1024 });
  const ipvs = new Ipvs(dp);
  ipvs.setBridge(B, { mac: VMAC });
  ipvs.addService(key, { scheduler: 'mh' });
  const rs6 = ['2001:db8::a', '2001:db8::b'];
  rs6.forEach((a, i) => ipvs.addServer(key, { address: a, port: 8443, mac: MACS[i]! }));
  const ex = dp.exports as unknown as Ex;
  const buf = dp.slotAddr(0) + 128;
  const run = (f: Uint8Array): Uint8Array => {
    dp.bytes.set(f, buf);
    assert.is(ex.ipvsProcessFrame(buf, f.length, B, 1), 1);
    return dp.bytes.slice(buf, buf + f.length);
  };
  const out = parse(run(frame({ src: '2001:db8::2', dst: vip6, sport: 7000, dport: 443, payload: 11 })));
  assert.ok(['2001:db8:0:0:0:0:0:a', '2001:db8:0:0:0:0:0:b'].includes(out.dst), out.dst);
  assert.is(out.dport, 8443);
  assert.ok(out.l4Ok, 'TCP checksum over the IPv6 pseudo-header');
  const rsAddr = out.dst.endsWith(':a') ? rs6[0]! : rs6[1]!;
  const back = parse(run(frame({ src: rsAddr, dst: '2001:db8::2', sport: 8443, dport: 7000, flags: TCP.SYN | TCP.ACK })));
  assert.is(back.src, '2001:db8:0:0:0:0:0:100');
  assert.is(back.sport, 443);
  assert.ok(back.l4Ok);
  // UDP over IPv6
  const u: ServiceKey = { bridge: B, protocol: 'udp', address: vip6, port: 53 };
  ipvs.addService(u, { scheduler: 'rr' });
  ipvs.addServer(u, { address: rs6[0]!, mac: MACS[0]! });
  const uo = parse(run(frame({ proto: 'udp', src: '2001:db8::2', dst: vip6, sport: 7001, dport: 53, payload: 20 })));
  assert.ok(uo.l4Ok);
});

More('ARP for a VIP is answered with the bridge\'s IPVS MAC; other ARP passes', () => {
  const { proc, dp } = setup();
  const { r, out } = proc(arpRequest('02:42:0a:00:00:02', '10.0.0.2', VIP));
  assert.is(r, 2);
  const v = new DataView(out.buffer);
  assert.is(v.getUint16(20), 2, 'a reply');
  assert.equal(Array.from(out.subarray(0, 6)), [0x02, 0x42, 0x0a, 0, 0, 0x02], 'to the asker');
  assert.equal(Array.from(out.subarray(6, 12)), [0x02, 0x42, 0x0a, 0, 0, 0xfe]);
  assert.equal(Array.from(out.subarray(22, 28)), [0x02, 0x42, 0x0a, 0, 0, 0xfe], 'sender hardware = the VIP MAC');
  assert.equal(Array.from(out.subarray(28, 32)), [10, 0, 0, 100]);
  assert.equal(Array.from(out.subarray(38, 42)), [10, 0, 0, 2]);
  assert.is(dp.counter('ipvs-arp-reply'), 1n);
  assert.is(proc(arpRequest('02:42:0a:00:00:02', '10.0.0.2', '10.0.0.99')).r, 0);
});

More('neighbour solicitation for an IPv6 VIP is answered (NA, solicited + override, TLLA)', () => {
  const vip6 = '2001:db8::100';
  const { proc, ipvs } = setup();
  ipvs.addService({ bridge: B, protocol: 'tcp', address: vip6, port: 80 }, { scheduler: 'rr' });
  const { r, out } = proc(neighborSolicit('02:42:0a:00:00:02', '2001:db8::2', vip6));
  assert.is(r, 2);
  const v = new DataView(out.buffer);
  assert.is(out[54], 136, 'NA');
  assert.is(v.getUint32(58) >>> 0, 0x60000000);
  assert.is(out[78], 2, 'target link-layer address option');
  assert.equal(Array.from(out.subarray(80, 86)), [0x02, 0x42, 0x0a, 0, 0, 0xfe]);
  assert.equal(Array.from(out.subarray(0, 6)), [0x02, 0x42, 0x0a, 0, 0, 0x02]);
  assert.is(v.getUint16(56), l4Checksum(out, 14, 6, 58, 54, 32), 'ICMPv6 checksum');
  assert.is(out[21], 255, 'hop limit 255');
});

More('ICMP errors about a connection are rewritten both ways', () => {
  const { proc, ipvs } = setup({}, { scheduler: 'rr' }, 1, { bridge: B, protocol: 'udp', address: VIP, port: 53 });
  void ipvs;
  const q = proc(frame({ proto: 'udp', src: '10.0.0.2', dst: VIP, sport: 6000, dport: 53, payload: 8 })).out;
  // the real server answers port unreachable about the (rewritten) datagram it got
  const err = icmpError(MACS[0]!, '02:42:0a:00:00:02', RS[0]!, '10.0.0.2', 3, 3, q);
  const a = proc(err);
  assert.is(a.r, 1);
  const o = a.out;
  assert.equal(Array.from(o.subarray(26, 30)), [10, 0, 0, 100], 'outer source is the VIP');
  assert.equal(Array.from(o.subarray(42 + 16, 42 + 20)), [10, 0, 0, 100], 'quoted destination is the VIP');
  assert.is(new DataView(o.buffer).getUint16(42 + 20 + 2), 53, 'quoted destination port is the virtual port');
  assert.ok(ipHeaderOk(o, 14), 'outer header checksum');
  assert.ok(ipHeaderOk(o, 42), 'quoted header checksum');
  assert.ok(icmpOk(o), 'ICMP checksum');
  // the client reports trouble with a reply from the VIP: goes to the server, rewritten
  const fromVip = frame({ proto: 'udp', src: VIP, dst: '10.0.0.2', sport: 53, dport: 6000, payload: 8 });
  const b = proc(icmpError('02:42:0a:00:00:02', VMAC, '10.0.0.2', VIP, 3, 4, fromVip)).out;
  assert.equal(Array.from(b.subarray(30, 34)), [10, 0, 0, 10], 'outer destination is the real server');
  assert.equal(Array.from(b.subarray(42 + 12, 42 + 16)), [10, 0, 0, 10], 'quoted source is the real server');
  assert.ok(ipHeaderOk(b, 14) && ipHeaderOk(b, 42) && icmpOk(b));
});

More('malformed or unsupported traffic to a VIP: counted drops, never a trap', () => {
  const { proc, dp } = setup();
  const f = client(59000);
  assert.is(proc(f.subarray(0, 14 + 20 + 10)).drop, 'ipvs-bad-header', 'the IP length claims more than the frame');
  const t = client(59001);
  const v = new DataView(t.buffer);
  v.setUint16(16, 20 + 10); // IP total length cuts TCP short
  assert.is(proc(t).drop, 'ipvs-truncated');
  const fr = client(59002);
  new DataView(fr.buffer).setUint16(20, 0x2000); // MF
  assert.is(proc(fr).drop, 'ipvs-fragment');
  assert.is(proc(client(59003, TCP.ACK)).drop, 'ipvs-no-conn');
  assert.is(proc(frame({ src: '10.0.0.2', dst: VIP, sport: 1, dport: 81 })).drop, 'ipvs-no-service');
  const icmpEcho = icmpError('02:42:0a:00:00:02', VMAC, '10.0.0.2', VIP, 8, 0, client(1));
  assert.is(proc(icmpEcho).drop, 'ipvs-unsupported-proto');
  // random garbage: any outcome but a trap
  let seed = 7;
  for (let i = 0; i < 3000; i++) {
    const len = 14 + ((i * 37) % 120);
    const g = new Uint8Array(len);
    for (let k = 0; k < len; k++) {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      g[k] = seed >>> 24;
    }
    if (i % 2) g.set([0x08, 0x00, 0x45], 12);
    if (i % 3 === 0 && len >= 34) g.set([10, 0, 0, 100], 30);
    proc(g);
  }
  assert.ok(dp.counter('ipvs-bad-header') >= 1n);
});

More('switching schedulers rebuilds and swaps the table; deleting a service takes its VIP away', () => {
  const { proc, ipvs, dp } = setup({}, { scheduler: 'mh' }, 3);
  assert.is(ipvs.lookupTable(svc80).length, 4093);
  const a = serverOf(proc(client(60000)).out);
  ipvs.editService(svc80, { scheduler: 'maglev', maglev: { ringSize: 251 } });
  assert.is(ipvs.lookupTable(svc80).length, 251);
  assert.is(serverOf(proc(client(60000, TCP.ACK)).out), a, 'the connection outlives the table swap');
  ipvs.editService(svc80, { scheduler: 'rr' });
  assert.throws(() => ipvs.lookupTable(svc80), /no lookup table/);
  assert.ok(RS.includes(parse(proc(client(60001)).out).dst));
  ipvs.deleteService(svc80);
  assert.is(proc(arpRequest('02:42:0a:00:00:02', '10.0.0.2', VIP)).r, 0, 'no ARP answer for a VIP without services');
  assert.is(proc(client(60000, TCP.ACK)).r, 0, 'no longer a VIP: passes untouched');
  assert.is(ipvs.list().length, 0);
  ipvs.sweep(1001);
  assert.is(ipvs.connectionStats().live, 0, 'its connections were reclaimed at once (their servers are gone)');
  assert.is(dp.counter('conntrack-expired-nodest'), 2n);
});

More('expire_quiescent_template: a persistent client leaves a quiesced server only when asked', () => {
  const { proc, ipvs } = setup({}, { scheduler: 'rr', persistent: 300 }, 2);
  const s = serverOf(proc(client(61000), 10).out);
  ipvs.editServer(svc80, { address: RS[s]!, port: 8080, weight: 0 });
  assert.is(serverOf(proc(client(61001), 11).out), s, 'kernel default: the template still sends the client there');
  ipvs.setSysctl({ expireQuiescentTemplate: true });
  assert.is.not(serverOf(proc(client(61002), 12).out), s, 'with the sysctl: a new template to an available server');
});

More('configuration errors are clear', () => {
  const dp = new Dataplane({ slots: 16, connCapacity: 64 });
  const ipvs = new Ipvs(dp);
  assert.throws(() => ipvs.addService(svc80, { scheduler: 'xx' as never }), /unknown scheduler/);
  ipvs.addService(svc80, { scheduler: 'mh' });
  assert.throws(() => ipvs.addService(svc80), /already exists/);
  assert.throws(() => ipvs.editService(svc80, { flags: ['sh-port'] }), /does not apply/);
  assert.throws(() => ipvs.addServer(svc80, { address: '2001:db8::1', mac: MACS[0]! }), /address family/);
  assert.throws(() => ipvs.addServer(svc80, { address: RS[0]!, mac: 'nope' }), /invalid MAC/);
  assert.throws(() => ipvs.deleteServer(svc80, { address: RS[0]! }), /no real server/);
  assert.throws(() => ipvs.addService({ bridge: B, protocol: 'tcp', address: VIP, port: 81 }, { scheduler: 'maglev', maglev: { ringSize: 65536 } }), /prime/);
  assert.throws(() => new Ipvs(new Dataplane({ slots: 16, connCapacity: 0 })), /no IPVS region/);
  assert.throws(() => new Dataplane({ slots: 16, connCapacity: 3 }), /connCapacity/);
});

More.run();
