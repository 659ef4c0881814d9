// The outbox's typed writes (DESIGN §4 step 5): a planned CRM write is a FieldUpdate, a
// TaskCreate or a TaskCompletion. The diff returns them, StagePlan stores them in the state
// file's outbox table (one JSON form per kind, outbox.cc) in one transaction with the results,
// and the push (push.cc) reads them back typed. Task states are an enum with one to/from-text
// pair, the text being what the state file's tasks table holds.
#ifndef KAM_ENGINE_OUTBOX_H_
#define KAM_ENGINE_OUTBOX_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "crm.h"
#include "status.h"

namespace kam::engine {

// Where a task of the add-in stands, as the state file records it.
enum class TaskState : uint8_t {
  kPlanned,    // in the outbox, not confirmed by the CRM yet
  kOpen,       // in the CRM (its id known)
  kCompleted,  // completed by the add-in (condition cleared, company gone)
  kFailed,     // the CRM refused it; planned again by the same key
};
std::string_view TaskStateName(TaskState state);  // "planned", "open", "completed", "failed"
std::optional<TaskState> TaskStateFrom(std::string_view name);

// Company fields to write, with the CRM's values they replace (for the audit).
struct FieldUpdateWrite {
  std::string account_id;
  std::string account_name;                       // for people; not stored
  std::map<std::string, std::string> properties;  // property -> our value
  std::map<std::string, std::string> old_values;  // property -> the CRM's value before
};

// A task to make exist by its key.
struct TaskCreateWrite {
  TaskSpec spec;  // spec.key is the idempotency key, spec.account_id the company
  std::string rule_id;
  std::string account_name;  // for people; not stored
  bool auto_close = false;
  // The key may already be in the CRM (a failed or unconfirmed write, or a key the state file
  // cannot vouch for): the port searches it before creating.
  bool in_doubt = false;
};

// A task of the add-in to mark completed.
struct TaskCompletionWrite {
  std::string task_key;
  std::string task_id;  // the CRM's id
  std::string account_id;
  std::string rule_id;  // for people; not stored
  std::string reason;
};

using OutboxWrite = std::variant<FieldUpdateWrite, TaskCreateWrite, TaskCompletionWrite>;

// The kind column of the outbox table: "update", "create_task", "complete_task".
enum class WriteKind : uint8_t { kFieldUpdate, kTaskCreate, kTaskCompletion };
std::string_view WriteKindName(WriteKind kind);
std::optional<WriteKind> WriteKindFrom(std::string_view name);
WriteKind KindOf(const OutboxWrite& write);
const std::string& AccountOf(const OutboxWrite& write);

// The one JSON form of a write in the outbox table's payload column. Field updates:
// {"properties":{..},"old":{..}}; task creates: {"task":{key, company_id, owner_id, subject, body,
// status, priority, due_ms},"rule_id":..,"in_doubt":..}; completions: {"task_id", "task_key",
// "reason"}. Payloads written by earlier versions read back the same.
std::string OutboxPayload(const OutboxWrite& write);
// Parses a stored entry; an unreadable payload is an error naming the entry (kInternal).
StatusOr<OutboxWrite> ParseOutboxEntry(std::string_view kind, std::string_view account_id,
                                       std::string_view payload);
// The outbox table's unique key for `write` planned by run `run_id` (planning the same write
// twice in one run keeps one entry).
std::string IdempotencyKey(const OutboxWrite& write, const std::string& payload, int64_t run_id);

// FNV-1a over 64 bits with the offset basis 1469598103934665603, which is the standard FNV-64
// basis (14695981039346656037) with its last digit missing. Every task key already in a CRM was
// made with this basis: changing it would re-create every open task under a new key. Keep it.
uint64_t Fnv1a64ShortBasis(std::string_view s);
std::string Hex64(uint64_t v);
// "kam-" + 16 hex digits of Fnv1a64ShortBasis(portal|account|rule|period), the period being the
// number of whole cooldowns since 1970 at `now_ms` (no cooldown: 0, one period for ever).
std::string TaskKey(const std::string& portal, const std::string& account, const std::string& rule,
                    int cooldown_days, int64_t now_ms);

}  // namespace kam::engine

#endif  // KAM_ENGINE_OUTBOX_H_
