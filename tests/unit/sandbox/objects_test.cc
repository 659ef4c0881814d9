// Objects API of the sandbox: envelopes, status codes (CRM_API A14), paging, validation, auth.
#include <map>
#include <set>

#include "sandbox_fixture.h"

namespace kam::sandbox::testing {
namespace {

using ObjectsApi = SandboxTest;

TEST_F(ObjectsApi, ListPagesToTheEndWithOpaqueCursorsAndNoPagingOnTheLastPage) {
  std::set<std::string> seen;
  std::string after;
  int pages = 0;
  while (true) {
    Reply r = client().Get("/crm/v3/objects/companies?limit=50" +
                           (after.empty() ? "" : "&after=" + after));
    ASSERT_EQ(r.status, 200) << r.body;
    json b = r.json();
    ++pages;
    for (const auto& c : b["results"]) {
      EXPECT_TRUE(c["id"].is_string());
      EXPECT_TRUE(seen.insert(c["id"]).second) << "duplicate " << c["id"];
      EXPECT_EQ(c["archived"], false);
      EXPECT_TRUE(c["properties"].contains("hs_object_id"));
      EXPECT_TRUE(c["properties"].contains("createdate"));
      EXPECT_TRUE(c["properties"].contains("hs_lastmodifieddate"));
      EXPECT_TRUE(c["properties"].contains("name"));  // default property
    }
    if (!b.contains("paging")) break;
    after = b["paging"]["next"]["after"];
    ASSERT_FALSE(after.empty());
    ASSERT_LT(pages, 10);
  }
  EXPECT_EQ(seen.size(), 120u);
  EXPECT_EQ(pages, 3);
}

TEST_F(ObjectsApi, ListDefaultsToTenAndRejectsMoreThanOneHundred) {
  Reply r = client().Get("/crm/v3/objects/companies");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.json()["results"].size(), 10u);
  ExpectErrorBody(client().Get("/crm/v3/objects/companies?limit=101"), 400, "VALIDATION_ERROR");
}

TEST_F(ObjectsApi, GetAcceptsRepeatedAndCommaJoinedPropertiesAndReturnsNullForEmptyOnes) {
  const std::string id = CompanyIds(1)[0];
  Reply r = client().Get("/crm/v3/objects/companies/" + id +
                         "?properties=name,annualrevenue&properties=description");
  ASSERT_EQ(r.status, 200) << r.body;
  json p = r.json()["properties"];
  EXPECT_TRUE(p["name"].is_string());
  EXPECT_TRUE(p["annualrevenue"].is_string());
  EXPECT_TRUE(p["description"].is_null());
  EXPECT_FALSE(p.contains("domain"));
  EXPECT_EQ(p["hs_object_id"], id);
  EXPECT_EQ(r.header("content-type"), "application/json;charset=utf-8");
}

TEST_F(ObjectsApi, GetWithAssociationsListsTheCompanysContacts) {
  const std::string id = CompanyIds(1)[0];
  Reply r = client().Get("/crm/v3/objects/companies/" + id + "?associations=contacts");
  ASSERT_EQ(r.status, 200);
  json a = r.json()["associations"]["contacts"]["results"];
  ASSERT_FALSE(a.empty());
  EXPECT_EQ(a[0]["type"], "company_to_contact");
}

TEST_F(ObjectsApi, AcceptsTypeIdsAndPlusForSpaces) {
  Reply r = client().Get("/crm/v3/objects/0-2?limit=2&properties=name+&properties=domain");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["results"].size(), 2u);
}

TEST_F(ObjectsApi, DateVersionedPathsAreAliasesOfTheLegacyOnes) {
  Reply list = client().Get("/crm/objects/2026-03/companies?limit=1");
  ASSERT_EQ(list.status, 200) << list.body;
  const std::string id = list.json()["results"][0]["id"];
  EXPECT_EQ(client().Get("/crm/properties/2026-03/companies/name").status, 200);
  EXPECT_EQ(client().Get("/crm/owners/2026-03").status, 200);
  Reply assoc = client().Post("/crm/associations/2026-03/companies/contacts/batch/read",
                              {{"inputs", json::array({{{"id", id}}})}});
  EXPECT_EQ(assoc.status, 200) << assoc.body;
  EXPECT_EQ(client().Get("/crm/objects/2026-03/companies/" + id + "/associations/contacts").status,
            200);
}

