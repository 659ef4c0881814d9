// The per-owner task budget: rank each owner's new suggestions (priority, account score, ids) and
// keep what fits next to the tasks already open.
#include "kam/rules/task_budget.h"

#include <algorithm>
#include <tuple>

#include "internal.h"

namespace kam::rules {

namespace {

int PriorityRank(const std::string& priority) {
  if (priority == "high") return 0;
  if (priority == "medium") return 1;
  if (priority == "low") return 2;
  return 3;
}

std::string OwnerName(const std::string& owner_id) {
  return owner_id.empty() ? "accounts without owner" : "owner " + owner_id;
}

std::string Ordinal(size_t n) {
  std::string suffix = "th";
  if (n % 100 < 11 || n % 100 > 13) {
    if (n % 10 == 1) suffix = "st";
    if (n % 10 == 2) suffix = "nd";
    if (n % 10 == 3) suffix = "rd";
  }
  return std::to_string(n) + suffix;
}

}  // namespace

TaskBudgetResult ApplyTaskBudget(std::span<const BudgetCandidate> candidates,
                                 const std::map<std::string, int64_t>& open_per_owner,
                                 std::optional<int64_t> max_open_per_owner) {
  TaskBudgetResult result;
  std::map<std::string, std::vector<size_t>> by_owner;
  for (size_t i = 0; i < candidates.size(); ++i) by_owner[candidates[i].owner_id].push_back(i);
  std::vector<bool> keep(candidates.size(), true);
  std::vector<std::string> reasons(candidates.size());
  for (auto& [owner, indices] : by_owner) {
    TaskBudgetOwner o;
    o.owner_id = owner;
    auto open = open_per_owner.find(owner);
    o.open = open == open_per_owner.end() ? 0 : std::max<int64_t>(0, open->second);
    o.suggested = static_cast<int64_t>(indices.size());
    std::sort(indices.begin(), indices.end(), [&](size_t a, size_t b) {
      const BudgetCandidate& x = candidates[a];
      const BudgetCandidate& y = candidates[b];
      return std::make_tuple(PriorityRank(x.priority), -x.account_score, std::cref(x.account_id),
                             std::cref(x.rule_id),
                             a) < std::make_tuple(PriorityRank(y.priority), -y.account_score,
                                                  std::cref(y.account_id), std::cref(y.rule_id), b);
    });
    int64_t room = static_cast<int64_t>(indices.size());
    if (max_open_per_owner) room = std::max<int64_t>(0, *max_open_per_owner - o.open);
    for (size_t rank = 0; rank < indices.size(); ++rank) {
      size_t i = indices[rank];
      if (static_cast<int64_t>(rank) < room) {
        ++o.kept;
        continue;
      }
      ++o.dropped;
      keep[i] = false;
      const BudgetCandidate& c = candidates[i];
      reasons[i] = "task budget: " + OwnerName(owner) + (owner.empty() ? " have " : " has ") +
                   std::to_string(o.open) + " open task" + (o.open == 1 ? "" : "s") +
                   " and a budget of " + std::to_string(*max_open_per_owner) +
                   " (tasks.max_open_per_owner), room for " + std::to_string(room) + " of " +
                   std::to_string(indices.size()) + " new suggestion" +
                   (indices.size() == 1 ? "" : "s") + "; this " + c.priority +
                   "-priority task on an account with score " +
                   internal::FormatNumber(c.account_score) + " ranks " + Ordinal(rank + 1);
    }
    result.owners.push_back(std::move(o));
  }
  for (size_t i = 0; i < candidates.size(); ++i) {
    if (keep[i]) {
      result.kept.push_back(i);
    } else {
      result.dropped.push_back({i, std::move(reasons[i])});
    }
  }
  return result;
}

}  // namespace kam::rules
