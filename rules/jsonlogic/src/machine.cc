// The node interpreter: json-logic-js semantics (coercions, truthiness, var paths) with the
// errors of the community suites (NaN, Invalid Arguments, thrown values).
#include "machine.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

namespace kam::jsonlogic::internal {

namespace {
constexpr double kNotANumber = std::numeric_limits<double>::quiet_NaN();

// Canonical array index ("0", "12"; not "01", "-1", "1.5").
bool ParseIndex(std::string_view key, std::size_t* out) {
  if (key.empty() || key.size() > 15) return false;
  if (key.size() > 1 && key[0] == '0') return false;
  std::size_t v = 0;
  for (char c : key) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<std::size_t>(c - '0');
  }
  *out = v;
  return true;
}

bool IsNullish(const Value& v) { return v.is_null() || v.is_absent(); }

std::string KindName(const Value& v) {
  switch (v.kind()) {
    case Kind::kAbsent:
      return "undefined";
    case Kind::kNull:
      return "null";
    case Kind::kBool:
      return "a boolean";
    case Kind::kNumber:
      return "a number";
    case Kind::kString:
      return "the string \"" + std::string(v.as_string().substr(0, 40)) + "\"";
    case Kind::kArray:
      return "an array";
    case Kind::kJson:
      return v.as_json()->is_array() ? "an array" : "an object";
  }
  return "a value";
}

// Number of UTF-8 code points, and the byte offset of code point `cp`.
std::size_t CodePoints(std::string_view s) {
  std::size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}
std::size_t ByteOffset(std::string_view s, std::size_t cp) {
  std::size_t n = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) {
      if (n == cp) return i;
      ++n;
    }
  }
  return s.size();
}
double ToInteger(double d) {
  if (std::isnan(d)) return 0;
  return std::trunc(d);
}
}  // namespace

void* Arena::Allocate(std::size_t bytes) {
  bytes = (bytes + 15) & ~std::size_t{15};
  if (bytes == 0) bytes = 16;
  while (chunk_ < chunks_.size()) {
    if (offset_ + bytes <= sizes_[chunk_]) {
      void* p = chunks_[chunk_].get() + offset_;
      offset_ += bytes;
      return p;
    }
    ++chunk_;
    offset_ = 0;
  }
  std::size_t size = std::max(kChunk, bytes);
  chunks_.push_back(std::make_unique<std::byte[]>(size));
  sizes_.push_back(size);
  chunk_ = chunks_.size() - 1;
  offset_ = bytes;
  return chunks_.back().get();
}

bool IsArrayValue(const Value& v) {
  return v.kind() == Kind::kArray || (v.kind() == Kind::kJson && v.as_json()->is_array());
}
bool IsObjectValue(const Value& v) { return v.kind() == Kind::kJson && v.as_json()->is_object(); }
std::size_t ArrayLength(const Value& v) {
  if (v.kind() == Kind::kArray) return v.as_array().size();
  if (v.kind() == Kind::kJson && v.as_json()->is_array()) return v.as_json()->size();
  return 0;
}
Value ArrayItem(const Value& v, std::size_t i) {
  if (v.kind() == Kind::kArray) return v.as_array()[i];
  return FromJson((*v.as_json())[i]);
}

Value ChildOf(const Value& cur, std::string_view key) {
  if (cur.kind() == Kind::kJson) {
    const nlohmann::json& j = *cur.as_json();
    if (j.is_object()) {
      auto it = j.find(key);
      return it == j.end() ? Value() : FromJson(*it);
    }
    std::size_t i = 0;
    if (ParseIndex(key, &i) && i < j.size()) return FromJson(j[i]);
    return Value();
  }
  if (cur.kind() == Kind::kArray) {
    std::size_t i = 0;
    if (ParseIndex(key, &i) && i < cur.as_array().size()) return cur.as_array()[i];
    return Value();
  }
  return Value();
}

void Machine::Reset(const Program& program, std::span<const Value> slots,
                    const nlohmann::json* data) {
  Bind(slots, data);
  Prepare(program);
}

void Machine::CleanScopes() {
  if (scopes_.size() != 1) {
    scopes_.clear();
    scopes_.push_back(Scope{});
  }
  if (!error_contexts_.empty()) error_contexts_.clear();
  dirty_ = false;
}

Value Machine::Run(const Program& program, std::span<const Value> slots,
                   const nlohmann::json* data) {
  Reset(program, slots, data);
  return Eval(program.root);
}

bool Machine::RunTruthy(const Program& program, std::span<const Value> slots,
                        const nlohmann::json* data) {
  if (program.has_predicate) {
    Bind(slots, data);
    int r = TestPredicate(program);
    if (r >= 0) return r != 0;
  }
  Reset(program, slots, data);
  return Test(program.root);
}

std::size_t Machine::CountMissing(const MissingKeys& mk) {
  bool root = scopes_.size() == 1;
  std::size_t missing = 0;
  for (std::size_t i = 0; i < mk.keys.size(); ++i) {
    Value v;
    if (root && mk.slots[i] >= 0) {
      v = SlotValue(mk.slots[i]);
    } else {
      bool found = false;
      v = ConstPathLookup(p_->paths[mk.paths[i]], &found);
    }
    if (IsNullish(v) || (v.is_string() && v.as_string().empty())) ++missing;
  }
  return missing;
}

inline bool Machine::TestKid(const Node& parent, std::uint32_t i) {
  std::uint32_t kid = p_->kids[parent.first + i];
  const Node& n = p_->nodes[kid];
  switch (n.op) {
    case Op::kCmpSlotK: {
      Value v = SlotValue(static_cast<int>(n.first));
      if (v.is_absent()) v = n.kk;
      bool r;
      if (FastSlotCompare(n.cmp, v, n.k, &r)) return r;
      break;
    }
    case Op::kBetweenSlot: {
      Value v = SlotValue(static_cast<int>(n.first));
      if (v.is_number()) {
        double x = v.as_number();
        return CompareNumbers(n.cmp, n.k.as_number(), x) &&
               CompareNumbers(n.cmp2, x, n.kk.as_number());
      }
      break;
    }
    case Op::kCmpRatio: {
      Value v = SlotValue(static_cast<int>(n.slot));
      Value w = SlotValue(static_cast<int>(n.aux));
      if (v.is_number() && w.is_number()) {
        double y = w.as_number() * n.k.as_number();
        if (y == y) return CompareNumbers(n.cmp, v.as_number(), y);
      }
      break;
    }
    case Op::kConst:
      return FastTruthy(n.k);
    case Op::kSlot: {
      Value v = SlotValue(static_cast<int>(n.first));
      return FastTruthy(v.is_absent() ? n.k : v);
    }
    case Op::kInConst: {
      const Node& k = p_->nodes[p_->kids[n.first]];
      if (k.op == Op::kSlot) {
        Value v = SlotValue(static_cast<int>(k.first));
        if (v.is_string()) return InConstList(n, v.as_string());
      }
      break;
    }
    case Op::kMissingSlots:
      return CountMissing(p_->missing_keys[n.aux]) > 0;
    case Op::kNot:
      if (n.n == 1) {
        const Node& k = p_->nodes[p_->kids[n.first]];
        if (k.op == Op::kMissingSlots) return CountMissing(p_->missing_keys[k.aux]) == 0;
        if (k.op == Op::kSlot) {
          Value v = SlotValue(static_cast<int>(k.first));
          return !FastTruthy(v.is_absent() ? k.k : v);
        }
      }
      break;
    default:
      break;
  }
  return Test(kid);
}

