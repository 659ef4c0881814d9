// Unit tests of kam::jsonlogic: each operator, JavaScript coercions and number formatting, var /
// missing edge cases with CRM-style strings, nulls and empty values, the schema (slot) mode,
// limits against hostile rules, and the no-allocation property of the hot path.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <random>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "kam/jsonlogic/jsonlogic.h"

// Defined in counting_allocator.cc: global operator new calls so far.
long AllocationCount();

namespace {

namespace jl = kam::jsonlogic;
using nlohmann::json;

json J(const char* text) { return json::parse(text); }

// Applies and returns the result, or {"error": type}.
json Eval(const char* rule, const char* data = "{}") {
  auto r = jl::Apply(J(rule), J(data));
  if (!r.ok()) return json{{"error", r.error().type}};
  return *r;
}

json Err(std::string_view type) { return json{{"error", std::string(type)}}; }

// --- Number formatting and parsing (JavaScript) -----------------------------------------------

TEST(JsonLogicNumbers, FormatsNumbersLikeJavaScript) {
  EXPECT_EQ(jl::FormatNumber(1.5), "1.5");
  EXPECT_EQ(jl::FormatNumber(1e21), "1e+21");
  EXPECT_EQ(jl::FormatNumber(1e20), "100000000000000000000");
  EXPECT_EQ(jl::FormatNumber(-0.0), "0");
  EXPECT_EQ(jl::FormatNumber(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(jl::FormatNumber(1e-7), "1e-7");
  EXPECT_EQ(jl::FormatNumber(0.000001), "0.000001");
  EXPECT_EQ(jl::FormatNumber(-1.25e-10), "-1.25e-10");
  EXPECT_EQ(jl::FormatNumber(123456789), "123456789");
  EXPECT_EQ(jl::FormatNumber(std::nan("")), "NaN");
  EXPECT_EQ(jl::FormatNumber(-std::numeric_limits<double>::infinity()), "-Infinity");
  EXPECT_EQ(jl::FormatNumber(2.5e300), "2.5e+300");
}

TEST(JsonLogicNumbers, ParsesStringsLikeJavaScriptNumber) {
  EXPECT_EQ(jl::ParseNumber(""), 0);
  EXPECT_EQ(jl::ParseNumber("  "), 0);
  EXPECT_EQ(jl::ParseNumber(" 12 "), 12);
  EXPECT_EQ(jl::ParseNumber("-1.5"), -1.5);
  EXPECT_EQ(jl::ParseNumber("+3"), 3);
  EXPECT_EQ(jl::ParseNumber("1e3"), 1000);
  EXPECT_EQ(jl::ParseNumber(".5"), 0.5);
  EXPECT_EQ(jl::ParseNumber("5."), 5);
  EXPECT_EQ(jl::ParseNumber("0x1f"), 31);
  EXPECT_EQ(jl::ParseNumber("Infinity"), std::numeric_limits<double>::infinity());
  EXPECT_TRUE(std::isnan(jl::ParseNumber("12abc")));
  EXPECT_TRUE(std::isnan(jl::ParseNumber("1,5")));
  EXPECT_TRUE(std::isnan(jl::ParseNumber("-")));
  EXPECT_TRUE(std::isnan(jl::ParseNumber("e5")));
  EXPECT_TRUE(std::isnan(jl::ParseNumber("2024-01-01")));
}

TEST(JsonLogicNumbers, CatFormatsNumbersLikeJavaScript) {
  EXPECT_EQ(Eval(R"({"cat":[1.5, "|", 1e21, "|", -0.0, "|", 100]})"), "1.5|1e+21|0|100");
}

// --- Truthiness ----------------------------------------------------------------------------

TEST(JsonLogicTruthiness, EmptyArrayAndEmptyStringAreFalsyButZeroStringIsTruthy) {
  EXPECT_EQ(Eval(R"({"!!":[[]]})"), false);
  EXPECT_EQ(Eval(R"({"!!":[""]})"), false);
  EXPECT_EQ(Eval(R"({"!!":["0"]})"), true);
  EXPECT_EQ(Eval(R"({"!!":[0]})"), false);
  EXPECT_EQ(Eval(R"({"!!":[null]})"), false);
  EXPECT_EQ(Eval(R"({"!!":[[0]]})"), true);
}

TEST(JsonLogicTruthiness, EmptyObjectIsTruthyAsInJavaScript) {
  EXPECT_EQ(Eval(R"({"!!":[{}]})"), true);
  EXPECT_EQ(Eval(R"({"if":[{}, "yes", "no"]})"), "yes");
  EXPECT_EQ(Eval(R"({"!":{"var":"o"}})", R"({"o":{}})"), false);
}

// --- var / val / exists -------------------------------------------------------------------

TEST(JsonLogicVar, ReadsDottedPathsAndArrayIndices) {
  EXPECT_EQ(Eval(R"({"var":"a.b"})", R"({"a":{"b":7}})"), 7);
  EXPECT_EQ(Eval(R"({"var":"a.1"})", R"({"a":[5,6]})"), 6);
  EXPECT_EQ(Eval(R"({"var":1})", R"(["x","y"])"), "y");
  EXPECT_EQ(Eval(R"({"var":""})", R"({"k":1})"), J(R"({"k":1})"));
  EXPECT_EQ(Eval(R"({"var":null})", "3"), 3);
}

TEST(JsonLogicVar, DefaultAppliesOnlyToAbsentKeysAndNullParents) {
  EXPECT_EQ(Eval(R"({"var":["a","d"]})", "{}"), "d");
  EXPECT_EQ(Eval(R"({"var":["a.b","d"]})", R"({"a":null})"), "d");
  EXPECT_EQ(Eval(R"({"var":["a","d"]})", R"({"a":null})"), nullptr);  // stored null stays
  EXPECT_EQ(Eval(R"({"var":["a","d"]})", R"({"a":false})"), false);
  EXPECT_EQ(Eval(R"({"var":["a","d"]})", R"({"a":0})"), 0);
  EXPECT_EQ(Eval(R"({"var":["a","d"]})", R"({"a":""})"), "");
  EXPECT_EQ(Eval(R"({"var":"a.b"})", "{}"), nullptr);
}

TEST(JsonLogicVar, PathAndDefaultMayBeComputed) {
  EXPECT_EQ(Eval(R"({"var":{"cat":["a",".b"]}})", R"({"a":{"b":2}})"), 2);
  EXPECT_EQ(Eval(R"({"var":["x",{"+":[1,2]}]})", "{}"), 3);
}

TEST(JsonLogicVal, ClimbsScopesAndDistinguishesEmptyKey) {
  EXPECT_EQ(Eval(R"({"val":["a","b"]})", R"({"a":{"b":1}})"), 1);
  EXPECT_EQ(Eval(R"({"val":""})", R"({"":5})"), 5);
  EXPECT_EQ(Eval(R"({"map":[[1,2],{"+":[{"val":[]},{"val":[[2],"k"]}]}]})", R"({"k":10})"),
            J("[11,12]"));
  EXPECT_EQ(Eval(R"({"exists":["a","b"]})", R"({"a":{"b":null}})"), true);
  EXPECT_EQ(Eval(R"({"exists":"z"})", R"({"a":1})"), false);
}

// --- missing / missing_some ----------------------------------------------------------------

TEST(JsonLogicMissing, TreatsNullAndEmptyStringAsMissing) {
  EXPECT_EQ(Eval(R"({"missing":["a","b","c","d"]})", R"({"a":"","b":null,"c":0})"),
            J(R"(["a","b","d"])"));
  EXPECT_EQ(Eval(R"({"missing":["x.y"]})", R"({"x":{"y":"v"}})"), J("[]"));
  EXPECT_EQ(Eval(R"({"if":[{"missing":"a"},"no","yes"]})", R"({"a":1})"), "yes");
}

TEST(JsonLogicMissing, MissingSomeReturnsEmptyWhenEnoughArePresent) {
  EXPECT_EQ(Eval(R"({"missing_some":[1,["a","b"]]})", R"({"a":1})"), J("[]"));
  EXPECT_EQ(Eval(R"({"missing_some":[2,["a","b","c"]]})", R"({"a":1})"), J(R"(["b","c"])"));
}

TEST(JsonLogicMissing, ComputedKeyListIsUsed) {
  EXPECT_EQ(Eval(R"({"missing":{"merge":["a",["b"]]}})", R"({"b":1})"), J(R"(["a"])"));
}

// --- logic and comparisons -----------------------------------------------------------------

TEST(JsonLogicLogic, AndOrReturnTheDecidingValueAndShortCircuit) {
  EXPECT_EQ(Eval(R"({"and":[1,"",{"throw":"x"}]})"), "");
  EXPECT_EQ(Eval(R"({"or":[0,"a",{"throw":"x"}]})"), "a");
  EXPECT_EQ(Eval(R"({"and":[]})"), false);
  EXPECT_EQ(Eval(R"({"and":true})"), Err(jl::kInvalidArguments));
}

TEST(JsonLogicLogic, IfChainsPickTheFirstTruthyBranch) {
  EXPECT_EQ(Eval(R"({"if":[false,1,0,2,3]})"), 3);
  EXPECT_EQ(Eval(R"({"if":[false,1]})"), nullptr);
  EXPECT_EQ(Eval(R"({"?:":[true,"a","b"]})"), "a");
  EXPECT_EQ(Eval(R"({"if":[]})"), nullptr);
}

TEST(JsonLogicCompare, CoercesLikeJavaScriptForCrmStrings) {
  EXPECT_EQ(Eval(R"({"<":["12",5]})"), false);    // numeric, not lexicographic
  EXPECT_EQ(Eval(R"({"<":["12","5"]})"), true);    // two strings compare as strings
  EXPECT_EQ(Eval(R"({"==":[1,"1"]})"), true);
  EXPECT_EQ(Eval(R"({"===":[1,"1"]})"), false);
  EXPECT_EQ(Eval(R"({"<":[null,1]})"), true);      // null -> 0
  EXPECT_EQ(Eval(R"({"<":["",1]})"), true);        // "" -> 0
  EXPECT_EQ(Eval(R"({"<=":[1,{"var":"x"},3]})", R"({"x":"2"})"), true);  // between
  EXPECT_EQ(Eval(R"({"<":[1,{"var":"x"},3]})", R"({"x":3})"), false);
}

TEST(JsonLogicCompare, MissingFieldIsNotEqualToAString) {
  EXPECT_EQ(Eval(R"({"==":[{"var":"industry"},"Pharma"]})", "{}"), false);
  EXPECT_EQ(Eval(R"({"!=":[{"var":"industry"},"Pharma"]})", "{}"), true);
  EXPECT_EQ(Eval(R"({"==":[{"var":"industry"},null]})", "{}"), true);
  EXPECT_EQ(Eval(R"({"==":[null,0]})"), false);  // deliberate: JavaScript, not compat-tables
}

TEST(JsonLogicCompare, NonNumericStringAgainstNumberIsANaNError) {
  EXPECT_EQ(Eval(R"({"<":[{"var":"x"},5]})", R"({"x":"n/a"})"), Err(jl::kNaN));
  EXPECT_EQ(Eval(R"({"==":[[1],1]})"), Err(jl::kNaN));
  EXPECT_EQ(Eval(R"({"<":[1]})"), Err(jl::kInvalidArguments));
}

TEST(JsonLogicLogic, NotAndDoubleNotAcceptUnarySugar) {
  EXPECT_EQ(Eval(R"({"!":true})"), false);
  EXPECT_EQ(Eval(R"({"!":[[]]})"), true);
  EXPECT_EQ(Eval(R"({"!!":[["a"]]})"), true);
  EXPECT_EQ(Eval(R"({"!":{"missing":["a"]}})", R"({"a":1})"), true);
}

// --- arithmetic ---------------------------------------------------------------------------

TEST(JsonLogicArithmetic, CoercesStringsNullsAndBooleans) {
  EXPECT_EQ(Eval(R"({"+":["1",2,true,null,""]})"), 4);
  EXPECT_EQ(Eval(R"({"*":["2","3.5"]})"), 7);
  EXPECT_EQ(Eval(R"({"-":[10,"4"]})"), 6);
  EXPECT_EQ(Eval(R"({"-":"3"})"), -3);
  EXPECT_EQ(Eval(R"({"/":[9,"3"]})"), 3);
  EXPECT_EQ(Eval(R"({"%":[-7,3]})"), -1);
  EXPECT_EQ(Eval(R"({"+":"abc"})"), Err(jl::kNaN));
  EXPECT_EQ(Eval(R"({"/":[1,0]})"), Err(jl::kNaN));
  EXPECT_EQ(Eval(R"({"+":[{"var":"x"},1]})", R"({"x":"12"})"), 13);
}

TEST(JsonLogicArithmetic, MaxAndMinCoerceAndRejectEmpty) {
  EXPECT_EQ(Eval(R"({"max":[1,"7",3]})"), 7);
  EXPECT_EQ(Eval(R"({"min":[1,-2,3]})"), -2);
  EXPECT_EQ(Eval(R"({"max":[]})"), Err(jl::kInvalidArguments));
  EXPECT_EQ(Eval(R"({"max":{"var":"xs"}})", R"({"xs":[4,9]})"), 9);
}

// --- strings and arrays ----------------------------------------------------------------------

TEST(JsonLogicStrings, CatSubstrAndInWorkOnUtf8) {
  EXPECT_EQ(Eval(R"({"cat":["a",null,true,[1,2]]})"), "atrue1,2");
  EXPECT_EQ(Eval(R"({"substr":["Grüße",1,3]})"), "rüß");
  EXPECT_EQ(Eval(R"({"substr":["jsonlogic",-5,-2]})"), "log");
  EXPECT_EQ(Eval(R"({"in":["log","jsonlogic"]})"), true);
  EXPECT_EQ(Eval(R"({"in":[{"var":"i"},["DE","AT"]]})", R"({"i":"AT"})"), true);
  EXPECT_EQ(Eval(R"({"in":[{"var":"i"},["DE","AT"]]})", "{}"), false);  // null needle
  EXPECT_EQ(Eval(R"({"in":["a",null]})"), false);
}

TEST(JsonLogicArrays, IteratorsMergeAndReduce) {
  EXPECT_EQ(Eval(R"({"map":[{"var":"xs"},{"*":[{"var":""},2]}]})", R"({"xs":[1,2]})"),
            J("[2,4]"));
  EXPECT_EQ(Eval(R"({"filter":[{"var":"xs"},{">":[{"var":""},1]}]})", R"({"xs":[1,2,3]})"),
            J("[2,3]"));
  EXPECT_EQ(Eval(R"({"reduce":[{"var":"xs"},{"+":[{"var":"current"},{"var":"accumulator"}]},0]})",
                R"({"xs":[1,2,3]})"),
            6);
  EXPECT_EQ(Eval(R"({"all":[[1,2],{">":[{"var":""},0]}]})"), true);
  EXPECT_EQ(Eval(R"({"all":[[],{">":[{"var":""},0]}]})"), false);
  EXPECT_EQ(Eval(R"({"some":[[0,3],{">":[{"var":""},2]}]})"), true);
  EXPECT_EQ(Eval(R"({"none":[[0,3],{">":[{"var":""},5]}]})"), true);
  EXPECT_EQ(Eval(R"({"all":[{"var":"missing"},true]})"), Err(jl::kInvalidArguments));
  EXPECT_EQ(Eval(R"({"map":[{"var":"missing"},1]})"), J("[]"));
  EXPECT_EQ(Eval(R"({"merge":[[1],2,[[3]]]})"), J("[1,2,[3]]"));
  EXPECT_EQ(Eval(R"([1,{"var":"x"}])", R"({"x":2})"), J("[1,2]"));
}

TEST(JsonLogicErrors, ThrowAndTryCarryTypedErrors) {
  EXPECT_EQ(Eval(R"({"throw":"Boom"})"), Err("Boom"));
  EXPECT_EQ(Eval(R"({"try":[{"/":[1,0]},"fallback"]})"), "fallback");
  EXPECT_EQ(Eval(R"({"try":[{"throw":"E1"},{"var":"type"}]})"), "E1");
  EXPECT_EQ(Eval(R"({"nope":[1]})"), Err(jl::kUnknownOperator));
  auto r = jl::Apply(J(R"({"throw":{"type":"Custom","code":7}})"), J("{}"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().type, "Custom");
  EXPECT_EQ(J(r.error().thrown.c_str()), J(R"({"type":"Custom","code":7})"));
}

TEST(JsonLogicErrors, MessagesNameThePointerInTheRule) {
  auto r = jl::Apply(J(R"({"and":[true,{"<":[{"var":"x"},1]}]})"), J(R"({"x":"abc"})"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("/and/1/<"), std::string::npos) << r.error().message;
}

TEST(JsonLogicMisc, LogPassesItsArgumentThroughAndPreserveKeepsData) {
  EXPECT_EQ(Eval(R"({"log":"x"})"), "x");
  EXPECT_EQ(Eval(R"({"preserve":{"var":"x"}})"), J(R"({"var":"x"})"));
  EXPECT_EQ(Eval(R"({"??":[null,{"var":"a"},"d"]})", R"({"a":0})"), 0);
}

// --- schema (slot) mode --------------------------------------------------------------------

struct SlotFixture : ::testing::Test {
  jl::Schema schema;
  int revenue = schema.Add("account.revenue");
  int industry = schema.Add("account.industry");
  int nps = schema.Add("account.nps");
  jl::Evaluator ev;

  jl::Rule Compile(const char* rule) {
    jl::CompileOptions o;
    o.schema = &schema;
    auto r = jl::Compile(J(rule), o);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    return r.ok() ? *r : jl::Rule();
  }
};

TEST_F(SlotFixture, KnownPathsReadSlotsAndAreReported) {
  jl::Rule r = Compile(R"({"if":[{"<":[{"var":"account.revenue"},100]},"small",
                            {"in":[{"var":"account.industry"},["Pharma"]]},"pharma","big"]})");
  EXPECT_EQ(std::vector<int>(r.slots_read().begin(), r.slots_read().end()),
            (std::vector<int>{revenue, industry}));
  EXPECT_TRUE(r.unknown_paths().empty());
  std::vector<jl::Value> rec(schema.size());
  rec[revenue] = jl::Value::Number(50);
  EXPECT_EQ(ev.Evaluate(r, rec)->as_string(), "small");
  rec[revenue] = jl::Value::String("5000");  // CRM strings coerce
  rec[industry] = jl::Value::String("Pharma");
  EXPECT_EQ(ev.Evaluate(r, rec)->as_string(), "pharma");
}

TEST_F(SlotFixture, UnknownPathsAreListedAndResolveAgainstJsonData) {
  jl::Rule r = Compile(R"({"+":[{"var":"account.revenue"},{"var":"extra.bonus"}]})");
  ASSERT_EQ(r.unknown_paths().size(), 1u);
  EXPECT_EQ(r.unknown_paths()[0], "extra.bonus");
  std::vector<jl::Value> rec(schema.size());
  rec[revenue] = jl::Value::Number(1);
  json data = J(R"({"extra":{"bonus":2}})");
  EXPECT_EQ(ev.Evaluate(r, rec, &data)->as_number(), 3);
}

TEST_F(SlotFixture, AbsentSlotTakesTheDefaultButNullDoesNot) {
  jl::Rule r = Compile(R"({"var":["account.nps",42]})");
  std::vector<jl::Value> rec(schema.size());
  EXPECT_EQ(ev.Evaluate(r, rec)->as_number(), 42);
  rec[nps] = jl::Value::Null();
  EXPECT_TRUE(ev.Evaluate(r, rec)->is_null());
  rec[nps] = jl::Value::Number(0);
  EXPECT_EQ(ev.Evaluate(r, rec)->as_number(), 0);
}

TEST_F(SlotFixture, MissingOnSlotsTreatsAbsentNullAndEmptyAsMissing) {
  jl::Rule r = Compile(R"({"missing":["account.industry","account.nps","account.revenue"]})");
  std::vector<jl::Value> rec(schema.size());
  rec[industry] = jl::Value::String("");
  rec[nps] = jl::Value::Null();
  rec[revenue] = jl::Value::Number(0);
  auto v = ev.Evaluate(r, rec);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(jl::ToJson(*v), J(R"(["account.industry","account.nps"])"));
  auto t = ev.EvaluateTruthy(Compile(R"({"missing_some":[1,["account.nps","account.revenue"]]})"),
                             rec);
  EXPECT_FALSE(*t);
}

TEST_F(SlotFixture, ComparisonWithMissingSlotCoercesNullLikeJavaScript) {
  jl::Rule lt = Compile(R"({"<":[{"var":"account.nps"},-20]})");
  jl::Rule ge = Compile(R"({">=":[{"var":"account.nps"},0]})");
  std::vector<jl::Value> rec(schema.size());
  EXPECT_FALSE(*ev.EvaluateTruthy(lt, rec));
  EXPECT_TRUE(*ev.EvaluateTruthy(ge, rec));  // null -> 0
  jl::Rule between = Compile(R"({"<=":[0,{"var":"account.nps"},30]})");
  rec[nps] = jl::Value::Number(31);
  EXPECT_FALSE(*ev.EvaluateTruthy(between, rec));
  rec[nps] = jl::Value::String("30");
  EXPECT_TRUE(*ev.EvaluateTruthy(between, rec));
}

TEST_F(SlotFixture, ConstantSubExpressionsFoldAtCompileTime) {
  jl::Rule r = Compile(R"({"*":[{"+":[1,2]},{"max":[3,4]}]})");
  EXPECT_TRUE(r.is_constant());
  EXPECT_EQ(ev.Evaluate(r, {})->as_number(), 12);
  jl::Rule err = Compile(R"({"try":[{"/":[1,0]},"caught"]})");  // folding keeps errors
  EXPECT_EQ(ev.Evaluate(err, {})->as_string(), "caught");
}

TEST_F(SlotFixture, ClampAndMaxPropagateNaNAndCoerceStrings) {
  jl::Rule clamp = Compile(R"({"max":[1,{"min":[10,{"var":"account.revenue"}]}]})");
  std::vector<jl::Value> rec(schema.size());
  rec[revenue] = jl::Value::Number(42);
  EXPECT_EQ(ev.Evaluate(clamp, rec)->as_number(), 10);
  rec[revenue] = jl::Value::Number(-3);
  EXPECT_EQ(ev.Evaluate(clamp, rec)->as_number(), 1);
  rec[revenue] = jl::Value::String("7");
  EXPECT_EQ(ev.Evaluate(clamp, rec)->as_number(), 7);
  rec[revenue] = jl::Value::Number(std::nan(""));
  EXPECT_EQ(ev.Evaluate(clamp, rec).error().type, jl::kNaN);
  jl::Rule max = Compile(R"({"max":[{"var":"account.revenue"},{"var":"account.nps"}]})");
  rec[nps] = jl::Value::Number(3);
  EXPECT_EQ(ev.Evaluate(max, rec).error().type, jl::kNaN);
}

TEST_F(SlotFixture, DynamicPathsAreFlagged) {
  EXPECT_TRUE(Compile(R"({"var":{"cat":["account.","nps"]}})").has_dynamic_paths());
  EXPECT_FALSE(Compile(R"({"var":"account.nps"})").has_dynamic_paths());
  // A computed path that names a slot still reads it.
  std::vector<jl::Value> rec(schema.size());
  rec[nps] = jl::Value::Number(9);
  EXPECT_EQ(ev.Evaluate(Compile(R"({"var":{"cat":["account.","nps"]}})"), rec)->as_number(), 9);
}

TEST_F(SlotFixture, HotPathAllocatesNothingInSteadyState) {
  jl::Rule r = Compile(R"({"if":[{"missing":["account.nps"]},0,
      {"and":[{"<=":[0,{"var":"account.nps"},30]},{"in":[{"var":"account.industry"},["A","B"]]}]},
      {"cat":["x",{"var":"account.revenue"}]},
      {"max":[1,{"+":[{"var":"account.revenue"},2]}]}]})");
  std::vector<jl::Value> rec(schema.size());
  rec[revenue] = jl::Value::Number(5);
  rec[industry] = jl::Value::String("B");
  for (int i = 0; i < 3; ++i) {  // warm-up on every branch: the scratch grows to its needs
    rec[nps] = (i % 3 == 0) ? jl::Value() : jl::Value::Number(i * 20);
    ASSERT_TRUE(ev.Evaluate(r, rec).ok());
  }
  long before = AllocationCount();
  double sink = 0;
  for (int i = 0; i < 1000; ++i) {
    rec[nps] = (i % 3 == 0) ? jl::Value() : jl::Value::Number(i % 40);
    auto v = ev.Evaluate(r, rec);
    sink += v.ok() && v->is_number() ? v->as_number() : 1;
  }
  EXPECT_EQ(AllocationCount() - before, 0) << sink;
}

// The specialised nodes (threshold tables, weighted sums, slot comparisons, missing tests) must
// answer exactly as the generic evaluator on JSON data, including strings, nulls, absent fields
// and errors. Seeded random records over the bench rules plus extra shapes.
TEST(JsonLogicSpecialisation, SlotModeAgreesWithGenericModeOnRandomRecords) {
  std::ifstream in(std::string(KAM_BENCH_DIR) + "/kam_rules.json");
  std::stringstream ss;
  ss << in.rdbuf();
  json rules_file = json::parse(ss.str());
  std::vector<json> rules;
  for (const json& c : rules_file["criteria"]) rules.push_back(c["score"]);
  rules.push_back(rules_file["score"]);
  rules.push_back(rules_file["tier"]);
  for (const json& t : rules_file["tasks"]) rules.push_back(t["when"]);
  rules.push_back(J(R"({"+":[{"var":"a.x"},{"*":[2,{"var":"a.y"}]},{"var":"a.z"}]})"));
  rules.push_back(J(R"({"if":[{"<":[{"var":"a.x"},{"*":[{"var":"a.y"},1.5]}]},"lt",
                             {"in":[{"var":"a.z"},["p","q"]]},"in","else"]})"));
  rules.push_back(J(R"({"or":[{"missing":["a.x","a.z"]},{"missing_some":[2,["a.y","a.z"]]}]})"));
  rules.push_back(J(R"({"if":[{"<=":[{"var":["a.x",5]},3]},1,{"<":[1,{"var":"a.y"},9]},2,3]})"));
  // Conditions of slot tests (truth-table predicates) and if-chains of them (row masks): string
  // (in)equality, strict comparisons, `!`, `!!`, defaults, the between form, ratios, lists with
  // null, missing and missing_some.
  rules.push_back(J(R"({"and":[{"==":[{"var":"a.z"},"p"]},{"!":{"var":"a.x"}}]})"));
  rules.push_back(J(R"({"or":[{"!==":[{"var":"a.z"},"A"]},{"===":[{"var":"a.y"},3]},
                              {"!!":[{"var":["a.x",1]}]}]})"));
  rules.push_back(J(R"({"and":[{"<=":[0,{"var":"a.x"},30]},
                               {"<":[{"var":"a.y"},{"*":[{"var":"a.x"},0.5]}]},
                               {"in":[{"var":"a.z"},["p",null,"0"]]}]})"));
  rules.push_back(J(R"({"if":[{"==":[{"var":"a.x"},1]},"one",{"!=":[{"var":"a.y"},2]},"ne",
                              {"missing":["a.z"]},"m",{"in":[{"var":"a.z"},["A","p"]]},"in",
                              {">=":[{"var":"a.y"},{"*":[{"var":"a.x"},2]}]},"ratio","else"]})"));
  rules.push_back(J(R"({"or":[{">":[{"var":["a.x",3]},2]},{"missing_some":[1,["a.y","a.z"]]},
                              {"!":[{"missing":["a.x"]}]}]})"));
  rules.push_back(J(R"({"!=":[{"var":"a.z"},"A"]})"));
  rules.push_back(J(R"({"and":[{"var":"a.x"},{"<":[{"var":"a.y"},{"*":[{"var":"a.z"},2]}]},
                               {"or":[{"<":[{"var":"a.x"},100]},{"!=":[{"var":"a.y"},7.5]}]}]})"));
  rules.push_back(
      J(R"({"!":{"and":[{"===":[{"var":"a.z"},"12"]},{"!==":[{"var":"a.x"},null]}]}})"));

  jl::Schema schema;
  std::vector<std::string> paths;
  for (const char* f : {"revenue_last_12m", "revenue_prev_12m", "gross_margin_pct", "employees",
                        "industry", "tenure_years", "active_contacts", "has_exec_sponsor",
                        "days_since_last_meeting", "avg_days_to_pay", "support_tickets_open",
                        "nps", "country", "open_deals_value"}) {
    paths.push_back(std::string("account.") + f);
  }
  for (const char* f : {"account_value", "growth", "profitability", "strategic_potential",
                        "relationship", "payment_health"}) {
    paths.push_back(std::string("kam.scores.") + f);
  }
  for (const char* f : {"kam.score", "kam.tier", "a.x", "a.y", "a.z"}) paths.push_back(f);
  for (const std::string& p : paths) schema.Add(p);
  jl::CompileOptions options;
  options.schema = &schema;
  std::vector<jl::Rule> compiled;
  for (const json& r : rules) compiled.push_back(*jl::Compile(r, options));

  std::mt19937 rng(20240611);
  const std::vector<std::string> strings = {"", "0", "12", "abc", "Pharma", "DE", "A", "p", " 7 "};
  std::vector<std::string> storage(paths.size());
  jl::Evaluator ev;
  int compared = 0;
  for (int round = 0; round < 600; ++round) {
    std::vector<jl::Value> rec(schema.size());
    json data = json::object();
    for (std::size_t i = 0; i < paths.size(); ++i) {
      json v;
      int pick = static_cast<int>(rng() % 10);
      if (pick == 0) continue;  // absent
      if (pick == 1) {
        v = nullptr;
        rec[i] = jl::Value::Null();
      } else if (pick == 2) {
        storage[i] = strings[rng() % strings.size()];
        v = storage[i];
        rec[i] = jl::Value::String(storage[i]);
      } else if (pick == 3) {
        v = (rng() % 2) == 0;
        rec[i] = jl::Value::Bool(v.get<bool>());
      } else {
        double d = static_cast<double>(static_cast<int>(rng() % 2000) - 200) / 4;
        v = d;
        rec[i] = jl::Value::Number(d);
      }
      std::string pointer = "/" + paths[i];
      std::replace(pointer.begin(), pointer.end(), '.', '/');
      data[json::json_pointer(pointer)] = v;
    }
    for (std::size_t r = 0; r < rules.size(); ++r) {
      auto generic = jl::Apply(rules[r], data);
      auto fast = ev.Evaluate(compiled[r], rec);
      ASSERT_EQ(generic.ok(), fast.ok()) << rules[r].dump() << " on " << data.dump();
      if (generic.ok()) {
        EXPECT_EQ(*generic, jl::ToJson(*fast)) << rules[r].dump() << " on " << data.dump();
        auto truthy = ev.EvaluateTruthy(compiled[r], rec);
        ASSERT_TRUE(truthy.ok());
        EXPECT_EQ(*truthy, jl::IsTruthy(*ev.Evaluate(compiled[r], rec))) << rules[r].dump();
      } else {
        EXPECT_EQ(generic.error().type, fast.error().type) << rules[r].dump() << " on "
                                                           << data.dump();
        EXPECT_FALSE(ev.EvaluateTruthy(compiled[r], rec).ok())
            << rules[r].dump() << " on " << data.dump();
      }
      ++compared;
    }
  }
  EXPECT_GT(compared, 16000);
}

