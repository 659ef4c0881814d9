// SalesforceClient::Impl, shared by the .cc files that implement the client's parts (auth and
// calls, accounts, facts, tasks, provisioning): authenticated JSON calls over kam::http with
// one token refresh on 401, SOQL queries with nextRecordsUrl paging.
#ifndef KAM_SALESFORCE_SRC_CLIENT_IMPL_H_
#define KAM_SALESFORCE_SRC_CLIENT_IMPL_H_

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "codec.h"
#include "jwt.h"
#include "kam/http/client.h"
#include "kam/salesforce/client.h"

namespace kam::salesforce {

struct SalesforceClient::Impl {
  SalesforceOptions options;
  std::unique_ptr<kam::http::Client> http;

  // Auth state, in memory only.
  internal::SecretText access_token;
  internal::SecretText rotated_refresh_token;  // when the token endpoint rotates it
  std::string instance_url;                    // no trailing slash
  int64_t token_requests = 0;
  std::string identity_url;  // the token answer's "id": .../id/{orgId}/{userId}

  std::optional<TaskKeyMode> resolved_task_mode;
  // The configured task-key mode, or (auto) upsert when KAM_Task_Key__c is an external id, from
  // a describe of Task that Provision or VerifyFields read anyway (no second describe).
  void RememberTaskKeyMode(bool key_is_external_id) {
    resolved_task_mode = options.task_key_mode != TaskKeyMode::kAuto ? options.task_key_mode
                         : key_is_external_id                        ? TaskKeyMode::kUpsert
                                                                     : TaskKeyMode::kQueryInsert;
  }
  std::optional<TaskStatuses> task_statuses;  // TaskStatusValues(), read once

  // The org's Task Status values (TaskStatusValues), read once.
  Result<TaskStatuses> ReadTaskStatuses();
  // options.completed_status, else the org's completed value.
  Result<std::string> CompletedStatus();

  struct CallSpec {
    kam::http::Method method = kam::http::Method::kGet;
    std::string path;  // "/services/data/v67.0/..." or an absolute URL
    std::string body;  // JSON; empty = none
    bool idempotent = false;
    std::string endpoint;  // counter / error name: "GET /query"
    std::vector<std::pair<std::string, std::string>> headers;
  };
  struct Reply {
    int status = 0;
    internal::Json json;  // null for 204
  };

  // One authenticated call. Non-2xx -> Error classified by Salesforce's errorCode. A 401 gets
  // one new token and one repeat; a second 401 is a kAuth error saying what to check.
  Result<Reply> Call(const CallSpec& spec);
  Result<internal::Json> CallJson(const CallSpec& spec);
  // GET of a JSON resource (safe to repeat); `rest` goes under DataPath().
  Result<internal::Json> GetJson(const std::string& rest, const std::string& endpoint);
  // GET /sobjects/{sobject}/describe: lower-case field name -> the field's describe entry.
  Result<std::map<std::string, internal::Json>> DescribeFields(const std::string& sobject);

  // "/services/data/v67.0" + rest.
  std::string DataPath(const std::string& rest) const;
  // One page of a query (soql set) or the next page (next_records_url set).
  Result<internal::QueryPage> QueryPage(const std::string& soql, bool query_all,
                                        const std::string& next_records_url, int batch_size);
  // Every record of a query, following nextRecordsUrl.
  Result<std::vector<Record>> QueryAll(const std::string& soql, bool query_all);
  // A templated IN query ({in}) over `values`, chunked, every page of every chunk.
  Result<std::vector<Record>> QueryIn(const std::string& soql_template,
                                      const std::vector<std::string>& values,
                                      int64_t* queries = nullptr);

  // A collection write (create, update, upsert) of `count` records in chunks of 200 (CRM_API
  // B7): `body(begin, end)` builds a chunk's JSON. One outcome per record, in order. A chunk
  // that fails as a whole gives its records that error; after an auth, quota or cancel error
  // the remaining records get it too without being sent. Error only when the first chunk
  // fails that way (nothing was written).
  struct WriteOutcome {
    std::string id;
    std::optional<bool> created;
    std::optional<Error> error;
  };
  struct CollectionWrite {
    kam::http::Method method = kam::http::Method::kPatch;
    std::string path;
    std::string endpoint;
    bool idempotent = true;
  };
  Result<std::vector<WriteOutcome>> WriteCollection(
      const CollectionWrite& write, std::size_t count,
      const std::function<std::string(std::size_t begin, std::size_t end)>& body, int64_t* calls);

  Status EnsureToken();
  Status FetchToken();
  Error MapHttpError(const kam::http::Error& h, const std::string& endpoint) const;
  void Log(kam::http::LogLevel level, const std::string& message) const;
  bool Cancelled() const;
};

// An Error for an answer whose shape we did not expect.
Error BadAnswer(const std::string& endpoint, const std::string& what);
// An Error for the host's cancel request before `endpoint`.
Error CancelledBefore(const std::string& endpoint);

}  // namespace kam::salesforce

#endif  // KAM_SALESFORCE_SRC_CLIENT_IMPL_H_
