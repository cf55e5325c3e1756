// Writes the input captures of the bundled talk scenario
// (fixtures/scenarios/talk.yaml) into fixtures/scenarios/talk/: what each
// container (and the outside world, on the uplinks) sends, in time order.
// Deterministic: run it again and the files are the same bytes.
//
//   node --import tsx scripts/make-talk-captures.ts
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadScenario } from '../src/scenario/load.ts';
import { PcapWriter } from '../src/pcap/index.ts';
import { ether, ipv4, icmpEcho, arpRequest, arpReply, tcp, ETH_ARP, ETH_IPV4, TCP_SYN, TCP_ACK, TCP_PSH, TCP_FIN } from '../src/frames/build.ts';
import { vipMac } from '../src/compile/compile.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const scenario = join(root, 'fixtures/scenarios/talk.yaml');
const outDir = join(root, 'fixtures/scenarios/talk');
const topo = loadScenario(scenario, 'talk.yaml').topology;
const ep = (port: string) => {
  const e = topo.endpoints.find((x) => x.port === port);
  if (!e || !e.ip || !e.mac) throw new Error(`talk.yaml has no endpoint ${port} with an address`);
  return { ip: e.ip, mac: e.mac };
};
const BCAST = 'ff:ff:ff:ff:ff:ff';

const frames = new Map<string, Array<{ t: number; f: Uint8Array }>>();
let clock = 1_700_000_000_000; // µs
const at = (port: string, f: Uint8Array, gap = 1000): void => {
  clock += gap;
  (frames.get(port) ?? frames.set(port, []).get(port)!).push({ t: clock, f });
};
const ping = (from: string, a: { ip: string; mac: string }, toMac: string, toIp: string, seq: number): Uint8Array =>
  ether(toMac, a.mac, ETH_IPV4, ipv4(a.ip, toIp, 1, icmpEcho(8, 0x7a11, seq, new TextEncoder().encode('netwasm talk demo payload ' + from)), { id: seq }));
const pong = (a: { ip: string; mac: string }, toMac: string, toIp: string, seq: number, from: string): Uint8Array =>
  ether(toMac, a.mac, ETH_IPV4, ipv4(a.ip, toIp, 1, icmpEcho(0, 0x7a11, seq, new TextEncoder().encode('netwasm talk demo payload ' + from)), { id: 0x100 + seq }));

// 1. --network none: whatever the container sends goes nowhere.
at('isolated/lo', ether(BCAST, '02:42:00:00:00:99', ETH_ARP, arpRequest('02:42:00:00:00:99', '10.9.9.9', '10.9.9.1')));

// 2. docker0: c1 finds c2 and pings it; c1 pings its gateway.
const c1 = ep('c1/eth0'), c2 = ep('c2/eth0');
const gw0 = topo.networks.find((n) => n.name === 'bridge')!;
at('c1/eth0', ether(BCAST, c1.mac, ETH_ARP, arpRequest(c1.mac, c1.ip, c2.ip)));
at('c2/eth0', ether(c1.mac, c2.mac, ETH_ARP, arpReply(c2.mac, c2.ip, c1.mac, c1.ip)));
at('c1/eth0', ping('c1', c1, c2.mac, c2.ip, 1));
at('c2/eth0', pong(c2, c1.mac, c1.ip, 1, 'c1'));
at('c1/eth0', ether(BCAST, c1.mac, ETH_ARP, arpRequest(c1.mac, c1.ip, gw0.gateway!)));
const docker0Mac = gw0.instances.find((i) => i.host === 'host1')!.deviceMac!;
at('c1/eth0', ping('c1', c1, docker0Mac, gw0.gateway!, 2));

