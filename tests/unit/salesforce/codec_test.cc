// Salesforce JSON shapes: query pages, error bodies, collection results with per-record
// errors and their classification, request bodies, limits, and the Sforce-Limit-Info header
// feeding the shared daily reserve.
#include "codec.h"

#include <gtest/gtest.h>

#include "kam/http/rate_limiter.h"
#include "provision.h"

namespace kam::salesforce::internal {
namespace {

TEST(SalesforceCodec, ParsesAQueryPageWithNestedParentsAndALocator) {
  auto j = Json::parse(R"({"totalSize":3222,"done":false,
    "nextRecordsUrl":"/services/data/v67.0/query/01gRO0000016PIAYA2-2000",
    "records":[{"attributes":{"type":"Account","url":"/x"},"Id":"001D000000IRFmaIAH",
      "Name":"Acme","AnnualRevenue":1500000.0,"IsDeleted":false,
      "Owner":{"attributes":{"type":"User"},"Name":"Ann"},"Industry":null}]})");
  QueryPage p = ParseQueryPage(j);
  EXPECT_EQ(p.total_size, 3222);
  EXPECT_FALSE(p.done);
  EXPECT_EQ(p.next_records_url, "/services/data/v67.0/query/01gRO0000016PIAYA2-2000");
  ASSERT_EQ(p.records.size(), 1u);
  const Record& r = p.records[0];
  EXPECT_EQ(r.type, "Account");
  EXPECT_EQ(r.id, "001D000000IRFmaIAH");
  EXPECT_EQ(r.Text("Owner.Name"), "Ann");
  EXPECT_EQ(r.Number("AnnualRevenue"), 1500000.0);
  EXPECT_EQ(r.Text("AnnualRevenue"), "1500000");
  EXPECT_TRUE(r.fields.at("Industry").is_null());
  EXPECT_FALSE(r.IsDeleted());
  EXPECT_EQ(r.fields.count("attributes"), 0u);
}

TEST(SalesforceCodec, TheLastPageHasNoLocatorAndAWrongShapeThrows) {
  QueryPage p = ParseQueryPage(Json::parse(R"({"totalSize":0,"done":true,"records":[]})"));
  EXPECT_TRUE(p.done);
  EXPECT_TRUE(p.next_records_url.empty());
  EXPECT_THROW(ParseQueryPage(Json::parse(R"({"done":true})")), std::exception);
}

TEST(SalesforceCodec, ErrorBodiesAreArraysOrOAuthObjects) {
  auto a = ParseErrorBody(
      R"([{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}])");
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].code, "INVALID_SESSION_ID");
  Error e = ErrorFromApiErrors(a, 401, "GET /query");
  EXPECT_EQ(e.error_class, ErrorClass::kAuth);
  EXPECT_EQ(e.crm_message, "Session expired or invalid");

  auto o =
      ParseErrorBody(R"({"error":"invalid_grant","error_description":"authentication failure"})");
  ASSERT_EQ(o.size(), 1u);
  EXPECT_EQ(o[0].code, "invalid_grant");
  EXPECT_EQ(o[0].message, "authentication failure");

  auto raw = ParseErrorBody("<html>bad gateway</html>");
  ASSERT_EQ(raw.size(), 1u);
  EXPECT_EQ(raw[0].message, "<html>bad gateway</html>");
}

TEST(SalesforceCodec, ClassifiesErrorsByCodeThenStatus) {
  EXPECT_EQ(ClassifyErrorCode("REQUEST_LIMIT_EXCEEDED", 403), ErrorClass::kQuota);
  EXPECT_EQ(ClassifyErrorCode("INSUFFICIENT_ACCESS", 403), ErrorClass::kAuth);
  EXPECT_EQ(ClassifyErrorCode("UNABLE_TO_LOCK_ROW", 0), ErrorClass::kRetryable);
  EXPECT_EQ(ClassifyErrorCode("SERVER_UNAVAILABLE", 503), ErrorClass::kUnavailable);
  EXPECT_EQ(ClassifyErrorCode("", 502), ErrorClass::kUnavailable);
  EXPECT_EQ(ClassifyErrorCode("REQUIRED_FIELD_MISSING", 0), ErrorClass::kPermanent);
  EXPECT_EQ(ClassifyErrorCode("MALFORMED_QUERY", 400), ErrorClass::kPermanent);
}

