import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { Dataplane } from '../src/dataplane/index.ts';
import * as L from '../src/dataplane/layout.ts';
import { COUNTERS, kebab } from '../src/dataplane/counters.ts';

const Layout = suite('layout');

Layout('the compiled module was built from the same layout the host uses', () => {
  for (const build of ['release', 'debug'] as const) {
    const dp = new Dataplane({ slots: 8, build });
    const ex = dp.exports as Record<string, unknown>;
    let checked = 0;
    for (const [k, v] of Object.entries(L)) {
      if (typeof v !== 'number' || !/^[A-Z][A-Z0-9_]+$/.test(k)) continue;
      const g = ex[k];
      assert.ok(g instanceof WebAssembly.Global, `${build}: ${k} is exported`);
      assert.is((g as WebAssembly.Global).value, v, `${build}: ${k}`);
      checked++;
    }
    assert.ok(checked >= 40, `checked ${checked} constants`);
  }
});

Layout('descriptor and transmit fields fit their records and do not overlap', () => {
  const desc: Array<[string, number, number]> = [
    ['D_SLOT', L.D_SLOT, 4], ['D_OFF', L.D_OFF, 4], ['D_LEN', L.D_LEN, 4], ['D_IN_PORT', L.D_IN_PORT, 2],
    ['D_OUT', L.D_OUT, 2], ['D_VERDICT', L.D_VERDICT, 1], ['D_FLAGS', L.D_FLAGS, 1], ['D_DROP', L.D_DROP, 2],
    ['D_VLAN', L.D_VLAN, 2], ['D_BRIDGE', L.D_BRIDGE, 2], ['D_VNI', L.D_VNI, 4], ['D_HASH', L.D_HASH, 4],
    ['D_TS_SEC', L.D_TS_SEC, 4], ['D_TS_NSEC', L.D_TS_NSEC, 4], ['D_AUX', L.D_AUX, 4], ['D_TX_COUNT', L.D_TX_COUNT, 2],
    ['D_VNET_FLAGS', L.D_VNET_FLAGS, 1], ['D_GSO_TYPE', L.D_GSO_TYPE, 1], ['D_GSO_SIZE', L.D_GSO_SIZE, 2],
    ['D_CSUM_START', L.D_CSUM_START, 2], ['D_CSUM_OFFSET', L.D_CSUM_OFFSET, 2], ['D_HDR_LEN', L.D_HDR_LEN, 2],
  ];
  const tx: Array<[string, number, number]> = [
    ['T_SLOT', L.T_SLOT, 4], ['T_OFF', L.T_OFF, 4], ['T_LEN', L.T_LEN, 4], ['T_PORT', L.T_PORT, 2], ['T_SRC', L.T_SRC, 2],
    ['T_VNET_FLAGS', L.T_VNET_FLAGS, 1], ['T_GSO_TYPE', L.T_GSO_TYPE, 1], ['T_GSO_SIZE', L.T_GSO_SIZE, 2],
    ['T_CSUM_START', L.T_CSUM_START, 2], ['T_CSUM_OFFSET', L.T_CSUM_OFFSET, 2], ['T_HDR_LEN', L.T_HDR_LEN, 2],
  ];
  for (const [fields, size] of [[desc, L.DESC_SIZE], [tx, L.TX_SIZE]] as const) {
    const used = new Uint8Array(size);
    for (const [name, off, width] of fields) {
      assert.ok(off % width === 0, `${name} is aligned`);
      assert.ok(off + width <= size, `${name} fits`);
      for (let i = off; i < off + width; i++) {
        assert.is(used[i], 0, `${name} overlaps another field at byte ${i}`);
        used[i] = 1;
      }
    }
  }
});

Layout('layout.ts is the only place the offsets are written down', () => {
  // The host must import the ABI, never restate it; the vnet block is copied as one run.
  assert.is(L.D_HDR_LEN + 2 - L.D_VNET_FLAGS, 10);
  // graph.ts clears D_OUT and D_VERDICT..D_HASH with one u16 and two u64 stores.
  assert.is(L.D_OUT + 2, L.D_VERDICT);
  assert.is(L.D_HASH + 4, L.D_VERDICT + 16);
  assert.ok(L.D_TS_SEC >= L.D_VERDICT + 16 && L.D_SLOT < L.D_OUT && L.D_LEN < L.D_OUT && L.D_IN_PORT < L.D_OUT);
  assert.is(L.T_HDR_LEN + 2 - L.T_VNET_FLAGS, 10);
  assert.is(L.D_GSO_TYPE - L.D_VNET_FLAGS, L.T_GSO_TYPE - L.T_VNET_FLAGS);
  assert.is(L.D_CSUM_OFFSET - L.D_VNET_FLAGS, L.T_CSUM_OFFSET - L.T_VNET_FLAGS);
  const src = readFileSync(new URL('../src/dataplane/dataplane.ts', import.meta.url), 'utf8');
  assert.not.match(src, /D_(SLOT|OFF|LEN)\s*=\s*\d/);
});

Layout('counter names are unique kebab-case with a node prefix', () => {
  const names = COUNTERS.map((c) => c[1]);
  assert.is(new Set(names).size, names.length);
  const ids = COUNTERS.map((c) => c[0]);
  assert.is(new Set(ids).size, ids.length, 'counter ids are unique');
  for (const [id, n] of COUNTERS) {
    assert.match(n, /^[a-z][a-z0-9]*(-[a-z0-9]+)+$/, n);
    assert.ok(id > 0 ? id < L.MAX_COUNTERS : n === 'graph-rx', `${n} id ${id} in range`);
  }
  assert.is(kebab('VxlanDecapNoVni'), 'vxlan-decap-no-vni');
  assert.is(kebab('Ipv4BadIhl'), 'ipv4-bad-ihl');
});

Layout.run();
