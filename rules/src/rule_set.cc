// RuleSet accessors, typed accounts (from JSON and from CRM records), writeback, and the
// evaluation of one account: the allocation-free core and the full result with receipt and the
// path to the next tier.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>

#include "internal.h"
#include "kam/common/iso_time.h"
#include "json_source.h"
#include "kam/rules/card.h"

namespace kam::rules {

using nlohmann::json;

namespace {
constexpr std::string_view kHealthNames[] = {"green", "amber", "red"};

std::string Quote(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  out += s;
  out += '"';
  return out;
}

jl::Value ToValue(const FieldValue& f) {
  switch (f.kind) {
    case FieldValue::Kind::kAbsent:
      return jl::Value::Absent();
    case FieldValue::Kind::kNull:
      return jl::Value::Null();
    case FieldValue::Kind::kBool:
      return jl::Value::Bool(f.boolean);
    case FieldValue::Kind::kNumber:
      return jl::Value::Number(f.number);
    case FieldValue::Kind::kString:
      return jl::Value::String(f.string);
  }
  return jl::Value::Absent();
}

std::string AccountName(std::span<const jl::Value> record, int slot_id) {
  const jl::Value& v = record[static_cast<size_t>(slot_id)];
  return v.is_string() ? std::string(v.as_string()) : std::string("(no id)");
}

Status RuleError(std::span<const jl::Value> record, int slot_id, const std::string& what,
                 const jl::Error& e) {
  return Status::Error("account " + AccountName(record, slot_id) + ": " + what + ": " + e.type +
                           (e.message.empty() ? "" : ": " + e.message),
                       what);
}

// "YYYY-MM-DD[THH:MM[:SS[.fff]]][Z|+hh[[:]mm]]" (common/iso_time.h) or an epoch number (seconds,
// or milliseconds as HubSpot sends them); unix seconds or nullopt.
std::optional<int64_t> ParseTimestamp(std::string_view s) {
  if (!s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    if (s.size() > 15) return std::nullopt;
    int64_t v = std::stoll(std::string(s));
    return v > 100000000000LL ? v / 1000 : v;  // HubSpot sends epoch milliseconds
  }
  const auto ms = common::ParseIsoMs(s);
  if (!ms) return std::nullopt;
  return common::FloorDiv(*ms, 1000);
}

std::optional<double> ParseDecimal(std::string_view s) {
  size_t b = s.find_first_not_of(" \t");
  if (b == std::string_view::npos) return std::nullopt;
  size_t e = s.find_last_not_of(" \t");
  std::string t(s.substr(b, e - b + 1));
  char* end = nullptr;
  double v = std::strtod(t.c_str(), &end);
  if (end != t.c_str() + t.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}
}  // namespace

// ---- FieldValue ----
FieldValue FieldValue::Number(double v) {
  FieldValue f;
  f.kind = Kind::kNumber;
  f.number = v;
  return f;
}
FieldValue FieldValue::String(std::string v) {
  FieldValue f;
  f.kind = Kind::kString;
  f.string = std::move(v);
  return f;
}
FieldValue FieldValue::Bool(bool v) {
  FieldValue f;
  f.kind = Kind::kBool;
  f.boolean = v;
  return f;
}
FieldValue FieldValue::Null() {
  FieldValue f;
  f.kind = Kind::kNull;
  return f;
}
std::string FieldValue::ToJson() const {
  switch (kind) {
    case Kind::kAbsent:
    case Kind::kNull:
      return "null";
    case Kind::kBool:
      return boolean ? "true" : "false";
    case Kind::kNumber:
      return std::isfinite(number) ? internal::FormatNumber(number) : "null";
    case Kind::kString:
      return json(string).dump(-1, ' ', false, json::error_handler_t::replace);
  }
  return "null";
}

// ---- RuleSet ----
std::shared_ptr<RuleSet> RuleSetAccess::Make(std::unique_ptr<RuleSet::Impl> impl) {
  return std::shared_ptr<RuleSet>(new RuleSet(std::move(impl)));
}

RuleSet::RuleSet(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RuleSet::~RuleSet() = default;
const std::string& RuleSet::name() const { return impl_->name; }
const std::string& RuleSet::version() const { return impl_->version; }
const std::string& RuleSet::hash() const { return impl_->hash; }
const std::string& RuleSet::file() const { return impl_->file; }
bool RuleSet::bench_shape() const { return impl_->bench_shape; }
const std::vector<TierSpec>& RuleSet::tiers() const { return impl_->tiers; }
const std::vector<std::string>& RuleSet::account_fields() const { return impl_->account_fields; }
int RuleSet::FieldIndex(std::string_view field) const { return impl_->FieldIndexOf(field); }

std::vector<std::string> RuleSet::criterion_ids() const {
  std::vector<std::string> out;
  for (const auto& c : impl_->criteria) out.push_back(c.id);
  return out;
}
std::vector<std::string> RuleSet::task_ids() const {
  std::vector<std::string> out;
  for (const auto& t : impl_->tasks) out.push_back(t.id);
  return out;
}
std::vector<std::string> RuleSet::health_ids() const {
  std::vector<std::string> out;
  for (const auto& h : impl_->health) out.push_back(h.id);
  return out;
}
std::vector<std::string> RuleSet::goal_ids() const {
  std::vector<std::string> out;
  for (const auto& g : impl_->goals) out.push_back(g.id);
  return out;
}
std::optional<int64_t> RuleSet::max_open_tasks_per_owner() const {
  return impl_->max_open_tasks_per_owner;
}
std::vector<std::string> RuleSet::crms() const {
  std::vector<std::string> out;
  for (const auto& [crm, m] : impl_->mappings) out.push_back(crm);
  return out;
}
const std::vector<FieldMapping>* RuleSet::mapping(std::string_view crm) const {
  auto it = impl_->mappings.find(crm);
  return it == impl_->mappings.end() ? nullptr : &it->second;
}

CrmNeeds RuleSet::Needs(std::string_view crm) const {
  CrmNeeds needs;
  if (const auto* m = mapping(crm)) {
    for (const auto& f : *m) {
      if (!f.property.empty()) needs.properties.push_back(f.property);
      if (!f.aggregate.empty()) needs.aggregates.push_back(f.aggregate);
    }
  }
  for (auto* v : {&needs.properties, &needs.aggregates}) {
    std::sort(v->begin(), v->end());
    v->erase(std::unique(v->begin(), v->end()), v->end());
  }
  return needs;
}

std::vector<WritebackField> RuleSet::Writeback(std::string_view crm) const {
  bool sf = crm == "salesforce";
  auto prop = [&](const char* hubspot, const char* salesforce) {
    return std::string(sf ? salesforce : hubspot);
  };
  std::vector<WritebackField> out = {
      {"score", prop("kam_score", "KAM_Score__c"), "KAM score", "number"},
      {"tier", prop("kam_tier", "KAM_Tier__c"), "KAM tier", "enumeration"},
      {"breakdown", prop("kam_breakdown", "KAM_Breakdown__c"), "KAM score breakdown", "string"},
      {"next_tier_hint", prop("kam_next_tier_hint", "KAM_Next_Tier_Hint__c"), "KAM next-tier hint",
       "string"},
      {"rules_version", prop("kam_rules_version", "KAM_Rules_Version__c"), "KAM rules version",
       "string"},
      {"scored_at", prop("kam_scored_at", "KAM_Scored_At__c"), "KAM scored at", "datetime"},
      // The record card: kam.card.v1 JSON (HubSpot, a hidden property) or its rich-text
      // rendering (Salesforce); the engine builds it (it knows the open tasks).
      {"card", prop("kam_card_json", "KAM_Explanation__c"), "KAM card", "string"},
  };
  auto it = impl_->writeback.find(crm);
  if (it == impl_->writeback.end()) return out;
  for (const auto& [key, target] : it->second.items()) {
    auto pos = std::find_if(out.begin(), out.end(),
                            [&k = key](const WritebackField& f) { return f.result == k; });
    if (target.is_null()) {
      if (pos != out.end()) out.erase(pos);
      continue;
    }
    std::string property = target.get<std::string>();
    if (pos != out.end()) {
      pos->property = property;
      continue;
    }
    WritebackField f{key, property, "KAM " + key, "string"};
    if (key == "rank") f.type = "number";
    if (key == "pareto") f.type = "bool";
    if (key == "score_tier" || key.rfind("health.", 0) == 0) f.type = "enumeration";
    out.push_back(std::move(f));
  }
  return out;
}

std::string RuleSet::WritebackValue(const AccountResult& r, std::string_view key,
                                    std::string_view scored_at) const {
  if (key == "score") return internal::FormatNumber(r.score);
  if (key == "tier") return r.final_tier.empty() ? r.tier : r.final_tier;
  if (key == "score_tier") return r.tier;
  if (key == "breakdown") return r.Breakdown();
  if (key == "next_tier_hint") return r.next_tier.hint;
  if (key == "rules_version") return impl_->version;
  if (key == "scored_at") return std::string(scored_at);
  if (key == "rank") return std::to_string(r.rank);
  if (key == "pareto") return r.pareto ? "true" : "false";
  if (key == "capped_reason") return r.capped_reason;
  if (key == "card") return BuildCard(*this, r, CardOptions{std::string(scored_at), {}});
  if (key.rfind("health.", 0) == 0) {
    for (const auto& h : r.health) {
      if (key.substr(7) == h.id) return h.status;
    }
  }
  return "";
}

void RuleSet::Impl::PrepareBatches() {
  criterion_rules.clear();
  criterion_slots.clear();
  for (const auto& c : criteria) {
    criterion_rules.push_back(c.rule);
    criterion_slots.push_back(c.slot);
  }
  task_rules.clear();
  for (const auto& t : tasks) task_rules.push_back(t.when);
}

int RuleSet::Impl::TierIndex(std::string_view id) const {
  for (size_t i = 0; i < tiers.size(); ++i) {
    if (tiers[i].id == id) return static_cast<int>(i);
  }
  return -1;
}

int RuleSet::Impl::FieldIndexOf(std::string_view field) const {
  auto it = field_index.find(std::string(field));
  return it == field_index.end() ? -1 : it->second;
}

// ---- accounts ----
Status RuleSet::Impl::AccountFromJson(const json& object, Account* out) const {
  if (!object.is_object()) return Status::Error("an account is a JSON object", "");
  out->id.clear();
  out->owner_id.clear();
  out->values.assign(account_fields.size(), FieldValue());
  std::map<std::string, FieldType> types;
  for (const auto& [crm, list] : mappings) {
    for (const auto& m : list) types.emplace(m.field, m.type);
  }
  for (const auto& [key, v] : object.items()) {
    std::string where = "/" + internal::PointerToken(key);
    if (key == "id" || key == "owner_id") {
      std::string s;
      if (v.is_string()) {
        s = v.get<std::string>();
      } else if (v.is_number_integer()) {
        s = v.dump();
      } else if (!v.is_null()) {
        return Status::Error(Quote(key) + " must be a string", where);
      }
      (key == "id" ? out->id : out->owner_id) = std::move(s);
      continue;
    }
    int index = FieldIndexOf(key);
    if (index < 0) {
      if (mappings.empty()) continue;  // bench-shaped records carry fields no rule reads
      std::string guess = internal::DidYouMean(key, account_fields);
      return Status::Error("unknown account field " + Quote(key) +
                               (guess.empty() ? "" : " (did you mean " + Quote(guess) + "?)"),
                           where);
    }
    FieldValue& f = out->values[static_cast<size_t>(index)];
    if (v.is_null()) {
      f = FieldValue::Null();
    } else if (v.is_boolean()) {
      f = FieldValue::Bool(v.get<bool>());
    } else if (v.is_number()) {
      f = FieldValue::Number(v.get<double>());
    } else if (v.is_string()) {
      f = FieldValue::String(v.get<std::string>());
    } else {
      return Status::Error("account field " + Quote(key) +
                               " must be a number, string, bool or null, not " + v.type_name(),
                           where);
    }
    auto t = types.find(key);
    if (t == types.end() || f.kind == FieldValue::Kind::kNull) continue;
    bool ok = true;
    switch (t->second) {
      case FieldType::kNumber:
      case FieldType::kDaysSince:
        ok = f.kind == FieldValue::Kind::kNumber;
        break;
      case FieldType::kBool:
        ok = f.kind == FieldValue::Kind::kBool;
        break;
      default:
        ok = f.kind == FieldValue::Kind::kString;
        break;
    }
    if (!ok) {
      return Status::Error("account field " + Quote(key) + " has type " +
                               std::string(FieldTypeName(t->second)) + ", not " + v.type_name(),
                           where);
    }
  }
  return Status();
}

Status RuleSet::AccountFromJson(const json& object, Account* out) const {
  return impl_->AccountFromJson(object, out);
}

Account RuleSet::MapAccount(std::string_view crm, std::string_view id, std::string_view owner_id,
                            const json& properties, const json& aggregates,
                            int64_t now_unix_seconds, std::vector<std::string>* warnings) const {
  Account account;
  account.id = std::string(id);
  account.owner_id = std::string(owner_id);
  account.values.assign(impl_->account_fields.size(), FieldValue());
  const auto* list = mapping(crm);
  if (list == nullptr) return account;
  auto warn = [&](const FieldMapping& m, const json& raw, const char* why) {
    if (warnings == nullptr) return;
    warnings->push_back(
        "account " + account.id + ": field " + m.field + " (" +
        (m.property.empty() ? "aggregate " + m.aggregate : "property " + m.property) +
        ") = " + raw.dump(-1, ' ', false, json::error_handler_t::replace) + ": " + why +
        "; treated as absent");
  };
  for (const auto& m : *list) {
    const json& source = m.property.empty() ? aggregates : properties;
    const std::string& key = m.property.empty() ? m.aggregate : m.property;
    if (!source.is_object()) continue;
    auto it = source.find(key);
    if (it == source.end() || it->is_null()) continue;
    const json& raw = *it;
    if (raw.is_string() &&
        raw.get_ref<const std::string&>().find_first_not_of(" \t") == std::string::npos) {
      continue;  // "" means absent
    }
    FieldValue value;
    switch (m.type) {
      case FieldType::kNumber:
        if (raw.is_number()) {
          value = FieldValue::Number(raw.get<double>());
        } else if (raw.is_string()) {
          if (auto d = ParseDecimal(raw.get_ref<const std::string&>())) {
            value = FieldValue::Number(*d);
          } else {
            warn(m, raw, "not a number");
          }
        } else {
          warn(m, raw, "not a number");
        }
        break;
      case FieldType::kDaysSince:
        if (raw.is_number()) {
          value = FieldValue::Number(raw.get<double>());
        } else if (raw.is_string()) {
          if (auto t = ParseTimestamp(raw.get_ref<const std::string&>())) {
            value = FieldValue::Number(
                std::floor(static_cast<double>(now_unix_seconds - *t) / 86400.0));
          } else {
            warn(m, raw, "not a date");
          }
        } else {
          warn(m, raw, "not a date");
        }
        break;
      case FieldType::kBool:
        if (raw.is_boolean()) {
          value = FieldValue::Bool(raw.get<bool>());
        } else if (raw.is_number()) {
          value = FieldValue::Bool(raw.get<double>() != 0);
        } else if (raw.is_string()) {
          std::string s = raw.get<std::string>();
          std::transform(s.begin(), s.end(), s.begin(),
                         [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
          if (s == "true" || s == "1" || s == "yes") {
            value = FieldValue::Bool(true);
          } else if (s == "false" || s == "0" || s == "no") {
            value = FieldValue::Bool(false);
          } else {
            warn(m, raw, "not a yes/no value");
          }
        }
        break;
      case FieldType::kString:
      case FieldType::kDate:
      case FieldType::kEnum:
        if (raw.is_string()) {
          value = FieldValue::String(raw.get<std::string>());
        } else if (raw.is_number()) {
          value = FieldValue::String(internal::FormatNumber(raw.get<double>()));
        } else if (raw.is_boolean()) {
          value = FieldValue::String(raw.get<bool>() ? "true" : "false");
        } else {
          warn(m, raw, "not text");
        }
        if (m.type == FieldType::kEnum && value.kind == FieldValue::Kind::kString &&
            std::find(m.values.begin(), m.values.end(), value.string) == m.values.end()) {
          warn(m, raw, "not one of the enum's values");
          value = FieldValue();
        }
        break;
    }
    account.values[static_cast<size_t>(impl_->FieldIndexOf(m.field))] = std::move(value);
  }
  return account;
}

// ---- evaluation ----
void RuleSet::Impl::FillRecord(const Account& account, std::span<jl::Value> record) const {
  size_t n = std::min(account.values.size(), account_fields.size());
  for (size_t i = 0; i < n; ++i) record[i] = ToValue(account.values[i]);
  for (size_t i = n; i < account_fields.size(); ++i) record[i] = jl::Value::Absent();
  record[static_cast<size_t>(slot_id)] = jl::Value::String(account.id);
  record[static_cast<size_t>(slot_owner)] =
      account.owner_id.empty() ? jl::Value::Absent() : jl::Value::String(account.owner_id);
}

namespace {
Status ComputeScoreTier(const RuleSet::Impl& rs, jl::Evaluator& ev, std::span<jl::Value> record,
                        std::span<const double> scores, double* score, int* tier) {
  double s = 0;
  if (rs.score_rule) {
    jl::Value r;
    if (!ev.Run(*rs.score_rule, &r)) [[unlikely]] {
      return RuleError(record, rs.slot_id, "score", ev.error());
    }
    if (!r.is_number() || !std::isfinite(r.as_number())) [[unlikely]] {
      return Status::Error("account " + AccountName(record, rs.slot_id) + ": the score rule gave " +
                               internal::ValueJson(r) + ", not a number",
                           "score");
    }
    s = r.as_number();
  } else {
    for (size_t i = 0; i < scores.size(); ++i) s += rs.criteria[i].weight * scores[i];
  }
  *score = s;
  record[static_cast<size_t>(rs.slot_score)] = jl::Value::Number(s);
  int t = -1;
  if (rs.tier_rule) {
    jl::Value r;
    if (!ev.Run(*rs.tier_rule, &r)) [[unlikely]] {
      return RuleError(record, rs.slot_id, "tier", ev.error());
    }
    if (r.is_string()) t = rs.TierIndex(r.as_string());
    if (t < 0) [[unlikely]] {
      return Status::Error("account " + AccountName(record, rs.slot_id) + ": the tier rule gave " +
                               internal::ValueJson(r) + ", not one of the tier ids",
                           "tier");
    }
  } else {
    t = static_cast<int>(rs.tiers.size()) - 1;
    for (size_t i = 0; i < rs.tiers.size(); ++i) {
      if (s >= rs.tiers[i].min_score) {
        t = static_cast<int>(i);
        break;
      }
    }
  }
  *tier = t;
  record[static_cast<size_t>(rs.slot_tier)] =
      jl::Value::String(rs.tiers[static_cast<size_t>(t)].id);
  return Status();
}
}  // namespace

Status RuleSet::Impl::ScoreAndTier(jl::Evaluator& ev, std::span<jl::Value> record,
                                   std::span<const double> scores, double* score, int* tier) const {
  for (size_t i = 0; i < criteria.size(); ++i) {
    record[static_cast<size_t>(criteria[i].slot)] = jl::Value::Number(scores[i]);
  }
  ev.Bind(record);
  return ComputeScoreTier(*this, ev, record, scores, score, tier);
}

Status RuleSet::Impl::Core(jl::Evaluator& ev, std::span<jl::Value> record,
                           internal::CoreResult* out) const {
  out->scores.resize(criteria.size());
  out->health.resize(health.size());
  ev.Bind(record);
  bool raised = false;
  jl::Value bad;
  size_t done = ev.RunScores(criterion_rules, criterion_slots, 1, 10, record, out->scores.data(),
                             &raised, &bad);
  if (done < criteria.size()) [[unlikely]] {
    const auto& c = criteria[done];
    if (raised) return RuleError(record, slot_id, "criterion " + c.id, ev.error());
    return Status::Error("account " + AccountName(record, slot_id) + ": criterion " + c.id +
                             " gave " + internal::ValueJson(bad) +
                             ", outside 1..10 (a criterion scores 1 to 10; fix its rule)",
                         "criterion " + c.id);
  }
  if (Status st = ComputeScoreTier(*this, ev, record, out->scores, &out->score, &out->tier);
      !st.ok()) {
    return st;
  }
  return HealthAndTasks(ev, record, out);
}

Status RuleSet::Impl::HealthAndTasks(jl::Evaluator& ev, std::span<jl::Value> record,
                                     internal::CoreResult* out) const {
  out->health.resize(health.size());
  ev.Bind(record);
  for (size_t i = 0; i < health.size(); ++i) {
    const auto& h = health[i];
    uint8_t status = 0;
    bool hit = false;
    if (h.red) {
      if (!ev.Test(*h.red, &hit)) [[unlikely]] {
        return RuleError(record, slot_id, "health " + h.id + " (red)", ev.error());
      }
      if (hit) status = 2;
    }
    if (status == 0 && h.amber) {
      if (!ev.Test(*h.amber, &hit)) [[unlikely]] {
        return RuleError(record, slot_id, "health " + h.id + " (amber)", ev.error());
      }
      if (hit) status = 1;
    }
    out->health[i] = status;
    record[static_cast<size_t>(h.slot)] = jl::Value::String(kHealthNames[status]);
  }
  uint64_t mask = 0;
  if (size_t done = ev.TestEach(task_rules, &mask); done < tasks.size()) [[unlikely]] {
    return RuleError(record, slot_id, "task " + tasks[done].id, ev.error());
  }
  out->tasks = mask;
  return Goals(ev, record, out);
}

namespace {
// A value as a number for a numeric goal: numbers, and texts that are a whole number literal
// ("12.5", " 3 "); nothing for absent, null, "", booleans and other texts.
std::optional<double> GoalNumber(const jl::Value& v) {
  if (v.is_number())
    return std::isfinite(v.as_number()) ? std::optional(v.as_number()) : std::nullopt;
  if (!v.is_string()) return std::nullopt;
  std::string_view s = v.as_string();
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  if (s.empty() || s.size() > 64) return std::nullopt;
  char buf[65];
  s.copy(buf, s.size());
  buf[s.size()] = '\0';
  char* end = nullptr;
  double d = std::strtod(buf, &end);
  if (end != buf + s.size() || !std::isfinite(d)) return std::nullopt;
  return d;
}

std::optional<bool> GoalBool(const jl::Value& v) {
  if (v.is_bool()) return v.as_bool();
  if (v.is_number()) {
    if (v.as_number() == 1) return true;
    if (v.as_number() == 0) return false;
    return std::nullopt;
  }
  if (!v.is_string()) return std::nullopt;
  std::string_view s = v.as_string();
  if (s == "true" || s == "1" || s == "yes") return true;
  if (s == "false" || s == "0" || s == "no") return false;
  return std::nullopt;
}

bool IsAbsentLike(const jl::Value& v) {
  return v.is_absent() || v.is_null() || (v.is_string() && v.as_string().empty());
}

uint8_t GoalAttainment(const internal::GoalDef& g, const internal::GoalTarget& t,
                       const jl::Value& v) {
  const uint8_t absent = g.absent_not_met ? internal::kGoalNotMet : internal::kGoalUnknown;
  if (IsAbsentLike(v)) return absent;
  auto verdict = [](bool met) { return met ? internal::kGoalMet : internal::kGoalNotMet; };
  switch (g.op) {
    case internal::GoalOp::kAtLeast:
    case internal::GoalOp::kAtMost: {
      auto n = GoalNumber(v);
      if (!n) return internal::kGoalUnknown;
      return verdict(g.op == internal::GoalOp::kAtLeast ? *n >= t.number : *n <= t.number);
    }
    case internal::GoalOp::kEquals:
      if (t.kind == jl::Kind::kBool) {
        auto b = GoalBool(v);
        return b ? verdict(*b == t.boolean) : internal::kGoalUnknown;
      }
      if (t.kind == jl::Kind::kNumber) {
        auto n = GoalNumber(v);
        return n ? verdict(*n == t.number) : internal::kGoalUnknown;
      }
      if (v.is_string()) return verdict(v.as_string() == t.string);
      return internal::kGoalUnknown;
  }
  return internal::kGoalUnknown;
}
}  // namespace

Status RuleSet::Impl::Goals(jl::Evaluator& ev, std::span<jl::Value> record,
                            internal::CoreResult* out) const {
  out->goal_state.resize(goals.size());
  if (goals.empty()) return Status();
  if (out->goal_value.size() < goals.size()) out->goal_value.resize(goals.size());
  int tier = -1;
  if (const jl::Value& t = record[static_cast<size_t>(slot_tier)]; t.is_string()) {
    tier = TierIndex(t.as_string());
  }
  ev.Bind(record);
  for (size_t i = 0; i < goals.size(); ++i) {
    const internal::GoalDef& g = goals[i];
    out->goal_state[i] = internal::kGoalNotApplicable;
    if (tier < 0 || !g.targets[static_cast<size_t>(tier)].set) continue;
    jl::Value v;
    if (g.value) {
      if (!ev.Run(*g.value, &v)) [[unlikely]] {
        return RuleError(record, slot_id, "goal " + g.id, ev.error());
      }
    } else {
      v = record[static_cast<size_t>(g.field_slot)];
    }
    out->goal_state[i] = GoalAttainment(g, g.targets[static_cast<size_t>(tier)], v);
    std::string& text = out->goal_value[i];
    text.clear();
    if (v.is_absent()) {
      text.assign("null");
    } else if (v.is_number() && std::isfinite(v.as_number()) && std::fabs(v.as_number()) < 1e12) {
      // Shown to people: two decimals at most (a growth of 23.076923076923077 % reads 23.08).
      internal::AppendValueJson(jl::Value::Number(std::round(v.as_number() * 100) / 100), text);
    } else {
      internal::AppendValueJson(v, text);
    }
  }
  return Status();
}

namespace {
void RenderInto(const internal::Template& t, std::span<const jl::Value> record, std::string& out) {
  out.clear();
  for (const auto& part : t.parts) {
    if (part.slot >= 0) {
      internal::AppendValueText(record[static_cast<size_t>(part.slot)], out);
    } else {
      out += part.literal;
    }
  }
}

// Resizes `v` to n elements, moving surplus elements to `spare` and taking new ones from it, so
// that the strings inside keep their buffers (no allocation once both have grown).
template <class T>
void ResizeRecycled(std::vector<T>& v, size_t n, std::vector<T>& spare) {
  while (v.size() > n) {
    spare.push_back(std::move(v.back()));
    v.pop_back();
  }
  while (v.size() < n) {
    if (spare.empty()) {
      v.emplace_back();
    } else {
      v.push_back(std::move(spare.back()));
      spare.pop_back();
    }
  }
}

// The smallest change in criterion scores that lifts the account one tier (by score): first each
// criterion alone, then greedily one point at a time on the criterion that raises the score most.
void FindNextTier(const RuleSet::Impl& rs, jl::Evaluator& ev, std::span<jl::Value> record,
                  const internal::CoreResult& core, internal::FillScratch& sc, NextTierPath* path) {
  path->reachable = false;
  ResizeRecycled(path->changes, 0, sc.spare_changes);
  if (core.tier <= 0) {
    path->to_tier.clear();
    path->hint.assign("top tier");
    return;
  }
  int target = core.tier - 1;
  path->to_tier.assign(rs.tiers[static_cast<size_t>(target)].id);
  const std::vector<double>& scores = core.scores;
  size_t n = scores.size();
  double best_points = std::numeric_limits<double>::infinity();
  bool have_best = false;
  auto lifts = [&](const std::vector<double>& s) {
    double score = 0;
    int tier = 0;
    if (!rs.ScoreAndTier(ev, record, s, &score, &tier).ok()) return false;
    return tier <= target;
  };
  // One criterion alone.
  for (size_t i = 0; i < n; ++i) {
    sc.trial.assign(scores.begin(), scores.end());
    for (int k = 1; k <= 10; ++k) {
      double to = std::min(10.0, scores[i] + k);
      if (to <= scores[i] || to - scores[i] >= best_points) break;
      sc.trial[i] = to;
      if (lifts(sc.trial)) {
        best_points = to - scores[i];
        sc.best.assign(sc.trial.begin(), sc.trial.end());
        have_best = true;
        break;
      }
      if (to >= 10) break;
    }
  }
  // Greedy: one point at a time on the criterion that raises the score most.
  {
    std::vector<double>& s = sc.trial;
    s.assign(scores.begin(), scores.end());
    double points = 0;
    while (points + 1 < best_points) {
      int pick = -1;
      double pick_score = -std::numeric_limits<double>::infinity();
      for (size_t i = 0; i < n; ++i) {
        if (s[i] >= 10) continue;
        sc.step.assign(s.begin(), s.end());
        sc.step[i] = std::min(10.0, sc.step[i] + 1);
        double score = 0;
        int tier = 0;
        if (!rs.ScoreAndTier(ev, record, sc.step, &score, &tier).ok()) continue;
        if (score > pick_score) {
          pick_score = score;
          pick = static_cast<int>(i);
        }
      }
      if (pick < 0) break;
      double before = s[static_cast<size_t>(pick)];
      s[static_cast<size_t>(pick)] = std::min(10.0, before + 1);
      points += s[static_cast<size_t>(pick)] - before;
      if (lifts(s)) {
        if (points < best_points) {
          best_points = points;
          sc.best.assign(s.begin(), s.end());
          have_best = true;
        }
        break;
      }
    }
  }
  // Restore the record's kam.* slots.
  double score = 0;
  int tier = 0;
  (void)rs.ScoreAndTier(ev, record, scores, &score, &tier);
  path->hint.clear();
  if (!have_best) {
    path->hint.append("tier ").append(path->to_tier).append(" is out of reach by criterion scores");
    return;
  }
  path->reachable = true;
  size_t changed = 0;
  for (size_t i = 0; i < n; ++i) changed += sc.best[i] != scores[i];
  ResizeRecycled(path->changes, changed, sc.spare_changes);
  size_t c = 0;
  for (size_t i = 0; i < n; ++i) {
    if (sc.best[i] == scores[i]) continue;
    NextTierPath::Change& ch = path->changes[c++];
    ch.criterion.assign(rs.criteria[i].id);
    ch.from = scores[i];
    ch.to = sc.best[i];
    if (!path->hint.empty()) path->hint.append(", ");
    path->hint.append(ch.criterion).append(" ");
    internal::AppendValueText(jl::Value::Number(ch.from), path->hint);
    path->hint.append("→");
    internal::AppendValueText(jl::Value::Number(ch.to), path->hint);
  }
  path->hint.append(" lifts to ").append(path->to_tier);
}
}  // namespace

void RuleSet::Impl::FillHealthAndTasks(std::span<const jl::Value> record,
                                       const internal::CoreResult& core, AccountResult* out,
                                       internal::FillScratch* scratch) const {
  internal::FillScratch local;
  internal::FillScratch& sc = scratch != nullptr ? *scratch : local;
  out->health.resize(health.size());
  for (size_t i = 0; i < health.size(); ++i) {
    HealthResult& h = out->health[i];
    h.id.assign(health[i].id);
    h.label.assign(health[i].label);
    h.status.assign(kHealthNames[core.health[i]]);
  }
  size_t count = 0;
  for (size_t j = 0; j < tasks.size(); ++j) count += (core.tasks >> j) & 1;
  ResizeRecycled(out->tasks, count, sc.spare_tasks);
  size_t k = 0;
  for (size_t j = 0; j < tasks.size(); ++j) {
    if ((core.tasks >> j & 1) == 0) continue;
    const auto& t = tasks[j];
    TaskSuggestion& s = out->tasks[k++];
    s.rule_id.assign(t.id);
    RenderInto(t.title_template, record, s.title);
    RenderInto(t.body_template, record, s.body);
    s.priority.assign(t.priority);
    s.due_in_days = t.due_in_days;
    s.cooldown_days = t.cooldown_days;
    s.auto_close = t.auto_close;
  }
  count = 0;
  for (uint8_t state : core.goal_state) count += state != internal::kGoalNotApplicable;
  ResizeRecycled(out->goals, count, sc.spare_goals);
  k = 0;
  int tier = -1;
  if (const jl::Value& t = record[static_cast<size_t>(slot_tier)]; t.is_string()) {
    tier = TierIndex(t.as_string());
  }
  for (size_t i = 0; i < core.goal_state.size() && tier >= 0; ++i) {
    if (core.goal_state[i] == internal::kGoalNotApplicable) continue;
    const internal::GoalDef& g = goals[i];
    GoalResult& r = out->goals[k++];
    r.id.assign(g.id);
    r.label.assign(g.label);
    r.status.assign(internal::kGoalStateNames[core.goal_state[i]]);
    r.comparison.assign(internal::kGoalOpNames[static_cast<size_t>(g.op)]);
    r.value.assign(core.goal_value[i]);
    r.target.assign(g.targets[static_cast<size_t>(tier)].text);
    r.unit.assign(g.unit);
  }
}

void RuleSet::Impl::FillResult(const Account& account, std::span<jl::Value> record,
                               const internal::CoreResult& core, jl::Evaluator& ev,
                               AccountResult* out, internal::FillScratch* scratch) const {
  internal::FillScratch local;
  internal::FillScratch& sc = scratch != nullptr ? *scratch : local;
  out->account_id.assign(account.id);
  out->owner_id.assign(account.owner_id);
  out->criteria.resize(criteria.size());
  for (size_t i = 0; i < criteria.size(); ++i) {
    CriterionResult& c = out->criteria[i];
    c.id.assign(criteria[i].id);
    c.weight = criteria[i].weight;
    c.score = core.scores[i];
    std::span<const int> read = criteria[i].rule.slots_read();
    c.inputs.resize(read.size());
    for (size_t k = 0; k < read.size(); ++k) {
      c.inputs[k].path.assign(schema.path(read[k]));
      c.inputs[k].value.clear();
      internal::AppendValueJson(record[static_cast<size_t>(read[k])], c.inputs[k].value);
    }
  }
  out->score = core.score;
  out->tier.assign(tiers[static_cast<size_t>(core.tier)].id);
  out->final_tier.assign(out->tier);
  out->capped_reason.clear();
  out->rank = 0;
  out->pareto = false;
  FillHealthAndTasks(record, core, out, &sc);
  // The input hash: FNV-1a 64 over the id and "\n<path>=<value JSON>" per input slot.
  uint64_t h = internal::Fnv64(account.id);
  for (int slot : input_slots) {
    sc.text.assign("\n");
    sc.text.append(schema.path(slot)).append("=");
    internal::AppendValueJson(record[static_cast<size_t>(slot)], sc.text);
    h = internal::Fnv64(sc.text, h);
  }
  internal::AssignHex64(h, out->receipt.input_hash);
  out->receipt.rules_hash.assign(hash);
  out->receipt.rules_version.assign(version);
  out->revenue = 0;
  if (revenue_index >= 0 && record[static_cast<size_t>(revenue_index)].is_number()) {
    out->revenue = record[static_cast<size_t>(revenue_index)].as_number();
  }
  FindNextTier(*this, ev, record, core, sc, &out->next_tier);
}

struct Evaluator::Impl {
  std::shared_ptr<const RuleSet> rules;
  jl::Evaluator ev;
  std::vector<jl::Value> record;
  internal::CoreResult core;
  internal::FillScratch scratch;
};

Evaluator::Evaluator(std::shared_ptr<const RuleSet> rules) : impl_(std::make_unique<Impl>()) {
  impl_->rules = std::move(rules);
}
Evaluator::~Evaluator() = default;

Status Evaluator::Evaluate(const Account& account, AccountResult* out) {
  const RuleSet::Impl& rs = RuleSetAccess::Get(*impl_->rules);
  impl_->record.assign(rs.record_size(), jl::Value::Absent());
  rs.FillRecord(account, impl_->record);
  if (Status st = rs.Core(impl_->ev, impl_->record, &impl_->core); !st.ok()) return st;
  rs.FillResult(account, impl_->record, impl_->core, impl_->ev, out, &impl_->scratch);
  return Status();
}

Status Evaluator::ApplyFinalTier(const Account& account, AccountResult* result) {
  const RuleSet::Impl& rs = RuleSetAccess::Get(*impl_->rules);
  if (result->final_tier.empty() || result->final_tier == result->tier) return Status();
  int final_tier = rs.TierIndex(result->final_tier);
  if (final_tier < 0) {
    return Status::Error("account " + account.id + ": final tier \"" + result->final_tier +
                         "\" is not a tier of the rule file");
  }
  impl_->record.assign(rs.record_size(), jl::Value::Absent());
  rs.FillRecord(account, impl_->record);
  if (Status st = rs.Core(impl_->ev, impl_->record, &impl_->core); !st.ok()) return st;
  impl_->record[static_cast<size_t>(rs.slot_tier)] =
      jl::Value::String(rs.tiers[static_cast<size_t>(final_tier)].id);
  if (Status st = rs.HealthAndTasks(impl_->ev, impl_->record, &impl_->core); !st.ok()) return st;
  rs.FillHealthAndTasks(impl_->record, impl_->core, result, &impl_->scratch);
  return Status();
}

Status RuleSet::Evaluate(const Account& account, AccountResult* out) const {
  const Impl& rs = *impl_;
  jl::Evaluator ev;
  std::vector<jl::Value> record(rs.record_size());
  rs.FillRecord(account, record);
  internal::CoreResult core;
  if (Status st = rs.Core(ev, record, &core); !st.ok()) return st;
  rs.FillResult(account, record, core, ev, out);
  return Status();
}

// ---- AccountResult ----
std::string AccountResult::Breakdown() const {
  std::string out;
  for (const auto& c : criteria) {
    out += (out.empty() ? "" : " · ") + c.id + " " + internal::FormatNumber(c.score);
  }
  return out;
}

json internal::GoalJson(const GoalResult& g) {
  json out = {{"id", g.id},
              {"label", g.label},
              {"status", g.status},
              {"comparison", g.comparison},
              {"value", json::parse(g.value, nullptr, false)},
              {"target", json::parse(g.target, nullptr, false)}};
  if (out["value"].is_discarded()) out["value"] = nullptr;
  if (out["target"].is_discarded()) out["target"] = nullptr;
  if (!g.unit.empty()) out["unit"] = g.unit;
  return out;
}

json AccountResult::ToJson() const {
  json scores = json::object();
  for (const auto& c : criteria) scores[c.id] = c.score;
  json inputs = json::object();
  for (const auto& c : criteria) {
    json list = json::object();
    for (const auto& in : c.inputs) {
      list[in.path] = in.value == "absent" ? json() : json::parse(in.value, nullptr, false);
    }
    inputs[c.id] = std::move(list);
  }
  json health_json = json::object();
  for (const auto& h : health) health_json[h.id] = h.status;
  json tasks_json = json::array();
  for (const auto& t : tasks) {
    tasks_json.push_back({{"id", t.rule_id},
                          {"title", t.title},
                          {"body", t.body},
                          {"priority", t.priority},
                          {"due_in_days", t.due_in_days},
                          {"cooldown_days", t.cooldown_days},
                          {"auto_close", t.auto_close}});
  }
  json changes = json::array();
  for (const auto& c : next_tier.changes) {
    changes.push_back({{"criterion", c.criterion}, {"from", c.from}, {"to", c.to}});
  }
  json goals_json = json::array();
  for (const auto& g : goals) goals_json.push_back(internal::GoalJson(g));
  json out = {{"id", account_id},
              {"owner_id", owner_id},
              {"scores", scores},
              {"score", score},
              {"tier", tier},
              {"final_tier", final_tier.empty() ? tier : final_tier},
              {"health", health_json},
              {"tasks", tasks_json},
              {"goals", goals_json},
              {"next_tier",
               {{"to", next_tier.to_tier},
                {"reachable", next_tier.reachable},
                {"changes", changes},
                {"hint", next_tier.hint}}},
              {"receipt",
               {{"inputs", inputs},
                {"input_hash", receipt.input_hash},
                {"rules_hash", receipt.rules_hash},
                {"rules_version", receipt.rules_version}}}};
  if (rank > 0) {
    out["rank"] = rank;
    out["pareto"] = pareto;
    out["revenue"] = revenue;
  }
  if (!capped_reason.empty()) out["capped_reason"] = capped_reason;
  return out;
}

}  // namespace kam::rules
