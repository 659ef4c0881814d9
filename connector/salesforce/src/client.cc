// SalesforceClient: construction, queries and paging, the Account pull, record reads and
// collection writes, limits and usage. Auth and the call helper live in auth.cc; facts,
// tasks and provisioning in facts.cc, tasks.cc, provision.cc.
#include <algorithm>
#include <unordered_set>

#include "client_impl.h"
#include "kam/http/encoding.h"
#include "soql.h"
#include "time_format.h"

namespace kam::salesforce {

using internal::Json;
using kam::http::Method;

namespace {

constexpr std::size_t kCollectionMax = 200;  // records per /composite/sobjects call

Error Annotated(Error e, const std::string& what) {
  e.message = what + ": " + e.message;
  return e;
}

}  // namespace

kam::http::ClientOptions DefaultHttpOptions() {
  kam::http::ClientOptions o;
  o.retry.retry_statuses = {429, 500, 502, 503, 504};
  o.rate_limit.initial_max = 0;  // no per-second window: only the daily reserve applies
  o.rate_limit.daily_reserve_share = 0.10;
  o.max_connections = 4;
  o.user_agent = "kam-addin/0.1 (salesforce)";
  return o;
}

// ---- Queries ---------------------------------------------------------------------------------

Result<internal::QueryPage> SalesforceClient::Impl::QueryPage(const std::string& soql,
                                                              bool query_all,
                                                              const std::string& next_records_url,
                                                              int batch_size) {
  CallSpec spec;
  spec.idempotent = true;
  if (!next_records_url.empty()) {
    spec.path = next_records_url;
    spec.endpoint = query_all ? "GET /queryAll/{locator}" : "GET /query/{locator}";
  } else {
    spec.path =
        DataPath(query_all ? "/queryAll" : "/query") + "?q=" + kam::http::PercentEncode(soql);
    spec.endpoint = query_all ? "GET /queryAll" : "GET /query";
  }
  if (batch_size > 0) {
    spec.headers.emplace_back("Sforce-Query-Options",
                              "batchSize=" + std::to_string(std::clamp(batch_size, 200, 2000)));
  }
  auto j = CallJson(spec);
  if (!j.ok()) {
    Error e = j.error();
    if (e.error_code == "MALFORMED_QUERY" || e.error_code == "INVALID_FIELD" ||
        e.error_code == "INVALID_TYPE") {
      e.message += "; the query was: " + soql.substr(0, 500) +
                   (e.error_code == "INVALID_FIELD"
                        ? " (a field of the rule file's mapping may not exist, or the "
                          "integration user lacks field-level security on it)"
                        : "");
    }
    return e;
  }
  try {
    return internal::ParseQueryPage(*j);
  } catch (const std::exception& ex) {
    return BadAnswer(spec.endpoint, ex.what());
  }
}

Result<std::vector<Record>> SalesforceClient::Impl::QueryAll(const std::string& soql,
                                                             bool query_all) {
  std::vector<Record> out;
  std::string next;
  while (true) {
    auto page = QueryPage(soql, query_all, next, 2000);
    if (!page.ok()) return page.error();
    for (auto& r : page->records) out.push_back(std::move(r));
    if (page->done || page->next_records_url.empty()) break;
    next = page->next_records_url;
  }
  return out;
}

Result<std::vector<Record>> SalesforceClient::Impl::QueryIn(const std::string& soql_template,
                                                            const std::vector<std::string>& values,
                                                            int64_t* queries) {
  auto chunks =
      internal::ChunkInQueries(soql_template, values, options.max_query_chars, options.max_in_ids);
  if (!chunks.ok()) return chunks.error();
  std::vector<Record> out;
  for (const auto& soql : *chunks) {
    auto rows = QueryAll(soql, false);
    if (!rows.ok()) return rows.error();
    if (queries) ++*queries;
    for (auto& r : *rows) out.push_back(std::move(r));
  }
  return out;
}

// ---- Collection writes -----------------------------------------------------------------------

Result<std::vector<SalesforceClient::Impl::WriteOutcome>> SalesforceClient::Impl::WriteCollection(
    const CollectionWrite& write, std::size_t count,
    const std::function<std::string(std::size_t begin, std::size_t end)>& body, int64_t* calls) {
  std::vector<WriteOutcome> out(count);
  auto stops = [](const Error& e) {
    return e.error_class == ErrorClass::kAuth || e.error_class == ErrorClass::kQuota ||
           e.error_class == ErrorClass::kCancelled;
  };
  for (std::size_t begin = 0; begin < count; begin += kCollectionMax) {
    const std::size_t end = std::min(count, begin + kCollectionMax);
    CallSpec spec;
    spec.method = write.method;
    spec.path = write.path;
    spec.endpoint = write.endpoint;
    spec.idempotent = write.idempotent;
    spec.body = body(begin, end);
    auto j = CallJson(spec);
    if (calls) ++*calls;
    if (!j.ok()) {
      const Error& e = j.error();
      if (begin == 0 && stops(e)) return e;
      const std::size_t last = stops(e) ? count : end;
      for (std::size_t i = begin; i < last; ++i) out[i].error = e;
      if (stops(e)) break;
      continue;
    }
    std::vector<internal::CollectionResult> results;
    try {
      results = internal::ParseCollectionResults(*j);
    } catch (const std::exception& ex) {
      return BadAnswer(write.endpoint, ex.what());
    }
    for (std::size_t i = begin; i < end; ++i) {
      WriteOutcome& o = out[i];
      if (i - begin >= results.size()) {
        Error e = BadAnswer(write.endpoint, "fewer results than records");
        e.error_class = ErrorClass::kRetryable;
        e.message = "record " + std::to_string(i) + " is missing from the answer of " +
                    write.endpoint + "; it is written again on the next sync";
        o.error = e;
        continue;
      }
      const auto& r = results[i - begin];
      o.id = r.id;
      o.created = r.created;
      if (!r.success) {
        Error e = internal::ErrorFromApiErrors(r.errors, 0, write.endpoint);
        if (e.message.empty()) e.message = "failed without an error code";
        o.error = std::move(e);
      }
    }
  }
  return out;
}

// ---- SalesforceClient ------------------------------------------------------------------------

SalesforceClient::SalesforceClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SalesforceClient::~SalesforceClient() = default;

Result<std::unique_ptr<SalesforceClient>> SalesforceClient::Create(SalesforceOptions options) {
  auto impl = std::make_unique<Impl>();
  while (!options.instance_url.empty() && options.instance_url.back() == '/') {
    options.instance_url.pop_back();
  }
  if (options.api_version.empty()) options.api_version = kDefaultApiVersion;
  if (options.api_version.front() == 'v') options.api_version.erase(0, 1);
  options.http.base_url =
      !options.auth.login_url.empty() ? options.auth.login_url : options.instance_url;
  if (options.http.base_url.empty()) {
    Error e;
    e.message = "neither salesforce.login_url nor salesforce.instance_url is set";
    return e;
  }
  auto http = kam::http::Client::Create(options.http);
  if (!http.ok()) {
    Error e;
    e.message = "cannot set up the Salesforce HTTP client: " + http.error().message;
    return e;
  }
  // Hosts other than the base URL (the instance, the login host) must pass the same rules.
  if (!options.instance_url.empty()) {
    kam::http::ClientOptions check = options.http;
    check.base_url = options.instance_url;
    if (auto c = kam::http::Client::Create(check); !c.ok()) {
      Error e;
      e.message = "salesforce.instance_url is not usable: " + c.error().message;
      return e;
    }
  }
  impl->http = std::move(*http);
  impl->instance_url = options.instance_url;
  impl->options = std::move(options);
  if (impl->options.task_key_mode != TaskKeyMode::kAuto) {
    impl->resolved_task_mode = impl->options.task_key_mode;
  }
  return std::unique_ptr<SalesforceClient>(new SalesforceClient(std::move(impl)));
}

const SalesforceOptions& SalesforceClient::options() const { return impl_->options; }

Status SalesforceClient::Authenticate() {
  if (impl_->access_token.empty()) return impl_->FetchToken();
  return {};
}

std::string SalesforceClient::instance_url() const { return impl_->instance_url; }

Result<std::string> SalesforceClient::OrgId() {
  if (Status s = impl_->EnsureToken(); !s.ok()) return s.error();
  // ".../id/00Dxx0000001gPLEAY/005xx000001SwiUAAS": the org is the second-last segment.
  const std::string& id = impl_->identity_url;
  const std::size_t last = id.rfind('/');
  if (last != std::string::npos && last > 0) {
    const std::size_t prev = id.rfind('/', last - 1);
    std::string org = id.substr(prev + 1, last - prev - 1);
    if (org.rfind("00D", 0) == 0) return org;
  }
  auto rows = impl_->QueryAll("SELECT Id FROM Organization", false);
  if (!rows.ok()) return rows.error();
  if (rows->empty()) return BadAnswer("GET /query", "no Organization record");
  return rows->front().id;
}

Result<std::vector<std::string>> SalesforceClient::ListDeletedAccounts(int64_t since_ms) {
  std::string soql = "SELECT Id FROM Account WHERE IsDeleted = true";
  if (since_ms > 0) soql += " AND SystemModstamp >= " + internal::SoqlDateTime(since_ms);
  auto rows = impl_->QueryAll(soql + " ORDER BY SystemModstamp, Id", true);
  if (!rows.ok()) return rows.error();
  std::vector<std::string> out;
  for (const auto& r : *rows) out.push_back(r.id);
  return out;
}

Result<PullSummary> SalesforceClient::PullAccounts(const Cursor& since, const PullOptions& options,
                                                   const PageCallback& on_page) {
  PullOptions o = options;
  o.fields.insert(o.fields.begin(), "OwnerId");
  return PullRecords("Account", since, o, on_page);
}

Result<PullSummary> SalesforceClient::PullRecords(const std::string& sobject, const Cursor& since,
                                                  const PullOptions& options,
                                                  const PageCallback& on_page) {
  if (!internal::IsFieldName(sobject)) {
    Error e;
    e.message = "'" + sobject + "' is not a Salesforce object name";
    return e;
  }
  for (const auto& f : options.fields) {
    if (!internal::IsFieldName(f)) {
      Error e;
      e.message = "'" + f + "' is not a Salesforce field name (check the rule file mapping)";
      return e;
    }
  }
  PullSummary summary;
  summary.cursor = since;
  const int window = std::max(1, options.window_records);
  // The first window starts overlap_ms before the cursor, without an id (>=), or right after
  // the cursor when there is no overlap; later windows continue strictly after the last
  // (SystemModstamp, Id) read.
  Cursor position = since;
  if (since.modstamp_ms > 0 && options.overlap_ms > 0) {
    position = {std::max<int64_t>(1, since.modstamp_ms - options.overlap_ms), ""};
  }
  std::unordered_set<std::string> delivered;  // id|modstamp within this run
  bool delivered_any_page = false;
  while (true) {
    const std::string soql =
        internal::PullQuery(sobject, options.fields, position, options.include_deleted, window,
                            options.until_ms);
    ++summary.queries;
    int64_t rows = 0;
    std::string next;
    Cursor last = position;
    while (true) {
      auto page = impl_->QueryPage(soql, options.include_deleted, next, options.batch_size);
      if (!page.ok()) return page.error();
      AccountPage out;
      out.total_hint = page->total_size;
      for (auto& r : page->records) {
        ++rows;
        auto stamp = internal::ParseTimeMs(r.Text("SystemModstamp").value_or(""));
        if (!stamp) return BadAnswer("GET /query", "a " + sobject + " without a SystemModstamp");
        last = Cursor{*stamp, r.id};
        if (!delivered.insert(r.id + "|" + std::to_string(*stamp)).second) {
          ++out.duplicates_skipped;
          continue;
        }
        if (r.IsDeleted()) {
          out.deleted_ids.push_back(r.id);
        } else {
          out.accounts.push_back(std::move(r));
        }
      }
      // The cursor never goes back (the overlap re-reads older records).
      if (last.modstamp_ms > summary.cursor.modstamp_ms ||
          (last.modstamp_ms == summary.cursor.modstamp_ms && last.id > summary.cursor.id)) {
        summary.cursor = last;
      }
      out.cursor = summary.cursor;
      const bool more = !page->done && !page->next_records_url.empty();
      if (!page->records.empty() || !delivered_any_page) {
        out.page_number = ++summary.pages;
        summary.accounts += static_cast<int64_t>(out.accounts.size());
        summary.deleted += static_cast<int64_t>(out.deleted_ids.size());
        summary.duplicates_skipped += out.duplicates_skipped;
        delivered_any_page = true;
        if (on_page) {
          if (Status s = on_page(out); !s.ok()) return s.error();
        }
      }
      if (!more) break;
      next = page->next_records_url;
    }
    if (rows < window) break;  // the window was not full: nothing is left
    position = last;
  }
  impl_->Log(kam::http::LogLevel::kInfo,
             sobject + " pull: " + std::to_string(summary.accounts) + " live, " +
                 std::to_string(summary.deleted) + " deleted, " + std::to_string(summary.pages) +
                 " pages in " + std::to_string(summary.queries) + " query windows");
  return summary;
}

Result<std::vector<Record>> SalesforceClient::ReadRecords(const std::string& sobject,
                                                          const std::vector<std::string>& ids,
                                                          const std::vector<std::string>& fields) {
  return ReadRecordsWhere(sobject, "Id", ids, fields);
}

Result<std::vector<Record>> SalesforceClient::ReadRecordsWhere(
    const std::string& sobject, const std::string& key_field,
    const std::vector<std::string>& values, const std::vector<std::string>& fields) {
  std::string select = "Id";
  for (const auto& f : fields) {
    if (!internal::IsFieldName(f) || !internal::IsFieldName(sobject)) {
      Error e;
      e.message = "'" + sobject + "." + f + "' is not a Salesforce field name";
      return e;
    }
    if (f != "Id") select += ", " + f;
  }
  if (!internal::IsFieldName(key_field)) {
    Error e;
    e.message = "'" + sobject + "." + key_field + "' is not a Salesforce field name";
    return e;
  }
  return impl_->QueryIn(
      "SELECT " + select + " FROM " + sobject + " WHERE " + key_field + " IN ({in})", values);
}

Result<std::vector<Record>> SalesforceClient::Query(const std::string& soql, bool query_all) {
  return impl_->QueryAll(soql, query_all);
}

Result<WriteResult> SalesforceClient::UpdateRecords(const std::string& sobject,
                                                    const std::vector<RecordUpdate>& updates) {
  WriteResult out;
  Impl::CollectionWrite write;
  write.method = Method::kPatch;
  write.path = impl_->DataPath("/composite/sobjects");
  write.endpoint = "PATCH /composite/sobjects";
  write.idempotent = true;  // the same values again change nothing
  auto outcomes = impl_->WriteCollection(
      write, updates.size(),
      [&](std::size_t b, std::size_t e) {
        return internal::BuildCollectionUpdateBody(
            sobject, std::vector<RecordUpdate>(updates.begin() + static_cast<std::ptrdiff_t>(b),
                                               updates.begin() + static_cast<std::ptrdiff_t>(e)));
      },
      &out.calls);
  if (!outcomes.ok()) return Annotated(outcomes.error(), "updating " + sobject + " records");
  for (std::size_t i = 0; i < updates.size(); ++i) {
    out.records.push_back({updates[i].id, std::move((*outcomes)[i].error)});
  }
  return out;
}

Result<ApiLimits> SalesforceClient::GetLimits() {
  auto j = impl_->GetJson("/limits", "GET /limits");
  if (!j.ok()) return j.error();
  try {
    return internal::ParseLimits(*j);
  } catch (const std::exception& ex) {
    return BadAnswer("GET /limits", ex.what());
  }
}

ApiUsage SalesforceClient::Usage() const {
  const kam::http::Counters c = impl_->http->Snapshot();
  ApiUsage u;
  u.requests = static_cast<int64_t>(c.requests);
  u.retries = static_cast<int64_t>(c.retries);
  u.failed = static_cast<int64_t>(c.failed_calls);
  u.quota_refusals = static_cast<int64_t>(c.quota_refusals);
  u.bytes_sent = static_cast<int64_t>(c.bytes_out);
  u.bytes_received = static_cast<int64_t>(c.bytes_in);
  u.daily_limit = c.daily_limit;
  u.daily_remaining = c.daily_remaining;
  u.token_requests = impl_->token_requests;
  u.latency_p50_ms = c.latency_p50_ms;
  u.latency_p95_ms = c.latency_p95_ms;
  u.latency_p99_ms = c.latency_p99_ms;
  return u;
}

void SalesforceClient::ResetUsage() {
  impl_->http->ResetCounters();
  impl_->token_requests = 0;
}

}  // namespace kam::salesforce
