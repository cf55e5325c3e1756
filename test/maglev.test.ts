// Golden vectors (../shared/vectors/maglev): Katran's Maglev rings (v1, v2)
// and MurmurHash3, the Linux IPVS mh table, its hsiphash and its packet
// picks with and without mh-port / mh-fallback. Every vector is checked
// through the real .wasm (builders, and for mh the scheduler of a live
// service) and against the TypeScript reference.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Dataplane } from '../src/dataplane/index.ts';
import { Ipvs } from '../src/ipvs/ipvs.ts';
import { katranRing, katranPermutation, mhTable, mhSetup, addrFold } from '../src/ipvs/maglev.ts';
import { murmur3x64_64, hsiphash32, siphash13, sip13u32, out, MH_KEY1 } from '../src/ipvs/hash.ts';
import { parseIp } from '../src/ipvs/addr.ts';

const here = dirname(fileURLToPath(import.meta.url));
const VEC = [join(here, '../../shared/vectors/maglev'), '/work/shared/vectors/maglev'].find((p) => existsSync(p))!;
const readJson = (p: string): any => JSON.parse(readFileSync(join(VEC, p), 'utf8'));

const sha256 = (a: Int32Array): string => createHash('sha256').update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength)).digest('hex');
const fromB64 = (s: string): Int32Array => {
  const b = Buffer.from(s, 'base64');
  const out = new Int32Array(b.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = b.readInt32LE(i * 4);
  return out;
};
const counts = (a: Int32Array): Map<number, number> => {
  const m = new Map<number, number>();
  for (const v of a) m.set(v, (m.get(v) ?? 0) + 1);
  return m;
};

function firstDiff(a: Int32Array, b: Int32Array): string {
  for (let i = 0; i < Math.max(a.length, b.length); i++) if (a[i] !== b[i]) return `slot ${i}: got ${a[i]}, want ${b[i]}`;
  return 'none';
}

const dp = new Dataplane({ slots: 64, connCapacity: 4096, ipvsTableBytes: 4 << 20 });
const ipvs = new Ipvs(dp);
const ex = dp.exports as unknown as {
  maglevMurmur3(a: bigint, b: bigint, seed: number): bigint;
  maglevSip13u32(v: number, k0: bigint, k1: bigint): bigint;
  maglevSiphash13(p: number, len: number, k0: bigint, k1: bigint): bigint;
  ipvsScheduleTest(svc: number, af: number, proto: number, saddr: number, l4: number): number;
};

// ---- Katran ---------------------------------------------------------------------------

const Katran = suite('maglev: Katran');

Katran('MurmurHash3_x64_64 (katran_murmur3.json), wasm and TypeScript', () => {
  const v = readJson('katran/katran_murmur3.json');
  assert.ok(v.vectors.length >= 10);
  for (const x of v.vectors) {
    const a = BigInt(x.A);
    const off = BigInt(x.offsetHash), skip = BigInt(x.skipHash);
    assert.is(BigInt.asUintN(64, ex.maglevMurmur3(a, 42n, 0)), off, `wasm offsetHash A=${x.A}`);
    assert.is(BigInt.asUintN(64, ex.maglevMurmur3(a, 2718281828n, 2307)), skip, `wasm skipHash A=${x.A}`);
    assert.is(murmur3x64_64(a, 42n, 0), off, `ts offsetHash A=${x.A}`);
    assert.is(murmur3x64_64(a, 2718281828n, 2307), skip, `ts skipHash A=${x.A}`);
    assert.is(`0x${off.toString(16).padStart(16, '0')}`, x.offsetHashHex);
  }
});

Katran('MurmurHash3 halves agree with a BigInt model on wide inputs', () => {
  // an independent BigInt transcription of the README's definition
  const M = (1n << 64n) - 1n;
  const rotl = (x: bigint, r: bigint): bigint => ((x << r) | (x >> (64n - r))) & M;
  const fmix = (k: bigint): bigint => {
    k ^= k >> 33n; k = (k * 0xff51afd7ed558ccdn) & M; k ^= k >> 33n; k = (k * 0xc4ceb9fe1a85ec53n) & M; return k ^ (k >> 33n);
  };
  const ref = (a: bigint, b: bigint, seed: bigint): bigint => {
    let h1 = seed, h2 = seed;
    let k1 = (a * 0x87c37b91114253d5n) & M; k1 = rotl(k1, 31n); k1 = (k1 * 0x4cf5ad432745937fn) & M; h1 ^= k1;
    h1 = rotl(h1, 27n); h1 = (h1 + h2) & M; h1 = (h1 * 5n + 0x52dce729n) & M;
    let k2 = (b * 0x4cf5ad432745937fn) & M; k2 = rotl(k2, 33n); k2 = (k2 * 0x87c37b91114253d5n) & M; h2 ^= k2;
    h2 = rotl(h2, 31n); h2 = (h2 + h1) & M; h2 = (h2 * 5n + 0x38495ab5n) & M;
    h1 ^= 16n; h2 ^= 16n; h1 = (h1 + h2) & M; h2 = (h2 + h1) & M;
    return (fmix(h1) + fmix(h2)) & M;
  };
  let x = 0x9e3779b97f4a7c15n;
  for (let i = 0; i < 200; i++) {
    x = (x * 6364136223846793005n + 1442695040888963407n) & M;
    const y = (x * 0xd1b54a32d192ed03n) & M;
    const seed = Number(x >> 40n) >>> 0;
    const want = ref(x, y, BigInt(seed));
    assert.is(murmur3x64_64(x, y, seed), want);
    assert.is(BigInt.asUintN(64, ex.maglevMurmur3(x, y, seed)), want);
  }
});

Katran('permutation offset/skip (katran_permutation.json)', () => {
  const v = readJson('katran/katran_permutation.json');
  for (const x of v.vectors) assert.equal(katranPermutation(BigInt(x.hash), v.ringSize), { offset: x.offset, skip: x.skip }, `hash ${x.hash}`);
});

const ringFiles = readdirSync(join(VEC, 'katran')).filter((f) => /^v[12]_\d\d_.*\.json$/.test(f)).sort();

Katran('there are ten ring files (v1, v2 x 5 cases)', () => {
  assert.is(ringFiles.length, 10);
});

for (const f of ringFiles) {
  Katran(`ring ${f}: wasm and TypeScript builders match exactly`, () => {
    const v = readJson(`katran/${f}`);
    const version = v.algorithm === 'katran-maglev-v1' ? 1 : 2;
    const eps = v.endpoints.map((e: any) => ({ num: e.num, weight: e.weight, hash: BigInt(e.hash) }));
    for (const e of v.endpoints) assert.equal(katranPermutation(BigInt(e.hash), v.ringSize), { offset: e.offset, skip: e.skip });
    const want = fromB64(v.ring);
    assert.is(sha256(want), v.ringSha256, 'the vector decodes to its own digest');
    const wasm = ipvs.buildKatranRing(version, eps, v.ringSize);
    assert.is(sha256(wasm), v.ringSha256, `wasm: first difference ${firstDiff(wasm, want)}`);
    const ts = katranRing(version, eps, v.ringSize);
    assert.is(sha256(ts), v.ringSha256, `ts: first difference ${firstDiff(ts, want)}`);
    assert.equal(Array.from(wasm.subarray(0, 64)), v.first64);
    const c = counts(wasm);
    for (const [k, n] of Object.entries(v.slotCounts)) assert.is(c.get(Number(k)) ?? 0, n, `slots of ${k}`);
  });
}

Katran('removing the last of 400 (vectors 03 -> 04): the slots that move are the ones the vectors say, <= 1%', () => {
  for (const ver of ['v1', 'v2']) {
    const base = readJson(`katran/${ver}_03_400_equal.json`);
    const rem = readJson(`katran/${ver}_04_400_remove_last.json`);
    const version = ver === 'v1' ? 1 : 2;
    const eps = (v: any): Array<{ num: number; weight: number; hash: bigint }> => v.endpoints.map((e: any) => ({ num: e.num, weight: e.weight, hash: BigInt(e.hash) }));
    const a = ipvs.buildKatranRing(version, eps(base), 65537);
    const b = ipvs.buildKatranRing(version, eps(rem), 65537);
    let removedHad = 0, others = 0, changed = 0;
    for (let i = 0; i < a.length; i++) {
      if (a[i] === rem.removedNum) removedHad++;
      else {
        others++;
        if (b[i] !== a[i]) changed++;
      }
    }
    assert.is(removedHad, rem.slotsOfRemoved);
    assert.is(changed, rem.otherSlotsChanged);
    assert.ok(changed / others <= 0.01, `${ver}: ${changed} of ${others}`);
    const c = counts(a);
    assert.ok(Math.max(...c.values()) - Math.min(...c.values()) <= 1, 'equal weights: within one slot');
  }
});

Katran('0 and 1 endpoints: empty ring, ring of one', () => {
  assert.ok(ipvs.buildKatranRing(2, [], 101).every((x) => x === -1));
  assert.ok(ipvs.buildKatranRing(1, [{ num: 7, weight: 0, hash: 3n }], 101).every((x) => x === 7));
  assert.ok(katranRing(1, [{ num: 7, weight: 0, hash: 3n }], 101).every((x) => x === 7));
});

Katran('wasm and TypeScript agree on random weighted cases (v1 and v2)', () => {
  let seed = 12345;
  const rnd = (n: number): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed % n;
  };
  for (let t = 0; t < 12; t++) {
    const n = 2 + rnd(40);
    const eps = Array.from({ length: n }, (_, i) => ({ num: i * 3, weight: rnd(5), hash: BigInt(rnd(1 << 30)) * 4099n + BigInt(i) }));
    for (const version of [1, 2] as const) {
      const size = [251, 4093, 65537][t % 3]!;
      const a = ipvs.buildKatranRing(version, eps, size);
      const b = katranRing(version, eps, size);
      assert.is(firstDiff(a, b), 'none', `case ${t} v${version}`);
    }
  }
});

