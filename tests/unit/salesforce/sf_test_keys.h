// RSA key pairs generated in the test process (OpenSSL 3 EVP), as PEM text, for the JWT tests.
#ifndef KAM_TESTS_UNIT_SALESFORCE_SF_TEST_KEYS_H_
#define KAM_TESTS_UNIT_SALESFORCE_SF_TEST_KEYS_H_

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <memory>
#include <stdexcept>
#include <string>

namespace kam::salesforce::testing_keys {

struct KeyPair {
  std::string private_pem;  // PKCS#8 "BEGIN PRIVATE KEY"
  std::string public_pem;   // "BEGIN PUBLIC KEY"
};

inline std::string BioText(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(n));
}

inline KeyPair MakeRsaKeyPair() {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_RSA_gen(2048), &EVP_PKEY_free);
  if (!key) throw std::runtime_error("EVP_RSA_gen failed");
  std::unique_ptr<BIO, decltype(&BIO_free)> priv(BIO_new(BIO_s_mem()), &BIO_free);
  std::unique_ptr<BIO, decltype(&BIO_free)> pub(BIO_new(BIO_s_mem()), &BIO_free);
  if (PEM_write_bio_PrivateKey(priv.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1 ||
      PEM_write_bio_PUBKEY(pub.get(), key.get()) != 1) {
    throw std::runtime_error("writing PEM failed");
  }
  return {BioText(priv.get()), BioText(pub.get())};
}

}  // namespace kam::salesforce::testing_keys

#endif  // KAM_TESTS_UNIT_SALESFORCE_SF_TEST_KEYS_H_
