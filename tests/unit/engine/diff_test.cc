// The diff as a pure function: results + prior state -> the outbox's writes. No store, no CRM,
// no clock: every case builds its inputs and checks the plan.
#include "diff.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "kam/rules/rules.h"
#include "run_context.h"

namespace kam::engine {
namespace {

constexpr int64_t kNow = 1'764'806'400'000;  // 2025-12-04 00:00 UTC
constexpr int64_t kDay = 86'400'000;
const char* const kPortal = "12345";

// Two tiers (the top one holds one account per owner), one criterion, two task rules.
const char* const kRules = R"({
  "version": "t-1", "name": "diff test",
  "mapping": {"hubspot": {
    "name": {"property": "name", "type": "string"},
    "margin": {"property": "gross_margin_pct", "type": "number"},
    "sponsor": {"property": "has_sponsor", "type": "bool"}}},
  "criteria": [{"id": "margin", "weight": 1,
    "score": {"if": [{">=": [{"var": ["account.margin", 0]}, 40]}, 10, 2]}}],
  "tiers": [
    {"id": "key", "label": "Key", "min_score": 8, "capacity": {"per_owner": 1}},
    {"id": "standard", "label": "Standard", "min_score": 0}],
  "tasks": [
    {"id": "no_sponsor", "title": "Find a sponsor at {{account.name}}", "priority": "high",
     "due_in_days": 14, "cooldown_days": 30, "auto_close": true,
     "when": {"and": [{"==": [{"var": "kam.tier"}, "key"]},
                      {"!": {"var": ["account.sponsor", false]}}]}},
    {"id": "check_in", "title": "Check in with {{account.name}}", "priority": "low",
     "due_in_days": 7, "cooldown_days": 30, "auto_close": false,
     "when": {"<": [{"var": ["account.margin", 0]}, 10]}}]
})";

class DiffTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto loaded = rules::RuleSet::LoadText(kRules, "diff-test.json");
    ASSERT_TRUE(loaded.ok()) << (loaded.errors.empty() ? "" : loaded.errors[0].ToString());
    rules_ = loaded.rules;
    options_.crm = "hubspot";
    options_.writeback = rules_->Writeback("hubspot");
    options_.config = &config_;
    options_.now_ms = kNow + 9 * 3'600'000;
    prior_.portal_id = kPortal;
    prior_.keys_vouched_since = 0;
  }

  // Evaluates accounts {id, owner_id, margin, sponsor} through the one rules pipeline.
  Evaluation Evaluate(const std::vector<nlohmann::json>& accounts) {
    Evaluation ev;
    rules::AccountSource source = [&](const rules::AccountVisitor& visit) {
      for (const auto& a : accounts) {
        nlohmann::json props = {{"name", "Company " + a["id"].get<std::string>()},
                                {"gross_margin_pct", std::to_string(a.value("margin", 0))},
                                {"has_sponsor", a.value("sponsor", false) ? "true" : "false"}};
        rules::Account account =
            rules_->MapAccount("hubspot", a["id"].get<std::string>(), a.value("owner_id", "o1"),
                               props, nlohmann::json::object(), kNow / 1000);
        if (auto st = visit(account, a["id"].get<std::string>()); !st.ok()) return st;
      }
      return rules::Status();
    };
    rules::ResultSink sink = [&](rules::AccountResult&& r, std::string_view) {
      ev.names[r.account_id] = "Company " + r.account_id;
      ev.live_accounts.insert(r.account_id);
      ev.results.push_back(std::move(r));
      return rules::Status();
    };
    rules::EvalSummary summary;
    rules::Status st =
        rules::EvaluatePortfolio(*rules_, source, sink, rules::PortfolioEvalOptions{}, &summary);
    EXPECT_TRUE(st.ok()) << st.message();
    ev.portfolio = summary.portfolio;
    return ev;
  }

  Plan Run(const Evaluation& ev) { return Diff(*rules_, ev, prior_, options_); }

  // Makes the CRM and the prior state hold exactly what `plan` writes, as after a push.
  void Apply(const Plan& plan, Evaluation& ev) {
    for (const auto* u : plan.All<FieldUpdateWrite>()) {
      for (const auto& [field, value] : u->properties) {
        ev.crm_values[u->account_id][field] = value;
        prior_.written[u->account_id][field] = LastWrite{value, value};
      }
    }
    for (const auto& a : plan.adopted) prior_.written[a.account_id][a.field] = {a.value, a.value};
    for (const auto* t : plan.All<TaskCreateWrite>()) {
      prior_.tasks[t->spec.key] =
          KnownTask{t->spec.key,           t->spec.account_id, t->rule_id,
                    "task-" + t->spec.key, TaskState::kOpen,   t->auto_close};
      prior_.task_owners[t->spec.key] = t->spec.owner_id;
    }
  }

  std::shared_ptr<const rules::RuleSet> rules_;
  EngineConfig config_;
  DiffOptions options_;
  PriorState prior_;
};

