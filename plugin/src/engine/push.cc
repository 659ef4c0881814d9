// The push phase (DESIGN §4 step 6): every pending outbox entry, typed, in batches of
// config.batch_size — field updates, then task creates, then task completions — each batch's
// outcome stored in one transaction. A failure a retry can fix stays pending for the next run;
// any other is recorded per entry; a failure that stops the run is returned.
//
// Concurrency: up to Crm::WriteConcurrency() batches are in flight at once (HubSpot: the
// client's max_connections, inside its rate limiter), each sent on its own thread. Only the
// CRM call runs there: every answer is stored on the run's thread, one batch per transaction, in
// the order the batches were sent, while the later batches are still in flight. An entry stays
// pending until its batch's answer is stored, so a crash loses nothing (its batch is sent again;
// task keys of an earlier run are searched first). Two batches that touch the same record (the
// same company, or the same task key) are never in flight together: the later one waits until
// the earlier one's answer is stored.
//
// Overlap with the plan (PushSession::Pump, HubSpot): the plan calls Pump after each chunk's
// transaction; it sends the field updates staged since the session began in full batches
// (entries with a larger id than any before the plan, so an earlier run's leftovers, which the
// plan may supersede, wait for Finish) and stores the answers already in, between the plan's
// transactions. Finish sends the rest. The plan of a later chunk never reads what an earlier
// chunk's answers write (other accounts), and task writes wait for the whole plan as before.
//
// Memory: the outbox is read a page at a time per kind, in id order (Store::PendingOutboxAfter);
// only one page and the batches in flight are held, whatever the outbox's size.
#include <array>
#include <chrono>
#include <deque>
#include <future>
#include <limits>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>

#include "kam/store/facts_store.h"
#include "kam/store/store.h"
#include "outbox.h"
#include "phases.h"
#include "run_context.h"

