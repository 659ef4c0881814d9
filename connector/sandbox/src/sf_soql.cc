// The sandbox's SOQL parser (see sf_soql.h).
#include "sf_soql.h"

#include "kam/common/iso_time.h"

#include <cctype>
#include <cstdio>
#include <set>

namespace kam::sandbox::soql {
namespace {

using common::CivilDate;
using common::CivilFromDays;
using common::DaysFromCivil;
using common::FloorDiv;
using common::kDayMs;

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

bool Digits(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

// Month arithmetic on the first day of a month: returns the ms of the first of (month + delta).
int64_t AddMonths(int64_t month_start_ms, int delta) {
  const CivilDate c = CivilFromDays(FloorDiv(month_start_ms, kDayMs));
  const int64_t total = c.year * 12 + (c.month - 1) + delta;
  const int64_t ny = FloorDiv(total, 12);
  const unsigned nm = static_cast<unsigned>(total - ny * 12) + 1;
  return DaysFromCivil(ny, nm, 1) * kDayMs;
}

// ---------- tokens ----------
struct Token {
  enum Kind { kEnd, kIdent, kNumber, kString, kDate, kDateTime, kPunct };
  Kind kind = kEnd;
  std::string text;  // identifier / punctuation as written; string value unescaped
  double number = 0;
  size_t column = 0;  // 1-based
};

class Lexer {
 public:
  explicit Lexer(std::string_view s) : s_(s) {}

  bool Run(std::vector<Token>* out, std::string* error) {
    while (true) {
      while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
      Token t;
      t.column = pos_ + 1;
      if (pos_ >= s_.size()) {
        out->push_back(t);
        return true;
      }
      const char c = s_[pos_];
      if (c == '\'') {
        if (!String(&t, error)) return false;
      } else if (std::isdigit(static_cast<unsigned char>(c)) ||
                 ((c == '-' || c == '+' || c == '.') && pos_ + 1 < s_.size() &&
                  (std::isdigit(static_cast<unsigned char>(s_[pos_ + 1])) ||
                   s_[pos_ + 1] == '.'))) {
        if (!NumberOrDate(&t, error)) return false;
      } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
        const size_t start = pos_;
        while (pos_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[pos_])) ||
                                    s_[pos_] == '_' || s_[pos_] == '.')) {
          ++pos_;
        }
        t.kind = Token::kIdent;
        t.text = std::string(s_.substr(start, pos_ - start));
      } else {
        static const char* const kTwo[] = {"!=", "<>", "<=", ">="};
        t.kind = Token::kPunct;
        for (const char* two : kTwo) {
          if (s_.substr(pos_, 2) == two) t.text = two;
        }
        if (t.text.empty()) {
          if (std::string_view("(),=<>:").find(c) == std::string_view::npos) {
            *error = Error(pos_ + 1, std::string("unexpected char: '") + c + "'");
            return false;
          }
          t.text = std::string(1, c);
        }
        pos_ += t.text.size();
      }
      out->push_back(std::move(t));
    }
  }

  static std::string Error(size_t column, const std::string& what) {
    return "ERROR at Row:1:Column:" + std::to_string(column) + "\n" + what;
  }

 private:
  bool String(Token* t, std::string* error) {
    const size_t start = pos_++;
    std::string v;
    while (pos_ < s_.size() && s_[pos_] != '\'') {
      char c = s_[pos_++];
      if (c == '\\') {
        if (pos_ >= s_.size()) break;
        const char e = s_[pos_++];
        switch (e) {
          case 'n':
            c = '\n';
            break;
          case 'r':
            c = '\r';
            break;
          case 't':
            c = '\t';
            break;
          case 'b':
            c = '\b';
            break;
          case 'f':
            c = '\f';
            break;
          case '\'':
          case '"':
          case '\\':
            c = e;
            break;
          case '_':
          case '%':  // LIKE escapes: keep the backslash for the matcher
            v.push_back('\\');
            c = e;
            break;
          default:
            *error = Error(pos_ - 1, std::string("Invalid string literal '\\") + e +
                                         "'. Illegal character sequence '\\" + e +
                                         "' in string literal.");
            return false;
        }
      }
      v.push_back(c);
    }
    if (pos_ >= s_.size()) {
      *error = Error(start + 1, "unexpected token: unterminated string literal");
      return false;
    }
    ++pos_;
    t->kind = Token::kString;
    t->text = std::move(v);
    return true;
  }

  bool NumberOrDate(Token* t, std::string* error) {
    const size_t start = pos_;
    // Date or datetime: YYYY-MM-DD[Thh:mm:ss[.fff](Z|±hh:mm|±hhmm)]
    int y, mo, d;
    if (Digits(s_, pos_, 4, &y) && pos_ + 4 < s_.size() && s_[pos_ + 4] == '-' &&
        Digits(s_, pos_ + 5, 2, &mo) && pos_ + 7 < s_.size() && s_[pos_ + 7] == '-' &&
        Digits(s_, pos_ + 8, 2, &d)) {
      size_t end = pos_ + 10;
      if (end < s_.size() && (s_[end] == 'T' || s_[end] == 't')) {
        while (end < s_.size() && !std::isspace(static_cast<unsigned char>(s_[end])) &&
               s_[end] != ')' && s_[end] != ',') {
          ++end;
        }
        int64_t ms;
        if (!ParseSfDateTime(s_.substr(pos_, end - pos_), &ms)) {
          *error = Error(start + 1, "line 1:" + std::to_string(start) +
                                        " no viable alternative at character '" +
                                        std::string(s_.substr(pos_, end - pos_)) + "'");
          return false;
        }
        t->kind = Token::kDateTime;
        t->text = SfDateTime(ms);
      } else {
        int64_t ms;
        if (!ParseSfDate(s_.substr(pos_, 10), &ms)) {
          *error = Error(start + 1, "invalid date: " + std::string(s_.substr(pos_, 10)));
          return false;
        }
        t->kind = Token::kDate;
        t->text = SfDate(ms);
      }
      pos_ = end;
      return true;
    }
    size_t end = pos_;
    if (s_[end] == '-' || s_[end] == '+') ++end;
    while (end < s_.size() && (std::isdigit(static_cast<unsigned char>(s_[end])) ||
                               s_[end] == '.' || s_[end] == 'e' || s_[end] == 'E')) {
      ++end;
    }
    const std::string text(s_.substr(pos_, end - pos_));
    char* stop = nullptr;
    const double v = std::strtod(text.c_str(), &stop);
    if (stop != text.c_str() + text.size()) {
      *error = Error(start + 1, "unexpected token: '" + text + "'");
      return false;
    }
    t->kind = Token::kNumber;
    t->number = v;
    t->text = text;
    pos_ = end;
    return true;
  }

  std::string_view s_;
  size_t pos_ = 0;
};