TEST_F(DiffTest, UnchangedResultsWriteNothing) {
  Evaluation ev =
      Evaluate({{{"id", "1"}, {"margin", 50}, {"sponsor", true}}, {{"id", "2"}, {"margin", 20}}});
  Plan first = Run(ev);
  ASSERT_EQ(first.Count(WriteKind::kFieldUpdate), 2u);
  Apply(first, ev);
  Plan second = Run(ev);
  EXPECT_TRUE(second.writes.empty());
  EXPECT_TRUE(second.conflicts.empty());
  EXPECT_TRUE(second.adopted.empty());
}

TEST_F(DiffTest, AChangedScoreUpdatesOnlyTheFieldsThatChangedPlusScoredAt) {
  Evaluation ev = Evaluate({{{"id", "1"}, {"margin", 20}}, {{"id", "2"}, {"margin", 20}}});
  Apply(Run(ev), ev);
  Evaluation later = Evaluate({{{"id", "1"}, {"margin", 20}}, {{"id", "2"}, {"margin", 50}}});
  later.crm_values = ev.crm_values;
  Plan plan = Run(later);
  auto updates = plan.All<FieldUpdateWrite>();
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0]->account_id, "2");
  EXPECT_EQ(updates[0]->properties.at("kam_score"), "10");
  EXPECT_EQ(updates[0]->old_values.at("kam_score"), "2");
  EXPECT_EQ(updates[0]->properties.at("kam_tier"), "key");
  EXPECT_TRUE(updates[0]->properties.count("kam_scored_at"));
  EXPECT_FALSE(updates[0]->properties.count("kam_rules_version"));  // unchanged
}

TEST_F(DiffTest, AHumanEditIsRespectedAndReportedOnceForEachValueThePersonSets) {
  Evaluation ev = Evaluate({{{"id", "1"}, {"margin", 20}}});
  Apply(Run(ev), ev);
  ev.crm_values["1"]["kam_tier"] = "key";  // a KAM sets the tier by hand
  Plan plan = Run(ev);
  EXPECT_TRUE(plan.writes.empty());
  ASSERT_EQ(plan.conflicts.size(), 1u);
  EXPECT_EQ(plan.conflicts[0].field, "kam_tier");
  EXPECT_EQ(plan.conflicts[0].crm, "key");
  EXPECT_EQ(plan.conflicts[0].ours, "standard");
  EXPECT_TRUE(plan.conflicts[0].is_new);
  // Reported: kept and listed on the next runs (conflicts_kept) but not new again ...
  prior_.reported_conflicts[ConflictKey("1", "kam_tier")] = "key";
  Plan again = Run(ev);
  EXPECT_TRUE(again.writes.empty());
  ASSERT_EQ(again.conflicts.size(), 1u);
  EXPECT_FALSE(again.conflicts[0].is_new);
  // ... until the person sets another value.
  ev.crm_values["1"]["kam_tier"] = "standard ";
  EXPECT_TRUE(Run(ev).conflicts.at(0).is_new);
}

