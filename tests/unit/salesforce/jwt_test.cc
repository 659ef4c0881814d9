// The JWT bearer assertion: RS256 signature verified with the public key of a key pair
// generated in the test, the header and claims Salesforce requires, key errors, and wiping.
#include "jwt.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <memory>
#include <nlohmann/json.hpp>

#include "sf_test_keys.h"

namespace kam::salesforce::internal {
namespace {

bool VerifyRs256(const std::string& jwt, const std::string& public_pem) {
  const std::size_t last_dot = jwt.rfind('.');
  const std::string input = jwt.substr(0, last_dot);
  const std::string sig = Base64UrlDecode(jwt.substr(last_dot + 1));
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(public_pem.data(), static_cast<int>(public_pem.size())), &BIO_free);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr), &EVP_PKEY_free);
  if (!key) return false;
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  if (EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1) {
    return false;
  }
  return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                          reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
}

TEST(SalesforceJwt, TheAssertionVerifiesWithThePublicKeyAndCarriesTheClaims) {
  const testing_keys::KeyPair keys = testing_keys::MakeRsaKeyPair();
  JwtClaims claims{"3MVG9consumerKey", "integration@acme.com", "https://login.salesforce.com",
                   1714557780};
  auto jwt = SignJwtRs256(claims, keys.private_pem);
  ASSERT_TRUE(jwt.ok()) << jwt.error().message;
  EXPECT_EQ(std::count(jwt->begin(), jwt->end(), '.'), 2);
  EXPECT_EQ(jwt->find('='), std::string::npos);  // base64url without padding
  EXPECT_TRUE(VerifyRs256(*jwt, keys.public_pem));

  const auto parts_end = jwt->find('.');
  auto header = nlohmann::json::parse(Base64UrlDecode(jwt->substr(0, parts_end)));
  EXPECT_EQ(header["alg"], "RS256");
  const auto second = jwt->find('.', parts_end + 1);
  auto body =
      nlohmann::json::parse(Base64UrlDecode(jwt->substr(parts_end + 1, second - parts_end - 1)));
  EXPECT_EQ(body["iss"], "3MVG9consumerKey");
  EXPECT_EQ(body["sub"], "integration@acme.com");
  EXPECT_EQ(body["aud"], "https://login.salesforce.com");
  EXPECT_EQ(body["exp"], 1714557780);

  // A tampered claim no longer verifies.
  std::string forged = *jwt;
  forged[parts_end + 3] = forged[parts_end + 3] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(VerifyRs256(forged, keys.public_pem));
  // Another key pair's public key does not verify it.
  EXPECT_FALSE(VerifyRs256(*jwt, testing_keys::MakeRsaKeyPair().public_pem));
}

TEST(SalesforceJwt, AKeyThatIsNotAnRsaPemIsAnAuthErrorWithoutTheKeyText) {
  auto bad = SignJwtRs256({"a", "b", "c", 1}, "-----BEGIN PRIVATE KEY-----\nsecretjunk\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().error_class, ErrorClass::kAuth);
  EXPECT_EQ(bad.error().message.find("secretjunk"), std::string::npos);
  EXPECT_FALSE(SignJwtRs256({"a", "b", "c", 1}, "").ok());
}

TEST(SalesforceJwt, Base64UrlRoundTripsEveryLength) {
  std::string data;
  for (int i = 0; i < 70; ++i) {
    EXPECT_EQ(Base64UrlDecode(Base64UrlEncode(data)), data);
    data += static_cast<char>(i * 37 + 250);
  }
  EXPECT_EQ(Base64UrlEncode("\xfb\xff"), "-_8");
}

TEST(SalesforceSecretText, IsEmptyAfterClearAndAfterBeingMovedFrom) {
  SecretText a(std::string(64, 'k'));
  SecretText b(std::move(a));
  EXPECT_TRUE(a.empty());  // NOLINT: moved-from state is part of the contract
  EXPECT_EQ(b.view(), std::string(64, 'k'));
  b.Clear();
  EXPECT_TRUE(b.empty());
  std::string plain = "token";
  Wipe(&plain);
  EXPECT_TRUE(plain.empty());
}

}  // namespace
}  // namespace kam::salesforce::internal
