// Balance and disruption of the consistent-hashing schedulers, on live
// services (tables built by the WASM builders inside the data plane):
// equal weights spread within one slot per backend (max - min <= 1), and
// removing 1 of 400 backends moves at most 1% of the slots the others held.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Dataplane } from '../src/dataplane/index.ts';
import { Ipvs, type ServiceKey, type ServiceOptions } from '../src/ipvs/ipvs.ts';

const N = 400;
const addr = (i: number): string => `10.${1 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;
const mac = (i: number): string => `02:42:00:00:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;

interface Figures { slots: number; min: number; max: number; removedHad: number; othersHad: number; moved: number; movedPct: number }

/** Builds a service with N equal backends, removes the last added one, and measures. */
function measure(opts: ServiceOptions, mhTabIndex = 12): Figures {
  const dp = new Dataplane({ slots: 16, connCapacity: 1024, ipvsRealServers: 1024, ipvsMhTabIndex: mhTabIndex });
  const ipvs = new Ipvs(dp);
  const key: ServiceKey = { bridge: 1, protocol: 'tcp', address: '192.168.0.1', port: 80 };
  ipvs.addService(key, opts);
  for (let i = 0; i < N; i++) ipvs.addServer(key, { address: addr(i), mac: mac(i) });
  const owners = (): string[] => {
    const servers = ipvs.list()[0]!.servers.map((s) => s.address);
    return Array.from(ipvs.lookupTable(key), (x) => (x < 0 ? '' : servers[x]!));
  };
  const before = owners();
  const count = new Map<string, number>();
  for (const o of before) count.set(o, (count.get(o) ?? 0) + 1);
  assert.is(count.size, N, 'every backend has slots');
  assert.not.ok(count.has(''), 'no empty slot');
  const values = [...count.values()];
  const removed = addr(N - 1);
  ipvs.deleteServer(key, { address: removed });
  const after = owners();
  let others = 0, moved = 0;
  for (let i = 0; i < before.length; i++) {
    if (before[i] === removed) {
      assert.is.not(after[i], removed);
      continue;
    }
    others++;
    if (after[i] !== before[i]) moved++;
  }
  return {
    slots: before.length, min: Math.min(...values), max: Math.max(...values), removedHad: count.get(removed)!,
    othersHad: others, moved, movedPct: (100 * moved) / others,
  };
}

const fmt = (name: string, f: Figures): string =>
  `${name}: ${f.slots} slots, ${N} backends, slots per backend ${f.min}..${f.max}; removing one (${f.removedHad} slots) moved ${f.moved} of ${f.othersHad} others' slots (${f.movedPct.toFixed(3)}%)`;

const Balance = suite('maglev: balance and disruption (400 backends)');

Balance('Katran v1 ring (65537): spread within 1, <= 1% moved', () => {
  const f = measure({ scheduler: 'maglev', maglev: { version: 1 } });
  console.log(`      ${fmt('maglev v1', f)}`);
  assert.ok(f.max - f.min <= 1, `max - min = ${f.max - f.min}`);
  assert.ok(f.movedPct <= 1, `${f.movedPct}%`);
});

Balance('Katran v2 ring (65537): spread within 1, <= 1% moved', () => {
  const f = measure({ scheduler: 'maglev', maglev: { version: 2 } });
  console.log(`      ${fmt('maglev v2', f)}`);
  assert.ok(f.max - f.min <= 1);
  assert.ok(f.movedPct <= 1, `${f.movedPct}%`);
});

Balance('Linux mh, table index 16 (65521): spread within 1, <= 1% moved', () => {
  const f = measure({ scheduler: 'mh' }, 16);
  console.log(`      ${fmt('mh M=65521', f)}`);
  assert.ok(f.max - f.min <= 1);
  assert.ok(f.movedPct <= 1, `${f.movedPct}%`);
});

Balance('Linux mh, default table (4093): spread within 1; disruption measured', () => {
  const f = measure({ scheduler: 'mh' }, 12);
  console.log(`      ${fmt('mh M=4093', f)}`);
  assert.ok(f.max - f.min <= 1);
  // With ~10 slots per backend the table is too small for Maglev's 1% bound;
  // the kernel has the same property. Recorded, and bounded loosely.
  assert.ok(f.movedPct < 10, `${f.movedPct}%`);
});

Balance.run();
