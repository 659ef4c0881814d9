// The sandbox's request handling: authentication, rate limits, fault injection, counters and
// the HubSpot + admin routes over the SQLite portal. Beast-free so only server.cc pays for Beast.
#ifndef KAM_SANDBOX_SRC_API_H_
#define KAM_SANDBOX_SRC_API_H_

#include <memory>
#include <string>

#include "internal.h"
#include "kam/sandbox/sandbox_server.h"

namespace kam::sandbox {

class Api {
 public:
  // Opens (and seeds when empty) the database. nullptr with *error set on failure.
  static std::unique_ptr<Api> Create(const SandboxOptions& options, std::string* error);
  virtual ~Api() = default;

  // Thread-safe. Never throws: internal failures become 500 error bodies.
  virtual HttpResponse Handle(const HttpRequest& request) = 0;
  virtual SandboxCounters Counters() const = 0;
  virtual std::string CountersJson() const = 0;
  virtual std::string SetFaults(const std::string& spec) = 0;
};

// The Salesforce flavour (sf_api.cc), chosen by Api::Create when options.crm == "salesforce".
std::unique_ptr<Api> CreateSalesforceApi(const SandboxOptions& options, std::string* error);

}  // namespace kam::sandbox

#endif  // KAM_SANDBOX_SRC_API_H_
