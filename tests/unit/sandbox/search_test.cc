// Search semantics of the sandbox: filter groups, operators, sorts, limits, the 10,000 cap and
// the per-second search bucket.
#include <algorithm>

#include "sandbox_fixture.h"

namespace kam::sandbox::testing {
namespace {

using SearchApi = SandboxTest;

json Filter(const std::string& prop, const std::string& op, json value = nullptr) {
  json f = {{"propertyName", prop}, {"operator", op}};
  if (!value.is_null()) f[op == "IN" || op == "NOT_IN" ? "values" : "value"] = value;
  return f;
}

json OneGroup(std::initializer_list<json> filters) {
  json list = json::array();
  for (const auto& f : filters) list.push_back(f);
  json group = {{"filters", list}};
  return json::array({group});
}

// Every company (id -> properties) read through list paging, for cross-checking searches.
std::map<std::string, json> AllCompanies(TestClient& c, const std::string& props) {
  std::map<std::string, json> out;
  std::string after;
  while (true) {
    Reply r = c.Get("/crm/v3/objects/companies?limit=100&properties=" + props +
                    (after.empty() ? "" : "&after=" + after));
    for (const auto& x : r.json()["results"]) out[x["id"]] = x["properties"];
    if (!r.json().contains("paging")) break;
    after = r.json()["paging"]["next"]["after"];
  }
  return out;
}

TEST_F(SearchApi, NumericFiltersAndTotalMatchAFullScan) {
  auto all = AllCompanies(client(), "annualrevenue");
  int64_t expected = 0;
  for (const auto& [id, p] : all) {
    if (std::stod(p["annualrevenue"].get<std::string>()) >= 1000000) ++expected;
  }
  ASSERT_GT(expected, 0);
  ASSERT_LT(expected, static_cast<int64_t>(all.size()));
  Reply r = client().Post("/crm/v3/objects/companies/search",
                          {{"filterGroups", OneGroup({Filter("annualrevenue", "GTE", "1000000")})},
                           {"limit", 200}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["total"], expected);
  EXPECT_EQ(r.json()["results"].size(), static_cast<size_t>(expected));
  EXPECT_FALSE(r.has("x-hubspot-ratelimit-max"));  // search carries no rate-limit headers
}

TEST_F(SearchApi, GroupsAreOredAndFiltersInAGroupAreAnded) {
  auto all = AllCompanies(client(), "country,industry");
  int64_t expected = 0;
  for (const auto& [id, p] : all) {
    const bool a = p["country"] == "Germany" && p["industry"] == "MACHINERY";
    const bool b = p["country"] == "Japan";
    if (a || b) ++expected;
  }
  json groups = json::array(
      {{{"filters", json::array({Filter("country", "EQ", "germany"),
                                 Filter("industry", "EQ", "MACHINERY")})}},
       {{"filters", json::array({Filter("country", "IN", json::array({"japan"}))})}}});
  Reply r = client().Post("/crm/v3/objects/companies/search",
                          {{"filterGroups", groups}, {"limit", 200}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["total"], expected);
}

TEST_F(SearchApi, SortsInAllThreeSyntaxesAndPagesWithStringOrNumberAfter) {
  for (const json& sort : {json::array({{{"propertyName", "annualrevenue"}, {"direction", "DESCENDING"}}}),
                           json::array({"-annualrevenue"})}) {
    Reply r = client().Post("/crm/v3/objects/companies/search",
                            {{"sorts", sort}, {"properties", json::array({"annualrevenue"})},
                             {"limit", 20}, {"after", 0}});
    ASSERT_EQ(r.status, 200) << r.body;
    std::vector<double> v;
    for (const auto& x : r.json()["results"]) v.push_back(std::stod(x["properties"]["annualrevenue"].get<std::string>()));
    EXPECT_TRUE(std::is_sorted(v.rbegin(), v.rend()));
    EXPECT_EQ(r.json()["paging"]["next"]["after"], "20");
  }
  Reply asc = client().Post("/crm/v3/objects/companies/search",
                            {{"sorts", json::array({"annualrevenue"})},
                             {"properties", json::array({"annualrevenue"})},
                             {"limit", 200}, {"after", "100"}});
  ASSERT_EQ(asc.status, 200);
  EXPECT_EQ(asc.json()["results"].size(), 20u);  // 120 companies, offset 100
  EXPECT_FALSE(asc.json().contains("paging"));
}

TEST_F(SearchApi, LimitAboveTwoHundredAndPagingPastTenThousandAreRejected) {
  ExpectErrorBody(client().Post("/crm/v3/objects/companies/search", {{"limit", 201}}), 400,
                  "VALIDATION_ERROR");
  ExpectErrorBody(client().Post("/crm/v3/objects/companies/search",
                                {{"limit", 200}, {"after", "9900"}}),
                  400, "VALIDATION_ERROR");
  EXPECT_EQ(client().Post("/crm/v3/objects/companies/search", {{"limit", 100}, {"after", "9900"}}).status,
            200);
}

// libFuzzer found a limit of 8.4e32 converted to an integer (undefined behaviour): a number
// that is no whole int64 is a 400 like any bad limit; a whole float such as 100.0 is 100.
TEST_F(SearchApi, ALimitThatIsNoWholeNumberIsRejectedAndAWholeFloatIsAccepted) {
  const std::string path = "/crm/v3/objects/companies/search";
  for (const char* limit : {"8.444444444444444e32", "-1e300", "10.5", "1e19"}) {
    ExpectErrorBody(client().Call("POST", path, std::string(R"({"limit":)") + limit + "}"), 400,
                    "VALIDATION_ERROR");
  }
  Reply whole = client().Call("POST", path, R"({"limit":100.0})");
  ASSERT_EQ(whole.status, 200);
  EXPECT_EQ(whole.json()["results"].size(), 100u);
}

TEST_F(SearchApi, EmptyBodyIsValidAndHasPropertyOperatorsWork) {
  Reply r = client().Call("POST", "/crm/v3/objects/companies/search", "{}");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.json()["total"], 120);
  Reply none = client().Post("/crm/v3/objects/companies/search",
                             {{"filterGroups", OneGroup({Filter("description", "HAS_PROPERTY")})}});
  EXPECT_EQ(none.json()["total"], 0);
  Reply all = client().Post("/crm/v3/objects/companies/search",
                            {{"filterGroups", OneGroup({Filter("description", "NOT_HAS_PROPERTY")})}});
  EXPECT_EQ(all.json()["total"], 120);
}

TEST_F(SearchApi, ModifiedDateWindowsAcceptEpochMillisAndIso) {
  Reply t = client().Post("/_sandbox/touch", {{"type", "companies"}, {"count", 30},
                                               {"timestamp", "2025-06-01T00:00:00.000Z"}});
  ASSERT_EQ(t.json()["updated"], 30);
  for (const json& lo : {json("1748736000000"), json("2025-06-01T00:00:00Z")}) {
    Reply r = client().Post(
        "/crm/v3/objects/companies/search",
        {{"filterGroups", OneGroup({Filter("hs_lastmodifieddate", "GTE", lo),
                                    Filter("hs_lastmodifieddate", "LT", "1748736000001")})},
         {"sorts", json::array({{{"propertyName", "hs_lastmodifieddate"}, {"direction", "ASCENDING"}}})},
         {"limit", 100}});
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.json()["total"], 30);
  }
}

TEST_F(SearchApi, ContainsTokenMatchesWholeWordsWithWildcards) {
  Reply c = client().Post("/crm/v3/objects/companies",
                          {{"properties", {{"name", "Zyxw Widgets International"}}}});
  ASSERT_EQ(c.status, 201);
  Reply r = client().Post("/crm/v3/objects/companies/search",
                          {{"filterGroups", OneGroup({Filter("name", "CONTAINS_TOKEN", "widgets")})}});
  EXPECT_EQ(r.json()["total"], 1);
  Reply w = client().Post("/crm/v3/objects/companies/search",
                          {{"filterGroups", OneGroup({Filter("name", "CONTAINS_TOKEN", "zyx*")})}});
  EXPECT_EQ(w.json()["total"], 1);
  Reply q = client().Post("/crm/v3/objects/companies/search", {{"query", "zyxw"}});
  EXPECT_EQ(q.json()["total"], 1);
  Reply b = client().Post(
      "/crm/v3/objects/companies/search",
      {{"filterGroups", OneGroup({Filter("annualrevenue", "BETWEEN", "0")})}});
  ExpectErrorBody(b, 400, "VALIDATION_ERROR");  // BETWEEN needs highValue
}

TEST_F(SearchApi, RejectsTwoSortsAndUnknownOperators) {
  ExpectErrorBody(client().Post("/crm/v3/objects/companies/search",
                                {{"sorts", json::array({"name", "-domain"})}}),
                  400, "VALIDATION_ERROR");
  ExpectErrorBody(client().Post("/crm/v3/objects/companies/search",
                                {{"filterGroups", OneGroup({Filter("name", "LIKE", "x")})}}),
                  400, "VALIDATION_ERROR");
}

class SearchBucket : public SandboxTest {
  void SetUp() override {
    SandboxOptions o = SmallPortal(10);
    o.search_per_second = 3;
    StartWith(o);
  }
};

TEST_F(SearchBucket, TheFourthSearchWithinASecondGetsTheSecondlyBody) {
  int ok = 0;
  Reply limited;
  for (int i = 0; i < 4; ++i) {
    Reply r = client().Call("POST", "/crm/v3/objects/companies/search", "{}");
    if (r.status == 200) ++ok;
    else limited = r;
  }
  // The loop takes far less than a second on any machine that runs these tests.
  EXPECT_EQ(ok, 3);
  ASSERT_EQ(limited.status, 429);
  json b = limited.json();
  EXPECT_EQ(b["message"], "You have reached your secondly limit.");
  EXPECT_EQ(b["errorType"], "RATE_LIMIT");
  EXPECT_FALSE(limited.has("x-hubspot-ratelimit-remaining"));
}

}  // namespace
}  // namespace kam::sandbox::testing
