// Every tagged capture netwasm writes is dissected by tshark (the reference,
// as this kernel has no 8021q module) with the VLAN ids, PCP and inner
// ethertypes we expect: push, pop, rewrite of a priority tag and of the TPID,
// and 802.1ad stacking.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Dataplane, Bridges, type VlanConfig } from '../src/dataplane/index.ts';
import { PcapWriter } from '../src/pcap/index.ts';

const Tshark = suite('VLAN captures dissected by tshark');

const mac = (s: string): number[] => s.split(':').map((h) => parseInt(h, 16));
const BCAST = 'ff:ff:ff:ff:ff:ff';

interface Tag { tpid?: number; vid: number; pcp?: number; dei?: boolean }

/** A small IPv4/UDP frame (valid headers, so tshark has nothing to complain about) behind `tags`. */
function frame(src: string, tags: Tag[] = []): Uint8Array {
  const ip = [0x45, 0, 0, 28, 0, 1, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
  let s = 0;
  for (let i = 0; i < 20; i += 2) s += (ip[i]! << 8) | ip[i + 1]!;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  ip[10] = (~s >> 8) & 0xff;
  ip[11] = ~s & 0xff;
  const udp = [0x30, 0x39, 0x00, 0x35, 0, 8, 0, 0];
  const hdr = [...mac(BCAST), ...mac(src)];
  for (const t of tags) {
    const tpid = t.tpid ?? 0x8100;
    const tci = ((t.pcp ?? 0) << 13) | (t.dei ? 0x1000 : 0) | t.vid;
    hdr.push(tpid >> 8, tpid & 0xff, tci >> 8, tci & 0xff);
  }
  const body = [...hdr, 0x08, 0x00, ...ip, ...udp];
  while (body.length < 60 + 4 * tags.length) body.push(0);
  return Uint8Array.from(body);
}

function tshark(file: string, fields: string[]): string[][] {
  const args = ['-r', file, '-T', 'fields', '-E', 'separator=|', ...fields.flatMap((f) => ['-e', f])];
  const out = execFileSync('tshark', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  return out.trim().split('\n').map((l) => l.split('|'));
}

Tshark('push, pop and rewrite leave tags tshark reads as the VLAN id, PCP and inner ethertype we meant', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nwvlan-'));
  try {
    const dp = new Dataplane({ slots: 64, fdbCapacity: 64, bridges: 2 });
    const br = new Bridges(dp);
    const ports: VlanConfig[] = [
      { mode: 'access', pvid: 10 },                               // 0
      { mode: 'trunk', allowed: '10,20,30' },                      // 1: C-trunk, no native
      { mode: 'access', pvid: 30, tpid: 0x88a8 },                  // 2: customer port of S-VLAN 30
      { mode: 'trunk', allowed: '20,30', tpid: 0x88a8 },            // 3: S-trunk
    ];
    ports.forEach((v, i) => br.addPort(i, { bridge: 0, vlan: v }));
    const writers = ports.map((_, i) => new PcapWriter(join(dir, `port${i}.pcap`), { resolution: 'ns' }));
    const inputs: Array<[Uint8Array, number]> = [
      [frame('02:00:00:00:00:01'), 0],                                        // push 10 -> port 1
      [frame('02:00:00:00:00:02', [{ vid: 0, pcp: 5 }]), 0],                    // priority tag -> rewrite VID, PCP 5 kept
      [frame('02:00:00:00:00:03', [{ vid: 20, pcp: 3, dei: true }]), 1],        // C 20 -> S-trunk: TPID rewrite
      [frame('02:00:00:00:00:04', [{ vid: 7, pcp: 6 }]), 2],                    // customer C-tag 7 -> S 30 pushed (stacked)
      [frame('02:00:00:00:00:05', [{ tpid: 0x88a8, vid: 30, pcp: 1 }, { vid: 7, pcp: 6 }]), 3], // S pop -> customer port
      [frame('02:00:00:00:00:06', [{ vid: 10, pcp: 4 }]), 1],                   // pop 10 -> port 0
    ];
    let t = 0;
    for (const [f, port] of inputs) {
      dp.push(f, port, 1_700_000_000, t);
      const n = dp.run();
      for (let i = 0; i < n; i++) writers[dp.txPort(i)]!.write(dp.txData(i), 1_700_000_000, t++);
    }
    for (const w of writers) w.close();
    // 802.1Q tags are dissected as `vlan`, 802.1ad S-tags as `ieee8021ad`
    const fields = ['ieee8021ad.id', 'ieee8021ad.priority', 'ieee8021ad.dei', 'vlan.id', 'vlan.priority', 'vlan.dei', 'vlan.etype', 'eth.type', 'ip.src', '_ws.malformed', '_ws.expert.severity'];
    // ip.src: the IPv4 packet behind the tags was found where it should be
    const read = (i: number): string[][] => tshark(join(dir, `port${i}.pcap`), fields);
    // port 0 (access 10): frame 5 popped -> untagged IPv4; nothing else
    assert.equal(read(0), [['', '', '', '', '', '', '', '0x0800', '10.0.0.1', '', '']]);
    // port 1 (C-trunk): push 10/pcp 0; rewrite priority tag to 10 keeping pcp 5; S 30 from the customer port as a C-tag stack
    assert.equal(read(1), [
      ['', '', '', '10', '0', '0', '0x0800', '0x8100', '10.0.0.1', '', ''],
      ['', '', '', '10', '5', '0', '0x0800', '0x8100', '10.0.0.1', '', ''],
      ['', '', '', '30,7', '0,6', '0,0', '0x8100,0x0800', '0x8100', '10.0.0.1', '', ''],
      ['', '', '', '30,7', '1,6', '0,0', '0x8100,0x0800', '0x8100', '10.0.0.1', '', ''],
    ]);
    // port 2 (customer port of S-VLAN 30): the S-tag popped, the customer tag 7/pcp 6 kept
    assert.equal(read(2), [['', '', '', '7', '6', '0', '0x0800', '0x8100', '10.0.0.1', '', '']]);
    // port 3 (S-trunk): C 20 rewritten to S 20 keeping pcp 3 and DEI; customer frame stacked under S 30
    assert.equal(read(3), [
      // (no vlan.etype for an S-tag: ip.src shows the IPv4 packet behind it)
      ['20', '3', '1', '', '', '', '', '0x88a8', '10.0.0.1', '', ''],
      ['30', '0', '0', '7', '6', '0', '0x0800', '0x88a8', '10.0.0.1', '', ''],
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

Tshark.run();
