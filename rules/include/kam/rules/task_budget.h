// The per-owner task budget (`tasks.max_open_per_owner` in a rule file): which new task
// suggestions a KAM gets when there are more than the budget allows. A pure function over plain
// data, shared by `kam rules eval`, the dry run and the sync's evaluate/diff phase.
#ifndef KAM_RULES_TASK_BUDGET_H_
#define KAM_RULES_TASK_BUDGET_H_

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace kam::rules {

// One new task suggestion (a task the CRM does not have open yet).
struct BudgetCandidate {
  std::string account_id;
  std::string owner_id;  // "" = no owner; all such accounts share one budget
  std::string rule_id;
  std::string priority;  // high | medium | low (anything else ranks below low)
  double account_score = 0;
};

struct TaskBudgetOwner {
  std::string owner_id;
  int64_t open = 0;       // tasks already open (the input)
  int64_t suggested = 0;  // new suggestions
  int64_t kept = 0;
  int64_t dropped = 0;
};

struct TaskBudgetResult {
  std::vector<size_t> kept;  // indices into the candidates, ascending
  struct Dropped {
    size_t index = 0;    // into the candidates
    std::string reason;  // for people: the budget, the owner's open count, the rank
  };
  std::vector<Dropped> dropped;         // ascending by index
  std::vector<TaskBudgetOwner> owners;  // by owner id (byte order)
};

// Keeps, per owner, the best max(0, budget - open) new suggestions and drops the others with a
// reason. Best first: priority (high, medium, low), then the account's score (highest first),
// then account id, then rule id (byte order), so the outcome does not depend on the input order.
// `open_per_owner` holds the tasks already open per owner id ("" for accounts without owner);
// owners not in it have none. Without a budget (nullopt) every suggestion is kept.
TaskBudgetResult ApplyTaskBudget(std::span<const BudgetCandidate> candidates,
                                 const std::map<std::string, int64_t>& open_per_owner,
                                 std::optional<int64_t> max_open_per_owner);

}  // namespace kam::rules

#endif  // KAM_RULES_TASK_BUDGET_H_
