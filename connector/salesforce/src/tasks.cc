// Tasks idempotent by KAM_Task_Key__c (CRM_API B7, B8): upsert by external id where the field
// is an External ID, otherwise query by key then insert; completion by key only, so tasks the
// add-in did not create are never touched.
#include <algorithm>
#include <cctype>
#include <map>
#include <set>

#include "client_impl.h"
#include "soql.h"

namespace kam::salesforce {

using internal::Lower;
using kam::http::Method;

namespace {

Fields TaskFields(const TaskSpec& t) {
  Fields f = {{kTaskKeyField, Value::String(t.key)},
              {"Subject", Value::String(t.subject)},
              {"Description", Value::String(t.description)},
              {"Status", Value::String(t.status)},
              {"Priority", Value::String(t.priority)}};
  if (!t.account_id.empty()) f["WhatId"] = Value::String(t.account_id);
  if (!t.owner_id.empty()) f["OwnerId"] = Value::String(t.owner_id);
  if (!t.due_date.empty()) f["ActivityDate"] = Value::String(t.due_date);
  return f;
}

// Salesforce compares text case-insensitively in SOQL: key -> task id, by lower-case key.
std::map<std::string, std::string> IdsByKey(const std::vector<Record>& tasks) {
  std::map<std::string, std::string> out;
  for (const auto& t : tasks) {
    if (auto k = t.Text(kTaskKeyField)) out.emplace(Lower(*k), t.id);
  }
  return out;
}

}  // namespace

Result<TaskKeyMode> SalesforceClient::ResolveTaskKeyMode() {
  if (impl_->resolved_task_mode) return *impl_->resolved_task_mode;
  auto fields = impl_->DescribeFields("Task");
  if (!fields.ok()) return fields.error();
  auto it = fields->find(Lower(kTaskKeyField));
  if (it == fields->end()) {
    Error e;
    e.message = std::string("the Task field ") + kTaskKeyField +
                " does not exist or the integration user cannot see it: run `kam provision` "
                "and grant field-level security on it (README)";
    return e;
  }
  impl_->resolved_task_mode =
      it->second.value("externalId", false) ? TaskKeyMode::kUpsert : TaskKeyMode::kQueryInsert;
  return *impl_->resolved_task_mode;
}

TaskStatuses ChooseTaskStatuses(std::vector<TaskStatusValue> values) {
  TaskStatuses out;
  out.values = std::move(values);
  const TaskStatusValue* open = nullptr;
  const TaskStatusValue* completed = nullptr;
  for (const auto& v : out.values) {
    if (v.value.empty()) continue;
    if (v.closed) {
      if (!completed || (Lower(v.value) == "completed" && Lower(completed->value) != "completed")) {
        completed = &v;
      }
    } else if (!open || (v.is_default && !open->is_default)) {
      open = &v;
    }
  }
  if (open) out.open = open->value;
  if (completed) out.completed = completed->value;
  out.from_org = open || completed;
  return out;
}

Result<TaskStatuses> SalesforceClient::Impl::ReadTaskStatuses() {
  if (task_statuses) return *task_statuses;
  auto rows = QueryAll(
      "SELECT ApiName, MasterLabel, IsClosed, IsDefault, SortOrder FROM TaskStatus "
      "ORDER BY SortOrder",
      false);
  std::vector<TaskStatusValue> values;
  if (!rows.ok()) {
    if (rows.error().error_class != ErrorClass::kPermanent) return rows.error();
    Log(kam::http::LogLevel::kWarn,
        "cannot read the org's Task Status values (" + rows.error().ToString() +
            "): using \"Not Started\" and \"Completed\" (or set salesforce.task_status)");
  } else {
    for (const auto& r : *rows) {
      TaskStatusValue v;
      v.label = r.Text("MasterLabel").value_or("");
      v.value = r.Text("ApiName").value_or("");
      if (v.value.empty()) v.value = v.label;
      v.closed = r.Text("IsClosed").value_or("false") == "true";
      v.is_default = r.Text("IsDefault").value_or("false") == "true";
      values.push_back(std::move(v));
    }
  }
  task_statuses = ChooseTaskStatuses(std::move(values));
  return *task_statuses;
}

Result<std::string> SalesforceClient::Impl::CompletedStatus() {
  if (!options.completed_status.empty()) return options.completed_status;
  auto t = ReadTaskStatuses();
  if (!t.ok()) return t.error();
  return t->completed;
}

Result<TaskStatuses> SalesforceClient::TaskStatusValues() { return impl_->ReadTaskStatuses(); }

Result<std::vector<Record>> SalesforceClient::FindTasksByKey(const std::vector<std::string>& keys) {
  return impl_->QueryIn(internal::TaskByKeyTemplate(), keys);
}

Result<WriteResult> SalesforceClient::CompleteTasks(const std::vector<std::string>& keys) {
  WriteResult out;
  auto found = FindTasksByKey(keys);
  if (!found.ok()) return found.error();
  out.calls = 0;
  std::map<std::string, const Record*> open_by_key;
  for (const auto& t : *found) {
    auto k = t.Text(kTaskKeyField);
    const bool closed = t.Text("IsClosed").value_or("false") == "true" ||
                        t.Text("Status").value_or("") == impl_->options.completed_status;
    if (k && !closed) open_by_key.emplace(Lower(*k), &t);
  }
  std::vector<RecordUpdate> updates;
  std::vector<std::string> update_keys;
  for (const auto& key : keys) {
    auto it = open_by_key.find(Lower(key));
    if (it == open_by_key.end()) continue;
    updates.push_back({it->second->id, {}});
    update_keys.push_back(Lower(key));
    open_by_key.erase(it);  // one update per task even if a key repeats
  }
  WriteResult written;
  if (!updates.empty()) {
    auto status = impl_->CompletedStatus();
    if (!status.ok()) return status.error();
    for (auto& u : updates) u.fields["Status"] = Value::String(*status);
    auto w = UpdateRecords("Task", updates);
    if (!w.ok()) return w.error();
    written = std::move(*w);
  }
  std::map<std::string, std::optional<Error>> by_key;
  for (std::size_t i = 0; i < update_keys.size(); ++i) {
    by_key[update_keys[i]] = written.records[i].error;
  }
  for (const auto& key : keys) {
    auto it = by_key.find(Lower(key));
    out.records.push_back({key, it != by_key.end() ? it->second : std::nullopt});
  }
  out.calls = written.calls;
  return out;
}

Result<WriteResult> SalesforceClient::CompleteTasksById(const std::vector<std::string>& task_ids) {
  auto found = impl_->QueryIn(std::string("SELECT Id, ") + kTaskKeyField +
                                  ", Status, IsClosed FROM Task WHERE Id IN ({in})",
                              task_ids);
  if (!found.ok()) return found.error();
  // Salesforce answers 18-character ids; the input may hold the 15-character form.
  auto find = [&](const std::string& id) -> const Record* {
    for (const auto& r : *found) {
      if (r.id == id || (id.size() == 15 && r.id.compare(0, 15, id) == 0)) return &r;
    }
    return nullptr;
  };
  WriteResult out;
  std::vector<RecordUpdate> updates;
  std::vector<std::size_t> update_index;
  for (const auto& id : task_ids) {
    out.records.push_back({id, std::nullopt});
    const Record* task = find(id);
    Error e;
    e.endpoint = "GET /query";
    if (!task) {
      e.error_code = "NOT_FOUND";
      e.message = "task " + id + " does not exist (deleted, or not visible to the user)";
      out.records.back().error = e;
    } else if (task->Text(kTaskKeyField).value_or("").empty()) {
      e.message = "task " + id + " has no " + kTaskKeyField +
                  ": the add-in did not create it and leaves it alone";
      out.records.back().error = e;
    } else if (task->Text("IsClosed").value_or("false") != "true" &&
               task->Text("Status").value_or("") != impl_->options.completed_status) {
      updates.push_back({task->id, {}});
      update_index.push_back(out.records.size() - 1);
    }
  }
  if (!updates.empty()) {
    auto status = impl_->CompletedStatus();
    if (!status.ok()) return status.error();
    for (auto& u : updates) u.fields["Status"] = Value::String(*status);
    auto w = UpdateRecords("Task", updates);
    if (!w.ok()) return w.error();
    for (std::size_t i = 0; i < updates.size(); ++i) {
      out.records[update_index[i]].error = w->records[i].error;
    }
    out.calls = w->calls;
  }
  return out;
}

Result<TaskWriteResult> SalesforceClient::WriteTasks(const std::vector<TaskSpec>& tasks) {
  TaskWriteResult result;
  auto mode = ResolveTaskKeyMode();
  if (!mode.ok()) return mode.error();
  result.mode_used = *mode;

  // One outcome per input; a repeated key shares the first one's outcome.
  std::vector<TaskSpec> unique;
  std::set<std::string> seen, doubtful;
  for (const auto& t : tasks) {
    if (t.in_doubt) doubtful.insert(Lower(t.key));
    if (!t.key.empty() && seen.insert(Lower(t.key)).second) unique.push_back(t);
  }
  std::map<std::string, TaskOutcome> by_key;  // lower-case key -> outcome

  std::vector<std::string> query_keys;
  for (const auto& t : unique) {
    if (doubtful.count(Lower(t.key))) query_keys.push_back(t.key);
  }
  std::vector<RecordUpdate> links;  // existing tasks without an account
  std::vector<std::string> link_keys;
  if (!query_keys.empty()) {
    auto existing = FindTasksByKey(query_keys);
    if (!existing.ok()) return existing.error();
    std::map<std::string, std::string> account_of;
    for (const auto& t : unique) account_of.emplace(Lower(t.key), t.account_id);
    for (const auto& task : *existing) {
      auto k = task.Text(kTaskKeyField);
      if (!k || by_key.count(Lower(*k))) continue;
      by_key[Lower(*k)] = {*k, task.id, false, {}};
      const std::string& account = account_of[Lower(*k)];
      if (!account.empty() && task.Text("WhatId").value_or("").empty()) {
        links.push_back({task.id, {{"WhatId", Value::String(account)}}});
        link_keys.push_back(Lower(*k));
      }
    }
  }
  if (!links.empty()) {
    auto linked = UpdateRecords("Task", links);
    if (!linked.ok()) return linked.error();
    for (std::size_t i = 0; i < links.size(); ++i) {
      TaskOutcome& o = by_key[link_keys[i]];
      o.linked = linked->records[i].ok();
      if (!o.linked) o.error = linked->records[i].error;
    }
  }
  std::vector<TaskSpec> to_write;
  for (const auto& t : unique) {
    if (!by_key.count(Lower(t.key))) to_write.push_back(t);
  }

  Impl::CollectionWrite write;
  if (*mode == TaskKeyMode::kUpsert) {
    write.method = Method::kPatch;
    write.path = impl_->DataPath(std::string("/composite/sobjects/Task/") + kTaskKeyField);
    write.endpoint = std::string("PATCH /composite/sobjects/Task/") + kTaskKeyField;
    write.idempotent = true;  // keyed by an External ID: safe to repeat
  } else {
    write.method = Method::kPost;
    write.path = impl_->DataPath("/composite/sobjects");
    write.endpoint = "POST /composite/sobjects";
    write.idempotent = false;  // an insert is never repeated blindly
  }
  int64_t calls = 0;
  auto outcomes = impl_->WriteCollection(
      write, to_write.size(),
      [&](std::size_t b, std::size_t e) {
        std::vector<Fields> records;
        for (std::size_t i = b; i < e; ++i) records.push_back(TaskFields(to_write[i]));
        return internal::BuildCollectionBody("Task", records);
      },
      &calls);
  if (!outcomes.ok()) return outcomes.error();

  // Inserts whose outcome is unknown (timeout, 5xx, a record not answered) are looked up by
  // key: found = written; not found = a retryable error, and the next write queries first.
  std::vector<std::string> recheck;
  for (std::size_t i = 0; i < to_write.size(); ++i) {
    const auto& o = (*outcomes)[i];
    if (*mode == TaskKeyMode::kQueryInsert && o.error && o.error->retryable()) {
      recheck.push_back(to_write[i].key);
    }
  }
  std::map<std::string, std::string> found_after;
  if (!recheck.empty()) {
    auto again = FindTasksByKey(recheck);
    if (again.ok()) found_after = IdsByKey(*again);
  }
  for (std::size_t i = 0; i < to_write.size(); ++i) {
    auto& o = (*outcomes)[i];
    const std::string key = Lower(to_write[i].key);
    if (!o.error) {
      by_key[key] = {to_write[i].key, o.id, o.created.value_or(true), {}};
    } else if (auto f = found_after.find(key); f != found_after.end()) {
      by_key[key] = {to_write[i].key, f->second, true, {}};
    } else {
      Error e = *o.error;
      e.message = "task " + to_write[i].key + ": " + e.message;
      if (*mode == TaskKeyMode::kQueryInsert && e.retryable()) {
        e.message += "; it may or may not exist yet: the next write queries its key first";
      }
      by_key[key] = {to_write[i].key, "", false, e};
    }
  }

  std::set<std::string> reported;
  for (const auto& t : tasks) {
    TaskOutcome o{t.key, "", false, {}};
    if (t.key.empty()) {
      Error e;
      e.message = "a task without KAM_Task_Key__c cannot be written idempotently";
      o.error = e;
    } else if (auto it = by_key.find(Lower(t.key)); it != by_key.end()) {
      o = it->second;
      o.key = t.key;
      // Later duplicates of a key report created = false: only one task was made.
      if (!reported.insert(Lower(t.key)).second) o.created = false;
    }
    result.tasks.push_back(std::move(o));
  }
  return result;
}

}  // namespace kam::salesforce
