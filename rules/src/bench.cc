// The benchmark of shared/bench/README.md: mulberry32 generator (bit for bit), compact records of
// slot values, a warm-up, the timed evaluation pass, and the FNV-1a result digest.
#include "kam/rules/bench.h"

#include <array>
#include <chrono>
#include <cmath>
#include <cstring>
#include <ctime>
#include <deque>
#include <fstream>
#include <map>
#include <sstream>

#include "internal.h"

namespace kam::rules {

using nlohmann::json;

namespace {

double ProcessCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

constexpr std::string_view kIndustries[] = {"Automotive", "Chemicals",    "Machinery", "Pharma",
                                            "Energy",     "Aerospace",    "Logistics", "Electronics",
                                            "Retail",     "Food",         "Construction",
                                            "Software"};
constexpr std::string_view kCountries[] = {"DE", "AT", "CH", "FR", "IT", "ES", "NL", "BE",
                                           "PL", "SE", "GB", "US", "CZ", "DK", "FI"};

class Mulberry32 {
 public:
  explicit Mulberry32(uint32_t seed) : a_(seed) {}
  double U() {
    a_ += 0x6D2B79F5u;
    uint32_t t = a_;
    t = (t ^ (t >> 15)) * (t | 1u);
    t ^= t + (t ^ (t >> 7)) * (t | 61u);
    return static_cast<double>(t ^ (t >> 14)) / 4294967296.0;
  }

