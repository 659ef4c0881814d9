// Fuzz target: the HubSpot adapter's response codecs (connector/hubspot/src/codec.h) on CRM
// answers: object, list page, search page, batch response (207 errors), associations v4 read,
// owner, account details, and error bodies of non-2xx answers. The parsers may throw
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
  const int status = size > 0 ? 400 + data[0] % 200 : 500;
  Try([&] { (void)hs::ErrorFromCrmAnswer(status, body, "GET /crm/v3/objects/companies"); });
  Try([&] { (void)hs::ErrorFromCrmAnswer(429, body, "POST /crm/v3/objects/companies/search"); });
  return 0;
}
