#include "codec.h"

#include <gtest/gtest.h>

namespace kam::hubspot::internal {
namespace {

TEST(ApiPaths, LegacyFamilyUsesV3ObjectsAndV4Associations) {
  ApiPaths p("v3");
  EXPECT_EQ(p.Objects("companies"), "/crm/v3/objects/companies");
  EXPECT_EQ(p.Properties("tasks"), "/crm/v3/properties/tasks");
  EXPECT_EQ(p.AssociationsBatch("companies", "deals", "read"),
            "/crm/v4/associations/companies/deals/batch/read");
  EXPECT_EQ(p.Owners(), "/crm/v3/owners");
  EXPECT_EQ(p.OAuthToken(), "/oauth/v1/token");
}

TEST(ApiPaths, DateVersionMovesEveryFamilyWithOneSetting) {
  ApiPaths p("2026-03");
  EXPECT_EQ(p.Objects("companies"), "/crm/objects/2026-03/companies");
  EXPECT_EQ(p.Properties("tasks"), "/crm/properties/2026-03/tasks");
  EXPECT_EQ(p.AssociationsBatch("tasks", "companies", "create"),
            "/crm/associations/2026-03/tasks/companies/batch/create");
  EXPECT_EQ(p.Owners(), "/crm/owners/2026-03");
  EXPECT_EQ(p.OAuthToken(), "/oauth/2026-03/token");
}

TEST(Codec, SearchBodyHasFiltersOneSortLimitAndStringAfter) {
  SearchRequest r;
  r.groups = {{Filter{"hs_lastmodifieddate", "GTE", "1714557600000", {}},
               Filter{"hs_object_id", "GT", "512", {}}}};
  r.sort_property = "hs_lastmodifieddate";
  r.properties = {"name"};
  r.limit = 200;
  r.after = 400;
  Json j = Json::parse(BuildSearchBody(r));
  ASSERT_EQ(j["filterGroups"].size(), 1u);
  EXPECT_EQ(j["filterGroups"][0]["filters"][0]["operator"], "GTE");
  EXPECT_EQ(j["filterGroups"][0]["filters"][0]["value"], "1714557600000");
  EXPECT_EQ(j["filterGroups"][0]["filters"][1]["propertyName"], "hs_object_id");
  ASSERT_EQ(j["sorts"].size(), 1u);
  EXPECT_EQ(j["sorts"][0]["direction"], "ASCENDING");
  EXPECT_EQ(j["limit"], 200);
  EXPECT_EQ(j["after"], "400");
  EXPECT_EQ(j["properties"][0], "name");
}

TEST(Codec, InFilterSendsValuesNotValue) {
  SearchRequest r;
  r.groups = {{Filter{"kam_task_key", "IN", "", {"a", "b"}}}};
  Json j = Json::parse(BuildSearchBody(r));
  const Json& f = j["filterGroups"][0]["filters"][0];
  EXPECT_FALSE(f.contains("value"));
  EXPECT_EQ(f["values"], Json::array({"a", "b"}));
  EXPECT_FALSE(j.contains("sorts"));
}

TEST(Codec, ChunksNeverExceedTheLimit) {
  std::vector<int> v(250);
  auto chunks = Chunk(v, 100);
  ASSERT_EQ(chunks.size(), 3u);
  EXPECT_EQ(chunks[0].size(), 100u);
  EXPECT_EQ(chunks[2].size(), 50u);
  EXPECT_TRUE(Chunk(std::vector<int>{}, 100).empty());
}

TEST(Codec, ParsesObjectsWithNullAndNumericValues) {
  Json j = Json::parse(R"({"id":"512","properties":{"name":"Acme","annualrevenue":null,
    "hs_lastmodifieddate":"2024-05-01T10:00:00.123Z","n":5},"createdAt":"2024-01-03T09:00:00.000Z",
    "updatedAt":"2024-05-01T10:00:00.123Z","archived":false})");
  CrmObject o = ParseObject(j);
  EXPECT_EQ(o.id, "512");
  EXPECT_EQ(o.Get("name"), "Acme");
  EXPECT_TRUE(o.properties.count("annualrevenue"));
  EXPECT_FALSE(o.Get("annualrevenue").has_value());
  EXPECT_EQ(o.Get("n"), "5");
  EXPECT_EQ(o.ModifiedMs(), 1714557600123);
}

