// The card view model `kam.card.v1`: what the CRM record card shows for one account (score, tier,
// breakdown, the levers to the next tier, health, goals, open tasks), as compact JSON that fits a
// CRM text property. Schema: packaging/schema/kam-card.schema.json. Built from an evaluated
// AccountResult (after the portfolio pass, so the tier is the one the KAM sees).
#ifndef KAM_RULES_CARD_H_
#define KAM_RULES_CARD_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "kam/rules/rules.h"

namespace kam::rules {

inline constexpr std::string_view kCardVersion = "kam.card.v1";
// HubSpot text properties hold at most 65,536 characters; the card stays below.
inline constexpr size_t kCardMaxBytes = 65535;

struct CardOptions {
  std::string scored_at;              // ISO 8601 UTC, e.g. "2026-12-03T19:00:00Z"
  std::optional<int64_t> open_tasks;  // the account's open KAM tasks; unset: null (unknown)
  size_t max_bytes = kCardMaxBytes;   // the JSON is at most this many bytes (>= 4096)
  // The account's goal attainment at the previous run (goal id -> "met" / "not_met" /
  // "unknown"; empty: no goals then). Unset: not known (a first run, or a state file from before
  // goal history): the card's "goals_trend" is then null.
  std::optional<std::map<std::string, std::string>> previous_goals = std::nullopt;
};

// Compact JSON of kam.card.v1 for `result`. When the card would be longer than max_bytes, parts
// are cut in a fixed order (long texts to 200 bytes, then the breakdown's inputs, then goals,
// health, levers and breakdown rows from the end, at last every text to 32 bytes) and listed in
// "truncated"; the same input
// always gives the same card. Bytes, not characters: a byte budget is never over a character one.
std::string BuildCard(const RuleSet& rules, const AccountResult& result,
                      const CardOptions& options);

// Salesforce's Rich Text Area fields hold at most 131,072 characters.
inline constexpr size_t kCardHtmlMaxChars = 131072;

// The card as restricted HTML for a Salesforce rich-text field (KAM_Explanation__c), rendered from
// kam.card.v1 JSON (BuildCard's output): only <p>, <strong>, <ul>, <li> and <br>, every text
// escaped (& < > " '). The length is counted after escaping, in characters (UTF-8 code points);
// when it would exceed max_chars, list items are dropped from the end (breakdown, health, goals,
// levers, in that order) and the last paragraph says so. Invalid card JSON gives "".
std::string RenderCardHtml(std::string_view card_json, size_t max_chars = kCardHtmlMaxChars);

// Whether two card values say the same apart from what changes without the account changing:
// two kam.card.v1 JSON texts equal without "scored_at" (every run), "rank" and "pareto" (they move
// when other accounts' scores or revenue move) and "goals_trend" (it compares with the run before,
// so it goes back to "same" one run after a change); two RenderCardHtml texts equal without the
// part of their last paragraph that holds the scored-at time and the goal trend. Anything else
// compares as text. The sync writes a card only when it differs in this sense, so an unchanged
// account writes nothing on a re-sync and a change to one account rewrites only that account's
// card; a card's rank, pareto flag and goal trend are as of its last write (a change of goal
// attainment changes "goals" too, so it always rewrites the card).
bool SameCard(std::string_view a, std::string_view b);

}  // namespace kam::rules

#endif  // KAM_RULES_CARD_H_
