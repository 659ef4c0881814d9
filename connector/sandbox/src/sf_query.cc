// SOQL execution of the Salesforce flavour: validation against the schema (INVALID_TYPE,
// INVALID_FIELD, MALFORMED_QUERY), filtering with Salesforce's comparison rules, index use for
// Id / AccountId / WhatId / external-id filters, ORDER BY, GROUP BY aggregates, LIMIT/OFFSET, and
// the projection with nested parent records.
#include <algorithm>
#include <cmath>

#include "sf_portal.h"
#include "sf_soql.h"

namespace kam::sandbox::sf {
namespace {

SfError Malformed(const std::string& message) {
  return SfError{400, "MALFORMED_QUERY", message, {}};
}

bool IsText(const std::string& t) {
  return t == "string" || t == "textarea" || t == "picklist" || t == "combobox" || t == "email" ||
         t == "phone" || t == "url" || t == "multipicklist";
}
bool IsNumeric(const std::string& t) {
  return t == "double" || t == "currency" || t == "percent" || t == "int";
}

// A resolved field path: the field on the queried object, or relationship.field on a parent.
struct Path {
  std::string written;             // as in the query
  const Field* field = nullptr;    // final field
  const Field* via = nullptr;      // the reference field on the queried object (parent paths)
  std::string rel;                 // canonical relationship name
  const Object* parent = nullptr;  // parent object when unique (for polymorphic: nullptr)
};

// LIKE with % and _ (backslash escapes), case-insensitive.
bool Like(std::string_view s, std::string_view p) {
  size_t si = 0, pi = 0, star = std::string_view::npos, mark = 0;
  auto lower = [](char c) {
    return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  };
  while (si < s.size()) {
    if (pi < p.size() && p[pi] == '\\' && pi + 1 < p.size()) {
      if (lower(p[pi + 1]) == lower(s[si])) {
        pi += 2;
        ++si;
        continue;
      }
    } else if (pi < p.size() && p[pi] == '_') {
      ++pi;
      ++si;
      continue;
    } else if (pi < p.size() && p[pi] == '%') {
      star = pi++;
      mark = si;
      continue;
    } else if (pi < p.size() && lower(p[pi]) == lower(s[si])) {
      ++pi;
      ++si;
      continue;
    }
    if (star == std::string_view::npos) return false;
    pi = star + 1;
    si = ++mark;
  }
  while (pi < p.size() && p[pi] == '%') ++pi;
  return pi == p.size();
}

}  // namespace

class QueryRunner {
 public:
  QueryRunner(Org& org, const soql::Query& q, bool include_deleted, bool tooling,
              const std::string& version, int64_t now_ms)
      : org_(org), q_(q), include_deleted_(include_deleted), version_(version), now_(now_ms) {
    obj_ = org.FindObject(q.from, tooling);
    if (!obj_ || (!tooling && obj_->tooling)) {
      throw SfError{400,
                    "INVALID_TYPE",
                    "\n" + q.from + "\n^\nERROR at Row:1:Column:1\nsObject type '" + q.from +
                        "' is not supported. If you are attempting to use a custom object, be "
                        "sure to append the '__c' after the entity name. Please reference your "
                        "WSDL or the describe call for the appropriate names.",
                    {}};
    }
  }

