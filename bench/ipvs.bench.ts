/**
 * IPVS: per-packet scheduling + connection table + NAT, for new flows and for
 * established flows (IPv4/TCP, one service scheduled by mh or by Maglev, 16 NAT
 * real servers, a 2^20 entry connection table), and the Maglev table builds (Katran's 65537-slot
 * ring and the kernel's mh table, 1000 backends). New flows are measured
 * frame by frame (the graph's loop today) and by vectors of VLEN frames with
 * a touch pass first (ipvsTouchVector's two stages: every frame's bucket
 * head, then the non-empty buckets' head entries; VPP style, so that the
 * cache misses of a vector overlap), the same structure in all three;
 * established flows likewise (frame by frame, and by vectors with the touch
 * pass, which is how the graph's runVector runs IPVS traffic). Each figure beside the same
 * algorithm in C (gcc -O2, bench/c/ipvs.c, bench/c/maglev.c) and in plain
 * TypeScript (bench/ts/ipvs.ts, bench/ts/maglev.ts), measured in the same
 * run, interleaved (C, WASM, TypeScript in each round) so that load on the
 * machine hits all three alike; medians over the rounds, and each ratio the
 * median of the rounds' ratios.
 *
 *   npm run bench -- ipvs
 */
import { execFileSync } from 'node:child_process';
import { Dataplane } from '../src/dataplane/index.ts';
import { Ipvs } from '../src/ipvs/ipvs.ts';
import { buildC, median, rateRow, timeRow, type Row } from './common.ts';
import { TsIpvs } from './ts/ipvs.ts';
import { katranRing, mhTable, katranEndpoints, mhDests } from './ts/maglev.ts';

const ROUNDS = 7;
const NEW_FLOWS = 400_000;
const EST_FLOWS = 65_536;
const EST_PASSES = 30;
const BACKENDS = 1000;
/** Frames per vector in the two-pass new-flow runs. */
export const VLEN = 64;

interface Ex {
  ipvsBenchNew(frame: number, len: number, n: number, base: number, work: number, bridge: number, now: number): number;
  ipvsBenchNewV(frame: number, len: number, n: number, base: number, vec: number, vlen: number, bridge: number, now: number): number;
  ipvsBenchRun(frames: number, stride: number, len: number, n: number, iters: number, work: number, bridge: number, now: number): number;
  ipvsBenchEstV(frames: number, stride: number, len: number, n: number, iters: number, vec: number, vlen: number, bridge: number, now: number): number;
  conntrackFlush(): void;
  maglevBuildKatran(version: number, eps: number, n: number, ring: number, size: number, work: number): void;
  maglevBuildMh(dests: number, n: number, table: number, m: number, bits: number, work: number): number;
}

/** A 64-byte Ethernet/IPv4/TCP frame from client (saddr, sport) to 10.0.0.100:80 (as bench/c/ipvs.c builds it). */
export function tcpFrame(saddr: number, sport: number, flags: number): Uint8Array {
  const f = new Uint8Array(64);
  const v = new DataView(f.buffer);
  f.set([2, 0x42, 10, 0, 0, 0xfe, 2, 0x42, 10, 0, 0, 2, 8, 0]);
  const ip = 14;
  f[ip] = 0x45;
  v.setUint16(ip + 2, 40);
  v.setUint16(ip + 6, 0x4000);
  f[ip + 8] = 64;
  f[ip + 9] = 6;
  v.setUint32(ip + 12, saddr);
  f.set([10, 0, 0, 100], ip + 16);
  let s = 0;
  for (let i = 0; i < 20; i += 2) s += v.getUint16(ip + i);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  v.setUint16(ip + 10, ~s & 0xffff);
  const t = ip + 20;
  v.setUint16(t, sport);
  v.setUint16(t + 2, 80);
  f[t + 12] = 0x50;
  f[t + 13] = flags;
  v.setUint16(t + 14, 0xffff);
  s = 6 + 20;
  for (let i = 12; i < 20; i += 2) s += v.getUint16(ip + i);
  for (let i = 0; i < 20; i += 2) s += v.getUint16(t + i);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  v.setUint16(t + 16, ~s & 0xffff);
  return f;
}

