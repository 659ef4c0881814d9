// SalesforceClient against fake Salesforce servers on 127.0.0.1 (the kam_http test server): a
// login host (OAuth token endpoint, verifying the JWT) and an instance host (REST). OAuth
// refresh on 401, keyset paging with nextRecordsUrl, retries, quota errors, collection writes
// with per-record errors, tasks by key, facts and provisioning.
#include "kam/salesforce/client.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "jwt.h"
#include "sf_test_keys.h"
#include "test_server.h"

namespace kam::salesforce {
namespace {

using Json = nlohmann::json;
using kam::http::testing::ServerReply;
using kam::http::testing::ServerRequest;
using kam::http::testing::TestServer;

std::string UrlDecode(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += s[i] == '+' ? ' ' : s[i];
    }
  }
  return out;
}

std::map<std::string, std::string> ParseForm(const std::string& body) {
  std::map<std::string, std::string> out;
  std::size_t pos = 0;
  while (pos <= body.size()) {
    std::size_t amp = body.find('&', pos);
    if (amp == std::string::npos) amp = body.size();
    std::string pair = body.substr(pos, amp - pos);
    std::size_t eq = pair.find('=');
    if (eq != std::string::npos)
      out[UrlDecode(pair.substr(0, eq))] = UrlDecode(pair.substr(eq + 1));
    pos = amp + 1;
  }
  return out;
}

bool VerifyJwt(const std::string& jwt, const std::string& public_pem) {
  const std::size_t dot = jwt.rfind('.');
  if (dot == std::string::npos) return false;
  const std::string input = jwt.substr(0, dot);
  const std::string sig = internal::Base64UrlDecode(jwt.substr(dot + 1));
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(public_pem.data(), static_cast<int>(public_pem.size())), &BIO_free);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr), &EVP_PKEY_free);
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  return key && EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) == 1 &&
         EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                          reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
}

ServerReply JsonReply(int status, const Json& body) {
  ServerReply r;
  r.status = status;
  r.body = body.dump();
  return r;
}

ServerReply Errors(int status, const std::string& code, const std::string& message) {
  return JsonReply(status, Json::array({{{"errorCode", code}, {"message", message}}}));
}

// A login host and an instance host. The instance's REST answers come from `rest`, which the
// test sets; every request is recorded. Tokens are "tok-1", "tok-2", ...; the instance refuses
// any other bearer and, while `expire` > 0, refuses the current one too (INVALID_SESSION_ID).
class FakeSalesforce {
 public:
  FakeSalesforce()
      : keys_(testing_keys::MakeRsaKeyPair()),
        instance_([this](const ServerRequest& r) { return Instance(r); }),
        login_([this](const ServerRequest& r) { return Login(r); }) {}

  SalesforceOptions Options() {
    SalesforceOptions o;
    o.auth.flow = AuthOptions::Flow::kJwtBearer;
    o.auth.login_url = login_.url();
    o.auth.client_id = "3MVG9key";
    o.auth.username = "kam@acme.com";
    o.auth.get_secret = [this](std::string_view name) -> std::optional<std::string> {
      if (name == "KAM_SALESFORCE_KEY") return keys_.private_pem;
      return std::nullopt;
    };
    o.http.retry.initial_delay = std::chrono::milliseconds(1);
    o.http.retry.max_delay = std::chrono::milliseconds(2);
    o.http.log = [this](kam::http::LogLevel, std::string_view m) {
      std::lock_guard lock(mu_);
      logs_.emplace_back(m);
    };
    return o;
  }

  std::function<ServerReply(const ServerRequest&)> rest;
  int expire = 0;

  int token_requests() {
    std::lock_guard lock(mu_);
    return token_requests_;
  }
  std::vector<ServerRequest> requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }
  std::vector<std::string> logs() {
    std::lock_guard lock(mu_);
    return logs_;
  }
  std::string instance_url() const { return instance_.url(); }
  const testing_keys::KeyPair& keys() const { return keys_; }

 private:
  ServerReply Login(const ServerRequest& r) {
    std::lock_guard lock(mu_);
    ++token_requests_;
    auto form = ParseForm(r.body);
    if (r.target != "/services/oauth2/token" ||
        form["grant_type"] != "urn:ietf:params:oauth:grant-type:jwt-bearer" ||
        !VerifyJwt(form["assertion"], keys_.public_pem)) {
      return JsonReply(400, {{"error", "invalid_grant"}, {"error_description", "bad assertion"}});
    }
    token_ = "tok-" + std::to_string(token_requests_);
    return JsonReply(200, {{"access_token", token_},
                           {"instance_url", instance_.url()},
                           {"id", login_.url() + "/id/00Dxx0000001gPL/005xx000001SwiU"},
                           {"token_type", "Bearer"}});
  }

  ServerReply Instance(const ServerRequest& r) {
    std::function<ServerReply(const ServerRequest&)> handler;
    {
      std::lock_guard lock(mu_);
      requests_.push_back(r);
      auto auth = r.headers.find("authorization");
      if (auth == r.headers.end() || auth->second != "Bearer " + token_ || expire > 0) {
        if (expire > 0) --expire;
        return Errors(401, "INVALID_SESSION_ID", "Session expired or invalid");
      }
      handler = rest;
    }
    return handler ? handler(r) : Errors(404, "NOT_FOUND", "The requested resource does not exist");
  }

  testing_keys::KeyPair keys_;
  std::mutex mu_;
  std::string token_;
  int token_requests_ = 0;
  std::vector<ServerRequest> requests_;
  std::vector<std::string> logs_;
  TestServer instance_;
  TestServer login_;
};