// 3. A custom bridge is its own broadcast domain: web1's broadcast reaches
//    web2 and nothing on docker0.
const web1 = ep('web1/eth0'), web2 = ep('web2/eth0');
at('web1/eth0', ether(BCAST, web1.mac, ETH_ARP, arpRequest(web1.mac, web1.ip, c1.ip)));
at('web1/eth0', ether(BCAST, web1.mac, ETH_ARP, arpRequest(web1.mac, web1.ip, web2.ip)));
at('web2/eth0', ether(web1.mac, web2.mac, ETH_ARP, arpReply(web2.mac, web2.ip, web1.mac, web1.ip)));
at('web1/eth0', ping('web1', web1, web2.mac, web2.ip, 3));
at('web2/eth0', pong(web2, web1.mac, web1.ip, 3, 'web1'));

// 4. The IPAM underlay: under1 asks for the router (aux address .1), which
//    answers from the physical uplink enp5s0.
const u1 = ep('under1/eth0');
const router = { ip: '192.168.10.1', mac: '02:00:00:00:aa:01' };
at('under1/eth0', ether(BCAST, u1.mac, ETH_ARP, arpRequest(u1.mac, u1.ip, router.ip)));
at('host1/enp5s0', ether(u1.mac, router.mac, ETH_ARP, arpReply(router.mac, router.ip, u1.mac, u1.ip)));
at('under1/eth0', ping('under1', u1, router.mac, '198.51.100.7', 4));
at('host1/enp5s0', pong({ ip: '198.51.100.7', mac: router.mac }, u1.mac, u1.ip, 4, 'under1'));

// 5. macvlan on eth0.10: mv1 (host1) and mv2 (host2) meet across the tagged uplinks.
const mv1 = ep('mv1/eth0'), mv2 = ep('mv2/eth0');
at('mv1/eth0', ether(BCAST, mv1.mac, ETH_ARP, arpRequest(mv1.mac, mv1.ip, mv2.ip)));
at('mv2/eth0', ether(mv1.mac, mv2.mac, ETH_ARP, arpReply(mv2.mac, mv2.ip, mv1.mac, mv1.ip)));
at('mv1/eth0', ping('mv1', mv1, mv2.mac, mv2.ip, 5));
at('mv2/eth0', pong(mv2, mv1.mac, mv1.ip, 5, 'mv1'));

// 6. The overlay and its service: the container `client` (host2) opens TCP
//    connections to the service VIP; IPVS on host2 picks a task, possibly
//    across VXLAN on host1.
const svc = topo.services.find((s) => s.name === 'web')!;
const vip = svc.vip;
const client = ep('client/eth0');
at('client/eth0', ether(BCAST, client.mac, ETH_ARP, arpRequest(client.mac, client.ip, vip)));
const http = new TextEncoder().encode('GET / HTTP/1.1\r\nHost: web\r\n\r\n');
for (let c = 0; c < 3; c++) {
  const sport = 40000 + c;
  const isn = 1000 * (c + 1);
  at('client/eth0', ether(vipMac(vip), client.mac, ETH_IPV4, ipv4(client.ip, vip, 6, tcp(client.ip, vip, sport, 80, isn, 0, TCP_SYN))));
  at('client/eth0', ether(vipMac(vip), client.mac, ETH_IPV4, ipv4(client.ip, vip, 6, tcp(client.ip, vip, sport, 80, isn + 1, 1, TCP_ACK | TCP_PSH, http))), 2000);
  at('client/eth0', ether(vipMac(vip), client.mac, ETH_IPV4, ipv4(client.ip, vip, 6, tcp(client.ip, vip, sport, 80, isn + 1 + http.length, 1, TCP_ACK | TCP_FIN))), 2000);
}

mkdirSync(outDir, { recursive: true });
for (const [port, list] of frames) {
  const w = new PcapWriter(join(outDir, `${port.replace(/\//g, '_')}.pcap`));
  for (const { t, f } of list) w.write(f, Math.floor(t / 1e6), (t % 1e6) * 1000);
  w.close();
  console.log(`${port}: ${list.length} frames`);
}
