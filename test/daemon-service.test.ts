// netwasmd with a service: a VIP on a netwasm bridge, three backend
// containers running small TCP servers, a client container. Connections to
// the VIP are spread by the scheduler; NAT works both ways (the backend sees
// the client's own address, the client sees the VIP answer); real servers
// removed and added at run time over the control socket.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { vipMac } from '../src/compile/compile.ts';
import { hostTest, ifName, netnsName, NetnsSet } from './helpers/netns.ts';
import { container, Daemon, py, spawnIn, tempDir } from './daemon-helpers.ts';

const VIP = '10.243.0.100';
const CLIENT = { ip: '10.243.0.10', mac: '02:42:0a:f3:00:0a' };
const WEB = [1, 2, 3].map((i) => ({ name: `web${i}`, ip: `10.243.0.2${i}`, mac: `02:42:0a:f3:00:2${i}` }));

/** `n` connections from ns to VIP:80; per answer: [backend, address the backend saw, address the client talked to]. */
async function connect(ns: string, n: number): Promise<Array<[string, string, string]>> {
  const out = await spawnIn(ns, ['python3', py('connect.py'), VIP, '80', String(n)], 60000).done;
  return out.split('\n').map((l) => {
    const m = /^(\S+) (\S+) from (\S+)$/.exec(l);
    if (!m) throw new Error(`connection failed: ${l}`);
    return [m[1]!, m[2]!.replace(/:\d+$/, ''), m[3]!] as [string, string, string];
  });
}

const tally = (xs: string[]): Record<string, number> => xs.reduce<Record<string, number>>((a, x) => ((a[x] = (a[x] ?? 0) + 1), a), {});

const Service = suite('netwasmd: a service VIP on a netwasm bridge');

hostTest(Service, 'three TCP backends: round robin spreads connections, NAT both ways; rm-backend/add-backend at run time', async () => {
  const set = new NetnsSet();
  const dir = tempDir('netwasmd-svc-');
  const ends = { client: ifName('nws'), web1: ifName('nws'), web2: ifName('nws'), web3: ifName('nws') };
  const file = join(dir, 'service.yaml');
  writeFileSync(file, `
default_bridge: false
hosts:
  - name: local
    bind: { ${Object.entries(ends).map(([c, e]) => `${c}/eth0: ${e}`).join(', ')} }
networks:
  - name: svcnet
    driver: bridge
    subnet: 10.243.0.0/24
containers:
  - name: client
    networks: [{ svcnet: { ip: ${CLIENT.ip}, mac: "${CLIENT.mac}" } }]
${WEB.map((w) => `  - name: ${w.name}\n    networks: [{ svcnet: { ip: ${w.ip}, mac: "${w.mac}" } }]`).join('\n')}
services:
  - name: web
    network: svcnet
    vip: ${VIP}
    ports: [80/tcp]
    scheduler: rr
    backends: [{ container: web1, port: 8080 }, { container: web2, port: 8080 }, { container: web3, port: 8080 }]
`);
  let d: Daemon | undefined;
  const servers: Array<{ kill: () => void }> = [];
  try {
    const cns = set.add(netnsName('nwscl'));
    container(set, cns, ends.client, `${CLIENT.ip}/24`, { mac: CLIENT.mac });
    for (const w of WEB) {
      const ns = set.add(netnsName(`nws${w.name}`));
      container(set, ns, ends[w.name as keyof typeof ends], `${w.ip}/24`, { mac: w.mac });
      const s = spawnIn(ns, ['python3', py('ident.py'), '0.0.0.0', '8080', w.name, '60'], 70000);
      s.done.catch(() => {});
      servers.push(s);
      await s.started;
    }
    d = await Daemon.start([file], { socket: join(dir, 'nw.sock') });

    let r = await connect(cns, 9).catch(async (e) => {
      console.log(JSON.stringify(await d!.ctl('counters')));
      throw e;
    });
    assert.equal(tally(r.map((x) => x[0])), { web1: 3, web2: 3, web3: 3 }, 'rr: three connections each');
    for (const [backend, saw, talked] of r) {
      assert.is(saw, CLIENT.ip, `${backend} saw the client's own address (NAT rewrites the destination only)`);
      assert.is(talked, `${VIP}:80`, 'the client talked to the VIP: replies were rewritten back');
    }
    const c = ((await d.ctl('counters')) as { counters: Record<string, number> }).counters;
    assert.is(c['graph-drop'] ?? 0, 0, JSON.stringify(c));

    // web3 leaves the service (the container stays): new connections avoid it.
    await d.ctl('rm-backend', { service: 'web', container: 'web3' });
    r = await connect(cns, 6);
    assert.equal(tally(r.map((x) => x[0])), { web1: 3, web2: 3 }, 'web3 no longer chosen');
    // ... and comes back with weight 2 (round robin ignores weights: wrr would not).
    await d.ctl('add-backend', { service: 'web', container: 'web3', port: 8080, weight: 2 });
    r = await connect(cns, 9);
    assert.equal(tally(r.map((x) => x[0])), { web1: 3, web2: 3, web3: 3 }, 'web3 chosen again');
    assert.ok(r.every((x) => x[2] === `${VIP}:80` && x[1] === CLIENT.ip));
    assert.is(((await d.ctl('info')) as { compiles: number }).compiles, 1, 'real servers changed in place');
    const e = await d.ctl('rm-backend', { service: 'web', container: 'client' }).then(() => null, (x: Error) => x);
    assert.match(String(e?.message), /container client is not a real server of service web/);
    assert.is(await d.stop(), 0);
  } finally {
    d?.kill();
    for (const s of servers) s.kill();
    set.cleanup();
  }
});

Service.run();
