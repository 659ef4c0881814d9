// The peer of `kam sync` in the race of tests/bench/peer/race.sh: what a user would write instead,
// a plain Node 20 script with the official @hubspot/api-client and json-logic-js doing the same
// work with the same rule file against the same sandbox — list the companies, read their deal,
// contact and meeting associations and those records, compute the same aggregates, score with
// json-logic-js (criteria, weighted score, tiers by min_score, health, the tier capacities, tasks
// with the tier after capacities, the next-tier hint), batch-update the companies' kam_ fields and
// create the tasks (with their company association, 100 per call).
//
//   NODE_PATH=<dir>/node_modules node peer.cjs --base-url URL --rules FILE [--token T]
//       [--connections 4] [--now-ms MS] [--tasks-tier final|score]
// --tasks-tier score: health and tasks of capped accounts keep the tier by score (no re-evaluation
// with the tier after capacities), for comparing with a kam that does not re-evaluate them.
// Prints one JSON line: companies, tasks, seconds, calls made (as the client sees them).
'use strict';
const http = require('http');
const fs = require('fs');
const hubspot = require('@hubspot/api-client');
const jsonLogic = require('json-logic-js');

const args = { 'base-url': '', rules: '', token: 'sandbox-token', connections: 4, 'now-ms': 0,
  'tasks-tier': 'final' };
for (let i = 2; i + 1 < process.argv.length; i += 2) {
  const key = process.argv[i].replace(/^--/, '');
  if (!(key in args)) {
    console.error(`unknown flag ${process.argv[i]}`);
    process.exit(2);
  }
  args[key] = typeof args[key] === 'number' ? Number(process.argv[i + 1]) : process.argv[i + 1];
}
const rules = JSON.parse(fs.readFileSync(args.rules, 'utf8'));
// `tasks` is a list of rules, or {max_open_per_owner, rules} with a per-owner budget.
const taskRules = Array.isArray(rules.tasks) ? rules.tasks : ((rules.tasks && rules.tasks.rules) || []);
const taskBudget = !Array.isArray(rules.tasks) && rules.tasks && rules.tasks.max_open_per_owner !== undefined
  ? rules.tasks.max_open_per_owner : null;
const now = args['now-ms'] > 0 ? args['now-ms'] : Date.now();
const DAY = 86400000;
const YEAR = 365 * DAY;
const ACTIVE = 90 * DAY;

const client = new hubspot.Client({
  accessToken: args.token,
  basePath: args['base-url'],
  numberOfApiCallRetries: 3,
  httpAgent: new http.Agent({ keepAlive: true, maxSockets: args.connections }),
});
let calls = 0;
const call = (fn) => {
  calls++;
  return fn();
};

// Runs jobs with at most `args.connections` in flight.
async function parallel(jobs) {
  const out = new Array(jobs.length);
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const i = next++;
      out[i] = await jobs[i]();
    }
  };
  await Promise.all(Array.from({ length: Math.min(args.connections, jobs.length) }, worker));
  return out;
}
const chunks = (xs, n) => Array.from({ length: Math.ceil(xs.length / n) }, (_, i) => xs.slice(i * n, i * n + n));

const mapping = rules.mapping.hubspot;
const writeback = Object.assign(
  { score: 'kam_score', tier: 'kam_tier', breakdown: 'kam_breakdown', next_tier_hint: 'kam_next_tier_hint',
    rules_version: 'kam_rules_version', scored_at: 'kam_scored_at' },
  (rules.writeback || {}).hubspot || {});

// ---- read ----
async function listCompanies() {
  const props = new Set(['name', 'hubspot_owner_id']);
  for (const m of Object.values(mapping)) if (m.property) props.add(m.property);
  for (const p of Object.values(writeback)) if (p) props.add(p);
  const companies = [];
  let after;
  do {
    const page = await call(() => client.crm.companies.basicApi.getPage(100, after, [...props]));
    companies.push(...page.results);
    after = page.paging && page.paging.next ? page.paging.next.after : undefined;
  } while (after);
  return companies;
}