TEST_F(DiffTest, TheOverwritePolicyWritesOverAHumanEditAndTheReportPolicyNeverWrites) {
  Evaluation ev = Evaluate({{{"id", "1"}, {"margin", 20}}});
  Apply(Run(ev), ev);
  ev.crm_values["1"]["kam_tier"] = "key";
  config_.field_policies["kam_tier"] = ConflictPolicy::kOverwrite;
  Plan overwrite = Run(ev);
  ASSERT_EQ(overwrite.Count(WriteKind::kFieldUpdate), 1u);
  EXPECT_EQ(overwrite.All<FieldUpdateWrite>()[0]->properties.at("kam_tier"), "standard");
  ASSERT_EQ(overwrite.conflicts.size(), 1u);
  config_.field_policies["kam_tier"] = ConflictPolicy::kReport;
  Plan report = Run(ev);
  EXPECT_TRUE(report.writes.empty());
  EXPECT_EQ(report.reported_only.size(), 1u);
}

TEST_F(DiffTest, ATaskIsCreatedOncePerPeriodUnderAKeyThatDoesNotChange) {
  Evaluation ev = Evaluate({{{"id", "7"}, {"margin", 5}}});  // check_in holds
  Plan plan = Run(ev);
  auto creates = plan.All<TaskCreateWrite>();
  ASSERT_EQ(creates.size(), 1u);
  EXPECT_EQ(creates[0]->rule_id, "check_in");
  // The key is kam- + FNV-1a (short basis) of portal|account|rule|period: keys in CRMs rely on it.
  const int64_t period = (options_.now_ms / kDay) / 30;
  EXPECT_EQ(creates[0]->spec.key,
            "kam-" + Hex64(Fnv1a64ShortBasis(std::string(kPortal) + "|7|check_in|" +
                                             std::to_string(period))));
  EXPECT_EQ(TaskKey("1", "2", "r", 0, 0), "kam-" + Hex64(Fnv1a64ShortBasis("1|2|r|0")));
  EXPECT_EQ(Fnv1a64ShortBasis(""), 1469598103934665603ULL);
  EXPECT_FALSE(creates[0]->in_doubt);  // the state file vouches: never sent
  Apply(plan, ev);
  EXPECT_EQ(Run(ev).Count(WriteKind::kTaskCreate), 0u);  // same period: never again
  // Completed by a person (the state still knows the key): not recreated in the period either.
  prior_.tasks.begin()->second.state = TaskState::kCompleted;
  EXPECT_EQ(Run(ev).Count(WriteKind::kTaskCreate), 0u);
  // A failed write is planned again by the same key, searched first.
  prior_.tasks.begin()->second.state = TaskState::kFailed;
  Plan retry_plan = Run(ev);
  auto retry = retry_plan.All<TaskCreateWrite>();
  ASSERT_EQ(retry.size(), 1u);
  EXPECT_EQ(retry[0]->spec.key, creates[0]->spec.key);
  EXPECT_TRUE(retry[0]->in_doubt);
  // The next period: a new key.
  prior_.tasks.begin()->second.state = TaskState::kOpen;
  options_.now_ms += 30 * kDay;
  Plan next_plan = Run(ev);
  auto next = next_plan.All<TaskCreateWrite>();
  ASSERT_EQ(next.size(), 1u);
  EXPECT_NE(next[0]->spec.key, creates[0]->spec.key);
}

