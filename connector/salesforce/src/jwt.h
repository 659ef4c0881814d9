// The OAuth 2.0 JWT bearer assertion (RFC 7523) Salesforce takes (CRM_API B2): header
// {"alg":"RS256"}, claims iss (consumer key), sub (username), aud (login host), exp (<= 3 min),
// signed RSA-SHA256 with OpenSSL EVP from a PEM private key. Plus SecretText, a string that is
// wiped when it goes away, for keys and tokens held in memory.
#ifndef KAM_SALESFORCE_SRC_JWT_H_
#define KAM_SALESFORCE_SRC_JWT_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "kam/salesforce/status.h"

namespace kam::salesforce::internal {

// A secret held in memory: movable, not copyable, wiped (OPENSSL_cleanse) on destruction,
// reassignment and Clear().
class SecretText {
 public:
  SecretText() = default;
  explicit SecretText(std::string value) : value_(std::move(value)) {}
  SecretText(SecretText&& other) noexcept;
  SecretText& operator=(SecretText&& other) noexcept;
  SecretText(const SecretText&) = delete;
  SecretText& operator=(const SecretText&) = delete;
  ~SecretText() { Clear(); }

  void Clear();
  bool empty() const { return value_.empty(); }
  const std::string& view() const { return value_; }

 private:
  std::string value_;
};

// Wipes a plain string in place (then clears it).
void Wipe(std::string* s);

// Base64url without padding (RFC 7515).
std::string Base64UrlEncode(std::string_view data);
std::string Base64UrlDecode(std::string_view text);  // "" on malformed input

struct JwtClaims {
  std::string issuer;        // iss: the connected app's consumer key
  std::string subject;       // sub: the Salesforce username
  std::string audience;      // aud: https://login.salesforce.com / https://test.salesforce.com
  int64_t expires_at_s = 0;  // exp, epoch seconds
};

// header.claims.signature, RS256 with the PEM private key (PKCS#8 or PKCS#1, unencrypted).
// Error kAuth naming what is wrong with the key (never its content).
Result<std::string> SignJwtRs256(const JwtClaims& claims, std::string_view private_key_pem);

}  // namespace kam::salesforce::internal

#endif  // KAM_SALESFORCE_SRC_JWT_H_
