// The compiler (rule JSON -> typed nodes, with limits checked first, slots resolved, constants
// folded, hot shapes specialised) and the public entry points.
#include "kam/jsonlogic/jsonlogic.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "machine.h"
#include "program.h"

namespace kam::jsonlogic {
namespace internal {
namespace {

using Json = nlohmann::json;

std::string EscapePointer(std::string_view key) {
  std::string out;
  for (char c : key) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// Checks depth, node count, string and array sizes without recursion.
std::optional<Error> CheckLimits(const Json& rule, const Limits& limits) {
  struct Item {
    const Json* j;
    std::size_t depth;
  };
  std::vector<Item> todo;
  todo.push_back({&rule, 1});
  std::size_t nodes = 0;
  while (!todo.empty()) {
    Item it = todo.back();
    todo.pop_back();
    if (it.depth > limits.max_depth) {
      return Error{std::string(kExceededDepth),
                   "the rule is nested deeper than " + std::to_string(limits.max_depth) +
                       " levels (limit max_depth); simplify it",
                   ""};
    }
    if (++nodes > limits.max_nodes) {
      return Error{std::string(kLimitExceeded),
                   "the rule has more than " + std::to_string(limits.max_nodes) +
                       " JSON values (limit max_nodes); split it",
                   ""};
    }
    const Json& j = *it.j;
    if (j.is_string() && j.get_ref<const std::string&>().size() > limits.max_string_bytes) {
      return Error{std::string(kLimitExceeded),
                   "a string in the rule is longer than " +
                       std::to_string(limits.max_string_bytes) + " bytes (limit max_string_bytes)",
                   ""};
    }
    if ((j.is_array() || j.is_object()) && j.size() > limits.max_array_size) {
      return Error{std::string(kLimitExceeded),
                   "an array or object in the rule has more than " +
                       std::to_string(limits.max_array_size) +
                       " elements (limit max_array_size)",
                   ""};
    }
    if (j.is_array() || j.is_object()) {
      for (const auto& child : j) todo.push_back({&child, it.depth + 1});
    }
  }
  return std::nullopt;
}

struct CompileFailure {
  Error error;
};

enum class OpKind {
  kVar, kVal, kExists, kMissing, kMissingSome, kIf, kAnd, kOr, kCoalesce, kNot, kNotNot, kCmp,
  kArith, kCat, kSubstr, kIn, kMerge, kIter, kThrow, kTry, kLog, kPreserve
};

struct OpInfo {
  OpKind kind;
  Op op;
  Cmp cmp;
};

const std::unordered_map<std::string, OpInfo>& Operators() {
  static const std::unordered_map<std::string, OpInfo> ops = {
      {"var", {OpKind::kVar, Op::kVar, Cmp::kLt}},
      {"val", {OpKind::kVal, Op::kVal, Cmp::kLt}},
      {"exists", {OpKind::kExists, Op::kExists, Cmp::kLt}},
      {"missing", {OpKind::kMissing, Op::kMissing, Cmp::kLt}},
      {"missing_some", {OpKind::kMissingSome, Op::kMissingSome, Cmp::kLt}},
      {"if", {OpKind::kIf, Op::kIf, Cmp::kLt}},
      {"?:", {OpKind::kIf, Op::kIf, Cmp::kLt}},
      {"and", {OpKind::kAnd, Op::kAnd, Cmp::kLt}},
      {"or", {OpKind::kOr, Op::kOr, Cmp::kLt}},
      {"??", {OpKind::kCoalesce, Op::kCoalesce, Cmp::kLt}},
      {"!", {OpKind::kNot, Op::kNot, Cmp::kLt}},
      {"!!", {OpKind::kNotNot, Op::kNotNot, Cmp::kLt}},
      {"<", {OpKind::kCmp, Op::kCmp, Cmp::kLt}},
      {"<=", {OpKind::kCmp, Op::kCmp, Cmp::kLe}},
      {">", {OpKind::kCmp, Op::kCmp, Cmp::kGt}},
      {">=", {OpKind::kCmp, Op::kCmp, Cmp::kGe}},
      {"==", {OpKind::kCmp, Op::kCmp, Cmp::kEq}},
      {"!=", {OpKind::kCmp, Op::kCmp, Cmp::kNe}},
      {"===", {OpKind::kCmp, Op::kCmp, Cmp::kStrictEq}},
      {"!==", {OpKind::kCmp, Op::kCmp, Cmp::kStrictNe}},
      {"+", {OpKind::kArith, Op::kAdd, Cmp::kLt}},
      {"*", {OpKind::kArith, Op::kMul, Cmp::kLt}},
      {"-", {OpKind::kArith, Op::kSub, Cmp::kLt}},
      {"/", {OpKind::kArith, Op::kDiv, Cmp::kLt}},
      {"%", {OpKind::kArith, Op::kMod, Cmp::kLt}},
      {"max", {OpKind::kArith, Op::kMax, Cmp::kLt}},
      {"min", {OpKind::kArith, Op::kMin, Cmp::kLt}},
      {"cat", {OpKind::kCat, Op::kCat, Cmp::kLt}},
      {"substr", {OpKind::kSubstr, Op::kSubstr, Cmp::kLt}},
      {"in", {OpKind::kIn, Op::kIn, Cmp::kLt}},
      {"merge", {OpKind::kMerge, Op::kMerge, Cmp::kLt}},
      {"map", {OpKind::kIter, Op::kMap, Cmp::kLt}},
      {"filter", {OpKind::kIter, Op::kFilter, Cmp::kLt}},
      {"reduce", {OpKind::kIter, Op::kReduce, Cmp::kLt}},
      {"all", {OpKind::kIter, Op::kAll, Cmp::kLt}},
      {"some", {OpKind::kIter, Op::kSome, Cmp::kLt}},
      {"none", {OpKind::kIter, Op::kNone, Cmp::kLt}},
      {"throw", {OpKind::kThrow, Op::kThrow, Cmp::kLt}},
      {"try", {OpKind::kTry, Op::kTry, Cmp::kLt}},
      {"log", {OpKind::kLog, Op::kLog, Cmp::kLt}},
      {"preserve", {OpKind::kPreserve, Op::kConst, Cmp::kLt}},
  };
  return ops;
}

bool IsPure(Op op) {
  switch (op) {
    case Op::kIf:
    case Op::kAnd:
    case Op::kOr:
    case Op::kCoalesce:
    case Op::kNot:
    case Op::kNotNot:
    case Op::kCmp:
    case Op::kAdd:
    case Op::kMul:
    case Op::kSub:
    case Op::kDiv:
    case Op::kMod:
    case Op::kMax:
    case Op::kMin:
    case Op::kArith:
    case Op::kCat:
    case Op::kSubstr:
    case Op::kIn:
    case Op::kInConst:
    case Op::kMerge:
    case Op::kArray:
      return true;
    default:
      return false;
  }
}

class Compiler {
 public:
  Compiler(Program& p, const Schema* schema) : p_(p), schema_(schema) {}

  std::uint32_t Compile(const Json& j) {
    if (j.is_object()) {
      if (j.size() != 1) return AddConst(FromJson(j));  // data, not logic
      auto it = j.begin();
      const std::string& key = it.key();
      std::size_t mark = pointer_.size();
      pointer_ += '/';
      pointer_ += EscapePointer(key);
      std::uint32_t r = CompileOp(key, it.value());
      pointer_.resize(mark);
      return r;
    }
    if (j.is_array()) {
      std::vector<std::uint32_t> kids;
      bool all_const = true;
      for (std::size_t i = 0; i < j.size(); ++i) {
        kids.push_back(CompileAt(j[i], std::to_string(i)));
        all_const = all_const && IsConst(kids.back());
      }
      if (all_const) {
        bool same = true;  // elements are their own values: reuse the literal
        for (std::size_t i = 0; i < j.size(); ++i) {
          if (j[i].is_object() && j[i].size() == 1) same = false;
          if (j[i].is_array()) same = false;
        }
        if (same) return AddConst(FromJson(j));
      }
      return Fold(AddNode(Op::kArray, kids));
    }
    return AddConst(FromJson(j));
  }

  std::uint32_t CompileAt(const Json& j, const std::string& token) {
    std::size_t mark = pointer_.size();
    pointer_ += '/';
    pointer_ += EscapePointer(token);
    std::uint32_t r = Compile(j);
    pointer_.resize(mark);
    return r;
  }

 private:
  [[noreturn]] void Fail(std::string_view type, const std::string& message) {
    throw CompileFailure{Error{std::string(type),
                               message + " (at " + (pointer_.empty() ? "/" : pointer_) +
                                   " in the rule)",
                               ""}};
  }

  bool IsConst(std::uint32_t node) const { return p_.nodes[node].op == Op::kConst; }

  // True when the node always yields a boolean (so and/or of such nodes can return booleans).
  bool IsBoolean(std::uint32_t node) const {
    const Node& n = p_.nodes[node];
    switch (n.op) {
      case Op::kConst:
        return n.k.is_bool();
      case Op::kCmp:
      case Op::kCmpSlotK:
      case Op::kCmpKSlot:
      case Op::kCmpRatio:
      case Op::kBetweenSlot:
      case Op::kNot:
      case Op::kNotNot:
      case Op::kIn:
      case Op::kInConst:
      case Op::kExists:
      case Op::kAll:
      case Op::kSome:
      case Op::kNone:
        return true;
      case Op::kAnd:
      case Op::kOr:
        return (n.flags & 4) != 0;
      default:
        return false;
    }
  }

  std::uint32_t AddConst(Value v) {
    Node n;
    n.op = Op::kConst;
    n.k = v;
    return Push(n, {});
  }

  std::uint32_t Push(Node n, const std::vector<std::uint32_t>& kids) {
    n.first = static_cast<std::uint32_t>(p_.kids.size());
    n.n = static_cast<std::uint32_t>(kids.size());
    p_.kids.insert(p_.kids.end(), kids.begin(), kids.end());
    p_.nodes.push_back(n);
    p_.pointers.push_back(pointer_.empty() ? "/" : pointer_);
    return static_cast<std::uint32_t>(p_.nodes.size() - 1);
  }

  std::uint32_t AddNode(Op op, const std::vector<std::uint32_t>& kids, Cmp cmp = Cmp::kLt) {
    Node n;
    n.op = op;
    n.cmp = cmp;
    return Push(n, kids);
  }

  // Replaces a pure node whose kids are all constants by its value (errors stay at run time).
  std::uint32_t Fold(std::uint32_t node) {
    const Node& n = p_.nodes[node];
    if (!IsPure(n.op)) return node;
    for (std::uint32_t i = 0; i < n.n; ++i) {
      if (!IsConst(p_.kids[n.first + i])) return node;
    }
    try {
      Machine m;
      Value v = m.RunNode(p_, node);
      p_.json_pool.push_back(ToJson(v));
      Node c;
      c.op = Op::kConst;
      c.k = FromJson(p_.json_pool.back());
      c.first = n.first;
      c.n = 0;
      p_.nodes[node] = c;
    } catch (const EvalError&) {
      // Keep the node: the error belongs to evaluation (a `try` may catch it).
    }
    return node;
  }

  std::vector<const Json*> ArgList(const Json& args) {
    std::vector<const Json*> out;
    if (args.is_array()) {
      for (const auto& a : args) out.push_back(&a);
    } else {
      out.push_back(&args);
    }
    return out;
  }

  std::vector<std::uint32_t> CompileArgs(const Json& args) {
    std::vector<std::uint32_t> kids;
    if (args.is_array()) {
      for (std::size_t i = 0; i < args.size(); ++i) kids.push_back(CompileAt(args[i], std::to_string(i)));
    } else {
      kids.push_back(Compile(args));
    }
    return kids;
  }

  bool IsLogic(const Json& j) const { return j.is_object() && j.size() == 1; }

  void RecordSlot(int slot) {
    if (slot >= 0) p_.slots_read.push_back(slot);
  }
  void RecordUnknown(const std::string& path) {
    if (iter_depth_ == 0) p_.unknown_paths.push_back(path);
  }

  std::uint32_t ConstPath(const std::string& text) {
    Path path;
    path.text = text;
    if (!text.empty()) {
      std::size_t start = 0;
      while (true) {
        std::size_t dot = text.find('.', start);
        path.components.push_back(text.substr(start, dot - start));
        if (dot == std::string::npos) break;
        start = dot + 1;
      }
    }
    if (iter_depth_ == 0 && !text.empty()) {
      if (schema_ != nullptr) path.slot = schema_->Find(text);
      if (path.slot >= 0) {
        RecordSlot(path.slot);
      } else {
        RecordUnknown(text);
      }
    }
    p_.paths.push_back(std::move(path));
    return static_cast<std::uint32_t>(p_.paths.size() - 1);
  }

  static bool ConstKeyText(const Json& j, std::string* out) {
    if (j.is_string()) {
      *out = j.get<std::string>();
      return true;
    }
    if (j.is_number()) {
      *out = FormatNumber(j.get<double>());
      return true;
    }
    return false;
  }

  std::uint32_t CompileVar(const Json& args) {
    std::vector<const Json*> list = ArgList(args);
    if (args.is_array() && list.empty()) list.push_back(nullptr);
    const Json* path_j = list[0];
    std::string text;
    bool const_path = path_j == nullptr || path_j->is_null() || ConstKeyText(*path_j, &text);
    bool has_default = list.size() > 1;
    std::uint32_t def = 0;
    if (has_default) def = CompileAt(*list[1], "1");
    if (const_path) {
      std::uint32_t path_idx = ConstPath(text);
      const Path& path = p_.paths[path_idx];
      if (path.slot >= 0 && iter_depth_ == 0) {
        Node n;
        if (!has_default || IsConst(def)) {
          n.op = Op::kSlot;
          n.first = static_cast<std::uint32_t>(path.slot);
          n.k = has_default ? p_.nodes[def].k : Value::Null();
          std::uint32_t idx = Push(n, {});
          p_.nodes[idx].first = static_cast<std::uint32_t>(path.slot);
          return idx;
        }
        n.op = Op::kSlotDyn;
        n.aux = static_cast<std::uint32_t>(path.slot);
        return Push(n, {def});
      }
      Node n;
      n.op = Op::kVar;
      n.aux = path_idx;
      n.flags = has_default ? 1 : 0;
      std::uint32_t placeholder = AddConst(Value::Null());
      return Push(n, has_default ? std::vector<std::uint32_t>{placeholder, def}
                                 : std::vector<std::uint32_t>{placeholder});
    }
    p_.dynamic_paths = true;
    std::uint32_t path_node = args.is_array() ? CompileAt(*path_j, "0") : Compile(*path_j);
    Node n;
    n.op = Op::kVar;
    n.aux = ~0u;
    n.flags = has_default ? 1 : 0;
    return Push(n, has_default ? std::vector<std::uint32_t>{path_node, def}
                               : std::vector<std::uint32_t>{path_node});
  }

  std::uint32_t CompileVal(const Json& args, Op op) {
    std::vector<const Json*> list = ArgList(args);
    std::size_t climb = 0;
    std::size_t start = 0;
    if (args.is_array() && !list.empty() && list[0]->is_array()) {
      const Json& c = *list[0];
      if (!c.empty() && c[0].is_number()) {
        climb = static_cast<std::size_t>(std::fabs(c[0].get<double>()));
      }
      start = 1;
    }
    std::vector<std::uint32_t> kids;
    bool all_const = true;
    std::string joined;
    bool joinable = true;
    for (std::size_t i = start; i < list.size(); ++i) {
      std::uint32_t k = args.is_array() ? CompileAt(*list[i], std::to_string(i)) : Compile(*list[i]);
      kids.push_back(k);
      std::string text;
      if (IsConst(k) && (list[i]->is_string() || list[i]->is_number()) &&
          ConstKeyText(*list[i], &text)) {
        if (text.find('.') != std::string::npos || text.empty()) joinable = false;
        if (!joined.empty() || i > start) joined += ".";
        joined += text;
      } else {
        all_const = false;
      }
    }
    if (!all_const) p_.dynamic_paths = true;
    if (op == Op::kVal && all_const && joinable && climb == 0 && iter_depth_ == 0 &&
        !kids.empty()) {
      int slot = schema_ != nullptr ? schema_->Find(joined) : -1;
      if (slot >= 0) {
        RecordSlot(slot);
        Node n;
        n.op = Op::kSlot;
        n.k = Value::Null();
        std::uint32_t idx = Push(n, {});
        p_.nodes[idx].first = static_cast<std::uint32_t>(slot);
        return idx;
      }
      RecordUnknown(joined);
    } else if (all_const && climb == 0 && iter_depth_ == 0 && !kids.empty() && joinable) {
      RecordUnknown(joined);
    }
    Node n;
    n.op = op;
    n.aux = static_cast<std::uint32_t>(climb);
    return Push(n, kids);
  }

  std::uint32_t CompileMissing(const Json& args) {
    std::vector<const Json*> list = ArgList(args);
    // Constant keys (the common `{"missing": ["a.b", "c"]}`): resolve slots now.
    bool all_const_keys = !list.empty();
    for (const Json* a : list) {
      if (!(a->is_string() || a->is_number())) all_const_keys = false;
    }
    if (args.is_array() && args.size() == 1 && args[0].is_array()) {
      bool ok = true;
      for (const auto& a : args[0]) ok = ok && (a.is_string() || a.is_number());
      if (ok) {
        list.clear();
        for (const auto& a : args[0]) list.push_back(&a);
        all_const_keys = true;
      }
    }
    if (all_const_keys) return AddMissingSlots(list, Op::kMissingSlots, Value());
    p_.dynamic_paths = true;
    return AddNode(Op::kMissing, CompileArgs(args));
  }

  std::uint32_t AddMissingSlots(const std::vector<const Json*>& list, Op op, Value need) {
    {
      MissingKeys mk;
      for (const Json* a : list) {
        std::string text;
        ConstKeyText(*a, &text);
        std::uint32_t path_idx = ConstPath(text);
        const Path& path = p_.paths[path_idx];
        if (a->is_string()) {
          p_.string_pool.push_back(text);
          mk.keys.push_back(Value::String(p_.string_pool.back()));
        } else {
          mk.keys.push_back(Value::Number(a->get<double>()));
        }
        mk.slots.push_back(iter_depth_ == 0 ? path.slot : -1);
        mk.paths.push_back(path_idx);
      }
      p_.missing_keys.push_back(std::move(mk));
      Node n;
      n.op = op;
      n.k = need;
      n.aux = static_cast<std::uint32_t>(p_.missing_keys.size() - 1);
      return Push(n, {});
    }
  }

  std::uint32_t CompileMissingSome(const Json& args) {
    if (!args.is_array() || args.size() < 2) {
      Fail(kInvalidArguments, "'missing_some' needs [minimum, [keys...]]");
    }
    if (args[0].is_number() && args[1].is_array()) {
      std::vector<const Json*> list;
      bool ok = true;
      for (const auto& a : args[1]) {
        ok = ok && (a.is_string() || a.is_number());
        list.push_back(&a);
      }
      if (ok) {
        return AddMissingSlots(list, Op::kMissingSomeSlots, Value::Number(args[0].get<double>()));
      }
    }
    std::uint32_t need = CompileAt(args[0], "0");
    std::uint32_t keys;
    if (args[1].is_array()) {
      // Record the constant keys for slots_read / unknown_paths.
      for (const auto& a : args[1]) {
        std::string text;
        if (ConstKeyText(a, &text)) ConstPath(text);
      }
    } else {
      p_.dynamic_paths = true;
    }
    keys = CompileAt(args[1], "1");
    return AddNode(Op::kMissingSome, {need, keys});
  }

  std::uint32_t CompileCmp(const Json& args, Cmp cmp, const std::string& name) {
    if (!args.is_array() || args.size() < 2) {
      Fail(kInvalidArguments, "'" + name + "' needs an array of at least two arguments");
    }
    std::vector<std::uint32_t> kids = CompileArgs(args);
    auto slot_any_default = [&](std::uint32_t k) -> int {
      const Node& n = p_.nodes[k];
      if (n.op == Op::kSlot) return static_cast<int>(n.first);
      return -1;
    };
    auto num_const = [&](std::uint32_t k) {
      return IsConst(k) && p_.nodes[k].k.is_number();
    };
    auto simple_const = [&](std::uint32_t k) {
      if (!IsConst(k)) return false;
      Kind kd = p_.nodes[k].k.kind();
      return kd == Kind::kNumber || kd == Kind::kString || kd == Kind::kBool ||
             kd == Kind::kNull;
    };
    if (kids.size() == 2) {
      int s0 = slot_any_default(kids[0]);
      int s1 = SlotOf(kids[1]);
      if (s0 >= 0 && simple_const(kids[1])) {
        Node n;
        n.op = Op::kCmpSlotK;  // numbers take the fast path; other constants the generic one
        n.cmp = cmp;
        n.k = p_.nodes[kids[1]].k;
        n.kk = p_.nodes[kids[0]].k;  // the var's default for an absent slot (null when none)
        std::uint32_t idx = Push(n, {});
        p_.nodes[idx].first = static_cast<std::uint32_t>(s0);
        return idx;
      }
      if (s1 >= 0 && simple_const(kids[0])) {
        Node n;
        n.op = Op::kCmpKSlot;
        n.cmp = cmp;
        n.k = p_.nodes[kids[0]].k;
        std::uint32_t idx = Push(n, {});
        p_.nodes[idx].first = static_cast<std::uint32_t>(s1);
        return idx;
      }
    }
    double ratio = 0;
    if (kids.size() == 2 && cmp != Cmp::kStrictEq && cmp != Cmp::kStrictNe &&
        SlotOf(kids[0]) >= 0 && SlotTimesConst(kids[1], &ratio) >= 0) {
      Node n;
      n.op = Op::kCmpRatio;
      n.cmp = cmp;
      n.k = Value::Number(ratio);
      n.slot = static_cast<std::uint32_t>(SlotOf(kids[0]));
      n.aux = static_cast<std::uint32_t>(SlotTimesConst(kids[1], &ratio));
      return Push(n, kids);
    }
    if (kids.size() == 3 && (cmp == Cmp::kLt || cmp == Cmp::kLe) && num_const(kids[0]) &&
        num_const(kids[2]) && SlotOf(kids[1]) >= 0) {
      Node n;
      n.op = Op::kBetweenSlot;
      n.cmp = cmp;
      n.cmp2 = cmp;
      n.k = p_.nodes[kids[0]].k;
      n.kk = p_.nodes[kids[2]].k;
      std::uint32_t idx = Push(n, {});
      p_.nodes[idx].first = static_cast<std::uint32_t>(SlotOf(kids[1]));
      return idx;
    }
    return Fold(AddNode(Op::kCmp, kids, cmp));
  }

  int SlotOf(std::uint32_t k) const {
    const Node& n = p_.nodes[k];
    if (n.op == Op::kSlot && n.k.is_null()) return static_cast<int>(n.first);
    return -1;
  }

  // `{"*": [slot, K]}` or `{"*": [K, slot]}`: returns the slot and sets *k.
  int SlotTimesConst(std::uint32_t node, double* k) const {
    const Node& n = p_.nodes[node];
    if (n.op != Op::kMul || n.n != 2) return -1;
    std::uint32_t a = p_.kids[n.first], b = p_.kids[n.first + 1];
    if (SlotOf(a) >= 0 && IsConst(b) && p_.nodes[b].k.is_number()) {
      *k = p_.nodes[b].k.as_number();
      return SlotOf(a);
    }
    if (SlotOf(b) >= 0 && IsConst(a) && p_.nodes[a].k.is_number()) {
      *k = p_.nodes[a].k.as_number();
      return SlotOf(b);
    }
    return -1;
  }

  // max(lo, min(hi, x)) and max(lo, x) with constant bounds: one clamp node over x.
  std::uint32_t MaybeClamp(std::uint32_t node) {
    const Node n = p_.nodes[node];
    if (n.op != Op::kMax || n.n != 2) return node;
    std::uint32_t lo = p_.kids[n.first], inner = p_.kids[n.first + 1];
    if (!IsConst(lo) || !p_.nodes[lo].k.is_number() || IsConst(inner)) return node;
    Node c;
    c.op = Op::kClamp;
    c.k = p_.nodes[lo].k;
    c.kk = Value();  // no upper bound
    std::uint32_t x = inner;
    const Node& in = p_.nodes[inner];
    if (in.op == Op::kMin && in.n == 2 && IsConst(p_.kids[in.first]) &&
        p_.nodes[p_.kids[in.first]].k.is_number() && !IsConst(p_.kids[in.first + 1])) {
      c.kk = p_.nodes[p_.kids[in.first]].k;
      x = p_.kids[in.first + 1];
    }
    p_.nodes.push_back(n);  // the generic max, for inputs that are not numbers
    p_.pointers.push_back(p_.pointers[node]);
    c.aux = static_cast<std::uint32_t>(p_.nodes.size() - 1);
    c.first = static_cast<std::uint32_t>(p_.kids.size());
    c.n = 1;
    p_.kids.push_back(x);
    p_.nodes[node] = c;
    return node;
  }

  // A `+` of slots and constant*slot products becomes one weighted-sum node.
  std::uint32_t MaybeLinear(std::uint32_t node) {
    const Node n = p_.nodes[node];
    if (n.op != Op::kAdd || n.n == 0) return node;
    Linear lin;
    for (std::uint32_t i = 0; i < n.n; ++i) {
      std::uint32_t kid = p_.kids[n.first + i];
      LinearTerm t;
      double k = 0;
      if (SlotOf(kid) >= 0) {
        t.slot = static_cast<std::uint32_t>(SlotOf(kid));
      } else if (int slot = SlotTimesConst(kid, &k); slot >= 0) {
        t.slot = static_cast<std::uint32_t>(slot);
        t.coef = k;
        t.mul = true;
      } else {
        return node;
      }
      lin.terms.push_back(t);
    }
    p_.nodes.push_back(n);  // the generic `+`, for inputs that are not all numbers
    p_.pointers.push_back(p_.pointers[node]);
    lin.fallback = static_cast<std::uint32_t>(p_.nodes.size() - 1);
    p_.linears.push_back(std::move(lin));
    p_.nodes[node].op = Op::kLinear;
    p_.nodes[node].aux = static_cast<std::uint32_t>(p_.linears.size() - 1);
    return node;
  }

  static void MarkBand(IfTable& table) {
    const IfRow& r0 = table.rows[0];
    bool ascending = r0.cmp == Cmp::kLt || r0.cmp == Cmp::kLe;
    bool descending = r0.cmp == Cmp::kGt || r0.cmp == Cmp::kGe;
    if (!ascending && !descending) return;
    for (std::size_t i = 0; i < table.rows.size(); ++i) {
      const IfRow& r = table.rows[i];
      if (r.kind != RowKind::kCmp || r.slot != r0.slot || r.cmp != r0.cmp) return;
      if (r.absent.kind() != r0.absent.kind()) return;
      if (r.absent.is_number() && r.absent.as_number() != r0.absent.as_number()) return;
      if (std::isnan(r.k)) return;
      if (i > 0) {
        double prev = table.rows[i - 1].k;
        if (ascending ? r.k < prev : r.k > prev) return;
      }
    }
    table.band = true;
    for (const IfRow& r : table.rows) table.thresholds.push_back(r.k);
  }

  // Turns an if-chain whose conditions are all numeric slot comparisons into a table.
  std::uint32_t MaybeIfTable(std::uint32_t node) {
    const Node n = p_.nodes[node];
    if (n.n < 2) return node;
    IfTable table;
    std::uint32_t i = 0;
    for (; i + 1 < n.n; i += 2) {
      std::uint32_t cond = p_.kids[n.first + i];
      const Node& c = p_.nodes[cond];
      IfRow row;
      row.cond = cond;
      row.result = p_.kids[n.first + i + 1];
      row.slot = c.first;
      row.cmp = c.cmp;
      if (c.op == Op::kCmpSlotK && c.k.is_number() && c.cmp != Cmp::kStrictEq &&
          c.cmp != Cmp::kStrictNe) {
        row.k = c.k.as_number();
        row.absent = c.kk;
      } else if (c.op == Op::kCmpRatio) {
        row.kind = RowKind::kRatio;
        row.slot = c.slot;
        row.slot2 = c.aux;
        row.k = c.k.as_number();
        row.absent = Value::Null();
      } else if (c.op == Op::kInConst && SlotOf(p_.kids[c.first]) >= 0) {
        row.kind = RowKind::kInList;
        row.slot = static_cast<std::uint32_t>(SlotOf(p_.kids[c.first]));
        row.list = c.aux;
        row.absent = Value::Null();
      } else if (c.op == Op::kMissingSlots && p_.missing_keys[c.aux].slots.size() == 1 &&
                 p_.missing_keys[c.aux].slots[0] >= 0) {
        row.kind = RowKind::kMissing;
        row.slot = static_cast<std::uint32_t>(p_.missing_keys[c.aux].slots[0]);
        row.absent = Value();
      } else if (c.op == Op::kBetweenSlot) {
        row.kind = RowKind::kBetween;
        row.cmp2 = c.cmp2;
        row.k = c.k.as_number();
        row.kk = c.kk.as_number();
        row.absent = Value::Null();
      } else {
        return node;
      }
      table.rows.push_back(row);
    }
    if (i < n.n) {
      table.has_otherwise = true;
      table.otherwise = p_.kids[n.first + i];
    }
    MarkBand(table);
    p_.if_tables.push_back(std::move(table));
    p_.nodes[node].op = Op::kIfTable;
    p_.nodes[node].aux = static_cast<std::uint32_t>(p_.if_tables.size() - 1);
    return node;
  }

  std::uint32_t CompileIter(const Json& args, Op op, const std::string& name) {
    if (!args.is_array()) {
      Fail(kInvalidArguments, "'" + name + "' needs an array [items, logic" +
                                  std::string(op == Op::kReduce ? ", initial]" : "]"));
    }
    if ((op == Op::kMap || op == Op::kFilter) && args.size() >= 1 && args[0].is_null()) {
      Fail(kInvalidArguments, "'" + name + "' needs an array to iterate, got null");
    }
    if ((op == Op::kMap || op == Op::kFilter) && args.size() >= 2 && args[1].is_null()) {
      Fail(kInvalidArguments, "'" + name + "' needs logic to apply, got null");
    }
    std::vector<std::uint32_t> kids;
    kids.push_back(args.empty() ? AddConst(Value::Null()) : CompileAt(args[0], "0"));
    if (args.size() > 1) {
      ++iter_depth_;
      kids.push_back(CompileAt(args[1], "1"));
      --iter_depth_;
    }
    if (op == Op::kReduce && args.size() > 2) {
      kids.push_back(CompileAt(args[2], "2"));
    }
    return AddNode(op, kids);
  }

  std::uint32_t CompileOp(const std::string& name, const Json& args) {
    const auto& ops = Operators();
    auto it = ops.find(name);
    if (it == ops.end()) {
      Fail(kUnknownOperator, "unknown operator '" + name + "'");
    }
    const OpInfo& info = it->second;
    switch (info.kind) {
      case OpKind::kPreserve:
        return AddConst(FromJson(args));
      case OpKind::kVar:
        return CompileVar(args);
      case OpKind::kVal:
        return CompileVal(args, Op::kVal);
      case OpKind::kExists:
        return CompileVal(args, Op::kExists);
      case OpKind::kMissing:
        return CompileMissing(args);
      case OpKind::kMissingSome:
        return CompileMissingSome(args);
      case OpKind::kIf:
      case OpKind::kAnd:
      case OpKind::kOr: {
        if (!args.is_array()) {
          Fail(kInvalidArguments, "'" + name + "' needs an array of arguments");
        }
        std::vector<std::uint32_t> kids = CompileArgs(args);
        if (info.kind == OpKind::kAnd || info.kind == OpKind::kOr) {
          std::uint32_t idx = AddNode(info.kind == OpKind::kAnd ? Op::kAnd : Op::kOr, kids);
          bool tests = !kids.empty();
          for (std::uint32_t k : kids) tests = tests && IsBoolean(k);
          if (tests) p_.nodes[idx].flags |= 4;
          return Fold(idx);
        }
        return Fold(MaybeIfTable(AddNode(Op::kIf, kids)));
      }
      case OpKind::kCoalesce: {
        if (!args.is_array()) {
          Node n;
          n.op = Op::kCoalesce;
          n.flags = 1;
          return Fold(Push(n, {Compile(args)}));
        }
        return Fold(AddNode(Op::kCoalesce, CompileArgs(args)));
      }
      case OpKind::kNot:
      case OpKind::kNotNot: {
        std::vector<std::uint32_t> kids;
        if (args.is_array()) {
          if (!args.empty()) kids.push_back(CompileAt(args[0], "0"));
        } else {
          kids.push_back(Compile(args));
        }
        return Fold(AddNode(info.op, kids));
      }
      case OpKind::kCmp:
        return CompileCmp(args, info.cmp, name);
      case OpKind::kArith: {
        if (!args.is_array() && IsLogic(args)) {
          Node n;
          n.op = Op::kArith;
          n.aux = static_cast<std::uint32_t>(info.op);
          return Fold(Push(n, {Compile(args)}));
        }
        std::uint32_t idx = Fold(AddNode(info.op, CompileArgs(args)));
        if (info.op == Op::kAdd) return MaybeLinear(idx);
        if (info.op == Op::kMax) return MaybeClamp(idx);
        return idx;
      }
      case OpKind::kCat: {
        if (!args.is_array() && IsLogic(args)) {
          Node n;
          n.op = Op::kCat;
          n.flags = 1;
          return Fold(Push(n, {Compile(args)}));
        }
        return Fold(AddNode(Op::kCat, CompileArgs(args)));
      }
      case OpKind::kSubstr:
        return Fold(AddNode(Op::kSubstr, CompileArgs(args)));
      case OpKind::kIn: {
        std::vector<std::uint32_t> kids = CompileArgs(args);
        if (kids.size() == 2 && IsConst(kids[1]) && !IsConst(kids[0])) {
          Value hay = p_.nodes[kids[1]].k;
          if (IsArrayValue(hay)) {
            std::vector<Value> list;
            bool simple = true;
            for (std::size_t i = 0; i < ArrayLength(hay); ++i) {
              Value v = ArrayItem(hay, i);
              if (IsArrayValue(v) || IsObjectValue(v)) simple = false;
              list.push_back(v);
            }
            if (simple) {
              p_.const_lists.push_back(std::move(list));
              Node n;
              n.op = Op::kInConst;
              n.aux = static_cast<std::uint32_t>(p_.const_lists.size() - 1);
              return Push(n, {kids[0]});
            }
          }
        }
        return Fold(AddNode(Op::kIn, kids));
      }
      case OpKind::kMerge:
        return Fold(AddNode(Op::kMerge, CompileArgs(args)));
      case OpKind::kIter:
        return CompileIter(args, info.op, name);
      case OpKind::kThrow:
        return AddNode(Op::kThrow, CompileArgs(args));
      case OpKind::kTry: {
        std::vector<std::uint32_t> kids;
        if (args.is_array()) {
          for (std::size_t i = 0; i < args.size(); ++i) {
            if (i > 0) ++iter_depth_;  // fallbacks run in the error's scope
            kids.push_back(CompileAt(args[i], std::to_string(i)));
            if (i > 0) --iter_depth_;
          }
        } else {
          kids.push_back(Compile(args));
        }
        return AddNode(Op::kTry, kids);
      }
      case OpKind::kLog: {
        std::vector<std::uint32_t> kids = CompileArgs(args);
        if (kids.size() > 1) kids.erase(kids.begin() + 1, kids.end());
        return AddNode(Op::kLog, kids);
      }
    }
    Fail(kUnknownOperator, "unknown operator '" + name + "'");
  }

  Program& p_;
  const Schema* schema_;
  std::string pointer_;
  int iter_depth_ = 0;
};

void SortUnique(std::vector<int>& v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
}
void SortUnique(std::vector<std::string>& v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
}

// The atom of a condition node, when the node is a slot test AtomTest covers.
bool MakeAtom(const Program& p, std::uint32_t node, Atom* out) {
  const Node& n = p.nodes[node];
  Atom a;
  switch (n.op) {
    case Op::kSlot:
      a.kind = AtomKind::kTruthy;
      a.slot = n.first;
      a.def = n.k;
      break;
    case Op::kCmpSlotK:
      a.slot = n.first;
      a.cmp = n.cmp;
      a.def = n.kk.is_absent() ? Value::Null() : n.kk;
      if (n.k.is_number()) {
        a.kind = AtomKind::kNumCmp;
        a.k = n.k.as_number();
      } else if (n.k.is_string() && n.cmp >= Cmp::kEq) {
        a.kind = AtomKind::kStrCmp;
        a.s = n.k.as_string();
      } else {
        return false;
      }
      break;
    case Op::kBetweenSlot:
      if (!n.k.is_number() || !n.kk.is_number()) return false;
      a.kind = AtomKind::kBetween;
      a.slot = n.first;
      a.cmp = n.cmp;
      a.cmp2 = n.cmp2;
      a.k = n.k.as_number();
      a.kk = n.kk.as_number();
      break;
    case Op::kCmpRatio:
      if (!n.k.is_number() || n.cmp >= Cmp::kStrictEq) return false;
      a.kind = AtomKind::kRatio;
      a.slot = n.slot;
      a.slot2 = n.aux;
      a.cmp = n.cmp;
      a.k = n.k.as_number();
      break;
    case Op::kInConst: {
      if (n.n != 1) return false;
      const Node& kid = p.nodes[p.kids[n.first]];
      if (kid.op != Op::kSlot) return false;
      a.kind = AtomKind::kInList;
      a.slot = kid.first;
      a.def = kid.k;
      a.aux = n.aux;
      for (const Value& c : p.const_lists[n.aux]) a.list_has_null = a.list_has_null || c.is_null();
      break;
    }
    case Op::kMissingSlots:
    case Op::kMissingSomeSlots: {
      const MissingKeys& mk = p.missing_keys[n.aux];
      for (int slot : mk.slots) {
        if (slot < 0) return false;
      }
      a.kind = AtomKind::kMissing;
      a.aux = n.aux;
      if (n.op == Op::kMissingSomeSlots) {
        if (!n.k.is_number()) return false;
        a.some = true;
        a.k = n.k.as_number();
      }
      break;
    }
    default:
      return false;
  }
  *out = a;
  return true;
}

// A condition of and/or/!/!! over atoms and constants as a truth table.
class PredicateBuilder {
 public:
  explicit PredicateBuilder(const Program& p) : p_(p) {}

  bool Build(std::uint32_t root, Predicate* out) {
    if (!Collect(root, 0)) return false;
    if (atoms_.empty()) return false;  // a constant: the interpreter is as fast
    std::uint64_t table = 0;
    for (unsigned m = 0; m < (1u << atoms_.size()); ++m) {
      if (Truth(root, m)) table |= std::uint64_t{1} << m;
    }
    out->atoms = atoms_;
    out->table = table;
    return true;
  }

 private:
  bool Collect(std::uint32_t node, int depth) {
    if (depth > 32) return false;
    const Node& n = p_.nodes[node];
    switch (n.op) {
      case Op::kConst:
        return true;
      case Op::kNot:
      case Op::kNotNot:
        return n.n == 0 || Collect(p_.kids[n.first], depth + 1);
      case Op::kAnd:
      case Op::kOr:
        for (std::uint32_t i = 0; i < n.n; ++i) {
          if (!Collect(p_.kids[n.first + i], depth + 1)) return false;
        }
        return true;
      default: {
        for (const auto& [at, index] : index_) {
          if (at == node) return true;
        }
        Atom a;
        if (atoms_.size() >= kMaxPredicateAtoms || !MakeAtom(p_, node, &a)) return false;
        index_.emplace_back(node, static_cast<unsigned>(atoms_.size()));
        atoms_.push_back(a);
        return true;
      }
    }
  }

  // Truthiness of `node` (json-logic-js: `and`/`or` give a value whose truthiness is that of the
  // first falsy / truthy operand) when atom i is (m >> i) & 1.
  bool Truth(std::uint32_t node, unsigned m) const {
    const Node& n = p_.nodes[node];
    switch (n.op) {
      case Op::kConst:
        return IsTruthy(n.k);
      case Op::kNot:
        return n.n == 0 ? true : !Truth(p_.kids[n.first], m);
      case Op::kNotNot:
        return n.n == 0 ? false : Truth(p_.kids[n.first], m);
      case Op::kAnd:
        if (n.n == 0) return false;
        for (std::uint32_t i = 0; i < n.n; ++i) {
          if (!Truth(p_.kids[n.first + i], m)) return false;
        }
        return true;
      case Op::kOr:
        for (std::uint32_t i = 0; i < n.n; ++i) {
          if (Truth(p_.kids[n.first + i], m)) return true;
        }
        return false;
      default:
        for (const auto& [at, index] : index_) {
          if (at == node) return ((m >> index) & 1u) != 0;
        }
        return false;
    }
  }

  const Program& p_;
  std::vector<Atom> atoms_;
  std::vector<std::pair<std::uint32_t, unsigned>> index_;
};

// After compilation: the root as a predicate, and atoms for the rows of if-tables that are not
// bands.
void BuildFastPaths(Program& p) {
  p.has_predicate = PredicateBuilder(p).Build(p.root, &p.predicate);
  for (IfTable& t : p.if_tables) {
    if (t.band || t.rows.size() > 64) continue;
    std::vector<Atom> atoms;
    for (const IfRow& r : t.rows) {
      Atom a;
      if (!MakeAtom(p, r.cond, &a)) {
        atoms.clear();
        break;
      }
      atoms.push_back(a);
    }
    t.atoms = std::move(atoms);
  }
}
}  // namespace
}  // namespace internal

// ---------------------------------------------------------------------------------------------

Rule::Rule() = default;

std::span<const int> Rule::slots_read() const {
  if (!program_) return {};
  return program_->slots_read;
}
std::span<const std::string> Rule::unknown_paths() const {
  if (!program_) return {};
  return program_->unknown_paths;
}
bool Rule::has_dynamic_paths() const { return program_ && program_->dynamic_paths; }
bool Rule::is_constant() const {
  return program_ && program_->nodes[program_->root].op == internal::Op::kConst;
}
std::size_t Rule::node_count() const { return program_ ? program_->nodes.size() : 0; }

Expected<Rule> Compile(const nlohmann::json& rule, const CompileOptions& options) {
  if (auto err = internal::CheckLimits(rule, options.limits)) return *err;
  auto program = std::make_shared<internal::Program>();
  program->limits = options.limits;
  if (options.schema != nullptr) program->schema = *options.schema;
  try {
    program->json_pool.push_back(rule);  // constants view into this copy
    internal::Compiler compiler(*program, options.schema);
    program->root = compiler.Compile(program->json_pool.front());
    internal::BuildFastPaths(*program);
  } catch (const internal::CompileFailure& f) {
    return f.error;
  } catch (const nlohmann::json::exception& e) {
    return Error{std::string(kInvalidArguments), std::string("malformed rule: ") + e.what(), ""};
  }
  internal::SortUnique(program->slots_read);
  internal::SortUnique(program->unknown_paths);
  Rule r;
  r.program_ = std::move(program);
  return r;
}

struct Evaluator::State {
  internal::Machine machine;
  Error error;
};

namespace {
[[gnu::noinline]] void StoreError(internal::EvalError& e, Error* out) {
  out->type = std::move(e.type);
  out->message = std::move(e.message);
  out->thrown.clear();
  if (e.is_throw) out->thrown = e.thrown.dump();
}
}  // namespace

void Evaluator::Bind(std::span<const Value> slots, const nlohmann::json* data) {
  state_->machine.Bind(slots, data);
}

bool Evaluator::Run(const Rule& rule, Value* out) {
  if (!rule.program_) [[unlikely]] {
    state_->error = {std::string(kInvalidArguments), "evaluating a rule that was never compiled",
                     ""};
    return false;
  }
  try {
    *out = state_->machine.RunBound(*rule.program_);
    return true;
  } catch (internal::EvalError& e) {
    StoreError(e, &state_->error);
    return false;
  }
}

bool Evaluator::Test(const Rule& rule, bool* out) {
  if (!rule.program_) [[unlikely]] {
    state_->error = {std::string(kInvalidArguments), "evaluating a rule that was never compiled",
                     ""};
    return false;
  }
  try {
    *out = state_->machine.TestBound(*rule.program_);
    return true;
  } catch (internal::EvalError& e) {
    StoreError(e, &state_->error);
    return false;
  }
}

const Error& Evaluator::error() const { return state_->error; }

namespace {
void NotCompiled(Error* out) {
  *out = {std::string(kInvalidArguments), "evaluating a rule that was never compiled", ""};
}
}  // namespace

std::size_t Evaluator::RunScores(std::span<const Rule> rules, std::span<const int> targets,
                                 double lo, double hi, std::span<Value> record, double* results,
                                 bool* raised, Value* bad) {
  internal::Machine& m = state_->machine;
  std::size_t i = 0;
  try {
    for (; i < rules.size(); ++i) {
      if (!rules[i].program_) [[unlikely]] {
        NotCompiled(&state_->error);
        *raised = true;
        return i;
      }
      Value v = m.RunBound(*rules[i].program_);
      if (!v.is_number() || !(v.as_number() >= lo && v.as_number() <= hi)) [[unlikely]] {
        *raised = false;
        *bad = v;
        return i;
      }
      results[i] = v.as_number();
      int t = targets[i];
      if (t >= 0) record[static_cast<std::size_t>(t)] = v;
    }
  } catch (internal::EvalError& e) {
    StoreError(e, &state_->error);
    *raised = true;
    return i;
  }
  return i;
}

std::size_t Evaluator::TestEach(std::span<const Rule> rules, std::uint64_t* mask) {
  internal::Machine& m = state_->machine;
  std::uint64_t bits = 0;
  std::size_t i = 0;
  try {
    for (; i < rules.size() && i < 64; ++i) {
      if (!rules[i].program_) [[unlikely]] {
        NotCompiled(&state_->error);
        return i;
      }
      const internal::Program& program = *rules[i].program_;
      int fast = program.has_predicate ? m.TestPredicate(program) : -1;
      bool hit = fast >= 0 ? fast != 0 : m.TestBound(program);
      bits |= std::uint64_t{hit} << i;
    }
  } catch (internal::EvalError& e) {
    StoreError(e, &state_->error);
    return i;
  }
  *mask = bits;
  return rules.size();
}

Evaluator::Evaluator() : state_(std::make_unique<State>()) {}
Evaluator::~Evaluator() = default;

Expected<Value> Evaluator::Evaluate(const Rule& rule, std::span<const Value> slots,
                                    const nlohmann::json* data) {
  if (!rule.program_) {
    return Error{std::string(kInvalidArguments), "evaluating a rule that was never compiled", ""};
  }
  try {
    return state_->machine.Run(*rule.program_, slots, data);
  } catch (internal::EvalError& e) {
    Error err{std::move(e.type), std::move(e.message), ""};
    if (e.is_throw) err.thrown = e.thrown.dump();
    return err;
  }
}

Expected<bool> Evaluator::EvaluateTruthy(const Rule& rule, std::span<const Value> slots,
                                         const nlohmann::json* data) {
  if (!rule.program_) {
    return Error{std::string(kInvalidArguments), "evaluating a rule that was never compiled", ""};
  }
  try {
    return state_->machine.RunTruthy(*rule.program_, slots, data);
  } catch (internal::EvalError& e) {
    Error err{std::move(e.type), std::move(e.message), ""};
    if (e.is_throw) err.thrown = e.thrown.dump();
    return err;
  }
}

Expected<nlohmann::json> Apply(const nlohmann::json& rule, const nlohmann::json& data,
                               const Limits& limits) {
  CompileOptions options;
  options.limits = limits;
  Expected<Rule> compiled = Compile(rule, options);
  if (!compiled.ok()) return compiled.error();
  Evaluator evaluator;
  Expected<Value> v = evaluator.Evaluate(*compiled, {}, &data);
  if (!v.ok()) return v.error();
  return ToJson(*v);
}

}  // namespace kam::jsonlogic
