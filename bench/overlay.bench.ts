/**
 * The overlay end to end on real interfaces: frames per second from a
 * container on host1 to a container on host2 across VXLAN,
 *
 *   [gen] vG0 ==veth== vG1 [host1] u1 ==veth (underlay)== u2 [host2] vK1 ==veth== vK0 [sink]
 *
 * netwasmd: two daemons, one per host of an overlay scenario (host1 runs the
 * overlay's bridge and the VXLAN encap, with vG1 bound to c1/eth0 and u1 to
 * host1/eth0; host2 the decap and its bridge, u2 and vK1), beside the Linux
 * kernel on an identical chain of namespaces: a bridge + vxlan device in
 * host1 and in host2 (VNI 4242, the same MTUs). The generator
 * (bench/c/reflector.c gen) sends from vG0 on CPU 0; both daemons are pinned
 * to CPU 1 (the kernel does its work in softirq, on the generator's CPU). The
 * figure is what the sink's vK0 receives per second over a window after a
 * warm-up; measurements interleaved, medians of REPEATS. Needs root and
 * network namespaces; without them the suite reports nothing.
 *
 *   npm run bench -- overlay
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildC, median, type Row } from './common.ts';

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const REPEATS = 3;
const NICE = '-10';
const WARM_MS = 300;
const WINDOW_MS = 700;
const VNI = 4242;
const GEN_MAC = '02:42:0a:f2:00:0b';
const SINK_MAC = '02:42:0a:f2:00:0c';
const H1 = { mac: '02:00:00:00:01:01', ip: '192.0.2.1' };
const H2 = { mac: '02:00:00:00:02:01', ip: '192.0.2.2' };
/** The overlay's MTU (Docker's 1450): the largest frame the containers send. */
const SIZES = [60, 1464] as const;
/** Clock ticks per second of /proc/PID/stat (USER_HZ, 100 on Linux). */
const CLK_TCK = 100;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function sh(args: string[]): string {
  return execFileSync(args[0]!, args.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function rxPackets(ns: string, dev: string): number {
  const j = JSON.parse(sh(['ip', '-n', ns, '-s', '-j', 'link', 'show', dev])) as Array<{ stats64: { rx: { packets: number } } }>;
  return j[0]!.stats64.rx.packets;
}

interface Chain {
  gen: string;
  h1: string;
  h2: string;
  sink: string;
}

/** gen -> host1 -> host2 -> sink namespaces with their veths (tag: k = kernel, n = netwasm). */
function chain(tag: string): Chain {
  const id = process.pid;
  const c: Chain = { gen: `nwo${tag}g-${id}`, h1: `nwo${tag}1-${id}`, h2: `nwo${tag}2-${id}`, sink: `nwo${tag}k-${id}` };
  for (const ns of [c.gen, c.h1, c.h2, c.sink]) {
    sh(['ip', 'netns', 'add', ns]);
    sh(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
  }
  sh(['ip', '-n', c.h1, 'link', 'add', 'vG1', 'type', 'veth', 'peer', 'name', 'vG0', 'netns', c.gen, 'address', GEN_MAC]);
  sh(['ip', '-n', c.h1, 'link', 'add', 'u1', 'address', H1.mac, 'type', 'veth', 'peer', 'name', 'u2', 'netns', c.h2, 'address', H2.mac]);
  sh(['ip', '-n', c.h2, 'link', 'add', 'vK1', 'type', 'veth', 'peer', 'name', 'vK0', 'netns', c.sink, 'address', SINK_MAC]);
  for (const [ns, dev, mtu] of [[c.gen, 'vG0', 1450], [c.h1, 'vG1', 1450], [c.h1, 'u1', 1500], [c.h2, 'u2', 1500], [c.h2, 'vK1', 1450], [c.sink, 'vK0', 1450]] as const) {
    sh(['ip', 'netns', 'exec', ns, 'sysctl', '-qw', `net.ipv6.conf.${dev}.disable_ipv6=1`]);
    sh(['ip', '-n', ns, 'link', 'set', dev, 'mtu', String(mtu), 'up']);
  }
  return c;
}

function teardown(c: Chain): void {
  for (const ns of [c.gen, c.h1, c.h2, c.sink]) {
    try {
      sh(['ip', 'netns', 'del', ns]);
    } catch {
      /* already gone */
    }
  }
}

/** The kernel's overlay: br0 + vxlan0 in each host, the underlay addressed. */
function kernelOverlay(c: Chain): void {
  for (const [ns, self, peer, dev, uplink] of [[c.h1, H1, H2, 'vG1', 'u1'], [c.h2, H2, H1, 'vK1', 'u2']] as const) {
    sh(['ip', '-n', ns, 'addr', 'add', `${self.ip}/24`, 'dev', uplink]);
    sh(['ip', '-n', ns, 'link', 'add', 'vx0', 'type', 'vxlan', 'id', String(VNI), 'local', self.ip, 'remote', peer.ip, 'dstport', '4789', 'dev', uplink, 'nolearning']);
    sh(['ip', '-n', ns, 'link', 'add', 'br0', 'mtu', '1450', 'type', 'bridge']);
    for (const d of ['vx0', dev]) sh(['ip', '-n', ns, 'link', 'set', d, 'mtu', '1450', 'master', 'br0', 'up']);
    sh(['ip', '-n', ns, 'link', 'set', 'br0', 'up']);
    sh(['ip', 'netns', 'exec', ns, 'ip', 'neigh', 'replace', peer.ip, 'lladdr', peer.mac, 'dev', uplink, 'nud', 'permanent']);
  }
  // Where the sink is, as Docker's overlay driver programs it (and host2's bridge would learn it).
  sh(['ip', 'netns', 'exec', c.h1, 'bridge', 'fdb', 'add', SINK_MAC, 'dev', 'vx0', 'master', 'static']);
  sh(['ip', 'netns', 'exec', c.h2, 'bridge', 'fdb', 'add', SINK_MAC, 'dev', 'vK1', 'master', 'static']);
}

const SCENARIO = `
default_bridge: false
hosts:
  - name: host1
    interfaces: { eth0: { mac: "${H1.mac}", ip: ${H1.ip}/24 } }
  - name: host2
    interfaces: { eth0: { mac: "${H2.mac}", ip: ${H2.ip}/24 } }
networks:
  - name: ov
    driver: overlay
    attachable: true
    subnet: 10.242.0.0/24
    options: { com.docker.network.driver.overlay.vxlanid_list: "${VNI}" }
containers:
  - name: c1
    host: host1
    networks: [{ ov: { ip: 10.242.0.11, mac: "${GEN_MAC}" } }]
  - name: c2
    host: host2
    networks: [{ ov: { ip: 10.242.0.12, mac: "${SINK_MAC}" } }]
`;

interface Daemon {
  p: ChildProcess;
  out: string;
}

/** netwasmd for one host of the scenario, in its namespace, pinned to CPU 1. */
async function startDaemon(ns: string, file: string, host: string, socket: string, binds: string[]): Promise<Daemon> {
  const argv = ['ip', 'netns', 'exec', ns, 'nice', '-n', NICE, 'taskset', '-c', '1', process.execPath, '--import', 'tsx', join(ROOT, 'src/daemon/main.ts'),
    file, '--host', host, '--socket', socket, ...binds.flatMap((b) => ['--bind', b])];
  const env = { ...process.env };
  delete env['NETWASM_SOCKET'];
  const p = spawn(argv[0]!, argv.slice(1), { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env });
  const d: Daemon = { p, out: '' };
  p.stdout!.on('data', (b: Buffer) => (d.out += b));
  p.stderr!.on('data', (b: Buffer) => (d.out += b));
  const end = Date.now() + 30000;
  while (!d.out.includes('netwasmd: ready')) {
    if (p.exitCode !== null || p.signalCode !== null) throw new Error(`netwasmd (${host}) exited ${p.exitCode}:\n${d.out}`);
    if (Date.now() > end) throw new Error(`netwasmd (${host}) not ready in 30 s:\n${d.out}`);
    await sleep(50);
  }
  return d;
}

async function stopDaemon(d: Daemon): Promise<void> {
  if (d.p.exitCode !== null || d.p.signalCode !== null) return;
  const done = new Promise<void>((r) => d.p.on('close', () => r()));
  d.p.kill('SIGTERM');
  const t = setTimeout(() => d.p.kill('SIGKILL'), 5000);
  await done;
  clearTimeout(t);
}

/** CPU time (user + kernel, in clock ticks) of processes `pids` so far. */
function cpuTicks(pids: number[]): number {
  let t = 0;
  for (const pid of pids) {
    // Fields after the command's closing parenthesis: state is field 3, utime 14, stime 15.
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    t += Number(f[11]) + Number(f[12]);
  }
  return t;
}

/**
 * Frames/s the sink receives while the generator sends `size`-byte frames,
 * and the frames and CPU ticks of processes `pids` (the daemons) in the window.
 */
async function measure(c: Chain, gen: string, size: number, pids: number[] = []): Promise<{ fps: number; frames: number; ticks: number }> {
  const secs = (WARM_MS + WINDOW_MS + 300) / 1000;
  const g = spawn('ip', ['netns', 'exec', c.gen, 'nice', '-n', NICE, 'taskset', '-c', '0', gen, 'gen', 'vG0', String(size), String(secs), SINK_MAC, GEN_MAC], { stdio: 'ignore' });
  const exited = new Promise<void>((r) => g.on('exit', () => r()));
  await sleep(WARM_MS);
  const a = rxPackets(c.sink, 'vK0');
  const c0 = cpuTicks(pids);
  const t0 = performance.now();
  await sleep(WINDOW_MS);
  const b = rxPackets(c.sink, 'vK0');
  const c1 = cpuTicks(pids);
  const dt = (performance.now() - t0) / 1000;
  await exited;
  await sleep(100);
  return { fps: (b - a) / dt, frames: b - a, ticks: c1 - c0 };
}

function available(): string | undefined {
  if (process.platform !== 'linux') return 'not Linux';
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'not root';
  for (const cmd of ['ip', 'taskset', 'bridge']) {
    try {
      execFileSync('/bin/sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    } catch {
      return `${cmd} not found`;
    }
  }
  try {
    sh(['ip', 'link', 'add', `nwovx${process.pid % 100000}`, 'type', 'vxlan', 'id', '1', 'dstport', '4789']);
    sh(['ip', 'link', 'del', `nwovx${process.pid % 100000}`]);
  } catch {
    return 'no vxlan support in the kernel';
  }
  return undefined;
}

export async function suite(): Promise<Row[]> {
  const why = available();
  if (why) {
    process.stderr.write(`bench: overlay suite skipped: ${why}\n`);
    return [];
  }
  const gen = buildC('reflector');
  const dir = mkdtempSync(join(tmpdir(), 'nwbench-overlay-'));
  const file = join(dir, 'overlay.yaml');
  writeFileSync(file, SCENARIO);
  const ck = chain('k');
  const cn = chain('n');
  const daemons: Daemon[] = [];
  try {
    kernelOverlay(ck);
    daemons.push(await startDaemon(cn.h1, file, 'host1', join(dir, 'h1.sock'), ['c1/eth0=vG1', 'host1/eth0=u1']));
    daemons.push(await startDaemon(cn.h2, file, 'host2', join(dir, 'h2.sock'), ['c2/eth0=vK1', 'host2/eth0=u2']));
    await sleep(200);
    const rows: Row[] = [];
    for (const size of SIZES) {
      const k: number[] = [];
      const n: number[] = [];
      let frames = 0;
      let ticks = 0;
      for (let i = 0; i < REPEATS; i++) {
        k.push((await measure(ck, gen, size)).fps);
        const m = await measure(cn, gen, size, daemons.map((d) => d.p.pid!));
        n.push(m.fps);
        frames += m.frames;
        ticks += m.ticks;
      }
      const [kv, nv] = [median(k), median(n)];
      if (nv === 0) throw new Error(`netwasmd overlay forwarded nothing (${size} B):\n${daemons.map((d) => d.out).join('\n')}`);
      const label = size === 60 ? '64 B frames' : `${size} B frames (overlay MTU 1450)`;
      rows.push({
        work: `netwasmd overlay: veth, bridge, VXLAN encap, underlay veth, VXLAN decap, bridge, veth; ${label}`, unit: 'Mfps',
        netwasm: nv / 1e6, baseline: 'Linux bridge + vxlan devices', baselineValue: kv / 1e6, ratio: nv / kv, target: '>= 1x', met: nv >= kv,
      });
      // What the two daemons spend (user + kernel: their system calls and the
      // softirq work those run) per frame delivered, over the windows.
      if (frames > 0) {
        rows.push({
          work: `netwasmd overlay: CPU of both daemons per frame delivered; ${label}`, unit: 'ns/frame',
          netwasm: (ticks * (1e9 / CLK_TCK)) / frames, baseline: '-', baselineValue: null, ratio: null, target: '', met: null,
        });
      }
    }
    return rows;
  } finally {
    for (const d of daemons) await stopDaemon(d);
    teardown(ck);
    teardown(cn);
    rmSync(dir, { recursive: true, force: true });
  }
}
