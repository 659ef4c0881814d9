// HubSpotClient against a scripted in-memory transport: chunk sizes, 207 handling, auth
// (private token, OAuth refresh on 401), task writes in both modes, provisioning compare.
#include "kam/hubspot/client.h"

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

namespace kam::hubspot {
namespace {

using Json = nlohmann::json;

struct Seen {
  HttpCall call;
  Json body;
};

// Routes "METHOD /path" (query dropped) to a handler; records every call.
class FakeTransport : public Transport {
 public:
  using Handler = std::function<Result<HttpReply>(const HttpCall&, const Json& body)>;
  std::map<std::string, Handler> routes;
  std::vector<Seen> calls;

  Result<HttpReply> Send(const HttpCall& call) override {
    Json body = call.body.empty() || call.content_type != "application/json"
                    ? Json()
                    : Json::parse(call.body);
    calls.push_back({call, body});
    const std::string key = call.method + " " + call.target.substr(0, call.target.find('?'));
    auto it = routes.find(key);
    if (it == routes.end()) return Fail(404, "no route " + key);
    return it->second(call, body);
  }

  std::vector<Seen> CallsTo(const std::string& method_path) const {
    std::vector<Seen> out;
    for (const auto& s : calls) {
      if (s.call.method + " " + s.call.target.substr(0, s.call.target.find('?')) == method_path) {
        out.push_back(s);
      }
    }
    return out;
  }