namespace kam::engine {

using nlohmann::json;

namespace {

struct Item {
  store::OutboxEntry entry;
  OutboxWrite write;
};
using Batch = std::vector<Item>;

// Pending entries read from the state file at a time.
constexpr size_t kOutboxPage = 500;

void RecordFailure(RunContext& ctx, const Item& item, const CrmError& err) {
  const store::OutboxEntry& e = item.entry;
  ctx.counters.write_errors++;
  if (ctx.counters.errors.size() < 50) {
    ctx.counters.errors.push_back({e.account_id, e.kind, err.ToString()});
  }
  if (err.retryable) {
    ctx.store->BumpOutboxAttempts(e.id);  // stays pending: the next run retries it
    return;
  }
  ctx.store->MarkOutbox(e.id, store::OutboxState::kError, err.ToString());
  ctx.store->AddAudit(
      {0, ctx.run_id, ctx.now_ms, "write_failed", e.account_id, e.kind, "", "", err.ToString()});
  if (const auto* t = std::get_if<TaskCreateWrite>(&item.write)) {
    // The next run plans it again (by the same key, so a task that did get created is found
    // and not duplicated).
    if (auto row = ctx.store->GetTask(t->spec.key);
        row && row->state == TaskStateName(TaskState::kPlanned)) {
      row->state = std::string(TaskStateName(TaskState::kFailed));
      row->updated_ms = ctx.now_ms;
      ctx.store->UpsertTask(*row);
    }
  }
}

// One batch's answer from the CRM, taken on a sender thread and stored on the run's thread.
// Field updates and completions give a BatchOutcome, task creates one outcome per task.
struct Answer {
  std::optional<CrmResult<BatchOutcome>> records;
  std::optional<CrmResult<std::vector<TaskWriteOutcome>>> tasks;
};

// A call that failed as a whole: an error that stops the run is returned (the batch stays
// pending), any other is recorded for every entry of the batch.
std::optional<OpError> BatchFailed(RunContext& ctx, const Batch& batch, const CrmError& err,
                                   const char* doing) {
  if (err.stops_run) return CrmFailure(err, doing);
  store::Store::Transaction tx(*ctx.store);
  for (const Item& item : batch) RecordFailure(ctx, item, err);
  tx.Commit();
  return std::nullopt;
}

// ---- sending (any thread: reads the batch, calls the CRM, touches nothing else) ----

Answer SendFieldUpdates(Crm& crm, const Batch& batch, int64_t /*run_id*/) {
  std::vector<FieldUpdate> updates;
  updates.reserve(batch.size());
  for (const Item& item : batch) {
    const auto& w = std::get<FieldUpdateWrite>(item.write);
    updates.push_back({w.account_id, w.properties});
  }
  return {crm.WriteFields(updates), std::nullopt};
}

Answer SendTaskCreates(Crm& crm, const Batch& batch, int64_t run_id) {
  std::vector<TaskSpec> specs;
  specs.reserve(batch.size());
  for (const Item& item : batch) {
    const auto& w = std::get<TaskCreateWrite>(item.write);
    specs.push_back(w.spec);
    // Only a key that may already be in the CRM needs the search by key: one planned by an
    // earlier (interrupted) run, retried, re-planned after a failed write, or one the state file
    // cannot vouch for.
    specs.back().in_doubt = w.in_doubt || item.entry.attempts > 0 || item.entry.run_id != run_id;
  }
  return {std::nullopt, crm.WriteTasks(specs)};
}

Answer SendTaskCompletions(Crm& crm, const Batch& batch, int64_t /*run_id*/) {
  std::vector<std::string> ids;
  ids.reserve(batch.size());
  for (const Item& item : batch) ids.push_back(std::get<TaskCompletionWrite>(item.write).task_id);
  return {crm.CompleteTasks(ids), std::nullopt};
}

// The records a batch writes: two batches naming the same one are not in flight together.
std::vector<std::string> RecordsOf(const Batch& batch) {
  std::vector<std::string> out;
  out.reserve(batch.size());
  for (const Item& item : batch) {
    if (const auto* u = std::get_if<FieldUpdateWrite>(&item.write)) {
      out.push_back("company:" + u->account_id);
    } else if (const auto* t = std::get_if<TaskCreateWrite>(&item.write)) {
      out.push_back("task:" + t->spec.key);
    } else {
      out.push_back("task:" + std::get<TaskCompletionWrite>(item.write).task_key);
    }
  }
  return out;
}

// ---- storing (the run's thread only: one transaction per batch) ----

std::optional<OpError> RecordFieldUpdates(RunContext& ctx, const Batch& batch,
                                          const CrmResult<BatchOutcome>& result) {
  if (!result.ok()) return BatchFailed(ctx, batch, result.error(), "writing company fields");
  ctx.Checkpoint("push.update.sent");
  std::map<std::string, const Item*> by_account;
  for (const Item& item : batch) {
    by_account[std::get<FieldUpdateWrite>(item.write).account_id] = &item;
  }
  store::Store& store = *ctx.store;
  store::Store::Transaction tx(store);
  // The CRM's modification time after our write: the next pull recognises the echo (pull.cc).
  store::FactsStore facts(store);
  for (const auto& w : result->written) {
    if (w.modified_ms > 0) facts.SetEcho(w.id, w.modified_ms);
  }
  std::set<std::string> failed_ids;
  for (const auto& f : result->failed) {
    failed_ids.insert(f.id);
    auto it = by_account.find(f.id);
    if (it != by_account.end()) RecordFailure(ctx, *it->second, f.error);
  }
  for (const Item& item : batch) {
    const auto& w = std::get<FieldUpdateWrite>(item.write);
    if (failed_ids.count(w.account_id)) continue;
    for (const auto& [field, value] : w.properties) {
      store.SetWritten(w.account_id, field, {value, value, ctx.now_ms});
      auto old = w.old_values.find(field);
      store.AddAudit({0, ctx.run_id, ctx.now_ms, "update_field", w.account_id, field,
                      old == w.old_values.end() ? "" : old->second, value, ""});
      ctx.counters.fields_written++;
    }
    // The snapshot holds what the CRM now has (the next plan's CRM values), merged in SQL: the
    // stored properties (a few KB with the card) are neither read nor parsed here.
    store.MergeAccountProperties(w.account_id, json(w.properties).dump());
    store.MarkOutbox(item.entry.id, store::OutboxState::kAcked, "");
    ctx.counters.accounts_written++;
  }
  tx.Commit();
  ctx.Checkpoint("push.update.committed");
  return std::nullopt;
}

std::optional<OpError> RecordTaskCreates(RunContext& ctx, const Batch& batch,
                                         const CrmResult<std::vector<TaskWriteOutcome>>& result) {
  if (!result.ok()) return BatchFailed(ctx, batch, result.error(), "creating tasks");
  ctx.Checkpoint("push.tasks.sent");
  std::map<std::string, const Item*> by_key;
  for (const Item& item : batch) by_key[std::get<TaskCreateWrite>(item.write).spec.key] = &item;
  store::Store& store = *ctx.store;
  store::Store::Transaction tx(store);
  for (const auto& o : *result) {
    auto it = by_key.find(o.key);
    if (it == by_key.end()) continue;
    const Item& item = *it->second;
    const auto& w = std::get<TaskCreateWrite>(item.write);
    if (o.error || o.task_id.empty()) {
      CrmError err = o.error.value_or(CrmError{});
      if (!o.error) err.message = "the CRM returned no task id";
      RecordFailure(ctx, item, err);
      continue;
    }
    store::TaskRow t = store.GetTask(o.key).value_or(store::TaskRow{});
    t.task_key = o.key;
    if (t.account_id.empty()) t.account_id = w.spec.account_id;
    if (t.rule_id.empty()) t.rule_id = w.rule_id;
    t.crm_task_id = o.task_id;
    t.state = std::string(TaskStateName(TaskState::kOpen));
    t.updated_ms = ctx.now_ms;
    store.UpsertTask(t);
    std::string detail = o.created ? "created" : "already in the CRM (found by its key)";
    if (o.linked) detail += "; linked to its company";
    store.AddAudit({0, ctx.run_id, ctx.now_ms, "create_task", w.spec.account_id, o.key, "",
                    o.task_id, detail});
    store.MarkOutbox(item.entry.id, store::OutboxState::kAcked, "");
    if (o.created) {
      ctx.counters.tasks_created++;
    } else {
      ctx.counters.tasks_existing++;
    }
    if (o.linked) ctx.counters.tasks_linked++;
  }
  tx.Commit();
  ctx.Checkpoint("push.tasks.committed");
  return std::nullopt;
}

std::optional<OpError> RecordTaskCompletions(RunContext& ctx, const Batch& batch,
                                             const CrmResult<BatchOutcome>& result) {
  if (!result.ok()) return BatchFailed(ctx, batch, result.error(), "completing tasks");
  ctx.Checkpoint("push.complete.sent");
  std::map<std::string, const Item*> by_task;
  for (const Item& item : batch) by_task[std::get<TaskCompletionWrite>(item.write).task_id] = &item;
  store::Store& store = *ctx.store;
  store::Store::Transaction tx(store);
  std::set<std::string> failed;
  for (const auto& f : result->failed) {
    auto it = by_task.find(f.id);
    if (it == by_task.end()) continue;
    if (f.error.code == StatusCode::kNotFound) continue;  // deleted by a person: nothing to do
    failed.insert(f.id);
    RecordFailure(ctx, *it->second, f.error);
  }
  for (const auto& [id, item] : by_task) {
    if (failed.count(id)) continue;
    const auto& w = std::get<TaskCompletionWrite>(item->write);
    if (auto t = store.GetTask(w.task_key)) {
      t->state = std::string(TaskStateName(TaskState::kCompleted));
      t->updated_ms = ctx.now_ms;
      store.UpsertTask(*t);
    }
    store.AddAudit({0, ctx.run_id, ctx.now_ms, "complete_task", w.account_id, w.task_key, "open",
                    "completed", ""});
    store.MarkOutbox(item->entry.id, store::OutboxState::kAcked, "");
    ctx.counters.tasks_completed++;
  }
  tx.Commit();
  ctx.Checkpoint("push.complete.committed");
  return std::nullopt;
}

std::optional<OpError> RecordAnswer(RunContext& ctx, WriteKind kind, const Batch& batch,
                                    const Answer& answer) {
  switch (kind) {
    case WriteKind::kFieldUpdate:
      return RecordFieldUpdates(ctx, batch, *answer.records);
    case WriteKind::kTaskCreate:
      return RecordTaskCreates(ctx, batch, *answer.tasks);
    case WriteKind::kTaskCompletion:
      return RecordTaskCompletions(ctx, batch, *answer.records);
  }
  return std::nullopt;
}

const char* BeforeSendCheckpoint(WriteKind kind) {
  switch (kind) {
    case WriteKind::kFieldUpdate:
      return "push.update.before_send";
    case WriteKind::kTaskCreate:
      return "push.tasks.before_send";
    case WriteKind::kTaskCompletion:
      return "push.complete.before_send";
  }
  return "push.before_send";
}

}  // namespace

void CheckPropertiesOnce(RunContext& ctx) {
  if (ctx.properties_checked) return;
  // A check that passed recently for the same writeback (run_record.cc) is not repeated.
  if (ctx.PropertyCheckStillValid()) {
    ctx.properties_checked = true;
    return;
  }
  auto r = ctx.crm->VerifyProperties(ctx.WritebackSpec());
  if (!r.ok()) throw CrmFailure(r.error(), "checking the add-in's CRM properties");
  std::string missing;
  for (const auto& it : r->items) {
    if (it.outcome == ProvisionItem::Outcome::kUnchanged) continue;
    missing += "\n  " + it.name + ": " + it.detail;
  }
  if (!missing.empty()) {
    throw OpError(StatusCode::kFailedPrecondition,
                  "the CRM lacks properties the add-in writes; nothing was written. Run `kam "
                  "provision` (it creates them and says what it cannot create):" +
                      missing,
                  "provision");
  }
  ctx.properties_checked = true;
  ctx.RememberPropertyCheck(r->task_key_unique);
}

// The push's state: the batches in flight, oldest first (their answers are stored in this
// order), the records they touch, and the error that stopped it. Each batch owns its entries
// (shared with the thread sending it), so only the batches in flight and one page of the outbox
// are in memory, not the whole outbox.
struct PushSession::Impl {
  using Sender = Answer (*)(Crm&, const Batch&, int64_t);
  static constexpr std::array<Sender, 3> kSenders = {SendFieldUpdates, SendTaskCreates,
                                                     SendTaskCompletions};
  struct InFlight {
    WriteKind kind;
    std::shared_ptr<const Batch> batch;
    std::vector<std::string> records;
    std::future<Answer> answer;
  };