bool Machine::Test(std::uint32_t node) {
  const Node& n = p_->nodes[node];
  switch (n.op) {
    case Op::kConst:
      return FastTruthy(n.k);
    case Op::kSlot: {
      Value v = SlotValue(static_cast<int>(n.first));
      return FastTruthy(v.is_absent() ? n.k : v);
    }
    case Op::kCmpSlotK: {
      Value v = SlotValue(static_cast<int>(n.first));
      if (v.is_absent()) v = n.kk;
      bool r;
      if (FastSlotCompare(n.cmp, v, n.k, &r)) return r;
      break;
    }
    case Op::kCmpRatio: {
      Value v = SlotValue(static_cast<int>(n.slot));
      Value w = SlotValue(static_cast<int>(n.aux));
      if (v.is_number() && w.is_number()) {
        double y = w.as_number() * n.k.as_number();
        if (y == y) return CompareNumbers(n.cmp, v.as_number(), y);
      }
      break;
    }
    case Op::kInConst: {
      std::uint32_t kid = p_->kids[n.first];
      const Node& k = p_->nodes[kid];
      if (k.op == Op::kSlot) {
        Value v = SlotValue(static_cast<int>(k.first));
        if (v.is_string()) return InConstList(n, v.as_string());
      }
      break;
    }
    case Op::kNot:
      return n.n == 0 ? true : !Test(p_->kids[n.first]);
    case Op::kNotNot:
      return n.n == 0 ? false : Test(p_->kids[n.first]);
    case Op::kAnd:
      if (n.n == 0) return false;
      for (std::uint32_t i = 0; i < n.n; ++i) {
        if (!TestKid(n, i)) return false;
      }
      return true;
    case Op::kOr:
      for (std::uint32_t i = 0; i < n.n; ++i) {
        if (TestKid(n, i)) return true;
      }
      return false;
    case Op::kMissingSlots:
      return CountMissing(p_->missing_keys[n.aux]) > 0;
    case Op::kMissingSomeSlots: {
      const MissingKeys& mk = p_->missing_keys[n.aux];
      std::size_t missing = CountMissing(mk);
      double present = static_cast<double>(mk.keys.size() - missing);
      return missing > 0 && present < n.k.as_number();
    }
    default:
      break;
  }
  return FastTruthy(Eval(node));
}

Value Machine::RunNode(const Program& program, std::uint32_t node) {
  p_ = &program;
  slots_ = {};
  data_ = nullptr;
  scopes_.clear();
  stack_.clear();
  iterations_ = 0;
  scopes_.push_back(Scope{});
  dirty_ = true;
  return Eval(node);
}

void Machine::Fail(std::string_view type, std::uint32_t node, std::string_view what) {
  EvalError e;
  e.type = std::string(type);
  e.message = std::string(what);
  if (node < p_->pointers.size()) e.message += " (at " + p_->pointers[node] + " in the rule)";
  throw e;
}

void Machine::CountIteration(std::uint32_t node) {
  if (++iterations_ > p_->limits.max_iterations) {
    Fail(kLimitExceeded, node,
         "more than " + std::to_string(p_->limits.max_iterations) +
             " iterations in one evaluation (limit max_iterations)");
  }
}

void Machine::PushScope(const Scope& s, std::uint32_t node) {
  if (scopes_.size() >= 2 * p_->limits.max_scope_depth + 1) {
    Fail(kLimitExceeded, node, "iterators nested too deeply (limit max_scope_depth)");
  }
  dirty_ = true;
  scopes_.push_back(s);
}

double Machine::ToNumber(const Value& v, std::uint32_t node) {
  switch (v.kind()) {
    case Kind::kNumber:
      return v.as_number();
    case Kind::kNull:
      return 0;
    case Kind::kBool:
      return v.as_bool() ? 1 : 0;
    case Kind::kString: {
      double d = ParseNumber(v.as_string());
      if (std::isnan(d)) Fail(kNaN, node, "cannot use " + KindName(v) + " as a number");
      return d;
    }
    default:
      Fail(kNaN, node, "cannot use " + KindName(v) + " as a number");
  }
}

bool Machine::Compare(Cmp c, const Value& a, const Value& b, std::uint32_t node) {
  if (c == Cmp::kStrictEq || c == Cmp::kStrictNe) {
    bool eq = false;
    if (a.kind() == b.kind()) {
      switch (a.kind()) {
        case Kind::kAbsent:
        case Kind::kNull:
          eq = true;
          break;
        case Kind::kBool:
          eq = a.as_bool() == b.as_bool();
          break;
        case Kind::kNumber:
          eq = a.as_number() == b.as_number();
          break;
        case Kind::kString:
          eq = a.as_string() == b.as_string();
          break;
        case Kind::kArray:
          eq = a.as_array().data() == b.as_array().data() &&
               a.as_array().size() == b.as_array().size();
          break;
        case Kind::kJson:
          eq = a.as_json() == b.as_json();
          break;
      }
    }
    return (c == Cmp::kStrictEq) == eq;
  }
  if (a.is_number() && b.is_number()) {
    double x = a.as_number(), y = b.as_number();
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
        return x == y;
      default:
        return x != y;
    }
  }
  if (IsArrayValue(a) || IsObjectValue(a) || IsArrayValue(b) || IsObjectValue(b)) {
    Fail(kNaN, node, "cannot compare " + KindName(a) + " with " + KindName(b));
  }
  if (c == Cmp::kEq || c == Cmp::kNe) {
    bool eq;
    if (IsNullish(a) || IsNullish(b)) {
      eq = IsNullish(a) && IsNullish(b);  // JavaScript: null == undefined only
    } else if (a.is_string() && b.is_string()) {
      eq = a.as_string() == b.as_string();
    } else {
      eq = ToNumber(a, node) == ToNumber(b, node);
    }
    return (c == Cmp::kEq) == eq;
  }
  if (a.is_string() && b.is_string()) {
    int r = a.as_string().compare(b.as_string());
    switch (c) {
      case Cmp::kLt:
        return r < 0;
      case Cmp::kLe:
        return r <= 0;
      case Cmp::kGt:
        return r > 0;
      default:
        return r >= 0;
    }
  }
  if (a.is_absent() || b.is_absent()) return false;  // undefined -> NaN: every comparison false
  double x = ToNumber(a, node), y = ToNumber(b, node);
  switch (c) {
    case Cmp::kLt:
      return x < y;
    case Cmp::kLe:
      return x <= y;
    case Cmp::kGt:
      return x > y;
    default:
      return x >= y;
  }
}