TEST(Codec, ListPageWithoutPagingIsTheLast) {
  auto last = ParseListPage(Json::parse(R"({"results":[{"id":"1","properties":{}}]})"));
  EXPECT_FALSE(last.after);
  auto more = ParseListPage(Json::parse(
      R"({"results":[{"id":"1","properties":{}}],"paging":{"next":{"after":"NTI1Cg%3D%3D","link":"?after=x"}}})"));
  EXPECT_EQ(more.after, "NTI1Cg%3D%3D");
  EXPECT_THROW(ParseListPage(Json::parse(R"({"oops":1})")), std::exception);
}

TEST(Codec, Parses207WithPerRecordErrorsAndIds) {
  Json j = Json::parse(R"({"status":"COMPLETE","results":[{"id":"1","properties":{"kam_score":"87"}}],
    "numErrors":1,"errors":[{"status":"error","category":"OBJECT_NOT_FOUND","message":"Could not get some COMPANY objects",
    "context":{"ids":["999","998"]},"errors":[],"links":{}}],"startedAt":"x","completedAt":"y"})");
  BatchResponse r = ParseBatchResponse(j);
  ASSERT_EQ(r.results.size(), 1u);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].error.code, ErrorCode::kNotFound);
  EXPECT_EQ(r.errors[0].ids, (std::vector<std::string>{"999", "998"}));
}

TEST(Codec, AWriteAnswerKeepsIdsTimesAndErrorsButNotTheWrittenValues) {
  const std::string body = R"({"status":"COMPLETE","results":[
    {"id":"1","properties":{"kam_card_json":"{\"schema\":\"kam.card.v1\",\"lines\":[1,2]}",
      "hs_lastmodifieddate":"2024-05-01T10:00:00.100Z","kam_score":"87","hs_object_id":"1"},
     "propertiesWithHistory":{"kam_score":[{"value":"87"}]},
     "createdAt":"2024-01-03T09:00:00.000Z","updatedAt":"2024-05-01T10:00:00.100Z","archived":false},
    {"id":"2","properties":{"kam_tier":"A","lastmodifieddate":"2024-05-01T10:00:00.200Z"},
     "updatedAt":"2024-05-01T10:00:00.200Z"}],
    "numErrors":1,"errors":[{"status":"error","category":"OBJECT_NOT_FOUND","message":"gone",
    "context":{"ids":["999"]},"errors":[],"links":{}}]})";
  const Json j = Json::parse(body, KeepOnlyWriteOutcomes(), false);
  ASSERT_FALSE(j.is_discarded());
  EXPECT_EQ(j["results"][0]["properties"],
            (Json{{"hs_lastmodifieddate", "2024-05-01T10:00:00.100Z"}, {"hs_object_id", "1"}}));
  EXPECT_EQ(j["results"][0]["propertiesWithHistory"], Json::object());
  EXPECT_EQ(j["results"][0]["createdAt"], "2024-01-03T09:00:00.000Z");
  EXPECT_EQ(j["results"][1]["properties"],
            (Json{{"lastmodifieddate", "2024-05-01T10:00:00.200Z"}}));
  EXPECT_EQ(j["errors"][0]["context"]["ids"], (Json{"999"}));
  EXPECT_EQ(j["status"], "COMPLETE");

  // What a writer reads is what the whole document gives.
  const BatchResponse kept = ParseBatchResponse(j);
  const BatchResponse whole = ParseBatchResponse(Json::parse(body));
  ASSERT_EQ(kept.results.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(kept.results[i].id, whole.results[i].id);
    EXPECT_EQ(kept.results[i].ModifiedMs(), whole.results[i].ModifiedMs());
    EXPECT_GT(kept.results[i].ModifiedMs(), 0);
  }
  ASSERT_EQ(kept.errors.size(), 1u);
  EXPECT_EQ(kept.errors[0].ids, whole.errors[0].ids);
  EXPECT_EQ(kept.errors[0].error.code, whole.errors[0].error.code);

  // The filter keeps the parser's verdict on malformed text.
  EXPECT_TRUE(Json::parse(R"({"results":[{"id":"1","properties":{"a":)", KeepOnlyWriteOutcomes(),
                          false)
                  .is_discarded());
}