  explicit Impl(RunContext& c)
      : ctx(c),
        store(*c.store),
        batch_size(static_cast<size_t>(std::max(1, c.cfg.batch_size))),
        window(static_cast<size_t>(std::max(1, c.crm->WriteConcurrency()))),
        // One at a time: the call runs on the run's thread when its answer is taken.
        launch(window > 1 ? std::launch::async : std::launch::deferred) {}

  // Entries that cannot be read are recorded, never sent, never silently dropped.
  void RecordUnreadable(const std::vector<std::pair<store::OutboxEntry, Status>>& bad) {
    if (bad.empty()) return;
    store::Store::Transaction tx(store);
    for (const auto& [e, st] : bad) {
      ctx.counters.write_errors++;
      if (ctx.counters.errors.size() < 50) {
        ctx.counters.errors.push_back({e.account_id, e.kind, st.message()});
      }
      store.MarkOutbox(e.id, store::OutboxState::kError, st.message());
      store.AddAudit(
          {0, ctx.run_id, ctx.now_ms, "write_failed", e.account_id, e.kind, "", "", st.message()});
    }
    tx.Commit();
    done += bad.size();
  }

  // Stores the oldest batch's answer (waiting for it).
  void SettleOldest() {
    InFlight f = std::move(flight.front());
    flight.pop_front();
    const Answer answer = f.answer.get();
    for (const auto& r : f.records) busy.erase(busy.find(r));
    auto err = RecordAnswer(ctx, f.kind, *f.batch, answer);
    if (err) {
      if (!stop) stop = std::move(err);  // the batch stays pending
      return;
    }
    done += f.batch->size();
    ctx.Progress("push", done, std::max<uint64_t>(total, done));
  }