  QueryPage Run() {
    // Resolve every path up front: INVALID_FIELD before any work.
    std::vector<Path> select;
    for (const auto& s : q_.select) {
      if (s.field.empty()) continue;
      select.push_back(Resolve(s.field));
    }
    if (q_.where) Check(*q_.where);
    std::vector<Path> group;
    for (const auto& g : q_.group_by) group.push_back(Resolve(g));
    std::vector<Path> order;
    for (const auto& o : q_.order_by) order.push_back(Resolve(o.field));
    if (q_.offset && *q_.offset > 2000) {
      throw SfError{400, "NUMBER_OUTSIDE_VALID_RANGE", "Maximum SOQL offset allowed is 2000", {}};
    }

    std::vector<const json*> rows = Candidates();
    std::vector<const json*> kept;
    kept.reserve(rows.size());
    for (const json* r : rows) {
      if (!include_deleted_ && r->value("IsDeleted", false)) continue;
      if (q_.where && !Eval(*q_.where, *r)) continue;
      kept.push_back(r);
    }

    QueryPage page;
    if (q_.count_only) {
      page.total = static_cast<int64_t>(kept.size());
      if (q_.limit) page.total = std::min<int64_t>(page.total, *q_.limit);
      return page;
    }
    if (q_.has_aggregates()) return Aggregate(kept, select, group, order);

    // ORDER BY (ties by Id, for a stable order).
    // Sort keys computed once per row (not per comparison).
    struct Row {
      std::vector<json> keys;
      const json* id;
      const json* record;
    };
    static const json kNoId = "";
    std::vector<Row> sorted;
    sorted.reserve(kept.size());
    for (const json* r : kept) {
      Row row{{}, nullptr, r};
      row.keys.reserve(order.size());
      for (const auto& o : order) row.keys.push_back(ValueOf(o, *r));
      auto id = r->find("Id");
      row.id = id == r->end() ? &kNoId : &*id;
      sorted.push_back(std::move(row));
    }
    std::stable_sort(sorted.begin(), sorted.end(), [&](const Row& a, const Row& b) {
      for (size_t i = 0; i < order.size(); ++i) {
        const int c = Compare(a.keys[i], b.keys[i], *order[i].field, q_.order_by[i].nulls_last,
                              q_.order_by[i].desc);
        if (c != 0) return c < 0;
      }
      return *a.id < *b.id;
    });
    for (size_t i = 0; i < sorted.size(); ++i) kept[i] = sorted[i].record;
    size_t begin = q_.offset ? static_cast<size_t>(*q_.offset) : 0;
    size_t end = kept.size();
    if (q_.limit) end = std::min(end, begin + static_cast<size_t>(*q_.limit));
    begin = std::min(begin, end);
    page.total = static_cast<int64_t>(end - begin);
    page.records.reserve(end - begin);
    for (size_t i = begin; i < end; ++i) page.records.push_back(Project(*kept[i], select));
    return page;
  }

 private:
  Path Resolve(const std::string& written) {
    Path p;
    p.written = written;
    const size_t dot = written.find('.');
    std::string rest = written;
    const Object* on = obj_;
    if (dot != std::string::npos) {
      std::string first = written.substr(0, dot);
      rest = written.substr(dot + 1);
      // The object name itself may prefix a field: Account.Name FROM Account.
      if (ToLower(first) == ToLower(obj_->name) && !obj_->FindRelationship(first)) {
        return Resolve(rest);
      }
      const Field* via = obj_->FindRelationship(first);
      if (!via || rest.find('.') != std::string::npos) {
        throw InvalidField(written);
      }
      p.via = via;
      p.rel = via->relationship_name;
      if (via->reference_to.size() == 1) {
        on = org_.FindObject(via->reference_to[0], false);
      } else {
        // Polymorphic (What): only Id, Name and Type are common.
        const std::string r = ToLower(rest);
        if (r != "id" && r != "name" && r != "type") throw InvalidField(written);
        on = org_.FindObject(via->reference_to[0], false);
        p.parent = nullptr;
        p.field = r == "type" ? via : on->Find(r);
        if (r == "type") p.rel += ".Type";
        return p;
      }
      p.parent = on;
    }
    p.field = on->Find(rest);
    if (!p.field) throw InvalidField(written);
    return p;
  }

  SfError InvalidField(const std::string& written) {
    return SfError{400,
                   "INVALID_FIELD",
                   "\n" + written + "\n^\nERROR at Row:1:Column:1\nNo such column '" + written +
                       "' on entity '" + obj_->name +
                       "'. If you are attempting to use a custom field, be sure to append the "
                       "'__c' after the custom field name. Please reference your WSDL or the "
                       "describe call for the appropriate names.",
                   {}};
  }