const CLIENT_BASE = 0x0a800000;
const sportOf = (i: number): number => 1024 + (i & 0x7fff);

/** The WASM data plane set up as the baselines are. */
export function wasmRig(scheduler: 'mh' | 'maglev' = 'mh', build: 'release' | 'debug' = 'release') {
  const dp = new Dataplane({ slots: 2304, connCapacity: 1 << 20, ipvsRealServers: 2048, build });
  const ipvs = new Ipvs(dp);
  const svc = { bridge: 1, protocol: 'tcp' as const, address: '10.0.0.100', port: 80 };
  ipvs.setBridge(1, { mac: '02:42:0a:00:00:fe' });
  ipvs.addService(svc, { scheduler });
  for (let d = 0; d < 16; d++) ipvs.addServer(svc, { address: `10.0.1.${10 + d}`, port: 8080, mac: `02:42:0a:00:01:${d.toString(16).padStart(2, '0')}` });
  const ex = dp.exports as unknown as Ex;
  const base = dp.slotAddr(0);
  const tmpl = base;
  const work = base + 1024;
  const frames = base + 4096;
  dp.bytes.set(tcpFrame(CLIENT_BASE, sportOf(0), 0x02), tmpl);
  for (let i = 0; i < EST_FLOWS; i++) dp.bytes.set(tcpFrame(CLIENT_BASE + i, sportOf(i), 0x10), frames + i * 64);
  const newFlows = (): number => {
    ex.conntrackFlush();
    const t0 = performance.now();
    const n = ex.ipvsBenchNew(tmpl, 64, NEW_FLOWS, CLIENT_BASE, work, 1, 1000);
    const dt = performance.now() - t0;
    if (n !== NEW_FLOWS) throw new Error(`netwasm forwarded ${n} of ${NEW_FLOWS} new flows: ${JSON.stringify(dp.counters(true), (_, v) => (typeof v === 'bigint' ? Number(v) : v))}`);
    return NEW_FLOWS / dt / 1e3;
  };
  // the same by vectors: fill VLEN frames, touch their buckets then entries, process them (ipvsBenchNewV)
  const vec = frames + EST_FLOWS * 64;
  const newFlowsV = (): number => {
    ex.conntrackFlush();
    const t0 = performance.now();
    const n = ex.ipvsBenchNewV(tmpl, 64, NEW_FLOWS, CLIENT_BASE, vec, VLEN, 1, 1000);
    const dt = performance.now() - t0;
    if (n !== NEW_FLOWS) throw new Error(`netwasm forwarded ${n} of ${NEW_FLOWS} new flows (vectors)`);
    return NEW_FLOWS / dt / 1e3;
  };
  const established = (): number => {
    ex.conntrackFlush();
    if (ex.ipvsBenchNew(tmpl, 64, EST_FLOWS, CLIENT_BASE, work, 1, 1000) !== EST_FLOWS) throw new Error('netwasm: flows not established');
    ex.ipvsBenchRun(frames, 64, 64, EST_FLOWS, 2, work, 1, 1000);
    const t0 = performance.now();
    const n = ex.ipvsBenchRun(frames, 64, 64, EST_FLOWS, EST_PASSES, work, 1, 1000);
    const dt = performance.now() - t0;
    if (n !== EST_FLOWS * EST_PASSES) throw new Error(`netwasm forwarded ${n} of ${EST_FLOWS * EST_PASSES}`);
    return (EST_FLOWS * EST_PASSES) / dt / 1e3;
  };
  // the same by vectors, as the graph runs IPVS traffic (ipvsBenchEstV: copy VLEN frames in, touch, process)
  const establishedV = (): number => {
    ex.conntrackFlush();
    if (ex.ipvsBenchNew(tmpl, 64, EST_FLOWS, CLIENT_BASE, work, 1, 1000) !== EST_FLOWS) throw new Error('netwasm: flows not established');
    ex.ipvsBenchEstV(frames, 64, 64, EST_FLOWS, 2, vec, VLEN, 1, 1000);
    const t0 = performance.now();
    const n = ex.ipvsBenchEstV(frames, 64, 64, EST_FLOWS, EST_PASSES, vec, VLEN, 1, 1000);
    const dt = performance.now() - t0;
    if (n !== EST_FLOWS * EST_PASSES) throw new Error(`netwasm forwarded ${n} of ${EST_FLOWS * EST_PASSES} (vectors)`);
    return (EST_FLOWS * EST_PASSES) / dt / 1e3;
  };
  // Maglev builds through the exported builders, inputs written once
  const lay = ipvs.layout;
  const eps = lay.work + 64;
  const state = eps + lay.maxDests * 16;
  const ring = lay.arena + lay.arenaBytes - 65537 * 4 - 64;
  const buildKatran = (version: 1 | 2, iters: number): number => {
    katranEndpoints(BACKENDS).forEach((e, i) => {
      dp.view.setUint32(eps + i * 16, e.num, true);
      dp.view.setUint32(eps + i * 16 + 4, e.weight, true);
      dp.view.setBigUint64(eps + i * 16 + 8, e.hash, true);
    });
    ex.maglevBuildKatran(version, eps, BACKENDS, ring, 65537, state);
    const t0 = performance.now();
    for (let k = 0; k < iters; k++) ex.maglevBuildKatran(version, eps, BACKENDS, ring, 65537, state);
    return (performance.now() - t0) / iters;
  };
  const buildMh = (iters: number): number => {
    mhDests(BACKENDS).forEach((d, i) => {
      dp.view.setUint32(eps + i * 12, d.hashInput, true);
      dp.view.setInt32(eps + i * 12 + 4, d.weight, true);
      dp.view.setInt32(eps + i * 12 + 8, d.label, true);
    });
    ex.maglevBuildMh(eps, BACKENDS, ring, 65521, 8, state);
    const t0 = performance.now();
    for (let k = 0; k < iters; k++) ex.maglevBuildMh(eps, BACKENDS, ring, 65521, 8, state);
    return (performance.now() - t0) / iters;
  };
  // warm up (tier-up, first touch of the table's pages)
  newFlows();
  newFlowsV();
  established();
  establishedV();
  return { newFlows, newFlowsV, established, establishedV, buildKatran, buildMh, ringAt: (): Int32Array => new Int32Array(dp.memory.buffer, ring, 65537).slice() };
}

