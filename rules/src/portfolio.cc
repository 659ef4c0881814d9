#include "portfolio.h"

#include <algorithm>
#include <numeric>
#include <sstream>

namespace kam::rules {

using nlohmann::json;

namespace internal {

void PortfolioBook::Add(std::string_view id, std::string_view owner, double score, double revenue,
                        int tier) {
  Rec r;
  r.id_off = static_cast<uint32_t>(ids_.size());
  r.id_len = static_cast<uint32_t>(id.size());
  ids_.append(id);
  auto it = owner_index_.find(std::string(owner));
  if (it == owner_index_.end()) {
    it = owner_index_.emplace(std::string(owner), static_cast<uint32_t>(owners_.size())).first;
    owners_.emplace_back(owner);
  }
  r.owner = it->second;
  r.score = score;
  r.revenue = revenue;
  r.tier = static_cast<uint8_t>(tier);
  r.final_tier = r.tier;
  recs_.push_back(r);
}

std::string PortfolioBook::CappedReason(const RuleSet::Impl& rs, size_t i) const {
  const Rec& r = recs_[i];
  std::string out;
  for (size_t t = 0; t < rs.tiers.size() && t < 8; ++t) {
    const TierSpec& spec = rs.tiers[t];
    if (r.cap_owner_bits >> t & 1) {
      const std::string& owner = owners_[r.owner];
      out += (out.empty() ? "" : "; ") + std::string("tier ") + spec.id +
             " capacity per owner (" + std::to_string(spec.capacity_per_owner.value_or(0)) +
             ") reached for " + (owner.empty() ? "accounts without owner" : "owner " + owner);
    }
    if (r.cap_total_bits >> t & 1) {
      out += (out.empty() ? "" : "; ") + std::string("tier ") + spec.id + " total capacity (" +
             std::to_string(spec.capacity_total.value_or(0)) + ") reached";
    }
  }
  return out;
}

PortfolioSummary PortfolioBook::Run(const RuleSet::Impl& rs, size_t max_capped_listed) {
  PortfolioSummary s;
  size_t n = recs_.size();
  s.accounts = static_cast<int64_t>(n);
  s.revenue_field = rs.revenue_field;
  s.revenue_share = rs.pareto_share;
  std::vector<uint32_t> order(n);

  // Pareto: highest revenue first (ties by id); an account is in while the revenue before it is
  // below the configured share of the total.
  std::iota(order.begin(), order.end(), 0u);
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
    const Rec& x = recs_[a];
    const Rec& y = recs_[b];
    if (x.revenue != y.revenue) return x.revenue > y.revenue;
    return Id(x) < Id(y);
  });
  double total = 0;
  for (const Rec& r : recs_) total += r.revenue;
  s.total_revenue = total;
  double target = rs.pareto_share * total;
  double cumulative = 0;
  for (uint32_t i : order) {
    Rec& r = recs_[i];
    r.pareto = total > 0 && cumulative < target;
    if (r.pareto) ++s.pareto_accounts;
    cumulative += r.revenue;
  }
  s.pareto_account_share =
      n == 0 ? 0 : static_cast<double>(s.pareto_accounts) / static_cast<double>(n);

