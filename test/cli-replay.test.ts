import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, existsSync, copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { main } from '../src/cli/main.ts';
import { REPLAY_CONN_SEED } from '../src/cli/replay.ts';
import { loadScenario } from '../src/scenario/load.ts';
import { compileTopology } from '../src/compile/compile.ts';
import { replay } from '../src/replay/replay.ts';
import { readCaptureSync, PcapWriter } from '../src/pcap/index.ts';

const TALK = fileURLToPath(new URL('../fixtures/scenarios/talk.yaml', import.meta.url));
const TALK_DIR = fileURLToPath(new URL('../fixtures/scenarios/', import.meta.url));

function io() {
  let out = '', err = '';
  return {
    io: { stdout: { write: (s: string) => { out += s; } }, stderr: { write: (s: string) => { err += s; } } },
    out: () => out,
    err: () => err,
  };
}

const C = suite('cli: netwasm replay and netwasm test');
let tmp = '';
C.before.each(() => { tmp = mkdtempSync(join(tmpdir(), 'nw-cli-')); });
C.after.each(() => { rmSync(tmp, { recursive: true, force: true }); });

C('replay --json prints ports, counters and frames, and writes one capture per transmitting port', async () => {
  const o = io();
  const code = await main(['replay', TALK, '--out', join(tmp, 'out'), '--json'], o.io);
  assert.is(code, 0, o.err());
  const j = JSON.parse(o.out()) as { ports: Record<string, { rx: number; tx: number }>; counters: Record<string, number>; frames: number };
  assert.is(j.frames, 30);
  assert.equal(j.ports['c1/eth0'], { rx: 4, tx: 4 });
  assert.is(j.counters['none-drop'], 1);
  assert.ok(existsSync(join(tmp, 'out', 'c2_eth0.pcap')));
  assert.not.ok(existsSync(join(tmp, 'out', 'isolated_lo.pcap')), 'no file for a port that sent nothing');
  const c2 = [...readCaptureSync(join(tmp, 'out', 'c2_eth0.pcap'))];
  assert.is(c2.length, j.ports['c2/eth0']!.tx);
});

C('--expect: equal outputs exit 0; a difference exits 1 with the port, frame index and a hex dump', async () => {
  const first = io();
  assert.is(await main(['replay', TALK, '--out', join(tmp, 'a')], first.io), 0);
  assert.match(first.out(), /output captures in/);
  const same = io();
  assert.is(await main(['replay', TALK, '--out', join(tmp, 'b'), '--expect', join(tmp, 'a')], same.io), 0, same.err());
  // Tamper with one byte of the second frame expected at c2/eth0.
  const exp = join(tmp, 'exp');
  mkdirSync(exp);
  const frames = [...readCaptureSync(join(tmp, 'a', 'c2_eth0.pcap'))];
  const w = new PcapWriter(join(exp, 'c2_eth0.pcap'));
  frames.forEach((r, i) => { const d = r.data.slice(); if (i === 1) d[40] = d[40]! ^ 0xff; w.write(d, r.tsSec, r.tsNsec); });
  w.close();
  const diff = io();
  assert.is(await main(['replay', TALK, '--out', join(tmp, 'c'), '--expect', exp], diff.io), 1);
  assert.match(diff.err(), /^c2\/eth0: frame 1: byte 40 is 0x/m);
  assert.match(diff.err(), /first difference at byte 40/);
});

C('--in adds or replaces a port\'s input; unknown ports and bad flags exit 2', async () => {
  const o = io();
  assert.is(await main(['replay', TALK, '--out', join(tmp, 'o'), '--json', '--in', `c1/eth0=${join(TALK_DIR, 'talk', 'web1_eth0.pcap')}`], o.io), 0, o.err());
  const j = JSON.parse(o.out()) as { ports: Record<string, { rx: number }> };
  assert.is(j.ports['c1/eth0']!.rx, 3, 'c1/eth0 now replays web1\'s 3 frames');
  const bad = io();
  assert.is(await main(['replay', TALK, '--out', tmp, '--in', 'nosuch/eth0=x.pcap'], bad.io), 2);
  assert.match(bad.err(), /talk\.yaml: --in nosuch\/eth0: no such port "nosuch\/eth0"/);
  const flag = io();
  assert.is(await main(['replay', TALK, '--bogus'], flag.io), 2);
  assert.match(flag.err(), /unknown flag: --bogus/);
  const noOut = io();
  assert.is(await main(['replay', TALK], noOut.io), 2);
  assert.match(noOut.err(), /--out DIR is required/);
});

