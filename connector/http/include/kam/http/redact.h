// Redaction of secrets in text that leaves the add-in (logs, error messages, results, the state
// file, reports): by value for every secret handed over or received, and by shape for tokens
// never seen (Bearer …, access_token/refresh_token/client_secret values, pat-… tokens).
// Its own target (kam_redact, no dependencies), so the connector, the store and the engine can
// all use it. Also: WipeSecret, which zeroes memory in a way the compiler cannot drop.
#ifndef KAM_HTTP_REDACT_H_
#define KAM_HTTP_REDACT_H_

#include <cstddef>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

namespace kam::http {

// What replaces a secret.
inline constexpr std::string_view kRedactedMark = "[redacted]";

// Zeroes n bytes at p (explicit_bzero: not optimised away).
void WipeSecret(void* p, std::size_t n) noexcept;
// Zeroes the characters of s (its whole capacity) and empties it.
void WipeSecret(std::string& s) noexcept;

// Replaces well-known token shapes in `text`, in place; returns true when something changed:
// "Bearer <token>", "Authorization: Basic <credentials>", access_token / refresh_token /
// client_secret / hapikey / password values after '=' or ':' (form, query, JSON, escaped
// JSON), and HubSpot private-app tokens "pat-<region>-…".
bool RedactPatterns(std::string& text);

// The secrets of one add-in operation. Add() every secret the host handed over and every token
// received; Redact() then replaces each occurrence (and its JSON-escaped and URL-encoded
// forms) by kRedactedMark, then the patterns. Thread-safe. The destructor wipes the
// stored copies.
class Redactor {
 public:
  // Secrets shorter than this are not redacted by value (they would shred ordinary text); the
  // patterns still apply.
  static constexpr std::size_t kMinSecretLength = 6;

  Redactor() = default;
  ~Redactor();
  Redactor(const Redactor&) = delete;
  Redactor& operator=(const Redactor&) = delete;

  // Remembers `secret` (and its encoded forms). Returns false when it is too short to redact by
  // value. Adding the same secret twice keeps one copy.
  bool Add(std::string_view secret);

  // Replaces the known secrets and the patterns in `text`; true when something changed.
  bool Redact(std::string& text) const;
  std::string Redacted(std::string_view text) const;

  std::size_t size() const;  // distinct forms remembered

 private:
  bool AddForm(std::string_view form);  // caller holds mu_ exclusively

  mutable std::shared_mutex mu_;
  // Longest first, so that a secret containing another is replaced whole. unique_ptr: growing
  // the vector never copies secret bytes into memory that is freed without wiping.
  std::vector<std::unique_ptr<std::string>> forms_;
};

}  // namespace kam::http

#endif  // KAM_HTTP_REDACT_H_