Value Machine::MakeArray(std::size_t base) {
  std::size_t n = stack_.size() - base;
  if (n > p_->limits.max_array_size) {
    Fail(kLimitExceeded, ~0u,
         "array of " + std::to_string(n) + " elements exceeds max_array_size " +
             std::to_string(p_->limits.max_array_size));
  }
  Value* out = nullptr;
  if (n > 0) {
    out = static_cast<Value*>(arena_.Allocate(n * sizeof(Value)));
    std::memcpy(static_cast<void*>(out), stack_.data() + base, n * sizeof(Value));
  }
  stack_.resize(base);
  return Value::Array(std::span<const Value>(out, n));
}

Value Machine::MakeString(std::string_view s) {
  if (s.size() > p_->limits.max_string_bytes) {
    Fail(kLimitExceeded, ~0u,
         "string of " + std::to_string(s.size()) + " bytes exceeds max_string_bytes " +
             std::to_string(p_->limits.max_string_bytes));
  }
  if (s.empty()) return Value::String({});
  char* out = static_cast<char*>(arena_.Allocate(s.size()));
  std::memcpy(out, s.data(), s.size());
  return Value::String(std::string_view(out, s.size()));
}

Value Machine::RootValue() const {
  if (data_ == nullptr) return Value::Null();
  return FromJson(*data_);
}

Value Machine::ScopeWhole(const Scope& s) const {
  switch (s.type) {
    case ScopeType::kRoot:
      return RootValue();
    case ScopeType::kValue:
      return s.value;
    default:
      return Value::Null();  // iterator metadata / reduce context as a whole: not representable
  }
}

Value Machine::ScopeChildStr(const Scope& s, std::string_view key) const {
  switch (s.type) {
    case ScopeType::kRoot:
      if (!p_->schema.paths().empty()) {
        int slot = p_->schema.Find(key);
        if (slot >= 0) return SlotValue(slot);
      }
      return ChildOf(RootValue(), key);
    case ScopeType::kValue:
      return ChildOf(s.value, key);
    case ScopeType::kMeta:
      return key == "index" ? s.index : Value();
    case ScopeType::kReduce:
      if (key == "current") return s.value;
      if (key == "accumulator") return s.accumulator;
      return Value();
  }
  return Value();
}

Value Machine::ScopeChild(const Scope& s, const Value& key) const {
  if (key.is_string()) return ScopeChildStr(s, key.as_string());
  if (key.is_number() && s.type == ScopeType::kValue && IsArrayValue(s.value)) {
    double d = key.as_number();
    if (d >= 0 && d == std::trunc(d) && d < static_cast<double>(ArrayLength(s.value))) {
      return ArrayItem(s.value, static_cast<std::size_t>(d));
    }
    return Value();
  }
  std::string k;
  AppendJsString(key, k);
  return ScopeChildStr(s, k);
}

// json-logic-js `var`: the default applies when a step is missing or a parent is null.
Value Machine::VarWalk(const Scope& s, std::string_view dotted, bool* found) const {
  *found = true;
  if (dotted.empty()) return ScopeWhole(s);
  // With a schema, a full dotted path may be a slot (dynamic paths at the root).
  if (s.type == ScopeType::kRoot && !p_->schema.paths().empty()) {
    int slot = p_->schema.Find(dotted);
    if (slot >= 0) {
      Value v = SlotValue(slot);
      *found = !v.is_absent();
      return v;
    }
  }
  std::size_t dot = dotted.find('.');
  Value cur = ScopeChildStr(s, dotted.substr(0, dot));
  while (dot != std::string_view::npos) {
    if (IsNullish(cur)) {
      *found = false;
      return Value();
    }
    dotted.remove_prefix(dot + 1);
    dot = dotted.find('.');
    cur = ChildOf(cur, dotted.substr(0, dot));
  }
  if (cur.is_absent()) *found = false;
  return cur;
}

Value Machine::ConstPathLookup(const Path& path, bool* found) const {
  const Scope& s = scopes_.back();
  if (path.slot >= 0 && s.type == ScopeType::kRoot) {
    Value v = SlotValue(path.slot);
    *found = !v.is_absent();
    return v;
  }
  *found = true;
  if (path.components.empty()) return ScopeWhole(s);
  Value cur = Value();
  bool first = true;
  for (const std::string& c : path.components) {
    if (first) {
      cur = ScopeChildStr(s, c);
      first = false;
      continue;
    }
    if (IsNullish(cur)) {
      *found = false;
      return Value();
    }
    cur = ChildOf(cur, c);
  }
  if (cur.is_absent()) *found = false;
  return cur;
}

Value Machine::DynamicVar(const Value& path, bool* found) {
  const Scope& s = scopes_.back();
  *found = true;
  if (IsNullish(path)) return ScopeWhole(s);
  if (path.is_string()) return VarWalk(s, path.as_string(), found);
  if (path.is_number()) {
    Value v = ScopeChild(s, path);
    *found = !v.is_absent();
    return v;
  }
  if (IsArrayValue(path) && ArrayLength(path) == 0) return ScopeWhole(s);
  sbuf_.clear();
  AppendJsString(path, sbuf_);
  std::string key = sbuf_;
  return VarWalk(s, key, found);
}

Value Machine::Missing(std::span<const Value> keys, std::uint32_t node) {
  std::size_t base = stack_.size();
  for (std::size_t i = 0; i < keys.size(); ++i) {
    Value key = keys[i];
    bool found = false;
    Value v = DynamicVar(key, &found);
    if (IsNullish(v) || (v.is_string() && v.as_string().empty())) stack_.push_back(key);
  }
  (void)node;
  return MakeArray(base);
}

