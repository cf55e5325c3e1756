// Frames per second forwarded between two veth ports through a bridge:
// netwasm (its bridge over AF_PACKET ports, one WASM call per vector), beside
// the Linux bridge on the same topology and two C reflectors, recvmmsg/sendmmsg
// and a TPACKET_V3 receive ring + sendmmsg (the ceilings of plain AF_PACKET),
// in the same run.
//
//   [ns gen] vG0 ==veth== vG1 [ns switch] vK1 ==veth== vK0 [ns sink]
//
// The generator (bench/c/reflector.c gen) blasts frames from vG0 on CPU 0;
// netwasm or the reflector are pinned to CPU 1; a kernel bridge br0 of vG1 and
// vK1 works in softirq on the sending CPU (as Docker leaves a host), or, with
// RPS on vG1, on CPU 1 like the other two (a second set of rows). The figure
// is the rate at which vK0 receives (its rx_packets), over a window after a
// warm-up; three identical chains, one per forwarder, measured in turn, medians
// of REPEATS. Needs root and network namespaces; without them the suite
// reports nothing.
//
// Also a forwarder: `node --import tsx bench/host.bench.ts forward IF_A IF_B SINK_MAC|wire`
// (what the suite runs inside the switch namespace).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { buildC, median, type Row } from './common.ts';

const FILE = fileURLToPath(import.meta.url);
const REPEATS = 5;
/**
 * Generator and user-space forwarders run at nice -10: the kernel bridge works
 * in softirq, which no process preempts, so on a machine busy with other work
 * the processes would otherwise lose CPU that the bridge keeps.
 */
const NICE = '-10';
const WARM_MS = 250;
const WINDOW_MS = 700;