std::string SoqlOf(const ServerRequest& r) {
  auto q = r.target.find("?q=");
  return q == std::string::npos ? "" : UrlDecode(r.target.substr(q + 3));
}

Json AccountRow(const std::string& id, const std::string& stamp, bool deleted = false) {
  return {{"attributes", {{"type", "Account"}}},
          {"Id", id},
          {"Name", "Acme " + id},
          {"OwnerId", "005A"},
          {"SystemModstamp", stamp},
          {"IsDeleted", deleted}};
}

std::unique_ptr<SalesforceClient> MakeClient(SalesforceOptions o) {
  auto c = SalesforceClient::Create(std::move(o));
  EXPECT_TRUE(c.ok()) << c.error().message;
  return c.ok() ? std::move(*c) : nullptr;
}

TEST(SalesforceClient, JwtFlowGetsATokenAndCallsTheInstanceFromTheAnswer) {
  FakeSalesforce sf;
  sf.rest = [](const ServerRequest&) {
    return JsonReply(200, {{"DailyApiRequests", {{"Max", 15000}, {"Remaining", 14975}}}});
  };
  auto client = MakeClient(sf.Options());
  auto limits = client->GetLimits();
  ASSERT_TRUE(limits.ok()) << limits.error().message;
  EXPECT_EQ(limits->daily_max, 15000);
  EXPECT_EQ(client->instance_url(), sf.instance_url());
  EXPECT_EQ(sf.token_requests(), 1);
  ASSERT_EQ(sf.requests().size(), 1u);
  EXPECT_EQ(sf.requests()[0].target, "/services/data/v67.0/limits");
  for (const auto& line : sf.logs()) {
    EXPECT_EQ(line.find("tok-1"), std::string::npos) << line;
    EXPECT_EQ(line.find("PRIVATE KEY"), std::string::npos) << line;
  }
}

TEST(SalesforceClient, AnExpiredSessionGetsOneNewTokenAndTheCallIsRepeated) {
  FakeSalesforce sf;
  sf.rest = [](const ServerRequest&) {
    return JsonReply(200, {{"totalSize", 0}, {"done", true}, {"records", Json::array()}});
  };
  auto client = MakeClient(sf.Options());
  ASSERT_TRUE(client->Authenticate().ok());
  sf.expire = 1;
  auto rows = client->Query("SELECT Id FROM Account");
  ASSERT_TRUE(rows.ok()) << rows.error().message;
  EXPECT_EQ(sf.token_requests(), 2);
  EXPECT_EQ(sf.requests().size(), 2u);
}

TEST(SalesforceClient, ASecond401AfterARefreshIsAClearAuthError) {
  FakeSalesforce sf;
  auto client = MakeClient(sf.Options());
  ASSERT_TRUE(client->Authenticate().ok());
  sf.expire = 5;
  auto rows = client->Query("SELECT Id FROM Account");
  ASSERT_FALSE(rows.ok());
  EXPECT_EQ(rows.error().error_class, ErrorClass::kAuth);
  EXPECT_EQ(rows.error().error_code, "INVALID_SESSION_ID");
  EXPECT_NE(rows.error().message.find("API Enabled"), std::string::npos) << rows.error().message;
  EXPECT_EQ(sf.token_requests(), 2);  // one refresh, not a loop
  EXPECT_EQ(sf.requests().size(), 2u);
}

TEST(SalesforceClient, ARefusedAssertionIsAnAuthErrorWithTheReason) {
  FakeSalesforce sf;
  SalesforceOptions o = sf.Options();
  const std::string other_key = testing_keys::MakeRsaKeyPair().private_pem;
  o.auth.get_secret = [&](std::string_view) -> std::optional<std::string> { return other_key; };
  auto client = MakeClient(o);
  Status s = client->Authenticate();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().error_class, ErrorClass::kAuth);
  EXPECT_EQ(s.error().error_code, "invalid_grant");
  EXPECT_NE(s.error().message.find("pre-authorized"), std::string::npos);
}