// ---------- parser ----------
class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : t_(std::move(tokens)) {}

  bool Run(Query* q, std::string* error) {
    error_ = error;
    if (!Keyword("SELECT")) return Fail("unexpected token: '" + Cur().text + "'");
    if (!SelectList(q)) return false;
    if (!Keyword("FROM")) return Fail("unexpected token: '" + Cur().text + "'");
    if (Cur().kind != Token::kIdent || IsReserved(Cur().text)) {
      return Fail("unexpected token: '" + Cur().text + "'");
    }
    q->from = Next().text;
    if (q->from.find('.') != std::string::npos) return Fail("unexpected token: '" + q->from + "'");
    if (Keyword("USING") || Keyword("WITH")) {
      return Fail("unsupported clause in the sandbox: '" + t_[pos_ - 1].text + "'");
    }
    if (Keyword("WHERE")) {
      Cond c;
      if (!Or(&c)) return false;
      q->where = std::move(c);
    }
    if (Keyword("WITH")) return Fail("unsupported clause in the sandbox: 'WITH'");
    if (Keyword("GROUP")) {
      if (!Keyword("BY")) return Fail("unexpected token: '" + Cur().text + "'");
      do {
        if (Cur().kind != Token::kIdent || IsReserved(Cur().text)) {
          return Fail("unexpected token: '" + Cur().text + "'");
        }
        if (Peek(1).kind == Token::kPunct && Peek(1).text == "(") {
          return Fail("unsupported GROUP BY function in the sandbox: '" + Cur().text + "'");
        }
        q->group_by.push_back(Next().text);
      } while (Punct(","));
    }
    if (Keyword("HAVING")) return Fail("unsupported clause in the sandbox: 'HAVING'");
    if (Keyword("ORDER")) {
      if (!Keyword("BY")) return Fail("unexpected token: '" + Cur().text + "'");
      do {
        OrderItem o;
        if (Cur().kind != Token::kIdent || IsReserved(Cur().text)) {
          return Fail("unexpected token: '" + Cur().text + "'");
        }
        o.field = Next().text;
        if (Keyword("DESC")) {
          o.desc = true;
        } else {
          Keyword("ASC");
        }
        o.nulls_last = o.desc;
        if (Keyword("NULLS")) {
          if (Keyword("LAST")) {
            o.nulls_last = true;
          } else if (Keyword("FIRST")) {
            o.nulls_last = false;
          } else {
            return Fail("unexpected token: '" + Cur().text + "'");
          }
        }
        q->order_by.push_back(std::move(o));
      } while (Punct(","));
    }
    if (Keyword("LIMIT")) {
      if (Cur().kind != Token::kNumber || Cur().number < 0 ||
          Cur().text.find('.') != std::string::npos) {
        return Fail("unexpected token: '" + Cur().text + "'");
      }
      q->limit = static_cast<int64_t>(Next().number);
    }
    if (Keyword("OFFSET")) {
      if (Cur().kind != Token::kNumber || Cur().number < 0 ||
          Cur().text.find('.') != std::string::npos) {
        return Fail("unexpected token: '" + Cur().text + "'");
      }
      q->offset = static_cast<int64_t>(Next().number);
    }
    if (Keyword("FOR") || Keyword("UPDATE") || Keyword("ALL")) {
      return Fail("unsupported clause in the sandbox: '" + t_[pos_ - 1].text + "'");
    }
    if (Cur().kind != Token::kEnd) return Fail("unexpected token: '" + Cur().text + "'");
    return true;
  }

 private:
  const Token& Cur() const { return t_[pos_]; }
  const Token& Peek(size_t k) const { return t_[std::min(pos_ + k, t_.size() - 1)]; }
  const Token& Next() { return t_[pos_ < t_.size() - 1 ? pos_++ : pos_]; }

  bool Fail(const std::string& what) {
    *error_ = Lexer::Error(Cur().column, what);
    return false;
  }

  static bool IsReserved(const std::string& word) {
    static const std::set<std::string> kWords = {
        "SELECT", "FROM",  "WHERE",  "GROUP",    "BY",       "ORDER", "LIMIT", "OFFSET", "AND",
        "OR",     "NOT",   "IN",     "LIKE",     "ASC",      "DESC",  "NULLS", "HAVING", "WITH",
        "FOR",    "USING", "TYPEOF", "INCLUDES", "EXCLUDES", "NULL",  "TRUE",  "FALSE"};
    return kWords.count(Upper(word)) > 0;
  }

  bool Keyword(const char* word) {
    if (Cur().kind == Token::kIdent && Upper(Cur().text) == word) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool Punct(const char* p) {
    if (Cur().kind == Token::kPunct && Cur().text == p) {
      ++pos_;
      return true;
    }
    return false;
  }

  bool SelectList(Query* q) {
    do {
      if (Cur().kind == Token::kPunct && Cur().text == "(") {
        return Fail("unsupported in the sandbox: subqueries");
      }
      if (Cur().kind != Token::kIdent || IsReserved(Cur().text)) {
        if (Upper(Cur().text) == "TYPEOF") return Fail("unsupported in the sandbox: TYPEOF");
        return Fail("unexpected token: '" + Cur().text + "'");
      }
      SelectItem item;
      const std::string word = Next().text;
      if (Punct("(")) {
        const std::string fn = Upper(word);
        static const std::set<std::string> kFns = {"COUNT", "COUNT_DISTINCT", "SUM", "MAX", "MIN",
                                                   "AVG"};
        if (!kFns.count(fn)) return Fail("unsupported function in the sandbox: '" + word + "'");
        item.func = fn;
        if (Punct(")")) {
          if (fn != "COUNT") return Fail("unexpected token: ')'");
          if (!q->select.empty() || (Cur().kind == Token::kPunct && Cur().text == ",")) {
            return Fail("COUNT() must be the only element in the SELECT list.");
          }
          q->count_only = true;
        } else {
          if (Cur().kind != Token::kIdent || IsReserved(Cur().text)) {
            return Fail("unexpected token: '" + Cur().text + "'");
          }
          item.field = Next().text;
          if (!Punct(")")) return Fail("unexpected token: '" + Cur().text + "'");
          if (Cur().kind == Token::kIdent && !IsReserved(Cur().text)) item.alias = Next().text;
        }
      } else {
        if (Upper(word) == "FIELDS") return Fail("unsupported in the sandbox: FIELDS()");
        item.field = word;
      }
      q->select.push_back(std::move(item));
    } while (Punct(","));
    if (q->count_only && q->select.size() > 1) {
      return Fail("COUNT() must be the only element in the SELECT list.");
    }
    return true;
  }

  bool Or(Cond* out) {
    Cond first;
    if (!And(&first)) return false;
    if (!(Cur().kind == Token::kIdent && Upper(Cur().text) == "OR")) {
      *out = std::move(first);
      return true;
    }
    out->op = Cond::kOr;
    out->kids.push_back(std::move(first));
    while (Keyword("OR")) {
      Cond next;
      if (!And(&next)) return false;
      out->kids.push_back(std::move(next));
    }
    if (Cur().kind == Token::kIdent && Upper(Cur().text) == "AND") {
      return Fail("unexpected token: 'AND' (mixing AND and OR needs parentheses)");
    }
    return true;
  }

  bool And(Cond* out) {
    Cond first;
    if (!Unary(&first)) return false;
    if (!(Cur().kind == Token::kIdent && Upper(Cur().text) == "AND")) {
      *out = std::move(first);
      return true;
    }
    out->op = Cond::kAnd;
    out->kids.push_back(std::move(first));
    while (Keyword("AND")) {
      Cond next;
      if (!Unary(&next)) return false;
      out->kids.push_back(std::move(next));
    }
    if (Cur().kind == Token::kIdent && Upper(Cur().text) == "OR") {
      return Fail("unexpected token: 'OR' (mixing AND and OR needs parentheses)");
    }
    return true;
  }

  bool Unary(Cond* out) {
    if (Keyword("NOT")) {
      Cond inner;
      if (!Unary(&inner)) return false;
      out->op = Cond::kNot;
      out->kids.push_back(std::move(inner));
      return true;
    }
    if (Punct("(")) {
      if (Cur().kind == Token::kIdent && Upper(Cur().text) == "SELECT") {
        return Fail("unsupported in the sandbox: subqueries");
      }
      if (!Or(out)) return false;
      if (!Punct(")")) return Fail("unexpected token: '" + Cur().text + "'");
      return true;
    }
    if (Cur().kind != Token::kIdent || IsReserved(Cur().text)) {
      return Fail("unexpected token: '" + Cur().text + "'");
    }
    if (Peek(1).kind == Token::kPunct && Peek(1).text == "(") {
      return Fail("unsupported function in WHERE in the sandbox: '" + Cur().text + "'");
    }
    out->field = Next().text;
    if (Keyword("NOT")) {
      if (!Keyword("IN")) return Fail("unexpected token: '" + Cur().text + "'");
      out->op = Cond::kNotIn;
      return List(out);
    }
    if (Keyword("IN")) {
      out->op = Cond::kIn;
      return List(out);
    }
    if (Keyword("LIKE")) {
      out->op = Cond::kLike;
      Value v;
      if (!Literal(&v)) return false;
      if (v.kind != Value::kString) return Fail("LIKE needs a string value");
      out->values.push_back(std::move(v));
      return true;
    }
    if (Keyword("INCLUDES") || Keyword("EXCLUDES")) {
      return Fail("unsupported in the sandbox: INCLUDES/EXCLUDES");
    }
    if (Cur().kind != Token::kPunct) return Fail("unexpected token: '" + Cur().text + "'");
    std::string cmp = Cur().text;
    if (cmp == "<>") cmp = "!=";
    static const std::set<std::string> kCmp = {"=", "!=", "<", "<=", ">", ">="};
    if (!kCmp.count(cmp)) return Fail("unexpected token: '" + Cur().text + "'");
    ++pos_;
    out->op = Cond::kCompare;
    out->cmp = cmp;
    Value v;
    if (!Literal(&v)) return false;
    out->values.push_back(std::move(v));
    return true;
  }

  bool List(Cond* out) {
    if (!Punct("(")) return Fail("unexpected token: '" + Cur().text + "'");
    if (Cur().kind == Token::kIdent && Upper(Cur().text) == "SELECT") {
      return Fail("unsupported in the sandbox: semi-join subqueries");
    }
    do {
      Value v;
      if (!Literal(&v)) return false;
      out->values.push_back(std::move(v));
    } while (Punct(","));
    if (!Punct(")")) return Fail("unexpected token: '" + Cur().text + "'");
    return true;
  }

  bool Literal(Value* v) {
    const Token& t = Cur();
    switch (t.kind) {
      case Token::kString:
        v->kind = Value::kString;
        v->text = t.text;
        break;
      case Token::kNumber:
        v->kind = Value::kNumber;
        v->number = t.number;
        v->text = t.text;
        break;
      case Token::kDate:
        v->kind = Value::kDate;
        v->text = t.text;
        break;
      case Token::kDateTime:
        v->kind = Value::kDateTime;
        v->text = t.text;
        break;
      case Token::kIdent: {
        const std::string u = Upper(t.text);
        if (u == "NULL") {
          v->kind = Value::kNull;
        } else if (u == "TRUE" || u == "FALSE") {
          v->kind = Value::kBool;
          v->boolean = u == "TRUE";
        } else {
          static const std::set<std::string> kPlain = {
              "TODAY",      "YESTERDAY",  "TOMORROW",  "LAST_90_DAYS", "NEXT_90_DAYS", "THIS_MONTH",
              "LAST_MONTH", "NEXT_MONTH", "THIS_YEAR", "LAST_YEAR",    "NEXT_YEAR"};
          static const std::set<std::string> kWithN = {
              "LAST_N_DAYS", "NEXT_N_DAYS", "LAST_N_MONTHS", "NEXT_N_MONTHS", "N_DAYS_AGO"};
          if (kPlain.count(u)) {
            v->kind = Value::kDateLiteral;
            v->text = u;
          } else if (kWithN.count(u)) {
            ++pos_;
            if (!(Cur().kind == Token::kPunct && Cur().text == ":")) {
              return Fail("unexpected token: '" + Cur().text + "'");
            }
            ++pos_;
            if (Cur().kind != Token::kNumber || Cur().number < 0) {
              return Fail("unexpected token: '" + Cur().text + "'");
            }
            v->kind = Value::kDateLiteral;
            v->text = u;
            v->n = static_cast<int>(Cur().number);
          } else {
            return Fail("unexpected token: '" + t.text + "'");
          }
        }
        break;
      }
      default:
        return Fail("unexpected token: '" + t.text + "'");
    }
    ++pos_;
    return true;
  }

  std::vector<Token> t_;
  size_t pos_ = 0;
  std::string* error_ = nullptr;
};

}  // namespace