function ip(args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function rxPackets(ns: string, dev: string): number {
  const j = JSON.parse(ip(['-n', ns, '-s', '-j', 'link', 'show', dev])) as Array<{ stats64: { rx: { packets: number } } }>;
  return j[0]!.stats64.rx.packets;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Forwarder {
  p: ChildProcess;
  out: string;
}

/** Starts a long-running forwarder; resolves when it says "ready" on stderr. */
function startForwarder(argv: string[]): Promise<Forwarder> {
  return new Promise((res, rej) => {
    const p = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    const f: Forwarder = { p, out: '' };
    let err = '';
    p.stderr!.on('data', (d: Buffer) => {
      err += d;
      if (err.includes('ready')) res(f);
    });
    p.stdout!.on('data', (d: Buffer) => (f.out += d));
    p.on('exit', (code) => rej(new Error(`${argv.join(' ')} exited ${code} before it was ready: ${err}`)));
  });
}

/** Stops a forwarder; returns what it printed (its JSON summary). */
async function stop(f: Forwarder): Promise<{ frames: number; userUs: number; sysUs: number } | undefined> {
  if (f.p.exitCode === null && f.p.signalCode === null) {
    const done = new Promise<void>((r) => f.p.on('close', () => r()));
    f.p.kill('SIGTERM');
    await done;
  }
  try {
    return JSON.parse(f.out.trim().split('\n').pop() ?? '') as { frames: number; userUs: number; sysUs: number };
  } catch {
    return undefined;
  }
}

interface Topo {
  gen: string;
  sw: string;
  sink: string;
  sinkMac: string;
}

/** One gen -> switch -> sink chain of namespaces (tag: b = bridge, r = reflector, t = TPACKET_V3 reflector, n = netwasm). */
function topology(tag: string): Topo {
  const id = `${process.pid}`;
  const t: Topo = { gen: `nwb${tag}g-${id}`, sw: `nwb${tag}s-${id}`, sink: `nwb${tag}k-${id}`, sinkMac: '02:00:00:00:0b:0b' };
  for (const ns of [t.gen, t.sw, t.sink]) {
    ip(['netns', 'add', ns]);
    ip(['-n', ns, 'link', 'set', 'lo', 'up']);
  }
  ip(['-n', t.sw, 'link', 'add', 'vG1', 'type', 'veth', 'peer', 'name', 'vG0', 'netns', t.gen, 'address', '02:00:00:00:0a:0a']);
  ip(['-n', t.sw, 'link', 'add', 'vK1', 'type', 'veth', 'peer', 'name', 'vK0', 'netns', t.sink, 'address', t.sinkMac]);
  for (const [ns, dev] of [[t.gen, 'vG0'], [t.sw, 'vG1'], [t.sw, 'vK1'], [t.sink, 'vK0']] as const) {
    execFileSync('ip', ['netns', 'exec', ns, 'sysctl', '-qw', `net.ipv6.conf.${dev}.disable_ipv6=1`]);
    ip(['-n', ns, 'link', 'set', dev, 'up']);
  }
  return t;
}

/**
 * RPS on vG1 (steer its receive processing to CPU 1) or not (the default: it
 * runs on the CPU that sent, the generator's, as a container's frames are
 * bridged on the container's own CPU).
 */
function setRps(t: Topo, on: boolean): void {
  execFileSync('ip', ['netns', 'exec', t.sw, 'sh', '-c', `echo ${on ? 2 : 0} > /sys/class/net/vG1/queues/rx-0/rps_cpus`]);
}

function teardown(t: Topo): void {
  for (const ns of [t.gen, t.sw, t.sink]) {
    try {
      ip(['netns', 'del', ns]);
    } catch {
      /* already gone */
    }
  }
}

/** One measurement: frames/s received by the sink while the generator runs. */
async function measure(t: Topo, gen: string, size: number): Promise<number> {
  const secs = (WARM_MS + WINDOW_MS + 300) / 1000;
  const g = spawn('ip', ['netns', 'exec', t.gen, 'nice', '-n', NICE, 'taskset', '-c', '0', gen, 'gen', 'vG0', String(size), String(secs), t.sinkMac, '02:00:00:00:0a:0a'], { stdio: 'ignore' });
  const exited = new Promise<void>((r) => g.on('exit', () => r()));
  await sleep(WARM_MS);
  const a = rxPackets(t.sink, 'vK0');
  const t0 = performance.now();
  await sleep(WINDOW_MS);
  const b = rxPackets(t.sink, 'vK0');
  const dt = (performance.now() - t0) / 1000;
  await exited;
  await sleep(100); // let the queues drain between runs
  return (b - a) / dt;
}

function available(): string | undefined {
  if (process.platform !== 'linux') return 'not Linux';
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'not root';
  for (const c of ['ip', 'taskset', 'bridge']) {
    try {
      execFileSync('/bin/sh', ['-c', `command -v ${c}`], { stdio: 'ignore' });
    } catch {
      return `${c} not found`;
    }
  }
  return undefined;
}

export async function suite(): Promise<Row[]> {
  const why = available();
  if (why) {
    process.stderr.write(`bench: host suite skipped: ${why}\n`);
    return [];
  }
  const gen = buildC('reflector');
  const rows: Row[] = [];
  // Three identical chains, one per forwarder, all up for the whole run, and
  // the measurements interleaved (bridge, reflector, netwasm, bridge, ...):
  // whatever else the machine does at a moment weighs on all three alike.
  const tb = topology('b');
  const tr = topology('r');
  const tn = topology('n');
  const tt = topology('t');
  const procs: Forwarder[] = [];
  try {
    ip(['-n', tb.sw, 'link', 'add', 'br0', 'type', 'bridge']);
    ip(['-n', tb.sw, 'link', 'set', 'vG1', 'master', 'br0']);
    ip(['-n', tb.sw, 'link', 'set', 'vK1', 'master', 'br0']);
    ip(['-n', tb.sw, 'link', 'set', 'br0', 'up']);
    execFileSync('ip', ['netns', 'exec', tb.sw, 'bridge', 'fdb', 'add', tb.sinkMac, 'dev', 'vK1', 'master', 'static']);
    procs.push(await startForwarder(['ip', 'netns', 'exec', tr.sw, 'nice', '-n', NICE, 'taskset', '-c', '1', gen, 'fwd', 'vG1', 'vK1', '3600']));
    procs.push(await startForwarder(['ip', 'netns', 'exec', tn.sw, 'nice', '-n', NICE, 'taskset', '-c', '1', process.execPath, '--import', 'tsx', FILE, 'forward', 'vG1', 'vK1', tn.sinkMac]));
    procs.push(await startForwarder(['ip', 'netns', 'exec', tt.sw, 'nice', '-n', NICE, 'taskset', '-c', '1', gen, 'ring', 'vG1', 'vK1', '3600']));
    await sleep(200);
    // As Docker leaves a host (no RPS), both sizes; then with RPS, where the
    // bridge's softirq work leaves the generator's CPU for CPU 1 too, so that
    // every forwarder has CPU 1 to itself: the harder comparison for netwasm.
    for (const { rps, sizes, repeats } of [
      { rps: false, sizes: [60, 1514], repeats: REPEATS },
      { rps: true, sizes: [60], repeats: 3 },
    ]) {
      for (const t of [tb, tr, tn, tt]) setRps(t, rps);
      for (const size of sizes) {
        const label = `${size === 60 ? '64 B frames' : '1514 B frames (MTU 1500)'}${rps ? ', RPS: bridge on its own CPU' : ''}`;
        const bridge: number[] = [];
        const reflector: number[] = [];
        const netwasm: number[] = [];
        const ring: number[] = [];
        for (let i = 0; i < repeats; i++) {
          bridge.push(await measure(tb, gen, size));
          reflector.push(await measure(tr, gen, size));
          netwasm.push(await measure(tn, gen, size));
          ring.push(await measure(tt, gen, size));
        }
        const [b, r, n, t3] = [median(bridge), median(reflector), median(netwasm), median(ring)];
        const mfps = (x: number): number => x / 1e6;
        rows.push({
          work: `host: veth -> bridge -> veth, ${label}`, unit: 'Mfps', netwasm: mfps(n),
          baseline: 'Linux bridge', baselineValue: mfps(b), ratio: n / b, target: rps ? '' : '>= 1x', met: rps ? null : n >= b,
        });
        rows.push({
          work: `host: veth -> bridge -> veth, ${label}`, unit: 'Mfps', netwasm: mfps(n),
          baseline: 'C recvmmsg/sendmmsg reflector', baselineValue: mfps(r), ratio: n / r, target: '', met: null,
        });
        rows.push({
          work: `host: veth -> bridge -> veth, ${label}`, unit: 'Mfps', netwasm: mfps(n),
          baseline: 'C TPACKET_V3 ring reflector', baselineValue: mfps(t3), ratio: n / t3, target: '', met: null,
        });
      }
    }
    // User-space CPU per frame over the whole run: what the data plane and its
    // JS host add on top of the kernel's work (which both forwarders share).
    const [refl, nw, rng] = [await stop(procs[0]!), await stop(procs[1]!), await stop(procs[2]!)];
    // Per frame the forwarder moved; the ring reflector's receive copy runs in
    // the sender's softirq (CPU 0), so its own kernel CPU is mostly sendmmsg.
    const per = (us: number, frames: number): number => (us * 1000) / frames;
    for (const [name, c] of [['C recvmmsg/sendmmsg reflector', refl], ['C TPACKET_V3 ring reflector', rng]] as const) {
      if (!c || !nw || c.frames <= 0 || nw.frames <= 0) continue;
      const [nu, cu] = [per(nw.userUs, nw.frames), per(c.userUs, c.frames)];
      const [ns, cs] = [per(nw.sysUs, nw.frames), per(c.sysUs, c.frames)];
      rows.push({
        work: 'host: forwarder user-space CPU per frame (whole run)', unit: 'ns/frame', netwasm: nu,
        // /proc's CPU times tick every 10 ms: a reflector that spent less than a tick has no ratio
        baseline: name, baselineValue: cu, ratio: cu > 0 ? cu / nu : null, target: '', met: null,
      });
      rows.push({
        work: 'host: forwarder kernel CPU per frame (syscalls + softirq it runs)', unit: 'ns/frame', netwasm: ns,
        baseline: name, baselineValue: cs, ratio: cs / ns, target: '', met: null,
      });
      rows.push({
        work: 'host: forwarder CPU per frame, user + kernel (whole run)', unit: 'ns/frame', netwasm: nu + ns,
        baseline: name, baselineValue: cu + cs, ratio: (cu + cs) / (nu + ns), target: '', met: null,
      });
    }
  } finally {
    for (const p of procs) await stop(p);
    for (const t of [tb, tr, tn, tt]) teardown(t);
  }
  return rows;
}

/**
 * The forwarder the suite runs in the switch namespace: netwasm's bridge over
 * two interfaces (learning on, and the sink's MAC a static entry as in the
 * kernel bridge's FDB), or with `wire` a plain wire between them.
 */
async function forward(a: string, b: string, sinkMac: string | undefined): Promise<void> {
  const { hostDataplane, HostLoop, HostPort } = await import('../src/host/index.ts');
  const { PortKind, Bridges } = await import('../src/dataplane/index.ts');
  const dp = hostDataplane();
  if (sinkMac === 'wire' || sinkMac === undefined) {
    dp.setPort(0, { kind: PortKind.WIRE, aux: 1 });
    dp.setPort(1, { kind: PortKind.WIRE, aux: 0 });
  } else {
    const br = new Bridges(dp);
    br.create(1, {});
    br.addPort(0, { bridge: 1 });
    br.addPort(1, { bridge: 1 });
    br.fdbAdd(1, sinkMac, { port: 1 });
  }
  const loop = new HostLoop(dp);
  loop.add(0, HostPort.openPacket(a));
  loop.add(1, HostPort.openPacket(b));
  process.on('SIGTERM', () => {
    loop.syncKernelDrops();
    const cpu = process.cpuUsage(cpu0);
    const counters = Object.fromEntries(Object.entries(dp.counters(true)).map(([k, v]) => [k, Number(v)]));
    process.stdout.write(JSON.stringify({ frames: counters['host-rx'] ?? 0, userUs: cpu.user, sysUs: cpu.system, vectors: loop.vectors, counters }) + '\n');
    loop.close();
    process.exit(0);
  });
  // CPU time counts from here: start-up (compiling TypeScript and WASM) is not forwarding.
  const cpu0 = process.cpuUsage();
  process.stderr.write('ready\n');
}

if (process.argv[1] === FILE && process.argv[2] === 'forward') {
  await forward(process.argv[3]!, process.argv[4]!, process.argv[5]);
}