async function related(companyIds, type, properties) {
  const links = new Map();
  await parallel(chunks(companyIds, 1000).map((ids) => async () => {
    const r = await call(() => client.crm.associations.v4.batchApi.getPage('companies', type,
      { inputs: ids.map((id) => ({ id })) }));
    for (const res of r.results) links.set(String(res._from.id), res.to.map((t) => String(t.toObjectId)));
  }));
  const all = [...new Set([...links.values()].flat())];
  const api = type === 'deals' ? client.crm.deals.batchApi
    : type === 'contacts' ? client.crm.contacts.batchApi : client.crm.objects.meetings.batchApi;
  const objects = new Map();
  await parallel(chunks(all, 100).map((ids) => async () => {
    const r = await call(() => api.read({ inputs: ids.map((id) => ({ id })), properties, propertiesWithHistory: [] }));
    for (const o of r.results) objects.set(String(o.id), o.properties);
  }));
  return (cid) => (links.get(cid) || []).map((id) => objects.get(id)).filter(Boolean);
}

// ---- aggregates (the connector's definitions) ----
const timeMs = (v) => {
  if (v === null || v === undefined || v === '') return undefined;
  if (/^\d+$/.test(v)) return Number(v);
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : t;
};
const amount = (d) => {
  const v = parseFloat(d.amount || '');
  return Number.isNaN(v) ? 0 : v;
};
const EXEC = new Set(['ceo', 'cfo', 'coo', 'cto', 'cio', 'cmo', 'cro', 'president', 'vp', 'svp', 'evp']);
function isExecutive(title) {
  const words = (title || '').toLowerCase().split(/[^a-z0-9]+/).filter(Boolean);
  return words.some((w, i) => EXEC.has(w) || w.startsWith('chief') ||
    (w === 'vice' && words[i + 1] === 'president') || (w === 'managing' && words[i + 1] === 'director') ||
    (w === 'head' && words[i + 1] === 'of'));
}
function aggregates(deals, contacts, meetings) {
  let wonLast = 0, wonPrev = 0, open = 0, openCount = 0;
  for (const d of deals) {
    const stage = (d.dealstage || '').toLowerCase();
    const won = (d.hs_is_closed_won || '').toLowerCase() === 'true' || stage === 'closedwon';
    const closed = won || (d.hs_is_closed || '').toLowerCase() === 'true' || stage === 'closedlost';
    if (!closed) { open += amount(d); openCount++; continue; }
    if (!won) continue;
    const close = timeMs(d.closedate);
    if (close === undefined || close > now) continue;
    if (close > now - YEAR) wonLast += amount(d);
    else if (close > now - 2 * YEAR) wonPrev += amount(d);
  }
  let active = 0, exec = false;
  for (const c of contacts) {
    const recent = ['lastmodifieddate', 'notes_last_contacted'].some((p) => {
      const t = timeMs(c[p]);
      return t !== undefined && t >= now - ACTIVE;
    });
    if (recent) active++;
    if (isExecutive(c.jobtitle)) exec = true;
  }
  let last, count90 = 0;
  for (const m of meetings) {
    let t = timeMs(m.hs_timestamp);
    if (t === undefined) t = timeMs(m.hs_meeting_start_time);
    if (t === undefined || t > now) continue;
    if (last === undefined || t > last) last = t;
    if (t >= now - ACTIVE) count90++;
  }
  return {
    'deals.won_amount_last_12m': wonLast, 'deals.won_amount_prev_12m': wonPrev,
    'deals.open_amount': open, 'deals.open_count': openCount,
    'contacts.count': contacts.length, 'contacts.active_count': active, 'contacts.exec_sponsor': exec,
    'meetings.days_since_last': last === undefined ? null : Math.trunc((now - last) / DAY),
    'meetings.count_last_90d': count90,
  };
}

// ---- mapping and rules (rules/README.md semantics) ----
function toField(m, raw) {
  if (raw === null || raw === undefined) return undefined;
  if (typeof raw === 'string' && raw.trim() === '') return undefined;
  switch (m.type || 'number') {
    case 'number': {
      if (typeof raw === 'number') return raw;
      const t = String(raw).trim();
      const v = Number(t);
      return t !== '' && Number.isFinite(v) && /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(t) ? v : undefined;
    }
    case 'bool': {
      if (typeof raw === 'boolean') return raw;
      const t = String(raw).toLowerCase();
      return ['true', '1', 'yes'].includes(t) ? true : ['false', '0', 'no'].includes(t) ? false : undefined;
    }
    default:
      return String(raw);
  }
}
const fmt = (v) => (v === undefined || v === null ? '' : String(v));
const render = (tpl, ctx) => (tpl || '').replace(/\{\{\s*([^}]+?)\s*\}\}/g, (_, path) => {
  let cur = ctx;
  for (const k of path.split('.')) cur = cur === undefined || cur === null ? undefined : cur[k];
  return fmt(cur);
});
const tierOf = (score) => {
  for (const t of rules.tiers) if (score >= t.min_score) return t.id;
  return rules.tiers[rules.tiers.length - 1].id;
};
const weightedSum = (scores) => rules.criteria.reduce((s, c, i) => s + c.weight * scores[i], 0);
const tierIndex = (id) => rules.tiers.findIndex((t) => t.id === id);