bool Query::has_aggregates() const {
  if (count_only || !group_by.empty()) return true;
  for (const auto& s : select) {
    if (!s.func.empty()) return true;
  }
  return false;
}

bool Parse(std::string_view text, Query* out, std::string* error) {
  std::vector<Token> tokens;
  Lexer lexer(text);
  if (!lexer.Run(&tokens, error)) return false;
  Query q;
  Parser parser(std::move(tokens));
  if (!parser.Run(&q, error)) return false;
  *out = std::move(q);
  return true;
}

std::string SfDateTime(int64_t ms) {
  std::string text = common::FormatIsoMs(ms);  // "...T10:00:00.123Z"
  text.pop_back();
  return text + "+0000";
}

std::string SfDate(int64_t ms) { return SfDateTime(ms).substr(0, 10); }

bool ParseSfDate(std::string_view s, int64_t* ms) {
  if (s.size() != 10) return false;
  const auto day = common::ParseIsoMs(s);
  if (day) *ms = *day;
  return day.has_value();
}

// Salesforce wants a 'T' (either case) and a zone: "Z" (either case), "+hh:mm" or "+hhmm".
bool ParseSfDateTime(std::string_view s, int64_t* ms) {
  if (s.size() < 17 || (s[10] != 'T' && s[10] != 't')) return false;
  std::string text(s);
  text[10] = 'T';
  if (text.back() == 'z') text.back() = 'Z';
  const size_t zone = text.find_first_of("Z+-", 16);
  if (zone == std::string::npos || (text[zone] != 'Z' && text.size() - zone < 5)) return false;
  const auto at = common::ParseIsoMs(text);
  if (at) *ms = *at;
  return at.has_value();
}

