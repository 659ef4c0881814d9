// Unit tests of the plan's flat-object parser (plugin/src/engine/flat_json.h): whatever it
// answers equals nlohmann's parse, and it answers for what the state file holds.
#include "flat_json.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

namespace kam::engine {
namespace {

using nlohmann::json;

// ParseFlatObject either declines or agrees with nlohmann, value and type.
void ExpectAgrees(const std::string& text) {
  std::optional<json> flat = ParseFlatObject(text);
  if (!flat) return;
  json reference = json::parse(text, nullptr, false);
  ASSERT_FALSE(reference.is_discarded()) << "accepted what nlohmann rejects: " << text;
  EXPECT_EQ(*flat, reference) << text;
  EXPECT_EQ(flat->dump(), reference.dump()) << text;  // the same number types too
}

TEST(FlatJson, ParsesWhatTheStateFileHolds) {
  const std::vector<std::string> texts = {
      R"({})",
      R"( { "a" : "b" , "c":null } )",
      R"({"annualrevenue":"292267","kam_breakdown":"profitability 10 · growth 1","n":null})",
      R"({"kam_card_json":"{\"a\":[1,2],\"b\":\"x\\\\y\/z\\n\"}","tab":"\t\b\f\r\n"})",
      R"({"contacts.active_count":1.0,"deals.open_count":0,"x":-2.5e-3,"y":true,"z":false})",
      R"({"big":18446744073709551615,"neg":-9223372036854775808,"e":1E300})",
      R"({"dup":"first","dup":"second"})",
      "{\"utf8\":\"\xC3\xA9\xE2\x86\x92\xF0\x9F\x98\x80\xED\x9F\xBF\xEF\xBF\xBF\xF4\x8F\xBF\xBF\"}",
  };
  for (const auto& t : texts) {
    SCOPED_TRACE(t);
    std::optional<json> flat = ParseFlatObject(t);
    ASSERT_TRUE(flat.has_value());
    ExpectAgrees(t);
  }
  EXPECT_EQ(ParseFlatObject(R"({"dup":"first","dup":"second"})")->at("dup"), "second");
}

TEST(FlatJson, DeclinesWhatItDoesNotHandleAndTheFallbackDecides) {
  const std::vector<std::string> texts = {
      "",
      "[]",
      "\"s\"",
      "{",
      R"({"a":"b")",
      R"({"a":"b",})",
      R"({"a" "b"})",
      R"({"a":"b"} x)",
      R"({"a":{"b":1}})",
      R"({"a":[1]})",
      R"({"a":"\u00e9"})",
      R"({"a":"\x"})",
      "{\"a\":\"line\nbreak\"}",
      R"({"a":01})",
      R"({"a":1.})",
      R"({"a":-})",
      R"({"a":1E400})",  // out of range: nlohmann refuses it
      R"({"a":nul})",
      R"({"a":truex})",
      "{\"a\":\"\xC0\xAF\"}",          // overlong
      "{\"a\":\"\xED\xA0\x80\"}",      // a surrogate
      "{\"a\":\"\xF4\x90\x80\x80\"}",  // above U+10FFFF
      "{\"a\":\"\xE2\x82\"}",          // cut short
      "\xEF\xBB\xBF{}",                // a BOM: nlohmann's to decide
  };
  for (const auto& t : texts) {
    SCOPED_TRACE(t);
    EXPECT_FALSE(ParseFlatObject(t).has_value());
    json reference = json::parse(t, nullptr, false);
    json fallback = ParseObjectOrEmpty(t);
    EXPECT_EQ(fallback, reference.is_object() ? reference : json::object());
  }
}

TEST(FlatJson, AgreesWithNlohmannOnSeededRandomObjectsAndTheirMutations) {
  std::mt19937 rng(20261204);
  const std::vector<std::string> pieces = {
      "a", "Z", " ", "\"", "\\", "/", "\n", "\t", "·", "\xE2\x86\x92", "\xF0\x9F\x98\x80",
      "0", "{", "}", ":",  ","};
  auto random_string = [&] {
    std::string s;
    const int n = static_cast<int>(rng() % 12);
    for (int i = 0; i < n; ++i) s += pieces[rng() % pieces.size()];
    return s;
  };
  for (int round = 0; round < 3000; ++round) {
    json object = json::object();
    const int members = static_cast<int>(rng() % 8);
    for (int m = 0; m < members; ++m) {
      switch (rng() % 6) {
        case 0:
          object[random_string()] = nullptr;
          break;
        case 1:
          object[random_string()] = static_cast<double>(rng() % 100000) / 7.0;
          break;
        case 2:
          object[random_string()] = static_cast<int64_t>(rng() % 2000) - 1000;
          break;
        case 3:
          object[random_string()] = (rng() % 2) == 0;
          break;
        default:
          object[random_string()] = random_string();
      }
    }
    const std::string text = object.dump();
    std::optional<json> flat = ParseFlatObject(text);
    ASSERT_TRUE(flat.has_value()) << text;  // nlohmann's own output is always handled
    ExpectAgrees(text);
    // A mutated copy: one byte changed, inserted or removed.
    std::string mutated = text;
    const size_t at = mutated.empty() ? 0 : rng() % mutated.size();
    const char byte = static_cast<char>(rng() % 256);
    switch (rng() % 3) {
      case 0:
        if (!mutated.empty()) mutated[at] = byte;
        break;
      case 1:
        mutated.insert(mutated.begin() + static_cast<std::ptrdiff_t>(at), byte);
        break;
      default:
        if (!mutated.empty()) mutated.erase(at, 1);
    }
    ExpectAgrees(mutated);
  }
}

}  // namespace
}  // namespace kam::engine