TEST_F(DiffTest, UnknownKeysAreInDoubtWhenTheStateFileMayHaveLostTasks) {
  Evaluation ev = Evaluate({{{"id", "7"}, {"margin", 5}}});
  // A new state file (nothing decided) on a portal that holds the add-in's values already.
  prior_.keys_vouched_since = -1;
  ev.crm_values["7"]["kam_score"] = "2";
  Plan lost = Run(ev);
  ASSERT_EQ(lost.Count(WriteKind::kTaskCreate), 1u);
  EXPECT_TRUE(lost.All<TaskCreateWrite>()[0]->in_doubt);
  EXPECT_EQ(lost.keys_vouched_since, options_.now_ms);
  // A new state file on a portal the add-in never wrote: nothing to search.
  ev.crm_values.clear();
  Plan fresh = Run(ev);
  EXPECT_FALSE(fresh.All<TaskCreateWrite>()[0]->in_doubt);
  EXPECT_EQ(fresh.keys_vouched_since, 0);
  // A state restored from a backup: the CRM was scored after the last write it knows.
  prior_.keys_vouched_since = 0;
  prior_.last_write_ms = options_.now_ms - 5 * kDay;
  ev.crm_values["7"]["kam_scored_at"] = "2025-12-04T08:00:00.000Z";
  Plan restored = Run(ev);
  EXPECT_TRUE(restored.All<TaskCreateWrite>()[0]->in_doubt);
  EXPECT_EQ(restored.keys_vouched_since, options_.now_ms);
}

// A state file restored from a backup (or one that lost the record of a write): the add-in's
// own later writes are in the CRM with a newer kam_scored_at than the state file knows.
class RestoredState : public DiffTest {
 protected:
  // The backup is taken after a first run (margin 20: standard, score 2); then a run the backup
  // does not know writes margin 50 (key, score 10) a day later; then the backup is restored.
  Evaluation RestoreAfterALostRun() {
    Evaluation ev = Evaluate({{{"id", "1"}, {"margin", 20}}});
    Apply(Run(ev), ev);
    backup_ = prior_;
    options_.now_ms += kDay;
    Evaluation lost = Evaluate({{{"id", "1"}, {"margin", 50}}});
    lost.crm_values = ev.crm_values;
    Apply(Run(lost), lost);
    EXPECT_EQ(lost.crm_values["1"]["kam_tier"], "key");
    prior_ = backup_;
    options_.now_ms += kDay;
    return lost;
  }
  PriorState backup_;
};

TEST_F(RestoredState, TheAddInsOwnLaterValuesAreNotPeoplesEditsAndAreDiffedAsWritten) {
  Evaluation lost = RestoreAfterALostRun();
  // The rules now arrive at the backup's values again: the CRM's key/10 are the add-in's own
  // writes, so they are written over, with no conflict.
  Evaluation now = Evaluate({{{"id", "1"}, {"margin", 20}}});
  now.crm_values = lost.crm_values;
  Plan plan = Run(now);
  EXPECT_TRUE(plan.conflicts.empty());
  EXPECT_EQ(plan.unrecorded_writes, std::vector<std::string>{"1"});
  auto updates = plan.All<FieldUpdateWrite>();
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0]->properties.at("kam_tier"), "standard");
  EXPECT_EQ(updates[0]->properties.at("kam_score"), "2");
  EXPECT_EQ(updates[0]->old_values.at("kam_tier"), "key");
  // Without the newer kam_scored_at the same CRM values are a person's edits (respect).
  Evaluation edited = now;
  edited.crm_values["1"]["kam_scored_at"] = backup_.written["1"]["kam_scored_at"].value;
  Plan by_person = Run(edited);
  EXPECT_EQ(by_person.Count(WriteKind::kFieldUpdate), 0u);
  EXPECT_GE(by_person.conflicts.size(), 2u);  // kam_score, kam_tier, ...
  EXPECT_TRUE(by_person.unrecorded_writes.empty());
}

