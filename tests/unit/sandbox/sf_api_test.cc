// The Salesforce flavour of the sandbox over HTTP: OAuth flows, versions, SOQL query paging and
// aggregates, describe, sObject CRUD, collections with allOrNone, Tooling CustomField, limits and
// Salesforce's error shapes — and the same companies as the HubSpot flavour for one seed.
#include <chrono>
#include <set>

#include "sandbox_fixture.h"

namespace kam::sandbox::testing {
namespace {

const std::string kV = "/services/data/v59.0";

std::string Enc(const std::string& s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::string B64Url(const std::string& in) {
  static constexpr char kChars[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    for (int k = 18; k >= 0; k -= 6) out.push_back(kChars[(v >> k) & 63]);
  }
  if (i + 1 == in.size()) {
    const uint32_t v = uint8_t(in[i]) << 16;
    out.push_back(kChars[(v >> 18) & 63]);
    out.push_back(kChars[(v >> 12) & 63]);
  } else if (i + 2 == in.size()) {
    const uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out.push_back(kChars[(v >> 18) & 63]);
    out.push_back(kChars[(v >> 12) & 63]);
    out.push_back(kChars[(v >> 6) & 63]);
  }
  return out;
}

int64_t NowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

SandboxOptions SfPortal(int accounts = 120) {
  SandboxOptions o = SmallPortal(accounts);
  o.crm = "salesforce";
  return o;
}

// A Salesforce error array with one {message, errorCode}.
void ExpectSfError(const Reply& r, int status, const std::string& code) {
  EXPECT_EQ(r.status, status) << r.body;
  EXPECT_EQ(r.header("content-type"), "application/json;charset=UTF-8");
  json b = json::parse(r.body, nullptr, false);
  ASSERT_TRUE(b.is_array()) << r.body;
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].value("errorCode", ""), code) << r.body;
  EXPECT_FALSE(b[0].value("message", "").empty());
}

class SfApi : public SandboxTest {
 protected:
  void SetUp() override { StartWith(SfPortal()); }
  Reply Query(const std::string& soql, const std::string& kind = "query") {
    return client().Get(kV + "/" + kind + "?q=" + Enc(soql));
  }
  std::string FirstAccountId() {
    Reply r = Query("SELECT Id FROM Account ORDER BY Id LIMIT 1");
    return r.json()["records"][0]["Id"];
  }
};

TEST_F(SfApi, VersionsNeedNoTokenAndUnknownVersionsAre404) {
  client().set_token("");
  Reply r = client().Get("/services/data");
  ASSERT_EQ(r.status, 200);
  bool has50 = false, has59 = false;
  for (const auto& v : r.json()) {
    has50 = has50 || v["version"] == "50.0";
    has59 = has59 || (v["version"] == "59.0" && v["label"] == "Winter '24");
  }
  EXPECT_TRUE(has50 && has59) << r.body;
  client().set_token("sandbox-token");
  ExpectSfError(client().Get("/services/data/v12.0/limits"), 404, "NOT_FOUND");
}

TEST_F(SfApi, EveryApiResponseCarriesLimitInfoAndBadTokensGetInvalidSessionId) {
  Reply ok = client().Get(kV + "/limits");
  ASSERT_EQ(ok.status, 200);
  EXPECT_EQ(ok.header("sforce-limit-info").rfind("api-usage=", 0), 0u);
  EXPECT_TRUE(ok.json()["DailyApiRequests"].contains("Remaining"));
  client().set_token("nope");
  Reply bad = client().Get(kV + "/limits");
  ExpectSfError(bad, 401, "INVALID_SESSION_ID");
  EXPECT_TRUE(bad.has("sforce-limit-info"));
}

TEST_F(SfApi, ClientCredentialsTokenHasIdUrlSignatureAndWorks) {
  client().set_token("");
  Reply t = client().Call("POST", "/services/oauth2/token",
                          "grant_type=client_credentials&client_id=abc&client_secret=s3cret",
                          "application/x-www-form-urlencoded");
  ASSERT_EQ(t.status, 200) << t.body;
  const json b = t.json();
  for (const char* k :
       {"access_token", "instance_url", "id", "token_type", "issued_at", "signature"}) {
    EXPECT_TRUE(b.contains(k)) << k;
  }
  EXPECT_EQ(b["token_type"], "Bearer");
  EXPECT_EQ(b["instance_url"], "http://127.0.0.1");
  const std::string id = b["id"];
  EXPECT_NE(id.find("/id/00D"), std::string::npos);
  EXPECT_NE(id.find("/005"), std::string::npos);
  client().set_token(b["access_token"]);
  EXPECT_EQ(client().Get(kV + "/limits").status, 200);
  client().set_token("");
  Reply bad = client().Call("POST", "/services/oauth2/token", "grant_type=client_credentials",
                            "application/x-www-form-urlencoded");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.json()["error"], "invalid_client");
}