  // Stores the answers already in, oldest first, without waiting.
  void SettleReady() {
    while (!flight.empty() &&
           flight.front().answer.wait_for(std::chrono::seconds(0)) == std::future_status::ready) {
      SettleOldest();
    }
  }

  bool Overlaps(const std::vector<std::string>& records) const {
    for (const auto& r : records) {
      if (busy.count(r)) return true;
    }
    return false;
  }

  // Sends one batch once fewer than `limit` are in flight and no batch in flight touches its
  // records. Returns false when the push stops (an error that stops the run, or a cancel).
  bool Send(WriteKind kind, Batch&& items, size_t limit) {
    if (ctx.host.IsCancelled()) {
      cancelled = true;  // what is in flight is stored first
      return false;
    }
    CheckPropertiesOnce(ctx);  // before the first write (remembered: once per run)
    auto batch = std::make_shared<const Batch>(std::move(items));
    std::vector<std::string> records = RecordsOf(*batch);
    while (!flight.empty() && (flight.size() >= limit || Overlaps(records))) SettleOldest();
    if (stop) return false;
    ctx.counters.write_batches++;
    ctx.Checkpoint(BeforeSendCheckpoint(kind));
    for (const auto& r : records) busy.insert(r);
    Sender sender = kSenders[static_cast<size_t>(kind)];
    Crm& crm = *ctx.crm;
    const int64_t run_id = ctx.run_id;
    auto answer =
        std::async(launch, [&crm, sender, batch, run_id] { return sender(crm, *batch, run_id); });
    flight.push_back({kind, std::move(batch), std::move(records), std::move(answer)});
    if (window == 1) SettleOldest();
    return !stop;
  }