void DateLiteralRange(const Value& v, int64_t now_ms, int64_t* start, int64_t* end) {
  const int64_t today = FloorDiv(now_ms, kDayMs) * kDayMs;
  const std::string& k = v.text;
  const CivilDate c = CivilFromDays(today / kDayMs);
  const int64_t this_month = DaysFromCivil(c.year, c.month, 1) * kDayMs;
  const int64_t this_year = DaysFromCivil(c.year, 1, 1) * kDayMs;
  if (k == "TODAY") {
    *start = today, *end = today + kDayMs;
  } else if (k == "YESTERDAY") {
    *start = today - kDayMs, *end = today;
  } else if (k == "TOMORROW") {
    *start = today + kDayMs, *end = today + 2 * kDayMs;
  } else if (k == "LAST_90_DAYS" || k == "LAST_N_DAYS") {
    // Salesforce: starts 00:00 of the current day and continues for the past n days (today
    // included).
    const int n = k == "LAST_90_DAYS" ? 90 : v.n;
    *start = today - n * kDayMs, *end = today + kDayMs;
  } else if (k == "NEXT_90_DAYS" || k == "NEXT_N_DAYS") {
    const int n = k == "NEXT_90_DAYS" ? 90 : v.n;
    *start = today + kDayMs, *end = today + (n + 1) * kDayMs;
  } else if (k == "N_DAYS_AGO") {
    *start = today - v.n * kDayMs, *end = today - (v.n - 1) * kDayMs;
  } else if (k == "THIS_MONTH") {
    *start = this_month, *end = AddMonths(this_month, 1);
  } else if (k == "LAST_MONTH") {
    *start = AddMonths(this_month, -1), *end = this_month;
  } else if (k == "NEXT_MONTH") {
    *start = AddMonths(this_month, 1), *end = AddMonths(this_month, 2);
  } else if (k == "LAST_N_MONTHS") {
    *start = AddMonths(this_month, -v.n), *end = this_month;
  } else if (k == "NEXT_N_MONTHS") {
    *start = AddMonths(this_month, 1), *end = AddMonths(this_month, 1 + v.n);
  } else if (k == "THIS_YEAR") {
    *start = this_year, *end = AddMonths(this_year, 12);
  } else if (k == "LAST_YEAR") {
    *start = AddMonths(this_year, -12), *end = this_year;
  } else {  // NEXT_YEAR
    *start = AddMonths(this_year, 12), *end = AddMonths(this_year, 24);
  }
}

}  // namespace kam::sandbox::soql