TEST(SalesforceClient, APullFollowsNextRecordsUrlThenContinuesByKeyset) {
  FakeSalesforce sf;
  std::mutex mu;
  std::vector<std::string> soqls;
  sf.rest = [&](const ServerRequest& r) {
    std::string soql = SoqlOf(r);
    {
      std::lock_guard lock(mu);
      soqls.push_back(soql.empty() ? r.target : soql);
    }
    if (r.target == "/services/data/v67.0/queryAll/01gLOC-2") {
      return JsonReply(200, {{"totalSize", 3},
                             {"done", true},
                             {"records", {AccountRow("001C", "2024-05-01T10:00:00.000+0000")}}});
    }
    if (soql.find("Id > '001C'") != std::string::npos) {
      return JsonReply(200, {{"totalSize", 1},
                             {"done", true},
                             {"records", {AccountRow("001D", "2024-05-02T08:00:00.000+0000")}}});
    }
    return JsonReply(200, {{"totalSize", 3},
                           {"done", false},
                           {"nextRecordsUrl", "/services/data/v67.0/queryAll/01gLOC-2"},
                           {"records",
                            {AccountRow("001A", "2024-05-01T10:00:00.000+0000"),
                             AccountRow("001B", "2024-05-01T10:00:00.000+0000", true)}}});
  };
  auto client = MakeClient(sf.Options());
  PullOptions po;
  po.fields = {"Name"};
  po.window_records = 3;
  std::vector<AccountPage> pages;
  auto summary = client->PullAccounts(Cursor{}, po, [&](const AccountPage& p) {
    pages.push_back(p);
    return Status();
  });
  ASSERT_TRUE(summary.ok()) << summary.error().message;
  ASSERT_EQ(pages.size(), 3u);
  EXPECT_EQ(pages[0].accounts.size(), 1u);
  EXPECT_EQ(pages[0].deleted_ids, std::vector<std::string>{"001B"});
  EXPECT_EQ(pages[1].accounts[0].id, "001C");
  EXPECT_EQ(pages[1].cursor.id, "001C");
  EXPECT_EQ(pages[2].accounts[0].Text("Name"), "Acme 001D");
  EXPECT_EQ(summary->accounts, 3);
  EXPECT_EQ(summary->deleted, 1);
  EXPECT_EQ(summary->queries, 2);
  EXPECT_EQ(summary->cursor.id, "001D");
  ASSERT_EQ(soqls.size(), 3u);
  EXPECT_EQ(soqls[0],
            "SELECT Id, OwnerId, SystemModstamp, IsDeleted, Name FROM Account ORDER BY "
            "SystemModstamp, Id LIMIT 3");
  EXPECT_NE(soqls[2].find("(SystemModstamp > 2024-05-01T10:00:00Z OR (SystemModstamp = "
                          "2024-05-01T10:00:00Z AND Id > '001C'))"),
            std::string::npos);
  auto reqs = sf.requests();
  EXPECT_EQ(reqs[0].target.rfind("/services/data/v67.0/queryAll?q=", 0), 0u);
  EXPECT_EQ(reqs[0].headers["sforce-query-options"], "batchSize=2000");
}

TEST(SalesforceClient, AnIncrementalPullStartsTheOverlapBeforeTheCursor) {
  FakeSalesforce sf;
  std::string soql;
  sf.rest = [&](const ServerRequest& r) {
    soql = SoqlOf(r);
    return JsonReply(200, {{"totalSize", 0}, {"done", true}, {"records", Json::array()}});
  };
  auto client = MakeClient(sf.Options());
  PullOptions po;
  po.overlap_ms = 5 * 60 * 1000;
  int pages = 0;
  Cursor since{1714557600000, "001Z"};  // 2024-05-01T10:00:00Z
  auto summary = client->PullAccounts(since, po, [&](const AccountPage& p) {
    ++pages;
    EXPECT_EQ(p.cursor.modstamp_ms, since.modstamp_ms);  // never goes back
    return Status();
  });
  ASSERT_TRUE(summary.ok());
  EXPECT_EQ(pages, 1);
  EXPECT_NE(soql.find("WHERE SystemModstamp >= 2024-05-01T09:55:00Z ORDER BY"), std::string::npos)
      << soql;
  EXPECT_EQ(summary->cursor.id, "001Z");
}

TEST(SalesforceClient, AQueryIsRetriedAfterA503) {
  FakeSalesforce sf;
  int calls = 0;
  sf.rest = [&](const ServerRequest&) {
    if (++calls == 1) return Errors(503, "SERVER_UNAVAILABLE", "try later");
    return JsonReply(200, {{"totalSize", 0}, {"done", true}, {"records", Json::array()}});
  };
  auto client = MakeClient(sf.Options());
  auto rows = client->Query("SELECT Id FROM Account");
  ASSERT_TRUE(rows.ok()) << rows.error().message;
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(client->Usage().retries, 1);
}

