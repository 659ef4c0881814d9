// A fast parser for the flat JSON objects the state file holds per account (the snapshot's CRM
// properties: names to strings or null; the aggregates: names to numbers, booleans or null).
// The plan reads them for every account in each of its passes; nlohmann's parser handles every
// character through its lexer, which made these reads a large part of a sync's CPU.
#ifndef KAM_ENGINE_FLAT_JSON_H_
#define KAM_ENGINE_FLAT_JSON_H_

#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string_view>

namespace kam::engine {

// The object in `text` when it is a flat JSON object this parser handles: members whose values
// are strings without \u escapes, numbers, true, false or null, between optional whitespace.
// The result equals nlohmann::json::parse(text). nullopt for anything else (nested values, a
// \u escape, invalid JSON or UTF-8, …): the caller then parses with nlohmann, which decides.
std::optional<nlohmann::json> ParseFlatObject(std::string_view text);

// ParseFlatObject, or else nlohmann's parse; an object in every case ({} for text that is not a
// JSON object), as the plan reads a snapshot row.
nlohmann::json ParseObjectOrEmpty(std::string_view text);

}  // namespace kam::engine

#endif  // KAM_ENGINE_FLAT_JSON_H_
