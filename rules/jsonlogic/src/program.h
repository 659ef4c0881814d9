// Internal: the compiled form of a rule (typed nodes in a flat array) shared by the compiler and
// the evaluator. Not part of the public API.
#ifndef KAM_JSONLOGIC_SRC_PROGRAM_H_
#define KAM_JSONLOGIC_SRC_PROGRAM_H_

#include <cstdint>
#include <deque>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "kam/jsonlogic/jsonlogic.h"

namespace kam::jsonlogic::internal {

enum class Op : std::uint8_t {
  kConst,         // k
  kFail,          // throws error_types[aux] with message of the node (structural error at run time)
  kSlot,          // record slot `first`; absent -> k (default, itself a constant) ; null stays null
  kSlotDyn,       // record slot `first`, default computed by kid 0
  kVar,           // var: kids [path, default?]; path constant in `path` table when aux != ~0
  kVal,           // val: kids are the path components (evaluated), climb in `first`
  kExists,        // exists: kids are the path components
  kMissing,       // missing: kids are the keys (or one kid giving an array)
  kMissingSlots,  // missing on constant keys: keys table entry `aux` (slots or paths)
  kMissingSome,   // kids [need, keys]
  kMissingSomeSlots,  // missing_some with constant need (k) and keys table entry `aux`
  kIf,            // kids: cond, then, cond, then, ..., else?
  kIfTable,       // if-chain whose conditions are numeric slot comparisons: if_tables[aux]
  kLinear,        // weighted sum of slots: linears[aux]
  kClamp,         // max(k, min(kk, kid 0)) or max(k, kid 0) on numbers; node `aux` otherwise
  kAnd,
  kOr,
  kCoalesce,      // ??
  kNot,
  kNotNot,
  kCmp,           // chained comparison, cmp in `cmp`, kids >= 2
  kCmpSlotK,      // slot `first` (absent: default kk) <cmp> constant k (fast path for numbers)
  kCmpKSlot,      // constant k <cmp> slot `first`
  kCmpRatio,      // slot `slot` <cmp> slot `aux` * k; kids [slot, product] for other inputs
  kBetweenSlot,   // k <cmp> slot `first` <cmp2> constant kk (3-argument form on a slot)
  kAdd,
  kMul,
  kSub,
  kDiv,
  kMod,
  kMax,
  kMin,
  kArith,         // + - * / % max min with one computed argument list (kid 0); arith op in cmp
  kCat,
  kSubstr,
  kIn,
  kInConst,       // kid 0 in constant list `aux` (strings and numbers)
  kMerge,
  kArray,         // literal array with logic inside: each kid evaluated
  kMap,
  kFilter,
  kReduce,
  kAll,
  kSome,
  kNone,
  kThrow,
  kTry,
  kLog,
};

enum class Cmp : std::uint8_t { kLt, kLe, kGt, kGe, kEq, kNe, kStrictEq, kStrictNe };

struct Node {
  Op op = Op::kConst;
  Cmp cmp = Cmp::kLt;
  Cmp cmp2 = Cmp::kLt;
  std::uint8_t flags = 0;
  std::uint32_t n = 0;      // number of kids
  std::uint32_t first = 0;  // index into kids, or slot
  std::uint32_t aux = 0;    // table index
  std::uint32_t slot = 0;   // kCmpRatio: the left slot (its kids keep the generic form)
  Value k;                  // constant
  Value kk;                 // second constant
};

// A compiled constant var path: components as views of strings the Program owns.
struct Path {
  std::string text;                     // the path as written ("a.b.c")
  std::vector<std::string> components;  // split at '.'
  int slot = -1;                        // >= 0 when the schema knows the path (root scope only)
};

// Keys of `missing` on constant keys: each with its slot or constant path.
struct MissingKeys {
  std::vector<Value> keys;       // the key as returned in the result (string or number)
  std::vector<int> slots;        // -1 when dynamic
  std::vector<std::uint32_t> paths;  // index into Program::paths
};

// One slot test of a condition evaluated without the node interpreter (Predicate, if-table
// rows). Its fast path covers the inputs whose result cannot be an error; for any other input
// AtomTest says so and the caller falls back to the generic nodes, so results and errors are
// exactly those of the interpreter.
enum class AtomKind : std::uint8_t {
  kNumCmp,   // slot (absent: def) <cmp> k, k a number
  kStrCmp,   // slot (absent: def) ==, !=, ===, !== the string s
  kBetween,  // k <cmp> slot <cmp2> kk
  kRatio,    // slot <cmp> slot2 * k
  kInList,   // slot (absent: def) in const_lists[aux]
  kMissing,  // missing (some: missing_some with need k) of missing_keys[aux], all slots
  kTruthy,   // the slot's (absent: def) truthiness
};

struct Atom {
  AtomKind kind = AtomKind::kTruthy;
  Cmp cmp = Cmp::kLt;
  Cmp cmp2 = Cmp::kLt;
  bool some = false;           // kMissing: missing_some
  bool list_has_null = false;  // kInList: the list holds null (a missing needle is in it)
  std::uint32_t slot = 0;
  std::uint32_t slot2 = 0;
  std::uint32_t aux = 0;
  double k = 0;
  double kk = 0;
  Value def = Value::Null();  // the value of an absent slot
  std::string_view s;         // kStrCmp: the constant (a view into the program)
};

// A whole condition (and/or/!/!! over at most kMaxPredicateAtoms atoms) as a truth table: bit m of
// `table` is the condition's truthiness when atom i is true exactly when bit i of m is set. All
// atoms are evaluated (they have no side effects and, on their fast path, no errors), so the
// short-circuit order of and/or does not matter.
constexpr std::size_t kMaxPredicateAtoms = 6;
struct Predicate {
  std::vector<Atom> atoms;
  std::uint64_t table = 0;
};

// One branch of a kIfTable: `slot <cmp> k`, or `k <cmp> slot <cmp2> kk` when between.
enum class RowKind : std::uint8_t {
  kCmp,      // slot <cmp> k
  kBetween,  // k <cmp> slot <cmp2> kk
  kRatio,    // slot <cmp> slot2 * k
  kInList,   // slot in const_lists[list] (strings)
  kMissing,  // the slot is missing (absent, null or "")
};

struct IfRow {
  std::uint32_t slot = 0;
  std::uint32_t slot2 = 0;
  std::uint32_t list = 0;
  Cmp cmp = Cmp::kLt;
  Cmp cmp2 = Cmp::kLt;
  RowKind kind = RowKind::kCmp;
  double k = 0;
  double kk = 0;
  Value absent;              // the slot's value when absent (var default, else null)
  std::uint32_t cond = 0;    // the condition node (generic semantics for non-numbers)
  std::uint32_t result = 0;  // the branch node
};

struct IfTable {
  std::vector<IfRow> rows;
  // Band table: every row compares the same slot with the same operator and the thresholds are
  // monotone so that the true conditions form a suffix; the branch is then the number of false
  // conditions, counted without branches.
  bool band = false;
  std::vector<double> thresholds;
  bool has_otherwise = false;
  std::uint32_t otherwise = 0;
  // Not a band, every row an atom (at most 64): all rows are tested and the first true one is
  // found from the bit mask, without a data-dependent branch per row.
  std::vector<Atom> atoms;
};

// A weighted sum c0 + sum(coef * slot) (the score of a scoring matrix); `fallback` is the
// original `+` node for inputs that are not all numbers.
struct LinearTerm {
  double coef = 1;
  std::uint32_t slot = 0;
  bool mul = false;  // coef * slot (false: the slot alone)
};
struct Linear {
  double c0 = 0;
  bool has_c0 = false;
  std::vector<LinearTerm> terms;
  std::uint32_t fallback = 0;
};

struct Program {
  std::vector<Node> nodes;
  std::vector<std::uint32_t> kids;
  std::uint32_t root = 0;
  bool has_predicate = false;  // the root is a condition of atoms: `predicate` (tests only)
  Predicate predicate;
  std::vector<Path> paths;
  std::vector<MissingKeys> missing_keys;
  std::vector<IfTable> if_tables;
  std::vector<Linear> linears;
  std::vector<std::vector<Value>> const_lists;  // for kInConst
  std::vector<std::string> pointers;            // JSON pointer of each node, for messages
  std::vector<Error> fail_errors;               // for kFail
  std::deque<nlohmann::json> json_pool;         // owned constants (literal data, folded results)
  std::deque<std::string> string_pool;          // owned constant strings
  Schema schema;                                // copy of the schema (dynamic paths)
  std::vector<int> slots_read;
  std::vector<std::string> unknown_paths;
  bool dynamic_paths = false;
  Limits limits;
};

// Thrown inside evaluation; caught at the Evaluate boundary and by `try`.
struct EvalError {
  std::string type;
  std::string message;
  nlohmann::json thrown;  // the thrown value (null for built-in errors)
  bool is_throw = false;
};

// JavaScript string conversion appended to `out` (arrays join with ",", objects
// "[object Object]", null/absent inside arrays empty).
void AppendJsString(const Value& v, std::string& out);
// The value of a JSON node as a Value (scalars by value, strings/arrays/objects as views).
Value FromJson(const nlohmann::json& j);

}  // namespace kam::jsonlogic::internal

#endif  // KAM_JSONLOGIC_SRC_PROGRAM_H_