  // Rank: highest score first, ties by id.
  std::iota(order.begin(), order.end(), 0u);
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
    const Rec& x = recs_[a];
    const Rec& y = recs_[b];
    if (x.score != y.score) return x.score > y.score;
    return Id(x) < Id(y);
  });
  for (size_t k = 0; k < n; ++k) recs_[order[k]].rank = static_cast<int32_t>(k + 1);

  // Capacities, from the top tier down; accounts over capacity move to the next tier, where they
  // compete in score order with the accounts already there.
  size_t tiers = rs.tiers.size();
  std::vector<int64_t> per_owner(owners_.size());
  for (size_t t = 0; t + 1 < tiers; ++t) {
    const TierSpec& spec = rs.tiers[t];
    if (!spec.capacity_per_owner && !spec.capacity_total) continue;
    std::fill(per_owner.begin(), per_owner.end(), 0);
    int64_t total_count = 0;
    for (uint32_t i : order) {
      Rec& r = recs_[i];
      if (r.final_tier != t) continue;
      if (spec.capacity_per_owner && per_owner[r.owner] >= *spec.capacity_per_owner) {
        r.final_tier = static_cast<uint8_t>(t + 1);
        r.cap_owner_bits |= static_cast<uint8_t>(1u << t);
        continue;
      }
      if (spec.capacity_total && total_count >= *spec.capacity_total) {
        r.final_tier = static_cast<uint8_t>(t + 1);
        r.cap_total_bits |= static_cast<uint8_t>(1u << t);
        continue;
      }
      ++per_owner[r.owner];
      ++total_count;
    }
  }

  std::vector<int64_t> by_score(tiers), final_counts(tiers);
  for (const Rec& r : recs_) {
    ++by_score[r.tier];
    ++final_counts[r.final_tier];
  }
  for (size_t t = 0; t < tiers; ++t) {
    s.tiers_by_score.emplace_back(rs.tiers[t].id, by_score[t]);
    s.tiers.emplace_back(rs.tiers[t].id, final_counts[t]);
  }
  // Capped accounts in tier order of where they came from, then score order.
  for (size_t t = 0; t < tiers; ++t) {
    for (uint32_t i : order) {
      const Rec& r = recs_[i];
      if (r.tier != t || r.final_tier == r.tier) continue;
      ++s.capped;
      if (s.capped_accounts.size() < max_capped_listed) {
        s.capped_accounts.push_back({std::string(Id(r)), owners_[r.owner], rs.tiers[t].id,
                                     rs.tiers[r.final_tier].id, CappedReason(rs, i)});
      }
    }
  }
  return s;
}

}  // namespace internal

PortfolioSummary RunPortfolio(const RuleSet& rules, std::vector<AccountResult>& results) {
  const RuleSet::Impl& rs = RuleSetAccess::Get(rules);
  internal::PortfolioBook book;
  book.Reserve(results.size());
  for (const auto& r : results) {
    int tier = rs.TierIndex(r.tier);
    book.Add(r.account_id, r.owner_id, r.score, r.revenue, tier < 0 ? 0 : tier);
  }
  PortfolioSummary summary = book.Run(rs, results.size());
  for (size_t i = 0; i < results.size(); ++i) {
    AccountResult& r = results[i];
    r.rank = book.rank(i);
    r.pareto = book.pareto(i);
    r.final_tier = rs.tiers[static_cast<size_t>(book.final_tier(i))].id;
    r.capped_reason = book.CappedReason(rs, i);
  }
  return summary;
}

json PortfolioSummary::ToJson() const {
  json by_score = json::object(), final_tiers = json::object();
  for (const auto& [id, n] : tiers_by_score) by_score[id] = n;
  for (const auto& [id, n] : tiers) final_tiers[id] = n;
  json capped_list = json::array();
  for (const auto& c : capped_accounts) {
    capped_list.push_back({{"id", c.account_id},
                           {"owner_id", c.owner_id},
                           {"from", c.from_tier},
                           {"to", c.to_tier},
                           {"reason", c.reason}});
  }
  return {{"accounts", accounts},
          {"tiers_by_score", by_score},
          {"tiers", final_tiers},
          {"capped", capped},
          {"capped_accounts", capped_list},
          {"pareto",
           {{"revenue_field", revenue_field},
            {"revenue_share", revenue_share},
            {"total_revenue", total_revenue},
            {"accounts", pareto_accounts},
            {"account_share", pareto_account_share}}}};
}

std::string PortfolioSummary::ToText() const {
  std::ostringstream out;
  out << "Accounts: " << accounts << "\n";
  out << "Tiers (by score -> after capacities):\n";
  for (size_t t = 0; t < tiers.size(); ++t) {
    out << "  " << tiers[t].first << ": " << tiers_by_score[t].second << " -> " << tiers[t].second
        << "\n";
  }
  out << "Capped by capacity: " << capped << "\n";
  size_t shown = 0;
  for (const auto& c : capped_accounts) {
    if (++shown > 10) {
      out << "  ... (" << (capped - 10) << " more)\n";
      break;
    }
    out << "  " << c.account_id << ": " << c.from_tier << " -> " << c.to_tier << " (" << c.reason
        << ")\n";
  }
  char share[64];
  std::snprintf(share, sizeof(share), "%.1f%%", pareto_account_share * 100);
  out << "Pareto: " << pareto_accounts << " accounts (" << share << " of all) make up "
      << static_cast<int>(revenue_share * 100 + 0.5) << "% of " << revenue_field << "\n";
  return out.str();
}

}  // namespace kam::rules