TEST(SalesforceClient, RequestLimitExceededIsAQuotaErrorAndNotRetried) {
  FakeSalesforce sf;
  sf.rest = [](const ServerRequest&) {
    return Errors(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.");
  };
  auto client = MakeClient(sf.Options());
  auto rows = client->Query("SELECT Id FROM Account");
  ASSERT_FALSE(rows.ok());
  EXPECT_EQ(rows.error().error_class, ErrorClass::kQuota);
  EXPECT_EQ(rows.error().http_status, 403);
  EXPECT_NE(rows.error().message.find("resumes later"), std::string::npos);
  EXPECT_EQ(sf.requests().size(), 1u);
}

TEST(SalesforceClient, TheDailyReserveFromSforceLimitInfoStopsBeforeSending) {
  FakeSalesforce sf;
  sf.rest = [](const ServerRequest&) {
    ServerReply r = JsonReply(200, {{"totalSize", 0}, {"done", true}, {"records", Json::array()}});
    r.headers.emplace_back("Sforce-Limit-Info", "api-usage=14990/15000");
    return r;
  };
  auto client = MakeClient(sf.Options());
  ASSERT_TRUE(client->Query("SELECT Id FROM Account").ok());
  auto second = client->Query("SELECT Id FROM Account");
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().error_class, ErrorClass::kQuota);
  EXPECT_EQ(sf.requests().size(), 1u);
  EXPECT_EQ(client->Usage().daily_limit, 15000);
  EXPECT_EQ(client->Usage().quota_refusals, 1);
}

TEST(SalesforceClient, CollectionUpdatesGoInChunksOf200WithPerRecordOutcomes) {
  FakeSalesforce sf;
  std::vector<Json> bodies;
  sf.rest = [&](const ServerRequest& r) {
    EXPECT_EQ(r.method, "PATCH");
    EXPECT_EQ(r.target, "/services/data/v67.0/composite/sobjects");
    Json body = Json::parse(r.body);
    bodies.push_back(body);
    Json out = Json::array();
    for (const auto& rec : body["records"]) {
      if (rec["id"] == "001-7") {
        out.push_back({{"id", "001-7"},
                       {"success", false},
                       {"errors",
                        {{{"statusCode", "UNABLE_TO_LOCK_ROW"},
                          {"message", "locked"},
                          {"fields", Json::array()}}}}});
      } else if (rec["id"] == "001-210") {
        out.push_back({{"success", false},
                       {"errors",
                        {{{"statusCode", "STRING_TOO_LONG"},
                          {"message", "too long"},
                          {"fields", {"KAM_Breakdown__c"}}}}}});
      } else {
        out.push_back({{"id", rec["id"]}, {"success", true}, {"errors", Json::array()}});
      }
    }
    return JsonReply(200, out);
  };
  auto client = MakeClient(sf.Options());
  std::vector<RecordUpdate> updates;
  for (int i = 0; i < 250; ++i) {
    updates.push_back({"001-" + std::to_string(i), {{kScoreField, Value::Number(i)}}});
  }
  auto w = client->UpdateAccounts(updates);
  ASSERT_TRUE(w.ok()) << w.error().message;
  EXPECT_EQ(w->calls, 2);
  ASSERT_EQ(bodies.size(), 2u);
  EXPECT_EQ(bodies[0]["records"].size(), 200u);
  EXPECT_EQ(bodies[1]["records"].size(), 50u);
  EXPECT_EQ(bodies[0]["allOrNone"], false);
  ASSERT_EQ(w->records.size(), 250u);
  EXPECT_EQ(w->failed(), 2);
  ASSERT_TRUE(w->records[7].error);
  EXPECT_TRUE(w->records[7].error->retryable());
  ASSERT_TRUE(w->records[210].error);
  EXPECT_EQ(w->records[210].error->error_class, ErrorClass::kPermanent);
  EXPECT_EQ(w->records[210].error->fields, std::vector<std::string>{"KAM_Breakdown__c"});
  EXPECT_EQ(w->records[210].id, "001-210");
}

Json TaskDescribe(bool external_id) {
  return {{"name", "Task"},
          {"fields",
           {{{"name", "Id"}, {"type", "id"}},
            {{"name", "KAM_Task_Key__c"}, {"type", "string"}, {"externalId", external_id}}}}};
}

