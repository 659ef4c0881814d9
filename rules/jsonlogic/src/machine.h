// Internal: the evaluation machine (scratch arena, scope stack, node interpreter). Used by the
// Evaluator and by the compiler to fold constant sub-expressions.
#ifndef KAM_JSONLOGIC_SRC_MACHINE_H_
#define KAM_JSONLOGIC_SRC_MACHINE_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "program.h"

namespace kam::jsonlogic::internal {

// Bump allocator whose chunks are kept across Reset(), so steady-state evaluation allocates
// nothing. Memory it hands out stays put until Reset().
class Arena {
 public:
  void* Allocate(std::size_t bytes);
  void Reset() {
    chunk_ = 0;
    offset_ = 0;
  }

 private:
  static constexpr std::size_t kChunk = 64 * 1024;
  std::vector<std::unique_ptr<std::byte[]>> chunks_;
  std::vector<std::size_t> sizes_;
  std::size_t chunk_ = 0;
  std::size_t offset_ = 0;
};

enum class ScopeType : std::uint8_t { kRoot, kValue, kMeta, kReduce };

struct Scope {
  ScopeType type = ScopeType::kRoot;
  Value value;        // kValue: the element; kReduce: current
  Value accumulator;  // kReduce
  Value index;        // kMeta: the index (number) or null
};

class Machine {
 public:
  // Evaluates node `node` of `program`. Throws EvalError.
  Value Run(const Program& program, std::span<const Value> slots, const nlohmann::json* data);
  // Like Run, on an arbitrary node (constant folding).
  Value RunNode(const Program& program, std::uint32_t node);

  // Hot path for several programs on one record (the rules engine): Bind the record once, then
  // RunBound/TestBound each program. Only the scratch the previous run used is reset.
  void Bind(std::span<const Value> slots, const nlohmann::json* data) {
    slots_ = slots;
    data_ = data;
  }
  Value RunBound(const Program& program) {
    Prepare(program);
    return Eval(program.root);
  }
  bool TestBound(const Program& program) {
    if (program.has_predicate) {
      int r = TestPredicate(program);
      if (r >= 0) return r != 0;
    }
    Prepare(program);
    return Test(program.root);
  }
  // The root condition from its truth table: 0 or 1, or -1 when an atom's input is not on the
  // fast path (the caller then runs the nodes).
  [[gnu::always_inline]] int TestPredicate(const Program& program) const {
    const Predicate& pred = program.predicate;
    unsigned mask = 0;
    for (std::size_t i = 0; i < pred.atoms.size(); ++i) {
      int b = AtomTest(pred.atoms[i], program);
      if (b < 0) [[unlikely]]
        return -1;
      mask |= static_cast<unsigned>(b) << i;
    }
    return static_cast<int>((pred.table >> mask) & 1u);
  }
  // One atom: 1 true, 0 false, -1 not on the fast path.
  [[gnu::always_inline]] inline int AtomTest(const Atom& a, const Program& program) const;

 private:
  Value Eval(std::uint32_t idx);
  [[gnu::noinline]] Value EvalCold(std::uint32_t idx);
  [[gnu::noinline]] Value EvalIf(const Node& n, std::uint32_t idx);
  [[gnu::noinline]] Value EvalAnd(const Node& n, std::uint32_t idx);
  [[gnu::noinline]] Value EvalOr(const Node& n, std::uint32_t idx);
  [[gnu::noinline]] Value EvalCmpSlotK(const Node& n, std::uint32_t idx);
  [[gnu::noinline]] Value EvalIfTable(const Node& n, std::uint32_t idx);
  [[gnu::noinline]] Value EvalLinear(const Node& n, std::uint32_t idx);
  [[gnu::noinline]] Value EvalCmp(const Node& n, std::uint32_t idx);
  [[gnu::noinline]] Value EvalMaxMin(const Node& n, std::uint32_t idx);
  [[gnu::noinline]] Value EvalAddMul(const Node& n, std::uint32_t idx);
  [[gnu::noinline]] Value EvalInConst(const Node& n, std::uint32_t idx);
  // Leaves (constants, slots) without a call; everything else through Eval.
  [[gnu::always_inline]] Value EvalKid(const Node& n, std::uint32_t i) {
    std::uint32_t kid = p_->kids[n.first + i];
    const Node& k = p_->nodes[kid];
    if (k.op == Op::kConst) return k.k;
    if (k.op == Op::kSlot) {
      Value v = SlotValue(static_cast<int>(k.first));
      return v.is_absent() ? k.k : v;
    }
    if (k.op == Op::kIfTable) return EvalIfTable(k, kid);
    return Eval(kid);
  }
  [[gnu::always_inline]] Value Leaf(std::uint32_t node) {
    const Node& k = p_->nodes[node];
    if (k.op == Op::kConst) return k.k;
    return Eval(node);
  }
  // Truthiness of kid i, with numeric slot comparisons inlined.
  [[gnu::always_inline]] inline bool TestKid(const Node& n, std::uint32_t i);
  // Truthiness of a node without building values only truthiness needs (missing lists, and/or).
  bool Test(std::uint32_t node);
  // Number of missing keys of a constant `missing` list.
  std::size_t CountMissing(const MissingKeys& mk);
  // A string in the constant list of a kInConst node.
  [[gnu::always_inline]] inline bool InConstList(const Node& n, std::string_view s) const;

