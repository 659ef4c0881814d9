// The add-in's open tasks as the CRM sees them: with a per-owner task budget, the tasks a KAM
// completed in the CRM (or re-assigned) are recorded before the diff, so the budget counts what
// is really open and new suggestions get the room (see phases.h, RefreshOpenTaskStatus).
#include <map>
#include <string>
#include <vector>

#include "crm.h"
#include "kam/addin.h"
#include "kam/rules/rules.h"
#include "kam/store/store.h"
#include "outbox.h"
#include "phases.h"
#include "run_context.h"

namespace kam::engine {

TaskStatusRefresh RefreshOpenTaskStatus(RunContext& ctx) {
  TaskStatusRefresh out;
  if (!ctx.rules->max_open_tasks_per_owner()) return out;  // no budget: nothing depends on it
  // The add-in's tasks the state file holds open (created, with their CRM id).
  std::map<std::string, store::TaskRow> open;
  ctx.store->ForEachTask([&](const store::TaskRow& t) {
    if (t.state == TaskStateName(TaskState::kOpen) && !t.crm_task_id.empty()) {
      open.emplace(t.task_key, t);
    }
  });
  if (open.empty()) return out;
  std::vector<std::string> keys;
  keys.reserve(open.size());
  for (const auto& [key, t] : open) keys.push_back(key);
  out.checked = static_cast<int64_t>(keys.size());
  ctx.counters.task_status_keys = out.checked;
  auto found = ctx.crm->FindTasks(keys);
  if (!found.ok()) {
    if (found.error().stops_run) throw CrmFailure(found.error(), "reading the status of tasks");
    // Not fatal: the budget counts the state file's view, as without this step.
    ctx.Log(KAM_LOG_WARN, "could not read the status of the add-in's open tasks (" +
                              found.error().ToString() +
                              "); the task budget counts them as open this run");
    out.failed = true;
    return out;
  }
  store::Store& store = *ctx.store;
  store::Store::Transaction tx(store);
  for (const CrmTask& task : *found) {
    auto it = open.find(task.key);
    // Only the task the state file knows under this key (a key found on another task is not
    // ours to judge), and never a task a search did not return: search indexes lag behind
    // writes, so "not found" is no proof that a person deleted it.
    if (it == open.end() || it->second.crm_task_id != task.id) continue;
    store::TaskRow row = it->second;
    bool changed = false;
    if (task.status == CrmTaskStatus::kCompleted) {
      row.state = TaskStateName(TaskState::kCompleted);
      ++out.completed;
      changed = true;
      store.AddAudit({0, ctx.run_id, ctx.now_ms, "task_completed_in_crm", row.account_id,
                      row.task_key, "open", "completed",
                      "completed in the CRM by a person; no longer counts against the task "
                      "budget of its owner"});
    }
    if (!task.owner_id.empty() && task.owner_id != row.owner_id) {
      store.AddAudit({0, ctx.run_id, ctx.now_ms, "task_reassigned_in_crm", row.account_id,
                      row.task_key, row.owner_id, task.owner_id,
                      "re-assigned in the CRM; counts against its new owner's task budget"});
      row.owner_id = task.owner_id;
      ++out.reassigned;
      changed = true;
    }
    if (changed) {
      row.updated_ms = ctx.now_ms;
      store.UpsertTask(row);
    }
  }
  tx.Commit();
  if (out.completed > 0 || out.reassigned > 0) {
    ctx.Log(KAM_LOG_INFO, std::to_string(out.completed) + " of the add-in's " +
                              std::to_string(out.checked) +
                              " open tasks were completed in the CRM, " +
                              std::to_string(out.reassigned) + " re-assigned");
  }
  return out;
}

}  // namespace kam::engine