export function tsRig(scheduler: 'mh' | 'maglev' = 'mh') {
  const ipvs = new TsIpvs(1 << 20, scheduler);
  const buf = new Uint8Array(EST_FLOWS * 64 + 128);
  const tmplOff = EST_FLOWS * 64;
  const workOff = tmplOff + 64;
  for (let i = 0; i < EST_FLOWS; i++) buf.set(tcpFrame(CLIENT_BASE + i, sportOf(i), 0x10), i * 64);
  buf.set(tcpFrame(CLIENT_BASE, sportOf(0), 0x02), tmplOff);
  const work = new DataView(buf.buffer, workOff, 64);
  const workBytes = buf.subarray(workOff, workOff + 64);
  const newFlows = (): number => {
    ipvs.flush();
    const t0 = performance.now();
    let fwd = 0;
    for (let i = 0; i < NEW_FLOWS; i++) {
      buf.copyWithin(workOff, tmplOff, tmplOff + 64);
      work.setUint32(26, (CLIENT_BASE + i) >>> 0);
      work.setUint16(34, sportOf(i));
      if (ipvs.process(work, workBytes, 64, 1, 1000) === 1) fwd++;
    }
    const dt = performance.now() - t0;
    if (fwd !== NEW_FLOWS) throw new Error(`TypeScript baseline forwarded ${fwd} of ${NEW_FLOWS}`);
    return NEW_FLOWS / dt / 1e3;
  };
  // the same by vectors (as ipvsBenchNewV): fill VLEN frames, touch their buckets then entries, process them
  // the vector after a copy of the established flows' frames, so that establishedV copies with copyWithin
  const vOff = EST_FLOWS * 64;
  const big = new Uint8Array(vOff + VLEN * 64);
  big.set(buf.subarray(0, vOff));
  const vbuf = big.subarray(vOff);
  const vviews = Array.from({ length: VLEN }, (_, j) => new DataView(big.buffer, vOff + j * 64, 64));
  const vbytes = Array.from({ length: VLEN }, (_, j) => big.subarray(vOff + j * 64, vOff + j * 64 + 64));
  const tmplBytes = buf.subarray(tmplOff, tmplOff + 64);
  let touched = 0;
  const heads = new Uint32Array(VLEN);
  const newFlowsV = (): number => {
    ipvs.flush();
    const t0 = performance.now();
    let fwd = 0;
    for (let i = 0; i < NEW_FLOWS; i += VLEN) {
      const m = Math.min(VLEN, NEW_FLOWS - i);
      for (let j = 0; j < m; j++) {
        vbuf.set(tmplBytes, j * 64);
        const v = vviews[j]!;
        v.setUint32(26, (CLIENT_BASE + i + j) >>> 0);
        v.setUint16(34, sportOf(i + j));
      }
      for (let j = 0; j < m; j++) heads[j] = ipvs.touchBucket(vviews[j]!, vbytes[j]!, 64);
      let t = 0;
      for (let j = 0; j < m; j++) t = (t + heads[j]! + ipvs.touchEntry(heads[j]!)) >>> 0;
      touched = (touched + t) >>> 0;
      for (let j = 0; j < m; j++) if (ipvs.process(vviews[j]!, vbytes[j]!, 64, 1, 1000) === 1) fwd++;
    }
    const dt = performance.now() - t0;
    if (fwd !== NEW_FLOWS) throw new Error(`TypeScript baseline forwarded ${fwd} of ${NEW_FLOWS} (vectors)`);
    if (touched === 0.5) throw new Error('unreachable'); // the touch pass's sink stays live
    return NEW_FLOWS / dt / 1e3;
  };
  const pass = (): number => {
    let fwd = 0;
    for (let i = 0; i < EST_FLOWS; i++) {
      buf.copyWithin(workOff, i * 64, i * 64 + 64);
      if (ipvs.process(work, workBytes, 64, 1, 1000) === 1) fwd++;
    }
    return fwd;
  };
  const established = (): number => {
    ipvs.flush();
    for (let i = 0; i < EST_FLOWS; i++) {
      buf.copyWithin(workOff, tmplOff, tmplOff + 64);
      work.setUint32(26, (CLIENT_BASE + i) >>> 0);
      work.setUint16(34, sportOf(i));
      ipvs.process(work, workBytes, 64, 1, 1000);
    }
    pass();
    const t0 = performance.now();
    let fwd = 0;
    for (let k = 0; k < EST_PASSES; k++) fwd += pass();
    const dt = performance.now() - t0;
    if (fwd !== EST_FLOWS * EST_PASSES) throw new Error(`TypeScript baseline forwarded ${fwd} of ${EST_FLOWS * EST_PASSES}`);
    return (EST_FLOWS * EST_PASSES) / dt / 1e3;
  };
  // the same by vectors (as ipvsBenchEstV): copy VLEN frames into the vector, touch, process
  const establishedV = (): number => {
    ipvs.flush();
    for (let i = 0; i < EST_FLOWS; i++) {
      buf.copyWithin(workOff, tmplOff, tmplOff + 64);
      work.setUint32(26, (CLIENT_BASE + i) >>> 0);
      work.setUint16(34, sportOf(i));
      ipvs.process(work, workBytes, 64, 1, 1000);
    }
    const passV = (): number => {
      let fwd = 0;
      for (let i = 0; i < EST_FLOWS; i += VLEN) {
        const m = Math.min(VLEN, EST_FLOWS - i);
        big.copyWithin(vOff, i * 64, (i + m) * 64);
        for (let j = 0; j < m; j++) heads[j] = ipvs.touchBucket(vviews[j]!, vbytes[j]!, 64);
        let t = 0;
        for (let j = 0; j < m; j++) t = (t + heads[j]! + ipvs.touchEntry(heads[j]!)) >>> 0;
        touched = (touched + t) >>> 0;
        for (let j = 0; j < m; j++) if (ipvs.process(vviews[j]!, vbytes[j]!, 64, 1, 1000) === 1) fwd++;
      }
      return fwd;
    };
    passV();
    const t0 = performance.now();
    let fwd = 0;
    for (let k = 0; k < EST_PASSES; k++) fwd += passV();
    const dt = performance.now() - t0;
    if (fwd !== EST_FLOWS * EST_PASSES) throw new Error(`TypeScript baseline forwarded ${fwd} of ${EST_FLOWS * EST_PASSES} (vectors)`);
    if (touched === 0.5) throw new Error('unreachable');
    return (EST_FLOWS * EST_PASSES) / dt / 1e3;
  };
  const eps = katranEndpoints(BACKENDS);
  const dests = mhDests(BACKENDS);
  const ring = new Int32Array(65537);
  const table = new Int32Array(65521);
  const buildKatran = (version: 1 | 2, iters: number): number => {
    katranRing(version, eps, 65537, ring);
    const t0 = performance.now();
    for (let k = 0; k < iters; k++) katranRing(version, eps, 65537, ring);
    return (performance.now() - t0) / iters;
  };
  const buildMh = (iters: number): number => {
    mhTable(dests, 65521, 8, table);
    const t0 = performance.now();
    for (let k = 0; k < iters; k++) mhTable(dests, 65521, 8, table);
    return (performance.now() - t0) / iters;
  };
  newFlows();
  newFlowsV();
  established();
  establishedV();
  return { newFlows, newFlowsV, established, establishedV, buildKatran, buildMh, ring };
}