TEST(SalesforceCodec, CollectionResultsCarryPerRecordErrorsInRequestOrder) {
  auto j = Json::parse(R"([
    {"id":"00T5g00000AbCdEEAV","success":true,"errors":[]},
    {"success":false,"errors":[{"statusCode":"REQUIRED_FIELD_MISSING",
      "message":"Required fields are missing: [Subject]","fields":["Subject"]}]},
    {"id":"001x","success":false,"errors":[{"statusCode":"UNABLE_TO_LOCK_ROW","message":"locked","fields":[]}]},
    {"id":"00Tz","success":true,"created":false,"errors":[]}])");
  auto r = ParseCollectionResults(j);
  ASSERT_EQ(r.size(), 4u);
  EXPECT_TRUE(r[0].success);
  EXPECT_EQ(r[0].id, "00T5g00000AbCdEEAV");
  EXPECT_FALSE(r[1].success);
  Error e1 = ErrorFromApiErrors(r[1].errors, 0, "POST /composite/sobjects");
  EXPECT_EQ(e1.error_code, "REQUIRED_FIELD_MISSING");
  EXPECT_EQ(e1.fields, std::vector<std::string>{"Subject"});
  EXPECT_EQ(e1.error_class, ErrorClass::kPermanent);
  EXPECT_FALSE(e1.retryable());
  Error e2 = ErrorFromApiErrors(r[2].errors, 0, "PATCH /composite/sobjects");
  EXPECT_TRUE(e2.retryable());
  EXPECT_EQ(r[3].created, false);
}

TEST(SalesforceCodec, UpdateBodiesCarryTypeIdAndTypedValues) {
  RecordUpdate u{"001A",
                 {{"KAM_Score__c", Value::Number(87.5)},
                  {"KAM_Tier__c", Value::String("key")},
                  {"KAM_Next_Tier_Hint__c", Value::Null()}}};
  Json body = Json::parse(BuildCollectionUpdateBody("Account", {u}));
  EXPECT_EQ(body["allOrNone"], false);
  const Json& rec = body["records"][0];
  EXPECT_EQ(rec["attributes"]["type"], "Account");
  EXPECT_EQ(rec["id"], "001A");
  EXPECT_EQ(rec["KAM_Score__c"], 87.5);
  EXPECT_EQ(rec["KAM_Tier__c"], "key");
  EXPECT_TRUE(rec["KAM_Next_Tier_Hint__c"].is_null());
}

TEST(SalesforceCodec, TokenAndLimitsAnswers) {
  auto t = ParseTokenResponse(Json::parse(R"({"access_token":"00D!x","instance_url":
    "https://acme.my.salesforce.com/","id":"https://login.salesforce.com/id/00D/005",
    "token_type":"Bearer"})"));
  EXPECT_EQ(t.instance_url, "https://acme.my.salesforce.com");
  EXPECT_THROW(ParseTokenResponse(Json::parse(R"({"instance_url":"x"})")), std::exception);
  auto l = ParseLimits(Json::parse(
      R"({"DailyApiRequests":{"Max":15000,"Remaining":14975},"DataStorageMB":{"Max":5,"Remaining":5}})"));
  EXPECT_EQ(l.daily_max, 15000);
  EXPECT_EQ(l.daily_remaining, 14975);
}

TEST(SalesforceLimitHeader, ApiUsageFeedsTheDailyQuotaOfTheSharedLimiter) {
  using kam::http::RateLimitInfo;
  auto info = RateLimitInfo::FromHeaders({{"Sforce-Limit-Info", "api-usage=25/15000"}});
  EXPECT_EQ(info.daily, 15000);
  EXPECT_EQ(info.daily_remaining, 14975);
  auto per_app = RateLimitInfo::FromHeaders(
      {{"sforce-limit-info", "per-app-api-usage=17/250(appName=kam); api-usage=30/100"}});
  EXPECT_EQ(per_app.daily, 100);
  EXPECT_EQ(per_app.daily_remaining, 70);
  EXPECT_TRUE(RateLimitInfo::FromHeaders({{"Sforce-Limit-Info", "api-usage=x/y"}}).empty());
  EXPECT_FALSE(RateLimitInfo::FromHeaders({{"Sforce-Limit-Info", "api-usage=9/10"}}).max);

  // 95 of 100 used: with a 10 % reserve nothing more is sent.
  kam::http::RateLimitOptions o;
  o.initial_max = 0;
  kam::http::RateLimiter limiter(o);
  const auto now = kam::http::TimePoint{} + std::chrono::hours(1);
  ASSERT_EQ(limiter.TryAcquire(kam::http::Lane::kStandard, now).verdict,
            kam::http::RateLimiter::Verdict::kGo);
  limiter.OnResponse(kam::http::Lane::kStandard,
                     RateLimitInfo::FromHeaders({{"Sforce-Limit-Info", "api-usage=95/100"}}), 200,
                     "", -1, now, now);
  EXPECT_EQ(limiter.TryAcquire(kam::http::Lane::kStandard, now).verdict,
            kam::http::RateLimiter::Verdict::kQuotaReserve);
}