TEST_F(SfApi, JwtBearerChecksAudienceExpiryAndUser) {
  client().set_token("");
  auto jwt = [](const std::string& aud, int64_t exp, const std::string& sub) {
    const json h = {{"alg", "RS256"}};
    const json c = {{"iss", "consumer-key"}, {"sub", sub}, {"aud", aud}, {"exp", exp}};
    return B64Url(h.dump()) + "." + B64Url(c.dump()) + ".c2lnbmF0dXJl";
  };
  const int64_t exp = NowSeconds() + 120;
  auto post = [&](const std::string& assertion) {
    return client().Call("POST", "/services/oauth2/token",
                         "grant_type=" + Enc("urn:ietf:params:oauth:grant-type:jwt-bearer") +
                             "&assertion=" + assertion,
                         "application/x-www-form-urlencoded");
  };
  Reply ok = post(jwt("https://login.salesforce.com", exp, "kam-integration@kam-sandbox.example"));
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_FALSE(ok.json().contains("issued_at"));
  EXPECT_FALSE(ok.json().contains("refresh_token"));
  EXPECT_EQ(
      post(jwt("https://example.com", exp, "kam-integration@kam-sandbox.example")).json()["error"],
      "invalid_grant");
  EXPECT_EQ(
      post(jwt("https://login.salesforce.com", exp - 600, "kam-integration@kam-sandbox.example"))
          .status,
      400);
  EXPECT_EQ(post(jwt("https://login.salesforce.com", exp, "nobody@example.com"))
                .json()["error_description"],
            "user hasn't approved this consumer");
}

TEST_F(SfApi, ExpiredSessionsAnswer401UntilRefreshed) {
  client().set_token("");
  const std::string form =
      "grant_type=refresh_token&client_id=abc&refresh_token=sandbox-refresh-token";
  Reply t =
      client().Call("POST", "/services/oauth2/token", form, "application/x-www-form-urlencoded");
  ASSERT_EQ(t.status, 200) << t.body;
  client().set_token(t.json()["access_token"]);
  ASSERT_EQ(client().Get(kV + "/limits").status, 200);
  ASSERT_EQ(client().Call("POST", "/_sandbox/oauth/expire", "{}").status, 200);
  ExpectSfError(client().Get(kV + "/limits"), 401, "INVALID_SESSION_ID");
  Reply again =
      client().Call("POST", "/services/oauth2/token", form, "application/x-www-form-urlencoded");
  ASSERT_EQ(again.status, 200);
  client().set_token(again.json()["access_token"]);
  EXPECT_EQ(client().Get(kV + "/limits").status, 200);
  Reply bad = client().Call("POST", "/services/oauth2/token",
                            "grant_type=refresh_token&client_id=abc&refresh_token=other",
                            "application/x-www-form-urlencoded");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.json()["error"], "invalid_grant");
}