TEST_F(RestoredState, ValuesThatStillHoldAreAdoptedWithTheirScoringTimeAndLaterEditsAreConflicts) {
  Evaluation now = RestoreAfterALostRun();  // the rules still say key/10
  Plan plan = Run(now);
  EXPECT_EQ(plan.Count(WriteKind::kFieldUpdate), 0u);
  EXPECT_TRUE(plan.conflicts.empty());
  EXPECT_EQ(plan.unrecorded_writes.size(), 1u);
  bool scored_at_adopted = false;
  for (const auto& a : plan.adopted) {
    if (a.field == "kam_scored_at") {
      scored_at_adopted = true;
      EXPECT_EQ(a.value, now.crm_values["1"]["kam_scored_at"]);
    }
  }
  EXPECT_TRUE(scored_at_adopted) << "else every later run would take the CRM as the add-in's";
  Apply(plan, now);
  Plan next = Run(now);
  EXPECT_TRUE(next.unrecorded_writes.empty());
  EXPECT_TRUE(next.writes.empty());
  EXPECT_TRUE(next.adopted.empty());
  // A KAM sets the tier by hand afterwards: a conflict again, respected.
  now.crm_values["1"]["kam_tier"] = "standard";
  Plan edit = Run(now);
  EXPECT_EQ(edit.Count(WriteKind::kFieldUpdate), 0u);
  ASSERT_EQ(edit.conflicts.size(), 1u);
  EXPECT_EQ(edit.conflicts[0].field, "kam_tier");
}

TEST_F(RestoredState, APersonsValueTheBackupAlreadyReportedStaysThePersons) {
  Evaluation ev = Evaluate({{{"id", "1"}, {"margin", 20}}});
  Apply(Run(ev), ev);
  ev.crm_values["1"]["kam_tier"] = "key";  // a KAM's hand edit, reported (respect)
  prior_.reported_conflicts[ConflictKey("1", "kam_tier")] = "key";
  backup_ = prior_;
  // A run the backup does not know wrote another score (and kam_scored_at) and, under
  // `respect`, kept the person's tier.
  options_.now_ms += kDay;
  Evaluation lost = ev;
  lost.crm_values["1"]["kam_score"] = "7";
  lost.crm_values["1"]["kam_scored_at"] = IsoUtc(options_.now_ms);
  prior_ = backup_;
  options_.now_ms += kDay;
  Plan plan = Run(lost);
  EXPECT_EQ(plan.unrecorded_writes.size(), 1u);
  ASSERT_EQ(plan.conflicts.size(), 1u);
  EXPECT_EQ(plan.conflicts[0].field, "kam_tier");
  EXPECT_FALSE(plan.conflicts[0].is_new);
  auto updates = plan.All<FieldUpdateWrite>();
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0]->properties.at("kam_score"), "2");  // the add-in's own 7, written over
  EXPECT_FALSE(updates[0]->properties.count("kam_tier"));
}

TEST_F(DiffTest, ACappedAccountsFinalTierDrivesItsFieldsAndTasks) {
  // Both score "key"; the tier holds one per owner: account 2 is capped to standard.
  Evaluation ev = Evaluate({{{"id", "1"}, {"margin", 50}}, {{"id", "2"}, {"margin", 50}}});
  ASSERT_EQ(ev.portfolio.capped, 1);
  Plan plan = Run(ev);
  std::map<std::string, std::string> tier;
  for (const auto* u : plan.All<FieldUpdateWrite>())
    tier[u->account_id] = u->properties.at("kam_tier");
  EXPECT_EQ(tier["1"], "key");
  EXPECT_EQ(tier["2"], "standard");
  auto creates = plan.All<TaskCreateWrite>();
  ASSERT_EQ(creates.size(), 1u);  // no_sponsor is a key-tier task: only for account 1
  EXPECT_EQ(creates[0]->spec.account_id, "1");
  EXPECT_EQ(creates[0]->rule_id, "no_sponsor");
}