TEST(SalesforceClient, TasksWithoutExternalIdAreQueriedByKeyThenInserted) {
  FakeSalesforce sf;
  std::vector<Json> inserted;
  sf.rest = [&](const ServerRequest& r) {
    if (r.target == "/services/data/v67.0/sobjects/Task/describe") {
      return JsonReply(200, TaskDescribe(false));
    }
    if (r.method == "GET") {
      EXPECT_NE(SoqlOf(r).find("WHERE KAM_Task_Key__c IN ('k-old','k-new')"), std::string::npos);
      return JsonReply(200, {{"totalSize", 1},
                             {"done", true},
                             {"records",
                              {{{"attributes", {{"type", "Task"}}},
                                {"Id", "00T1"},
                                {"KAM_Task_Key__c", "K-OLD"},
                                {"WhatId", "001A"},
                                {"Status", "Completed"},
                                {"IsClosed", true}}}}});
    }
    EXPECT_EQ(r.method, "POST");
    Json body = Json::parse(r.body);
    inserted.push_back(body);
    return JsonReply(200,
                     Json::array({{{"id", "00T2"}, {"success", true}, {"errors", Json::array()}}}));
  };
  auto client = MakeClient(sf.Options());
  TaskSpec old_task{"k-old", "001A", "005A", "Call", "", "Not Started", "High", "2026-12-17"};
  TaskSpec new_task = old_task;
  new_task.key = "k-new";
  auto r = client->WriteTasks({old_task, new_task, new_task});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->mode_used, TaskKeyMode::kQueryInsert);
  ASSERT_EQ(r->tasks.size(), 3u);
  EXPECT_EQ(r->tasks[0].task_id, "00T1");
  EXPECT_FALSE(r->tasks[0].created);  // existed: left as found
  EXPECT_EQ(r->tasks[1].task_id, "00T2");
  EXPECT_TRUE(r->tasks[1].created);
  EXPECT_FALSE(r->tasks[2].created);  // the same key again: still one task
  ASSERT_EQ(inserted.size(), 1u);
  ASSERT_EQ(inserted[0]["records"].size(), 1u);
  const Json& rec = inserted[0]["records"][0];
  EXPECT_EQ(rec["KAM_Task_Key__c"], "k-new");
  EXPECT_EQ(rec["WhatId"], "001A");
  EXPECT_EQ(rec["OwnerId"], "005A");
  EXPECT_EQ(rec["ActivityDate"], "2026-12-17");
}

TEST(SalesforceClient, AnInsertWithUnknownOutcomeIsLookedUpNotRepeated) {
  FakeSalesforce sf;
  int posts = 0, queries = 0;
  sf.rest = [&](const ServerRequest& r) {
    if (r.target == "/services/data/v67.0/sobjects/Task/describe") {
      return JsonReply(200, TaskDescribe(false));
    }
    if (r.method == "POST") {
      ++posts;
      return Errors(503, "SERVER_UNAVAILABLE", "down");  // the insert happened anyway
    }
    ++queries;
    return JsonReply(
        200, {{"totalSize", 1},
              {"done", true},
              {"records",
               {{{"attributes", {{"type", "Task"}}}, {"Id", "00T9"}, {"KAM_Task_Key__c", "k1"}}}}});
  };
  auto client = MakeClient(sf.Options());
  TaskSpec t{"k1", "001A", "", "Call", "", "Not Started", "Normal", ""};
  t.in_doubt = false;
  auto r = client->WriteTasks({t});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(posts, 1);  // a POST is never retried blindly
  EXPECT_EQ(queries, 1);
  EXPECT_EQ(r->tasks[0].task_id, "00T9");
  EXPECT_FALSE(r->tasks[0].error.has_value());
}

TEST(SalesforceClient, TasksWithAnExternalIdAreUpsertedOnTheKey) {
  FakeSalesforce sf;
  std::string upsert_target;
  sf.rest = [&](const ServerRequest& r) {
    if (r.target == "/services/data/v67.0/sobjects/Task/describe") {
      return JsonReply(200, TaskDescribe(true));
    }
    upsert_target = r.method + " " + r.target;
    return JsonReply(
        200,
        Json::array(
            {{{"id", "00T3"}, {"success", true}, {"created", true}, {"errors", Json::array()}}}));
  };
  auto client = MakeClient(sf.Options());
  TaskSpec t{"k1", "001A", "005A", "Call", "", "Not Started", "Normal", ""};
  t.in_doubt = false;
  auto r = client->WriteTasks({t});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->mode_used, TaskKeyMode::kUpsert);
  EXPECT_EQ(upsert_target, "PATCH /services/data/v67.0/composite/sobjects/Task/KAM_Task_Key__c");
  EXPECT_TRUE(r->tasks[0].created);
}

TEST(SalesforceClient, CompletingTasksTouchesOnlyOpenTasksFoundByKey) {
  FakeSalesforce sf;
  Json patched;
  sf.rest = [&](const ServerRequest& r) {
    if (r.method == "GET") {
      return JsonReply(200, {{"totalSize", 2},
                             {"done", true},
                             {"records",
                              {{{"attributes", {{"type", "Task"}}},
                                {"Id", "00TA"},
                                {"KAM_Task_Key__c", "k-open"},
                                {"Status", "Not Started"},
                                {"IsClosed", false}},
                               {{"attributes", {{"type", "Task"}}},
                                {"Id", "00TB"},
                                {"KAM_Task_Key__c", "k-done"},
                                {"Status", "Completed"},
                                {"IsClosed", true}}}}});
    }
    patched = Json::parse(r.body);
    return JsonReply(200,
                     Json::array({{{"id", "00TA"}, {"success", true}, {"errors", Json::array()}}}));
  };
  auto client = MakeClient(sf.Options());
  auto w = client->CompleteTasks({"k-open", "k-done", "k-gone"});
  ASSERT_TRUE(w.ok()) << w.error().message;
  ASSERT_EQ(w->records.size(), 3u);
  EXPECT_TRUE(w->all_ok());
  ASSERT_EQ(patched["records"].size(), 1u);
  EXPECT_EQ(patched["records"][0]["id"], "00TA");
  EXPECT_EQ(patched["records"][0]["Status"], "Completed");
  EXPECT_EQ(patched["records"][0]["attributes"]["type"], "Task");
}