C('netwasm test runs the replay section with its expectations; errors in a scenario exit 2 with file and key', async () => {
  // A copy of the talk scenario that expects c2's output and some counters.
  const dir = join(tmp, 'sc');
  mkdirSync(join(dir, 'talk'), { recursive: true });
  for (const f of ['c1_eth0', 'c2_eth0', 'isolated_lo']) copyFileSync(join(TALK_DIR, 'talk', `${f}.pcap`), join(dir, 'talk', `${f}.pcap`));
  const base = readFileSync(TALK, 'utf8').replace(/\nreplay:[\s\S]*$/, '\n');
  const gen = io();
  const inputs = 'replay:\n  inputs:\n    isolated/lo: talk/isolated_lo.pcap\n    c1/eth0: talk/c1_eth0.pcap\n    c2/eth0: talk/c2_eth0.pcap\n';
  writeFileSync(join(dir, 'gen.yaml'), base + inputs);
  assert.is(await main(['replay', join(dir, 'gen.yaml'), '--out', join(dir, 'expect')], gen.io), 0, gen.err());
  writeFileSync(join(dir, 'ok.yaml'), base + inputs + '  expect:\n    ports:\n      c2/eth0: expect/c2_eth0.pcap\n    counters: { none-drop: 1, bridge-reflect-drop: 0 }\n');
  writeFileSync(join(dir, 'bad.yaml'), base + inputs + '  expect:\n    counters: { none-drop: 7 }\n');
  writeFileSync(join(dir, 'broken.yaml'), base.replace('options: { com.docker.network.bridge.name: mybridge }', 'subnet: 172.17.0.0/16\n    options: { com.docker.network.bridge.name: mybridge }') + inputs);
  const t = io();
  const code = await main(['test', join(dir, 'ok.yaml'), join(dir, 'bad.yaml'), join(dir, 'broken.yaml')], t.io);
  assert.is(code, 2, 'the worst outcome: a scenario error');
  assert.match(t.out(), /ok {3}.*ok\.yaml \(\d+ frames\)/);
  assert.match(t.out(), /FAIL .*bad\.yaml\n {2}counter none-drop: 1, expected 7/);
  assert.match(t.out(), /FAIL .*broken\.yaml/);
  assert.match(t.err(), /broken\.yaml: networks\[\d\]\.subnet: .*overlaps/i);
  assert.match(t.out(), /1 passed, 2 failed/);
});

C('a replay is deterministic: the same scenario twice writes the same bytes, IPVS connections included', async () => {
  const a = io(), b = io();
  assert.is(await main(['replay', TALK, '--out', join(tmp, 'r1'), '--json'], a.io), 0);
  assert.is(await main(['replay', TALK, '--out', join(tmp, 'r2'), '--json'], b.io), 0);
  assert.is(a.out(), b.out());
  for (const f of readdirSync(join(tmp, 'r1'))) {
    assert.ok(readFileSync(join(tmp, 'r1', f)).equals(readFileSync(join(tmp, 'r2', f))), f);
  }
  // The connection table's layout follows its seed, fixed for replays.
  const sc = loadScenario(TALK, 'talk.yaml');
  const table = (connSeed?: number) => {
    const c = compileTopology(sc.topology, connSeed === undefined ? {} : { connSeed });
    replay(c.dp, sc.replay!.inputs.map((i) => ({ port: i.port, path: i.file })), { ports: c.ports, segments: c.segments });
    assert.ok(c.ipvs.connections().length >= 3);
    const r = c.dp.regions.ipvs!;
    return Buffer.from(c.dp.bytes.subarray(r.ptr, r.ptr + r.bytes));
  };
  const first = table(REPLAY_CONN_SEED);
  assert.ok(table(REPLAY_CONN_SEED).equals(first), 'the same seed, the same table bytes');
  assert.not.ok(table(REPLAY_CONN_SEED + 1).equals(first), 'another seed lays the table out differently');
});

C('unknown commands and help', async () => {
  const u = io();
  assert.is(await main(['frobnicate'], u.io), 2);
  assert.match(u.err(), /unknown command "frobnicate"/);
  const h = io();
  assert.is(await main(['--help'], h.io), 0);
  assert.match(h.out(), /replay SCENARIO/);
});

C.run();