TEST_F(SfApi, SeedsTheSameCompaniesAsTheHubSpotFlavour) {
  auto hs = SandboxServer::Start(SmallPortal());
  ASSERT_TRUE(hs.ok());
  TestClient h(hs.server->port());
  std::set<std::string> hubspot_sites, sf_sites;
  Reply companies = h.Get("/crm/v3/objects/companies?limit=100&properties=website");
  for (const auto& c : companies.json()["results"]) {
    hubspot_sites.insert(c["properties"]["website"].get<std::string>());
  }
  Reply r = Query("SELECT Website, Owner.Email, AnnualRevenue FROM Account ORDER BY Id LIMIT 100");
  ASSERT_EQ(r.status, 200) << r.body;
  for (const auto& a : r.json()["records"]) {
    sf_sites.insert(a["Website"].get<std::string>());
    EXPECT_TRUE(a["AnnualRevenue"].is_number());
    EXPECT_TRUE(a["Owner"]["Email"].is_string()) << a.dump();
    EXPECT_EQ(a["Owner"]["attributes"]["type"], "User");
  }
  EXPECT_EQ(hubspot_sites, sf_sites);
  EXPECT_EQ(Query("SELECT COUNT() FROM Account").json()["totalSize"], 120);
}

TEST_F(SfApi, SeedsTheSameContactsDealsAndMeetingsAsTheHubSpotFlavour) {
  auto hs = SandboxServer::Start(SmallPortal());
  ASSERT_TRUE(hs.ok());
  TestClient h(hs.server->port());
  auto total = [&](const char* type, const json& filters) {
    Reply r = h.Post(std::string("/crm/v3/objects/") + type + "/search",
                     {{"limit", 1}, {"filterGroups", filters}});
    return r.json()["total"].get<int64_t>();
  };
  auto won = json::array({{{"filters", json::array({{{"propertyName", "dealstage"},
                                                     {"operator", "EQ"},
                                                     {"value", "closedwon"}}})}}});
  EXPECT_EQ(Query("SELECT COUNT() FROM Contact").json()["totalSize"],
            total("contacts", json::array()));
  EXPECT_EQ(Query("SELECT COUNT() FROM Opportunity").json()["totalSize"],
            total("deals", json::array()));
  EXPECT_EQ(Query("SELECT COUNT() FROM Opportunity WHERE IsWon = true").json()["totalSize"],
            total("deals", won));
  EXPECT_EQ(Query("SELECT COUNT() FROM Event").json()["totalSize"],
            total("meetings", json::array()));
  EXPECT_EQ(Query("SELECT COUNT() FROM Task").json()["totalSize"], total("tasks", json::array()));
  EXPECT_EQ(
      Query("SELECT COUNT() FROM User WHERE Title = 'Key Account Manager'").json()["totalSize"],
      h.Get("/crm/v3/owners").json()["results"].size());
}

TEST_F(SfApi, QueryPagesWithLocatorsAndAStableTotal) {
  client().set_header("Sforce-Query-Options", "batchSize=200");
  Reply first = Query("SELECT Id, Name FROM Contact");
  ASSERT_EQ(first.status, 200) << first.body;
  const int64_t total = first.json()["totalSize"];
  ASSERT_GT(total, 200);
  EXPECT_EQ(first.json()["records"].size(), 200u);
  EXPECT_FALSE(first.json()["done"].get<bool>());
  std::set<std::string> ids;
  for (const auto& r : first.json()["records"]) ids.insert(r["Id"].get<std::string>());
  std::string next = first.json()["nextRecordsUrl"];
  while (true) {
    Reply page = client().Get(next);
    ASSERT_EQ(page.status, 200) << page.body;
    EXPECT_EQ(page.json()["totalSize"], total);
    for (const auto& r : page.json()["records"]) ids.insert(r["Id"].get<std::string>());
    if (page.json()["done"].get<bool>()) {
      EXPECT_FALSE(page.json().contains("nextRecordsUrl"));
      break;
    }
    next = page.json()["nextRecordsUrl"];
  }
  EXPECT_EQ(static_cast<int64_t>(ids.size()), total);
  ExpectSfError(client().Get(kV + "/query/01gKd0000000000AAAA-200"), 400, "INVALID_QUERY_LOCATOR");
}

