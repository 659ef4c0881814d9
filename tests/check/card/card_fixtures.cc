// Writes kam.card.v1 fixtures for the card app's view test (packaging/hubspot-app): the example
// rule file's test accounts, evaluated, through the portfolio pass and rules::BuildCard, plus a
// capped and an oversized (truncated) card. Usage: kam_card_fixtures OUT_DIR
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "kam/rules/card.h"
#include "kam/rules/rules.h"

namespace {

bool Write(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  return static_cast<bool>(out);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: kam_card_fixtures OUT_DIR\n";
    return 2;
  }
  const std::filesystem::path out = argv[1];
  std::filesystem::create_directories(out);
  const std::string file =
      std::string(KAM_SOURCE_DIR) + "/packaging/examples/rules/key-accounts.json";
  auto loaded = kam::rules::RuleSet::LoadFile(file);
  if (!loaded.ok()) {
    std::cerr << file << ": does not load\n";
    return 1;
  }
  const auto& rules = *loaded.rules;
  std::ifstream in(file);
  nlohmann::json doc = nlohmann::json::parse(in);
  std::vector<kam::rules::Account> accounts;
  std::vector<kam::rules::AccountResult> results;
  for (const auto& t : doc["tests"]) {
    kam::rules::Account a;
    kam::rules::AccountResult r;
    if (!rules.AccountFromJson(t["account"], &a).ok() || !rules.Evaluate(a, &r).ok()) {
      std::cerr << "test account " << t["name"] << " does not evaluate\n";
      return 1;
    }
    accounts.push_back(std::move(a));
    results.push_back(std::move(r));
  }
  kam::rules::RunPortfolio(rules, results);
  kam::rules::Evaluator evaluator(loaded.rules);
  const std::string scored_at = "2026-12-03T19:00:00Z";
  for (size_t i = 0; i < results.size(); ++i) {
    if (!evaluator.ApplyFinalTier(accounts[i], &results[i]).ok()) return 1;
    kam::rules::CardOptions options{scored_at, static_cast<int64_t>(results[i].tasks.size())};
    if (!Write(out / (results[i].account_id + ".json"),
               kam::rules::BuildCard(rules, results[i], options))) {
      return 1;
    }
  }
  // T-2 held at "development" by a capacity.
  kam::rules::AccountResult capped = results[1];
  capped.final_tier = "development";
  capped.capped_reason = "tier key capacity per owner (10) reached for owner 101";
  if (!evaluator.ApplyFinalTier(accounts[1], &capped).ok()) return 1;
  Write(out / "capped.json", kam::rules::BuildCard(rules, capped, {scored_at, 0}));
  // T-2 (no goal met) against a run before where its sponsor goal was met and a goal of another
  // tier applied: the goal trend is down.
  {
    kam::rules::CardOptions options{scored_at, 1};
    options.previous_goals = std::map<std::string, std::string>{};
    for (const auto& g : results[1].goals) (*options.previous_goals)[g.id] = g.status;
    (*options.previous_goals)["exec_sponsor"] = "met";
    (*options.previous_goals)["retired_goal"] = "not_met";
    Write(out / "trend.json", kam::rules::BuildCard(rules, results[1], options));
  }
  // An oversized card: 400 goals with long labels, cut to the limit.
  kam::rules::AccountResult huge = results[1];
  for (int i = 0; i < 400; ++i) {
    kam::rules::GoalResult g = huge.goals[static_cast<size_t>(i % 4)];
    g.id += std::to_string(i);
    g.label += " " + std::string(300, 'x');
    huge.goals.push_back(g);
  }
  Write(out / "truncated.json", kam::rules::BuildCard(rules, huge, {scored_at, 2}));
  std::cout << "wrote " << results.size() + 3 << " cards to " << out.string() << "\n";
  return 0;
}
