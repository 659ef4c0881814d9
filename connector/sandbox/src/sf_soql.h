// A small SOQL parser for the Salesforce flavour of the sandbox: the query forms the connector and
// jsforce send (CRM_API B4). SELECT fields (also parent paths such as Owner.Name), COUNT(),
// COUNT/COUNT_DISTINCT/SUM/MAX/MIN/AVG(field) [alias] FROM object [WHERE cond] [GROUP BY fields]
// [ORDER BY field [ASC|DESC] [NULLS FIRST|LAST], …] [LIMIT n] [OFFSET m]. Conditions: = != <> < <=
// > >= LIKE, [NOT] IN (list), AND / OR / NOT with parentheses; values: 'strings' (backslash
// escapes), numbers, true/false, null, dates, datetimes, and date literals (TODAY, YESTERDAY,
// TOMORROW, LAST_N_DAYS:n, NEXT_N_DAYS:n, LAST_90_DAYS, NEXT_90_DAYS, LAST_N_MONTHS:n,
// NEXT_N_MONTHS:n, THIS_MONTH, LAST_MONTH, THIS_YEAR, LAST_YEAR). Anything else (subqueries,
// HAVING, TYPEOF, FIELDS(), date functions, WITH, FOR) is rejected with a MALFORMED_QUERY message.
#ifndef KAM_SANDBOX_SRC_SF_SOQL_H_
#define KAM_SANDBOX_SRC_SF_SOQL_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kam::sandbox::soql {

struct Value {
  enum Kind { kNull, kBool, kNumber, kString, kDate, kDateTime, kDateLiteral };
  Kind kind = kNull;
  bool boolean = false;
  double number = 0;
  std::string text;  // string value; date "YYYY-MM-DD"; datetime "YYYY-MM-DDThh:mm:ss.sss+0000";
                     // literal name ("LAST_N_DAYS")
  int n = 0;         // the N of LAST_N_DAYS:n and friends
};

struct SelectItem {
  std::string field;  // as written (may be a path "Owner.Name"); empty for COUNT()
  std::string func;   // "" = plain field; else COUNT, COUNT_DISTINCT, SUM, MAX, MIN, AVG (upper)
  std::string alias;  // as written; empty = none
};

struct Cond {
  enum Op { kAnd, kOr, kNot, kCompare, kIn, kNotIn, kLike };
  Op op = kCompare;
  std::vector<Cond> kids;  // kAnd / kOr (two or more), kNot (one)
  std::string field;       // kCompare, kIn, kNotIn, kLike
  std::string cmp;         // "=", "!=", "<", "<=", ">", ">=" (kCompare)
  std::vector<Value> values;
};

struct OrderItem {
  std::string field;
  bool desc = false;
  bool nulls_last = false;  // default: NULLS FIRST for ASC, NULLS LAST for DESC
};

struct Query {
  std::vector<SelectItem> select;
  bool count_only = false;  // SELECT COUNT() FROM …
  std::string from;
  std::optional<Cond> where;
  std::vector<std::string> group_by;
  std::vector<OrderItem> order_by;
  std::optional<int64_t> limit;
  std::optional<int64_t> offset;
  bool has_aggregates() const;
};

// Parses `text`. On failure returns false with *error = Salesforce's MALFORMED_QUERY message.
bool Parse(std::string_view text, Query* out, std::string* error);

// Formats epoch ms as Salesforce datetime "2024-05-01T10:00:00.000+0000" / date "2024-05-01".
std::string SfDateTime(int64_t ms);
std::string SfDate(int64_t ms);
// Parses "YYYY-MM-DD", or an ISO datetime with Z, +hh:mm or +hhmm (seconds and fraction
// optional). Returns false when malformed.
bool ParseSfDate(std::string_view text, int64_t* ms);
bool ParseSfDateTime(std::string_view text, int64_t* ms);

// The [start, end) range (epoch ms, UTC) of a date literal relative to now_ms.
void DateLiteralRange(const Value& literal, int64_t now_ms, int64_t* start, int64_t* end);

}  // namespace kam::sandbox::soql

#endif  // KAM_SANDBOX_SRC_SF_SOQL_H_