  // Sends the pending entries of `kind` with an id in (after, until], in id order, read a page
  // at a time (an entry's id only grows, so one scan by id reads each pending entry once, while
  // the batches before it are still in flight). Batches are cut from the readable entries in
  // order, as they were when the whole outbox was read at once. Returns false when the push
  // stops.
  bool SendKind(WriteKind kind, int64_t after, int64_t until) {
    Batch next;
    next.reserve(batch_size);
    bool go_on = true;
    while (go_on) {
      auto page = store.PendingOutboxAfter(WriteKindName(kind), after, kOutboxPage);
      if (page.empty() || page.front().id > until) break;
      after = page.back().id;
      std::vector<std::pair<store::OutboxEntry, Status>> bad;
      for (auto& e : page) {
        if (e.id > until) {
          go_on = false;
          break;
        }
        auto w = ParseOutboxEntry(e.kind, e.account_id, e.payload_json);
        if (!w.ok()) {
          bad.emplace_back(std::move(e), w.status());
          continue;
        }
        e.payload_json.clear();  // parsed: the typed write holds it
        e.payload_json.shrink_to_fit();
        next.push_back({std::move(e), std::move(w.value())});
        if (next.size() < batch_size) continue;
        go_on = Send(kind, std::move(next), window);
        next = Batch();
        next.reserve(batch_size);
        if (!go_on) break;
      }
      RecordUnreadable(bad);
    }
    if (!stop && !cancelled && !next.empty()) return Send(kind, std::move(next), window);
    return !stop && !cancelled;
  }

