// JsonLogic compiler and evaluator with json-logic-js semantics (plus the community proposals
// val, exists, ??, throw, try). Rules compile once into typed nodes; `var` paths that a Schema
// knows become record slots, so evaluating a rule on a record of slot values allocates nothing in
// steady state. The generic mode (Apply) takes rule and data as JSON, as the conformance suites do.
#ifndef KAM_JSONLOGIC_JSONLOGIC_H_
#define KAM_JSONLOGIC_JSONLOGIC_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

namespace kam::jsonlogic {

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

// Error types (Error::type). A `throw` uses the thrown value instead: a string is the type
// itself, an object's "type" member is the type; Error::thrown holds the thrown JSON text.
inline constexpr std::string_view kInvalidArguments = "Invalid Arguments";
inline constexpr std::string_view kNaN = "NaN";
inline constexpr std::string_view kUnknownOperator = "Unknown Operator";
inline constexpr std::string_view kExceededDepth = "Exceeded Allowed Depth";  // nesting depth
inline constexpr std::string_view kLimitExceeded = "Limit Exceeded";  // nodes, iterations, sizes
inline constexpr std::string_view kInvalidJson = "Invalid JSON";      // ParseJson only

struct Error {
  std::string type;     // one of the constants above, or the type of a thrown value
  std::string message;  // for people: what failed, where (operator, JSON pointer in the rule)
  std::string thrown;   // JSON text of the value given to `throw`; empty for other errors
};

// A value or an Error. Small on purpose (std::variant); no allocation when it holds a value
// that does not allocate.
template <class T>
class Expected {
 public:
  Expected(T value) : v_(std::move(value)) {}          // NOLINT: implicit by design
  Expected(Error error) : v_(std::move(error)) {}      // NOLINT: implicit by design
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() { return std::get<0>(v_); }
  const T& value() const { return std::get<0>(v_); }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

// ---------------------------------------------------------------------------------------------
// Values (16 bytes). Strings and arrays are views: a Value does not own what it points to.
// ---------------------------------------------------------------------------------------------

enum class Kind : std::uint8_t {
  kAbsent,  // JavaScript `undefined`: a key that is not there (differs from null, see `var`)
  kNull,
  kBool,
  kNumber,  // IEEE double
  kString,  // UTF-8 view
  kArray,   // view of Values (results of map/filter/merge/... live in the Evaluator's scratch)
  kJson,    // view of a JSON array or object (from the data or a rule constant)
};

class Value {
 public:
  constexpr Value() = default;  // absent
  static constexpr Value Absent() { return Value(); }
  static constexpr Value Null() { return Value(Kind::kNull); }
  static constexpr Value Bool(bool b) {
    Value v(Kind::kBool);
    v.u_.b = b;
    return v;
  }
  static constexpr Value Number(double d) {
    Value v(Kind::kNumber);
    v.u_.d = d;
    return v;
  }
  // The characters must stay alive and unchanged while the Value is in use (record slots: for
  // the whole Evaluate call).
  static Value String(std::string_view s) {
    Value v(Kind::kString);
    v.size_ = static_cast<std::uint32_t>(s.size());
    v.u_.s = s.data();
    return v;
  }
  static Value Array(std::span<const Value> items) {
    Value v(Kind::kArray);
    v.size_ = static_cast<std::uint32_t>(items.size());
    v.u_.a = items.data();
    return v;
  }
  // `j` must be a JSON array or object and outlive the Value.
  static Value Json(const nlohmann::json* j) {
    Value v(Kind::kJson);
    v.u_.j = j;
    return v;
  }

  Kind kind() const { return kind_; }
  bool is_absent() const { return kind_ == Kind::kAbsent; }
  bool is_null() const { return kind_ == Kind::kNull; }
  bool is_bool() const { return kind_ == Kind::kBool; }
  bool is_number() const { return kind_ == Kind::kNumber; }
  bool is_string() const { return kind_ == Kind::kString; }
  bool as_bool() const { return u_.b; }        // only when is_bool()
  double as_number() const { return u_.d; }    // only when is_number()
  std::string_view as_string() const { return {u_.s, size_}; }  // only when is_string()
  std::span<const Value> as_array() const { return {u_.a, size_}; }  // only when kArray
  const nlohmann::json* as_json() const { return u_.j; }             // only when kJson

