// JSON at the edge of the Salesforce adapter (CRM_API B2-B10): records and query pages, error
// bodies (arrays of {message, errorCode, fields}, and OAuth's {error, error_description}),
// sObject Collections bodies and their per-record results, token and /limits answers.
// Parsers throw nlohmann / std::runtime_error on a wrong shape; callers catch them at the call
// site and report the endpoint.
#ifndef KAM_SALESFORCE_SRC_CODEC_H_
#define KAM_SALESFORCE_SRC_CODEC_H_

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kam/salesforce/status.h"
#include "kam/salesforce/types.h"

namespace kam::salesforce::internal {

using Json = nlohmann::json;

// ASCII lower case (API names and keys compare case-insensitively in Salesforce).
std::string Lower(std::string s);

Value ValueFromJson(const Json& j);
Json ValueToJson(const Value& v);

// A record with its attributes; nested parent records are flattened ("Owner.Name").
Record ParseRecord(const Json& j);

struct QueryPage {
  int64_t total_size = 0;
  bool done = true;
  std::string next_records_url;  // "" when done
  std::vector<Record> records;
};
QueryPage ParseQueryPage(const Json& j);

// One error of an error body or of a per-record result.
struct ApiError {
  std::string code;  // errorCode (call level) or statusCode (per record)
  std::string message;
  std::vector<std::string> fields;
};
// The errors of a non-2xx body: a JSON array of {message, errorCode, fields}, or an OAuth
// object {error, error_description}. Anything else gives one error with the raw text.
std::vector<ApiError> ParseErrorBody(std::string_view body);

// An Error from API errors (the first is the main one; the others are appended to message).
Error ErrorFromApiErrors(const std::vector<ApiError>& errors, int http_status,
                         const std::string& endpoint);

// One element of a collection answer.
struct CollectionResult {
  std::string id;  // "" when the record failed
  bool success = false;
  std::optional<bool> created;  // upsert only
  std::vector<ApiError> errors;
};
std::vector<CollectionResult> ParseCollectionResults(const Json& j);

// {"allOrNone":false,"records":[{"attributes":{"type":T},"id":..., fields...}]}
std::string BuildCollectionUpdateBody(const std::string& sobject,
                                      const std::vector<RecordUpdate>& updates);
// The same for creates / upserts: records without id.
std::string BuildCollectionBody(const std::string& sobject, const std::vector<Fields>& records);

struct TokenResponse {
  std::string access_token;
  std::string instance_url;
  std::string id;             // identity URL .../id/{org}/{user}
  std::string refresh_token;  // only when rotated / authorization code
};
TokenResponse ParseTokenResponse(const Json& j);

ApiLimits ParseLimits(const Json& j);

// The describe answer's fields by name (lower-case name -> field object).
std::map<std::string, Json> DescribeFieldsByName(const Json& describe);

}  // namespace kam::salesforce::internal

#endif  // KAM_SALESFORCE_SRC_CODEC_H_