Value Machine::ArithList(const Node& n, std::uint32_t idx, std::span<const Value> args) {
  Op op = n.op == Op::kArith ? static_cast<Op>(n.aux) : n.op;
  auto check_item = [&](const Value& v) -> double {
    if (IsArrayValue(v) || IsObjectValue(v)) {
      Fail(kNaN, idx, "cannot use " + KindName(v) + " as a number");
    }
    if (v.is_absent()) Fail(kNaN, idx, "cannot use undefined as a number");
    return ToNumber(v, idx);
  };
  double r = 0;
  switch (op) {
    case Op::kAdd:
      for (const Value& v : args) r += check_item(v);
      break;
    case Op::kMul:
      r = 1;
      for (const Value& v : args) r *= check_item(v);
      break;
    case Op::kSub:
      if (args.empty()) Fail(kInvalidArguments, idx, "'-' needs at least one argument");
      r = check_item(args[0]);
      if (args.size() == 1) {
        r = -r;
      } else {
        for (std::size_t i = 1; i < args.size(); ++i) r -= check_item(args[i]);
      }
      break;
    case Op::kDiv:
      if (args.empty()) Fail(kInvalidArguments, idx, "'/' needs at least one argument");
      r = check_item(args[0]);
      if (args.size() == 1) {
        if (r == 0) Fail(kNaN, idx, "division by zero");
        r = 1 / r;
      } else {
        for (std::size_t i = 1; i < args.size(); ++i) {
          double d = check_item(args[i]);
          if (d == 0) Fail(kNaN, idx, "division by zero");
          r /= d;
        }
      }
      break;
    case Op::kMod:
      if (args.size() < 2) Fail(kInvalidArguments, idx, "'%' needs at least two arguments");
      r = check_item(args[0]);
      for (std::size_t i = 1; i < args.size(); ++i) r = std::fmod(r, check_item(args[i]));
      break;
    case Op::kMax:
    case Op::kMin: {
      if (args.empty()) Fail(kInvalidArguments, idx, "'max'/'min' need at least one argument");
      r = check_item(args[0]);
      for (std::size_t i = 1; i < args.size(); ++i) {
        double d = check_item(args[i]);
        if (std::isnan(d) || std::isnan(r)) {
          r = kNotANumber;
        } else if (op == Op::kMax ? d > r : d < r) {
          r = d;
        }
      }
      break;
    }
    default:
      break;
  }
  if (std::isnan(r)) Fail(kNaN, idx, "the result is not a number");
  return Value::Number(r);
}

Value Machine::Iterate(const Node& n, std::uint32_t idx) {
  Value arr = EvalKid(n, 0);
  bool is_array = IsArrayValue(arr);
  if (!is_array) {
    if (n.op == Op::kAll || n.op == Op::kSome || n.op == Op::kNone) {
      Fail(kInvalidArguments, idx, "expected an array, got " + KindName(arr));
    }
    if (n.op == Op::kReduce) return n.n > 2 ? EvalKid(n, 2) : Value::Null();
    return Value::Array({});
  }
  std::size_t len = ArrayLength(arr);
  std::uint32_t pred = n.n > 1 ? p_->kids[n.first + 1] : ~0u;
  auto eval_pred = [&]() -> Value { return pred == ~0u ? Value::Null() : Eval(pred); };
  std::size_t scope_base = scopes_.size();
  Value result;
  switch (n.op) {
    case Op::kMap:
    case Op::kFilter: {
      std::size_t base = stack_.size();
      for (std::size_t i = 0; i < len; ++i) {
        CountIteration(idx);
        Value item = ArrayItem(arr, i);
        Scope meta;
        meta.type = ScopeType::kMeta;
        meta.index = Value::Number(static_cast<double>(i));
        PushScope(meta, idx);
        Scope sc;
        sc.type = ScopeType::kValue;
        sc.value = item;
        PushScope(sc, idx);
        Value r = eval_pred();
        scopes_.resize(scope_base);
        if (n.op == Op::kMap) {
          stack_.push_back(r);
        } else if (IsTruthy(r)) {
          stack_.push_back(item);
        }
      }
      return MakeArray(base);
    }
    case Op::kReduce: {
      Value acc = n.n > 2 ? EvalKid(n, 2) : Value::Null();
      for (std::size_t i = 0; i < len; ++i) {
        CountIteration(idx);
        Scope meta;
        meta.type = ScopeType::kMeta;
        meta.index = Value::Number(static_cast<double>(i));
        PushScope(meta, idx);
        Scope sc;
        sc.type = ScopeType::kReduce;
        sc.value = ArrayItem(arr, i);
        sc.accumulator = acc;
        PushScope(sc, idx);
        acc = eval_pred();
        scopes_.resize(scope_base);
      }
      return acc;
    }
    default: {
      if (len == 0) return Value::Bool(n.op == Op::kNone);
      for (std::size_t i = 0; i < len; ++i) {
        CountIteration(idx);
        Scope meta;
        meta.type = ScopeType::kMeta;
        meta.index = Value::Number(static_cast<double>(i));
        PushScope(meta, idx);
        Scope sc;
        sc.type = ScopeType::kValue;
        sc.value = ArrayItem(arr, i);
        PushScope(sc, idx);
        bool t = IsTruthy(eval_pred());
        scopes_.resize(scope_base);
        if (n.op == Op::kAll && !t) return Value::Bool(false);
        if (n.op == Op::kSome && t) return Value::Bool(true);
        if (n.op == Op::kNone && t) return Value::Bool(false);
      }
      return Value::Bool(n.op != Op::kSome);
    }
  }
  return result;
}

Value Machine::Try(const Node& n, std::uint32_t idx) {
  std::size_t scope_base = scopes_.size();
  std::size_t stack_base = stack_.size();
  EvalError last;
  for (std::uint32_t i = 0; i < n.n; ++i) {
    try {
      if (i > 0) {
        Scope meta;
        meta.type = ScopeType::kMeta;
        meta.index = Value::Null();
        PushScope(meta, idx);
        Scope sc;
        sc.type = ScopeType::kValue;
        sc.value = FromJson(error_contexts_.back());
        PushScope(sc, idx);
      }
      Value r = EvalKid(n, i);
      scopes_.resize(scope_base);
      return r;
    } catch (EvalError& e) {
      dirty_ = true;
      scopes_.resize(scope_base);
      stack_.resize(stack_base);
      if (e.type == kLimitExceeded || e.type == kExceededDepth) throw;  // limits are final
      if (e.is_throw && e.thrown.is_object()) {
        error_contexts_.push_back(e.thrown);
      } else {
        error_contexts_.push_back(nlohmann::json{{"type", e.type}});
      }
      last = std::move(e);
    }
  }
  throw last;
}

Value Machine::EvalIf(const Node& n, [[maybe_unused]] std::uint32_t idx) {
  std::uint32_t i = 0;
  for (; i + 1 < n.n; i += 2) {
    if (TestKid(n, i)) return EvalKid(n, i + 1);
  }
  if (i < n.n) return EvalKid(n, i);
  return Value::Null();
}

