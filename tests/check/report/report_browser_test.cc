// `kam report --html` in a real browser: the sandbox is synced by the `kam` binary, the page is
// opened by headless Chromium, and the test judges the DOM the browser built (not our string).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "harness.h"

namespace kam::e2e {
namespace {

// The browser: $KAM_CHROMIUM, else chromium-headless-shell or chromium on the PATH.
std::string FindBrowser() {
  if (const char* env = std::getenv("KAM_CHROMIUM"); env != nullptr && *env != '\0') return env;
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path == nullptr ? "/usr/bin:/bin" : path);
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    for (const char* name : {"chromium-headless-shell", "chromium", "chromium-browser"}) {
      fs::path p = fs::path(dir) / name;
      if (::access(p.c_str(), X_OK) == 0) return p.string();
    }
  }
  return "";
}

bool InCi() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::string(ci) == "true";
}

std::string ReadAll(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// True when `needle` occurs in `text` right after a character that is not a digit or a comma
// (so "1 accounts" is found, "11 accounts" and "2,001 accounts" are not).
bool HasCount(const std::string& text, const std::string& needle) {
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) {
    if (at == 0) return true;
    char before = text[at - 1];
    if (!(before >= '0' && before <= '9') && before != ',') return true;
  }
  return false;
}

// The numbers N in every "<b>N key account(s)</b>".
std::vector<int> KeyAccountCounts(const std::string& text) {
  std::vector<int> out;
  for (size_t at = text.find("<b>"); at != std::string::npos; at = text.find("<b>", at + 1)) {
    size_t i = at + 3, start = i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
    if (i > start && text.compare(i, 12, " key account") == 0) {
      out.push_back(std::stoi(text.substr(start, i - start)));
    }
  }
  return out;
}

