// Properties API of the sandbox: provisioning rules (CRM_API A11).
#include "sandbox_fixture.h"

namespace kam::sandbox::testing {
namespace {

using PropertiesApi = SandboxTest;

json KamGroup() { return {{"name", "kam"}, {"label", "Key account management"}, {"displayOrder", -1}}; }

json TierProperty() {
  return {{"name", "kam_tier"},
          {"label", "KAM tier"},
          {"type", "enumeration"},
          {"fieldType", "select"},
          {"groupName", "kam"},
          {"options", json::array({{{"label", "Tier A"}, {"value", "tier_a"}, {"hidden", false}},
                                   {{"label", "Tier B"}, {"value", "tier_b"}, {"hidden", false}}})}};
}

TEST_F(PropertiesApi, GroupAndPropertyCreationAnswer201ThenConflictOnTheSecondTry) {
  Reply g = client().Post("/crm/v3/properties/companies/groups", KamGroup());
  ASSERT_EQ(g.status, 201) << g.body;
  EXPECT_EQ(g.json()["archived"], false);
  ExpectErrorBody(client().Post("/crm/v3/properties/companies/groups", KamGroup()), 409, "CONFLICT");
  Reply p = client().Post("/crm/v3/properties/companies", TierProperty());
  ASSERT_EQ(p.status, 201) << p.body;
  json d = p.json();
  for (const char* key : {"name", "label", "type", "fieldType", "groupName", "options",
                          "hasUniqueValue", "hidden", "formField", "calculated", "externalOptions",
                          "hubspotDefined", "archived", "createdAt", "updatedAt",
                          "modificationMetadata"}) {
    EXPECT_TRUE(d.contains(key)) << key;
  }
  EXPECT_EQ(d["options"].size(), 2u);
  ExpectErrorBody(client().Post("/crm/v3/properties/companies", TierProperty()), 409, "CONFLICT");
  Reply got = client().Get("/crm/v3/properties/companies/kam_tier");
  ASSERT_EQ(got.status, 200);
  EXPECT_EQ(got.json()["type"], "enumeration");
  // The new property is writable with its options only.
  const std::string id = CompanyIds(1)[0];
  EXPECT_EQ(client().Patch("/crm/v3/objects/companies/" + id,
                           {{"properties", {{"kam_tier", "tier_a"}}}}).status, 200);
  ExpectErrorBody(client().Patch("/crm/v3/objects/companies/" + id,
                                 {{"properties", {{"kam_tier", "tier_z"}}}}),
                  400, "VALIDATION_ERROR");
}

TEST_F(PropertiesApi, RejectsIncompatibleTypesMissingOptionsAndUnknownGroups) {
  ASSERT_EQ(client().Post("/crm/v3/properties/companies/groups", KamGroup()).status, 201);
  json bad = TierProperty();
  bad["type"] = "number";
  ExpectErrorBody(client().Post("/crm/v3/properties/companies", bad), 400, "VALIDATION_ERROR");
  json no_options = TierProperty();
  no_options.erase("options");
  ExpectErrorBody(client().Post("/crm/v3/properties/companies", no_options), 400, "VALIDATION_ERROR");
  json no_group = TierProperty();
  no_group["groupName"] = "nope";
  ExpectErrorBody(client().Post("/crm/v3/properties/companies", no_group), 400, "VALIDATION_ERROR");
  json missing = TierProperty();
  missing.erase("label");
  ExpectErrorBody(client().Post("/crm/v3/properties/companies", missing), 400, "VALIDATION_ERROR");
}

TEST_F(PropertiesApi, UpdateChangesOptionsButNeverUniqueness) {
  ASSERT_EQ(client().Post("/crm/v3/properties/companies/groups", KamGroup()).status, 201);
  ASSERT_EQ(client().Post("/crm/v3/properties/companies", TierProperty()).status, 201);
  json options = TierProperty()["options"];
  options.push_back({{"label", "Tier C"}, {"value", "tier_c"}, {"hidden", false}});
  Reply u = client().Patch("/crm/v3/properties/companies/kam_tier", {{"options", options}});
  ASSERT_EQ(u.status, 200) << u.body;
  EXPECT_EQ(u.json()["options"].size(), 3u);
  ExpectErrorBody(client().Patch("/crm/v3/properties/companies/kam_tier", {{"hasUniqueValue", true}}),
                  400, "VALIDATION_ERROR");
}

TEST_F(PropertiesApi, DeleteArchivesACustomPropertyAndRefusesHubSpotDefinedOnes) {
  ASSERT_EQ(client().Post("/crm/v3/properties/companies/groups", KamGroup()).status, 201);
  ASSERT_EQ(client().Post("/crm/v3/properties/companies", TierProperty()).status, 201);
  Reply d = client().Call("DELETE", "/crm/v3/properties/companies/kam_tier");
  EXPECT_EQ(d.status, 204);
  EXPECT_EQ(client().Get("/crm/v3/properties/companies/kam_tier").status, 404);
  Reply archived = client().Get("/crm/v3/properties/companies?archived=true");
  ASSERT_EQ(archived.status, 200);
  EXPECT_EQ(archived.json()["results"].size(), 1u);
  ExpectErrorBody(client().Call("DELETE", "/crm/v3/properties/companies/name"), 400,
                  "VALIDATION_ERROR");
}

TEST_F(PropertiesApi, ListsTheStandardAndErpPropertiesWithoutPaging) {
  Reply r = client().Get("/crm/v3/properties/companies");
  ASSERT_EQ(r.status, 200);
  std::set<std::string> names;
  for (const auto& p : r.json()["results"]) names.insert(p["name"]);
  for (const char* n : {"name", "domain", "annualrevenue", "hubspot_owner_id", "gross_margin_pct",
                        "avg_days_to_pay", "nps", "support_tickets_open", "tenure_years"}) {
    EXPECT_TRUE(names.count(n)) << n;
  }
  EXPECT_FALSE(r.json().contains("paging"));
}

}  // namespace
}  // namespace kam::sandbox::testing
