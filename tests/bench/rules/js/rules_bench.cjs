// The JavaScript side of the rule benchmark (shared/bench/README.md): the same generator
// (mulberry32, seed 42), the same evaluation contract and digest, timed the same way as
// rules_bench (warm-up on the first 10,000 accounts, then only the evaluation pass).
//
//   NODE_PATH=<dir>/node_modules node rules_bench.cjs --engine ENGINE [--generate N] [--seed S]
//                                                     [--rules FILE] [--warmup W]
// ENGINE: json-logic-js (apply), json-logic-engine-build (compiled), json-logic-engine-run.
// Prints one JSON line: engine, n, seconds, accounts_per_s, cpu_seconds, accounts_per_cpu_s,
// digest (FNV-1a 32 over "id|score|tier|task,task\n").
// Run through tests/bench/rules/race.sh, which installs the pinned packages into the build folder.
'use strict';
const fs = require('fs');

const args = { engine: 'json-logic-js', generate: 1000000, seed: 42, rules: '', warmup: 10000 };
for (let i = 2; i + 1 < process.argv.length; i += 2) {
  const key = process.argv[i].replace(/^--/, '');
  if (!(key in args)) {
    console.error(`unknown flag ${process.argv[i]}`);
    process.exit(2);
  }
  args[key] = typeof args[key] === 'number' ? Number(process.argv[i + 1]) : process.argv[i + 1];
}
const rules = JSON.parse(fs.readFileSync(args.rules, 'utf8'));

const INDUSTRIES = ['Automotive', 'Chemicals', 'Machinery', 'Pharma', 'Energy', 'Aerospace',
  'Logistics', 'Electronics', 'Retail', 'Food', 'Construction', 'Software'];
const COUNTRIES = ['DE', 'AT', 'CH', 'FR', 'IT', 'ES', 'NL', 'BE', 'PL', 'SE', 'GB', 'US', 'CZ',
  'DK', 'FI'];

function generate(n, seed) {
  let a = seed >>> 0;
  const u = () => {
    a = (a + 0x6D2B79F5) | 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = new Array(n);
  for (let i = 0; i < n; i++) {
    const iR = u();
    const industry = INDUSTRIES[Math.floor(u() * 12)];
    const country = COUNTRIES[Math.floor(u() * 15)];
    const cR = u();
    const e = u();
    const employees = 5 + Math.floor(20000 * e * e * e * e);
    const annual_revenue = employees * (50000 + Math.floor(200000 * u()));
    const s = u();
    const revenue_last_12m = Math.floor(annual_revenue * (0.0005 + 0.02 * s * s * s));
    const nR = u();
    const g = 0.6 + 1.2 * u();
    const revenue_prev_12m = nR < 0.03 ? 0 : Math.floor(revenue_last_12m / g);
    const gross_margin_pct = Math.floor((2 + 53 * u()) * 10) / 10;
    const tenure_years = revenue_prev_12m === 0 ? 0 : 1 + Math.floor(u() * 25);
    const d = u();
    const dr = u();
    const open_deals_value = d < 0.2 ? 0 : Math.floor(revenue_last_12m * 0.6 * dr * dr);
    const m = u();
    const days_since_last_meeting = Math.floor(400 * m * m);
    const c = u();
    const active_contacts = Math.floor(12 * c * c);
    const sR = u();
    const sM = u();
    const p = u();
    const avg_days_to_pay = 15 + Math.floor(120 * p * p);
    const npM = u();
    const npV = u();
    const t = u();
    const support_tickets_open = Math.floor(15 * t * t * t);
    const acc = { id: 'ACC-' + String(i + 1).padStart(7, '0') };
    if (iR >= 0.02) acc.industry = industry;
    if (cR >= 0.01) acc.country = country;
    acc.employees = employees;
    acc.annual_revenue = annual_revenue;
    acc.revenue_last_12m = revenue_last_12m;
    acc.revenue_prev_12m = revenue_prev_12m;
    acc.gross_margin_pct = gross_margin_pct;
    acc.tenure_years = tenure_years;
    acc.open_deals_value = open_deals_value;
    acc.days_since_last_meeting = days_since_last_meeting;
    acc.active_contacts = active_contacts;
    if (sM >= 0.05) acc.has_exec_sponsor = sR < 0.35;
    acc.avg_days_to_pay = avg_days_to_pay;
    if (npM >= 0.12) acc.nps = Math.floor(npV * 201) - 100;
    acc.support_tickets_open = support_tickets_open;
    out[i] = acc;
  }
  return out;
}

// Compiles every rule of the file into f(ctx) for the chosen engine.
function compile(engine) {
  let make;
  if (engine === 'json-logic-js') {
    const jsonLogic = require('json-logic-js');
    make = (rule) => (ctx) => jsonLogic.apply(rule, ctx);
  } else if (engine === 'json-logic-engine-build' || engine === 'json-logic-engine-run') {
    const { LogicEngine } = require('json-logic-engine');
    const e = new LogicEngine();
    make = engine.endsWith('build') ? (rule) => e.build(rule) : (rule) => (ctx) => e.run(rule, ctx);
  } else {
    console.error(`unknown engine ${engine}`);
    process.exit(2);
  }
  return {
    criteria: rules.criteria.map((c) => ({ id: c.id, f: make(c.score) })),
    score: make(rules.score),
    tier: make(rules.tier),
    tasks: rules.tasks.map((t) => ({ id: t.id, f: make(t.when) })),
  };
}

const truthy = (v) => (Array.isArray(v) ? v.length > 0 : !!v);

function evaluate(program, account) {
  const ctx = { account, kam: { scores: {}, score: null, tier: null } };
  for (const c of program.criteria) ctx.kam.scores[c.id] = c.f(ctx);
  ctx.kam.score = program.score(ctx);
  ctx.kam.tier = program.tier(ctx);
  const tasks = [];
  for (const t of program.tasks) if (truthy(t.f(ctx))) tasks.push(t.id);
  return { id: account.id, scores: ctx.kam.scores, score: ctx.kam.score, tier: ctx.kam.tier, tasks };
}

function fnv32(h, text) {
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 16777619) >>> 0;
  }
  return h;
}

const accounts = generate(args.generate, args.seed);
const program = compile(args.engine);
const warm = Math.min(args.warmup, accounts.length);
for (let i = 0; i < warm; i++) evaluate(program, accounts[i]);
const results = new Array(accounts.length);
const cpu0 = process.cpuUsage();
const t0 = process.hrtime.bigint();
for (let i = 0; i < accounts.length; i++) results[i] = evaluate(program, accounts[i]);
const t1 = process.hrtime.bigint();
const cpu = process.cpuUsage(cpu0);
let h = 2166136261;
for (const r of results) h = fnv32(h, `${r.id}|${r.score}|${r.tier}|${r.tasks.join(',')}\n`);
const seconds = Number(t1 - t0) / 1e9;
const cpuSeconds = (cpu.user + cpu.system) / 1e6;
console.log(JSON.stringify({
  engine: args.engine,
  n: accounts.length,
  seconds,
  accounts_per_s: accounts.length / seconds,
  cpu_seconds: cpuSeconds,
  accounts_per_cpu_s: accounts.length / cpuSeconds,
  digest: h.toString(16).padStart(8, '0'),
}));