TEST_F(DiffTest, AutoCloseCompletesOnlyTheAddInsOwnOpenTasksOfAccountsThatEvaluated) {
  Evaluation ev = Evaluate({{{"id", "1"}, {"margin", 50}},
                            {{"id", "2"}, {"margin", 20}},
                            {{"id", "3"}, {"margin", 20}}});
  ev.live_accounts.insert("4");  // evaluation failed: no result
  ev.failed_accounts.insert("4");
  // "5" is gone from the CRM (not live).
  auto task = [&](const std::string& key, const std::string& account, const std::string& rule,
                  TaskState state, bool auto_close, const std::string& crm_id) {
    prior_.tasks[key] = KnownTask{key, account, rule, crm_id, state, auto_close};
  };
  task("k1", "1", "no_sponsor", TaskState::kOpen, true, "t1");     // still holds: stays
  task("k2", "2", "no_sponsor", TaskState::kOpen, true, "t2");     // cleared, auto_close: completed
  task("k3", "3", "check_in", TaskState::kOpen, false, "t3");      // cleared, no auto_close: stays
  task("k4", "4", "no_sponsor", TaskState::kOpen, true, "t4");     // evaluation failed: stays
  task("k5", "5", "check_in", TaskState::kOpen, false, "t5");      // company gone: completed
  task("k6", "2", "check_in", TaskState::kPlanned, true, "");      // not in the CRM yet: stays
  task("k7", "2", "check_in", TaskState::kCompleted, true, "t7");  // done already
  Plan plan = Run(ev);
  std::set<std::string> completed;
  for (const auto* c : plan.All<TaskCompletionWrite>()) completed.insert(c->task_id);
  EXPECT_EQ(completed, (std::set<std::string>{"t2", "t5"}));
}

TEST_F(DiffTest, ResultsOfCompaniesGoneFromTheCrmAreDroppedButNotThoseThatFailedToEvaluate) {
  Evaluation ev = Evaluate({{{"id", "1"}, {"margin", 50}}});
  ev.live_accounts.insert("4");
  ev.failed_accounts.insert("4");
  prior_.results["1"] = {"key", 10};
  prior_.results["4"] = {"standard", 2};
  prior_.results["5"] = {"standard", 2};
  EXPECT_EQ(Run(ev).dropped_results, std::vector<std::string>{"5"});
}

// ---- the record card (writeback "card") and the per-owner task budget ----

TEST_F(DiffTest, TheCardIsWrittenWithTheFieldsAndNotAgainWhenOnlyItsScoredAtWouldChange) {
  Evaluation ev = Evaluate({{{"id", "1"}, {"margin", 50}}, {{"id", "2"}, {"margin", 5}}});
  Plan first = Run(ev);
  auto updates = first.All<FieldUpdateWrite>();
  ASSERT_EQ(updates.size(), 2u);
  for (const auto* u : updates) {
    ASSERT_TRUE(u->properties.count("kam_card_json")) << u->account_id;
    nlohmann::json card = nlohmann::json::parse(u->properties.at("kam_card_json"));
    EXPECT_EQ(card["schema"], "kam.card.v1");
    EXPECT_EQ(card["account_id"], u->account_id);
    EXPECT_EQ(nlohmann::json(card["score"]).dump(), u->properties.at("kam_score"));
    EXPECT_EQ(card["tier"]["id"], u->properties.at("kam_tier"));
    EXPECT_EQ(card["scored_at"], u->properties.at("kam_scored_at"));
    // The add-in's open tasks after this run: account 1 (key, no sponsor) gets one, 2 one.
    EXPECT_EQ(card["open_tasks"], 1) << u->account_id;
    EXPECT_FALSE(card["breakdown"][0]["inputs"].empty()) << "the inputs the criterion read";
  }
  Apply(first, ev);
  options_.now_ms += 3'600'000;  // an hour later: only scored_at would differ
  Plan second = Run(ev);
  EXPECT_TRUE(second.writes.empty());
  EXPECT_TRUE(second.adopted.empty());
  // A change the card shows (one task completed) rewrites the card alone, with scored_at.
  prior_.tasks.begin()->second.state = TaskState::kCompleted;
  Plan third = Run(ev);
  auto changed = third.All<FieldUpdateWrite>();
  ASSERT_EQ(changed.size(), 1u);
  EXPECT_EQ(changed[0]->properties.size(), 2u);
  EXPECT_EQ(nlohmann::json::parse(changed[0]->properties.at("kam_card_json"))["open_tasks"], 0);
  EXPECT_TRUE(changed[0]->properties.count("kam_scored_at"));
}