Value Machine::EvalAnd(const Node& n, [[maybe_unused]] std::uint32_t idx) {
  if (n.flags & 4) {  // every kid is a test: the result is a boolean
    for (std::uint32_t i = 0; i < n.n; ++i) {
      if (!TestKid(n, i)) return Value::Bool(false);
    }
    return Value::Bool(true);
  }
  return EvalCold(idx);
}

Value Machine::EvalOr(const Node& n, [[maybe_unused]] std::uint32_t idx) {
  if (n.flags & 4) {
    for (std::uint32_t i = 0; i < n.n; ++i) {
      if (TestKid(n, i)) return Value::Bool(true);
    }
    return Value::Bool(false);
  }
  return EvalCold(idx);
}

Value Machine::EvalCmpSlotK(const Node& n, [[maybe_unused]] std::uint32_t idx) {
  Value v = SlotValue(static_cast<int>(n.first));
  if (v.is_absent()) v = n.kk;
  bool r;
  if (FastSlotCompare(n.cmp, v, n.k, &r)) return Value::Bool(r);
  return EvalCold(idx);
}

Value Machine::EvalIfTable(const Node& n, [[maybe_unused]] std::uint32_t idx) {
  const IfTable& t = p_->if_tables[n.aux];
  if (t.band) {
    const IfRow& r0 = t.rows[0];
    Value v = SlotValue(static_cast<int>(r0.slot));
    if (v.is_absent()) v = r0.absent;
    if (v.is_number()) {
      double x = v.as_number();
      std::size_t count = t.thresholds.size();
      std::size_t band = 0;
      const double* th = t.thresholds.data();
      switch (r0.cmp) {
        case Cmp::kLt:
          for (std::size_t i = 0; i < count; ++i) band += !(x < th[i]);
          break;
        case Cmp::kLe:
          for (std::size_t i = 0; i < count; ++i) band += !(x <= th[i]);
          break;
        case Cmp::kGt:
          for (std::size_t i = 0; i < count; ++i) band += !(x > th[i]);
          break;
        default:
          for (std::size_t i = 0; i < count; ++i) band += !(x >= th[i]);
          break;
      }
      if (band < count) return Leaf(t.rows[band].result);
      return t.has_otherwise ? Leaf(t.otherwise) : Value::Null();
    }
  }
  if (!t.atoms.empty()) {
    // Every row tested (no side effects, no errors on the fast path), the first true one taken.
    std::uint64_t mask = 0;
    std::size_t i = 0;
    for (; i < t.atoms.size(); ++i) {
      int b = AtomTest(t.atoms[i], *p_);
      if (b < 0) [[unlikely]]
        break;
      mask |= std::uint64_t(static_cast<unsigned>(b)) << i;
    }
    if (i == t.atoms.size()) {
      if (mask != 0) return Leaf(t.rows[static_cast<std::size_t>(__builtin_ctzll(mask))].result);
      return t.has_otherwise ? Leaf(t.otherwise) : Value::Null();
    }
  }
  for (const IfRow& r : t.rows) {
    Value v = SlotValue(static_cast<int>(r.slot));
    if (v.is_absent()) v = r.absent;
    bool hit;
    if (r.kind == RowKind::kMissing) {
      hit = IsNullish(v) || (v.is_string() && v.as_string().empty());
    } else if (r.kind == RowKind::kInList) {
      if (v.is_string()) {
        hit = false;
        std::string_view s = v.as_string();
        for (const Value& c : p_->const_lists[r.list]) {
          if (c.is_string() && c.as_string().size() == s.size() && c.as_string() == s) {
            hit = true;
            break;
          }
        }
      } else {
        hit = FastTruthy(EvalCold(r.cond));
      }
    } else if (v.is_number()) {
      double x = v.as_number();
      if (r.kind == RowKind::kCmp) {
        hit = CompareNumbers(r.cmp, x, r.k);
      } else if (r.kind == RowKind::kBetween) {
        hit = CompareNumbers(r.cmp, r.k, x) && CompareNumbers(r.cmp2, x, r.kk);
      } else {
        Value w = SlotValue(static_cast<int>(r.slot2));
        if (w.is_number()) {
          double y = w.as_number() * r.k;
          hit = y == y ? CompareNumbers(r.cmp, x, y) : FastTruthy(EvalCold(r.cond));
        } else {
          hit = FastTruthy(EvalCold(r.cond));
        }
      }
    } else {
      hit = FastTruthy(EvalCold(r.cond));
    }
    if (hit) return Leaf(r.result);
  }
  return t.has_otherwise ? Leaf(t.otherwise) : Value::Null();
}

Value Machine::EvalLinear(const Node& n, [[maybe_unused]] std::uint32_t idx) {
  const Linear& l = p_->linears[n.aux];
  double r = 0;
  for (const LinearTerm& t : l.terms) {
    Value v = SlotValue(static_cast<int>(t.slot));
    if (!v.is_number()) return Eval(l.fallback);
    r += t.mul ? t.coef * v.as_number() : v.as_number();
  }
  if (l.has_c0) r += l.c0;
  if (r != r) return Eval(l.fallback);
  return Value::Number(r);
}

Value Machine::EvalCmp(const Node& n, [[maybe_unused]] std::uint32_t idx) {
  if (n.op == Op::kCmpRatio) {
    Value v = SlotValue(static_cast<int>(n.slot));
    Value w = SlotValue(static_cast<int>(n.aux));
    if (v.is_number() && w.is_number()) {
      double y = w.as_number() * n.k.as_number();
      if (y == y) return Value::Bool(CompareNumbers(n.cmp, v.as_number(), y));
    }
  }
  if (n.n == 2 && n.cmp != Cmp::kStrictEq && n.cmp != Cmp::kStrictNe) {
    Value a = EvalKid(n, 0);
    Value b = EvalKid(n, 1);
    if (a.is_number() && b.is_number()) {
      return Value::Bool(CompareNumbers(n.cmp, a.as_number(), b.as_number()));
    }
    return Value::Bool(Compare(n.cmp, a, b, idx));
  }
  return EvalCold(idx);
}

Value Machine::EvalMaxMin(const Node& n, [[maybe_unused]] std::uint32_t idx) {
  if (n.n == 0) return EvalCold(idx);
  Value first = EvalKid(n, 0);
  if (!first.is_number()) return EvalCold(idx);
  double r = first.as_number();
  for (std::uint32_t i = 1; i < n.n; ++i) {
    Value v = EvalKid(n, i);
    // Not a number, or NaN (which JavaScript propagates): the generic path re-evaluates (kids are
    // side-effect free) and reports it.
    if (!v.is_number() || v.as_number() != v.as_number()) return EvalCold(idx);
    double d = v.as_number();
    r = n.op == Op::kMax ? (d > r ? d : r) : (d < r ? d : r);
  }
  if (r != r) return EvalCold(idx);
  return Value::Number(r);
}