TEST(Codec, AssociationReadBodyCarriesAfterPerInput) {
  Json j = Json::parse(BuildAssocReadBody({{"512", ""}, {"513", "MC0y"}}));
  EXPECT_EQ(j["inputs"][0], (Json{{"id", "512"}}));
  EXPECT_EQ(j["inputs"][1]["after"], "MC0y");
}

TEST(Codec, ParsesAssociationReadWithPerResultPaging) {
  Json j = Json::parse(R"({"status":"COMPLETE","results":[
    {"from":{"id":"512"},"to":[{"toObjectId":"101","associationTypes":[{"category":"HUBSPOT_DEFINED","typeId":280}]},
                              {"toObjectId":102,"associationTypes":[]}],
     "paging":{"next":{"after":"MTAtNi0x"}}},
    {"from":{"id":"513"},"to":[]}],
    "errors":[{"status":"error","category":"OBJECT_NOT_FOUND","message":"none","context":{"fromObjectId":["514"]},"errors":[],"links":{}}]})");
  AssocReadResponse r = ParseAssocRead(j);
  ASSERT_EQ(r.results.size(), 2u);
  EXPECT_EQ(r.results[0].to_ids, (std::vector<std::string>{"101", "102"}));
  EXPECT_EQ(r.results[0].after, "MTAtNi0x");
  EXPECT_FALSE(r.results[1].after);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].ids, (std::vector<std::string>{"514"}));
}

TEST(Codec, ErrorFromCrmAnswerKeepsCategoryAndCorrelationId) {
  Error e = ErrorFromCrmAnswer(
      400, R"({"status":"error","message":"Property values were not valid","correlationId":"abc","category":"VALIDATION_ERROR"})",
      "POST /crm/v3/objects/companies/batch/update");
  EXPECT_EQ(e.code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(e.category, "VALIDATION_ERROR");
  EXPECT_EQ(e.correlation_id, "abc");
  EXPECT_FALSE(e.retryable);
  Error r = ErrorFromCrmAnswer(429, R"({"status":"error","message":"You have reached your ten_secondly_rolling limit.",
      "errorType":"RATE_LIMIT","policyName":"TEN_SECONDLY_ROLLING","correlationId":"x"})", "GET /x");
  EXPECT_EQ(r.code, ErrorCode::kRateLimited);
  EXPECT_EQ(r.category, "TEN_SECONDLY_ROLLING");
  EXPECT_TRUE(r.retryable);
}

TEST(Codec, IdsCompareNumerically) {
  EXPECT_TRUE(IdLess("9", "10"));
  EXPECT_FALSE(IdLess("10", "9"));
  EXPECT_FALSE(IdLess("10", "10"));
  EXPECT_TRUE(IdLess("", "1") || IdLess("1", ""));
}

TEST(Codec, UrlEncodeKeepsUnreservedOnly) {
  EXPECT_EQ(UrlEncode("a b,c=d%"), "a%20b%2Cc%3Dd%25");
  EXPECT_EQ(UrlEncode("NTI1Cg=="), "NTI1Cg%3D%3D");
}

}  // namespace
}  // namespace kam::hubspot::internal