TEST_F(ObjectsApi, CreateAnswers201AndPatchBumpsTheModificationTime) {
  Reply c = client().Post("/crm/v3/objects/companies",
                          {{"properties", {{"name", "Test Co"}, {"annualrevenue", "1000"}}}});
  ASSERT_EQ(c.status, 201) << c.body;
  json created = c.json();
  EXPECT_EQ(created["properties"]["name"], "Test Co");
  const std::string id = created["id"];
  // Make the record old first, so the bump is visible whatever the clock resolution.
  Reply t = client().Post("/_sandbox/touch", {{"type", "companies"},
                                               {"ids", json::array({id})},
                                               {"timestamp", "2025-01-01T00:00:00.000Z"}});
  ASSERT_EQ(t.status, 200) << t.body;
  ASSERT_EQ(t.json()["updated"], 1);
  const std::string before = "2025-01-01T00:00:00.000Z";
  Reply u = client().Patch("/crm/v3/objects/companies/" + id, {{"properties", {{"nps", "42"}}}});
  ASSERT_EQ(u.status, 200) << u.body;
  EXPECT_GT(u.json()["updatedAt"].get<std::string>(), before);
  EXPECT_EQ(u.json()["properties"]["nps"], "42");
  Reply g = client().Get("/crm/v3/objects/companies/" + id + "?properties=nps");
  EXPECT_EQ(g.json()["properties"]["nps"], "42");
  EXPECT_EQ(g.json()["properties"]["hs_lastmodifieddate"], u.json()["updatedAt"]);
}

// Stored properties are read back by a fast path for plain strings; everything else (quotes,
// backslashes, control characters) must still come back exactly as written.
TEST_F(ObjectsApi, ValuesWithQuotesBackslashesAndControlCharactersComeBackExactly) {
  const auto ids = CompanyIds(2);
  const std::string odd = "A \"quoted\" name \\ with\ttab,\nnewline and caf\u00e9 \u2713";
  const std::string plain = "Plain Name GmbH";
  Reply u = client().Post(
      "/crm/v3/objects/companies/batch/update",
      {{"inputs", json::array({{{"id", ids[0]}, {"properties", {{"name", odd}}}},
                               {{"id", ids[1]}, {"properties", {{"name", plain}}}}})}});
  ASSERT_EQ(u.status, 200) << u.body;
  Reply r = client().Post("/crm/v3/objects/companies/batch/read",
                          {{"inputs", json::array({{{"id", ids[0]}}, {{"id", ids[1]}}})},
                           {"properties", json::array({"name", "domain"})}});
  ASSERT_EQ(r.status, 200) << r.body;
  std::map<std::string, json> by_id;
  for (const auto& o : r.json()["results"]) by_id[o["id"]] = o["properties"];
  EXPECT_EQ(by_id[ids[0]]["name"], odd);
  EXPECT_EQ(by_id[ids[1]]["name"], plain);
  EXPECT_FALSE(by_id[ids[0]]["domain"].get<std::string>().empty());
  Reply g = client().Get("/crm/v3/objects/companies/" + ids[0] + "?properties=name");
  EXPECT_EQ(g.json()["properties"]["name"], odd);
}

TEST_F(ObjectsApi, ArchiveAnswers204WithoutBodyOrContentTypeAndHidesTheRecord) {
  const std::string id = CompanyIds(1)[0];
  Reply d = client().Call("DELETE", "/crm/v3/objects/companies/" + id);
  EXPECT_EQ(d.status, 204);
  EXPECT_TRUE(d.body.empty());
  EXPECT_FALSE(d.has("content-type"));
  ExpectErrorBody(client().Get("/crm/v3/objects/companies/" + id), 404, "OBJECT_NOT_FOUND");
  Reply a = client().Get("/crm/v3/objects/companies/" + id + "?archived=true");
  ASSERT_EQ(a.status, 200);
  EXPECT_EQ(a.json()["archived"], true);
  EXPECT_TRUE(a.json().contains("archivedAt"));
}

