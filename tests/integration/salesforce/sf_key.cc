// An RSA private key for the JWT flow against the sandbox (which does not verify signatures),
// generated once per process with OpenSSL.
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <memory>
#include <string>

namespace kam::salesforce {
namespace {

std::string Generate() {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_RSA_gen(2048), &EVP_PKEY_free);
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
  if (!key || !bio ||
      PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return {};
  }
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(n));
}

}  // namespace

std::string TestKey() {
  static const std::string key = Generate();
  return key;
}

}  // namespace kam::salesforce