 private:
  uint32_t a_;
};

// One generated account; has_* flags say which optional fields are present.
struct GenAccount {
  int industry = -1;  // -1: absent
  int country = -1;
  double employees = 0, annual_revenue = 0, revenue_last_12m = 0, revenue_prev_12m = 0,
         gross_margin_pct = 0, tenure_years = 0, open_deals_value = 0,
         days_since_last_meeting = 0, active_contacts = 0, avg_days_to_pay = 0, nps = 0,
         support_tickets_open = 0;
  int exec_sponsor = -1;  // -1 absent, 0 false, 1 true
  bool has_nps = false;
};

GenAccount Generate(Mulberry32& rng) {
  GenAccount a;
  double iR = rng.U();
  int industry = static_cast<int>(std::floor(rng.U() * 12));
  int country = static_cast<int>(std::floor(rng.U() * 15));
  double cR = rng.U();
  double e = rng.U();
  a.employees = 5 + std::floor(20000 * e * e * e * e);
  a.annual_revenue = a.employees * (50000 + std::floor(200000 * rng.U()));
  double s = rng.U();
  a.revenue_last_12m = std::floor(a.annual_revenue * (0.0005 + 0.02 * s * s * s));
  double nR = rng.U();
  double g = 0.6 + 1.2 * rng.U();
  a.revenue_prev_12m = nR < 0.03 ? 0 : std::floor(a.revenue_last_12m / g);
  a.gross_margin_pct = std::floor((2 + 53 * rng.U()) * 10) / 10;
  a.tenure_years = a.revenue_prev_12m == 0 ? 0 : 1 + std::floor(rng.U() * 25);
  double d = rng.U();
  double dr = rng.U();
  a.open_deals_value = d < 0.2 ? 0 : std::floor(a.revenue_last_12m * 0.6 * dr * dr);
  double m = rng.U();
  a.days_since_last_meeting = std::floor(400 * m * m);
  double c = rng.U();
  a.active_contacts = std::floor(12 * c * c);
  double sR = rng.U();
  double sM = rng.U();
  double p = rng.U();
  a.avg_days_to_pay = 15 + std::floor(120 * p * p);
  double npM = rng.U();
  double npV = rng.U();
  double t = rng.U();
  a.support_tickets_open = std::floor(15 * t * t * t);
  if (iR >= 0.02) a.industry = industry;
  if (cR >= 0.01) a.country = country;
  if (sM >= 0.05) a.exec_sponsor = sR < 0.35 ? 1 : 0;
  if (npM >= 0.12) {
    a.has_nps = true;
    a.nps = std::floor(npV * 201) - 100;
  }
  return a;
}

std::array<char, 24> MakeId(uint64_t i) {
  std::array<char, 24> id{};
  std::snprintf(id.data(), id.size(), "ACC-%07llu", static_cast<unsigned long long>((i + 1) % 100000000000000ull));
  return id;
}

// Compact records: `width` slot values per account (account fields, id, owner).
struct BenchData {
  size_t width = 0;
  size_t n = 0;
  std::vector<jl::Value> slots;
  std::vector<std::array<char, 24>> gen_ids;  // generated ids (stable storage)
  std::deque<std::string> strings;            // strings read from NDJSON (stable storage)
};

void GenerateInto(const RuleSet::Impl& rs, uint64_t n, uint32_t seed, BenchData* data) {
  data->width = rs.account_fields.size() + 2;
  data->n = n;
  data->slots.assign(n * data->width, jl::Value::Absent());
  data->gen_ids.resize(n);
  auto slot = [&](const char* field) { return rs.FieldIndexOf(field); };
  const int s_industry = slot("industry"), s_country = slot("country"),
            s_employees = slot("employees"), s_annual = slot("annual_revenue"),
            s_rev = slot("revenue_last_12m"), s_prev = slot("revenue_prev_12m"),
            s_margin = slot("gross_margin_pct"), s_tenure = slot("tenure_years"),
            s_open = slot("open_deals_value"), s_days = slot("days_since_last_meeting"),
            s_contacts = slot("active_contacts"), s_sponsor = slot("has_exec_sponsor"),
            s_pay = slot("avg_days_to_pay"), s_nps = slot("nps"),
            s_tickets = slot("support_tickets_open");
  Mulberry32 rng(seed);
  for (uint64_t i = 0; i < n; ++i) {
    GenAccount a = Generate(rng);
    jl::Value* rec = &data->slots[i * data->width];
    auto num = [&](int s, double v) {
      if (s >= 0) rec[s] = jl::Value::Number(v);
    };
    if (s_industry >= 0 && a.industry >= 0) {
      rec[s_industry] = jl::Value::String(kIndustries[a.industry]);
    }
    if (s_country >= 0 && a.country >= 0) rec[s_country] = jl::Value::String(kCountries[a.country]);
    num(s_employees, a.employees);
    num(s_annual, a.annual_revenue);
    num(s_rev, a.revenue_last_12m);
    num(s_prev, a.revenue_prev_12m);
    num(s_margin, a.gross_margin_pct);
    num(s_tenure, a.tenure_years);
    num(s_open, a.open_deals_value);
    num(s_days, a.days_since_last_meeting);
    num(s_contacts, a.active_contacts);
    if (s_sponsor >= 0 && a.exec_sponsor >= 0) rec[s_sponsor] = jl::Value::Bool(a.exec_sponsor == 1);
    num(s_pay, a.avg_days_to_pay);
    if (a.has_nps) num(s_nps, a.nps);
    num(s_tickets, a.support_tickets_open);
    data->gen_ids[i] = MakeId(i);
    rec[rs.slot_id] = jl::Value::String(std::string_view(data->gen_ids[i].data()));
  }
}

Status ReadInto(const RuleSet::Impl& rs, const std::string& path, BenchData* data) {
  std::ifstream in(path);
  if (!in) return Status::Error("cannot open the accounts file " + path, path);
  data->width = rs.account_fields.size() + 2;
  std::string line;
  Account account;
  uint64_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    auto parsed = jl::ParseJson(line, 64);
    std::string where = path + ":" + std::to_string(line_no);
    if (!parsed) return Status::Error("invalid JSON: " + parsed.error().message, where);
    if (Status st = rs.AccountFromJson(*parsed, &account); !st.ok()) {
      return Status::Error(st.message(), where + " " + st.location());
    }
    size_t base = data->slots.size();
    data->slots.resize(base + data->width, jl::Value::Absent());
    for (size_t f = 0; f < account.values.size(); ++f) {
      const FieldValue& v = account.values[f];
      jl::Value& out = data->slots[base + f];
      switch (v.kind) {
        case FieldValue::Kind::kAbsent: break;
        case FieldValue::Kind::kNull: out = jl::Value::Null(); break;
        case FieldValue::Kind::kBool: out = jl::Value::Bool(v.boolean); break;
        case FieldValue::Kind::kNumber: out = jl::Value::Number(v.number); break;
        case FieldValue::Kind::kString:
          data->strings.push_back(v.string);
          out = jl::Value::String(data->strings.back());
          break;
      }
    }
    data->strings.push_back(account.id);
    data->slots[base + static_cast<size_t>(rs.slot_id)] = jl::Value::String(data->strings.back());
    if (!account.owner_id.empty()) {
      data->strings.push_back(account.owner_id);
      data->slots[base + static_cast<size_t>(rs.slot_owner)] =
          jl::Value::String(data->strings.back());
    }
    ++data->n;
  }
  return Status();
}

struct Compact {
  double score;
  uint64_t tasks;
  int tier;
};

}  // namespace