  RunContext& ctx;
  store::Store& store;
  const size_t batch_size;
  const size_t window;
  const std::launch launch;
  std::deque<InFlight> flight;
  std::multiset<std::string> busy;  // the records of the batches in flight
  std::optional<OpError> stop;      // the first error that stops the run
  bool cancelled = false;
  uint64_t done = 0;
  uint64_t total = 0;
  // The plan's field updates sent early (Pump): the entries with an id in (pump_from,
  // pump_after] have been read; older ones (an earlier run's) wait for Finish.
  bool pumping = false;
  int64_t pump_from = 0;
  int64_t pump_after = 0;
};

PushSession::PushSession(RunContext& ctx) : impl_(std::make_unique<Impl>(ctx)) {}

// A run that throws (a crash checkpoint, a cancel, an error) waits here for the batches in
// flight (std::async's futures); their answers are not stored, so their entries stay pending
// for the next run.
PushSession::~PushSession() = default;

void PushSession::StartPumping() {
  Impl& p = *impl_;
  if (p.window <= 1) return;  // one call at a time: nothing to overlap, everything in Finish
  p.pumping = true;
  p.pump_from = p.store.MaxOutboxId();
  p.pump_after = p.pump_from;
}

void PushSession::Pump() {
  Impl& p = *impl_;
  if (!p.pumping || p.stop || p.cancelled) return;
  p.SettleReady();
  // Full batches only, while fewer than WriteConcurrency() are in flight (no more, so that the
  // plan's chunk and the batches in flight stay within the memory of a push alone; Pump is called
  // often enough to keep the window full). A batch that would wait for room is left for the
  // next call.
  while (!p.stop && !p.cancelled && p.flight.size() < p.window) {
    auto page = p.store.PendingOutboxAfter(WriteKindName(WriteKind::kFieldUpdate), p.pump_after,
                                           p.batch_size);
    if (page.size() < p.batch_size) return;  // the rest with the next chunk, or in Finish
    p.pump_after = page.back().id;
    Batch batch;
    batch.reserve(page.size());
    std::vector<std::pair<store::OutboxEntry, Status>> bad;
    for (auto& e : page) {
      auto w = ParseOutboxEntry(e.kind, e.account_id, e.payload_json);
      if (!w.ok()) {
        bad.emplace_back(std::move(e), w.status());
        continue;
      }
      e.payload_json.clear();
      e.payload_json.shrink_to_fit();
      batch.push_back({std::move(e), std::move(w.value())});
    }
    p.RecordUnreadable(bad);
    if (!batch.empty() && !p.Send(WriteKind::kFieldUpdate, std::move(batch), p.window)) return;
  }
}

std::optional<OpError> PushSession::Finish() {
  Impl& p = *impl_;
  if (!p.stop && !p.cancelled) {
    const int64_t pending = p.store.CountOutbox(store::OutboxState::kPending);
    if (pending > 0) CheckPropertiesOnce(p.ctx);
    p.total = p.done + static_cast<uint64_t>(std::max<int64_t>(pending, 0)) +
              p.flight.size() * p.batch_size;
    if (pending > 0) {
      // Entries of a kind this version does not know: first, as when the whole outbox was read.
      for (const std::string& kind : p.store.PendingOutboxKinds()) {
        if (WriteKindFrom(kind)) continue;
        int64_t after = 0;
        for (;;) {
          auto page = p.store.PendingOutboxAfter(kind, after, kOutboxPage);
          if (page.empty()) break;
          after = page.back().id;
          std::vector<std::pair<store::OutboxEntry, Status>> bad;
          for (auto& e : page) {
            Status st =
                ParseOutboxEntry(e.kind, e.account_id, e.payload_json).status();  // unknown kind
            bad.emplace_back(std::move(e), std::move(st));
          }
          p.RecordUnreadable(bad);
        }
      }
      // Field updates (those an earlier run left, then the plan's not yet sent), then task
      // creates, then completions.
      constexpr int64_t kAll = std::numeric_limits<int64_t>::max();
      bool go_on = p.pumping ? p.SendKind(WriteKind::kFieldUpdate, 0, p.pump_from) &&
                                   p.SendKind(WriteKind::kFieldUpdate, p.pump_after, kAll)
                             : p.SendKind(WriteKind::kFieldUpdate, 0, kAll);
      go_on = go_on && p.SendKind(WriteKind::kTaskCreate, 0, kAll);
      go_on = go_on && p.SendKind(WriteKind::kTaskCompletion, 0, kAll);
    }
  }
  while (!p.flight.empty()) p.SettleOldest();
  if (p.cancelled) ctx().CheckCancelled("the push");
  if (p.stop) {
    if (p.stop->status().code() == StatusCode::kCancelled) ctx().CheckCancelled("the push");
    return p.stop;
  }
  return std::nullopt;
}

RunContext& PushSession::ctx() { return impl_->ctx; }

std::optional<OpError> Push(RunContext& ctx) { return PushSession(ctx).Finish(); }

}  // namespace kam::engine
