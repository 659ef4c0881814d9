// Tasks: idempotent writes by kam_task_key (upsert mode or search-then-create mode), search by
// key, completion.
#include "tasks.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <mutex>
#include <set>

#include "client_impl.h"
#include "concurrent.h"
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
  std::lock_guard resolving(impl_->task_mode_mu);  // one read of the property, not one per caller
  {
    std::lock_guard lock(impl_->auth_mu);
    if (impl_->resolved_task_mode) return *impl_->resolved_task_mode;
  }
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
  std::lock_guard lock(impl_->auth_mu);
  impl_->resolved_task_mode = unique ? TaskKeyMode::kUpsert : TaskKeyMode::kSearchCreate;
  return *impl_->resolved_task_mode;
}

void HubSpotClient::NoteTaskKeyUnique(bool unique) {
  std::lock_guard lock(impl_->auth_mu);
  if (impl_->resolved_task_mode) return;
  impl_->resolved_task_mode = unique ? TaskKeyMode::kUpsert : TaskKeyMode::kSearchCreate;
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
  // A task found by its key may have lost (or never got) its company link: a crash between a
  // create and its association, or a failed association. Linking it again is harmless.
  std::vector<std::pair<std::string, std::string>> found_links;  // (task id, company id)
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
      if (!t.company_id.empty()) found_links.emplace_back(*found, t.company_id);
    } else {
      to_write.push_back(t);
    }
  }
  // Only a found task that lacks its company link is linked (and reported as linked): one
  // association read per 1,000 found tasks. If that read fails, every found task is linked
  // again (harmless) and reported as linked.
  if (!found_links.empty()) {
    std::vector<std::string> found_ids;
    for (const auto& [task, company] : found_links) found_ids.push_back(task);
    auto links = impl_->ReadAssociations("tasks", "companies", found_ids);
    if (links.ok()) {
      std::vector<std::pair<std::string, std::string>> orphans;
      for (const auto& [task, company] : found_links) {
        const auto& have = (*links)[task];
        if (std::find(have.begin(), have.end(), company) == have.end()) {
          orphans.emplace_back(task, company);
        }
      }
      found_links = std::move(orphans);
    } else if (links.error().code == ErrorCode::kUnauthenticated ||
               links.error().code == ErrorCode::kCancelled) {
      return links.error();
    }
    std::set<std::string> relinked;
    for (const auto& [task, company] : found_links) relinked.insert(task);
    for (const auto& [key, outcome] : by_key) {
      if (relinked.count(outcome.task_id)) result.linked_keys.insert(key);
    }
  }

  const std::string objects = impl_->paths.Objects("tasks");
  const std::string create_target = objects + "/batch/create";
  const std::string upsert_target = objects + "/batch/upsert";
  const int max_attempts = impl_->MaxAttempts();
  // Chunks run concurrently; each fills its own outcomes, merged under `mu`.
  std::mutex mu;
  std::optional<Error> fatal;  // unauthenticated or cancelled: the whole call fails
  std::vector<std::pair<std::string, std::string>> to_associate = found_links;  // (task, company)
  using Outcomes = std::map<std::string, TaskWriteOutcome>;
  auto merge = [&](Outcomes& local, std::vector<std::pair<std::string, std::string>>* links,
                   const std::optional<Error>& stop) {
    std::lock_guard lock(mu);
    for (auto& [k, o] : local) by_key[k] = std::move(o);
    if (links) to_associate.insert(to_associate.end(), links->begin(), links->end());
    if (stop && !fatal) fatal = stop;
  };
  auto stops = [](const Error& e) {
    return e.code == ErrorCode::kUnauthenticated || e.code == ErrorCode::kCancelled;
  };

  // Upsert on the unique key, then the association is created separately (the upsert input has
  // no `associations`, CRM_API A6). Safe to repeat: retried on faults and 207s.
  auto upsert_chunk = [&](const std::vector<TaskSpec>& chunk, Outcomes& local,
                          std::vector<std::pair<std::string, std::string>>& links,
                          std::optional<Error>& stop) {
    std::map<std::string, std::string> company_of;
    for (const auto& t : chunk) company_of[t.key] = t.company_id;
    std::vector<TaskSpec> pending = chunk;
    for (int round = 1; !pending.empty(); ++round) {
      auto r = impl_->CallParsed<internal::BatchResponse>(
          "POST", upsert_target, internal::BuildTaskUpsertBody(pending), true, false,
          internal::ParseBatchResponse);
      if (!r.ok()) {
        if (stops(r.error())) stop = r.error();
        for (const auto& t : pending) local[t.key] = {t.key, "", false, r.error()};
        return;
      }
      const auto& resp = r->second;
      std::set<std::string> answered;
      for (const auto& o : resp.results) {
        auto k = o.Get("kam_task_key");
        if (!k) continue;
        answered.insert(*k);
        local[*k] = {*k, o.id, o.is_new.value_or(true), std::nullopt};
        if (!company_of[*k].empty()) links.emplace_back(o.id, company_of[*k]);
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
        if (be && be->error.retryable && round < max_attempts) {
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
        e.endpoint = "POST " + upsert_target;
        local[t.key] = {t.key, "", false, e};
      }
      if (again.empty()) return;
      if (Status s = impl_->transport->AwaitRetry(round); !s.ok()) {
        for (const auto& t : again) local[t.key] = {t.key, "", false, s.error()};
        return;
      }
      pending = std::move(again);
    }
  };

  const auto chunks = internal::Chunk(to_write, 100);
  if (*mode == TaskKeyMode::kUpsert) {
    // One call per 100 tasks: a batch create with the association to the company inline. The
    // unique key makes it safe to repeat: a create that was applied although its answer was
    // lost fails the repeat with 409 CONFLICT, and those tasks then go through the upsert (which
    // finds them) and the separate association create (harmless when it exists).
    internal::ForEachConcurrently(chunks.size(), impl_->Concurrency(), [&](std::size_t i) {
      Outcomes local;
      std::vector<std::pair<std::string, std::string>> links;
      std::optional<Error> stop;
      std::vector<TaskSpec> pending = chunks[i];
      std::vector<TaskSpec> via_upsert;
      for (int round = 1; !pending.empty(); ++round) {
        auto r = impl_->CallParsed<internal::BatchResponse>(
            "POST", create_target, internal::BuildTaskCreateBody(pending), true, false,
            internal::ParseBatchResponse);
        if (!r.ok()) {
          const Error& e = r.error();
          if (stops(e)) {
            stop = e;
            for (const auto& t : pending) local[t.key] = {t.key, "", false, e};
          } else if (e.code == ErrorCode::kConflict) {
            via_upsert = pending;  // some key exists already
          } else {
            for (const auto& t : pending) local[t.key] = {t.key, "", false, e};
          }
          break;
        }
        const auto& resp = r->second;
        std::set<std::string> answered;
        for (const auto& o : resp.results) {
          auto k = o.Get("kam_task_key");
          if (!k) continue;
          answered.insert(*k);
          local[*k] = {*k, o.id, true, std::nullopt};
        }
        // Errors of a create name input indexes, not keys.
        const internal::BatchError* conflict = nullptr;
        const internal::BatchError* retryable = nullptr;
        const internal::BatchError* other = nullptr;
        for (const auto& be : resp.errors) {
          if (be.error.code == ErrorCode::kConflict) {
            conflict = &be;
          } else if (be.error.retryable) {
            retryable = &be;
          } else {
            other = &be;
          }
        }
        std::vector<TaskSpec> again;
        for (const auto& t : pending) {
          if (answered.count(t.key)) continue;
          if (conflict || (retryable && round >= max_attempts)) {
            via_upsert.push_back(t);  // the upsert settles it either way
          } else if (retryable) {
            again.push_back(t);  // not processed: create again (the key guards duplicates)
          } else {
            Error e;
            e.code = ErrorCode::kInternal;
            e.message = "task " + t.key + " was not created";
            if (other) e = other->error;
            e.endpoint = "POST " + create_target;
            local[t.key] = {t.key, "", false, e};
          }
        }
        if (again.empty()) break;
        if (Status s = impl_->transport->AwaitRetry(round); !s.ok()) {
          for (const auto& t : again) local[t.key] = {t.key, "", false, s.error()};
          break;
        }
        pending = std::move(again);
      }
      if (!via_upsert.empty() && !stop) upsert_chunk(via_upsert, local, links, stop);
      merge(local, &links, stop);
    });
    if (fatal) return *fatal;
  } else {
    internal::ForEachConcurrently(chunks.size(), impl_->Concurrency(), [&](std::size_t ci) {
      Outcomes local;
      std::optional<Error> stop;
      std::vector<TaskSpec> pending = chunks[ci];
      for (int round = 1; !pending.empty(); ++round) {
        // A create is not safe to repeat blindly: no transport retries on 5xx/timeouts/bad
        // bodies. When its outcome is unknown the keys are searched before creating again.
        auto r = impl_->CallParsed<internal::BatchResponse>(
            "POST", create_target, internal::BuildTaskCreateBody(pending), false, false,
            internal::ParseBatchResponse);
        std::vector<TaskSpec> doubt;  // may exist: search
        std::vector<TaskSpec> again;  // certainly not created: create again
        std::optional<Error> cause;
        if (!r.ok()) {
          const Error& e = r.error();
          if (stops(e)) {
            stop = e;
            break;
          }
          cause = e;
          // Sent and maybe applied (a transport that does not say so: any 5xx or no answer).
          if (e.outcome_unknown || e.http_status >= 500 || e.http_status == 0) {
            doubt = pending;
          } else if (e.retryable && round < max_attempts) {
            again = pending;  // refused without acting (e.g. 429 after the transport's retries)
          } else {
            for (const auto& t : pending) local[t.key] = {t.key, "", false, e};
          }
        } else {
          const auto& resp = r->second;
          std::set<std::string> answered;
          for (const auto& o : resp.results) {
            auto k = o.Get("kam_task_key");
            if (!k) continue;
            answered.insert(*k);
            local[*k] = {*k, o.id, true, std::nullopt};
          }
          for (const auto& t : pending) {
            if (answered.count(t.key)) continue;
            // Errors of a create name input indexes, not keys: take the first error.
            Error e;
            e.code = ErrorCode::kInternal;
            e.message = "task " + t.key + " was not created";
            if (!resp.errors.empty()) e = resp.errors.front().error;
            e.endpoint = "POST " + create_target;
            if (e.retryable) {
              cause = e;
              doubt.push_back(t);  // the CRM says not processed; search anyway, it is cheap
            } else {
              local[t.key] = {t.key, "", false, e};
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
              local[t.key] = {t.key, "", false, x};
            }
          } else {
            std::map<std::string, std::string> id_of;
            for (const auto& o : *found) {
              if (auto k = o.Get("kam_task_key")) id_of.emplace(*k, o.id);
            }
            for (const auto& t : doubt) {
              if (auto it = id_of.find(t.key); it != id_of.end()) {
                local[t.key] = {t.key, it->second, true, std::nullopt};
              } else {
                again.push_back(t);
              }
            }
          }
        }
        if (again.empty()) break;
        if (round >= max_attempts) {
          for (const auto& t : again) {
            Error x = *cause;
            x.retryable = true;
            x.code = ErrorCode::kUnavailable;
            x.message +=
                "; task " + t.key + " is not created (checked by key), the next run creates it";
            local[t.key] = {t.key, "", false, x};
          }
          break;
        }
        if (Status s = impl_->transport->AwaitRetry(round); !s.ok()) {
          for (const auto& t : again) local[t.key] = {t.key, "", false, s.error()};
          break;
        }
        pending = std::move(again);
      }
      merge(local, nullptr, stop);
    });
    if (fatal) return *fatal;
  }

  // Associate what the upsert fallback wrote and the tasks found by key (in both modes;
  // repeating an existing association is harmless).
  const std::string assoc = impl_->paths.AssociationsBatch("tasks", "companies", "create");
  const auto assoc_chunks = internal::Chunk(to_associate, 100);
  std::vector<std::optional<Error>> assoc_errors(assoc_chunks.size());
  internal::ForEachConcurrently(assoc_chunks.size(), impl_->Concurrency(), [&](std::size_t i) {
    auto j = impl_->Call("POST", assoc, internal::BuildTaskAssociationBody(assoc_chunks[i]), true);
    if (!j.ok()) {
      assoc_errors[i] = j.error();
      return;
    }
    const Json errors = j->is_object() ? j->value("errors", Json::array()) : Json::array();
    if (errors.is_array() && !errors.empty()) {
      Error x;
      x.code = ErrorCode::kInternal;
      x.message = "associating a task with its company failed: " +
                  (errors[0].is_object() ? errors[0].value("message", "") : std::string());
      x.category = errors[0].is_object() ? errors[0].value("category", "") : "";
      x.retryable = true;
      assoc_errors[i] = x;  // the failing pair is not always named: the whole chunk
    }
  });
  std::map<std::string, Error> failed_tasks;  // task id -> error
  for (std::size_t i = 0; i < assoc_chunks.size(); ++i) {
    if (!assoc_errors[i]) continue;
    for (const auto& [task, company] : assoc_chunks[i])
      failed_tasks.emplace(task, *assoc_errors[i]);
  }
  for (auto& [key, outcome] : by_key) {
    auto f = failed_tasks.find(outcome.task_id);
    if (f == failed_tasks.end() || outcome.error) continue;
    Error e = f->second;
    e.message = "task " + key + " was written but not associated with its company: " + e.message +
                " (the next write repeats the association)";
    outcome.error = e;
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