Katran.run();

// ---- Linux IPVS mh ------------------------------------------------------------------------

const Mh = suite('maglev: Linux IPVS mh');

Mh('hsiphash of one u32 with the mh keys (hsiphash.json), wasm and TypeScript', () => {
  const v = readJson('ipvs_mh/hsiphash.json');
  assert.ok(v.vectors.length >= 10);
  for (const x of v.vectors) {
    const k0 = BigInt(x.k0), k1 = BigInt(x.k1);
    assert.is(BigInt.asUintN(64, ex.maglevSip13u32(x.input, k0, k1)), BigInt(x.siphash13_64), `wasm ${x.key} ${x.input}`);
    assert.is(hsiphash32(x.input, x.k0), x.hsiphash, `ts ${x.key} ${x.input}`);
    sip13u32(x.input, 0, x.k0, 0, x.k1);
    assert.is((BigInt(out.hi) << 32n) | BigInt(out.lo), BigInt(x.siphash13_64));
    assert.is(Buffer.from(new Uint32Array([x.input]).buffer).toString('hex'), x.messageBytesHex);
  }
});

Mh('the kernel self-test vectors of the byte-string form (kernelKat)', () => {
  const v = readJson('ipvs_mh/hsiphash.json').kernelKat;
  const k0 = BigInt(v.k0Hex), k1 = BigInt(v.k1Hex);
  const scratch = ipvs.layout.work;
  assert.is(v.vectors.length, 16);
  for (const x of v.vectors) {
    const msg = Uint8Array.from({ length: x.len }, (_, i) => i);
    dp.bytes.set(msg, scratch);
    const w = Number(BigInt.asUintN(64, ex.maglevSiphash13(scratch, x.len, k0, k1)) & 0xffffffffn);
    assert.is(`0x${w.toString(16).padStart(8, '0')}`, x.hsiphashHex, `wasm len ${x.len}`);
    const t = Number(siphash13(msg, k0, k1) & 0xffffffffn);
    assert.is(`0x${t.toString(16).padStart(8, '0')}`, x.hsiphashHex, `ts len ${x.len}`);
  }
});