TEST_F(ObjectsApi, RejectsUnknownPropertiesAndOptionsWithValidationErrors) {
  const std::string id = CompanyIds(1)[0];
  Reply r = client().Patch("/crm/v3/objects/companies/" + id,
                           {{"properties", {{"no_such_property", "1"}}}});
  ExpectErrorBody(r, 400, "VALIDATION_ERROR");
  EXPECT_NE(r.body.find("PROPERTY_DOESNT_EXIST"), std::string::npos);
  ExpectErrorBody(client().Patch("/crm/v3/objects/companies/" + id,
                                 {{"properties", {{"industry", "NOT_AN_INDUSTRY"}}}}),
                  400, "VALIDATION_ERROR");
  ExpectErrorBody(client().Patch("/crm/v3/objects/companies/" + id,
                                 {{"properties", {{"annualrevenue", "lots"}}}}),
                  400, "VALIDATION_ERROR");
  ExpectErrorBody(client().Patch("/crm/v3/objects/companies/" + id,
                                 {{"properties", {{"hs_lastmodifieddate", "1"}}}}),
                  400, "VALIDATION_ERROR");
}

TEST_F(ObjectsApi, NormalisesDatetimesAndRejectsNonMidnightDates) {
  Reply t = client().Post("/crm/v3/objects/tasks",
                          {{"properties", {{"hs_timestamp", "1714557600000"},
                                           {"hs_task_subject", "Call"}}}});
  ASSERT_EQ(t.status, 201) << t.body;
  EXPECT_EQ(t.json()["properties"]["hs_timestamp"], "2024-05-01T10:00:00.000Z");
  ExpectErrorBody(client().Post("/crm/v3/objects/tasks", {{"properties", {{"hs_task_subject", "x"}}}}),
                  400, "VALIDATION_ERROR");
}

TEST_F(ObjectsApi, UnknownTokenOrNoTokenIsRejectedWith401) {
  client().set_token("");
  ExpectErrorBody(client().Get("/crm/v3/objects/companies"), 401, "INVALID_AUTHENTICATION");
  client().set_token("wrong");
  ExpectErrorBody(client().Get("/crm/v3/objects/companies"), 401, "INVALID_AUTHENTICATION");
}

TEST_F(ObjectsApi, UnknownObjectTypeIsA400NamingIt) {
  Reply r = client().Get("/crm/v3/objects/widgets");
  ExpectErrorBody(r, 400, "");
  EXPECT_NE(r.body.find("Unable to infer object type from: widgets"), std::string::npos);
}

TEST_F(ObjectsApi, CreateWithAssociationsLinksTheTaskToTheCompany) {
  const std::string company = CompanyIds(1)[0];
  Reply t = client().Post(
      "/crm/v3/objects/tasks",
      {{"properties", {{"hs_timestamp", "2026-01-05T09:00:00Z"}, {"hs_task_subject", "QBR"}}},
       {"associations",
        json::array({{{"to", {{"id", company}}},
                      {"types", json::array({{{"associationCategory", "HUBSPOT_DEFINED"},
                                              {"associationTypeId", 192}}})}}})}});
  ASSERT_EQ(t.status, 201) << t.body;
  Reply a = client().Get("/crm/v4/objects/companies/" + company + "/associations/tasks");
  ASSERT_EQ(a.status, 200) << a.body;
  bool found = false;
  for (const auto& x : a.json()["results"]) {
    if (x["toObjectId"] == t.json()["id"]) {
      found = true;
      EXPECT_EQ(x["associationTypes"][0]["typeId"], 191);
    }
  }
  EXPECT_TRUE(found);
  ExpectErrorBody(
      client().Post("/crm/v3/objects/tasks",
                    {{"properties", {{"hs_timestamp", "2026-01-05T09:00:00Z"}}},
                     {"associations",
                      json::array({{{"to", {{"id", company}}},
                                    {"types", json::array({{{"associationTypeId", 999}}})}}})}}),
      400, "VALIDATION_ERROR");
}

}  // namespace
}  // namespace kam::sandbox::testing