export async function suite(): Promise<Row[]> {
  const ipvsBin = buildC('ipvs');
  const maglevBin = buildC('maglev');
  const cRun = (bin: string, args: string[], key: string): number => {
    const out = execFileSync(bin, args, { encoding: 'utf8' });
    const v = JSON.parse(out)[key];
    if (typeof v !== 'number') throw new Error(`${bin} printed no "${key}": ${out}`);
    return v;
  };
  const w = wasmRig();
  const t = tsRig();
  const wm = wasmRig('maglev');
  const tm = tsRig('maglev');
  // the three builders agree (a bench of different work would be worthless)
  w.buildKatran(2, 1);
  t.buildKatran(2, 1);
  const wr = w.ringAt();
  for (let i = 0; i < wr.length; i++) if (wr[i] !== t.ring[i]) throw new Error(`WASM and TypeScript rings differ at ${i}`);
  const cCheck = cRun(maglevBin, ['katran', '2', '65537', String(BACKENDS), '1'], 'check');
  let sum = 0;
  for (let i = 0; i < wr.length; i++) sum += wr[i]!;
  if (cCheck !== sum + wr[0]!) throw new Error(`C ring differs from the WASM ring (check ${cCheck} vs ${sum + wr[0]!})`);

  const m: Record<string, { w: number[]; c: number[]; t: number[] }> = {};
  const add = (k: string, wv: number, cv: number, tv: number): void => {
    (m[k] ??= { w: [], c: [], t: [] }).w.push(wv);
    m[k]!.c.push(cv);
    m[k]!.t.push(tv);
  };
  for (let r = 0; r < ROUNDS; r++) {
    add('new', w.newFlows(), cRun(ipvsBin, ['new', String(NEW_FLOWS), '2'], 'mpps'), t.newFlows());
    add('est', w.established(), cRun(ipvsBin, ['est', String(EST_FLOWS), String(EST_FLOWS * EST_PASSES)], 'mpps'), t.established());
    add('newMg', wm.newFlows(), cRun(ipvsBin, ['new', String(NEW_FLOWS), '2', 'maglev'], 'mpps'), tm.newFlows());
    add('newV', w.newFlowsV(), cRun(ipvsBin, ['newv', String(NEW_FLOWS), '2', 'mh', String(VLEN)], 'mpps'), t.newFlowsV());
    add('newVMg', wm.newFlowsV(), cRun(ipvsBin, ['newv', String(NEW_FLOWS), '2', 'maglev', String(VLEN)], 'mpps'), tm.newFlowsV());
    add('estMg', wm.established(), cRun(ipvsBin, ['est', String(EST_FLOWS), String(EST_FLOWS * EST_PASSES), 'maglev'], 'mpps'), tm.established());
    add('estV', w.establishedV(), cRun(ipvsBin, ['estv', String(EST_FLOWS), String(EST_FLOWS * EST_PASSES), 'mh', String(VLEN)], 'mpps'), t.establishedV());
    add('estVMg', wm.establishedV(), cRun(ipvsBin, ['estv', String(EST_FLOWS), String(EST_FLOWS * EST_PASSES), 'maglev', String(VLEN)], 'mpps'), tm.establishedV());
    add('katran2', w.buildKatran(2, 10), cRun(maglevBin, ['katran', '2', '65537', String(BACKENDS), '10'], 'ms'), t.buildKatran(2, 4));
    add('katran1', w.buildKatran(1, 10), cRun(maglevBin, ['katran', '1', '65537', String(BACKENDS), '10'], 'ms'), t.buildKatran(1, 4));
    add('mh', w.buildMh(10), cRun(maglevBin, ['mh', '8', '65521', String(BACKENDS), '10'], 'ms'), t.buildMh(4));
  }
  // medians of each figure, and the ratio as the median of the rounds' own
  // ratios (C, WASM and TypeScript of one round ran back to back, under the
  // same load)
  const med = (k: string): { w: number; c: number; t: number; rc: number; rt: number } => {
    const x = m[k]!;
    return {
      w: median(x.w), c: median(x.c), t: median(x.t),
      rc: median(x.w.map((v, i) => v / x.c[i]!)), rt: median(x.w.map((v, i) => v / x.t[i]!)),
    };
  };
  const rows: Row[] = [];
  const rate = (k: string, work: string): void => {
    const x = med(k);
    rows.push({ ...rateRow(work, 'Mpps', x.w, 'C gcc -O2', x.c, 0.8), ratio: x.rc, met: x.rc >= 0.8 });
    rows.push({ ...rateRow(work, 'Mpps', x.w, 'TypeScript', x.t, 2), ratio: x.rt, met: x.rt >= 2 });
  };
  const time = (k: string, work: string): void => {
    const x = med(k);
    rows.push({ ...timeRow(work, 'ms/build', x.w, 'C gcc -O2', x.c, 1.25), ratio: x.rc, met: x.rc <= 1.25 });
    rows.push({ work, unit: 'ms/build', netwasm: x.w, baseline: 'TypeScript', baselineValue: x.t, ratio: x.rt, target: '', met: null });
  };
  rate('new', 'ipvs new flow: mh schedule + conn insert + NAT (TCP/IPv4, 2^20-entry table)');
  rate('est', `ipvs established flow: conn lookup + TCP state + NAT (${EST_FLOWS} flows)`);
  rate('newMg', 'ipvs new flow: maglev pick + conn insert + NAT (TCP/IPv4, 2^20-entry table)');
  rate('newV', `ipvs new flow, mh, vectors of ${VLEN} with the touch pass (buckets, then entries) before the frame loop`);
  rate('newVMg', `ipvs new flow, maglev, vectors of ${VLEN} with the touch pass (buckets, then entries) before the frame loop`);
  rate('estMg', `ipvs established flow, maglev service: conn lookup + TCP state + NAT (${EST_FLOWS} flows)`);
  rate('estV', `ipvs established flow, mh, vectors of ${VLEN} with the touch pass (the graph's path): conn lookup + TCP state + NAT (${EST_FLOWS} flows)`);
  rate('estVMg', `ipvs established flow, maglev, vectors of ${VLEN} with the touch pass (the graph's path): conn lookup + TCP state + NAT (${EST_FLOWS} flows)`);
  time('katran2', `maglev build: Katran v2 ring, 65537 slots, ${BACKENDS} backends`);
  time('katran1', `maglev build: Katran v1 ring, 65537 slots, ${BACKENDS} backends`);
  time('mh', `mh build: kernel mh table, 65521 slots (tab index 16), ${BACKENDS} backends`);
  return rows;
}
