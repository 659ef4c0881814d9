// Streaming evaluation of an NDJSON accounts file with the portfolio pass. Pass 1 evaluates every
// account and keeps only a compact record (PortfolioBook); when per-account output is asked for,
// pass 2 reads the file again and writes each full result with its portfolio fields.
#include <algorithm>
#include <fstream>
#include <map>
#include <ostream>
#include <sstream>

#include "internal.h"
#include "portfolio.h"

namespace kam::rules {

using nlohmann::json;

namespace {

// Reads the NDJSON file line by line; calls fn(account, where) for every non-blank line.
template <class Fn>
Status ForEachAccount(const RuleSet::Impl& rs, const std::string& path, Fn fn) {
  std::ifstream in(path);
  if (!in) return Status::Error("cannot open the accounts file " + path, path);
  std::string line;
  Account account;
  uint64_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    std::string where = path + ":" + std::to_string(line_no);
    auto parsed = jl::ParseJson(line, 64);
    if (!parsed) {
      return Status::Error("line " + std::to_string(line_no) +
                               " is not valid JSON: " + parsed.error().message,
                           where);
    }
    if (Status st = rs.AccountFromJson(*parsed, &account); !st.ok()) {
      return Status::Error("line " + std::to_string(line_no) + ": " + st.message(),
                           where + " " + st.location());
    }
    if (account.id.empty()) {
      return Status::Error("line " + std::to_string(line_no) + ": the account has no \"id\"",
                           where);
    }
    if (Status st = fn(account, where); !st.ok()) return st;
  }
  if (in.bad()) return Status::Error("reading " + path + " failed", path);
  return Status();
}

}  // namespace

Status EvalFile(const RuleSet& rules, const std::string& input_path, std::ostream* output,
                EvalSummary* summary) {
  const RuleSet::Impl& rs = RuleSetAccess::Get(rules);
  jl::Evaluator ev;
  std::vector<jl::Value> record(rs.record_size());
  internal::CoreResult core;
  internal::PortfolioBook book;
  {
    // Reserve exactly, so that growing the compact records never holds two copies at once.
    std::ifstream count(input_path, std::ios::binary);
    uint64_t lines = 0;
    char buf[1 << 16];
    while (count.read(buf, sizeof(buf)) || count.gcount() > 0) {
      lines += static_cast<uint64_t>(std::count(buf, buf + count.gcount(), '\n'));
    }
    book.Reserve(lines + 1);
  }
  uint32_t digest = 2166136261u;
  double sum = 0;
  std::string line;
  Status st = ForEachAccount(rs, input_path, [&](const Account& account, const std::string& where) {
    std::fill(record.begin(), record.end(), jl::Value::Absent());
    rs.FillRecord(account, record);
    if (Status s = rs.Core(ev, record, &core); !s.ok()) {
      return Status::Error(s.message(), where);
    }
    double revenue = 0;
    if (rs.revenue_index >= 0 && record[static_cast<size_t>(rs.revenue_index)].is_number()) {
      revenue = record[static_cast<size_t>(rs.revenue_index)].as_number();
    }
    book.Add(account.id, account.owner_id, core.score, revenue, core.tier);
    digest = internal::FoldDigestLine(rs, account.id, core.score, core.tier, core.tasks, line,
                                      digest);
    sum += core.score;
    return Status();
  });
  if (!st.ok()) return st;
  summary->accounts = static_cast<int64_t>(book.size());
  summary->sum_score = sum;
  summary->digest = internal::Hex32(digest);
  summary->portfolio = book.Run(rs, 1000);
  if (output == nullptr) return Status();

  size_t index = 0;
  AccountResult result;
  st = ForEachAccount(rs, input_path, [&](const Account& account, const std::string& where) {
    if (index >= book.size()) return Status::Error("the accounts file changed while reading", where);
    std::fill(record.begin(), record.end(), jl::Value::Absent());
    rs.FillRecord(account, record);
    if (Status s = rs.Core(ev, record, &core); !s.ok()) return Status::Error(s.message(), where);
    rs.FillResult(account, record, core, ev, &result);
    result.rank = book.rank(index);
    result.pareto = book.pareto(index);
    result.final_tier = rs.tiers[static_cast<size_t>(book.final_tier(index))].id;
    result.capped_reason = book.CappedReason(rs, index);
    if (book.final_tier(index) != core.tier) {
      // Health and tasks follow the tier after capacities (as Evaluator::ApplyFinalTier).
      record[static_cast<size_t>(rs.slot_tier)] =
          jl::Value::String(rs.tiers[static_cast<size_t>(book.final_tier(index))].id);
      if (Status s = rs.HealthAndTasks(ev, record, &core); !s.ok()) {
        return Status::Error(s.message(), where);
      }
      rs.FillHealthAndTasks(record, core, &result);
    }
    ++index;
    *output << result.ToJson().dump(-1, ' ', false, json::error_handler_t::replace) << '\n';
    if (!*output) return Status::Error("writing the per-account results failed", where);
    return Status();
  });
  return st;
}

json EvalSummary::ToJson() const {
  json p = portfolio.ToJson();
  return {{"n", accounts},
          {"sum_score", sum_score},
          {"digest", digest},
          {"tiers", p["tiers"]},
          {"tiers_by_score", p["tiers_by_score"]},
          {"capped", portfolio.capped},
          {"capped_accounts", p["capped_accounts"]},
          {"pareto", p["pareto"]}};
}

std::string EvalSummary::ToText() const {
  std::ostringstream out;
  out << portfolio.ToText();
  out << "Sum of scores " << internal::FormatNumber(sum_score) << ", digest " << digest << "\n";
  return out.str();
}

}  // namespace kam::rules
