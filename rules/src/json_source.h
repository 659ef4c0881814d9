// A JSON parser for rule files that remembers where every value and key came from (line:col by
// JSON pointer), refuses deep nesting before building anything recursive, and reports duplicate
// keys. nlohmann's DOM parser recurses and forgets positions, so rule files go through this one.
#ifndef KAM_RULES_SRC_JSON_SOURCE_H_
#define KAM_RULES_SRC_JSON_SOURCE_H_

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "kam/rules/rules.h"

namespace kam::rules::internal {

struct SourcePos {
  int line = 0;
  int col = 0;
};

// Escapes one reference token for a JSON pointer (RFC 6901: ~ -> ~0, / -> ~1).
std::string PointerToken(std::string_view key);

class JsonSource {
 public:
  // Parses `text`. Syntax errors, nesting deeper than max_depth and duplicate keys are appended
  // to *errors (with `file`); on a syntax or depth error *out is left null and false returned.
  bool Parse(std::string_view text, const std::string& file, int max_depth, nlohmann::json* out,
             std::vector<Diagnostic>* errors);

  // Position of the value at `pointer`, or of its nearest known ancestor.
  SourcePos ValuePos(const std::string& pointer) const;
  // Position of the key naming the member at `pointer` (falls back to ValuePos).
  SourcePos KeyPos(const std::string& pointer) const;

  // A Diagnostic at the value (or key) at `pointer`.
  Diagnostic At(const std::string& pointer, std::string message, bool at_key = false) const;

  const std::string& file() const { return file_; }

 private:
  SourcePos PosOf(size_t offset) const;

  std::string file_;
  std::vector<size_t> line_starts_;
  std::string text_owned_;
  std::string_view text_;
  std::unordered_map<std::string, size_t> value_offsets_;
  std::unordered_map<std::string, size_t> key_offsets_;
};

}  // namespace kam::rules::internal

#endif  // KAM_RULES_SRC_JSON_SOURCE_H_