  // Validates a condition's paths and value types (once, before evaluation).
  void Check(const soql::Cond& c) {
    if (c.op == soql::Cond::kAnd || c.op == soql::Cond::kOr || c.op == soql::Cond::kNot) {
      for (const auto& k : c.kids) Check(k);
      return;
    }
    Path p = Resolve(c.field);
    paths_.emplace(c.field, p);
    const std::string& t = p.rel.size() > 5 && p.rel.substr(p.rel.size() - 5) == ".Type"
                               ? std::string("string")
                               : p.field->type;
    if (t == "textarea" || t == "complexvalue") {
      if (!(obj_->tooling && t == "complexvalue")) {
        throw SfError{400,
                      "INVALID_FIELD",
                      "field '" + p.field->name + "' can not be filtered in a query call",
                      {}};
      }
    }
    for (const auto& v : c.values) {
      if (v.kind == soql::Value::kNull) continue;
      auto mismatch = [&](const char* want) {
        return SfError{400,
                       "INVALID_FIELD",
                       "value of filter criterion for field '" + p.field->name +
                           "' must be of type " + want + " and should not be enclosed in quotes",
                       {}};
      };
      if (IsNumeric(t) && v.kind != soql::Value::kNumber) throw mismatch("double");
      if (t == "boolean" && v.kind != soql::Value::kBool) throw mismatch("boolean");
      if (t == "date" && v.kind != soql::Value::kDate && v.kind != soql::Value::kDateLiteral) {
        throw mismatch("date");
      }
      if (t == "datetime" && v.kind != soql::Value::kDateTime &&
          v.kind != soql::Value::kDateLiteral) {
        throw mismatch("dateTime");
      }
      if ((IsText(t) || t == "id" || t == "reference") && v.kind != soql::Value::kString) {
        throw SfError{400,
                      "INVALID_FIELD",
                      "value of filter criterion for field '" + p.field->name +
                          "' must be of type string and should be enclosed in quotes",
                      {}};
      }
      if (c.op == soql::Cond::kLike && !IsText(t) && t != "id" && t != "reference") {
        throw SfError{
            400, "INVALID_FIELD", "invalid operator on " + t + " field: " + p.field->name, {}};
      }
    }
  }

  // Record candidates: an index when the WHERE clause is (or starts an AND with) an equality
  // or IN on Id or an indexed field.
  std::vector<const json*> Candidates() {
    std::vector<const soql::Cond*> conj;
    if (q_.where) {
      if (q_.where->op == soql::Cond::kAnd) {
        for (const auto& k : q_.where->kids) conj.push_back(&k);
      } else {
        conj.push_back(&*q_.where);
      }
    }
    for (const soql::Cond* c : conj) {
      const bool eq = (c->op == soql::Cond::kCompare && c->cmp == "=") || c->op == soql::Cond::kIn;
      if (!eq || c->field.find('.') != std::string::npos) continue;
      const Field* f = obj_->Find(c->field);
      if (!f) continue;
      std::vector<const json*> out;
      if (f->name == "Id") {
        std::set<std::string> seen;
        for (const auto& v : c->values) {
          if (v.kind != soql::Value::kString) continue;
          auto id = NormalizeId(v.text);
          if (!id || !seen.insert(*id).second) continue;
          if (const json* r = org_.Get(*obj_, *id)) out.push_back(r);
        }
        std::sort(out.begin(), out.end(), [](const json* a, const json* b) {
          return a->value("Id", "") < b->value("Id", "");
        });
        return out;
      }
      auto idx = org_.indexes_.find({obj_, f->name});
      if (idx == org_.indexes_.end()) continue;
      std::set<std::string> ids;
      for (const auto& v : c->values) {
        if (v.kind != soql::Value::kString) continue;
        std::string key = v.text;
        if (f->type == "reference") {
          auto id = NormalizeId(v.text);
          if (!id) continue;
          key = *id;
        }
        auto hit = idx->second.find(ToLower(key));
        if (hit != idx->second.end()) ids.insert(hit->second.begin(), hit->second.end());
      }
      for (const auto& id : ids) {
        if (const json* r = org_.Get(*obj_, id)) out.push_back(r);
      }
      return out;
    }
    std::vector<const json*> all;
    all.reserve(obj_->records.size());
    for (const auto& [id, r] : obj_->records) all.push_back(&r);
    return all;
  }

  const Path& PathOf(const std::string& written) {
    auto it = paths_.find(written);
    if (it == paths_.end()) it = paths_.emplace(written, Resolve(written)).first;
    return it->second;
  }

  const json* ParentOf(const Path& p, const json& r) const {
    auto it = r.find(p.via->name);
    if (it == r.end() || !it->is_string()) return nullptr;
    const std::string id = it->get<std::string>();
    Object* target = org_.ObjectOfId(id);
    if (!target) return nullptr;
    return org_.Get(*target, id);
  }