 public:
  bool RunTruthy(const Program& program, std::span<const Value> slots, const nlohmann::json* data);

 private:
  void Reset(const Program& program, std::span<const Value> slots, const nlohmann::json* data);
  // Sets the program and resets the scratch; scopes and try contexts only when used (dirty_).
  [[gnu::always_inline]] void Prepare(const Program& program) {
    p_ = &program;
    stack_.clear();
    arena_.Reset();
    iterations_ = 0;
    if (dirty_) CleanScopes();
  }
  [[gnu::noinline]] void CleanScopes();
  [[noreturn]] void Fail(std::string_view type, std::uint32_t node, std::string_view what);
  bool Compare(Cmp c, const Value& a, const Value& b, std::uint32_t node);
  double ToNumber(const Value& v, std::uint32_t node);
  Value SlotValue(int slot) const {
    return static_cast<std::size_t>(slot) < slots_.size() ? slots_[static_cast<std::size_t>(slot)]
                                                          : Value();
  }
  Value RootValue() const;
  Value ScopeWhole(const Scope& s) const;
  Value ScopeChild(const Scope& s, const Value& key) const;
  Value ScopeChildStr(const Scope& s, std::string_view key) const;
  Value VarWalk(const Scope& s, std::string_view dotted, bool* found) const;
  Value ConstPathLookup(const Path& path, bool* found) const;
  Value DynamicVar(const Value& path, bool* found);
  Value Missing(std::span<const Value> keys, std::uint32_t node);
  Value MakeArray(std::size_t base);  // copies stack_[base..] into the arena, pops them
  Value MakeString(std::string_view s);
  Value ArithList(const Node& n, std::uint32_t idx, std::span<const Value> args);
  Value Iterate(const Node& n, std::uint32_t idx);
  Value Try(const Node& n, std::uint32_t idx);
  void CountIteration(std::uint32_t node);
  void PushScope(const Scope& s, std::uint32_t node);