TEST_F(SfApi, KeysetFiltersOrderAndIdsIn15Or18Characters) {
  Reply all = Query("SELECT Id, SystemModstamp FROM Account ORDER BY SystemModstamp, Id LIMIT 10");
  ASSERT_EQ(all.status, 200) << all.body;
  const json& recs = all.json()["records"];
  const std::string ts = recs[4]["SystemModstamp"];
  const std::string id = recs[4]["Id"];
  EXPECT_EQ(id.size(), 18u);
  EXPECT_EQ(id.substr(0, 3), "001");
  const std::string lit = ts.substr(0, 19) + "Z";
  Reply after = Query("SELECT Id FROM Account WHERE SystemModstamp > " + lit +
                      " OR (SystemModstamp = " + lit + " AND Id > '" + id +
                      "') ORDER BY SystemModstamp, Id LIMIT 3");
  ASSERT_EQ(after.status, 200) << after.body;
  EXPECT_EQ(after.json()["records"][0]["Id"], recs[5]["Id"]);
  Reply by15 = client().Get(kV + "/sobjects/Account/" + id.substr(0, 15));
  ASSERT_EQ(by15.status, 200) << by15.body;
  EXPECT_EQ(by15.json()["Id"], id);
  EXPECT_EQ(by15.json()["attributes"]["type"], "Account");
}

TEST_F(SfApi, AggregatesGroupByAccountWithAliasesAndExprNames) {
  const std::string a = FirstAccountId();
  Reply r = Query(
      "SELECT AccountId, SUM(Amount) total, COUNT(Id) FROM Opportunity WHERE "
      "IsWon = true AND CloseDate = LAST_N_DAYS:730 AND AccountId IN ('" +
      a + "', '001Kd000000ZZZZ') GROUP BY AccountId");
  ASSERT_EQ(r.status, 200) << r.body;
  for (const auto& row : r.json()["records"]) {
    EXPECT_EQ(row["attributes"]["type"], "AggregateResult");
    EXPECT_EQ(row["AccountId"], a);
    EXPECT_TRUE(row["total"].is_number());
    EXPECT_TRUE(row["expr0"].is_number_integer());
  }
  ExpectSfError(Query("SELECT AccountId, Name FROM Opportunity GROUP BY AccountId"), 400,
                "MALFORMED_QUERY");
}

TEST_F(SfApi, BadQueriesGetSalesforceErrorCodes) {
  ExpectSfError(Query("SELECT Id FRM Account"), 400, "MALFORMED_QUERY");
  ExpectSfError(Query("SELECT Foo__c FROM Account"), 400, "INVALID_FIELD");
  ExpectSfError(Query("SELECT Id FROM Foo"), 400, "INVALID_TYPE");
  ExpectSfError(Query("SELECT Id FROM Account WHERE AnnualRevenue > '5'"), 400, "INVALID_FIELD");
  ExpectSfError(client().Get(kV + "/query"), 400, "MALFORMED_QUERY");
}

TEST_F(SfApi, DescribeListsFieldsPicklistsAndReferences) {
  Reply d = client().Get(kV + "/sobjects/Task/describe");
  ASSERT_EQ(d.status, 200);
  std::map<std::string, json> fields;
  for (const auto& f : d.json()["fields"]) fields[f["name"]] = f;
  ASSERT_TRUE(fields.count("Status"));
  EXPECT_EQ(fields["Status"]["type"], "picklist");
  EXPECT_FALSE(fields["Status"]["nillable"].get<bool>());
  EXPECT_TRUE(fields["Status"]["defaultedOnCreate"].get<bool>());
  EXPECT_EQ(fields["WhatId"]["relationshipName"], "What");
  EXPECT_EQ(fields["WhatId"]["referenceTo"].size(), 2u);
  Reply g = client().Get(kV + "/sobjects");
  ASSERT_EQ(g.status, 200);
  EXPECT_EQ(g.json()["maxBatchSize"], 200);
  ExpectSfError(client().Get(kV + "/sobjects/Nope/describe"), 404, "NOT_FOUND");
}

