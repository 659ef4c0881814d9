// Fuzz target: JSON at the ABI, through the exported function table of the add-in (addin.cc is
// compiled into this program): the input is used as a create() configuration, as the request of
// jsonlogic.apply and version, and as an operation name; then the boundary parser alone runs
// with small limits and its verdict is checked against the parsed value's real nesting depth.
// Every call must return a status with a NUL-terminated message; nothing may crash or leak.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "boundary_json.h"
#include "kam/addin.h"
#include "operation.h"

namespace {

const kam_addin_api* Api() {
  static const kam_addin_api* api = [] {
    const kam_addin_api* table = nullptr;
    if (kam_addin_negotiate(KAM_ABI_MAJOR, KAM_ABI_MINOR, &table) != KAM_OK) __builtin_trap();
    return table;
  }();
  return api;
}

void CheckError(int32_t rc, const kam_error& err) {
  if (rc == KAM_OK) return;
  if (err.status != rc) __builtin_trap();
  if (std::memchr(err.message, '\0', sizeof err.message) == nullptr) __builtin_trap();
  if (std::memchr(err.location, '\0', sizeof err.location) == nullptr) __builtin_trap();
}

// Depth of nested arrays/objects, without recursion.
size_t Depth(const nlohmann::json& root) {
  size_t max = 0;
  std::vector<std::pair<const nlohmann::json*, size_t>> stack{{&root, 0}};
  while (!stack.empty()) {
    auto [j, d] = stack.back();
    stack.pop_back();
    if (!j->is_structured()) continue;
    max = std::max(max, d + 1);
    for (const auto& child : *j) stack.emplace_back(&child, d + 1);
  }
  return max;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const char* text = reinterpret_cast<const char*>(data);
  const kam_addin_api* api = Api();
  kam_error err{};
  err.struct_size = sizeof err;

  kam_instance* configured = nullptr;
  int32_t rc = api->create(nullptr, text, size, &configured, &err);
  CheckError(rc, err);
  if (rc == KAM_OK) api->destroy(configured);

  kam_instance* inst = nullptr;
  if (api->create(nullptr, "{}", 2, &inst, &err) != KAM_OK) __builtin_trap();
  for (const char* op : {"jsonlogic.apply", "version"}) {
    kam_buffer out{};
    out.struct_size = sizeof out;
    rc = api->invoke(inst, op, std::strlen(op), text, size, &out, &err);
    CheckError(rc, err);
    if (rc == KAM_OK && (out.data == nullptr || out.data[out.size] != '\0')) __builtin_trap();
    api->free_buffer(&out);
  }
  {
    kam_buffer out{};
    out.struct_size = sizeof out;
    const size_t op_len = size < 64 ? size : 64;
    rc = api->invoke(inst, text, op_len, "{}", 2, &out, &err);
    CheckError(rc, err);
    api->free_buffer(&out);
  }
  api->destroy(inst);

  constexpr kam::abi::JsonLimits kSmall{4096, 8};
  try {
    nlohmann::json value = kam::abi::ParseBoundaryJson("request", text, size, kSmall);
    if (size > kSmall.max_bytes || Depth(value) > kSmall.max_depth) __builtin_trap();
  } catch (const kam::engine::OpError& e) {
    if (e.code() != kam::engine::StatusCode::kInvalidArgument || e.location().rfind("request", 0) != 0) {
      __builtin_trap();
    }
  }
  return 0;
}