  json ValueOf(const Path& p, const json& r) const {
    if (!p.via) {
      auto it = r.find(p.field->name);
      return it == r.end() ? json(nullptr) : *it;
    }
    const json* parent = ParentOf(p, r);
    if (!parent) return nullptr;
    if (p.rel.size() > 5 && p.rel.substr(p.rel.size() - 5) == ".Type") {
      Object* target = org_.ObjectOfId(parent->value("Id", ""));
      return target ? json(target->name) : json(nullptr);
    }
    auto it = parent->find(p.field->name);
    return it == parent->end() ? json(nullptr) : *it;
  }

  // Three-way comparison of two stored values of a field; nulls by `nulls_last`, `desc` flips
  // non-null order.
  static int Compare(const json& a, const json& b, const Field& f, bool nulls_last, bool desc) {
    if (a.is_null() || b.is_null()) {
      if (a.is_null() && b.is_null()) return 0;
      const int n = a.is_null() ? -1 : 1;
      return nulls_last ? -n : n;
    }
    int c = 0;
    if (a.is_number() && b.is_number()) {
      const double x = a.get<double>(), y = b.get<double>();
      c = x < y ? -1 : (x > y ? 1 : 0);
    } else if (a.is_boolean() && b.is_boolean()) {
      c = static_cast<int>(a.get<bool>()) - static_cast<int>(b.get<bool>());
    } else if (a.is_string() && b.is_string()) {
      if (f.type == "id" || f.type == "reference" || f.type == "date" || f.type == "datetime") {
        c = a.get<std::string>().compare(b.get<std::string>());
      } else {
        c = ToLower(a.get<std::string>()).compare(ToLower(b.get<std::string>()));
      }
      c = c < 0 ? -1 : (c > 0 ? 1 : 0);
    }
    return desc ? -c : c;
  }

  // The literal as a stored value of field f (ids normalised, date literals excluded).
  static json Literal(const soql::Value& v, const Field& f) {
    switch (v.kind) {
      case soql::Value::kNull:
        return nullptr;
      case soql::Value::kBool:
        return v.boolean;
      case soql::Value::kNumber:
        return v.number;
      case soql::Value::kString:
        if (f.type == "id" || f.type == "reference") {
          auto id = NormalizeId(v.text);
          return id ? json(*id) : json(v.text);
        }
        return v.text;
      default:
        return v.text;
    }
  }

  bool Equal(const json& value, const soql::Value& v, const Field& f) const {
    if (v.kind == soql::Value::kNull) return value.is_null();
    if (value.is_null()) return false;
    if (v.kind == soql::Value::kDateLiteral) return InRange(value, v, f, "=");
    return Compare(value, Literal(v, f), f, false, false) == 0;
  }

  bool InRange(const json& value, const soql::Value& v, const Field& f,
               const std::string& cmp) const {
    int64_t start, end;
    soql::DateLiteralRange(v, now_, &start, &end);
    const bool date = f.type == "date";
    const std::string s = date ? soql::SfDate(start) : soql::SfDateTime(start);
    const std::string e = date ? soql::SfDate(end) : soql::SfDateTime(end);
    const std::string x = value.get<std::string>();
    if (cmp == "=") return x >= s && x < e;
    if (cmp == "!=") return !(x >= s && x < e);
    if (cmp == "<") return x < s;
    if (cmp == "<=") return x < e;
    if (cmp == ">") return x >= e;
    return x >= s;  // >=
  }

  bool Eval(const soql::Cond& c, const json& r) {
    switch (c.op) {
      case soql::Cond::kAnd:
        for (const auto& k : c.kids) {
          if (!Eval(k, r)) return false;
        }
        return true;
      case soql::Cond::kOr:
        for (const auto& k : c.kids) {
          if (Eval(k, r)) return true;
        }
        return false;
      case soql::Cond::kNot:
        return !Eval(c.kids[0], r);
      default:
        break;
    }
    const Path& p = PathOf(c.field);
    static const json kNull = nullptr;
    json parent_value;
    const json* vp = &kNull;
    if (!p.via) {
      auto it = r.find(p.field->name);
      if (it != r.end()) vp = &*it;
    } else {
      parent_value = ValueOf(p, r);
      vp = &parent_value;
    }
    const json& value = *vp;
    const Field& f = *p.field;
    if (c.op == soql::Cond::kIn || c.op == soql::Cond::kNotIn) {
      bool any = false;
      for (const auto& v : c.values) any = any || Equal(value, v, f);
      return c.op == soql::Cond::kIn ? any : !any;
    }
    if (c.op == soql::Cond::kLike) {
      return value.is_string() && Like(value.get<std::string>(), c.values[0].text);
    }
    const soql::Value& v = c.values[0];
    if (c.cmp == "=") return Equal(value, v, f);
    if (c.cmp == "!=") return !Equal(value, v, f);
    if (value.is_null() || v.kind == soql::Value::kNull) return false;
    if (v.kind == soql::Value::kDateLiteral) return InRange(value, v, f, c.cmp);
    const int cmp = Compare(value, Literal(v, f), f, false, false);
    if (c.cmp == "<") return cmp < 0;
    if (c.cmp == "<=") return cmp <= 0;
    if (c.cmp == ">") return cmp > 0;
    return cmp >= 0;
  }

