// The redactor: secrets by value (and their encoded forms), token shapes never seen, wiping.
#include "kam/http/redact.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace kam::http {
namespace {

TEST(Redactor, ReplacesEveryOccurrenceOfASecretItWasGiven) {
  Redactor r;
  ASSERT_TRUE(r.Add("Zx9-sEcReT-7f3a"));
  std::string text = "token Zx9-sEcReT-7f3a was rejected; again: Zx9-sEcReT-7f3aZx9-sEcReT-7f3a";
  EXPECT_TRUE(r.Redact(text));
  EXPECT_EQ(text, "token [redacted] was rejected; again: [redacted][redacted]");
}

TEST(Redactor, ReplacesTheJsonEscapedAndUrlEncodedFormsToo) {
  Redactor r;
  r.Add("a\"b/c d+e");
  std::string json = R"({"message":"bad a\"b/c d+e"})";
  std::string form = "x=a%22b%2Fc%20d%2Be&y=1";
  r.Redact(json);
  r.Redact(form);
  EXPECT_EQ(json, R"({"message":"bad [redacted]"})");
  EXPECT_EQ(form, "x=[redacted]&y=1");
}

TEST(Redactor, ReplacesALongerSecretWholeBeforeAShorterOneInsideIt) {
  Redactor r;
  r.Add("abcdef");
  r.Add("abcdef-ghijkl");
  EXPECT_EQ(r.Redacted("x abcdef-ghijkl y abcdef"), "x [redacted] y [redacted]");
}

TEST(Redactor, IgnoresSecretsTooShortToRedactByValue) {
  Redactor r;
  EXPECT_FALSE(r.Add("abc"));
  EXPECT_EQ(r.size(), 0u);
  EXPECT_EQ(r.Redacted("abc abc"), "abc abc");
}

TEST(Redactor, IsSafeToUseFromSeveralThreads) {
  Redactor r;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&r, t] {
      for (int i = 0; i < 200; ++i) {
        r.Add("secret-" + std::to_string(t) + "-" + std::to_string(i));
        std::string s = "x secret-" + std::to_string(t) + "-" + std::to_string(i) + " y";
        r.Redact(s);
        EXPECT_EQ(s, "x [redacted] y");
      }
    });
  }
  for (auto& th : threads) th.join();
}

TEST(RedactPatterns, HidesBearerTokensItNeverSaw) {
  std::string s = "Authorization: Bearer abc.DEF-123_~+/= next; bearer\tzz9zz9zz9";
  EXPECT_TRUE(RedactPatterns(s));
  EXPECT_EQ(s, "Authorization: Bearer [redacted] next; bearer\t[redacted]");
  std::string prose = "the bearer of news";
  EXPECT_FALSE(RedactPatterns(prose));
}

TEST(RedactPatterns, HidesBasicCredentialsAfterAnAuthorizationHeader) {
  std::string s = "Proxy-Authorization: Basic dXNlcjpwYXNz\r\n";
  RedactPatterns(s);
  EXPECT_EQ(s, "Proxy-Authorization: Basic [redacted]\r\n");
}

