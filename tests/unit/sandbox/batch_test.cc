// Batch endpoints of the sandbox: 200/201/207 codes, schema-complete errors, upsert rules.
#include "sandbox_fixture.h"

namespace kam::sandbox::testing {
namespace {

using BatchApi = SandboxTest;

void ExpectStandardError(const json& e) {
  for (const char* key : {"status", "category", "message", "context", "errors", "links"}) {
    EXPECT_TRUE(e.contains(key)) << "missing " << key << " in " << e.dump();
  }
}

TEST_F(BatchApi, ReadAnswers207WithTheFoundRecordsAndANotFoundErrorListingMissingIds) {
  const auto ids = CompanyIds(2);
  Reply r = client().Post("/crm/v3/objects/companies/batch/read",
                          {{"properties", json::array({"name", "annualrevenue"})},
                           {"inputs", json::array({{{"id", ids[0]}}, {{"id", "999999999"}},
                                                   {{"id", ids[1]}}})}});
  ASSERT_EQ(r.status, 207) << r.body;
  json b = r.json();
  EXPECT_EQ(b["status"], "COMPLETE");
  EXPECT_EQ(b["results"].size(), 2u);
  EXPECT_EQ(b["numErrors"], 1);
  ExpectStandardError(b["errors"][0]);
  EXPECT_EQ(b["errors"][0]["category"], "OBJECT_NOT_FOUND");
  EXPECT_EQ(b["errors"][0]["context"]["ids"][0], "999999999");
  EXPECT_TRUE(b.contains("startedAt"));
  EXPECT_TRUE(b.contains("completedAt"));
  EXPECT_TRUE(b["results"][0]["properties"].contains("annualrevenue"));
}

TEST_F(BatchApi, ReadOfExistingRecordsAnswers200AndAcceptsAnEmptyPropertyList) {
  const auto ids = CompanyIds(3);
  Reply r = client().Post("/crm/v3/objects/companies/batch/read",
                          {{"properties", json::array()},
                           {"inputs", json::array({{{"id", ids[0]}}, {{"id", ids[2]}}})}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_FALSE(r.json().contains("errors"));
  EXPECT_EQ(r.json()["results"].size(), 2u);
}

TEST_F(BatchApi, MoreThanOneHundredInputsAreRejected) {
  json inputs = json::array();
  for (int i = 0; i < 101; ++i) inputs.push_back({{"id", std::to_string(10001 + i)}});
  ExpectErrorBody(client().Post("/crm/v3/objects/companies/batch/read", {{"inputs", inputs}}), 400,
                  "VALIDATION_ERROR");
}

TEST_F(BatchApi, CreateAnswers201AndUpdateReportsUnknownIdsIn207) {
  Reply c = client().Post(
      "/crm/v3/objects/companies/batch/create",
      {{"inputs", json::array({{{"properties", {{"name", "A"}}}}, {{"properties", {{"name", "B"}}}}})}});
  ASSERT_EQ(c.status, 201) << c.body;
  ASSERT_EQ(c.json()["results"].size(), 2u);
  const std::string id = c.json()["results"][0]["id"];
  Reply u = client().Post(
      "/crm/v3/objects/companies/batch/update",
      {{"inputs", json::array({{{"id", id}, {"properties", {{"name", "A2"}}}},
                               {{"id", "888888888"}, {"properties", {{"name", "X"}}}}})}});
  ASSERT_EQ(u.status, 207) << u.body;
  EXPECT_EQ(u.json()["results"][0]["properties"]["name"], "A2");
  ExpectStandardError(u.json()["errors"][0]);
  Reply ok = client().Post("/crm/v3/objects/companies/batch/update",
                           {{"inputs", json::array({{{"id", id}, {"properties", {{"nps", "3"}}}}})}});
  EXPECT_EQ(ok.status, 200) << ok.body;
}

TEST_F(BatchApi, ArchiveAnswers204) {
  const auto ids = CompanyIds(1);
  Reply r = client().Post("/crm/v3/objects/companies/batch/archive",
                          {{"inputs", json::array({{{"id", ids[0]}}})}});
  EXPECT_EQ(r.status, 204);
  EXPECT_TRUE(r.body.empty());
  EXPECT_EQ(client().Get("/crm/v3/objects/companies/" + ids[0]).status, 404);
}

json TaskKeyProperty() {
  return {{"name", "kam_task_key"}, {"label", "KAM task key"}, {"type", "string"},
          {"fieldType", "text"},    {"groupName", "taskinformation"}, {"hasUniqueValue", true}};
}

TEST_F(BatchApi, UpsertOnAUniquePropertyCreatesOnceAndThenUpdates) {
  ASSERT_EQ(client().Post("/crm/v3/properties/tasks", TaskKeyProperty()).status, 201);
  json input = {{"idProperty", "kam_task_key"},
                {"id", "acct1-rule7-2026W01"},
                {"properties", {{"hs_timestamp", "2026-01-05T09:00:00.000Z"},
                                {"hs_task_subject", "Book QBR"}}}};
  Reply first = client().Post("/crm/v3/objects/tasks/batch/upsert", {{"inputs", json::array({input})}});
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(first.json()["results"][0]["new"], true);
  EXPECT_EQ(first.json()["results"][0]["properties"]["kam_task_key"], "acct1-rule7-2026W01");
  input["properties"]["hs_task_subject"] = "Book QBR (again)";
  Reply second = client().Post("/crm/v3/objects/tasks/batch/upsert", {{"inputs", json::array({input})}});
  ASSERT_EQ(second.status, 200) << second.body;
  EXPECT_EQ(second.json()["results"][0]["new"], false);
  EXPECT_EQ(second.json()["results"][0]["id"], first.json()["results"][0]["id"]);
  // Exactly one task carries the key.
  Reply s = client().Post("/crm/v3/objects/tasks/search",
                          {{"filterGroups", json::array({{{"filters", json::array({{
                               {"propertyName", "kam_task_key"}, {"operator", "EQ"},
                               {"value", "acct1-rule7-2026W01"}}})}}})}});
  ASSERT_EQ(s.status, 200) << s.body;
  EXPECT_EQ(s.json()["total"], 1);
  // A second record with the same unique value is a conflict.
  ExpectErrorBody(client().Post("/crm/v3/objects/tasks",
                                {{"properties", {{"hs_timestamp", "2026-01-05T09:00:00Z"},
                                                 {"kam_task_key", "acct1-rule7-2026W01"}}}}),
                  409, "CONFLICT");
}

TEST_F(BatchApi, SeededContactEmailsAreUniqueAndUsableForUpsert) {
  Reply page = client().Get("/crm/v3/objects/contacts?limit=1&properties=email");
  ASSERT_EQ(page.status, 200);
  const std::string id = page.json()["results"][0]["id"];
  const std::string email = page.json()["results"][0]["properties"]["email"];
  Reply dup = client().Post("/crm/v3/objects/contacts", {{"properties", {{"email", email}}}});
  ExpectErrorBody(dup, 409, "CONFLICT");
  EXPECT_NE(dup.body.find("Contact already exists. Existing ID: " + id), std::string::npos);
  Reply up = client().Post("/crm/v3/objects/contacts/batch/upsert",
                           {{"inputs", json::array({{{"idProperty", "email"}, {"id", email},
                                                     {"properties", {{"jobtitle", "CEO"}}}}})}});
  ASSERT_EQ(up.status, 200) << up.body;
  EXPECT_EQ(up.json()["results"][0]["id"], id);
  EXPECT_EQ(up.json()["results"][0]["new"], false);
}

TEST_F(BatchApi, UpsertOnANonUniquePropertyIsA400) {
  Reply r = client().Post("/crm/v3/objects/companies/batch/upsert",
                          {{"inputs", json::array({{{"idProperty", "name"}, {"id", "Acme"},
                                                    {"properties", {{"nps", "1"}}}}})}});
  ExpectErrorBody(r, 400, "VALIDATION_ERROR");
  EXPECT_NE(r.body.find("non-unique"), std::string::npos);
}

class NoUniqueTaskKey : public SandboxTest {
  void SetUp() override {
    SandboxOptions o = SmallPortal(20);
    o.task_key_unique = false;
    StartWith(o);
  }
};

TEST_F(NoUniqueTaskKey, RefusesUniqueTaskPropertiesButAcceptsPlainOnes) {
  ExpectErrorBody(client().Post("/crm/v3/properties/tasks", TaskKeyProperty()), 400,
                  "VALIDATION_ERROR");
  json plain = TaskKeyProperty();
  plain["hasUniqueValue"] = false;
  EXPECT_EQ(client().Post("/crm/v3/properties/tasks", plain).status, 201);
  ExpectErrorBody(client().Post("/crm/v3/objects/tasks/batch/upsert",
                                {{"inputs", json::array({{{"idProperty", "kam_task_key"},
                                                          {"id", "k1"},
                                                          {"properties", json::object()}}})}}),
                  400, "VALIDATION_ERROR");
}

}  // namespace
}  // namespace kam::sandbox::testing