function healthAndTasks(ctx) {
  ctx.kam.health = {};
  for (const h of rules.health || []) {
    let s = 'green';
    if (h.red && jsonLogic.truthy(jsonLogic.apply(h.red, ctx))) s = 'red';
    else if (h.amber && jsonLogic.truthy(jsonLogic.apply(h.amber, ctx))) s = 'amber';
    ctx.kam.health[h.id] = s;
  }
  return taskRules.filter((t) => jsonLogic.truthy(jsonLogic.apply(t.when, ctx)));
}

// The per-owner task budget (rules/README.md, "Task budget"): of the suggestions, each owner keeps
// the best max_open_per_owner (priority, then the account's score, then account id, rule id); a
// first run has no open tasks. Accounts without an owner share one budget.
function applyTaskBudget(results) {
  if (taskBudget === null) return;
  const rank = { high: 0, medium: 1, low: 2 };
  const cmp = (x, y) => (x < y ? -1 : x > y ? 1 : 0);
  const candidates = [];
  for (const r of results) for (const t of r.tasks) candidates.push({ r, t });
  candidates.sort((a, b) => (rank[a.t.priority || 'medium'] - rank[b.t.priority || 'medium']) ||
    (b.r.score - a.r.score) || cmp(a.r.id, b.r.id) || cmp(a.t.id, b.t.id));
  const used = new Map();
  const kept = new Set();
  for (const c of candidates) {
    const n = used.get(c.r.owner) || 0;
    if (n >= taskBudget) continue;
    used.set(c.r.owner, n + 1);
    kept.add(`${c.r.id}\u0000${c.t.id}`);
  }
  for (const r of results) r.tasks = r.tasks.filter((t) => kept.has(`${r.id}\u0000${t.id}`));
}

function evaluate(account) {
  const ctx = { account, kam: { scores: {} } };
  const scores = rules.criteria.map((c) => {
    const v = jsonLogic.apply(c.score, ctx);
    if (typeof v !== 'number' || !(v >= 1 && v <= 10)) throw new Error(`account ${account.id}: criterion ${c.id} gave ${v}`);
    ctx.kam.scores[c.id] = v;
    return v;
  });
  ctx.kam.score = weightedSum(scores);
  ctx.kam.tier = tierOf(ctx.kam.score);
  const tasks = healthAndTasks(ctx);
  return { id: account.id, owner: account.owner_id || '', ctx, scores, score: ctx.kam.score, tier: ctx.kam.tier, tasks };
}

// The fewest criterion-score points lifting the account one tier (by score).
function nextTierHint(r) {
  const t = tierIndex(r.tier);
  if (t <= 0) return 'top tier';
  const target = t - 1;
  const to = rules.tiers[target].id;
  const lifts = (s) => tierIndex(tierOf(weightedSum(s))) <= target;
  let bestPoints = Infinity, best = null;
  r.scores.forEach((from, i) => {
    const s = [...r.scores];
    for (let k = 1; k <= 10; k++) {
      const v = Math.min(10, from + k);
      if (v <= from || v - from >= bestPoints) break;
      s[i] = v;
      if (lifts(s)) { bestPoints = v - from; best = [...s]; break; }
      if (v >= 10) break;
    }
  });
  const s = [...r.scores];
  let points = 0;
  while (points + 1 < bestPoints) {
    let pick = -1, pickScore = -Infinity;
    s.forEach((v, i) => {
      if (v >= 10) return;
      const u = [...s];
      u[i] = Math.min(10, u[i] + 1);
      const sc = weightedSum(u);
      if (sc > pickScore) { pickScore = sc; pick = i; }
    });
    if (pick < 0) break;
    const before = s[pick];
    s[pick] = Math.min(10, before + 1);
    points += s[pick] - before;
    if (lifts(s)) {
      if (points < bestPoints) { bestPoints = points; best = [...s]; }
      break;
    }
  }
  if (!best) return `tier ${to} is out of reach by criterion scores`;
  const parts = [];
  best.forEach((v, i) => { if (v !== r.scores[i]) parts.push(`${rules.criteria[i].id} ${r.scores[i]}→${v}`); });
  return `${parts.join(', ')} lifts to ${to}`;
}