TEST_F(SfApi, SingleRecordCrudUses201And204) {
  const std::string a = FirstAccountId();
  Reply c = client().Post(kV + "/sobjects/Task", {{"Subject", "Call"}, {"WhatId", a}});
  ASSERT_EQ(c.status, 201) << c.body;
  const std::string id = c.json()["id"];
  EXPECT_EQ(id.substr(0, 3), "00T");
  EXPECT_TRUE(c.json()["success"].get<bool>());
  Reply got = client().Get(kV + "/sobjects/Task/" + id + "?fields=Status,Priority,AccountId");
  EXPECT_EQ(got.json()["Status"], "Not Started");
  EXPECT_EQ(got.json()["Priority"], "Normal");
  EXPECT_EQ(got.json()["AccountId"], a);
  Reply u = client().Patch(kV + "/sobjects/Task/" + id, {{"Status", "Completed"}});
  EXPECT_EQ(u.status, 204);
  EXPECT_TRUE(u.body.empty());
  EXPECT_TRUE(client().Get(kV + "/sobjects/Task/" + id).json()["IsClosed"].get<bool>());
  ExpectSfError(client().Patch(kV + "/sobjects/Task/" + id, {{"Status", "Done"}}), 400,
                "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST");
  ExpectSfError(client().Post(kV + "/sobjects/Account", {{"Website", "x"}}), 400,
                "REQUIRED_FIELD_MISSING");
  ExpectSfError(client().Post(kV + "/sobjects/Task", {{"WhatId", "001Kd000000ZZZZ"}}), 400,
                "INVALID_CROSS_REFERENCE_KEY");
  EXPECT_EQ(client().Call("DELETE", kV + "/sobjects/Task/" + id).status, 204);
  ExpectSfError(client().Call("DELETE", kV + "/sobjects/Task/" + id), 404, "ENTITY_IS_DELETED");
  const std::string q = "SELECT Id FROM Task WHERE Id = '" + id + "'";
  EXPECT_EQ(Query(q).json()["totalSize"], 0);
  EXPECT_EQ(Query(q, "queryAll").json()["totalSize"], 1);
}

// An int field given a number that is no whole int64 (1e300) is refused as Salesforce refuses
// a bad value, not converted (undefined behaviour); a whole float is that integer.
TEST_F(SfApi, AnIntFieldRefusesNumbersThatAreNoWholeInt64) {
  const std::string a = FirstAccountId();
  Reply bad =
      client().Call("PATCH", kV + "/sobjects/Account/" + a, R"({"NumberOfEmployees":1e300})");
  ExpectSfError(bad, 400, "JSON_PARSER_ERROR");
  Reply half =
      client().Call("PATCH", kV + "/sobjects/Account/" + a, R"({"NumberOfEmployees":2.5})");
  ExpectSfError(half, 400, "JSON_PARSER_ERROR");
  Reply whole =
      client().Call("PATCH", kV + "/sobjects/Account/" + a, R"({"NumberOfEmployees":120.0})");
  EXPECT_EQ(whole.status, 204) << whole.body;
  EXPECT_EQ(client()
                .Get(kV + "/sobjects/Account/" + a + "?fields=NumberOfEmployees")
                .json()["NumberOfEmployees"],
            120);
}