Value Machine::EvalAddMul(const Node& n, [[maybe_unused]] std::uint32_t idx) {
  double r = n.op == Op::kAdd ? 0 : 1;
  for (std::uint32_t i = 0; i < n.n; ++i) {
    Value v = EvalKid(n, i);
    if (!v.is_number()) return EvalCold(idx);  // re-evaluates: kids are side-effect free
    r = n.op == Op::kAdd ? r + v.as_number() : r * v.as_number();
  }
  if (r != r) return EvalCold(idx);
  return Value::Number(r);
}

Value Machine::EvalInConst(const Node& n, [[maybe_unused]] std::uint32_t idx) {
  Value needle = EvalKid(n, 0);
  if (needle.is_string()) {
    std::string_view s = needle.as_string();
    for (const Value& v : p_->const_lists[n.aux]) {
      if (v.is_string()) {
        std::string_view t = v.as_string();
        if (SameString(t, s)) return Value::Bool(true);
      }
    }
    return Value::Bool(false);
  }
  return EvalCold(idx);
}

Value Machine::Eval(std::uint32_t idx) {
  const Node& n = p_->nodes[idx];
  switch (n.op) {
    case Op::kConst:
      return n.k;
    case Op::kSlot: {
      Value v = SlotValue(static_cast<int>(n.first));
      return v.is_absent() ? n.k : v;
    }
    case Op::kIf:
      return EvalIf(n, idx);
    case Op::kAnd:
      return EvalAnd(n, idx);
    case Op::kOr:
      return EvalOr(n, idx);
    case Op::kNot:
      return Value::Bool(n.n == 0 ? true : !Test(p_->kids[n.first]));
    case Op::kNotNot:
      return Value::Bool(n.n == 0 ? false : Test(p_->kids[n.first]));
    case Op::kCmpSlotK:
      return EvalCmpSlotK(n, idx);
    case Op::kIfTable:
      return EvalIfTable(n, idx);
    case Op::kLinear:
      return EvalLinear(n, idx);
    case Op::kClamp: {
      Value x = EvalKid(n, 0);
      if (x.is_number() && x.as_number() == x.as_number()) {
        double r = x.as_number();
        if (!n.kk.is_absent()) {
          double hi = n.kk.as_number();
          r = r < hi ? r : hi;  // as min(hi, x)
        }
        double lo = n.k.as_number();
        return Value::Number(r > lo ? r : lo);  // as max(lo, ...)
      }
      return Eval(n.aux);  // generic max/min: coercions and errors
    }
    case Op::kCmp:
    case Op::kCmpRatio:
      return EvalCmp(n, idx);
    case Op::kMax:
    case Op::kMin:
      return EvalMaxMin(n, idx);
    case Op::kAdd:
    case Op::kMul:
      return EvalAddMul(n, idx);
    case Op::kInConst:
      return EvalInConst(n, idx);
    default:
      return EvalCold(idx);
  }
}

