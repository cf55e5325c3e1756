// Scenario: a bridge with a client port and backend ports, a virtual service
// on it. Client flows to the VIP reach the chosen backends rewritten, replies
// come back rewritten to the VIP, a flow keeps its backend when another
// backend is added, and tshark checks every checksum of every frame that
// left the data plane.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Dataplane, Bridges, Verdict, D_VNET_FLAGS, D_CSUM_START, D_CSUM_OFFSET, DESC_SIZE, T_VNET_FLAGS, TX_SIZE } from '../src/dataplane/index.ts';
import { Ipvs, type ServiceKey } from '../src/ipvs/ipvs.ts';
import { PcapWriter } from '../src/pcap/index.ts';
import { frame, parse, TCP, arpRequest, dnsMessage } from './helpers/ipvs-frames.ts';

const BR = 1;
const VMAC = '02:42:0a:00:00:fe';
const VIP = '10.0.0.100';
const CLIENT = { port: 0, mac: '02:42:0a:00:00:02', ip: '10.0.0.2' };
const BACKENDS = [1, 2, 3, 4].map((port) => ({ port, mac: `02:42:0a:00:00:${(0x10 + port).toString(16)}`, ip: `10.0.0.${10 + port}` }));

const Scenario = suite('ipvs: client flows through a bridge to backends');

