// The HTML page: escaped, self-contained, grammatical.
#include "report_html.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "report_model.h"

namespace kam::engine {
namespace {

using nlohmann::json;

ReportData OneAccount(const std::string& name, const std::string& owner_name) {
  ReportData d;
  d.rules_name = "rules";
  d.rules_version = "1";
  d.tiers = {{"key", "Key <account>", 600, 10, 2}, {"standard", "Standard", 0, {}, {}}};
  ReportAccount a;
  a.id = "1";
  a.name = name;
  a.owner_id = "o1";
  a.score = 700;
  a.tier = "key";
  a.revenue = 100;
  a.capped_reason = "full \"tier\" & more";
  a.health = {{"rel", "Relationship", "red"}};
  d.accounts.push_back(a);
  d.owner_names = {{"o1", owner_name}};
  return d;
}

TEST(ReportHtml, EscapesEveryValueFromTheCrmAndTheRuleFile) {
  std::string page = RenderReportHtml(
      BuildReportModel(OneAccount("<script>alert(1)</script>", "Eve <img src=x onerror=y>")));
  EXPECT_EQ(page.find("<script"), std::string::npos);
  EXPECT_EQ(page.find("<img"), std::string::npos);
  EXPECT_NE(page.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(page.find("Eve &lt;img src=x onerror=y&gt;"), std::string::npos);
  EXPECT_NE(page.find("Key &lt;account&gt;"), std::string::npos);
  EXPECT_NE(page.find("full &quot;tier&quot; &amp; more"), std::string::npos);
}

TEST(ReportHtml, LoadsNothingFromOutside) {
  std::string page = RenderReportHtml(BuildReportModel(OneAccount("Acme", "Ada")));
  for (const char* external :
       {"src=\"", "href=\"", "url(", "@import", "<script", "<link", "<iframe"}) {
    EXPECT_EQ(page.find(external), std::string::npos) << external;
  }
  EXPECT_NE(page.find("<svg"), std::string::npos);
  EXPECT_NE(page.find("<style>"), std::string::npos);
}

TEST(ReportHtml, UsesTheSingularForOneAccount) {
  std::string page = RenderReportHtml(BuildReportModel(OneAccount("Acme", "Ada")));
  EXPECT_NE(page.find("1 account (100% of all) makes 80% of revenue"), std::string::npos);
  EXPECT_NE(page.find("1 key account"), std::string::npos);
  EXPECT_EQ(page.find("1 accounts"), std::string::npos);
  EXPECT_EQ(page.find("1 key accounts"), std::string::npos);
}

TEST(ReportHtml, ShowsEverySection) {
  std::string page = RenderReportHtml(BuildReportModel(OneAccount("Acme", "Ada")));
  for (const char* id : {"tiers", "pareto", "scores", "health", "kams", "capped", "movers"}) {
    EXPECT_NE(page.find(std::string("<section id=\"") + id + "\""), std::string::npos) << id;
  }
  EXPECT_NE(page.find(">Ada<"), std::string::npos);
}

TEST(ReportHtml, SurvivesAModelOfTheWrongShape) {
  std::string page = RenderReportHtml(json{{"tiers", "x"}, {"pareto", 3}, {"kams", {1, 2}}});
  EXPECT_NE(page.find("</html>"), std::string::npos);
}

TEST(ReportHtml, ShowsGoalAttainmentAndTheTaskBudgetEscaped) {
  ReportData d = OneAccount("Acme", "Ada");
  d.accounts[0].goals = {{"sponsor", "Sponsor <exec>", "not_met"}, {"c", "Contacts", "met"}};
  d.budget.max_open_per_owner = 20;
  d.budget.dropped_total = 1;
  d.budget.owners = {{"o1", 20, 1, 0, 1}};
  d.budget.dropped = {{"1", "Acme", "o1", "Call <b>Acme</b>", "low", "no room"}};
  std::string page = RenderReportHtml(BuildReportModel(d));
  EXPECT_NE(page.find("<section id=\"goals\""), std::string::npos);
  EXPECT_NE(page.find("data-goal=\"sponsor\""), std::string::npos);
  EXPECT_NE(page.find("Sponsor &lt;exec&gt;"), std::string::npos);
  EXPECT_NE(page.find("1 met, 1 not met"), std::string::npos) << "the KAM's goals";
  EXPECT_NE(page.find("No goal trend yet"), std::string::npos);
  EXPECT_NE(page.find("not known"), std::string::npos) << "no run before to compare with";
  EXPECT_NE(page.find("<section id=\"budget\""), std::string::npos);
  EXPECT_NE(page.find("left 1 new suggestion out"), std::string::npos);
  EXPECT_NE(page.find("Call &lt;b&gt;Acme&lt;/b&gt;"), std::string::npos);
  EXPECT_EQ(page.find("<b>Acme</b>"), std::string::npos);
  EXPECT_EQ(RenderReportHtml(BuildReportModel(OneAccount("Acme", "Ada"))).find("id=\"budget\""),
            std::string::npos);
}

TEST(ReportHtml, ShowsTheGoalTrendAgainstTheRunBeforeEscaped) {
  ReportData d = OneAccount("Acme <Ltd>", "Ada");
  d.accounts[0].goals = {{"sponsor", "Sponsor", "not_met"}, {"c", "Contacts", "met"}};
  d.accounts[0].previous_goals = {{{"sponsor", "met"}, {"c", "met"}}};
  std::string page = RenderReportHtml(BuildReportModel(d));
  EXPECT_EQ(page.find("No goal trend yet"), std::string::npos);
  EXPECT_NE(page.find("Against the run before"), std::string::npos);
  EXPECT_NE(page.find("\u25BC 1 \u2192 0 met"), std::string::npos) << "the sponsor row";
  EXPECT_NE(page.find("1 account down in goals met since the run before"), std::string::npos);
  EXPECT_NE(page.find("since the run before: 1 account down"), std::string::npos) << "per KAM";
  EXPECT_NE(page.find("1 account met fewer goals:"), std::string::npos);
  EXPECT_NE(page.find("<li>Acme &lt;Ltd&gt; ("), std::string::npos);
  EXPECT_NE(page.find("2 \u2192 1 met</li>"), std::string::npos);
  EXPECT_EQ(page.find("Acme <Ltd>"), std::string::npos);
}

}  // namespace
}  // namespace kam::engine
