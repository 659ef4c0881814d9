// Internals of the sandbox CRM shared by its .cc files: the Beast-free request/response pair
// the HTTP layer hands to the API, helpers for time, encodings and seeded hashing, and the
// HubSpot object-type table. Not a public header.
#ifndef KAM_SANDBOX_SRC_INTERNAL_H_
#define KAM_SANDBOX_SRC_INTERNAL_H_

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace kam::sandbox {

using json = nlohmann::json;

// One HTTP request as the API sees it. query keeps repeated keys in order, already decoded.
struct HttpRequest {
  std::string method;
  std::string target;  // raw request target
  std::string path;    // decoded path without query string
  std::vector<std::pair<std::string, std::string>> query;
  std::string authorization;
  std::string content_type;
  std::string body;
  // Every header as sent (name as received); look one up with Header().
  std::vector<std::pair<std::string, std::string>> headers;
  // The first value of a query parameter, nullopt when absent.
  std::optional<std::string> Param(std::string_view key) const {
    for (const auto& [k, v] : query) {
      if (k == key) return v;
    }
    return std::nullopt;
  }
  // The value of a header (case-insensitive name), empty when absent.
  std::string Header(std::string_view name) const {
    for (const auto& [k, v] : headers) {
      if (k.size() == name.size() &&
          std::equal(k.begin(), k.end(), name.begin(),
                     [](char a, char b) { return (a | 0x20) == (b | 0x20); })) {
        return v;
      }
    }
    return {};
  }
};

// What the HTTP layer sends back. drop = close the connection without answering.
struct HttpResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool drop = false;
  int delay_ms = 0;
};

// A failed API call, turned into a HubSpot error body by the router.
struct ApiError {
  int status;
  std::string category;  // empty = no category field
  std::string message;
  json context = nullptr;  // object of string arrays or null
  json errors = nullptr;   // array or null
};

// --- time (UTC, epoch milliseconds) ---
int64_t NowMs();
std::string IsoMs(int64_t ms);    // "2024-05-01T10:00:00.123Z"
std::string IsoDate(int64_t ms);  // "2024-05-01"
// Accepts epoch-ms digits, "YYYY-MM-DD" and ISO 8601 datetimes (Z or +hh:mm offset).
bool ParseTimeMs(std::string_view text, int64_t* ms);
// The non-empty parts of `text` between `sep`, each without leading and trailing spaces.
std::vector<std::string> SplitTrim(std::string_view text, char sep);
bool ParseDouble(std::string_view text, double* out);
// `d` as an int64 when it is a whole number that fits (converting a float out of range, such as
// 8.4e32, is undefined behaviour); nullopt for NaN, infinities, fractions and out-of-range values.
std::optional<int64_t> WholeInt64(double d);
// A JSON number as an int64: integers that fit, and floats through WholeInt64; nullopt otherwise.
std::optional<int64_t> WholeInt64(const json& v);
// obj[key] as an int: `fallback` when absent or null; nullopt when it is not a whole number that
// fits in an int (a string, 1.5, 1e300), which callers answer with a 400. nlohmann's own
// value(key, int) converts a float out of range with undefined behaviour.
std::optional<int> IntMember(const json& obj, const char* key, int fallback);

// --- encodings ---
std::string UrlDecode(std::string_view text, bool plus_is_space);
std::string Base64Encode(std::string_view data);
bool Base64Decode(std::string_view text, std::string* out);
std::string ToLower(std::string_view text);

// --- seeded hashing (SplitMix64) ---
uint64_t Mix(uint64_t a, uint64_t b);
double Unit(uint64_t h);  // [0, 1)

// --- HubSpot object types ---
struct ObjectType {
  const char* name;           // plural path name: "companies"
  const char* type_id;        // "0-2"
  const char* singular;       // "company"
  const char* upper;          // "COMPANY" (used in messages)
  const char* modified_prop;  // "hs_lastmodifieddate" ("lastmodifieddate" for contacts)
};
// Plural name, singular name or 0-x id; nullptr when unknown.
const ObjectType* FindObjectType(std::string_view name);
const std::vector<ObjectType>& ObjectTypes();

}  // namespace kam::sandbox

#endif  // KAM_SANDBOX_SRC_INTERNAL_H_
