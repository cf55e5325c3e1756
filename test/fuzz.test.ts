// Fuzzing every node and the whole graph (issue 9): random frames and frames
// mutated from valid ones and from the fixture captures (bit flips,
// truncations, length fields that lie, bad IHL, VLAN stacks, VXLAN inside
// VXLAN, zero-length UDP, frames filling their whole slot, offload metadata)
// through a topology with every node (test/helpers/fuzz.ts). Zero traps, and
// every frame accounted for: TX, DROP with a counted reason, or LOCAL counted
// by a node; the pool whole after every vector.
//
// CI size: FUZZ_FRAMES (default 1,000,000) frames: a third with a roomy pool,
// a third with a pool that runs out of copies and ends at the end of memory (a
// read past a frame in the last slot traps), a third of that with the control
// plane changing tables between vectors. `npm run stress` runs 100,000,000.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { FuzzRunner, NODES, countersByNode, type FuzzReport } from './helpers/fuzz.ts';

const FRAMES = Number(process.env['FUZZ_FRAMES'] ?? 1_000_000);
const SEED = Number(process.env['FUZZ_SEED'] ?? 0x5eed);

/** Counters that only deep, valid paths reach: the fuzz gets past the front checks of every node. */
const REACHED = [
  'eth-runt', 'eth-oversize', 'eth-len-mismatch',
  'vlan-push', 'vlan-pop', 'vlan-rewrite', 'vlan-not-allowed', 'vlan-access-double-tag', 'vlan-no-headroom',
  'bridge-forward', 'bridge-flood', 'bridge-learned', 'bridge-local', 'bridge-reflect-drop', 'bridge-mtu-exceeded', 'bridge-learn-limit',
  'gateway-arp-reply', 'gateway-echo-reply', 'gateway-ip-bad-csum',
  'ipvs-new-conns', 'ipvs-in-packets', 'ipvs-out-packets', 'ipvs-icmp-nat', 'ipvs-ndp-reply', 'ipvs-no-service', 'ipvs-bad-header',
  'vxlan-decap', 'vxlan-encap', 'vxlan-encap-flood', 'vxlan-learn', 'vxlan-decap-no-vni', 'vxlan-decap-unknown-vtep', 'arp-proxy-reply',
  'ipv4-bad-ihl', 'ipv4-bad-length', 'ipv6-bad-length', 'udp-bad-length', 'udp-bad-checksum',
  'macvlan-to-child', 'macvlan-to-parent', 'macvlan-local', 'macvlan-wrong-vlan',
  'ipvlan-to-child', 'ipvlan-to-parent', 'ipvlan-local', 'ipvlan-bad-ip',
  'offload-csum', 'offload-gso', 'offload-segments', 'offload-bad-gso',
  'graph-no-port', 'graph-port-down', 'none-drop',
];

function check(rep: FuzzReport, label: string): void {
  const head = `${label}: ${rep.failures.slice(0, 5).join('\n  ')}`;
  assert.is(rep.traps, 0, `${label}: traps (saved as ${rep.trapFiles.join(', ')})`);
  assert.is(rep.unaccounted, 0, `${label}: frames unaccounted\n  ${head}`);
  assert.is(rep.slotLeaks, 0, `${label}: slot leaks\n  ${head}`);
  assert.is(rep.violations, 0, `${label}: invariant violations\n  ${head}`);
  assert.is(rep.verdicts.tx + rep.verdicts.drop + rep.verdicts.local, rep.frames, `${label}: every frame has a verdict`);
  for (const n of NODES) assert.ok((rep.byCampaign[n] ?? 0) > 0, `${label}: campaign ${n} ran`);
  const c = rep.counters;
  assert.is(c['graph-rx'], rep.frames, `${label}: graph-rx counts every frame`);
  assert.is(c['graph-drop'] ?? 0, rep.verdicts.drop, `${label}: graph-drop counts the DROP verdicts`);
  assert.is(c['graph-local'] ?? 0, rep.verdicts.local, `${label}: graph-local counts the LOCAL verdicts`);
}

const Fuzz = suite('fuzz: every node and the whole graph, every frame accounted for');

let roomy: FuzzReport;
let tight: FuzzReport;
let churn: FuzzReport;
const third = Math.floor(FRAMES / 3);

Fuzz(`${FRAMES - 2 * third} frames, a roomy pool (floods can fill the transmit vector)`, () => {
  roomy = new FuzzRunner({ seed: SEED }).run(FRAMES - 2 * third);
  check(roomy, 'roomy');
  assert.ok((roomy.counters['graph-tx-full'] ?? 0) > 0, 'broadcast storms on the wide bridge overflowed the transmit vector (and were accounted)');
});

Fuzz(`${third} frames, a tight pool ending at the end of memory`, () => {
  tight = new FuzzRunner({ seed: SEED + 1, tight: true }).run(third);
  check(tight, 'tight');
  assert.ok((tight.counters['graph-no-slot'] ?? 0) > 0, 'copies ran out of slots (and were accounted)');
  assert.ok((tight.counters['offload-no-slot'] ?? 0) > 0, 'segmentation ran out of slots');
});

Fuzz(`${third} frames, a tight pool, the control plane changing the tables between vectors`, () => {
  churn = new FuzzRunner({ seed: SEED + 2, tight: true, churn: 0.3 }).run(third);
  check(churn, 'churn');
  assert.ok(churn.churn > 100, `${churn.churn} control-plane changes`);
  assert.ok((churn.counters['bridge-stale-port'] ?? 0) + (churn.counters['graph-port-down'] ?? 0) > 0, 'traffic met the changed tables');
});

Fuzz('the fuzz reached every node, deep paths included', () => {
  const all: Record<string, number> = {};
  for (const r of [roomy, tight, churn]) for (const [k, v] of Object.entries(r.counters)) all[k] = (all[k] ?? 0) + v;
  const missing = REACHED.filter((k) => !all[k]);
  assert.equal(missing, [], `counters never reached: ${missing.join(', ')}`);
  const byNode = countersByNode(all);
  for (const node of ['graph', 'eth', 'vlan', 'bridge', 'gateway', 'ipvs', 'conntrack', 'vxlan', 'arp', 'ipv4', 'ipv6', 'udp', 'macvlan', 'ipvlan', 'offload', 'none']) {
    assert.ok((byNode[node]?.length ?? 0) > 0, `node ${node} counted something`);
  }
  const runs = [roomy, tight, churn];
  const sum = (f: (r: FuzzReport) => number) => runs.reduce((a, r) => a + f(r), 0);
  console.log(`  fuzz: ${sum((r) => r.frames)} frames (seed ${SEED}) in ${sum((r) => r.seconds).toFixed(1)} s, `
    + `traps ${sum((r) => r.traps)}, unaccounted ${sum((r) => r.unaccounted)}, slot leaks ${sum((r) => r.slotLeaks)}, `
    + `${churn.churn} control-plane changes, ${Object.keys(all).length} distinct counters`);
});

Fuzz.run();