Outcome Browser(const std::string& browser, const fs::path& profile, std::vector<std::string> args,
                const fs::path& io) {
  Command c;
  c.argv = {browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            "--user-data-dir=" + profile.string()};
  c.argv.insert(c.argv.end(), args.begin(), args.end());
  c.timeout = std::chrono::milliseconds(120'000);
  return RunCommand(c, io);
}

TEST(ReportInBrowser, RendersEverySectionWithOwnerNamesEscapedAndKeepsAScreenshot) {
  const std::string browser = FindBrowser();
  if (browser.empty()) {
    if (InCi())
      FAIL() << "no headless Chromium found; scripts/install-deps installs "
                "chromium-headless-shell (or set KAM_CHROMIUM)";
    GTEST_SKIP() << "no headless Chromium (chromium-headless-shell or chromium) on the PATH: "
                    "run scripts/install-deps, or set KAM_CHROMIUM";
  }
  SandboxSpec spec;
  spec.accounts = 600;
  Sandbox sandbox(spec);
  Workspace ws(sandbox);
  // A company name that would run code if the page did not escape it.
  const std::string evil = "<img src=x onerror=\"document.title='pwned'\">Evil & Co";
  std::vector<std::string> ids = sandbox.CompanyIds();
  ASSERT_FALSE(ids.empty());
  // It starts low and then changes most, so that it is among the few movers the page lists.
  sandbox.EditCompany(
      ids.front(),
      {{"name", evil}, {"annualrevenue", "1000"}, {"nps", "-100"}, {"avg_days_to_pay", "200"}});

  Outcome provision = ws.RunKam({"provision"});
  ASSERT_EQ(provision.exit_code, 0) << provision.Describe();
  Outcome first = ws.RunKam({"sync"});
  ASSERT_EQ(first.exit_code, 0) << first.Describe();
  // A second run after people changed data, so that movers exist.
  for (size_t i = 0; i < ids.size() && i < 6; ++i) {  // at most 10 movers: all are listed
    sandbox.EditCompany(ids[i], {{"annualrevenue", std::to_string(50'000'000 + i)},
                                 {"nps", "90"},
                                 {"avg_days_to_pay", "10"}});
  }
  Outcome second = ws.RunKam({"sync"});
  ASSERT_EQ(second.exit_code, 0) << second.Describe();

  const fs::path artifacts = KAM_REPORT_ARTIFACTS;
  fs::create_directories(artifacts);
  const fs::path page = artifacts / "report.html";
  fs::remove(page);
  Outcome report = ws.RunKam({"report", "--html", page.string()});
  ASSERT_EQ(report.exit_code, 0) << report.Describe();
  ASSERT_TRUE(fs::exists(page));
  const std::string html = ReadAll(page);
  for (const char* external :
       {"src=\"", "href=\"", "url(", "@import", "<script", "<link", "<iframe"}) {
    EXPECT_EQ(html.find(external), std::string::npos) << "the page refers to " << external;
  }

  TempDir profile;
  Outcome dom =
      Browser(browser, profile.path(), {"--dump-dom", "file://" + page.string()}, ws.io_dir());
  ASSERT_EQ(dom.exit_code, 0) << dom.Describe();
  const std::string& d = dom.out;
  std::ofstream(artifacts / "report.dom.html") << d;
  for (const char* id : {"tiers", "pareto", "scores", "health", "kams", "capped", "movers"}) {
    EXPECT_NE(d.find(std::string("<section id=\"") + id + "\""), std::string::npos)
        << "section " << id << " missing from the rendered DOM";
  }
  EXPECT_NE(d.find("<title>KAM portfolio report</title>"), std::string::npos)
      << "the title changed: a script ran";
  EXPECT_EQ(d.find("<img"), std::string::npos) << "a company name became an element";
  EXPECT_NE(d.find("&lt;img src=x onerror=\"document.title='pwned'\"&gt;Evil &amp; Co"),
            std::string::npos)
      << "the company name is not shown as text";
  // Charts: tier bars, the Pareto curve and its share line, score buckets.
  EXPECT_NE(d.find("class=\"tier\" data-tier=\"strategic\""), std::string::npos);
  size_t curve = d.find("<polyline class=\"curve\"");
  ASSERT_NE(curve, std::string::npos);
  size_t points = d.find("points=\"", curve);
  ASSERT_NE(points, std::string::npos);
  EXPECT_TRUE(d[points + 8] >= '0' && d[points + 8] <= '9') << "the Pareto curve has no points";
  EXPECT_NE(d.find("class=\"share-line\""), std::string::npos);
  EXPECT_NE(d.find("class=\"bucket\""), std::string::npos);
  // Grammar: never "1 accounts".
  EXPECT_FALSE(HasCount(d, "1 accounts"));
  EXPECT_FALSE(HasCount(d, "1 key accounts"));
  // Owners by name from the CRM's owners API.
  json owners = sandbox.Api("GET", "/crm/v3/owners?limit=100");
  ASSERT_FALSE(owners["results"].empty());
  for (const auto& o : owners["results"]) {
    std::string name = o["firstName"].get<std::string>() + " " + o["lastName"].get<std::string>();
    EXPECT_NE(d.find(">" + name + "<"), std::string::npos) << "owner " << name << " not named";
  }
  // Key accounts per KAM count only the key tiers: never more than the key tiers' per-KAM caps.
  std::vector<int> key_counts = KeyAccountCounts(d);
  EXPECT_GE(key_counts.size(), 3u);
  for (int n : key_counts) {
    EXPECT_LE(n, 13) << "more key accounts than strategic (3) + key (10) per KAM allow";
  }
  EXPECT_NE(d.find(" changed score"), std::string::npos) << "no movers after the second run";

  Outcome shot =
      Browser(browser, profile.path(),
              {"--window-size=1100,2300", "--screenshot=" + (artifacts / "report.png").string(),
               "file://" + page.string()},
              ws.io_dir());
  ASSERT_EQ(shot.exit_code, 0) << shot.Describe();
  EXPECT_GT(fs::file_size(artifacts / "report.png"), 10'000u);
}

// Without the CRM (here: stopped after the sync) the page is still written, names owners by id
// and says why; no browser needed.
TEST(ReportOffline, NamesOwnersByIdAndSaysWhyWhenTheCrmIsUnreachable) {
  SandboxSpec spec;
  spec.accounts = 100;
  Sandbox sandbox(spec);
  Workspace ws(sandbox);
  ASSERT_EQ(ws.RunKam({"provision"}).exit_code, 0);
  ASSERT_EQ(ws.RunKam({"sync"}).exit_code, 0);
  json owners = sandbox.Api("GET", "/crm/v3/owners?limit=100");
  sandbox.Stop();
  const fs::path page = ws.root() / "offline.html";
  Outcome report = ws.RunKam({"report", "--html", page.string()});
  ASSERT_EQ(report.exit_code, 0) << report.Describe();
  const std::string html = ReadAll(page);
  EXPECT_NE(html.find("Owner names could not be fetched from the CRM"), std::string::npos);
  ASSERT_FALSE(owners["results"].empty());
  const std::string id = owners["results"][0]["id"].get<std::string>();
  EXPECT_NE(html.find("Owner " + id), std::string::npos) << "owner " << id << " not shown by id";
}

}  // namespace
}  // namespace kam::e2e
