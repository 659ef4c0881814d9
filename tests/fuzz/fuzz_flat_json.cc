// Fuzz target, differential: the plan's parser for the state file's flat objects
// (plugin/src/engine/flat_json.cc) against nlohmann's parse, which it promises to equal. Whatever
// ParseFlatObject accepts, nlohmann must parse to the same value, with the same number types
// (the dumps are compared too: 1 and 1.0 are equal values but different numbers); and
// ParseObjectOrEmpty, what the plan calls on every snapshot row, never throws and always gives
// an object.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string_view>

#include "flat_json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto flat = kam::engine::ParseFlatObject(text)) {
    nlohmann::json reference = nlohmann::json::parse(text, nullptr, false);
    if (reference.is_discarded() || reference != *flat || reference.dump() != flat->dump()) {
      __builtin_trap();
    }
  }
  try {
    if (!kam::engine::ParseObjectOrEmpty(text).is_object()) __builtin_trap();
  } catch (...) {
    __builtin_trap();
  }
  return 0;
}
