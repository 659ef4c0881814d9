// version: what this build is, which ABI it speaks, and the library versions inside it.
#include <openssl/crypto.h>
#include <sqlite3.h>

#include <boost/version.hpp>
#include <nlohmann/json.hpp>

#include "kam/addin.h"
#include "operation.h"

namespace kam::engine {
namespace {

std::string BoostVersion() {
  return std::to_string(BOOST_VERSION / 100000) + "." + std::to_string(BOOST_VERSION / 100 % 1000) +
         "." + std::to_string(BOOST_VERSION % 100);
}

nlohmann::json Version(OpContext&, const nlohmann::json&) {
  nlohmann::json capabilities = nlohmann::json::array();
  for (const auto& [name, fn] : Operations()) {
    if (!IsUnimplemented(fn)) capabilities.push_back(name);
  }
  std::string text = std::string("kam-addin ") + KAM_VERSION + " (ABI " +
                     std::to_string(KAM_ABI_MAJOR) + "." + std::to_string(KAM_ABI_MINOR) +
                     ")\noperations: ";
  for (size_t i = 0; i < capabilities.size(); ++i) {
    text += (i ? ", " : "") + capabilities[i].get<std::string>();
  }
  text += std::string("\nOpenSSL ") + OpenSSL_version(OPENSSL_VERSION) + ", SQLite " +
          sqlite3_libversion() + ", Boost " + BoostVersion() + "\n";
  return {
      {"text", text},
      {"name", "kam-addin"},
      {"version", KAM_VERSION},
      {"abi", {{"major", KAM_ABI_MAJOR}, {"minor", KAM_ABI_MINOR}}},
      {"operations", capabilities},
      {"libraries",
       {{"openssl", OpenSSL_version(OPENSSL_VERSION)},
        {"sqlite", sqlite3_libversion()},
        {"boost", BoostVersion()},
        {"nlohmann_json", std::to_string(NLOHMANN_JSON_VERSION_MAJOR) + "." +
                              std::to_string(NLOHMANN_JSON_VERSION_MINOR) + "." +
                              std::to_string(NLOHMANN_JSON_VERSION_PATCH)}}},
  };
}

}  // namespace

void RegisterVersionOps(OpTable& table) { table["version"] = &Version; }

}  // namespace kam::engine