  const Program* p_ = nullptr;
  std::span<const Value> slots_;
  const nlohmann::json* data_ = nullptr;
  std::vector<Scope> scopes_;
  std::vector<Value> stack_;
  Arena arena_;
  std::string sbuf_;
  std::deque<nlohmann::json> error_contexts_;
  std::size_t iterations_ = 0;
  bool dirty_ = true;  // scopes_ / error_contexts_ may hold more than the root scope
};

[[gnu::always_inline]] inline bool FastTruthy(const Value& v) {
  if (v.is_bool()) return v.as_bool();
  if (v.is_number()) return v.as_number() != 0 && v.as_number() == v.as_number();
  return IsTruthy(v);
}

// String equality tuned for short strings (tiers, country codes): no memcmp call for 1 byte.
[[gnu::always_inline]] inline bool SameString(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  if (a[0] != b[0]) return false;
  return a.size() == 1 || a.substr(1) == b.substr(1);
}

inline bool Machine::InConstList(const Node& n, std::string_view s) const {
  for (const Value& c : p_->const_lists[n.aux]) {
    if (c.is_string() && SameString(c.as_string(), s)) return true;
  }
  return false;
}

// Fast path of `slot <cmp> k` for numbers and for string (in)equality; false when not handled.
[[gnu::always_inline]] inline bool CompareNumbers(Cmp c, double x, double y);
[[gnu::always_inline]] inline bool FastSlotCompare(Cmp c, const Value& v, const Value& k,
                                                   bool* out) {
  if (v.is_number() && k.is_number()) {
    *out = CompareNumbers(c, v.as_number(), k.as_number());
    return true;
  }
  if (v.is_string() && k.is_string() && c >= Cmp::kEq) {
    bool eq = SameString(v.as_string(), k.as_string());
    *out = (c == Cmp::kEq || c == Cmp::kStrictEq) ? eq : !eq;
    return true;
  }
  return false;
}

[[gnu::always_inline]] inline bool CompareNumbers(Cmp c, double x, double y) {
  switch (c) {
    case Cmp::kLt:
      return x < y;
    case Cmp::kLe:
      return x <= y;
    case Cmp::kGt:
      return x > y;
    case Cmp::kGe:
      return x >= y;
    case Cmp::kEq:
    case Cmp::kStrictEq:
      return x == y;
    default:
      return x != y;
  }
}

inline int Machine::AtomTest(const Atom& a, const Program& program) const {
  switch (a.kind) {
    case AtomKind::kNumCmp: {
      Value v = SlotValue(static_cast<int>(a.slot));
      if (v.is_absent()) v = a.def;
      double x;
      if (v.is_number()) [[likely]] {
        x = v.as_number();
      } else if (v.is_null() || v.is_absent()) {
        // null == / === a number: false (JavaScript); < > <= >=: null is 0.
        if (a.cmp >= Cmp::kEq) return a.cmp == Cmp::kNe || a.cmp == Cmp::kStrictNe;
        x = 0;
      } else if (v.is_bool()) {
        if (a.cmp >= Cmp::kStrictEq) return a.cmp == Cmp::kStrictNe;
        x = v.as_bool() ? 1 : 0;
      } else {
        return -1;
      }
      return CompareNumbers(a.cmp, x, a.k);
    }
    case AtomKind::kStrCmp: {
      Value v = SlotValue(static_cast<int>(a.slot));
      if (v.is_absent()) v = a.def;
      bool strict = a.cmp >= Cmp::kStrictEq;
      bool eq;
      if (v.is_string()) {
        eq = SameString(v.as_string(), a.s);
      } else if (v.is_null() || v.is_absent() || (strict && (v.is_number() || v.is_bool()))) {
        eq = false;
      } else {
        return -1;
      }
      return (a.cmp == Cmp::kEq || a.cmp == Cmp::kStrictEq) ? eq : !eq;
    }
    case AtomKind::kBetween: {
      Value v = SlotValue(static_cast<int>(a.slot));
      double x;
      if (v.is_number()) [[likely]] {
        x = v.as_number();
      } else if (v.is_null() || v.is_absent()) {
        x = 0;
      } else if (v.is_bool()) {
        x = v.as_bool() ? 1 : 0;
      } else {
        return -1;
      }
      return CompareNumbers(a.cmp, a.k, x) && CompareNumbers(a.cmp2, x, a.kk);
    }
    case AtomKind::kRatio: {
      Value v = SlotValue(static_cast<int>(a.slot));
      Value w = SlotValue(static_cast<int>(a.slot2));
      if (!v.is_number() || !w.is_number()) return -1;
      double y = w.as_number() * a.k;
      if (y != y) return -1;
      return CompareNumbers(a.cmp, v.as_number(), y);
    }
    case AtomKind::kInList: {
      Value v = SlotValue(static_cast<int>(a.slot));
      if (v.is_absent()) v = a.def;
      if (v.is_string()) {
        std::string_view s = v.as_string();
        for (const Value& c : program.const_lists[a.aux]) {
          if (c.is_string() && SameString(c.as_string(), s)) return 1;
        }
        return 0;
      }
      if (v.is_null() || v.is_absent()) return a.list_has_null;
      return -1;
    }
    case AtomKind::kMissing: {
      const MissingKeys& mk = program.missing_keys[a.aux];
      std::size_t missing = 0;
      for (int slot : mk.slots) {
        Value v = SlotValue(slot);
        missing += v.is_absent() || v.is_null() || (v.is_string() && v.as_string().empty());
      }
      if (!a.some) return missing > 0;
      return missing > 0 && static_cast<double>(mk.keys.size() - missing) < a.k;
    }
    case AtomKind::kTruthy: {
      Value v = SlotValue(static_cast<int>(a.slot));
      return FastTruthy(v.is_absent() ? a.def : v);
    }
  }
  return -1;
}

// Helpers shared with the compiler.
std::size_t ArrayLength(const Value& v);  // kArray or JSON array; 0 otherwise
Value ArrayItem(const Value& v, std::size_t i);
bool IsArrayValue(const Value& v);
bool IsObjectValue(const Value& v);
Value ChildOf(const Value& cur, std::string_view key);

}  // namespace kam::jsonlogic::internal

#endif  // KAM_JSONLOGIC_SRC_MACHINE_H_