TEST(SalesforceProvision, FieldBodiesFollowTheToolingMetadataShape) {
  ProvisionSpec spec{{{"key", "Key account"}, {"standard", "Standard"}}, true, {}};
  auto defs = DesiredFields(spec);
  ASSERT_EQ(defs.size(), 7u);
  Json score = CustomFieldBody(defs[0]);
  EXPECT_EQ(score["FullName"], "Account.KAM_Score__c");
  EXPECT_EQ(score["Metadata"]["type"], "Number");
  EXPECT_EQ(score["Metadata"]["precision"], 5);
  EXPECT_EQ(score["Metadata"]["scale"], 1);
  Json tier = CustomFieldBody(defs[1]);
  EXPECT_EQ(tier["Metadata"]["type"], "Picklist");
  EXPECT_EQ(tier["Metadata"]["valueSet"]["valueSetDefinition"]["value"][1]["fullName"], "standard");
  Json key = CustomFieldBody(defs[6]);
  EXPECT_EQ(key["FullName"], "Activity.KAM_Task_Key__c");
  EXPECT_EQ(key["Metadata"]["externalId"], true);
}

TEST(SalesforceProvision, ComparesTypesAndAddsTierValuesWithoutRemovingAny) {
  ProvisionSpec spec{{{"key", "Key account"}, {"growth", "Growth"}}, true, {}};
  auto defs = DesiredFields(spec);
  std::string detail;
  std::vector<TierValue> missing;
  EXPECT_EQ(CompareField(defs[0], Json::parse(R"({"type":"string"})"), &detail, &missing),
            ProvisionItem::Outcome::kConflict);
  EXPECT_NE(detail.find("exists as string"), std::string::npos);
  EXPECT_EQ(CompareField(defs[0], Json::parse(R"({"type":"double","precision":5,"scale":1})"),
                         &detail, &missing),
            ProvisionItem::Outcome::kUnchanged);
  auto described =
      Json::parse(R"({"type":"picklist","picklistValues":[{"value":"key"},{"value":"legacy"}]})");
  EXPECT_EQ(CompareField(defs[1], described, &detail, &missing), ProvisionItem::Outcome::kUpdated);
  ASSERT_EQ(missing.size(), 1u);
  EXPECT_EQ(missing[0].value, "growth");
  Json merged = WithPicklistValues(
      Json::parse(R"({"type":"Picklist","valueSet":{"valueSetDefinition":{"value":[
        {"fullName":"key"},{"fullName":"legacy","isActive":false}]}}})"),
      missing);
  const Json& values = merged["valueSet"]["valueSetDefinition"]["value"];
  ASSERT_EQ(values.size(), 3u);
  EXPECT_EQ(values[1]["fullName"], "legacy");  // kept, even inactive
  EXPECT_EQ(values[2]["fullName"], "growth");
}

}  // namespace
}  // namespace kam::salesforce::internal

TEST(SalesforceTaskStatuses, OpenIsTheDefaultOpenValueAndCompletedTheOrgsClosingValue) {
  using kam::salesforce::ChooseTaskStatuses;
  using kam::salesforce::TaskStatusValue;
  auto v = [](const char* value, bool closed, bool is_default = false) {
    TaskStatusValue s;
    s.value = s.label = value;
    s.closed = closed;
    s.is_default = is_default;
    return s;
  };
  // Renamed values: the default open one, the first closing one.
  auto own = ChooseTaskStatuses(
      {v("Working", false), v("Open", false, true), v("Done", true), v("Cancelled", true)});
  EXPECT_TRUE(own.from_org);
  EXPECT_EQ(own.open, "Open");
  EXPECT_EQ(own.completed, "Done");
  // "Completed" is preferred when it closes a task, wherever it stands.
  auto std_values = ChooseTaskStatuses({v("Not Started", false, true), v("Deferred", true),
                                        v("Completed", true), v("In Progress", false)});
  EXPECT_EQ(std_values.open, "Not Started");
  EXPECT_EQ(std_values.completed, "Completed");
  // A closed default is not used for new tasks; no open value at all keeps the default name.
  auto closed_default = ChooseTaskStatuses({v("Done", true, true), v("Todo", false)});
  EXPECT_EQ(closed_default.open, "Todo");
  EXPECT_EQ(closed_default.completed, "Done");
  auto none = ChooseTaskStatuses({});
  EXPECT_FALSE(none.from_org);
  EXPECT_EQ(none.open, "Not Started");
  EXPECT_EQ(none.completed, "Completed");
}
