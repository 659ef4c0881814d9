// The incremental pull past the 10,000-result cap against the sandbox: more than 10,000
// companies share one hs_lastmodifieddate, so the pull must split that millisecond by id.
// Label `slow` (about 35 s under ASan: 10,500 seeded companies and ~200 searches).
#include <algorithm>
#include <map>
#include <set>

#include "codec.h"
#include "pull.h"
#include "sandbox_fixture.h"

namespace kam::hubspot::testing {
namespace {

using kam::http::Method;

TEST(HubSpotSandbox, IncrementalPullReadsMoreThanTenThousandEqualTimestampsExactlyOnce) {
  Sandbox sb = Sandbox::Start(SandboxWith(10'500));
  ASSERT_TRUE(sb.server);
  auto client = sb.Client();
  const int64_t t0 = 1714557600000;
  const int64_t t1 = t0 + 60'000;
  // Everything at t0, then the first 10,200 companies (by id) at t1, then 50 more at t1 + 5.
  sb.Admin(Method::kPost, "/_sandbox/touch", {{"type", "companies"}, {"timestamp", std::to_string(t0)}});
  sb.Admin(Method::kPost, "/_sandbox/touch",
           {{"type", "companies"}, {"count", 10'200}, {"timestamp", std::to_string(t1)}});
  std::vector<std::string> ids = AllCompanyIds(*client);
  ASSERT_EQ(ids.size(), 10'500u);
  std::sort(ids.begin(), ids.end(), internal::IdLess);
  Json late = Json::array();
  for (size_t i = 10'400; i < 10'450; ++i) late.push_back(ids[i]);
  sb.Admin(Method::kPost, "/_sandbox/touch",
           {{"type", "companies"}, {"ids", late}, {"timestamp", std::to_string(t1 + 5)}});
  std::set<std::string> expected(ids.begin(), ids.begin() + 10'200);
  for (const auto& id : late) expected.insert(id.get<std::string>());

  std::map<std::string, int> got;
  Cursor last_cursor;
  PullOptions opts;
  opts.properties = {"name"};
  opts.overlap_ms = 0;
  auto r = client->PullChangedCompanies(Cursor{t1 - 1, ""}, opts, [&](const CompanyPage& page) {
    for (const auto& c : page.companies) ++got[c.id];
    EXPECT_FALSE(internal::CursorLess(page.cursor, last_cursor));
    last_cursor = page.cursor;
    return Status();
  });
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(got.size(), expected.size());
  for (const auto& id : expected) EXPECT_EQ(got[id], 1) << id;
  EXPECT_GE(r->id_split_windows, 1);
  EXPECT_EQ(r->cursor.modified_ms, t1 + 5);

  // A person edits one company: the next pull from the cursor sees it (and the overlap only).
  sb.Admin(Method::kPost, "/_sandbox/objects/companies/" + ids[3],
           {{"properties", {{"name", "Renamed by a person"}}}});
  std::vector<CrmObject> changed;
  PullOptions again;
  again.properties = {"name"};
  again.overlap_ms = 0;
  auto r2 = client->PullChangedCompanies(r->cursor, again, [&](const CompanyPage& page) {
    changed.insert(changed.end(), page.companies.begin(), page.companies.end());
    return Status();
  });
  ASSERT_TRUE(r2.ok()) << r2.error().ToString();
  bool found = false;
  for (const auto& c : changed) {
    if (c.id == ids[3]) {
      found = true;
      EXPECT_EQ(c.Get("name"), "Renamed by a person");
    }
  }
  EXPECT_TRUE(found);
  EXPECT_LE(changed.size(), 51u);  // the 50 at the cursor's millisecond + the edit
}

}  // namespace
}  // namespace kam::hubspot::testing