  static HttpReply Ok(const Json& j, int status = 200) { return HttpReply{status, j.dump(), "c"}; }
  static Error Fail(int status, const std::string& msg, const std::string& category = "") {
    Error e;
    e.http_status = status;
    e.code = status == 401   ? ErrorCode::kUnauthenticated
             : status == 404 ? ErrorCode::kNotFound
             : status == 409 ? ErrorCode::kConflict
             : status >= 500 ? ErrorCode::kUnavailable
                             : ErrorCode::kInvalidArgument;
    e.message = msg;
    e.crm_message = msg;
    e.category = category;
    return e;
  }
};

HubSpotOptions TokenOptions(const std::string& token = "pat-na1-test") {
  HubSpotOptions o;
  o.auth.get_secret = [token](std::string_view name) -> std::optional<std::string> {
    if (name == "KAM_HUBSPOT_TOKEN" && !token.empty()) return token;
    return std::nullopt;
  };
  return o;
}

Json Record(const std::string& id, Json props = Json::object()) {
  props["hs_object_id"] = id;
  return {{"id", id},
          {"properties", props},
          {"createdAt", "2024-01-01T00:00:00.000Z"},
          {"updatedAt", "2024-01-01T00:00:00.000Z"},
          {"archived", false}};
}

std::string AuthOf(const HttpCall& c) {
  for (const auto& [k, v] : c.headers) {
    if (k == "Authorization") return v;
  }
  return "";
}

TEST(HubSpotClient, BatchUpdateChunksBy100AndReportsPerRecordFailuresFrom207) {
  auto fake = std::make_shared<FakeTransport>();
  fake->routes["POST /crm/v3/objects/companies/batch/update"] = [](const HttpCall&,
                                                                   const Json& body) {
    Json results = Json::array();
    Json errors = Json::array();
    for (const auto& in : body["inputs"]) {
      const std::string id = in["id"];
      if (id == "150") {
        errors.push_back({{"status", "error"},
                          {"category", "OBJECT_NOT_FOUND"},
                          {"message", "not found"},
                          {"context", {{"ids", {id}}}},
                          {"errors", Json::array()},
                          {"links", Json::object()}});
      } else {
        results.push_back(Record(id, in["properties"]));
      }
    }
    Json out = {{"status", "COMPLETE"}, {"results", results}};
    if (!errors.empty()) {
      out["errors"] = errors;
      out["numErrors"] = errors.size();
    }
    return Result<HttpReply>(FakeTransport::Ok(out, errors.empty() ? 200 : 207));
  };
  auto client = HubSpotClient::Create(TokenOptions(), fake);
  std::vector<CompanyUpdate> updates;
  for (int i = 0; i < 250; ++i) updates.push_back({std::to_string(i), {{"kam_score", "87"}}});
  auto r = client->UpdateCompanies(updates);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  auto calls = fake->CallsTo("POST /crm/v3/objects/companies/batch/update");
  ASSERT_EQ(calls.size(), 3u);
  for (const auto& c : calls) {
    EXPECT_LE(c.body["inputs"].size(), 100u);
    EXPECT_TRUE(c.call.idempotent);
    EXPECT_EQ(AuthOf(c.call), "Bearer pat-na1-test");
  }
  EXPECT_EQ(r->written.size(), 249u);
  ASSERT_EQ(r->failed.size(), 1u);
  EXPECT_EQ(r->failed[0].id, "150");
  EXPECT_EQ(r->failed[0].error.code, ErrorCode::kNotFound);
}

TEST(HubSpotClient, AWholeChunkFailureMarksEachOfItsRecords) {
  auto fake = std::make_shared<FakeTransport>();
  int n = 0;
  fake->routes["POST /crm/v3/objects/companies/batch/update"] =
      [&n](const HttpCall&, const Json& body) -> Result<HttpReply> {
    if (++n == 1)
      return FakeTransport::Fail(400, "Property values were not valid", "VALIDATION_ERROR");
    Json results = Json::array();
    for (const auto& in : body["inputs"]) results.push_back(Record(in["id"]));
    return FakeTransport::Ok({{"status", "COMPLETE"}, {"results", results}});
  };
  auto client = HubSpotClient::Create(TokenOptions(), fake);
  std::vector<CompanyUpdate> updates;
  for (int i = 0; i < 120; ++i) updates.push_back({std::to_string(i), {{"kam_tier", "bogus"}}});
  auto r = client->UpdateCompanies(updates);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->failed.size(), 100u);
  EXPECT_EQ(r->written.size(), 20u);
  EXPECT_EQ(r->failed[0].error.category, "VALIDATION_ERROR");
}

TEST(HubSpotClient, MissingTokenIsUnauthenticatedWithoutAnyCall) {
  auto fake = std::make_shared<FakeTransport>();
  auto client = HubSpotClient::Create(TokenOptions(""), fake);
  auto r = client->ListOwners();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kUnauthenticated);
  EXPECT_NE(r.error().message.find("KAM_HUBSPOT_TOKEN"), std::string::npos);
  EXPECT_TRUE(fake->calls.empty());
}

TEST(HubSpotClient, OAuthRefreshesOnceOn401AndKeepsTheTokenInMemory) {
  auto fake = std::make_shared<FakeTransport>();
  int issued = 0;
  fake->routes["POST /oauth/v1/token"] = [&issued](const HttpCall& c, const Json&) {
    EXPECT_EQ(c.content_type, "application/x-www-form-urlencoded");
    EXPECT_NE(c.body.find("grant_type=refresh_token"), std::string::npos);
    EXPECT_NE(c.body.find("refresh_token=rt-1"), std::string::npos);
    EXPECT_NE(c.body.find("client_id=cid"), std::string::npos);
    ++issued;
    return Result<HttpReply>(FakeTransport::Ok({{"token_type", "bearer"},
                                                {"access_token", "at-" + std::to_string(issued)},
                                                {"refresh_token", "rt-1"},
                                                {"expires_in", 1800}}));
  };
  fake->routes["GET /account-info/v3/details"] = [](const HttpCall& c,
                                                    const Json&) -> Result<HttpReply> {
    if (AuthOf(c) != "Bearer at-2") {
      return FakeTransport::Fail(401,
                                 "The OAuth token used to make this call expired 3 second(s) ago.",
                                 "EXPIRED_AUTHENTICATION");
    }
    return FakeTransport::Ok({{"portalId", 12345678},
                              {"timeZone", "US/Eastern"},
                              {"utcOffsetMilliseconds", -14400000},
                              {"accountType", "STANDARD"}});
  };
  HubSpotOptions o;
  o.auth.kind = AuthOptions::Kind::kOAuthRefreshToken;
  o.auth.client_id = "cid";
  o.auth.get_secret = [](std::string_view name) -> std::optional<std::string> {
    if (name == "KAM_HUBSPOT_CLIENT_SECRET") return "secret";
    if (name == "KAM_HUBSPOT_REFRESH_TOKEN") return "rt-1";
    return std::nullopt;
  };
  auto client = HubSpotClient::Create(o, fake);
  auto r = client->GetAccountDetails();
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->portal_id, 12345678);
  EXPECT_EQ(r->time_zone, "US/Eastern");
  EXPECT_EQ(issued, 2);
  // A second call reuses the in-memory token.
  ASSERT_TRUE(client->GetAccountDetails().ok());
  EXPECT_EQ(issued, 2);
}

