// Compares what kam and the peer wrote (snapshots of snapshot.cjs, before and after each run) and
// prints the race's table of ratios, for tests/bench/peer/race.sh.
//   node compare.cjs KAM_BEFORE KAM_AFTER KAM_RUN PEER_BEFORE PEER_AFTER PEER_RUN
// *_RUN: {"wall_s", "cpu_s", "peak_rss_kib", "calls", "by_route"}. Exit 1 when the written results differ.
'use strict';
const fs = require('fs');
const [kb, ka, kr, pb, pa, pr] = process.argv.slice(2).map((f) => JSON.parse(fs.readFileSync(f, 'utf8')));
const COMPARED = ['kam_score', 'kam_tier', 'kam_breakdown', 'kam_next_tier_hint', 'kam_rules_version'];

// Fields: every company, every compared field (kam_scored_at is the run's time).
const diffs = {};
let examples = [];
for (const id of new Set([...Object.keys(ka.companies), ...Object.keys(pa.companies)])) {
  for (const f of COMPARED) {
    const a = (ka.companies[id] || {})[f] ?? null;
    const b = (pa.companies[id] || {})[f] ?? null;
    if (a !== b) {
      diffs[f] = (diffs[f] || 0) + 1;
      if (examples.length < 5) examples.push(`company ${id} ${f}: kam ${JSON.stringify(a)}, peer ${JSON.stringify(b)}`);
    }
  }
}
// Tasks created by the run (not there before): company, subject, body, priority, owner, type.
const created = (before, after) => {
  const old = new Set(before.tasks.map((t) => t.id));
  return after.tasks.filter((t) => !old.has(t.id)).map((t) => JSON.stringify([
    (t.companyIds || []).join(','), t.hs_task_subject, t.hs_task_body, t.hs_task_priority,
    t.hubspot_owner_id || '', t.hs_task_status, t.hs_task_type])).sort();
};
const kt = created(kb, ka), pt = created(pb, pa);
const count = (xs) => xs.reduce((m, x) => m.set(x, (m.get(x) || 0) + 1), new Map());
const kc = count(kt), pc = count(pt);
let onlyKam = 0, onlyPeer = 0;
for (const [k, n] of kc) onlyKam += Math.max(0, n - (pc.get(k) || 0));
for (const [k, n] of pc) onlyPeer += Math.max(0, n - (kc.get(k) || 0));
const fieldDiffs = Object.values(diffs).reduce((a, b) => a + b, 0);

const row = (what, k, p, better) => {
  const ratio = p / k;
  console.log(`${what.padEnd(16)} ${String(k).padStart(12)} ${String(p).padStart(12)}   peer/kam ${ratio.toFixed(2)}  (goal: kam ${better})`);
};
console.log(`${''.padEnd(16)} ${'kam'.padStart(12)} ${'peer'.padStart(12)}`);
row('wall time (s)', kr.wall_s, pr.wall_s, '>= 5x faster, peer/kam >= 5');
if (kr.cpu_s !== undefined) {
  console.log(`${'CPU time (s)'.padEnd(16)} ${String(kr.cpu_s).padStart(12)} ${String(pr.cpu_s).padStart(12)}   peer/kam ${(pr.cpu_s / kr.cpu_s).toFixed(2)}  (user + system of the process; the sandbox's not counted)`);
}
row('API calls', kr.calls, pr.calls, 'no more calls, peer/kam >= 1');
row('peak RSS (MiB)', Math.round(kr.peak_rss_kib / 1024), Math.round(pr.peak_rss_kib / 1024), '<= 1/5 of the memory, peer/kam >= 5');
console.log(`companies: ${Object.keys(ka.companies).length} (kam) / ${Object.keys(pa.companies).length} (peer); ` +
  `fields compared: ${COMPARED.join(', ')}: ${fieldDiffs === 0 ? 'all equal' : JSON.stringify(diffs) + ' differ'}`);
for (const e of examples) console.log(`  ${e}`);
console.log(`tasks created: ${kt.length} (kam) / ${pt.length} (peer); ` +
  (onlyKam + onlyPeer === 0 ? 'equal (company, subject, body, priority, owner, status, type)'
    : `${onlyKam} only in kam, ${onlyPeer} only in the peer`));
console.log('calls by route (kam):', JSON.stringify(kr.by_route));
console.log('calls by route (peer):', JSON.stringify(pr.by_route));
process.exit(fieldDiffs === 0 && onlyKam + onlyPeer === 0 ? 0 : 1);
