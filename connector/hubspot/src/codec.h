// JSON at the edge of the HubSpot adapter: request bodies built from typed inputs and CRM answers
// parsed into the public structs (CRM_API A3, A6, A7, A9, A11, A12). Parsers throw
// std::runtime_error / nlohmann exceptions on a wrong shape; the client catches them at the call
// site and reports the endpoint.
#ifndef KAM_HUBSPOT_SRC_CODEC_H_
#define KAM_HUBSPOT_SRC_CODEC_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "kam/hubspot/status.h"
#include "kam/hubspot/types.h"

namespace kam::hubspot::internal {

using Json = nlohmann::json;

// Path family by api_version ("v3" legacy, or a date version such as "2026-03").
class ApiPaths {
 public:
  explicit ApiPaths(std::string version = "v3");
  bool legacy() const { return legacy_; }
  std::string Objects(const std::string& type) const;     // .../objects/{type}
  std::string Properties(const std::string& type) const;  // .../properties/{type}
  std::string AssociationsBatch(const std::string& from, const std::string& to,
                                const std::string& op) const;  // .../{from}/{to}/batch/{op}
  std::string Owners() const;
  std::string AccountDetails() const;
  std::string OAuthToken() const;

 private:
  std::string version_;
  bool legacy_ = true;
};

// Percent-encodes a query value (RFC 3986 unreserved kept).
std::string UrlEncode(const std::string& s);

// Splits `items` into chunks of at most `n`.
template <typename T>
std::vector<std::vector<T>> Chunk(const std::vector<T>& items, size_t n) {
  std::vector<std::vector<T>> out;
  for (size_t i = 0; i < items.size(); i += n) {
    out.emplace_back(items.begin() + static_cast<std::ptrdiff_t>(i),
                     items.begin() + static_cast<std::ptrdiff_t>(std::min(items.size(), i + n)));
  }
  return out;
}

// Numeric-string order for record ids ("9" < "10"); non-numeric ids sort lexically after.
bool IdLess(const std::string& a, const std::string& b);

// ---- Objects ----
CrmObject ParseObject(const Json& j);

struct ListPage {
  std::vector<CrmObject> results;
  std::optional<std::string> after;  // paging.next.after; nullopt on the last page
};
ListPage ParseListPage(const Json& j);

// ---- Search ----
struct Filter {
  std::string property;
  std::string op;  // EQ, GT, GTE, IN, ...
  std::string value;
  std::vector<std::string> values;  // IN / NOT_IN
};

struct SearchRequest {
  std::vector<std::vector<Filter>> groups;  // OR of ANDs
  std::string sort_property;                // empty = no sort
  bool ascending = true;
  std::vector<std::string> properties;
  int limit = 200;
  int64_t after = 0;
};

std::string BuildSearchBody(const SearchRequest& request);

struct SearchPage {
  int64_t total = -1;
  std::vector<CrmObject> results;
  std::optional<std::string> after;
};
SearchPage ParseSearchPage(const Json& j);

// ---- Batch ----
// inputs [{id}] with properties.
std::string BuildBatchReadBody(const std::vector<std::string>& ids,
                               const std::vector<std::string>& properties);
std::string BuildBatchUpdateBody(const std::vector<CompanyUpdate>& updates);

// A StandardError of a 207 (or the whole-body error), with the ids it names.
struct BatchError {
  Error error;
  std::vector<std::string> ids;  // context.ids (or any context value list naming ids)
};

struct BatchResponse {
  std::vector<CrmObject> results;
  std::vector<BatchError> errors;
};
BatchResponse ParseBatchResponse(const Json& j);
// A parse callback for a batch write's answer: each result keeps its id, timestamps and
// modification-time properties (all a writer reads, CrmObject::ModifiedMs), and the rest of its
// `properties` (a write's values come back in full: cards of several KB) is skipped while
// parsing instead of being built into the document. Errors are kept whole.
Json::parser_callback_t KeepOnlyWriteOutcomes();

// ---- Associations v4 ----
struct AssocInput {
  std::string id;
  std::string after;  // empty = first page
};
std::string BuildAssocReadBody(const std::vector<AssocInput>& inputs);

struct AssocResult {
  std::string from_id;
  std::vector<std::string> to_ids;
  std::optional<std::string> after;  // more for this from_id
};
struct AssocReadResponse {
  std::vector<AssocResult> results;
  std::vector<BatchError> errors;
};
AssocReadResponse ParseAssocRead(const Json& j);

// ---- Errors ----
// An Error from a non-2xx CRM answer (status + body), for fakes and the OAuth call.
Error ErrorFromCrmAnswer(int http_status, const std::string& body, const std::string& endpoint);
ErrorCode CodeForHttpStatus(int http_status);

// ---- Owners, account ----
Owner ParseOwner(const Json& j);
AccountDetails ParseAccountDetails(const Json& j);

}  // namespace kam::hubspot::internal

#endif  // KAM_HUBSPOT_SRC_CODEC_H_