// Rank by score (ties by id), then tier capacities from the top tier down.
function portfolio(results) {
  const order = [...results].sort((a, b) => (a.score !== b.score ? b.score - a.score : a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (const r of results) r.final = tierIndex(r.tier);
  rules.tiers.forEach((spec, t) => {
    if (t + 1 >= rules.tiers.length || !spec.capacity) return;
    const perOwner = new Map();
    let total = 0;
    for (const r of order) {
      if (r.final !== t) continue;
      const own = perOwner.get(r.owner) || 0;
      if (spec.capacity.per_owner !== undefined && own >= spec.capacity.per_owner) { r.final = t + 1; continue; }
      if (spec.capacity.total !== undefined && total >= spec.capacity.total) { r.final = t + 1; continue; }
      perOwner.set(r.owner, own + 1);
      total++;
    }
  });
  for (const r of results) {
    r.finalTier = rules.tiers[r.final].id;
    if (r.finalTier !== r.tier && args['tasks-tier'] === 'final') {  // health and tasks follow it
      r.ctx.kam.tier = r.finalTier;
      r.tasks = healthAndTasks(r.ctx);
    }
  }
}

async function main() {
  const t0 = process.hrtime.bigint();
  const companies = await listCompanies();
  const ids = companies.map((c) => String(c.id));
  const need = (prefix) => Object.values(mapping).some((m) => m.aggregate && m.aggregate.startsWith(prefix));
  const none = () => [];
  const deals = need('deals.') ? await related(ids, 'deals', ['amount', 'closedate', 'dealstage', 'pipeline', 'hs_is_closed_won', 'hs_is_closed']) : none;
  const contacts = need('contacts.') ? await related(ids, 'contacts', ['jobtitle', 'lastmodifieddate', 'notes_last_contacted']) : none;
  const meetings = need('meetings.') ? await related(ids, 'meetings', ['hs_timestamp', 'hs_meeting_start_time']) : none;

  const results = companies.map((c) => {
    const id = String(c.id);
    const aggs = aggregates(deals(id), contacts(id), meetings(id));
    const account = { id, owner_id: c.properties.hubspot_owner_id || '' };
    for (const [field, m] of Object.entries(mapping)) {
      const v = toField(m, m.property ? c.properties[m.property] : aggs[m.aggregate]);
      if (v !== undefined) account[field] = v;
    }
    return evaluate(account);
  });
  portfolio(results);
  applyTaskBudget(results);

  const scoredAt = new Date(now).toISOString();
  const updates = results.map((r) => {
    const values = {
      score: fmt(r.score), tier: r.finalTier,
      breakdown: rules.criteria.map((c, i) => `${c.id} ${r.scores[i]}`).join(' · '),
      next_tier_hint: nextTierHint(r), rules_version: rules.version, scored_at: scoredAt,
    };
    const properties = {};
    for (const [key, prop] of Object.entries(writeback)) if (prop) properties[prop] = values[key];
    return { id: r.id, properties };
  });
  await parallel(chunks(updates, 100).map((inputs) => () =>
    call(() => client.crm.companies.batchApi.update({ inputs }))));

  const tasks = [];
  for (const r of results) {
    for (const t of r.tasks) {
      const properties = {
        hs_timestamp: new Date(now + (t.due_in_days === undefined ? 7 : t.due_in_days) * DAY).toISOString(),
        hs_task_subject: render(t.title, r.ctx), hs_task_body: render(t.body, r.ctx),
        hs_task_status: 'NOT_STARTED', hs_task_priority: (t.priority || 'medium').toUpperCase(), hs_task_type: 'TODO',
      };
      if (r.owner) properties.hubspot_owner_id = r.owner;
      tasks.push({ properties, associations: [{ to: { id: r.id }, types: [{ associationCategory: 'HUBSPOT_DEFINED', associationTypeId: 192 }] }] });
    }
  }
  await parallel(chunks(tasks, 100).map((inputs) => () =>
    call(() => client.crm.objects.tasks.batchApi.create({ inputs }))));
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(JSON.stringify({ companies: companies.length, tasks: tasks.length, seconds, calls }));
}

main().catch((e) => {
  console.error(e && e.body ? JSON.stringify(e.body) : e);
  process.exit(1);
});