 private:
  constexpr explicit Value(Kind k) : kind_(k) {}
  Kind kind_ = Kind::kAbsent;
  std::uint32_t size_ = 0;
  union U {
    double d;
    bool b;
    const char* s;
    const Value* a;
    const nlohmann::json* j;
  } u_{.d = 0};
};
static_assert(sizeof(Value) == 16);

// JavaScript truthiness: false, 0, -0, NaN, "", null, undefined and [] are falsy (json-logic-js
// treats an empty array as falsy). Objects, including {}, are truthy (see README "Differences").
bool IsTruthy(const Value& v);

// Converts to JSON (absent becomes null). Non-finite numbers become null, as JSON.stringify does.
nlohmann::json ToJson(const Value& v);

// JavaScript Number.prototype.toString(): 1.5 -> "1.5", 1e21 -> "1e+21", -0 -> "0", NaN -> "NaN".
std::string FormatNumber(double d);

// JavaScript Number(string): trims whitespace; "" -> 0; "0x1f", "Infinity"; otherwise NaN unless
// the whole text is a decimal literal.
double ParseNumber(std::string_view s);

// ---------------------------------------------------------------------------------------------
// Limits against hostile rules. Each violation is an Error naming the limit and the value.
// ---------------------------------------------------------------------------------------------

struct Limits {
  std::size_t max_depth = 256;          // nesting of the rule JSON (checked without recursion)
  std::size_t max_nodes = 100'000;      // JSON values in one rule
  std::size_t max_iterations = 1'000'000;  // elements visited by map/filter/reduce/all/... per call
  std::size_t max_string_bytes = 1 << 20;  // longest string a rule may hold or build (cat)
  std::size_t max_array_size = 100'000;    // longest array a rule may hold or build (merge, map)
  std::size_t max_scope_depth = 64;        // nested iterators at run time
};

// ---------------------------------------------------------------------------------------------
// Schema: the record shape for the fast path. Field paths are `var` paths ("account.industry",
// "kam.scores.growth"); each gets a slot index 0..size()-1 in order of Add.
// ---------------------------------------------------------------------------------------------

class Schema {
 public:
  // Returns the slot of `path`, adding it if new.
  int Add(std::string_view path);
  // Returns the slot of `path`, or -1.
  int Find(std::string_view path) const;
  std::size_t size() const { return paths_.size(); }
  const std::string& path(int slot) const { return paths_[static_cast<std::size_t>(slot)]; }
  const std::vector<std::string>& paths() const { return paths_; }

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::vector<std::string> paths_;
  std::unordered_map<std::string, int, Hash, std::equal_to<>> index_;
};

// ---------------------------------------------------------------------------------------------
// Compiled rules
// ---------------------------------------------------------------------------------------------

struct CompileOptions {
  // When set, `var`/`val`/`missing`/`missing_some`/`exists` with constant paths the schema knows
  // read record slots. Paths it does not know are listed in Rule::unknown_paths() and resolve at
  // run time against the JSON data passed to Evaluate (absent when none). The schema is copied
  // where needed; it need not outlive the Rule.
  const Schema* schema = nullptr;
  Limits limits;
};

class Evaluator;
namespace internal {
struct Program;
}

// An immutable compiled rule. Cheap to copy (shared). Thread-safe: many Evaluators may run the
// same Rule at once.
class Rule {
 public:
  Rule();
  // Slots (schema indexes) the rule reads, sorted, without duplicates ("inputs it read").
  std::span<const int> slots_read() const;
  // Constant var paths the schema did not know (every path when compiled without a schema),
  // sorted, without duplicates. The rules validator reports these as "no mapping provides".
  std::span<const std::string> unknown_paths() const;
  // True when some path is computed at run time ({"var": {"cat": ...}}), so slots_read() and
  // unknown_paths() may be incomplete.
  bool has_dynamic_paths() const;
  // True when the whole rule folded to a constant at compile time.
  bool is_constant() const;
  std::size_t node_count() const;