const mhFiles = readdirSync(join(VEC, 'ipvs_mh')).filter((f) => /^mh_\d\d_.*\.json$/.test(f)).sort();

Mh('there are three table files', () => {
  assert.is(mhFiles.length, 3);
});

for (const f of mhFiles) {
  Mh(`table ${f}: setup, wasm and TypeScript tables match exactly`, () => {
    const v = readJson(`ipvs_mh/${f}`);
    const dests = v.dests.map((d: any) => {
      const a = parseIp(d.addr);
      const fold = addrFold(a.af === 4 ? a.bytes.subarray(0, 4) : a.bytes);
      assert.is(fold, d.addrFold, `fold of ${d.addr}`);
      assert.is((fold + d.port) >>> 0, d.hashInput);
      return { hashInput: d.hashInput, weight: d.weight, label: d.index };
    });
    const st = mhSetup(dests, v.tableSize, v.tabBits);
    assert.is(st.gcd, v.gcd);
    assert.is(st.rshift, v.rshift);
    v.dests.forEach((d: any, i: number) => {
      assert.is(st.offset[i], d.offset, `offset ${i}`);
      assert.is(st.skip[i], d.skip, `skip ${i}`);
      assert.is(st.turns[i], d.turns, `turns ${i}`);
    });
    const want = fromB64(v.table);
    assert.is(sha256(want), v.tableSha256);
    const wasm = ipvs.buildMhTable(dests, v.tableSize, v.tabBits);
    assert.is(sha256(wasm), v.tableSha256, `wasm: ${firstDiff(wasm, want)}`);
    const ts = mhTable(dests, v.tableSize, v.tabBits);
    assert.is(sha256(ts), v.tableSha256, `ts: ${firstDiff(ts, want)}`);
    const c = counts(wasm);
    for (const [k, n] of Object.entries(v.slotCounts)) assert.is(c.get(Number(k)) ?? 0, n);
  });

  Mh(`packets ${f}: a live mh service picks as the kernel (plain, mh-port, fallback)`, () => {
    const v = readJson(`ipvs_mh/${f}`);
    assert.is(v.tableSize, ipvs.layout.mhSize, 'the vectors use the default table index');
    const bridge = 7;
    const key = { bridge, protocol: 'tcp' as const, address: '10.9.9.9', port: 80 };
    ipvs.addService(key, { scheduler: 'mh' });
    try {
      // the kernel's list has the newest first: add in reverse of the vector's order
      for (const d of [...v.dests].reverse()) {
        ipvs.addServer(key, { address: d.addr, port: d.port, weight: d.weight, mac: '02:00:00:00:00:01' });
      }
      // list() is oldest first; lookupTable() numbers servers that way: map back to the vector's index
      const listed = ipvs.list()[0]!.servers.map((s) => v.dests.findIndex((d: any) => d.addr === s.address));
      const live = Int32Array.from(ipvs.lookupTable(key), (x) => (x < 0 ? -1 : listed[x]!));
      assert.is(sha256(live), v.tableSha256, `live table: ${firstDiff(live, fromB64(v.table))}`);
      // ipvsScheduleTest returns a real server index; map it to the vector's dest index
      const svcIdx = 0;
      const destIndexOf = new Map<number, number>();
      const t = ipvs.lookupTable(key);
      void t;
      const pick = (src: string, sport: number): number => {
        const a = parseIp(src);
        const w = ipvs.layout.work + 256;
        dp.bytes.fill(0, w, w + 64);
        dp.bytes.set(a.bytes, w);
        dp.view.setUint16(w + 32, sport, false);
        const d = ex.ipvsScheduleTest(svcIdx, 4, 6, w, w + 32);
        if (d < 0) return -1;
        if (!destIndexOf.has(d)) {
          const r = ipvs.layout.dests + d * 128;
          const addr = `${dp.bytes[r + 32]}.${dp.bytes[r + 33]}.${dp.bytes[r + 34]}.${dp.bytes[r + 35]}`;
          destIndexOf.set(d, v.dests.findIndex((x: any) => x.addr === addr));
        }
        return destIndexOf.get(d)!;
      };
      const run = (flags: Array<'mh-port' | 'mh-fallback'>): number[] => {
        ipvs.editService(key, { flags });
        return v.packets.map((p: any) => pick(p.src, p.sport));
      };
      assert.ok(v.packets.length >= 32);
      // the hash and slot of each packet, by the TypeScript reference
      for (const p of v.packets) {
        const a = parseIp(p.src);
        const fold = addrFold(a.bytes.subarray(0, 4));
        assert.is(fold, p.hashInput);
        assert.is(hsiphash32(fold, MH_KEY1), p.hash);
        assert.is(p.hash % v.tableSize, p.slot);
        assert.is(hsiphash32((fold + p.sport) >>> 0, MH_KEY1) % v.tableSize, p.slotMhPort);
      }
      assert.equal(run([]), v.packets.map((p: any) => p.dest), 'no flags');
      assert.equal(run(['mh-port']), v.packets.map((p: any) => p.destMhPort), 'mh-port');
      assert.equal(run(['mh-fallback']), v.packets.map((p: any) => p.dest), 'mh-fallback, all available');
      // quiesce the unavailable dests: weight 0 keeps last_weight, so the table stays
      for (const u of v.unavailable) ipvs.editServer(key, { address: v.dests[u].addr, port: v.dests[u].port, weight: 0 });
      const again = Int32Array.from(ipvs.lookupTable(key), (x) => (x < 0 ? -1 : listed[x]!));
      assert.is(sha256(again), v.tableSha256, 'weight 0 does not change the table');
      assert.equal(run([]), v.packets.map((p: any) => p.withUnavailable.dest), 'unavailable, no flags');
      assert.equal(run(['mh-fallback']), v.packets.map((p: any) => p.withUnavailable.destFallback), 'unavailable, mh-fallback');
      assert.equal(run(['mh-port']), v.packets.map((p: any) => p.withUnavailable.destMhPort), 'unavailable, mh-port');
      assert.equal(run(['mh-port', 'mh-fallback']), v.packets.map((p: any) => p.withUnavailable.destMhPortFallback), 'unavailable, both');
    } finally {
      ipvs.deleteService(key);
    }
  });
}

Mh('no positive weight: the table is empty', () => {
  const t = ipvs.buildMhTable([{ hashInput: 1, weight: 0, label: 0 }, { hashInput: 2, weight: 0, label: 1 }]);
  assert.ok(t.every((x) => x === -1));
});

Mh('wasm and TypeScript agree on random weights, table sizes and IPv6 folds', () => {
  let seed = 99;
  const rnd = (n: number): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed % n;
  };
  for (let t = 0; t < 10; t++) {
    const m = [251, 509, 4093, 65521][t % 4]!;
    const bits = [4, 4, 6, 8][t % 4]!;
    const n = 1 + rnd(60);
    const dests = Array.from({ length: n }, (_, i) => ({ hashInput: (rnd(1 << 30) * 7 + i) >>> 0, weight: rnd(300), label: i }));
    assert.is(firstDiff(ipvs.buildMhTable(dests, m, bits), mhTable(dests, m, bits)), 'none', `case ${t}`);
  }
});

Mh.run();
