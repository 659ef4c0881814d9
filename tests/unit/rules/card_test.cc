// The card view model kam.card.v1 (rules::BuildCard): produced cards validate against
// packaging/schema/kam-card.schema.json, carry the breakdown, the levers to the next tier, health,
// goals and open tasks, and stay below the size limit with a deterministic cut.
#include "kam/rules/card.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <string>

#include "kam/rules/rules.h"
#include "schema_subset.h"

namespace kam::rules {
namespace {

using nlohmann::json;

const std::string kSource = KAM_SOURCE_DIR;

json ReadJson(const std::string& path) {
  std::ifstream in(path);
  return json::parse(in);
}

std::vector<std::string> SchemaErrors(const json& card) {
  kam::schema_subset::SubsetValidator validator(
      ReadJson(kSource + "/packaging/schema/kam-card.schema.json"));
  std::vector<std::string> errors;
  validator.Validate(card, &errors);
  return errors;
}

std::shared_ptr<const RuleSet> Example() {
  auto loaded = RuleSet::LoadFile(kSource + "/packaging/examples/rules/key-accounts.json");
  EXPECT_TRUE(loaded.ok());
  return loaded.rules;
}

// The example's embedded test accounts, evaluated.
std::vector<AccountResult> ExampleResults(const RuleSet& rules) {
  std::vector<AccountResult> out;
  json doc = ReadJson(kSource + "/packaging/examples/rules/key-accounts.json");
  for (const auto& t : doc["tests"]) {
    Account a;
    EXPECT_TRUE(rules.AccountFromJson(t["account"], &a).ok());
    AccountResult r;
    EXPECT_TRUE(rules.Evaluate(a, &r).ok());
    out.push_back(std::move(r));
  }
  return out;
}

TEST(Card, EveryCardOfTheExampleValidatesAgainstTheSchema) {
  auto rules = Example();
  ASSERT_NE(rules, nullptr);
  int n = 0;
  for (const auto& r : ExampleResults(*rules)) {
    std::string text = BuildCard(*rules, r, {"2026-12-03T19:00:00Z", 4});
    json card = json::parse(text);
    EXPECT_EQ(SchemaErrors(card), std::vector<std::string>{}) << text;
    EXPECT_EQ(card["schema"], "kam.card.v1");
    EXPECT_EQ(card.dump(), text) << "compact JSON";
    ++n;
  }
  EXPECT_EQ(n, 4);
}

TEST(Card, AKeyAccountShowsBreakdownLeversGoalsHealthAndOpenTasks) {
  auto rules = Example();
  ASSERT_NE(rules, nullptr);
  AccountResult r = ExampleResults(*rules)[1];  // T-2: key, 630 points
  r.rank = 7;
  r.final_tier = "key";
  json card = json::parse(BuildCard(*rules, r, {"2026-12-03T19:00:00Z", 3}));
  EXPECT_EQ(card["account_id"], "T-2");
  EXPECT_EQ(card["score"], 630);
  EXPECT_EQ(card["score_max"], 1000);
  EXPECT_EQ(card["tier"], (json{{"id", "key"}, {"label", "Key account"}}));
  EXPECT_EQ(card["rank"], 7);
  EXPECT_EQ(card["rules_version"], "2026.11-1");
  EXPECT_EQ(card["scored_at"], "2026-12-03T19:00:00Z");
  EXPECT_EQ(card["open_tasks"], 3);
  ASSERT_EQ(card["breakdown"].size(), 6u);
  const json& rel = card["breakdown"][4];
  EXPECT_EQ(rel["criterion"], "relationship_depth");
  EXPECT_EQ(rel["label"], "Relationship depth");
  EXPECT_EQ(rel["weight"], 20);
  EXPECT_EQ(rel["score"], 2);
  EXPECT_EQ(rel["points"], 40);
  bool read_contacts = false;
  for (const auto& in : rel["inputs"]) {
    if (in["path"] == "account.active_contacts") read_contacts = in["value"] == 1;
  }
  EXPECT_TRUE(read_contacts) << rel.dump();
  // Strategic needs 750: 120 points. Relationship depth (weight 20, score 2) has the most room.
  EXPECT_EQ(card["next_tier"]["id"], "strategic");
  EXPECT_EQ(card["next_tier"]["points_needed"], 120);
  ASSERT_EQ(card["next_tier"]["levers"].size(), 3u);
  const json& top = card["next_tier"]["levers"][0];
  EXPECT_EQ(top["criterion"], "relationship_depth");
  EXPECT_EQ(top["to"], 8);  // 2 + ceil(120 / 20)
  EXPECT_EQ(top["points"], 120);
  EXPECT_EQ(top["lifts_alone"], true);
  ASSERT_EQ(card["goals"].size(), 4u);
  EXPECT_EQ(card["goals"][0]["status"], "not_met");
  EXPECT_EQ(card["health"][0]["status"], "red");
  EXPECT_EQ(card["truncated"], json::array());
}

TEST(Card, TheTopTierHasNoNextTierAndUnknownOpenTasksAreNull) {
  auto rules = Example();
  ASSERT_NE(rules, nullptr);
  AccountResult r = ExampleResults(*rules)[0];  // T-1: strategic
  json card = json::parse(BuildCard(*rules, r, {"2026-12-03T19:00:00Z", std::nullopt}));
  EXPECT_TRUE(card["next_tier"].is_null());
  EXPECT_TRUE(card["open_tasks"].is_null());
  EXPECT_EQ(SchemaErrors(card), std::vector<std::string>{});
}

TEST(Card, ACappedAccountShowsBothTiersAndTheReason) {
  auto rules = Example();
  ASSERT_NE(rules, nullptr);
  AccountResult r = ExampleResults(*rules)[1];
  r.final_tier = "development";
  r.capped_reason = "tier key capacity per owner (10) reached for owner 101";
  json card = json::parse(BuildCard(*rules, r, {"2026-12-03T19:00:00Z", 0}));
  EXPECT_EQ(card["tier"]["id"], "development");
  EXPECT_EQ(card["tier_by_score"]["id"], "key");
  EXPECT_EQ(card["capped_reason"], r.capped_reason);
  EXPECT_EQ(SchemaErrors(card), std::vector<std::string>{});
}

// A rule file whose cards are huge: 60 criteria with long labels that read a long text input.
std::pair<std::shared_ptr<const RuleSet>, AccountResult> HugeCard(uint32_t seed) {
  std::mt19937 rng(seed);
  json doc = {{"name", "huge"},
              {"version", "1"},
              {"mapping", {{"hubspot", {{"notes", {{"property", "notes"}, {"type", "string"}}}}}}},
              {"tiers", {{{"id", "key"}, {"min_score", 2000}}, {{"id", "rest"}, {"min_score", 0}}}},
              {"health", json::array()},
              {"goals", json::array()}};
  json criteria = json::array();
  for (int i = 0; i < 60; ++i) {
    std::string label = "Criterion " + std::to_string(i) + " ";
    label += std::string(300, static_cast<char>('a' + rng() % 26));
    label += "\u00e9\u00e9";  // multi-byte characters near the cut
    criteria.push_back({{"id", "c" + std::to_string(i)},
                        {"label", label},
                        {"weight", 1 + static_cast<int>(rng() % 5)},
                        {"score", {{"if", {{"var", "account.notes"}, 3, 2}}}}});
    doc["health"].push_back(
        {{"id", "h" + std::to_string(i)}, {"label", label}, {"red", {{"var", "account.notes"}}}});
    if (i >= 32) continue;  // at most 32 goals
    doc["goals"].push_back({{"id", "g" + std::to_string(i)},
                            {"label", label},
                            {"field", "notes"},
                            {"equals", {{"key", "x"}, {"rest", "y"}}}});
  }
  doc["criteria"] = criteria;
  auto loaded = RuleSet::LoadText(doc.dump(), "huge.json");
  EXPECT_TRUE(loaded.ok()) << (loaded.errors.empty() ? "" : loaded.errors[0].ToString());
  Account a;
  EXPECT_TRUE(
      loaded.rules->AccountFromJson({{"id", "A-1"}, {"notes", std::string(5000, 'n')}}, &a).ok());
  AccountResult r;
  EXPECT_TRUE(loaded.rules->Evaluate(a, &r).ok());
  return {loaded.rules, r};
}

TEST(Card, AnOversizedCardIsCutDeterministicallyBelowTheLimit) {
  auto [rules, r] = HugeCard(42);
  ASSERT_NE(rules, nullptr);
  std::string full = BuildCard(*rules, r, {"2026-12-03T19:00:00Z", 1, 1u << 30});
  ASSERT_GT(full.size(), 65535u) << "the test needs a card over the limit";
  std::string cut = BuildCard(*rules, r, {"2026-12-03T19:00:00Z", 1});
  EXPECT_LT(cut.size(), 65536u);
  EXPECT_EQ(cut, BuildCard(*rules, r, {"2026-12-03T19:00:00Z", 1})) << "deterministic";
  json card = json::parse(cut);  // still valid UTF-8 and JSON after the cut
  EXPECT_EQ(SchemaErrors(card), std::vector<std::string>{});
  ASSERT_FALSE(card["truncated"].empty());
  EXPECT_EQ(card["truncated"][0], "long_texts");
  EXPECT_EQ(card["breakdown"].size(), 60u) << "rows survive once texts and inputs are cut";
  for (const auto& row : card["breakdown"]) {
    EXPECT_LE(row["label"].get<std::string>().size(), 200u);
  }

  // A tight limit cuts further, in the documented order, and still gives a valid card.
  std::string tight = BuildCard(*rules, r, {"2026-12-03T19:00:00Z", 1, 6000});
  EXPECT_LE(tight.size(), 6000u);
  json small = json::parse(tight);
  EXPECT_EQ(SchemaErrors(small), std::vector<std::string>{});
  EXPECT_EQ(small["truncated"],
            (json{"long_texts", "inputs", "goals", "health", "levers", "breakdown"}))
      << tight;
  EXPECT_EQ(small["score"], card["score"]);

  // Below the floor of 4096 bytes the floor applies.
  EXPECT_LE(BuildCard(*rules, r, {"2026-12-03T19:00:00Z", 1, 10}).size(), 4096u);
}

TEST(Card, ExplainCarriesTheCardOfTheAccount) {
  auto rules = Example();
  ASSERT_NE(rules, nullptr);
  json doc = ReadJson(kSource + "/packaging/examples/rules/key-accounts.json");
  Account a;
  ASSERT_TRUE(rules->AccountFromJson(doc["tests"][1]["account"], &a).ok());
  Status st;
  json e = Explain(*rules, a, &st);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(e["card"]["schema"], "kam.card.v1");
  EXPECT_EQ(e["card"]["next_tier"]["points_needed"], 120);
  EXPECT_EQ(SchemaErrors(e["card"]), std::vector<std::string>{});
}

// Every tag in `html` is one of p, strong, ul, li, br (opening or closing).
bool OnlyAllowedTags(const std::string& html) {
  static const std::set<std::string> kAllowed = {"p",   "/p", "strong", "/strong", "ul",
                                                 "/ul", "li", "/li",    "br"};
  for (size_t at = html.find('<'); at != std::string::npos; at = html.find('<', at + 1)) {
    size_t end = html.find('>', at);
    if (end == std::string::npos || !kAllowed.count(html.substr(at + 1, end - at - 1))) {
      return false;
    }
  }
  return true;
}

TEST(CardHtml, RendersTheCardWithFewTagsAndEverythingEscaped) {
  auto rules = Example();
  ASSERT_NE(rules, nullptr);
  AccountResult r = ExampleResults(*rules)[1];
  r.final_tier = "development";
  r.capped_reason = "owner <101> & \"friends\"";
  r.goals[0].label = "<script>alert('x')</script>";
  std::string html = RenderCardHtml(BuildCard(*rules, r, {"2026-12-03T19:00:00Z", 3}));
  ASSERT_FALSE(html.empty());
  EXPECT_TRUE(OnlyAllowedTags(html)) << html;
  EXPECT_EQ(html.rfind("<p><strong>Development account</strong> · score 630 of 1000</p>", 0), 0u)
      << html;
  EXPECT_NE(html.find("<p>Scored as Key account: owner &lt;101&gt; &amp; &quot;friends&quot;</p>"),
            std::string::npos)
      << html;
  EXPECT_EQ(html.find("<script>"), std::string::npos);
  EXPECT_NE(html.find("120 points to Strategic key account"), std::string::npos) << html;
  EXPECT_NE(html.find("<li>Relationship depth: 2 → 8 (+120 points, enough on its own)</li>"),
            std::string::npos)
      << html;
  EXPECT_NE(html.find("<li>Relationship depth: 20 × 2 = 40</li>"), std::string::npos) << html;
  EXPECT_NE(html.find("3 open KAM tasks<br>Scored 2026-12-03T19:00:00Z · rules 2026.11-1</p>"),
            std::string::npos)
      << html;
  EXPECT_EQ(RenderCardHtml("not json"), "");
  EXPECT_EQ(RenderCardHtml(R"({"schema":"kam.card.v2"})"), "");
}

TEST(Card, TwoCardsAreTheSameApartFromScoredAtRankAndParetoButNothingElse) {
  auto rules = Example();
  ASSERT_NE(rules, nullptr);
  AccountResult r = ExampleResults(*rules)[1];
  const std::string a = BuildCard(*rules, r, {"2026-12-03T19:00:00.000Z", 3});
  const std::string later = BuildCard(*rules, r, {"2026-12-04T07:00:00.000Z", 3});
  ASSERT_NE(a, later);
  EXPECT_TRUE(SameCard(a, later));
  EXPECT_FALSE(SameCard(a, BuildCard(*rules, r, {"2026-12-03T19:00:00.000Z", 2})));
  AccountResult moved = r;
  moved.rank += 7;  // another account's score moved this one's rank
  moved.pareto = !moved.pareto;  // another account's revenue moved the Pareto line
  EXPECT_TRUE(SameCard(a, BuildCard(*rules, moved, {"2026-12-03T19:00:00.000Z", 3})));
  AccountResult scored = r;
  scored.score += 10;
  EXPECT_FALSE(SameCard(a, BuildCard(*rules, scored, {"2026-12-03T19:00:00.000Z", 3})));
  // The Salesforce rendering: the scored-at time in the footer is ignored, the rest is not.
  EXPECT_TRUE(SameCard(RenderCardHtml(a), RenderCardHtml(later)));
  EXPECT_FALSE(SameCard(RenderCardHtml(a),
                        RenderCardHtml(BuildCard(*rules, r, {"2026-12-03T19:00:00.000Z", 1}))));
  EXPECT_NE(RenderCardHtml(BuildCard(*rules, r, {"x", 1})).find("1 open KAM task<br>"),
            std::string::npos);
  // Anything else compares as text.
  EXPECT_TRUE(SameCard("", ""));
  EXPECT_FALSE(SameCard(a, ""));
  EXPECT_FALSE(SameCard("", a));
  EXPECT_FALSE(SameCard(a, RenderCardHtml(a)));  // a JSON card is never its HTML rendering
  EXPECT_FALSE(SameCard("{}", "{ }"));
  EXPECT_FALSE(SameCard("<br>Scored 1 \xC2\xB7 rules x", "<p>"));
}

TEST(Card, TheGoalTrendComparesWithThePreviousRunAndIsLeftOutOfTheComparison) {
  auto rules = Example();
  ASSERT_NE(rules, nullptr);
  AccountResult r = ExampleResults(*rules)[1];  // a key account, 0 of 4 goals met
  ASSERT_EQ(r.goals.size(), 4u);
  CardOptions first{"2026-12-03T19:00:00Z", 3};
  json card = json::parse(BuildCard(*rules, r, first));
  EXPECT_TRUE(card["goals_trend"].is_null());  // no run before
  EXPECT_EQ(SchemaErrors(card), std::vector<std::string>{});

  CardOptions same = first;
  same.previous_goals = std::map<std::string, std::string>{};
  for (const auto& g : r.goals) (*same.previous_goals)[g.id] = g.status;
  json unchanged = json::parse(BuildCard(*rules, r, same));
  EXPECT_EQ(
      unchanged["goals_trend"],
      (json{{"direction", "same"}, {"met", 0}, {"previous_met", 0}, {"changed", json::array()}}));

  AccountResult better = r;
  better.goals[1].status = "met";  // the sponsor was found
  json up = json::parse(BuildCard(*rules, better, same));
  EXPECT_EQ(up["goals_trend"]["direction"], "up");
  EXPECT_EQ(up["goals_trend"]["met"], 1);
  EXPECT_EQ(up["goals_trend"]["previous_met"], 0);
  EXPECT_EQ(up["goals_trend"]["changed"], (json::array({{{"id", better.goals[1].id},
                                                         {"label", better.goals[1].label},
                                                         {"from", r.goals[1].status},
                                                         {"to", "met"}}})));
  EXPECT_EQ(SchemaErrors(up), std::vector<std::string>{});

  CardOptions was_met = first;  // the run before: two goals met, one the tier no longer has
  was_met.previous_goals = std::map<std::string, std::string>{
      {r.goals[0].id, "met"}, {r.goals[2].id, "met"}, {"old_goal", "unknown"}};
  json down = json::parse(BuildCard(*rules, r, was_met));
  EXPECT_EQ(down["goals_trend"]["direction"], "down");
  EXPECT_EQ(down["goals_trend"]["previous_met"], 2);
  EXPECT_EQ(
      down["goals_trend"]["changed"].back(),
      (json{{"id", "old_goal"}, {"label", "old_goal"}, {"from", "unknown"}, {"to", nullptr}}));
  EXPECT_EQ(SchemaErrors(down), std::vector<std::string>{});

  // No goals now and none then: nothing to show.
  AccountResult none = r;
  none.goals.clear();
  CardOptions empty_before = first;
  empty_before.previous_goals = std::map<std::string, std::string>{};
  EXPECT_TRUE(json::parse(BuildCard(*rules, none, empty_before))["goals_trend"].is_null());

  // The trend goes back to "same" one run after a change: that alone rewrites no card, in JSON
  // or as Salesforce rich text (where it sits beside the scored-at time).
  const std::string written = BuildCard(*rules, better, same);
  CardOptions next = same;
  next.scored_at = "2026-12-04T19:00:00Z";
  for (const auto& g : better.goals) (*next.previous_goals)[g.id] = g.status;
  const std::string resync = BuildCard(*rules, better, next);
  ASSERT_NE(json::parse(written)["goals_trend"], json::parse(resync)["goals_trend"]);
  EXPECT_TRUE(SameCard(written, resync));
  const std::string html = RenderCardHtml(written);
  EXPECT_NE(html.find("<br>Scored 2026-12-03T19:00:00Z; goals up since the run before (0 → 1 "
                      "met) · rules 2026.11-1</p>"),
            std::string::npos)
      << html;
  EXPECT_TRUE(SameCard(html, RenderCardHtml(resync)));
  // A change of attainment is a change of the card.
  EXPECT_FALSE(SameCard(BuildCard(*rules, r, same), written));
}

TEST(CardHtml, TheLengthLimitCountsEscapedCharactersAndDropsItemsFromTheEnd) {
  auto rules = Example();
  ASSERT_NE(rules, nullptr);
  AccountResult r = ExampleResults(*rules)[1];
  for (auto& g : r.goals) g.label += " <&>";  // 3 characters that escape to 13
  std::string card = BuildCard(*rules, r, {"2026-12-03T19:00:00Z", 3});
  std::string full = RenderCardHtml(card);
  auto chars = [](const std::string& s) {
    size_t n = 0;
    for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    return n;
  };
  size_t limit = chars(full) - 40;
  std::string cut = RenderCardHtml(card, limit);
  ASSERT_FALSE(cut.empty());
  EXPECT_LE(chars(cut), limit);
  EXPECT_TRUE(OnlyAllowedTags(cut)) << cut;
  EXPECT_NE(cut.find("Shortened to fit the field"), std::string::npos);
  EXPECT_NE(cut.find("Goals: 0 of 4 met"), std::string::npos) << "goals stay, breakdown goes";
  EXPECT_LT(std::count(cut.begin(), cut.end(), '\xC3'),
            std::count(full.begin(), full.end(), '\xC3'));
  EXPECT_EQ(cut, RenderCardHtml(card, limit)) << "deterministic";
  EXPECT_EQ(RenderCardHtml(card, 10), "") << "not even the headings fit";
}

}  // namespace
}  // namespace kam::rules