TEST_F(DiffTest, SalesforceGetsTheCardAsRichTextComparedWithoutItsScoredAt) {
  options_.crm = "salesforce";
  options_.writeback = rules_->Writeback("salesforce");
  Evaluation ev = Evaluate({{{"id", "1"}, {"margin", 50}}});
  Plan first = Run(ev);
  auto updates = first.All<FieldUpdateWrite>();
  ASSERT_EQ(updates.size(), 1u);
  const std::string& html = updates[0]->properties.at("KAM_Explanation__c");
  EXPECT_EQ(html.rfind("<p><strong>Key</strong>", 0), 0u) << html;
  EXPECT_NE(html.find("1 open KAM task<br>Scored "), std::string::npos) << html;
  Apply(first, ev);
  options_.now_ms += 3'600'000;
  EXPECT_TRUE(Run(ev).writes.empty());
}

// kRules with a budget of two open tasks per owner.
std::string BudgetRules() {
  std::string text = kRules;
  const std::string from = R"("tasks": [)";
  text.replace(text.find(from), from.size(), R"("tasks": {"max_open_per_owner": 2, "rules": [)");
  text.insert(text.rfind('}'), "}");
  return text;
}

class DiffBudgetTest : public DiffTest {
 protected:
  void SetUp() override {
    DiffTest::SetUp();
    auto loaded = rules::RuleSet::LoadText(BudgetRules(), "diff-budget-test.json");
    ASSERT_TRUE(loaded.ok()) << (loaded.errors.empty() ? "" : loaded.errors[0].ToString());
    rules_ = loaded.rules;
    options_.writeback = rules_->Writeback("hubspot");
  }

  std::set<std::string> Created(const Plan& plan) {
    std::set<std::string> out;
    for (const auto* c : plan.All<TaskCreateWrite>())
      out.insert(c->spec.account_id + ":" + c->rule_id);
    return out;
  }
};

TEST_F(DiffBudgetTest, EachOwnerGetsTheBestSuggestionsUpToTheBudgetAndTheRestWaitWithAReason) {
  // Owner o1: a key account without sponsor (high) and three low check-ins; o2: one check-in.
  Evaluation ev = Evaluate({{{"id", "1"}, {"margin", 50}},
                            {{"id", "2"}, {"margin", 5}},
                            {{"id", "3"}, {"margin", 5}},
                            {{"id", "4"}, {"margin", 5}},
                            {{"id", "5"}, {"margin", 5}, {"owner_id", "o2"}}});
  Plan plan = Run(ev);
  ASSERT_EQ(plan.task_budget, 2);
  EXPECT_EQ(Created(plan), (std::set<std::string>{"1:no_sponsor", "2:check_in", "5:check_in"}));
  ASSERT_EQ(plan.budget_dropped.size(), 2u);
  EXPECT_EQ(plan.budget_dropped[0].account_id, "3");
  EXPECT_EQ(plan.budget_dropped[1].account_id, "4");
  EXPECT_EQ(plan.budget_dropped[0].owner_id, "o1");
  EXPECT_EQ(plan.budget_dropped[0].priority, "low");
  EXPECT_NE(plan.budget_dropped[0].reason.find("tasks.max_open_per_owner"), std::string::npos)
      << plan.budget_dropped[0].reason;
  ASSERT_EQ(plan.budget_owners.size(), 2u);
  EXPECT_EQ(plan.budget_owners[0].owner_id, "o1");
  EXPECT_EQ(plan.budget_owners[0].suggested, 4);
  EXPECT_EQ(plan.budget_owners[0].kept, 2);
  EXPECT_EQ(plan.budget_owners[0].dropped, 2);
  // The dropped ones are not remembered: once created, the two open tasks fill o1's budget.
  Apply(plan, ev);
  prior_.last_write_ms = options_.now_ms;  // as the push records it (no restored backup)
  Plan next = Run(ev);
  EXPECT_TRUE(Created(next).empty());
  EXPECT_EQ(next.budget_dropped.size(), 2u);
  ASSERT_FALSE(next.budget_owners.empty());
  EXPECT_EQ(next.budget_owners[0].open, 2);
}