TEST(SalesforceClient, FactsComeFromAggregatesGroupedByAccount) {
  FakeSalesforce sf;
  std::vector<std::string> soqls;
  sf.rest = [&](const ServerRequest& r) {
    const std::string q = SoqlOf(r);
    soqls.push_back(q);
    auto agg = [](Json rows) {
      for (auto& row : rows) row["attributes"] = {{"type", "AggregateResult"}};
      return JsonReply(200, {{"totalSize", rows.size()}, {"done", true}, {"records", rows}});
    };
    if (q.find("FROM Account") != std::string::npos) {
      return agg({{{"Id", "001A"}, {"Name", "Acme"}}, {{"Id", "001B"}, {"Name", "Beta"}}});
    }
    if (q.find("IsWon = true") != std::string::npos) {
      return agg({{{"AccountId", "001A"}, {"total", 250000.0}}});
    }
    if (q.find("FROM Contact") != std::string::npos) {
      return agg({{{"AccountId", "001A"}, {"Title", "Head of Procurement"}},
                  {{"AccountId", "001B"}, {"Title", "Vpn Engineer"}}});
    }
    if (q.find("MAX(ActivityDateTime)") != std::string::npos) {
      return agg({{{"AccountId", "001B"}, {"last", "2026-11-23T12:00:00.000+0000"}}});
    }
    return Errors(400, "MALFORMED_QUERY", "unexpected");
  };
  auto client = MakeClient(sf.Options());
  FactsRequest req;
  req.account_ids = {"001A", "001B", "001C"};
  req.fields = {"Name"};
  req.aggregates = {"deals.won_amount_last_12m", "contacts.exec_sponsor",
                    "meetings.days_since_last"};
  req.now_ms = 1796299200000;  // 2026-12-03T12:00:00Z
  auto f = client->ReadFacts(req);
  ASSERT_TRUE(f.ok()) << f.error().message;
  ASSERT_EQ(f->accounts.size(), 2u);
  EXPECT_EQ(f->missing, std::vector<std::string>{"001C"});
  const auto& a = f->accounts[0];
  EXPECT_EQ(a.fields.at("Name"), Value::String("Acme"));
  EXPECT_EQ(a.aggregates.at("deals.won_amount_last_12m"), FactValue::Number(250000));
  EXPECT_EQ(a.aggregates.at("contacts.exec_sponsor"), FactValue::Bool(true));
  EXPECT_EQ(a.aggregates.at("meetings.days_since_last"), FactValue::Null());
  const auto& b = f->accounts[1];
  EXPECT_EQ(b.aggregates.at("contacts.exec_sponsor"), FactValue::Bool(false));  // "Vpn" != VP
  EXPECT_EQ(b.aggregates.at("meetings.days_since_last"), FactValue::Number(10));
  EXPECT_EQ(b.aggregates.at("deals.won_amount_last_12m"), FactValue::Number(0));
  EXPECT_EQ(soqls.size(), 4u);

  req.aggregates = {"deals.nope"};
  auto bad = client->ReadFacts(req);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("contacts.exec_sponsor"), std::string::npos);
}