TEST(RedactPatterns, HidesTokenValuesInJsonFormsAndEscapedJson) {
  std::string json = R"({"access_token": "at-1", "refresh_token":"rt-2","client_secret" : "cs-3"})";
  RedactPatterns(json);
  EXPECT_EQ(
      json,
      R"({"access_token": "[redacted]", "refresh_token":"[redacted]","client_secret" : "[redacted]"})");
  std::string form = "grant_type=refresh_token&refresh_token=rt-2&client_secret=cs-3&x=1";
  RedactPatterns(form);
  EXPECT_EQ(form, "grant_type=refresh_token&refresh_token=[redacted]&client_secret=[redacted]&x=1");
  std::string escaped = R"("body":"{\"access_token\":\"at-1\"}")";
  RedactPatterns(escaped);
  EXPECT_EQ(escaped, R"("body":"{\"access_token\":\"[redacted]\"}")");
}

TEST(RedactPatterns, KeepsJsonValidForNullsAndNumbersAndLeavesSecretNamesAlone) {
  std::string json = R"({"refresh_token": null, "expires_in": 1800})";
  RedactPatterns(json);
  EXPECT_EQ(json, R"({"refresh_token": null, "expires_in": 1800})");
  std::string names = "the secret KAM_HUBSPOT_REFRESH_TOKEN is missing; refresh_token_secret=X";
  RedactPatterns(names);
  EXPECT_EQ(names, "the secret KAM_HUBSPOT_REFRESH_TOKEN is missing; refresh_token_secret=X");
}

TEST(RedactPatterns, HidesHubSpotPrivateAppTokens) {
  std::string s = "token pat-na1-0f3c5e2a-1b2c-4d5e-8f90-a1b2c3d4e5f6, and pat-eu1-77aa88bb";
  RedactPatterns(s);
  EXPECT_EQ(s, "token [redacted], and [redacted]");
  std::string word = "a pat-down and compat-mode";
  EXPECT_FALSE(RedactPatterns(word));
}

TEST(RedactPatterns, IsIdempotent) {
  std::string s = "Bearer abc access_token=xyz pat-na1-12345678";
  RedactPatterns(s);
  std::string once = s;
  EXPECT_FALSE(RedactPatterns(s));
  EXPECT_EQ(s, once);
}

// RedactPatterns first looks for the words its patterns start from (in one pass) and leaves a
// text without any of them alone: each word, in any letter case, at the start, inside and at
// the very end of a long text, must still be found.
TEST(RedactPatterns, FindsEveryPatternWordInAnyCaseAnywhereInALongText) {
  struct Case {
    std::string in;
    std::string out;
  };
  const std::vector<Case> cases = {
      {"Bearer abcdef123", "Bearer [redacted]"},
      {"bEaReR abcdef123", "bEaReR [redacted]"},
      {"AUTHORIZATION: BASIC dXNlcjpwYXNz", "AUTHORIZATION: BASIC [redacted]"},
      {"Access_Token=at-1", "Access_Token=[redacted]"},
      {"REFRESH_TOKEN: \"rt-2\"", "REFRESH_TOKEN: \"[redacted]\""},
      {"client_SECRET=cs-3", "client_SECRET=[redacted]"},
      {"HapiKey=hk-4", "HapiKey=[redacted]"},
      {"Id_Token=it-5", "Id_Token=[redacted]"},
      {"PassWord: 'pw-6'", "PassWord: '[redacted]'"},
      {"PAT-NA1-0f3c5e2a-1b2c", "[redacted]"},
  };
  // Filler with the words' first letters and pairs that almost match ("bea", "acc", "pat").
  std::string filler;
  while (filler.size() < 20000) filler += "{\"kam_card\": \"bea acc_ pa-t clie hap id: refre\"} ";
  for (const auto& c : cases) {
    for (const std::string& at :
         {std::string("start"), std::string("middle"), std::string("end")}) {
      std::string text = at == "start"    ? c.in + " " + filler
                         : at == "middle" ? filler + " " + c.in + " " + filler
                                          : filler + " " + c.in;
      const std::string want = at == "start"    ? c.out + " " + filler
                               : at == "middle" ? filler + " " + c.out + " " + filler
                                                : filler + " " + c.out;
      EXPECT_TRUE(RedactPatterns(text)) << c.in << " at the " << at;
      EXPECT_EQ(text, want) << c.in << " at the " << at;
    }
  }
  std::string plain = filler;
  EXPECT_FALSE(RedactPatterns(plain));
  EXPECT_EQ(plain, filler);
  for (std::string tiny : {"", "b", "pa", "pat", "pat-"}) {
    const std::string before = tiny;
    EXPECT_FALSE(RedactPatterns(tiny));
    EXPECT_EQ(tiny, before);
  }
}

TEST(WipeSecret, ZeroesTheWholeBufferAndEmptiesTheString) {
  std::string s(64, 'x');
  s.resize(3);
  const char* data = s.data();
  WipeSecret(s);
  EXPECT_TRUE(s.empty());
  for (int i = 0; i < 64; ++i) EXPECT_EQ(data[i], '\0') << i;
}

}  // namespace
}  // namespace kam::http