TEST(HubSpotClient, BadRefreshTokenIsUnauthenticated) {
  auto fake = std::make_shared<FakeTransport>();
  fake->routes["POST /oauth/v1/token"] = [](const HttpCall&, const Json&) -> Result<HttpReply> {
    return FakeTransport::Fail(400, "missing or unknown refresh token", "BAD_REFRESH_TOKEN");
  };
  HubSpotOptions o;
  o.auth.kind = AuthOptions::Kind::kOAuthRefreshToken;
  o.auth.client_id = "cid";
  o.auth.get_secret = [](std::string_view) -> std::optional<std::string> { return "x"; };
  auto client = HubSpotClient::Create(o, fake);
  auto r = client->ListOwners();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kUnauthenticated);
}

TEST(HubSpotClient, DateVersionedPathsAreUsedWhenConfigured) {
  auto fake = std::make_shared<FakeTransport>();
  fake->routes["GET /crm/owners/2026-03"] = [](const HttpCall&, const Json&) {
    return Result<HttpReply>(FakeTransport::Ok(
        {{"results", {{{"id", "6166860"}, {"email", "a@b.c"}, {"type", "PERSON"}}}}}));
  };
  HubSpotOptions o = TokenOptions();
  o.api_version = "2026-03";
  auto client = HubSpotClient::Create(o, fake);
  auto r = client->ListOwners();
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].id, "6166860");
}