TEST(SalesforceClient, ProvisioningCreatesMissingFieldsAddsTierValuesAndReportsConflicts) {
  FakeSalesforce sf;
  std::mutex mu;
  bool created = false;
  std::vector<std::string> posted, patched;
  sf.rest = [&](const ServerRequest& r) {
    std::lock_guard lock(mu);
    const std::string base = "/services/data/v67.0";
    if (r.target == base + "/sobjects/Account/describe") {
      Json fields = {{{"name", "Id"}, {"type", "id"}},
                     {{"name", "KAM_Score__c"}, {"type", "string"}},
                     {{"name", "KAM_Tier__c"},
                      {"type", "picklist"},
                      {"picklistValues", {{{"value", "key"}}, {{"value", "standard"}}}}}};
      if (created) {
        fields[2]["picklistValues"].push_back({{"value", "growth"}});
        for (const char* n : {"KAM_Breakdown__c", "KAM_Next_Tier_Hint__c"}) {
          fields.push_back({{"name", n}, {"type", "textarea"}});
        }
        fields.push_back({{"name", "KAM_Rules_Version__c"}, {"type", "string"}});
        fields.push_back({{"name", "KAM_Scored_At__c"}, {"type", "datetime"}});
      }
      return JsonReply(200, {{"name", "Account"}, {"fields", fields}});
    }
    if (r.target == base + "/sobjects/Task/describe") {
      return JsonReply(200, created ? TaskDescribe(true) : Json{{"fields", Json::array()}});
    }
    if (r.method == "POST" && r.target == base + "/tooling/sobjects/CustomField") {
      posted.push_back(Json::parse(r.body)["FullName"]);
      created = true;
      return JsonReply(201, {{"id", "00N1"}, {"success", true}, {"errors", Json::array()}});
    }
    if (r.target.rfind(base + "/tooling/query?q=", 0) == 0) {
      return JsonReply(
          200, {{"totalSize", 1},
                {"done", true},
                {"records", {{{"attributes", {{"type", "CustomField"}}}, {"Id", "00NT"}}}}});
    }
    if (r.target == base + "/tooling/sobjects/CustomField/00NT") {
      if (r.method == "GET") {
        return JsonReply(200, {{"Metadata",
                                {{"type", "Picklist"},
                                 {"valueSet",
                                  {{"valueSetDefinition",
                                    {{"value",
                                      {{{"fullName", "key"}},
                                       {{"fullName", "standard"}},
                                       {{"fullName", "old"}, {"isActive", false}}}}}}}}}}});
      }
      patched.push_back(r.body);
      ServerReply reply;
      reply.status = 204;
      reply.body.clear();
      return reply;
    }
    return Errors(404, "NOT_FOUND", r.method + " " + r.target);
  };
  auto client = MakeClient(sf.Options());
  ProvisionSpec spec{
      {{"key", "Key account"}, {"growth", "Growth"}, {"standard", "Standard"}}, true, {}};
  auto report = client->Provision(spec);
  ASSERT_TRUE(report.ok()) << report.error().message;
  std::map<std::string, ProvisionItem::Outcome> by_field;
  for (const auto& item : report->items) by_field[item.field] = item.outcome;
  EXPECT_EQ(by_field[kScoreField], ProvisionItem::Outcome::kConflict);
  EXPECT_EQ(by_field[kTierField], ProvisionItem::Outcome::kUpdated);
  EXPECT_EQ(by_field[kBreakdownField], ProvisionItem::Outcome::kCreated);
  EXPECT_EQ(by_field[kTaskKeyField], ProvisionItem::Outcome::kCreated);
  EXPECT_TRUE(report->has_conflicts());
  EXPECT_TRUE(report->task_key_external_id);
  EXPECT_EQ(posted.size(), 5u);
  EXPECT_NE(std::find(posted.begin(), posted.end(), "Activity.KAM_Task_Key__c"), posted.end());
  ASSERT_EQ(patched.size(), 1u);
  Json values = Json::parse(patched[0])["Metadata"]["valueSet"]["valueSetDefinition"]["value"];
  ASSERT_EQ(values.size(), 4u);  // key, standard, old (kept), growth (added)
  EXPECT_EQ(values[3]["fullName"], "growth");
}

TEST(SalesforceClient, TheOrgIdComesFromTheIdentityUrlOfTheTokenAnswer) {
  FakeSalesforce sf;
  auto client = MakeClient(sf.Options());
  auto org = client->OrgId();
  ASSERT_TRUE(org.ok()) << org.error().message;
  EXPECT_EQ(*org, "00Dxx0000001gPL");
  EXPECT_TRUE(sf.requests().empty());  // no REST call needed
}

TEST(SalesforceClient, DeletedAccountsComeFromQueryAllSinceATime) {
  FakeSalesforce sf;
  std::string target;
  sf.rest = [&](const ServerRequest& r) {
    target = r.target;
    return JsonReply(200,
                     {{"totalSize", 1},
                      {"done", true},
                      {"records", {AccountRow("001X", "2024-05-01T10:00:00.000+0000", true)}}});
  };
  auto client = MakeClient(sf.Options());
  auto ids = client->ListDeletedAccounts(1714557600000);
  ASSERT_TRUE(ids.ok()) << ids.error().message;
  EXPECT_EQ(*ids, std::vector<std::string>{"001X"});
  EXPECT_EQ(target.rfind("/services/data/v67.0/queryAll?q=", 0), 0u);
  EXPECT_NE(UrlDecode(target).find("IsDeleted = true AND SystemModstamp >= 2024-05-01T10:00:00Z"),
            std::string::npos);
}