std::vector<json> GenerateAccountsJson(uint64_t n, uint32_t seed) {
  std::vector<json> out;
  out.reserve(n);
  Mulberry32 rng(seed);
  for (uint64_t i = 0; i < n; ++i) {
    GenAccount a = Generate(rng);
    auto id = MakeId(i);
    json j = json::object();
    j["id"] = std::string(id.data());
    if (a.industry >= 0) j["industry"] = std::string(kIndustries[a.industry]);
    if (a.country >= 0) j["country"] = std::string(kCountries[a.country]);
    auto num = [&](const char* key, double v) { j[key] = static_cast<int64_t>(v); };
    num("employees", a.employees);
    num("annual_revenue", a.annual_revenue);
    num("revenue_last_12m", a.revenue_last_12m);
    num("revenue_prev_12m", a.revenue_prev_12m);
    j["gross_margin_pct"] = a.gross_margin_pct;
    num("tenure_years", a.tenure_years);
    num("open_deals_value", a.open_deals_value);
    num("days_since_last_meeting", a.days_since_last_meeting);
    num("active_contacts", a.active_contacts);
    if (a.exec_sponsor >= 0) j["has_exec_sponsor"] = a.exec_sponsor == 1;
    num("avg_days_to_pay", a.avg_days_to_pay);
    if (a.has_nps) num("nps", a.nps);
    num("support_tickets_open", a.support_tickets_open);
    out.push_back(std::move(j));
  }
  return out;
}

Status RunBench(const RuleSet& rules, const BenchOptions& options, BenchReport* report) {
  const RuleSet::Impl& rs = RuleSetAccess::Get(rules);
  BenchData data;
  if (options.generate > 0) {
    GenerateInto(rs, options.generate, options.seed, &data);
  } else if (!options.accounts_path.empty()) {
    if (Status st = ReadInto(rs, options.accounts_path, &data); !st.ok()) return st;
  } else {
    return Status::Error("the benchmark needs accounts: a file or a number to generate");
  }
  const size_t n = data.n;
  const size_t width = data.width;
  jl::Evaluator ev;
  std::vector<jl::Value> record(rs.record_size(), jl::Value::Absent());
  internal::CoreResult core;
  std::vector<Compact> results(n);
  auto run = [&](size_t i) -> Status {
    std::memcpy(static_cast<void*>(record.data()), &data.slots[i * width],
                width * sizeof(jl::Value));
    for (size_t k = width; k < record.size(); ++k) record[k] = jl::Value::Absent();
    return rs.Core(ev, record, &core);
  };
  size_t warmup = std::min<size_t>(options.warmup, n);
  for (size_t i = 0; i < warmup; ++i) {
    if (Status st = run(i); !st.ok()) return st;
  }
  double cpu_start = ProcessCpuSeconds();
  auto start = std::chrono::steady_clock::now();
  for (size_t i = 0; i < n; ++i) {
    Status st = run(i);
    if (!st.ok()) return st;
    results[i] = {core.score, core.tasks, core.tier};
  }
  auto stop = std::chrono::steady_clock::now();
  report->cpu_seconds = ProcessCpuSeconds() - cpu_start;
  report->accounts_per_cpu_s =
      report->cpu_seconds > 0 ? static_cast<double>(n) / report->cpu_seconds : 0;

  report->n = n;
  report->seconds = std::chrono::duration<double>(stop - start).count();
  report->accounts_per_s = report->seconds > 0 ? static_cast<double>(n) / report->seconds : 0;
  uint32_t h = 2166136261u;
  double sum = 0;
  std::map<std::string, int64_t> tiers;
  std::string line;
  for (size_t i = 0; i < n; ++i) {
    const Compact& r = results[i];
    const jl::Value& id = data.slots[i * width + static_cast<size_t>(rs.slot_id)];
    h = internal::FoldDigestLine(rs, id.as_string(), r.score, r.tier, r.tasks, line, h);
    sum += r.score;
    ++tiers[rs.tiers[static_cast<size_t>(r.tier)].id];
  }
  report->digest = internal::Hex32(h);
  report->sum_score = sum;
  report->tiers.assign(tiers.begin(), tiers.end());
  return Status();
}

json BenchReport::ToJson() const {
  json t = json::object();
  for (const auto& [id, count] : tiers) t[id] = count;
  return {{"n", n},
          {"seconds", seconds},
          {"accounts_per_s", accounts_per_s},
          {"digest", digest},
          {"sum_score", sum_score},
          {"tiers", t},
          {"cpu_seconds", cpu_seconds},
          {"accounts_per_cpu_s", accounts_per_cpu_s}};
}

std::string BenchReport::ToText() const {
  std::ostringstream out;
  char rate[64];
  std::snprintf(rate, sizeof(rate), "%.0f", accounts_per_s);
  char cpu_rate[64];
  std::snprintf(cpu_rate, sizeof(cpu_rate), "%.0f", accounts_per_cpu_s);
  out << n << " accounts in " << seconds << " s: " << rate << " accounts/s (" << cpu_rate
      << " per CPU second)\n";
  out << "digest " << digest << ", sum of scores " << internal::FormatNumber(sum_score) << "\n";
  out << "tiers:";
  for (const auto& [id, count] : tiers) out << " " << id << "=" << count;
  out << "\n";
  return out.str();
}

}  // namespace kam::rules