TEST(HubSpotClient, FactsReadAssociationsInChunksOf1000AndFollowPerResultPaging) {
  auto fake = std::make_shared<FakeTransport>();
  // Company i has two contacts: "c<i>a" on the first page and "c<i>b" behind `after`.
  fake->routes["POST /crm/v4/associations/companies/contacts/batch/read"] = [](const HttpCall&,
                                                                               const Json& body) {
    Json results = Json::array();
    for (const auto& in : body["inputs"]) {
      const std::string id = in["id"];
      const int n = std::stoi(id);
      if (in.contains("after")) {
        results.push_back(
            {{"from", {{"id", id}}}, {"to", {{{"toObjectId", std::to_string(100000 + n)}}}}});
      } else {
        results.push_back({{"from", {{"id", id}}},
                           {"to", {{{"toObjectId", std::to_string(200000 + n)}}}},
                           {"paging", {{"next", {{"after", "p2"}}}}}});
      }
    }
    return Result<HttpReply>(FakeTransport::Ok({{"status", "COMPLETE"}, {"results", results}}));
  };
  fake->routes["POST /crm/v3/objects/contacts/batch/read"] = [](const HttpCall&, const Json& body) {
    Json results = Json::array();
    for (const auto& in : body["inputs"]) {
      const std::string id = in["id"];
      // Every "b" contact is a recently active CEO.
      Json props = {{"jobtitle", id[0] == '1' ? "CEO" : "Analyst"},
                    {"lastmodifieddate",
                     id[0] == '1' ? "2024-04-30T00:00:00.000Z" : "2020-01-01T00:00:00.000Z"}};
      results.push_back(Record(id, props));
    }
    return Result<HttpReply>(FakeTransport::Ok({{"status", "COMPLETE"}, {"results", results}}));
  };
  auto client = HubSpotClient::Create(TokenOptions(), fake);
  FactsRequest req;
  for (int i = 1; i <= 1500; ++i) req.company_ids.push_back(std::to_string(i));
  req.aggregates = {"contacts.count", "contacts.active_count", "contacts.exec_sponsor"};
  req.now_ms = 1714557600000;
  auto r = client->ReadFacts(req);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  auto assoc = fake->CallsTo("POST /crm/v4/associations/companies/contacts/batch/read");
  ASSERT_EQ(assoc.size(), 4u);  // 1000 + 500 first pages, 1000 + 500 second pages
  for (const auto& c : assoc) EXPECT_LE(c.body["inputs"].size(), 1000u);
  auto reads = fake->CallsTo("POST /crm/v3/objects/contacts/batch/read");
  EXPECT_EQ(reads.size(), 30u);  // 3,000 contacts / 100
  for (const auto& c : reads) EXPECT_LE(c.body["inputs"].size(), 100u);
  ASSERT_EQ(r->companies.size(), 1500u);
  const auto& f = r->companies[0].aggregates;
  EXPECT_EQ(f.at("contacts.count"), FactValue::Number(2));
  EXPECT_EQ(f.at("contacts.active_count"), FactValue::Number(1));
  EXPECT_EQ(f.at("contacts.exec_sponsor"), FactValue::Bool(true));
  EXPECT_EQ(f.size(), 3u);
  // No deal or meeting reads were made: only requested aggregates are computed.
  EXPECT_TRUE(fake->CallsTo("POST /crm/v4/associations/companies/deals/batch/read").empty());
}

TEST(HubSpotClient, UnknownAggregateIsRejected) {
  auto fake = std::make_shared<FakeTransport>();
  auto client = HubSpotClient::Create(TokenOptions(), fake);
  FactsRequest req;
  req.company_ids = {"1"};
  req.aggregates = {"deals.won_amount_ever"};
  req.now_ms = 1;
  auto r = client->ReadFacts(req);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_TRUE(fake->calls.empty());
}

// A tiny task store behind the fake: search by key IN, batch create, upsert, associations.
struct TaskStore {
  std::map<std::string, std::string> key_to_id;
  std::set<std::pair<std::string, std::string>> associations;  // task, company
  int next_id = 1000;
  int creates = 0;  // create calls that wrote
  bool fail_next_create_after_writing = false;