TEST(SalesforceClient, CompletingByIdLeavesTasksWithoutAKeyAlone) {
  FakeSalesforce sf;
  Json patched;
  sf.rest = [&](const ServerRequest& r) {
    if (r.method == "GET") {
      return JsonReply(200, {{"totalSize", 3},
                             {"done", true},
                             {"records",
                              {{{"attributes", {{"type", "Task"}}},
                                {"Id", "00TA00000000001AAA"},
                                {"KAM_Task_Key__c", "k1"},
                                {"Status", "Not Started"},
                                {"IsClosed", false}},
                               {{"attributes", {{"type", "Task"}}},
                                {"Id", "00TB"},
                                {"KAM_Task_Key__c", nullptr},
                                {"Status", "Not Started"},
                                {"IsClosed", false}},
                               {{"attributes", {{"type", "Task"}}},
                                {"Id", "00TC"},
                                {"KAM_Task_Key__c", "k3"},
                                {"Status", "Completed"},
                                {"IsClosed", true}}}}});
    }
    patched = Json::parse(r.body);
    return JsonReply(
        200, Json::array(
                 {{{"id", "00TA00000000001AAA"}, {"success", true}, {"errors", Json::array()}}}));
  };
  auto client = MakeClient(sf.Options());
  auto w = client->CompleteTasksById({"00TA00000000001", "00TB", "00TC", "00TD"});
  ASSERT_TRUE(w.ok()) << w.error().message;
  ASSERT_EQ(w->records.size(), 4u);
  EXPECT_TRUE(w->records[0].ok());
  ASSERT_TRUE(w->records[1].error);
  EXPECT_EQ(w->records[1].error->error_class, ErrorClass::kPermanent);
  EXPECT_TRUE(w->records[2].ok());  // already closed: nothing to write
  ASSERT_TRUE(w->records[3].error);
  EXPECT_EQ(w->records[3].error->error_code, "NOT_FOUND");
  ASSERT_EQ(patched["records"].size(), 1u);
  EXPECT_EQ(patched["records"][0]["id"], "00TA00000000001AAA");
}

TEST(SalesforceClient, AnExistingTaskWithoutAnAccountIsLinkedAndOtherwiseLeftAlone) {
  FakeSalesforce sf;
  Json patched;
  sf.rest = [&](const ServerRequest& r) {
    if (r.target == "/services/data/v67.0/sobjects/Task/describe") {
      return JsonReply(200, TaskDescribe(true));
    }
    if (r.method == "GET") {
      return JsonReply(200, {{"totalSize", 1},
                             {"done", true},
                             {"records",
                              {{{"attributes", {{"type", "Task"}}},
                                {"Id", "00T7"},
                                {"KAM_Task_Key__c", "k1"},
                                {"Subject", "Renamed by the KAM"},
                                {"WhatId", nullptr}}}}});
    }
    patched = Json::parse(r.body);
    EXPECT_EQ(r.target, "/services/data/v67.0/composite/sobjects");
    return JsonReply(200,
                     Json::array({{{"id", "00T7"}, {"success", true}, {"errors", Json::array()}}}));
  };
  auto client = MakeClient(sf.Options());
  TaskSpec t{"k1", "001A", "005A", "Call", "", "Not Started", "Normal", ""};
  auto r = client->WriteTasks({t});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->tasks[0].task_id, "00T7");
  EXPECT_FALSE(r->tasks[0].created);
  EXPECT_TRUE(r->tasks[0].linked);
  ASSERT_EQ(patched["records"].size(), 1u);
  const Json& rec = patched["records"][0];
  EXPECT_EQ(rec["WhatId"], "001A");
  EXPECT_FALSE(rec.contains("Subject"));  // the KAM's edit stays
  EXPECT_FALSE(rec.contains("OwnerId"));
}

TEST(SalesforceClient, VerifyingFieldsReadsOnlyAndNamesWhatIsMissing) {
  FakeSalesforce sf;
  sf.rest = [&](const ServerRequest& r) {
    EXPECT_EQ(r.method, "GET");
    if (r.target == "/services/data/v67.0/sobjects/Task/describe") {
      return JsonReply(200, TaskDescribe(false));
    }
    return JsonReply(
        200, {{"fields",
               {{{"name", "KAM_Score__c"}, {"type", "double"}, {"precision", 5}, {"scale", 1}},
                {{"name", "KAM_Tier__c"},
                 {"type", "picklist"},
                 {"picklistValues", {{{"value", "key"}}}}}}}});
  };
  auto client = MakeClient(sf.Options());
  ProvisionSpec spec{{{"key", "Key"}, {"standard", "Standard"}}, true, {}};
  spec.account_fields = {
      {kScoreField, "KAM score", FieldSpec::Type::kNumber, 5, 1, 0, {}, ""},
      {kTierField, "KAM tier", FieldSpec::Type::kPicklist, 0, 0, 0, spec.tiers, ""},
      {"KAM_Flag__c", "Flag", FieldSpec::Type::kCheckbox, 0, 0, 0, {}, ""}};
  auto report = client->VerifyFields(spec);
  ASSERT_TRUE(report.ok()) << report.error().message;
  ASSERT_EQ(report->items.size(), 4u);
  EXPECT_EQ(report->items[0].outcome, ProvisionItem::Outcome::kUnchanged);
  EXPECT_EQ(report->items[1].outcome, ProvisionItem::Outcome::kFailed);
  EXPECT_NE(report->items[1].detail.find("standard"), std::string::npos);
  EXPECT_EQ(report->items[2].outcome, ProvisionItem::Outcome::kFailed);
  EXPECT_EQ(report->items[3].field, kTaskKeyField);
  EXPECT_EQ(report->items[3].outcome, ProvisionItem::Outcome::kUnchanged);
  EXPECT_FALSE(report->task_key_external_id);
  EXPECT_EQ(sf.requests().size(), 2u);
}

}  // namespace
}  // namespace kam::salesforce