TEST_F(DiffBudgetTest, OpenTasksCountLessThisRunsCompletionsAndTasksInDoubtAreAlwaysKept) {
  Evaluation ev = Evaluate({{{"id", "2"}, {"margin", 5}},
                            {{"id", "3"}, {"margin", 5}},
                            {{"id", "4"}, {"margin", 5}},
                            {{"id", "6"}, {"margin", 20}}});
  // o1 has two open add-in tasks; the one on account 6 is completed this run (condition cleared).
  prior_.tasks["k1"] = KnownTask{"k1", "9", "check_in", "t1", TaskState::kOpen, false};
  prior_.tasks["k2"] = KnownTask{"k2", "6", "no_sponsor", "t2", TaskState::kOpen, true};
  prior_.task_owners = {{"k1", "o1"}, {"k2", "o1"}};
  ev.live_accounts.insert("9");
  // The check-in on account 4 failed to be written last run: in doubt, kept whatever the budget.
  const std::string failed = TaskKey(kPortal, "4", "check_in", 30, options_.now_ms);
  prior_.tasks[failed] = KnownTask{failed, "4", "check_in", "", TaskState::kFailed, false};
  prior_.task_owners[failed] = "o1";
  Plan plan = Run(ev);
  ASSERT_EQ(plan.Count(WriteKind::kTaskCompletion), 1u);
  // Open: k1, plus the task in doubt = 2 = the budget: no room for 2 and 3.
  EXPECT_EQ(Created(plan), (std::set<std::string>{"4:check_in"}));
  EXPECT_EQ(plan.budget_dropped.size(), 2u);
  ASSERT_EQ(plan.budget_owners.size(), 1u);
  EXPECT_EQ(plan.budget_owners[0].open, 2);
}

TEST_F(DiffTest, WithoutABudgetEverySuggestionIsCreated) {
  Evaluation ev = Evaluate(
      {{{"id", "2"}, {"margin", 5}}, {{"id", "3"}, {"margin", 5}}, {{"id", "4"}, {"margin", 5}}});
  Plan plan = Run(ev);
  EXPECT_FALSE(plan.task_budget.has_value());
  EXPECT_EQ(plan.Count(WriteKind::kTaskCreate), 3u);
  EXPECT_TRUE(plan.budget_dropped.empty());
}

TEST(OutboxPayload, EveryKindReadsBackAsWritten) {
  TaskSpec spec;
  spec.key = "kam-0123456789abcdef";
  spec.account_id = "42";
  spec.owner_id = "o7";
  spec.subject = "Meet \"Acme\"";
  spec.body = "b";
  spec.priority = TaskPriority::kHigh;
  spec.due_ms = 1234;
  std::vector<OutboxWrite> writes = {
      FieldUpdateWrite{"42", "", {{"kam_score", "8"}}, {{"kam_score", "7"}}},
      TaskCreateWrite{spec, "rule", "", true, true},
      TaskCompletionWrite{"kam-1", "99", "42", "", "the rule's condition no longer holds"}};
  for (const auto& w : writes) {
    auto back = ParseOutboxEntry(WriteKindName(KindOf(w)), AccountOf(w), OutboxPayload(w));
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(OutboxPayload(*back), OutboxPayload(w));
    EXPECT_EQ(KindOf(*back), KindOf(w));
  }
  EXPECT_FALSE(ParseOutboxEntry("update", "42", "{not json").ok());
  EXPECT_FALSE(ParseOutboxEntry("frobnicate", "42", "{}").ok());
  for (TaskState s :
       {TaskState::kPlanned, TaskState::kOpen, TaskState::kCompleted, TaskState::kFailed}) {
    EXPECT_EQ(TaskStateFrom(TaskStateName(s)), s);
  }
}

}  // namespace
}  // namespace kam::engine