  void Install(FakeTransport& fake, bool unique) {
    fake.routes["GET /crm/v3/properties/tasks/kam_task_key"] = [unique](const HttpCall&,
                                                                        const Json&) {
      return Result<HttpReply>(FakeTransport::Ok(
          {{"name", "kam_task_key"}, {"type", "string"}, {"hasUniqueValue", unique}}));
    };
    fake.routes["POST /crm/v3/objects/tasks/search"] = [this](const HttpCall& c, const Json& b) {
      EXPECT_TRUE(c.search_lane);
      Json results = Json::array();
      for (const auto& v : b["filterGroups"][0]["filters"][0]["values"]) {
        auto it = key_to_id.find(v.get<std::string>());
        if (it != key_to_id.end())
          results.push_back(Record(it->second, {{"kam_task_key", it->first}}));
      }
      return Result<HttpReply>(
          FakeTransport::Ok({{"total", results.size()}, {"results", results}}));
    };
    fake.routes["POST /crm/v3/objects/tasks/batch/create"] =
        [this, unique](const HttpCall& c, const Json& b) -> Result<HttpReply> {
      // With a unique key a repeated create cannot duplicate (409): safe to repeat.
      EXPECT_EQ(c.idempotent, unique);
      if (unique) {
        for (const auto& in : b["inputs"]) {
          if (key_to_id.count(in["properties"]["kam_task_key"].get<std::string>())) {
            return FakeTransport::Fail(409, "Duplicate value for unique property kam_task_key",
                                       "CONFLICT");
          }
        }
      }
      ++creates;
      Json results = Json::array();
      for (const auto& in : b["inputs"]) {
        const std::string key = in["properties"]["kam_task_key"];
        const std::string id = std::to_string(next_id++);
        key_to_id[key] = id;
        for (const auto& a : in["associations"]) {
          EXPECT_EQ(a["types"][0]["associationTypeId"], 192);
          associations.insert({id, a["to"]["id"].get<std::string>()});
        }
        results.push_back(Record(id, in["properties"]));
      }
      if (fail_next_create_after_writing) {
        fail_next_create_after_writing = false;
        return FakeTransport::Fail(503, "upstream timeout");
      }
      return FakeTransport::Ok({{"status", "COMPLETE"}, {"results", results}}, 201);
    };
    fake.routes["POST /crm/v3/objects/tasks/batch/upsert"] = [this](const HttpCall& c,
                                                                    const Json& b) {
      EXPECT_TRUE(c.idempotent);
      Json results = Json::array();
      for (const auto& in : b["inputs"]) {
        EXPECT_EQ(in["idProperty"], "kam_task_key");
        const std::string key = in["id"];
        bool is_new = !key_to_id.count(key);
        if (is_new) key_to_id[key] = std::to_string(next_id++);
        Json r = Record(key_to_id[key], in["properties"]);
        r["new"] = is_new;
        results.push_back(r);
      }
      return Result<HttpReply>(FakeTransport::Ok({{"status", "COMPLETE"}, {"results", results}}));
    };
    fake.routes["POST /crm/v4/associations/tasks/companies/batch/create"] = [this](const HttpCall&,
                                                                                   const Json& b) {
      for (const auto& in : b["inputs"]) {
        EXPECT_EQ(in["types"][0]["associationTypeId"], 192);
        associations.insert(
            {in["from"]["id"].get<std::string>(), in["to"]["id"].get<std::string>()});
      }
      return Result<HttpReply>(
          FakeTransport::Ok({{"status", "COMPLETE"}, {"results", Json::array()}}, 201));
    };
  }
};

TaskSpec Task(const std::string& key, const std::string& company) {
  TaskSpec t;
  t.key = key;
  t.company_id = company;
  t.owner_id = "6166860";
  t.subject = "Book QBR";
  t.due_ms = 1715331600000;
  return t;
}

TEST(HubSpotClient, UpsertModeWritesOnceAndAssociatesByType192) {
  auto fake = std::make_shared<FakeTransport>();
  TaskStore store;
  store.Install(*fake, /*unique=*/true);
  auto client = HubSpotClient::Create(TokenOptions(), fake);
  auto first = client->WriteTasks({Task("k1", "512"), Task("k2", "513"), Task("k1", "512")});
  ASSERT_TRUE(first.ok()) << first.error().ToString();
  EXPECT_EQ(first->mode_used, TaskKeyMode::kUpsert);
  ASSERT_TRUE(first->all_ok());
  EXPECT_TRUE(first->tasks[0].created);
  EXPECT_FALSE(first->tasks[2].created);  // the repeated key made no second task
  EXPECT_EQ(first->tasks[0].task_id, first->tasks[2].task_id);
  EXPECT_EQ(store.key_to_id.size(), 2u);
  EXPECT_TRUE(store.associations.count({store.key_to_id["k1"], "512"}));
  // One call for both: a batch create with the association inline (no upsert, no second call).
  EXPECT_EQ(fake->CallsTo("POST /crm/v3/objects/tasks/batch/create").size(), 1u);
  EXPECT_TRUE(fake->CallsTo("POST /crm/v3/objects/tasks/batch/upsert").empty());
  EXPECT_TRUE(fake->CallsTo("POST /crm/v4/associations/tasks/companies/batch/create").empty());
  auto second = client->WriteTasks({Task("k1", "512")});
  ASSERT_TRUE(second.ok());
  EXPECT_FALSE(second->tasks[0].created);
  EXPECT_EQ(store.key_to_id.size(), 2u);
  EXPECT_EQ(store.creates, 1);
}