// --- limits -------------------------------------------------------------------------------

TEST(JsonLogicLimits, HundredThousandDeepRuleIsRefusedQuickly) {
  json deep = 1;
  for (int i = 0; i < 100000; ++i) deep = json{{"!", std::move(deep)}};
  auto start = std::chrono::steady_clock::now();
  auto r = jl::Compile(deep);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::steady_clock::now() - start)
                .count();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().type, jl::kExceededDepth);
  EXPECT_LT(ms, 1000);
}

TEST(JsonLogicLimits, DeepJsonTextIsRefusedBeforeParsing) {
  std::string text(100000, '[');
  text += std::string(100000, ']');
  auto r = jl::ParseJson(text, 512);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().type, jl::kExceededDepth);
  auto ok = jl::ParseJson(R"({"a":["[",{"b":"]]]"}]})", 3);
  EXPECT_TRUE(ok.ok());  // brackets inside strings do not count
  auto bad = jl::ParseJson("{\"a\":", 10);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().type, jl::kInvalidJson);
}

TEST(JsonLogicLimits, NodeIterationStringAndArrayLimitsAreEnforced) {
  jl::Limits limits;
  limits.max_nodes = 50;
  json big = json::array();
  for (int i = 0; i < 60; ++i) big.push_back(i);
  EXPECT_EQ(jl::Apply(json{{"merge", big}}, json::object(), limits).error().type,
            jl::kLimitExceeded);

  jl::Limits it_limits;
  it_limits.max_iterations = 100;
  json data = {{"xs", json::array()}};
  for (int i = 0; i < 101; ++i) data["xs"].push_back(i);
  auto r = jl::Apply(J(R"({"map":[{"var":"xs"},{"var":""}]})"), data, it_limits);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().type, jl::kLimitExceeded);

  jl::Limits s_limits;
  s_limits.max_string_bytes = 64;
  json words = {{"w", std::string(40, 'x')}};
  auto s = jl::Apply(J(R"({"cat":[{"var":"w"},{"var":"w"}]})"), words, s_limits);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().type, jl::kLimitExceeded);

  jl::Limits a_limits;
  a_limits.max_array_size = 100;
  auto a = jl::Apply(J(R"({"merge":[{"var":"xs"},{"var":"xs"}]})"), data, a_limits);
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.error().type, jl::kLimitExceeded);
}

