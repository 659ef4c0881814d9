// JWT RS256 with OpenSSL EVP; secrets wiped with OPENSSL_cleanse.
#include "jwt.h"

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <vector>

namespace kam::salesforce::internal {
namespace {

constexpr char kB64Url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string OpenSslReason() {
  unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(code, buf, sizeof buf);
  return buf;
}

Error KeyError(const std::string& what) {
  Error e;
  e.error_class = ErrorClass::kAuth;
  e.message = "cannot sign the JWT assertion: " + what +
              "; give the connected app's private key as an unencrypted PEM (BEGIN PRIVATE KEY "
              "or BEGIN RSA PRIVATE KEY)";
  return e;
}

}  // namespace

SecretText::SecretText(SecretText&& other) noexcept : value_(std::move(other.value_)) {
  other.Clear();
}

SecretText& SecretText::operator=(SecretText&& other) noexcept {
  if (this != &other) {
    Clear();
    value_ = std::move(other.value_);
    other.Clear();
  }
  return *this;
}

void SecretText::Clear() { Wipe(&value_); }

void Wipe(std::string* s) {
  if (!s->empty()) OPENSSL_cleanse(s->data(), s->size());
  s->clear();
}

std::string Base64UrlEncode(std::string_view data) {
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  std::size_t i = 0;
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(data[k]); };
  for (; i + 2 < data.size(); i += 3) {
    const uint32_t v = (byte(i) << 16) | (byte(i + 1) << 8) | byte(i + 2);
    out += kB64Url[(v >> 18) & 63];
    out += kB64Url[(v >> 12) & 63];
    out += kB64Url[(v >> 6) & 63];
    out += kB64Url[v & 63];
  }
  if (i + 1 == data.size()) {
    const uint32_t v = byte(i) << 16;
    out += kB64Url[(v >> 18) & 63];
    out += kB64Url[(v >> 12) & 63];
  } else if (i + 2 == data.size()) {
    const uint32_t v = (byte(i) << 16) | (byte(i + 1) << 8);
    out += kB64Url[(v >> 18) & 63];
    out += kB64Url[(v >> 12) & 63];
    out += kB64Url[(v >> 6) & 63];
  }
  return out;
}

std::string Base64UrlDecode(std::string_view text) {
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char ch : text) {
    const char* p = std::char_traits<char>::find(kB64Url, 64, ch);
    if (p == nullptr) return {};
    acc = (acc << 6) | static_cast<uint32_t>(p - kB64Url);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  return out;
}

Result<std::string> SignJwtRs256(const JwtClaims& claims, std::string_view private_key_pem) {
  if (private_key_pem.empty()) return KeyError("the private key is empty");
  // The BIO reads our buffer in place (no copy to wipe).
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(private_key_pem.data(), static_cast<int>(private_key_pem.size())), &BIO_free);
  if (!bio) return KeyError("out of memory");
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr), &EVP_PKEY_free);
  if (!key) return KeyError("the PEM private key cannot be read (" + OpenSslReason() + ")");
  if (EVP_PKEY_base_id(key.get()) != EVP_PKEY_RSA) {
    return KeyError("the key is not an RSA key (RS256 needs RSA)");
  }

  const nlohmann::json header = {{"alg", "RS256"}, {"typ", "JWT"}};
  const nlohmann::json body = {{"iss", claims.issuer},
                               {"sub", claims.subject},
                               {"aud", claims.audience},
                               {"exp", claims.expires_at_s}};
  const std::string signing_input =
      Base64UrlEncode(header.dump()) + "." + Base64UrlEncode(body.dump());

  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  std::size_t sig_len = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &sig_len,
                     reinterpret_cast<const unsigned char*>(signing_input.data()),
                     signing_input.size()) != 1) {
    return KeyError("signing failed (" + OpenSslReason() + ")");
  }
  std::vector<unsigned char> sig(sig_len);
  if (EVP_DigestSign(ctx.get(), sig.data(), &sig_len,
                     reinterpret_cast<const unsigned char*>(signing_input.data()),
                     signing_input.size()) != 1) {
    return KeyError("signing failed (" + OpenSslReason() + ")");
  }
  return signing_input + "." +
         Base64UrlEncode(std::string_view(reinterpret_cast<const char*>(sig.data()), sig_len));
}

}  // namespace kam::salesforce::internal
