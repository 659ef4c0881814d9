// Fuzz target: the HubSpot adapter's response codecs (connector/hubspot/src/codec.h) on CRM
// answers: object, list page, search page, batch response (207 errors), associations v4 read,
// owner, account details, and error bodies of non-2xx answers; and a batch write's answer read
// through KeepOnlyWriteOutcomes (the parse that skips the written values), differentially: the
// same verdict on the text as a whole parse, and when the whole document gives a batch response,
// the filtered one gives the same ids, modification times and errors. The parsers may throw
// std::exception on a wrong shape (the client reports it with the endpoint); anything else, a
// crash, or an unbounded loop is a bug.
#include <cstddef>
#include <cstdint>
#include <exception>
#include <nlohmann/json.hpp>
#include <string>

#include "codec.h"

namespace hs = kam::hubspot::internal;

namespace {

template <typename F>
void Try(F&& f) {
  try {
    f();
  } catch (const std::exception&) {
    // A wrong shape: reported by the client with the endpoint.
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string body(reinterpret_cast<const char*>(data), size);
  // The client parses response bodies with nlohmann::json (iterative parser); bound the depth
  // as the HTTP layer's body limit bounds the size.
  const nlohmann::json j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_discarded()) {
    Try([&] { (void)hs::ParseObject(j); });
    Try([&] { (void)hs::ParseListPage(j); });
    Try([&] { (void)hs::ParseSearchPage(j); });
    Try([&] { (void)hs::ParseBatchResponse(j); });
    Try([&] { (void)hs::ParseAssocRead(j); });
    Try([&] { (void)hs::ParseOwner(j); });
    Try([&] { (void)hs::ParseAccountDetails(j); });
  }
  const nlohmann::json kept =
      nlohmann::json::parse(body, hs::KeepOnlyWriteOutcomes(), /*allow_exceptions=*/false);
  if (kept.is_discarded() != j.is_discarded()) __builtin_trap();
  if (!j.is_discarded()) {
    hs::BatchResponse whole;
    bool whole_ok = false;
    Try([&] {
      whole = hs::ParseBatchResponse(j);
      whole_ok = true;
    });
    if (whole_ok) {
      // Whatever the whole document gives, the filtered one gives too (it can only drop values
      // that would have made the whole parse throw).
      const hs::BatchResponse part = hs::ParseBatchResponse(kept);
      if (part.results.size() != whole.results.size()) __builtin_trap();
      for (size_t i = 0; i < whole.results.size(); ++i) {
        if (part.results[i].id != whole.results[i].id) __builtin_trap();
        if (part.results[i].ModifiedMs() != whole.results[i].ModifiedMs()) __builtin_trap();
      }
      if (part.errors.size() != whole.errors.size()) __builtin_trap();
      for (size_t i = 0; i < whole.errors.size(); ++i) {
        if (part.errors[i].ids != whole.errors[i].ids) __builtin_trap();
        if (part.errors[i].error.code != whole.errors[i].error.code) __builtin_trap();
      }
    }
  }
  const int status = size > 0 ? 400 + data[0] % 200 : 500;
  Try([&] { (void)hs::ErrorFromCrmAnswer(status, body, "GET /crm/v3/objects/companies"); });
  Try([&] { (void)hs::ErrorFromCrmAnswer(429, body, "POST /crm/v3/objects/companies/search"); });
  return 0;
}