Value Machine::EvalCold(std::uint32_t idx) {
  const Node& n = p_->nodes[idx];
  switch (n.op) {
    case Op::kConst:
      return n.k;
    case Op::kIfTable:
    case Op::kLinear:
    case Op::kClamp:
      return Eval(idx);
    case Op::kFail: {
      const Error& e = p_->fail_errors[n.aux];
      EvalError err;
      err.type = e.type;
      err.message = e.message;
      throw err;
    }
    case Op::kSlot: {
      Value v = SlotValue(static_cast<int>(n.first));
      return v.is_absent() ? n.k : v;
    }
    case Op::kSlotDyn: {
      Value v = SlotValue(static_cast<int>(n.aux));
      return v.is_absent() ? EvalKid(n, 0) : v;
    }
    case Op::kVar: {
      bool found = false;
      Value v;
      if (n.aux != ~0u) {
        v = ConstPathLookup(p_->paths[n.aux], &found);
      } else {
        Value path = EvalKid(n, 0);
        v = DynamicVar(path, &found);
      }
      if (!found) {
        if (n.flags & 1) return EvalKid(n, 1);
        return Value::Null();
      }
      return v;
    }
    case Op::kVal:
    case Op::kExists: {
      std::size_t climb = n.aux;
      const Scope* s = &scopes_.back();
      if (climb > 0) {
        std::size_t at = scopes_.size() - 1 >= climb ? scopes_.size() - 1 - climb : 0;
        s = &scopes_[at];
      }
      if (n.n == 0) return n.op == Op::kExists ? Value::Bool(true) : ScopeWhole(*s);
      Value cur;
      for (std::uint32_t i = 0; i < n.n; ++i) {
        Value key = EvalKid(n, i);
        if (i == 0) {
          cur = ScopeChild(*s, key);
        } else {
          if (IsNullish(cur)) {
            cur = Value();
            break;
          }
          if (key.is_string()) {
            cur = ChildOf(cur, key.as_string());
          } else if (key.is_number() && IsArrayValue(cur)) {
            double d = key.as_number();
            cur = (d >= 0 && d == std::trunc(d) && d < static_cast<double>(ArrayLength(cur)))
                      ? ArrayItem(cur, static_cast<std::size_t>(d))
                      : Value();
          } else {
            std::string k;
            AppendJsString(key, k);
            cur = ChildOf(cur, k);
          }
        }
      }
      if (n.op == Op::kExists) return Value::Bool(!cur.is_absent());
      return cur.is_absent() ? Value::Null() : cur;
    }
    case Op::kMissing: {
      std::size_t base = stack_.size();
      for (std::uint32_t i = 0; i < n.n; ++i) {
        Value v = EvalKid(n, i);
        if (i == 0 && IsArrayValue(v)) {
          // json-logic-js: a first argument that is an array is the list of keys.
          std::size_t len = ArrayLength(v);
          for (std::size_t j = 0; j < len; ++j) stack_.push_back(ArrayItem(v, j));
          break;
        }
        stack_.push_back(v);
      }
      Value keys = MakeArray(base);
      return Missing(keys.as_array(), idx);
    }
    case Op::kMissingSomeSlots:
    case Op::kMissingSlots: {
      const MissingKeys& mk = p_->missing_keys[n.aux];
      std::size_t base = stack_.size();
      bool root = scopes_.size() == 1;
      for (std::size_t i = 0; i < mk.keys.size(); ++i) {
        Value v;
        if (root && mk.slots[i] >= 0) {
          v = SlotValue(mk.slots[i]);
        } else {
          bool found = false;
          v = ConstPathLookup(p_->paths[mk.paths[i]], &found);
        }
        if (IsNullish(v) || (v.is_string() && v.as_string().empty())) {
          stack_.push_back(mk.keys[i]);
        }
      }
      if (n.op == Op::kMissingSomeSlots) {
        double present = static_cast<double>(mk.keys.size() - (stack_.size() - base));
        if (present >= n.k.as_number()) {
          stack_.resize(base);
          return Value::Array({});
        }
      }
      if (stack_.size() == base) return Value::Array({});
      return MakeArray(base);
    }
    case Op::kMissingSome: {
      Value need_v = EvalKid(n, 0);
      Value keys = EvalKid(n, 1);
      double need = ToNumber(need_v, idx);
      std::size_t base = stack_.size();
      std::size_t len = ArrayLength(keys);
      for (std::size_t j = 0; j < len; ++j) stack_.push_back(ArrayItem(keys, j));
      Value list = MakeArray(base);
      Value missing = Missing(list.as_array(), idx);
      double present = static_cast<double>(len - missing.as_array().size());
      if (present >= need) return Value::Array({});
      return missing;
    }
    case Op::kIf: {
      std::uint32_t i = 0;
      for (; i + 1 < n.n; i += 2) {
        if (IsTruthy(EvalKid(n, i))) return EvalKid(n, i + 1);
      }
      if (i < n.n) return EvalKid(n, i);
      return Value::Null();
    }
    case Op::kAnd: {
      Value v = Value::Bool(false);
      for (std::uint32_t i = 0; i < n.n; ++i) {
        v = EvalKid(n, i);
        if (!IsTruthy(v)) return v;
      }
      return v;
    }
    case Op::kOr: {
      Value v = Value::Bool(false);
      for (std::uint32_t i = 0; i < n.n; ++i) {
        v = EvalKid(n, i);
        if (IsTruthy(v)) return v;
      }
      return v;
    }
    case Op::kCoalesce: {
      if (n.flags & 1) {  // computed list
        Value list = EvalKid(n, 0);
        if (!IsArrayValue(list)) return IsNullish(list) ? Value::Null() : list;
        std::size_t len = ArrayLength(list);
        for (std::size_t j = 0; j < len; ++j) {
          Value v = ArrayItem(list, j);
          if (!IsNullish(v)) return v;
        }
        return Value::Null();
      }
      for (std::uint32_t i = 0; i < n.n; ++i) {
        Value v = EvalKid(n, i);
        if (!IsNullish(v)) return v;
      }
      return Value::Null();
    }
    case Op::kNot:
      return Value::Bool(n.n == 0 ? true : !IsTruthy(EvalKid(n, 0)));
    case Op::kNotNot:
      return Value::Bool(n.n == 0 ? false : IsTruthy(EvalKid(n, 0)));
    case Op::kCmp:
    case Op::kCmpRatio: {
      Value a = EvalKid(n, 0);
      for (std::uint32_t i = 1; i < n.n; ++i) {
        Value b = EvalKid(n, i);
        if (!Compare(n.cmp, a, b, idx)) return Value::Bool(false);
        a = b;
      }
      return Value::Bool(true);
    }
    case Op::kCmpSlotK: {
      Value v = SlotValue(static_cast<int>(n.first));
      if (v.is_absent()) v = n.kk;
      if (v.is_number() && n.k.is_number()) {
        double x = v.as_number(), y = n.k.as_number();
        switch (n.cmp) {
          case Cmp::kLt:
            return Value::Bool(x < y);
          case Cmp::kLe:
            return Value::Bool(x <= y);
          case Cmp::kGt:
            return Value::Bool(x > y);
          case Cmp::kGe:
            return Value::Bool(x >= y);
          case Cmp::kEq:
          case Cmp::kStrictEq:
            return Value::Bool(x == y);
          default:
            return Value::Bool(x != y);
        }
      }
      if (v.is_absent()) v = n.kk;
      if (v.is_absent()) v = Value::Null();
      return Value::Bool(Compare(n.cmp, v, n.k, idx));
    }
    case Op::kCmpKSlot: {
      Value v = SlotValue(static_cast<int>(n.first));
      if (v.is_absent()) v = Value::Null();
      return Value::Bool(Compare(n.cmp, n.k, v, idx));
    }
    case Op::kBetweenSlot: {
      Value v = SlotValue(static_cast<int>(n.first));
      if (v.is_number()) {
        double lo = n.k.as_number(), x = v.as_number(), hi = n.kk.as_number();
        bool first = n.cmp == Cmp::kLt ? lo < x : lo <= x;
        if (!first) return Value::Bool(false);
        return Value::Bool(n.cmp2 == Cmp::kLt ? x < hi : x <= hi);
      }
      if (v.is_absent()) v = Value::Null();
      if (!Compare(n.cmp, n.k, v, idx)) return Value::Bool(false);
      return Value::Bool(Compare(n.cmp2, v, n.kk, idx));
    }
    case Op::kAdd:
    case Op::kMul: {
      // Fast path: numbers only.
      double r = n.op == Op::kAdd ? 0 : 1;
      std::uint32_t i = 0;
      for (; i < n.n; ++i) {
        Value v = EvalKid(n, i);
        if (!v.is_number()) {
          std::size_t base = stack_.size();
          stack_.push_back(Value::Number(r));
          stack_.push_back(v);
          for (++i; i < n.n; ++i) {
            Value w = EvalKid(n, i);
            stack_.push_back(w);
          }
          Value res =
              ArithList(n, idx, std::span<const Value>(stack_.data() + base, stack_.size() - base));
          stack_.resize(base);
          return res;
        }
        r = n.op == Op::kAdd ? r + v.as_number() : r * v.as_number();
      }
      if (std::isnan(r)) Fail(kNaN, idx, "the result is not a number");
      return Value::Number(r);
    }
    case Op::kMax:
    case Op::kMin: {
      if (n.n == 0) Fail(kInvalidArguments, idx, "'max'/'min' need at least one argument");
      Value first = EvalKid(n, 0);
      if (first.is_number()) {
        double r = first.as_number();
        std::uint32_t i = 1;
        for (; i < n.n; ++i) {
          Value v = EvalKid(n, i);
          if (!v.is_number() || std::isnan(v.as_number())) break;
          double d = v.as_number();
          r = n.op == Op::kMax ? (d > r ? d : r) : (d < r ? d : r);
        }
        if (i == n.n) {
          if (std::isnan(r)) Fail(kNaN, idx, "the result is not a number");
          return Value::Number(r);
        }
      }
      [[fallthrough]];
    }
    case Op::kSub:
    case Op::kDiv:
    case Op::kMod: {
      std::size_t base = stack_.size();
      for (std::uint32_t i = 0; i < n.n; ++i) {
        Value v = EvalKid(n, i);
        stack_.push_back(v);
      }
      Value res =
          ArithList(n, idx, std::span<const Value>(stack_.data() + base, stack_.size() - base));
      stack_.resize(base);
      return res;
    }
    case Op::kArith: {
      Value v = EvalKid(n, 0);
      if (IsArrayValue(v)) {
        std::size_t base = stack_.size();
        std::size_t len = ArrayLength(v);
        for (std::size_t j = 0; j < len; ++j) stack_.push_back(ArrayItem(v, j));
        Value res =
            ArithList(n, idx, std::span<const Value>(stack_.data() + base, stack_.size() - base));
        stack_.resize(base);
        return res;
      }
      return ArithList(n, idx, std::span<const Value>(&v, 1));
    }
    case Op::kCat: {
      std::size_t start = sbuf_.size();
      auto append = [&](const Value& v) {
        if (!IsNullish(v)) AppendJsString(v, sbuf_);
        if (sbuf_.size() - start > p_->limits.max_string_bytes) {
          sbuf_.resize(start);
          Fail(kLimitExceeded, idx, "'cat' result exceeds max_string_bytes");
        }
      };
      if (n.flags & 1) {
        Value v = EvalKid(n, 0);
        if (IsArrayValue(v)) {
          std::size_t len = ArrayLength(v);
          for (std::size_t j = 0; j < len; ++j) append(ArrayItem(v, j));
        } else {
          append(v);
        }
      } else {
        for (std::uint32_t i = 0; i < n.n; ++i) append(EvalKid(n, i));
      }
      Value r = MakeString(std::string_view(sbuf_).substr(start));
      sbuf_.resize(start);
      return r;
    }
    case Op::kSubstr: {
      Value src = n.n > 0 ? EvalKid(n, 0) : Value();
      Value sv;
      if (src.is_string()) {
        sv = src;
      } else {
        std::size_t start = sbuf_.size();
        AppendJsString(src, sbuf_);
        sv = MakeString(std::string_view(sbuf_).substr(start));
        sbuf_.resize(start);
      }
      std::string_view s = sv.as_string();
      double size = static_cast<double>(CodePoints(s));
      double from = n.n > 1 ? ToInteger(ToNumber(EvalKid(n, 1), idx)) : 0;
      if (from < 0) from = std::max(size + from, 0.0);
      from = std::min(from, size);
      double count = size - from;
      if (n.n > 2) {
        Value lv = EvalKid(n, 2);
        if (!lv.is_absent()) {
          double len = ToInteger(ToNumber(lv, idx));
          count = len < 0 ? std::max(size - from + len, 0.0) : std::min(len, size - from);
        }
      }
      std::size_t b = ByteOffset(s, static_cast<std::size_t>(from));
      std::size_t e = ByteOffset(s, static_cast<std::size_t>(from + count));
      return Value::String(s.substr(b, e - b));
    }
    case Op::kIn: {
      // {"in": []} has no needle: false, as json-logic-js (found by tests/fuzz jsonlogic).
      Value needle = n.n > 0 ? EvalKid(n, 0) : Value();
      Value hay = n.n > 1 ? EvalKid(n, 1) : Value();
      if (IsArrayValue(hay)) {
        std::size_t len = ArrayLength(hay);
        for (std::size_t j = 0; j < len; ++j) {
          Value item = ArrayItem(hay, j);
          if (Compare(Cmp::kStrictEq, needle, item, idx)) return Value::Bool(true);
        }
        return Value::Bool(false);
      }
      if (hay.is_string()) {
        if (needle.is_string())
          return Value::Bool(hay.as_string().find(needle.as_string()) != std::string_view::npos);
        std::string k;
        AppendJsString(needle, k);
        return Value::Bool(hay.as_string().find(k) != std::string_view::npos);
      }
      return Value::Bool(false);
    }
    case Op::kInConst: {
      Value needle = EvalKid(n, 0);
      const std::vector<Value>& list = p_->const_lists[n.aux];
      if (needle.is_string()) {
        std::string_view s = needle.as_string();
        for (const Value& v : list) {
          if (v.is_string() && v.as_string() == s) return Value::Bool(true);
        }
        return Value::Bool(false);
      }
      for (const Value& v : list) {
        if (Compare(Cmp::kStrictEq, needle, v, idx)) return Value::Bool(true);
      }
      return Value::Bool(false);
    }
    case Op::kMerge: {
      std::size_t base = stack_.size();
      for (std::uint32_t i = 0; i < n.n; ++i) {
        Value v = EvalKid(n, i);
        if (IsArrayValue(v)) {
          std::size_t len = ArrayLength(v);
          for (std::size_t j = 0; j < len; ++j) stack_.push_back(ArrayItem(v, j));
        } else {
          stack_.push_back(v);
        }
        if (stack_.size() - base > p_->limits.max_array_size) {
          stack_.resize(base);
          Fail(kLimitExceeded, idx, "'merge' result exceeds max_array_size");
        }
      }
      return MakeArray(base);
    }
    case Op::kArray: {
      std::size_t base = stack_.size();
      for (std::uint32_t i = 0; i < n.n; ++i) {
        Value v = EvalKid(n, i);
        stack_.push_back(v);
      }
      return MakeArray(base);
    }
    case Op::kMap:
    case Op::kFilter:
    case Op::kReduce:
    case Op::kAll:
    case Op::kSome:
    case Op::kNone:
      return Iterate(n, idx);
    case Op::kThrow: {
      Value v = n.n > 0 ? EvalKid(n, 0) : Value::Null();
      if (IsArrayValue(v)) v = ArrayLength(v) > 0 ? ArrayItem(v, 0) : Value::Null();
      EvalError e;
      e.is_throw = true;
      e.thrown = ToJson(v);
      if (v.is_string()) {
        e.type = std::string(v.as_string());
      } else if (e.thrown.is_object() && e.thrown.contains("type") &&
                 e.thrown["type"].is_string()) {
        e.type = e.thrown["type"].get<std::string>();
      } else {
        e.type = e.thrown.dump();
      }
      e.message = "the rule threw " + e.thrown.dump();
      if (idx < p_->pointers.size()) e.message += " (at " + p_->pointers[idx] + ")";
      throw e;
    }
    case Op::kTry:
      return Try(n, idx);
    case Op::kLog:
      return n.n > 0 ? EvalKid(n, 0) : Value::Null();
  }
  return Value::Null();
}

}  // namespace kam::jsonlogic::internal