Scenario('NAT through the bridge, replies back to the VIP, flows stable when a backend is added; tshark checks all checksums', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nwipvs-'));
  try {
    const dp = new Dataplane({ slots: 1024, connCapacity: 1 << 16, bridges: 4 });
    const br = new Bridges(dp);
    const ipvs = new Ipvs(dp);
    br.addPort(CLIENT.port, { bridge: BR });
    for (const b of BACKENDS) br.addPort(b.port, { bridge: BR });
    ipvs.setBridge(BR, { mac: VMAC });
    const web: ServiceKey = { bridge: BR, protocol: 'tcp', address: VIP, port: 80 };
    const dns: ServiceKey = { bridge: BR, protocol: 'udp', address: VIP, port: 53 };
    ipvs.addService(web, { scheduler: 'mh', flags: ['mh-port'] });
    ipvs.addService(dns, { scheduler: 'rr' });
    for (const b of BACKENDS.slice(0, 3)) {
      ipvs.addServer(web, { address: b.ip, port: 8080, mac: b.mac });
      ipvs.addServer(dns, { address: b.ip, mac: b.mac });
    }
    assert.ok(br.get(BR).services, 'adding a service turned the bridge\'s IPVS hook on');

    const pcap = new PcapWriter(join(dir, 'out.pcap'), { resolution: 'ns' });
    let t = 1_700_000_000;
    /** Pushes frames (one vector) and returns what left, by port. */
    const run = (frames: Array<[Uint8Array, number]>): Array<{ port: number; data: Uint8Array; src: number }> => {
      for (const [f, port] of frames) assert.ok(dp.push(f, port, t, 0));
      const n = dp.run();
      const out = [];
      for (let i = 0; i < n; i++) {
        const data = dp.txData(i).slice();
        pcap.write(data, t, i * 1000);
        out.push({ port: dp.txPort(i), data, src: dp.txSrc(i) });
      }
      t++;
      return out;
    };

    // The backends make themselves known on the bridge (it learns their MACs).
    run(BACKENDS.map((b) => [arpRequest(b.mac, b.ip, '10.0.0.1'), b.port]));

    // 40 client flows: SYNs to the VIP
    const flows = Array.from({ length: 40 }, (_, i) => 30000 + i * 17);
    const syn = run(flows.map((sport) => [frame({ src: CLIENT.ip, dst: VIP, sport, dport: 80, flags: TCP.SYN, srcMac: CLIENT.mac, dstMac: VMAC }), CLIENT.port]));
    assert.is(syn.length, flows.length, 'one frame out per SYN (no flooding)');
    const backendOf = new Map<number, (typeof BACKENDS)[number]>();
    for (const o of syn) {
      const p = parse(o.data);
      const b = BACKENDS.find((x) => x.ip === p.dst);
      assert.ok(b, `rewritten to a backend, got ${p.dst}`);
      assert.is(o.port, b!.port, 'left through that backend\'s port');
      assert.is(p.dstMac, b!.mac);
      assert.is(p.dport, 8080);
      assert.is(p.src, CLIENT.ip);
      backendOf.set(p.sport, b!);
    }
    assert.ok(new Set([...backendOf.values()].map((b) => b.port)).size === 3, 'mh-port spreads one client over the three backends');

    // The backends answer: SYN-ACKs come out of the client port from the VIP.
    const synack = run(flows.map((sport) => {
      const b = backendOf.get(sport)!;
      return [frame({ src: b.ip, dst: CLIENT.ip, sport: 8080, dport: sport, flags: TCP.SYN | TCP.ACK, srcMac: b.mac, dstMac: CLIENT.mac }), b.port];
    }));
    assert.is(synack.length, flows.length);
    for (const o of synack) {
      const p = parse(o.data);
      assert.is(o.port, CLIENT.port);
      assert.is(p.src, VIP);
      assert.is(p.sport, 80);
      assert.is(p.srcMac, VMAC);
      assert.is(p.dstMac, CLIENT.mac);
    }

    // A fourth backend joins; existing flows carry on to their backends.
    const b4 = BACKENDS[3]!;
    ipvs.addServer(web, { address: b4.ip, port: 8080, mac: b4.mac });
    const data = run(flows.map((sport) => [frame({ src: CLIENT.ip, dst: VIP, sport, dport: 80, flags: TCP.ACK | TCP.PSH, payload: 64, srcMac: CLIENT.mac, dstMac: VMAC }), CLIENT.port]));
    assert.is(data.length, flows.length);
    for (const o of data) {
      const p = parse(o.data);
      assert.is(p.dst, backendOf.get(p.sport)!.ip, `flow ${p.sport} kept its backend`);
      assert.is(o.port, backendOf.get(p.sport)!.port);
    }
    // New flows may now reach it.
    const fresh = run(Array.from({ length: 40 }, (_, i) => [frame({ src: CLIENT.ip, dst: VIP, sport: 40000 + i * 13, dport: 80, flags: TCP.SYN, srcMac: CLIENT.mac, dstMac: VMAC }), CLIENT.port]));
    assert.ok(fresh.some((o) => o.port === b4.port), 'the new backend gets new flows');

    // UDP both ways.
    const q = run([[frame({ proto: 'udp', src: CLIENT.ip, dst: VIP, sport: 5353, dport: 53, data: dnsMessage('web.local'), srcMac: CLIENT.mac, dstMac: VMAC }), CLIENT.port]]);
    assert.is(q.length, 1);
    const qp = parse(q[0]!.data);
    const qb = BACKENDS.find((b) => b.ip === qp.dst)!;
    const a = run([[frame({ proto: 'udp', src: qb.ip, dst: CLIENT.ip, sport: 53, dport: 5353, data: dnsMessage('web.local', true), srcMac: qb.mac, dstMac: CLIENT.mac }), qb.port]]);
    assert.is(a[0]!.port, CLIENT.port);
    assert.is(parse(a[0]!.data).src, VIP);

    // A TCP segment of no connection is dropped with its reason, not flooded.
    assert.ok(dp.push(frame({ src: CLIENT.ip, dst: VIP, sport: 1, dport: 80, flags: TCP.ACK, srcMac: CLIENT.mac, dstMac: VMAC }), CLIENT.port, t, 0));
    assert.is(dp.run(), 0);
    assert.is(dp.verdict(0), Verdict.DROP);
    assert.is(dp.dropReason(0), 'ipvs-no-conn');

    // Traffic between stations that is not for a service is bridged untouched.
    const plain = frame({ src: CLIENT.ip, dst: BACKENDS[0]!.ip, sport: 7, dport: 7, srcMac: CLIENT.mac, dstMac: BACKENDS[0]!.mac });
    const po = run([[plain, CLIENT.port]]);
    assert.is(po.length, 1);
    assert.is(po[0]!.port, BACKENDS[0]!.port);
    assert.equal(Array.from(po[0]!.data), Array.from(plain));

    pcap.close();
    assert.is(dp.counter('ipvs-in-packets'), BigInt(flows.length * 2 + 40 + 1));
    assert.is(dp.counter('ipvs-out-packets'), BigInt(flows.length + 1));
    const st = ipvs.list();
    assert.is(st.find((s) => 'port' in s.key && s.key.port === 80)!.conns, 80);

    // tshark: every IPv4 header and TCP/UDP checksum is good (1 = Good).
    const out = execFileSync('tshark', [
      '-r', join(dir, 'out.pcap'), '-o', 'tcp.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE', '-o', 'ip.check_checksum:TRUE',
      '-Y', 'ip', '-T', 'fields', '-E', 'separator=|', '-e', 'frame.number', '-e', 'ip.checksum.status', '-e', 'tcp.checksum.status',
      '-e', 'udp.checksum.status', '-e', '_ws.malformed', '-e', '_ws.expert.severity',
    ], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const rows = out.trim().split('\n').map((l) => l.split('|'));
    assert.is(rows.length, flows.length * 3 + 40 + 2 + 1, 'every IP frame written was read back');
    for (const [n, ip, tcp, udp, malformed] of rows) {
      assert.is(ip, '1', `frame ${n}: IPv4 header checksum`);
      assert.is(tcp || udp, '1', `frame ${n}: transport checksum`);
      assert.is(malformed, '', `frame ${n}: not malformed`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

Scenario('partial checksums (NEEDS_CSUM offload metadata) follow the new address and complete right', () => {
  for (const accepts of [true, false]) {
    const dp = new Dataplane({ slots: 64, connCapacity: 1024, bridges: 4 });
    const br = new Bridges(dp);
    const ipvs = new Ipvs(dp);
    br.addPort(0, { bridge: BR });
    br.addPort(1, { bridge: BR });
    ipvs.setBridge(BR, { mac: VMAC });
    const key: ServiceKey = { bridge: BR, protocol: 'tcp', address: VIP, port: 80 };
    ipvs.addService(key, { scheduler: 'rr' });
    const b = BACKENDS[0]!;
    ipvs.addServer(key, { address: b.ip, port: 8080, mac: b.mac });
    const ex = dp.exports as unknown as { offloadSetPort(p: number, on: boolean): void; offloadFinish(n: number): number };
    ex.offloadSetPort(1, accepts);
    dp.push(arpRequest(b.mac, b.ip, '10.0.0.1'), 1, 1, 0);
    dp.run();
    // a SYN as the sender's kernel hands it with TX checksum offload: the field
    // holds the (uncomplemented) pseudo-header sum
    const f = frame({ src: CLIENT.ip, dst: VIP, sport: 33333, dport: 80, flags: TCP.SYN, payload: 24, srcMac: CLIENT.mac, dstMac: VMAC });
    const pseudo = (x: Uint8Array): number => {
      const v = new DataView(x.buffer, x.byteOffset);
      let sum = 6 + (v.getUint16(16) - 20);
      for (let i = 26; i < 34; i += 2) sum += v.getUint16(i);
      while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
      return sum;
    };
    new DataView(f.buffer).setUint16(34 + 16, pseudo(f));
    assert.ok(dp.push(f, 0, 2, 0));
    const d = dp.regions.desc!.ptr;
    dp.view.setUint8(d + D_VNET_FLAGS, 1);
    dp.view.setUint16(d + D_CSUM_START, 34, true);
    dp.view.setUint16(d + D_CSUM_OFFSET, 16, true);
    void DESC_SIZE;
    const n = dp.run();
    assert.is(n, 1);
    assert.is(dp.txPort(0), 1);
    if (accepts) {
      const out = dp.txData(0).slice();
      assert.is(dp.view.getUint8(dp.regions.tx!.ptr + T_VNET_FLAGS) & 1, 1, 'still NEEDS_CSUM');
      assert.is(parse(out).dst, b.ip);
      assert.is(new DataView(out.buffer).getUint16(34 + 16), pseudo(out), 'the partial sum is the new pseudo-header\'s');
    } else {
      ex.offloadFinish(n);
      const p = parse(dp.txData(0).slice());
      assert.is(p.dst, b.ip);
      assert.is(p.dport, 8080);
      assert.ok(p.ipOk && p.l4Ok, 'completed by offloadFinish into a right checksum');
    }
    void TX_SIZE;
  }
});

Scenario('a bridge without services is untouched by IPVS', () => {
  const dp = new Dataplane({ slots: 64, connCapacity: 1024, bridges: 4 });
  const br = new Bridges(dp);
  const ipvs = new Ipvs(dp);
  br.addPort(0, { bridge: 2 });
  br.addPort(1, { bridge: 2 });
  ipvs.setBridge(1, { mac: VMAC });
  ipvs.addService({ bridge: 1, protocol: 'tcp', address: VIP, port: 80 }, { scheduler: 'rr' });
  ipvs.addServer({ bridge: 1, protocol: 'tcp', address: VIP, port: 80 }, { address: '10.0.0.11', mac: BACKENDS[0]!.mac });
  assert.not.ok(br.get(2).services);
  const f = frame({ src: CLIENT.ip, dst: VIP, sport: 5, dport: 80, srcMac: CLIENT.mac, dstMac: 'ff:ff:ff:ff:ff:ff' });
  dp.push(f, 0, 1, 0);
  assert.is(dp.run(), 1);
  assert.equal(Array.from(dp.txData(0)), Array.from(f), 'bridge 2 has no service: flooded as is');
  assert.is(dp.counter('ipvs-new-conns'), 0n);
  ipvs.deleteService({ bridge: 1, protocol: 'tcp', address: VIP, port: 80 });
  assert.not.ok(br.get(1).services, 'the last service gone, the hook is off');
});

Scenario.run();
