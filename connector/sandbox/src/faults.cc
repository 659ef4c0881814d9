// Seeded fault injection of the sandbox (see faults.h).
#include "faults.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "internal.h"

namespace kam::sandbox {

std::string ParseFaults(const std::string& spec, std::vector<FaultRule>* out) {
  std::vector<FaultRule> rules;
  for (const auto& item : SplitTrim(spec, ',')) {
    FaultRule r;
    std::string rest = item;
    const size_t at = rest.find('@');
    if (at != std::string::npos) {
      r.prefix = rest.substr(at + 1);
      rest = rest.substr(0, at);
    }
    const size_t eq = rest.find('=');
    if (eq == std::string::npos) return "fault '" + item + "' needs KIND=PROBABILITY";
    r.kind = rest.substr(0, eq);
    std::string prob = rest.substr(eq + 1);
    const size_t colon = prob.find(':');
    if (colon != std::string::npos) {
      double a;
      if (!ParseDouble(prob.substr(colon + 1), &a) || a < 0) {
        return "fault '" + item + "': bad argument after ':'";
      }
      r.arg = static_cast<int>(a);
      prob = prob.substr(0, colon);
    }
    static const std::set<std::string> kKinds = {"429",  "500",  "502",       "503",     "504",
                                                 "drop", "slow", "malformed", "partial", "expired"};
    if (!kKinds.count(r.kind)) {
      return "unknown fault kind '" + r.kind +
             "' (known: 429, 500, 502, 503, 504, drop, slow, malformed, partial, expired)";
    }
    if (!prob.empty() && prob[0] == '#') {
      double nth;
      if (!ParseDouble(prob.substr(1), &nth) || nth < 1 || std::floor(nth) != nth) {
        return "fault '" + item + "': '#' must be followed by a whole number >= 1";
      }
      r.nth = static_cast<uint64_t>(nth);
    } else if (!ParseDouble(prob, &r.p) || r.p < 0 || r.p > 1) {
      return "fault '" + item + "': probability must be a number in [0, 1] or #N";
    }
    if (r.kind == "slow" && r.arg == 0) r.arg = 2000;
    rules.push_back(r);
  }
  double total = 0;
  for (const auto& r : rules) total += r.p;
  if (total > 1.0 + 1e-9) return "fault probabilities add up to more than 1";
  *out = std::move(rules);
  return {};
}

std::string FaultInjector::Set(const std::string& spec) {
  std::vector<FaultRule> rules;
  std::string err = ParseFaults(spec, &rules);
  if (!err.empty()) return err;
  rules_ = std::move(rules);
  matched_.assign(rules_.size(), 0);
  spec_ = spec;
  return {};
}

Faults FaultInjector::Draw(const std::string& path, bool batch, uint64_t* injected) {
  Faults f;
  f.seq = seq_++;
  if (rules_.empty()) return f;
  auto apply = [&](const FaultRule& r) {
    ++*injected;
    if (r.kind == "drop") {
      f.drop = true;
    } else if (r.kind == "malformed") {
      f.malformed = true;
    } else if (r.kind == "partial") {
      f.partial = true;
    } else if (r.kind == "slow") {
      f.slow_ms = r.arg;
    } else {
      f.early = &r;
    }
  };
  auto matches = [&](const FaultRule& r) {
    if (!r.prefix.empty() && path.rfind(r.prefix, 0) != 0) return false;
    return r.kind != "partial" || batch;
  };
  const FaultRule* counted = nullptr;  // a "#N" rule whose N-th request this is
  for (size_t i = 0; i < rules_.size(); ++i) {
    if (rules_[i].nth == 0 || !matches(rules_[i])) continue;
    if (++matched_[i] == rules_[i].nth && !counted) counted = &rules_[i];
  }
  if (counted) {
    apply(*counted);
    return f;
  }
  const double u = Unit(Mix(seed_ ^ 0xFA17, f.seq));
  double acc = 0;
  for (const auto& r : rules_) {
    if (r.nth > 0 || !matches(r)) continue;
    acc += r.p;
    if (u >= acc) continue;
    apply(r);
    break;
  }
  return f;
}

std::vector<bool> FaultInjector::PartialMask(const Faults& f, size_t n) const {
  std::vector<bool> mask(n, false);
  if (!f.partial || n == 0) return mask;
  bool any = false;
  for (size_t i = 0; i < n; ++i) {
    mask[i] = Unit(Mix(seed_ ^ f.seq, i)) < 0.5;
    any = any || mask[i];
  }
  if (!any) mask[0] = true;
  return mask;
}

int FaultInjector::LatencyMs(const Faults& f, int min_ms, int max_ms) const {
  if (max_ms <= 0) return 0;
  const int span = std::max(0, max_ms - min_ms);
  return min_ms + static_cast<int>(Unit(Mix(seed_ ^ 0x1A7E, f.seq)) * (span + 1));
}

}  // namespace kam::sandbox