 private:
  friend Expected<Rule> Compile(const nlohmann::json& rule, const CompileOptions& options);
  friend class Evaluator;
  std::shared_ptr<const internal::Program> program_;
};

// Compiles `rule`. Errors: kExceededDepth, kLimitExceeded, kUnknownOperator, kInvalidArguments
// (malformed arguments detected at compile time), and any error a constant sub-expression raises
// when folded is deferred to run time (so {"try": ...} still sees it).
Expected<Rule> Compile(const nlohmann::json& rule, const CompileOptions& options = {});

// Per-thread evaluation state: scratch memory for results of map/filter/merge/cat..., the scope
// stack of iterators. Reuse one per thread; not thread-safe itself.
class Evaluator {
 public:
  Evaluator();
  ~Evaluator();
  Evaluator(const Evaluator&) = delete;
  Evaluator& operator=(const Evaluator&) = delete;

  // Evaluates `rule` on a record. `slots[i]` is the value of schema slot i (kAbsent when the
  // field is missing; slots may be shorter than the schema: the rest read as absent). `data` is
  // the JSON the unknown / dynamic paths resolve against (may be null). The result is a view:
  // valid until the next Evaluate on this Evaluator and while slots/data/rule live.
  // Allocation-free in steady state once the scratch has grown to the rule's needs.
  Expected<Value> Evaluate(const Rule& rule, std::span<const Value> slots,
                           const nlohmann::json* data = nullptr);

  // Shorthands for the hot path.
  // Truthiness of the result (tasks' `when`). Errors propagate.
  Expected<bool> EvaluateTruthy(const Rule& rule, std::span<const Value> slots,
                                const nlohmann::json* data = nullptr);

  // Hot path for many rules on one record (the rules engine evaluates an account's criteria,
  // score, tier and tasks this way): Bind the record once, then Run / Test each rule. The record
  // may change between calls (the span is a view: e.g. kam.scores.* slots written after each
  // criterion). No Expected per call: false means an error, described by error() until the next
  // call. Results are views as with Evaluate. Same semantics as Evaluate / EvaluateTruthy.
  void Bind(std::span<const Value> slots, const nlohmann::json* data = nullptr);
  bool Run(const Rule& rule, Value* out);
  bool Test(const Rule& rule, bool* out);
  const Error& error() const;

  // Batches of the hot path on the bound record (one call for an account's criteria, one for
  // its tasks). Same semantics as calling Run / Test on each rule in order.
  //
  // RunScores: rules[i] must give a number in [lo, hi]; results[i] gets it and, when
  // targets[i] >= 0, record[targets[i]] too (record is the bound record, writable) before
  // rules[i + 1] runs. Returns rules.size() on success, else the index of the first rule that
  // raised an error (*raised = true, error() says why) or gave anything else (*raised = false,
  // *bad = the value, a view valid until the next call).
  std::size_t RunScores(std::span<const Rule> rules, std::span<const int> targets, double lo,
                        double hi, std::span<Value> record, double* results, bool* raised,
                        Value* bad);
  // TestEach: bit i of *mask = truthiness of rules[i] (at most 64 rules). Returns rules.size()
  // on success, else the index of the rule that raised an error (error() says why).
  std::size_t TestEach(std::span<const Rule> rules, std::uint64_t* mask);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// ---------------------------------------------------------------------------------------------
// Generic mode
// ---------------------------------------------------------------------------------------------

// Compiles `rule` without a schema and applies it to `data`. Returns the result as JSON or the
// Error ({type, message}; for `throw`, type from the thrown value). Never throws.
Expected<nlohmann::json> Apply(const nlohmann::json& rule, const nlohmann::json& data,
                               const Limits& limits = {});

// Parses JSON text, refusing nesting deeper than `max_depth` (kExceededDepth) before building
// anything, so hostile input cannot overflow the stack. Syntax errors: kInvalidJson with the byte
// offset. Use it for `kam jsonlogic apply` input.
Expected<nlohmann::json> ParseJson(std::string_view text, std::size_t max_depth = 512);

}  // namespace kam::jsonlogic

#endif  // KAM_JSONLOGIC_JSONLOGIC_H_
