#include "boundary_json.h"

#include <nlohmann/json.hpp>
#include <string>

#include "kam/addin.h"
#include "operation.h"

namespace kam::abi {

bool CheckJsonLimits(std::string_view text, const JsonLimits& limits,
                     LimitViolation* violation) noexcept {
  if (text.size() > limits.max_bytes) {
    violation->offset = limits.max_bytes;
    violation->reason = "larger than the size limit";
    return false;
  }
  std::size_t depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        break;
      case '[':
      case '{':
        if (++depth > limits.max_depth) {
          violation->offset = i;
          violation->reason = "nested deeper than the depth limit";
          return false;
        }
        break;
      case ']':
      case '}':
        if (depth > 0) --depth;
        break;
      default:
        break;
    }
  }
  return true;
}

void LineColumn(std::string_view text, std::size_t offset, std::size_t* line,
                std::size_t* column) noexcept {
  std::size_t l = 1, c = 1;
  for (std::size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++l;
      c = 1;
    } else {
      ++c;
    }
  }
  *line = l;
  *column = c;
}

nlohmann::json ParseBoundaryJson(std::string_view what, const char* text, size_t len,
                                 const JsonLimits& limits) {
  if (text == nullptr || len == 0) return nlohmann::json::object();
  const std::string_view view(text, len);
  auto where = [&](size_t offset) {
    size_t line = 0, col = 0;
    LineColumn(view, offset, &line, &col);
    return std::string(what) + ":" + std::to_string(line) + ":" + std::to_string(col);
  };
  LimitViolation violation;
  if (!CheckJsonLimits(view, limits, &violation)) {
    if (len > limits.max_bytes) {
      throw kam::engine::OpError(kam::engine::StatusCode::kInvalidArgument,
                                 std::string(what) + " is " + std::to_string(len) +
                                     " bytes, larger than the limit of " +
                                     std::to_string(limits.max_bytes) + " bytes",
                                 std::string(what));
    }
    throw kam::engine::OpError(kam::engine::StatusCode::kInvalidArgument,
                               std::string(what) + " is nested deeper than the limit of " +
                                   std::to_string(limits.max_depth) +
                                   " levels of arrays and objects",
                               where(violation.offset));
  }
  try {
    return nlohmann::json::parse(view);
  } catch (const nlohmann::json::parse_error& e) {
    // e.byte is 1-based: the position of the byte where parsing stopped.
    throw kam::engine::OpError(kam::engine::StatusCode::kInvalidArgument,
                               std::string(what) + " is not valid JSON: " + e.what(),
                               where(e.byte > 0 ? e.byte - 1 : 0));
  } catch (const nlohmann::json::exception& e) {
    // A number the parser cannot hold (1e400: out_of_range.406); it gives no position.
    throw kam::engine::OpError(kam::engine::StatusCode::kInvalidArgument,
                               std::string(what) + " cannot be read: " + e.what(),
                               std::string(what));
  }
}

}  // namespace kam::abi