TEST_F(SfApi, ToolingCustomFieldsAppearInDescribeAndEnableUpsert) {
  json score = {
      {"FullName", "Account.KAM_Score__c"},
      {"Metadata", {{"label", "KAM Score"}, {"type", "Number"}, {"precision", 5}, {"scale", 1}}}};
  Reply c = client().Post(kV + "/tooling/sobjects/CustomField", score);
  ASSERT_EQ(c.status, 201) << c.body;
  EXPECT_EQ(c.json()["id"].get<std::string>().substr(0, 3), "00N");
  ExpectSfError(client().Post(kV + "/tooling/sobjects/CustomField", score), 400,
                "DUPLICATE_DEVELOPER_NAME");
  Reply tq = client().Get(kV + "/tooling/query?q=" +
                          Enc("SELECT Id, DeveloperName, Metadata FROM CustomField WHERE "
                              "TableEnumOrId = 'Account' AND DeveloperName = 'KAM_Score'"));
  ASSERT_EQ(tq.status, 200) << tq.body;
  ASSERT_EQ(tq.json()["totalSize"], 1);
  EXPECT_EQ(tq.json()["records"][0]["Metadata"]["precision"], 5);
  bool found = false;
  Reply described = client().Get(kV + "/sobjects/Account/describe");
  for (const auto& f : described.json()["fields"]) {
    if (f["name"] == "KAM_Score__c") found = f["type"] == "double" && f["scale"] == 1;
  }
  EXPECT_TRUE(found);
  const std::string a = FirstAccountId();
  EXPECT_EQ(client().Patch(kV + "/sobjects/Account/" + a, {{"KAM_Score__c", 87.25}}).status, 204);
  EXPECT_EQ(Query("SELECT KAM_Score__c FROM Account WHERE Id = '" + a + "'")
                .json()["records"][0]["KAM_Score__c"],
            87.3);
  ExpectSfError(client().Patch(kV + "/sobjects/Account/" + a, {{"KAM_Score__c", 12345.0}}), 400,
                "NUMBER_OUTSIDE_VALID_RANGE");

  json key = {{"FullName", "Task.KAM_Task_Key__c"},
              {"Metadata",
               {{"label", "KAM task key"},
                {"type", "Text"},
                {"length", 80},
                {"externalId", true},
                {"unique", true}}}};
  ASSERT_EQ(client().Post(kV + "/tooling/sobjects/CustomField", key).status, 201);
  json body = {{"allOrNone", false},
               {"records", json::array({{{"attributes", {{"type", "Task"}}},
                                         {"KAM_Task_Key__c", "k1"},
                                         {"Subject", "A"},
                                         {"WhatId", a}},
                                        {{"attributes", {{"type", "Task"}}},
                                         {"KAM_Task_Key__c", "k2"},
                                         {"Subject", "B"},
                                         {"WhatId", a}}})}};
  Reply up = client().Patch(kV + "/composite/sobjects/Task/KAM_Task_Key__c", body);
  ASSERT_EQ(up.status, 200) << up.body;
  EXPECT_TRUE(up.json()[0]["created"].get<bool>());
  Reply again = client().Patch(kV + "/composite/sobjects/Task/KAM_Task_Key__c", body);
  EXPECT_FALSE(again.json()[0]["created"].get<bool>());
  EXPECT_EQ(again.json()[0]["id"], up.json()[0]["id"]);
  Reply single =
      client().Patch(kV + "/sobjects/Task/KAM_Task_Key__c/k3", {{"Subject", "C"}, {"WhatId", a}});
  EXPECT_EQ(single.status, 201) << single.body;
  EXPECT_TRUE(single.json()["created"].get<bool>());
}

TEST_F(SfApi, FieldLevelSecurityHidesNewCustomFieldsUntilGranted) {
  ASSERT_EQ(client().Call("POST", "/_sandbox/fls", R"({"hide_new_fields":true})").status, 200);
  json tier = {{"FullName", "Account.KAM_Tier__c"},
               {"Metadata",
                {{"label", "KAM Tier"},
                 {"type", "Picklist"},
                 {"valueSet",
                  {{"restricted", true},
                   {"valueSetDefinition",
                    {{"value", json::array({{{"fullName", "A"}, {"label", "A"}}})}}}}}}}};
  ASSERT_EQ(client().Post(kV + "/tooling/sobjects/CustomField", tier).status, 201);
  ExpectSfError(Query("SELECT KAM_Tier__c FROM Account LIMIT 1"), 400, "INVALID_FIELD");
  ExpectSfError(client().Post(kV + "/tooling/sobjects/CustomField", tier), 400,
                "DUPLICATE_DEVELOPER_NAME");
  ASSERT_EQ(client().Call("POST", "/_sandbox/fls", R"({"show":["Account.KAM_Tier__c"]})").status,
            200);
  Reply ok = Query("SELECT KAM_Tier__c FROM Account LIMIT 1");
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_TRUE(ok.json()["records"][0]["KAM_Tier__c"].is_null());
  ExpectSfError(
      client().Patch(kV + "/sobjects/Account/" + FirstAccountId(), {{"KAM_Tier__c", "B"}}), 400,
      "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST");
}

