// Tasks: idempotent writes by kam_task_key (upsert mode or search-then-create mode), search by
// key, completion.
#include "tasks.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <set>

#include "client_impl.h"
#include "pull.h"
#include "time_util.h"

namespace kam::hubspot {
namespace internal {
namespace {

std::string Lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

Json AssociationToCompany(const std::string& company_id) {
  return Json{{"to", {{"id", company_id}}},
              {"types", Json::array({{{"associationCategory", "HUBSPOT_DEFINED"},
                                      {"associationTypeId", kTaskToCompanyType}}})}};
}

}  // namespace

Json TaskProperties(const TaskSpec& t) {
  Json p = {{"hs_timestamp", FormatIsoMs(t.due_ms)},
            {"hs_task_subject", t.subject},
            {"hs_task_body", t.body},
            {"hs_task_status", t.status},
            {"hs_task_priority", t.priority},
            {"hs_task_type", t.type},
            {"kam_task_key", t.key}};
  if (!t.owner_id.empty()) p["hubspot_owner_id"] = t.owner_id;
  return p;
}

std::string BuildTaskUpsertBody(const std::vector<TaskSpec>& tasks) {
  Json inputs = Json::array();
  for (const auto& t : tasks) {
    inputs.push_back(
        {{"idProperty", "kam_task_key"}, {"id", t.key}, {"properties", TaskProperties(t)}});
  }
  return Json{{"inputs", std::move(inputs)}}.dump();
}

std::string BuildTaskCreateBody(const std::vector<TaskSpec>& tasks) {
  Json inputs = Json::array();
  for (const auto& t : tasks) {
    Json in = {{"properties", TaskProperties(t)}, {"associations", Json::array()}};
    if (!t.company_id.empty()) in["associations"].push_back(AssociationToCompany(t.company_id));
    inputs.push_back(std::move(in));
  }
  return Json{{"inputs", std::move(inputs)}}.dump();
}

std::string BuildTaskAssociationBody(
    const std::vector<std::pair<std::string, std::string>>& task_company) {
  Json inputs = Json::array();
  for (const auto& [task, company] : task_company) {
    inputs.push_back({{"from", {{"id", task}}},
                      {"to", {{"id", company}}},
                      {"types", Json::array({{{"associationCategory", "HUBSPOT_DEFINED"},
                                              {"associationTypeId", kTaskToCompanyType}}})}});
  }
  return Json{{"inputs", std::move(inputs)}}.dump();
}

Result<std::vector<SearchRequest>> BuildTaskKeySearches(const std::vector<std::string>& keys,
                                                        const std::vector<std::string>& properties,
                                                        int max_body_chars) {
  std::vector<SearchRequest> out;
  auto make = [&](std::vector<std::string> values) {
    SearchRequest r;
    r.groups = {{Filter{"kam_task_key", "IN", "", std::move(values)}}};
    r.properties = properties;
    r.limit = 200;
    return r;
  };
  // Body size = the body with an empty IN list + each value's JSON text + a comma between.
  const size_t base = BuildSearchBody(make({})).size();
  auto value_size = [](const std::string& v) { return Json(v).dump().size(); };
  std::vector<std::string> current;
  size_t current_size = base;
  std::set<std::string> unique;
  for (const auto& k : keys) {
    std::vector<std::string> forms = {k};
    if (Lower(k) != k) forms.push_back(Lower(k));
    std::vector<std::string> add;
    size_t add_size = 0;
    for (auto& f : forms) {
      if (unique.insert(f).second) {
        add_size += value_size(f) + 1;
        add.push_back(f);
      }
    }
    if (add.empty()) continue;
    if (base + add_size > static_cast<size_t>(max_body_chars)) {
      Error e;
      e.code = ErrorCode::kInvalidArgument;
      e.message = "task key '" + k.substr(0, 80) + "' is too long to search for";
      return e;
    }
    if (current.size() + add.size() > 100 ||
        current_size + add_size > static_cast<size_t>(max_body_chars)) {
      out.push_back(make(std::move(current)));
      current.clear();
      current_size = base;
    }
    current.insert(current.end(), add.begin(), add.end());
    current_size += add_size;
  }
  if (!current.empty()) out.push_back(make(std::move(current)));
  return out;
}

}  // namespace internal

using internal::Json;

Result<TaskKeyMode> HubSpotClient::ResolveTaskKeyMode() {
  if (impl_->resolved_task_mode) return *impl_->resolved_task_mode;
  const std::string target = impl_->paths.Properties("tasks") + "/kam_task_key";
  auto j = impl_->Call("GET", target, "", true);
  if (!j.ok()) {
    Error e = j.error();
    if (e.http_status == 404) {
      e.code = ErrorCode::kNotFound;
      e.message = "the task property kam_task_key does not exist; run `kam provision` first";
    }
    return e;
  }
  const bool unique = j->is_object() && j->value("hasUniqueValue", false);
  impl_->resolved_task_mode = unique ? TaskKeyMode::kUpsert : TaskKeyMode::kSearchCreate;
  return *impl_->resolved_task_mode;
}

Result<std::vector<CrmObject>> HubSpotClient::FindTasksByKey(
    const std::vector<std::string>& keys, const std::vector<std::string>& extra_properties) {
  std::vector<std::string> props = {"kam_task_key", "hs_task_status", "hs_task_subject",
                                    "hubspot_owner_id", "hs_timestamp"};
  for (const auto& p : extra_properties) {
    if (std::find(props.begin(), props.end(), p) == props.end()) props.push_back(p);
  }
  auto searches = internal::BuildTaskKeySearches(keys, props, impl_->options.max_search_body_chars);
  if (!searches.ok()) return searches.error();
  std::vector<CrmObject> out;
  std::set<std::string> ids;
  for (auto& req : *searches) {
    req.after = 0;
    while (true) {
      auto page = impl_->Search("tasks", req);
      if (!page.ok()) return page.error();
      for (auto& o : page->results) {
        if (ids.insert(o.id).second) out.push_back(std::move(o));
      }
      if (!page->after || page->results.empty()) break;
      req.after += static_cast<int64_t>(page->results.size());
      if (req.after >= internal::kSearchCap) break;
    }
  }
  return out;
}

Result<BatchWriteResult> HubSpotClient::CompleteTasks(const std::vector<std::string>& task_ids) {
  std::vector<CompanyUpdate> updates;
  for (const auto& id : task_ids) updates.push_back({id, {{"hs_task_status", "COMPLETED"}}});
  auto r = impl_->BatchUpdate("tasks", updates);
  if (r.ok() && r->written.empty() && !r->failed.empty()) {
    const Error& e = r->failed.front().error;
    if (e.code == ErrorCode::kUnauthenticated || e.code == ErrorCode::kCancelled) return e;
  }
  return r;
}

Result<TaskWriteResult> HubSpotClient::WriteTasks(const std::vector<TaskSpec>& tasks) {
  TaskWriteResult result;
  auto mode = ResolveTaskKeyMode();
  if (!mode.ok()) return mode.error();
  result.mode_used = *mode;

  // One outcome per input; repeated keys in the input share the first one's outcome.
  std::map<std::string, size_t> first_index;
  std::vector<TaskSpec> unique;
  for (const auto& t : tasks) {
    result.tasks.push_back({t.key, "", false, std::nullopt});
    if (t.key.empty()) {
      Error e;
      e.code = ErrorCode::kInvalidArgument;
      e.message = "a task without kam_task_key cannot be written idempotently";
      result.tasks.back().error = e;
      continue;
    }
    if (first_index.emplace(t.key, unique.size()).second) unique.push_back(t);
  }
  std::map<std::string, TaskWriteOutcome> by_key;

  // Which keys exist already (both modes): existing tasks are left as they are (a KAM may have
  // edited or completed them).
  // Only keys that may exist are searched (TaskSpec::in_doubt); a key seen in doubt anywhere in
  // the input is searched.
  std::set<std::string> doubtful;
  for (const auto& t : tasks) {
    if (t.in_doubt) doubtful.insert(t.key);
  }
  std::vector<std::string> keys;
  for (const auto& t : unique) {
    if (doubtful.count(t.key)) keys.push_back(t.key);
  }
  std::map<std::string, std::string> existing_id;  // key -> task id
  if (!keys.empty()) {
    auto existing = FindTasksByKey(keys);
    if (!existing.ok()) return existing.error();
    for (const auto& o : *existing) {
      if (auto k = o.Get("kam_task_key")) existing_id.emplace(*k, o.id);
    }
  }
  std::map<std::string, std::string> lower_existing;
  for (const auto& [k, id] : existing_id) {
    std::string l = k;
    for (auto& c : l) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    lower_existing.emplace(l, id);
  }
  std::vector<TaskSpec> to_write;
  for (const auto& t : unique) {
    std::optional<std::string> found;
    if (auto it = existing_id.find(t.key); it != existing_id.end()) {
      found = it->second;
    } else {
      std::string l = t.key;
      for (auto& c : l) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (auto lit = lower_existing.find(l); lit != lower_existing.end()) found = lit->second;
    }
    if (found) {
      by_key[t.key] = {t.key, *found, false, std::nullopt};
    } else {
      to_write.push_back(t);
    }
  }

  const std::string objects = impl_->paths.Objects("tasks");
  if (*mode == TaskKeyMode::kUpsert) {
    std::vector<std::pair<std::string, std::string>> to_associate;
    std::map<std::string, std::string> company_of;
    for (const auto& t : to_write) company_of[t.key] = t.company_id;
    const std::string target = objects + "/batch/upsert";
    for (const auto& chunk : internal::Chunk(to_write, 100)) {
      std::vector<TaskSpec> pending = chunk;
      for (int round = 1; !pending.empty(); ++round) {
        // Upsert keyed by a unique property is safe to repeat: malformed answers, 5xx and
        // dropped connections are retried, and so are the inputs a 207 did not process.
        auto r = impl_->CallParsed<internal::BatchResponse>(
            "POST", target, internal::BuildTaskUpsertBody(pending), true, false,
            internal::ParseBatchResponse);
        if (!r.ok()) {
          if (r.error().code == ErrorCode::kUnauthenticated ||
              r.error().code == ErrorCode::kCancelled) {
            return r.error();
          }
          for (const auto& t : pending) by_key[t.key] = {t.key, "", false, r.error()};
          break;
        }
        const auto& resp = r->second;
        std::set<std::string> answered;
        for (const auto& o : resp.results) {
          auto k = o.Get("kam_task_key");
          if (!k) continue;
          answered.insert(*k);
          by_key[*k] = {*k, o.id, o.is_new.value_or(true), std::nullopt};
          if (!company_of[*k].empty()) to_associate.emplace_back(o.id, company_of[*k]);
        }
        std::map<std::string, const internal::BatchError*> error_of;
        for (const auto& be : resp.errors) {
          for (const auto& id : be.ids) error_of.emplace(id, &be);
        }
        std::vector<TaskSpec> again;
        for (const auto& t : pending) {
          if (answered.count(t.key)) continue;
          auto it = error_of.find(t.key);
          const internal::BatchError* be = it != error_of.end()  ? it->second
                                           : resp.errors.empty() ? nullptr
                                                                 : &resp.errors.front();
          if (be && be->error.retryable && round < impl_->MaxAttempts()) {
            again.push_back(t);
            continue;
          }
          Error e;
          if (be) {
            e = be->error;
          } else {
            e.code = ErrorCode::kUnavailable;
            e.retryable = true;
            e.message = "task " + t.key +
                        " was not confirmed by the upsert; it is checked by key on the next write";
          }
          e.endpoint = "POST " + target;
          by_key[t.key] = {t.key, "", false, e};
        }
        if (again.empty()) break;
        if (Status s = impl_->transport->AwaitRetry(round); !s.ok()) {
          for (const auto& t : again) by_key[t.key] = {t.key, "", false, s.error()};
          break;
        }
        pending = std::move(again);
      }
    }
    // Associate what the upsert wrote (repeating an existing association is harmless).
    const std::string assoc = impl_->paths.AssociationsBatch("tasks", "companies", "create");
    for (const auto& chunk : internal::Chunk(to_associate, 100)) {
      auto j = impl_->Call("POST", assoc, internal::BuildTaskAssociationBody(chunk), true);
      std::set<std::string> failed_tasks;
      std::optional<Error> err;
      if (!j.ok()) {
        err = j.error();
        for (const auto& [task, company] : chunk) failed_tasks.insert(task);
      } else {
        try {
          const Json& errors = j->value("errors", Json::array());
          for (const auto& e : errors) {
            Error x;
            x.code = ErrorCode::kInternal;
            x.message = "associating a task with its company failed: " + e.value("message", "");
            x.category = e.value("category", "");
            err = x;
            // The failing pair is not always named: mark the whole chunk unconfirmed.
            for (const auto& [task, company] : chunk) failed_tasks.insert(task);
          }
        } catch (const std::exception& ex) {
          return BadAnswer("POST " + assoc, ex.what());
        }
      }
      for (auto& [key, outcome] : by_key) {
        if (failed_tasks.count(outcome.task_id) && !outcome.error) {
          Error e = *err;
          e.message = "task " + key +
                      " was written but not associated with its company: " + e.message +
                      " (the next write repeats the association)";
          outcome.error = e;
        }
      }
    }
  } else {
    const std::string target = objects + "/batch/create";
    for (const auto& chunk : internal::Chunk(to_write, 100)) {
      std::vector<TaskSpec> pending = chunk;
      for (int round = 1; !pending.empty(); ++round) {
        // A create is not safe to repeat blindly: no transport retries on 5xx/timeouts/bad
        // bodies. When its outcome is unknown the keys are searched before creating again.
        auto r = impl_->CallParsed<internal::BatchResponse>(
            "POST", target, internal::BuildTaskCreateBody(pending), false, false,
            internal::ParseBatchResponse);
        std::vector<TaskSpec> doubt;  // may exist: search
        std::vector<TaskSpec> again;  // certainly not created: create again
        std::optional<Error> cause;
        if (!r.ok()) {
          const Error& e = r.error();
          if (e.code == ErrorCode::kUnauthenticated || e.code == ErrorCode::kCancelled) return e;
          cause = e;
          // Sent and maybe applied (a transport that does not say so: any 5xx or no answer).
          if (e.outcome_unknown || e.http_status >= 500 || e.http_status == 0) {
            doubt = pending;
          } else if (e.retryable && round < impl_->MaxAttempts()) {
            again = pending;  // refused without acting (e.g. 429 after the transport's retries)
          } else {
            for (const auto& t : pending) by_key[t.key] = {t.key, "", false, e};
          }
        } else {
          const auto& resp = r->second;
          std::set<std::string> answered;
          for (const auto& o : resp.results) {
            auto k = o.Get("kam_task_key");
            if (!k) continue;
            answered.insert(*k);
            by_key[*k] = {*k, o.id, true, std::nullopt};
          }
          for (const auto& t : pending) {
            if (answered.count(t.key)) continue;
            // Errors of a create name input indexes, not keys: take the first error.
            Error e;
            e.code = ErrorCode::kInternal;
            e.message = "task " + t.key + " was not created";
            if (!resp.errors.empty()) e = resp.errors.front().error;
            e.endpoint = "POST " + target;
            if (e.retryable) {
              cause = e;
              doubt.push_back(t);  // the CRM says not processed; search anyway, it is cheap
            } else {
              by_key[t.key] = {t.key, "", false, e};
            }
          }
        }
        if (!doubt.empty()) {
          std::vector<std::string> keys;
          for (const auto& t : doubt) keys.push_back(t.key);
          auto found = FindTasksByKey(keys);
          if (!found.ok()) {
            for (const auto& t : doubt) {
              Error x = *cause;
              x.outcome_unknown = true;
              x.retryable = true;
              x.message += "; the task may or may not exist yet (the key search failed too: " +
                           found.error().message + "): the next write searches by key first";
              by_key[t.key] = {t.key, "", false, x};
            }
          } else {
            std::map<std::string, std::string> id_of;
            for (const auto& o : *found) {
              if (auto k = o.Get("kam_task_key")) id_of.emplace(*k, o.id);
            }
            for (const auto& t : doubt) {
              if (auto it = id_of.find(t.key); it != id_of.end()) {
                by_key[t.key] = {t.key, it->second, true, std::nullopt};
              } else {
                again.push_back(t);
              }
            }
          }
        }
        if (again.empty()) break;
        if (round >= impl_->MaxAttempts()) {
          for (const auto& t : again) {
            Error x = *cause;
            x.retryable = true;
            x.code = ErrorCode::kUnavailable;
            x.message += "; task " + t.key +
                         " is not created (checked by key), the next run "
                         "creates it";
            by_key[t.key] = {t.key, "", false, x};
          }
          break;
        }
        if (Status s = impl_->transport->AwaitRetry(round); !s.ok()) {
          for (const auto& t : again) by_key[t.key] = {t.key, "", false, s.error()};
          break;
        }
        pending = std::move(again);
      }
    }
  }

  for (size_t i = 0; i < tasks.size(); ++i) {
    if (result.tasks[i].error) continue;
    auto it = by_key.find(tasks[i].key);
    if (it != by_key.end()) {
      result.tasks[i] = it->second;
    } else {
      Error e;
      e.code = ErrorCode::kInternal;
      e.message = "no outcome recorded for task " + tasks[i].key;
      result.tasks[i].error = e;
    }
  }
  // Later duplicates of a key report created=false: only one task was made.
  std::set<std::string> reported;
  for (auto& t : result.tasks) {
    if (!reported.insert(t.key).second) t.created = false;
  }
  return result;
}

}  // namespace kam::hubspot
