// The portfolio pass over compact per-account records (id, owner, score, revenue, tier): rank,
// Pareto flags and tier capacities. Compact so that a streaming run over 1,000,000 accounts
// stays within a few tens of MiB; used by RunPortfolio and EvalFile.
#ifndef KAM_RULES_SRC_PORTFOLIO_H_
#define KAM_RULES_SRC_PORTFOLIO_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "internal.h"

namespace kam::rules::internal {

class PortfolioBook {
 public:
  void Reserve(size_t n) {
    recs_.reserve(n);
    ids_.reserve(n * 12);
  }
  void Add(std::string_view id, std::string_view owner, double score, double revenue, int tier);
  // Ranks, flags Pareto accounts and applies capacities. Lists at most max_capped_listed capped
  // accounts in the summary (all are counted).
  PortfolioSummary Run(const RuleSet::Impl& rs, size_t max_capped_listed);

  size_t size() const { return recs_.size(); }
  int64_t rank(size_t i) const { return recs_[i].rank; }
  bool pareto(size_t i) const { return recs_[i].pareto; }
  int final_tier(size_t i) const { return recs_[i].final_tier; }
  std::string CappedReason(const RuleSet::Impl& rs, size_t i) const;

 private:
  struct Rec {
    uint32_t id_off = 0;
    uint32_t id_len = 0;
    uint32_t owner = 0;
    int32_t rank = 0;
    double score = 0;
    double revenue = 0;
    uint8_t tier = 0;
    uint8_t final_tier = 0;
    bool pareto = false;
    uint8_t cap_owner_bits = 0;  // bit t: capped by tier t's per-owner capacity
    uint8_t cap_total_bits = 0;  // bit t: capped by tier t's total capacity
  };
  std::string_view Id(const Rec& r) const { return std::string_view(ids_).substr(r.id_off, r.id_len); }

  std::string ids_;
  std::vector<std::string> owners_;
  std::unordered_map<std::string, uint32_t> owner_index_;
  std::vector<Rec> recs_;
};

}  // namespace kam::rules::internal

#endif  // KAM_RULES_SRC_PORTFOLIO_H_