TEST(HubSpotClient, UpsertModeFallsBackToUpsertAndAssociateWhenAKeyExists) {
  auto fake = std::make_shared<FakeTransport>();
  TaskStore store;
  store.Install(*fake, /*unique=*/true);
  store.key_to_id["k1"] = "77";  // made by an earlier run whose answer was lost
  auto client = HubSpotClient::Create(TokenOptions(), fake);
  TaskSpec t1 = Task("k1", "512"), t2 = Task("k2", "513");
  t1.in_doubt = t2.in_doubt = false;  // not searched: the create meets the existing key
  auto r = client->WriteTasks({t1, t2});
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  ASSERT_TRUE(r->all_ok());
  EXPECT_EQ(r->tasks[0].task_id, "77");
  EXPECT_FALSE(r->tasks[0].created);
  EXPECT_TRUE(r->tasks[1].created);
  EXPECT_EQ(fake->CallsTo("POST /crm/v3/objects/tasks/batch/create").size(), 1u);
  EXPECT_EQ(fake->CallsTo("POST /crm/v3/objects/tasks/batch/upsert").size(), 1u);
  EXPECT_TRUE(store.associations.count({"77", "512"}));
  EXPECT_TRUE(store.associations.count({store.key_to_id["k2"], "513"}));
  EXPECT_EQ(store.key_to_id.size(), 2u);
}

TEST(HubSpotClient, SearchCreateModeChecksByKeyWhenACreateIsInDoubt) {
  auto fake = std::make_shared<FakeTransport>();
  TaskStore store;
  store.Install(*fake, /*unique=*/false);
  store.fail_next_create_after_writing = true;  // written, but the answer is a 503
  auto client = HubSpotClient::Create(TokenOptions(), fake);
  auto r = client->WriteTasks({Task("k1", "512")});
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->mode_used, TaskKeyMode::kSearchCreate);
  ASSERT_TRUE(r->all_ok()) << r->tasks[0].error->ToString();
  EXPECT_EQ(r->tasks[0].task_id, store.key_to_id["k1"]);
  // Same key again: found by search, not created.
  auto again = client->WriteTasks({Task("k1", "512")});
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->tasks[0].created);
  EXPECT_EQ(store.key_to_id.size(), 1u);
  EXPECT_EQ(fake->CallsTo("POST /crm/v3/objects/tasks/batch/create").size(), 1u);
}

TEST(HubSpotClient, CompleteTasksSetsStatusCompleted) {
  auto fake = std::make_shared<FakeTransport>();
  fake->routes["POST /crm/v3/objects/tasks/batch/update"] = [](const HttpCall&, const Json& b) {
    Json results = Json::array();
    for (const auto& in : b["inputs"]) {
      EXPECT_EQ(in["properties"]["hs_task_status"], "COMPLETED");
      results.push_back(Record(in["id"], in["properties"]));
    }
    return Result<HttpReply>(FakeTransport::Ok({{"status", "COMPLETE"}, {"results", results}}));
  };
  auto client = HubSpotClient::Create(TokenOptions(), fake);
  auto r = client->CompleteTasks({"1", "2"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->written.size(), 2u);
  EXPECT_TRUE(r->all_ok());
}

}  // namespace
}  // namespace kam::hubspot

