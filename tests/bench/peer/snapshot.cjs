// Reads what a sync wrote into a sandbox, for tests/bench/peer/race.sh: every company's kam_
// fields (through the CRM API) and every task (the sandbox admin API, with companyIds).
//   node snapshot.cjs URL OUT.json [TOKEN]
'use strict';
const fs = require('fs');
const [url, out, token = 'sandbox-token'] = process.argv.slice(2);
const FIELDS = ['kam_score', 'kam_tier', 'kam_breakdown', 'kam_next_tier_hint', 'kam_rules_version',
  'kam_scored_at'];

async function main() {
  const companies = {};
  let after = '';
  do {
    const r = await fetch(`${url}/crm/v3/objects/companies?limit=100&properties=${FIELDS.join(',')}` +
      (after ? `&after=${encodeURIComponent(after)}` : ''), { headers: { authorization: `Bearer ${token}` } });
    if (!r.ok) throw new Error(`companies: HTTP ${r.status}`);
    const page = await r.json();
    for (const c of page.results) {
      companies[c.id] = Object.fromEntries(FIELDS.map((f) => [f, c.properties[f] ?? null]));
    }
    after = page.paging && page.paging.next ? page.paging.next.after : '';
  } while (after);
  const t = await (await fetch(`${url}/_sandbox/tasks`)).json();
  const tasks = t.results.map((x) => ({ id: x.id, companyIds: x.companyIds, ...x.properties }));
  fs.writeFileSync(out, JSON.stringify({ companies, tasks }));
}
main().catch((e) => { console.error(e); process.exit(1); });