  json Project(const json& r, const std::vector<Path>& select) {
    json out = org_.RecordJson(*obj_, r, &empty_, version_);
    out.erase("Id");
    for (const auto& p : select) {
      if (!p.via) {
        auto it = r.find(p.field->name);
        out[p.field->name] = it == r.end() ? json(nullptr) : *it;
        continue;
      }
      const json* parent = ParentOf(p, r);
      std::string rel = p.rel;
      const size_t dot = rel.find('.');
      if (dot != std::string::npos) rel = rel.substr(0, dot);
      if (!parent) {
        if (!out.contains(rel)) out[rel] = nullptr;
        continue;
      }
      Object* target = org_.ObjectOfId(parent->value("Id", ""));
      if (!out.contains(rel) || out[rel].is_null()) {
        out[rel] = {{"attributes",
                     {{"type", target->name},
                      {"url", "/services/data/v" + version_ + "/sobjects/" + target->name + "/" +
                                  parent->value("Id", "")}}}};
      }
      if (p.rel.size() > 5 && p.rel.substr(p.rel.size() - 5) == ".Type") {
        out[rel]["Type"] = target->name;
      } else {
        const Field* f = target->Find(p.field->name);
        auto it = f ? parent->find(f->name) : parent->end();
        out[rel][p.field->name] = it == parent->end() ? json(nullptr) : *it;
      }
    }
    return out;
  }