namespace kam::hubspot {
namespace {

TEST(HubSpotClient, LongPropertyListsSearchSlimAndBatchReadTheProperties) {
  auto fake = std::make_shared<FakeTransport>();
  fake->routes["POST /crm/v3/objects/companies/search"] = [](const HttpCall& c, const Json& b) {
    EXPECT_LE(c.body.size(), 600u);
    EXPECT_EQ(b["properties"].size(), 2u);
    Json results = Json::array();
    if (b["after"] == "0" && b["filterGroups"][0]["filters"][0]["operator"] == "GTE" &&
        b["filterGroups"][0]["filters"][0]["value"] == "1000") {
      for (int i = 1; i <= 3; ++i) {
        results.push_back(
            Record(std::to_string(i),
                   {{"hs_lastmodifieddate", "1970-01-01T00:00:0" + std::to_string(i) + ".000Z"}}));
      }
    }
    return Result<HttpReply>(FakeTransport::Ok({{"total", results.size()}, {"results", results}}));
  };
  fake->routes["POST /crm/v3/objects/companies/batch/read"] = [](const HttpCall&, const Json& b) {
    EXPECT_EQ(b["properties"].size(), 42u);  // + hs_object_id, hs_lastmodifieddate
    Json results = Json::array();
    for (const auto& in : b["inputs"]) {
      if (in["id"] == "2") continue;  // deleted between search and read
      results.push_back(Record(in["id"], {{"custom_property_00", "x"},
                                          {"hs_lastmodifieddate", "2030-01-01T00:00:00.000Z"}}));
    }
    return Result<HttpReply>(FakeTransport::Ok({{"status", "COMPLETE"}, {"results", results}}));
  };
  HubSpotOptions o = TokenOptions();
  o.max_search_body_chars = 600;
  auto client = HubSpotClient::Create(o, fake);
  PullOptions opts;
  opts.overlap_ms = 0;
  for (int i = 0; i < 40; ++i) {
    opts.properties.push_back("custom_property_" + std::string(i < 10 ? "0" : "") +
                              std::to_string(i));
  }
  std::vector<CrmObject> got;
  auto r = client->PullChangedCompanies(Cursor{1000, ""}, opts, [&got](const CompanyPage& p) {
    got.insert(got.end(), p.companies.begin(), p.companies.end());
    return Status();
  });
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].Get("custom_property_00"), "x");
  // The search's timestamp is kept (the window moves on what the search saw).
  EXPECT_EQ(got[1].ModifiedMs(), 3000);
  EXPECT_EQ(r->cursor.modified_ms, 3000);
}

}  // namespace
}  // namespace kam::hubspot

namespace kam::hubspot {
namespace {

TEST(HubSpotClient, TasksNotInDoubtAreWrittenWithoutASearchInBothModes) {
  for (bool unique : {true, false}) {
    auto fake = std::make_shared<FakeTransport>();
    TaskStore store;
    store.Install(*fake, unique);
    auto client = HubSpotClient::Create(TokenOptions(), fake);
    TaskSpec fresh = Task("new-key", "512");
    fresh.in_doubt = false;
    TaskSpec doubtful = Task("old-key", "513");
    auto r = client->WriteTasks({fresh, doubtful});
    ASSERT_TRUE(r.ok()) << r.error().ToString();
    ASSERT_TRUE(r->all_ok());
    auto searches = fake->CallsTo("POST /crm/v3/objects/tasks/search");
    ASSERT_EQ(searches.size(), 1u) << unique;
    EXPECT_EQ(searches[0].body["filterGroups"][0]["filters"][0]["values"],
              Json::array({"old-key"}));
    fake->calls.clear();
    auto only_fresh = client->WriteTasks({Task("another", "514")});
    ASSERT_TRUE(only_fresh.ok());
    EXPECT_EQ(fake->CallsTo("POST /crm/v3/objects/tasks/search").size(), 1u);  // in doubt
    fake->calls.clear();
    TaskSpec f2 = Task("third", "515");
    f2.in_doubt = false;
    ASSERT_TRUE(client->WriteTasks({f2}).ok());
    EXPECT_TRUE(fake->CallsTo("POST /crm/v3/objects/tasks/search").empty()) << unique;
    EXPECT_EQ(store.key_to_id.size(), 4u);
    EXPECT_TRUE(store.associations.count({store.key_to_id["third"], "515"}));
  }
}

}  // namespace
}  // namespace kam::hubspot