TEST_F(SfApi, CollectionsReportPerRecordErrorsAndRollBackWithAllOrNone) {
  const std::string a = FirstAccountId();
  auto task = [&](const std::string& subject, const json& what) {
    return json{{"attributes", {{"type", "Task"}}}, {"Subject", subject}, {"WhatId", what}};
  };
  json body = {{"allOrNone", false},
               {"records", json::array({task("one", a), task("two", "001Kd000000ZZZZ")})}};
  Reply r = client().Post(kV + "/composite/sobjects", body);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(r.json()[0]["success"].get<bool>());
  EXPECT_FALSE(r.json()[1]["success"].get<bool>());
  EXPECT_EQ(r.json()[1]["errors"][0]["statusCode"], "INVALID_CROSS_REFERENCE_KEY");
  const int64_t before = Query("SELECT COUNT() FROM Task").json()["totalSize"];
  body["allOrNone"] = true;
  Reply all = client().Post(kV + "/composite/sobjects", body);
  ASSERT_EQ(all.status, 200);
  EXPECT_EQ(all.json()[0]["errors"][0]["statusCode"], "ALL_OR_NONE_OPERATION_ROLLED_BACK");
  EXPECT_EQ(Query("SELECT COUNT() FROM Task").json()["totalSize"], before);
  // Update with lower-case id, then retrieve.
  const std::string id = r.json()[0]["id"];
  json upd = {
      {"allOrNone", false},
      {"records",
       json::array({{{"attributes", {{"type", "Task"}}}, {"id", id}, {"Priority", "High"}}})}};
  ASSERT_TRUE(client().Patch(kV + "/composite/sobjects", upd).json()[0]["success"].get<bool>());
  Reply got = client().Post(kV + "/composite/sobjects/Task",
                            {{"ids", {id, "00TKd000000ZZZZ"}}, {"fields", {"Priority"}}});
  ASSERT_EQ(got.status, 200) << got.body;
  EXPECT_EQ(got.json()[0]["Priority"], "High");
  EXPECT_TRUE(got.json()[1].is_null());
  json many = {{"records", json::array()}};
  for (int i = 0; i < 201; ++i) many["records"].push_back(task("x", a));
  ExpectSfError(client().Post(kV + "/composite/sobjects", many), 400, "EXCEEDED_ID_LIMIT");
}

TEST(SfSandbox, TheDailyBudgetEndsInRequestLimitExceeded) {
  SandboxOptions o = SfPortal(5);
  o.daily_limit = 3;
  auto s = SandboxServer::Start(o);
  ASSERT_TRUE(s.ok()) << s.error;
  TestClient c(s.server->port());
  for (int i = 0; i < 3; ++i) ASSERT_EQ(c.Get(kV + "/limits").status, 200);
  Reply r = c.Get(kV + "/limits");
  ExpectSfError(r, 403, "REQUEST_LIMIT_EXCEEDED");
  EXPECT_EQ(r.header("sforce-limit-info"), "api-usage=3/3");
}

TEST(SfSandbox, InjectedFaultsUseSalesforceShapes) {
  SandboxOptions o = SfPortal(5);
  o.faults = "503=1";
  auto s = SandboxServer::Start(o);
  ASSERT_TRUE(s.ok()) << s.error;
  TestClient c(s.server->port());
  ExpectSfError(c.Get(kV + "/limits"), 503, "SERVER_UNAVAILABLE");
  ASSERT_EQ(c.Call("PUT", "/_sandbox/faults", R"({"spec":"429=1"})").status, 200);
  ExpectSfError(c.Get(kV + "/limits"), 403, "REQUEST_LIMIT_EXCEEDED");
  ASSERT_EQ(c.Call("PUT", "/_sandbox/faults", R"({"spec":"expired=1"})").status, 200);
  ExpectSfError(c.Get(kV + "/limits"), 401, "INVALID_SESSION_ID");
  EXPECT_EQ(s.server->counters().faults_injected, 3u);
  Reply counters = c.Get("/_sandbox/counters");
  EXPECT_EQ(counters.json()["faults_by_kind"]["503"], 1) << counters.body;
}

}  // namespace
}  // namespace kam::sandbox::testing