  QueryPage Aggregate(const std::vector<const json*>& rows, const std::vector<Path>& select,
                      const std::vector<Path>& group, const std::vector<Path>& order) {
    // Every plain selected field must be grouped.
    for (const auto& s : q_.select) {
      if (!s.func.empty()) continue;
      bool grouped = false;
      for (const auto& g : q_.group_by) grouped = grouped || ToLower(g) == ToLower(s.field);
      if (!grouped) throw Malformed("Field must be grouped or aggregated: " + s.field);
    }
    for (const auto& o : q_.order_by) {
      bool grouped = false;
      for (const auto& g : q_.group_by) grouped = grouped || ToLower(g) == ToLower(o.field);
      if (!grouped) throw Malformed("Ordered field must be grouped or aggregated: " + o.field);
    }
    std::vector<const Path*> agg_paths;
    {
      size_t k = 0;
      for (const auto& s : q_.select) {
        if (s.field.empty()) {
          agg_paths.push_back(nullptr);
          continue;
        }
        const Path& p = select[k++];
        agg_paths.push_back(&p);
        if ((s.func == "SUM" || s.func == "AVG") && !IsNumeric(p.field->type)) {
          throw Malformed("Invalid field " + s.field + " for " + s.func);
        }
      }
    }
    // Group rows by the grouped values (in first-seen order, then sorted).
    std::vector<std::vector<json>> keys;
    std::vector<std::vector<const json*>> members;
    std::map<std::string, size_t> where;
    for (const json* r : rows) {
      std::vector<json> key;
      std::string k;
      for (const auto& g : group) {
        json v = ValueOf(g, *r);
        k += (v.is_string() && g.field->type != "id" && g.field->type != "reference"
                  ? json(ToLower(v.get<std::string>())).dump()
                  : v.dump()) +
             "\x1f";
        key.push_back(std::move(v));
      }
      auto it = where.find(k);
      if (it == where.end()) {
        where.emplace(k, keys.size());
        keys.push_back(std::move(key));
        members.emplace_back();
        members.back().push_back(r);
      } else {
        members[it->second].push_back(r);
      }
    }
    if (group.empty() && keys.empty()) {  // aggregates without GROUP BY: one row, even empty
      keys.emplace_back();
      members.emplace_back();
    }
    std::vector<size_t> idx(keys.size());
    for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
    std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) {
      for (size_t i = 0; i < order.size(); ++i) {
        size_t gi = 0;
        for (size_t j = 0; j < q_.group_by.size(); ++j) {
          if (ToLower(q_.group_by[j]) == ToLower(q_.order_by[i].field)) gi = j;
        }
        const int c = Compare(keys[a][gi], keys[b][gi], *group[gi].field, q_.order_by[i].nulls_last,
                              q_.order_by[i].desc);
        if (c != 0) return c < 0;
      }
      return false;
    });
    size_t begin = q_.offset ? static_cast<size_t>(*q_.offset) : 0;
    size_t end = idx.size();
    if (q_.limit) end = std::min(end, begin + static_cast<size_t>(*q_.limit));
    begin = std::min(begin, end);
    if (end - begin > 2000) {
      throw SfError{400,
                    "MALFORMED_QUERY",
                    "Aggregate query does not support queryMore(), use LIMIT to restrict the "
                    "results to a single batch",
                    {}};
    }
    QueryPage page;
    for (size_t n = begin; n < end; ++n) {
      const size_t gi = idx[n];
      json out = {{"attributes", {{"type", "AggregateResult"}}}};
      int expr = 0;
      for (size_t i = 0; i < q_.select.size(); ++i) {
        const auto& s = q_.select[i];
        std::string name = s.alias;
        if (s.func.empty()) {
          const Path& p = *agg_paths[i];
          size_t g = 0;
          for (size_t j = 0; j < q_.group_by.size(); ++j) {
            if (ToLower(q_.group_by[j]) == ToLower(s.field)) g = j;
          }
          out[name.empty() ? p.field->name : name] = keys[gi][g];
          continue;
        }
        if (name.empty()) name = "expr" + std::to_string(expr++);
        const Path* p = agg_paths[i];
        json result = nullptr;
        if (s.func == "COUNT" || s.func == "COUNT_DISTINCT") {
          std::set<std::string> distinct;
          int64_t count = 0;
          for (const json* r : members[gi]) {
            if (!p) {
              ++count;
              continue;
            }
            json v = ValueOf(*p, *r);
            if (v.is_null()) continue;
            ++count;
            distinct.insert(v.is_string() ? ToLower(v.get<std::string>()) : v.dump());
          }
          result = s.func == "COUNT" ? count : static_cast<int64_t>(distinct.size());
        } else {
          double sum = 0;
          int64_t n_values = 0;
          json best = nullptr;
          for (const json* r : members[gi]) {
            json v = ValueOf(*p, *r);
            if (v.is_null()) continue;
            ++n_values;
            if (v.is_number()) sum += v.get<double>();
            if (best.is_null() ||
                Compare(v, best, *p->field, false, false) * (s.func == "MIN" ? -1 : 1) > 0) {
              best = v;
            }
          }
          if (s.func == "SUM") result = n_values ? json(sum) : json(nullptr);
          if (s.func == "AVG")
            result = n_values ? json(sum / static_cast<double>(n_values)) : json(nullptr);
          if (s.func == "MAX" || s.func == "MIN") result = best;
        }
        out[name] = result;
      }
      page.records.push_back(std::move(out));
    }
    page.total = static_cast<int64_t>(page.records.size());
    return page;
  }

  Org& org_;
  const soql::Query& q_;
  bool include_deleted_;
  std::string version_;
  int64_t now_;
  Object* obj_ = nullptr;
  std::map<std::string, Path> paths_;
  const std::vector<std::string> empty_;
};

QueryPage Org::Query(const std::string& text, bool include_deleted, bool tooling,
                     const std::string& version, int64_t now_ms) {
  if (text.size() > 100000) {
    throw SfError{400,
                  "MALFORMED_QUERY",
                  "Query is too long: SOQL statements cannot exceed 100000 characters",
                  {}};
  }
  soql::Query q;
  std::string error;
  if (!soql::Parse(text, &q, &error)) {
    throw SfError{400, "MALFORMED_QUERY", "\n" + text + "\n" + error, {}};
  }
  QueryRunner runner(*this, q, include_deleted, tooling, version, now_ms);
  return runner.Run();
}

}  // namespace kam::sandbox::sf