TEST(JsonLogicLimits, TryDoesNotSwallowLimitErrors) {
  jl::Limits limits;
  limits.max_iterations = 10;
  json data = {{"xs", json::array({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11})}};
  auto r = jl::Apply(J(R"({"try":[{"map":[{"var":"xs"},1]},"swallowed"]})"), data, limits);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().type, jl::kLimitExceeded);
}

// --- the bench workload: 1,000 accounts give json-logic-js's results ----------------------------

TEST(JsonLogicBenchWorkload, GenericModeMatchesJsonLogicJsOnTheSample) {
  auto load = [](const char* name) {
    std::ifstream in(std::string(KAM_BENCH_DIR) + "/" + name);
    std::stringstream ss;
    ss << in.rdbuf();
    return json::parse(ss.str());
  };
  json rules = load("kam_rules.json");
  json accounts = load("kam_accounts_sample_1000.json");
  json expected = load("kam_expected_sample_1000.json");
  ASSERT_EQ(accounts.size(), 1000u);
  int mismatches = 0;
  for (std::size_t a = 0; a < accounts.size(); ++a) {
    json ctx = {{"account", accounts[a]},
                {"kam", {{"scores", json::object()}, {"score", nullptr}, {"tier", nullptr}}}};
    for (const json& c : rules["criteria"]) {
      ctx["kam"]["scores"][c["id"].get<std::string>()] = *jl::Apply(c["score"], ctx);
    }
    ctx["kam"]["score"] = *jl::Apply(rules["score"], ctx);
    ctx["kam"]["tier"] = *jl::Apply(rules["tier"], ctx);
    json tasks = json::array();
    for (const json& t : rules["tasks"]) {
      auto w = jl::Apply(t["when"], ctx);
      ASSERT_TRUE(w.ok()) << w.error().message;
      jl::Evaluator ev;
      if (!(w->is_array() && w->empty()) && !(w->is_boolean() && !w->get<bool>()) &&
          !w->is_null() && !(w->is_number() && w->get<double>() == 0) &&
          !(w->is_string() && w->get<std::string>().empty())) {
        tasks.push_back(t["id"]);
      }
    }
    json got = {{"id", accounts[a]["id"]},
                {"scores", ctx["kam"]["scores"]},
                {"score", ctx["kam"]["score"]},
                {"tier", ctx["kam"]["tier"]},
                {"tasks", tasks}};
    if (got != expected[a]) {
      if (++mismatches < 5) ADD_FAILURE() << got.dump() << "\n vs " << expected[a].dump();
    }
  }
  EXPECT_EQ(mismatches, 0);
}

}  // namespace
