// node --test: the card's view logic on kam.card.v1 documents that the C++ rules module wrote in
// this test run (KAM_CARD_FIXTURES, see tests/check/card/run.sh), and on broken property values.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";

import { formatNumber, formatValue, parseCard, viewModel } from "../cardView.mjs";

const dir = process.env.KAM_CARD_FIXTURES;

function fixture(name) {
  assert.ok(dir, "KAM_CARD_FIXTURES is not set: run through ctest (tests/check/card/run.sh)");
  return readFileSync(join(dir, name), "utf8");
}

test("every produced card renders with its tier, breakdown and footer", () => {
  assert.ok(dir, "KAM_CARD_FIXTURES is not set: run through ctest (tests/check/card/run.sh)");
  const files = readdirSync(dir).filter((f) => f.endsWith(".json"));
  assert.ok(files.length >= 6, `expected the fixtures, found ${files}`);
  for (const file of files) {
    const raw = fixture(file);
    const card = JSON.parse(raw);
    const view = viewModel(raw);
    assert.equal(view.state, "ok", file);
    assert.equal(view.tier, card.tier.label, file);
    assert.equal(view.breakdown.length, card.breakdown.length, file);
    assert.equal(view.health.length, card.health.length, file);
    assert.equal(view.goals.length, card.goals.length, file);
    assert.match(view.footer, /^Scored 2026-12-03 19:00 UTC · rules 2026\.11-1$/, file);
    assert.ok(raw.length < 65536, file);
  }
});

test("a key account shows what lifts it to the next tier and its missed goals", () => {
  const view = viewModel(fixture("T-2.json"));
  assert.equal(view.title, "Key account · score 630");
  assert.equal(view.scoreMax, "of 1,000");
  assert.equal(view.capped, null);
  assert.equal(view.nextTier.title, "120 points to Strategic key account");
  assert.equal(view.nextTier.levers.length, 3);
  assert.equal(view.nextTier.levers[0], "Relationship depth: 2 → 8 (+120 points, enough on its own)");
  assert.equal(view.goalsSummary, "0 of 4 goals met");
  const contacts = view.goals.find((g) => g.label === "Active contacts");
  assert.deepEqual(contacts, {
    label: "Active contacts",
    status: "Not met",
    variant: "danger",
    detail: "1 (target at least 3)",
  });
  const sponsor = view.goals.find((g) => g.label === "Executive sponsor");
  assert.equal(sponsor.detail, "no (target yes)");
  const relationship = view.health.find((h) => h.label === "Relationship");
  assert.equal(relationship.variant, "danger");
  assert.equal(view.openTasks, "3 open KAM tasks");
  const depth = view.breakdown.find((r) => r.label === "Relationship depth");
  assert.equal(depth.score, "2 / 10");
  assert.match(depth.inputs, /active_contacts = 1/);
  assert.equal(view.truncated, null);
});

test("the top tier has no next tier and all its goals met", () => {
  const view = viewModel(fixture("T-1.json"));
  assert.equal(view.nextTier, null);
  assert.equal(view.goalsSummary, "4 of 4 goals met");
  assert.equal(view.openTasks, "0 open KAM tasks");
  assert.equal(view.rank, "Rank 1");
});

test("a card shows the goal trend against the run before, and none on a first run", () => {
  const view = viewModel(fixture("trend.json"));
  assert.equal(view.goalsTrend.direction, "down");
  assert.equal(view.goalsTrend.variant, "danger");
  assert.equal(
    view.goalsTrend.text,
    "Down since the run before: 1 → 0 goals met (Executive sponsor: met → not met; " +
      "retired_goal: not met → no longer a goal)"
  );
  assert.equal(viewModel(fixture("T-2.json")).goalsTrend, null);  // no run before
  const older = viewModel('{"schema":"kam.card.v1","score":5}');  // written before goals_trend
  assert.equal(older.goalsTrend, null);
});

test("a capped account says which tier it scored and why it is held lower", () => {
  const view = viewModel(fixture("capped.json"));
  assert.equal(view.tier, "Development account");
  assert.equal(
    view.capped,
    "Scored as Key account, held at Development account: tier key capacity per owner (10) reached for owner 101"
  );
  assert.equal(view.goalsSummary, "No goals for this tier");
});

test("a truncated card says what was left out", () => {
  const raw = fixture("truncated.json");
  assert.ok(raw.length < 65536);
  const view = viewModel(raw);
  assert.equal(view.state, "ok");
  assert.match(view.truncated, /^Left out to fit the CRM field: long texts/);
});

test("empty, broken and foreign property values give a message, not an exception", () => {
  for (const raw of [undefined, null, "", "   "]) assert.equal(viewModel(raw).state, "empty");
  assert.equal(viewModel("{not json").state, "invalid");
  assert.equal(viewModel("[1,2]").state, "invalid");
  const other = viewModel('{"schema":"kam.card.v2"}');
  assert.equal(other.state, "unsupported");
  assert.match(other.message, /kam\.card\.v2/);
  assert.equal(parseCard('{"schema":"kam.card.v1"}').state, "ok");
  const minimal = viewModel('{"schema":"kam.card.v1","score":5}');
  assert.equal(minimal.state, "ok");
  assert.equal(minimal.nextTier, null);
});

test("numbers and values are formatted for people", () => {
  assert.equal(formatNumber(1234567.891), "1,234,567.89");
  assert.equal(formatNumber(-1500), "-1,500");
  assert.equal(formatNumber(0.5), "0.5");
  assert.equal(formatValue(null), "empty");
  assert.equal(formatValue(true), "yes");
  assert.equal(formatValue(23.08, "%"), "23.08 %");
});
