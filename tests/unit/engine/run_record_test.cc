// The run summary's minimum of calls (`MinimumCalls`): what the run's data requires under each
// CRM's page and batch sizes, so that `calls_per_minimum` compares a run with its own CRM.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "crm.h"
#include "phases.h"
#include "run_context.h"

namespace kam::engine {
namespace {

RunCounters FullPullOf(int64_t accounts) {
  RunCounters c;
  c.full_pull = true;
  c.pulled = accounts;
  c.facts_all_calls = 12;
  c.write_batches = 15;
  c.task_status_keys = 250;
  return c;
}

TEST(MinimumCalls, HubSpotsFullPullCountsPagesOfOneHundredCompanies) {
  nlohmann::json m = MinimumCalls(FullPullOf(3000), CallLimits{});
  EXPECT_FALSE(m.contains("token"));
  EXPECT_EQ(m["portal_check"], 1);
  EXPECT_EQ(m["company_pages"], 30);
  EXPECT_EQ(m["archived_pages"], 0);
  EXPECT_EQ(m["facts"], 12);
  EXPECT_EQ(m["task_status"], 3);
  EXPECT_EQ(m["write_batches"], 15);
  EXPECT_EQ(m["total"], 1 + 30 + 12 + 3 + 15);
}

TEST(MinimumCalls, SalesforcesPagesHoldTwoThousandRecordsAndTheRunNeedsItsToken) {
  CallLimits sf;
  sf.full_pull_page = sf.changed_page = sf.archived_page = sf.task_status_keys = 2000;
  sf.token_calls = 1;
  nlohmann::json m = MinimumCalls(FullPullOf(3000), sf);
  EXPECT_EQ(m["token"], 1);
  EXPECT_EQ(m["company_pages"], 2);
  EXPECT_EQ(m["task_status"], 1);
  EXPECT_EQ(m["total"], 1 + 1 + 2 + 12 + 1 + 15);

  RunCounters quiet;  // an incremental run that found nothing still reads one page of each
  nlohmann::json q = MinimumCalls(quiet, sf);
  EXPECT_EQ(q["company_pages"], 1);
  EXPECT_EQ(q["archived_pages"], 1);
  EXPECT_EQ(q["total"], 1 + 1 + 1 + 1);
}

}  // namespace
}  // namespace kam::engine
