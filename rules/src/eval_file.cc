// Streaming evaluation of an NDJSON accounts file with the portfolio pass, through
// EvaluatePortfolio (evaluate_portfolio.cc): pass 1 keeps only a compact record per account; when
// per-account output is asked for, pass 2 reads the file again and writes each full result with
// its portfolio fields, health and tasks following the tier after capacities.
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
  PortfolioEvalOptions options;
  {
    // Reserve exactly, so that growing the compact records never holds two copies at once.
    std::ifstream count(input_path, std::ios::binary);
    uint64_t lines = 0;
    char buf[1 << 16];
    while (count.read(buf, sizeof(buf)) || count.gcount() > 0) {
      lines += static_cast<uint64_t>(std::count(buf, buf + count.gcount(), '\n'));
    }
    options.expected_accounts = lines;
  }
  AccountSource source = [&](const AccountVisitor& visit) {
    return ForEachAccount(rs, input_path, [&](const Account& account, const std::string& where) {
      return visit(account, where);
    });
  };
  ResultSink sink;
  if (output != nullptr) {
    sink = [&](AccountResult&& result, std::string_view where) {
      *output << result.ToJson().dump(-1, ' ', false, json::error_handler_t::replace) << '\n';
      if (!*output) {
        return Status::Error("writing the per-account results failed", std::string(where));
      }
      return Status();
    };
  }
  return EvaluatePortfolio(rules, source, sink, options, summary);
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
