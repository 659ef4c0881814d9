#include "pull.h"

#include <algorithm>
#include <unordered_map>

#include "time_util.h"

namespace kam::hubspot::internal {
namespace {

int64_t ModifiedOf(const CrmObject& o, const std::string& property) {
  if (auto v = o.Get(property)) {
    if (auto ms = ParseTimeMs(*v)) return *ms;
  }
  return o.ModifiedMs();
}

}  // namespace

bool CursorLess(const Cursor& a, const Cursor& b) {
  if (a.modified_ms != b.modified_ms) return a.modified_ms < b.modified_ms;
  return IdLess(a.id, b.id);
}

Result<PullSummary> RunIncrementalPull(const SearchFn& search, const Cursor& since,
                                       const PullOptions& options,
                                       const std::string& modified_property,
                                       const PageCallback& on_page) {
  const int limit = std::clamp(options.search_page_size, 1, 200);
  PullSummary summary;
  summary.cursor = since;

  enum class Mode { kWindow, kIdSplit };
  Mode mode = Mode::kWindow;
  int64_t t = std::max<int64_t>(0, since.modified_ms - std::max<int64_t>(0, options.overlap_ms));
  bool strict = false;       // GT t instead of GTE t (after an id split finished t)
  int64_t offset = 0;        // `after` inside the current window
  std::string split_after;   // id split: last id read at t

  // id -> timestamp delivered in this run; pruned to entries that can still come back.
  std::unordered_map<std::string, int64_t> seen;
  std::vector<std::string> properties = options.properties;
  for (const char* p : {"hs_object_id"}) {
    if (std::find(properties.begin(), properties.end(), p) == properties.end()) {
      properties.emplace_back(p);
    }
  }
  if (std::find(properties.begin(), properties.end(), modified_property) == properties.end()) {
    properties.push_back(modified_property);
  }

  while (true) {
    SearchRequest req;
    req.properties = properties;
    req.limit = limit;
    if (mode == Mode::kWindow) {
      req.groups = {{Filter{modified_property, strict ? "GT" : "GTE", std::to_string(t), {}}}};
      if (options.until_ms > 0) {
        req.groups[0].push_back(
            Filter{modified_property, "LTE", std::to_string(options.until_ms), {}});
      }
      req.sort_property = modified_property;
      req.after = offset;
      if (offset + limit > kSearchCap) req.limit = static_cast<int>(kSearchCap - offset);
    } else {
      std::vector<Filter> group = {Filter{modified_property, "EQ", std::to_string(t), {}}};
      if (!split_after.empty()) group.push_back(Filter{"hs_object_id", "GT", split_after, {}});
      req.groups = {group};
      req.sort_property = "hs_object_id";
      req.after = 0;
    }
    if (req.after == 0) ++summary.queries;

    Result<SearchPage> page = search(req);
    if (!page.ok()) return page.error();

    CompanyPage out;
    out.total_hint = page->total;
    int64_t last_m = t;
    std::string last_id;
    for (auto& obj : page->results) {
      const int64_t m = ModifiedOf(obj, modified_property);
      last_m = std::max(last_m, m);
      last_id = obj.id;
      auto it = seen.find(obj.id);
      if (it != seen.end() && it->second == m) {
        ++out.duplicates_skipped;
        continue;
      }
      seen[obj.id] = m;
      Cursor c{m, obj.id};
      if (CursorLess(summary.cursor, c)) summary.cursor = c;
      out.companies.push_back(std::move(obj));
    }
    summary.duplicates_skipped += out.duplicates_skipped;
    summary.companies += static_cast<int64_t>(out.companies.size());
    if (!page->results.empty()) {
      ++summary.pages;
      out.page_number = summary.pages;
      out.cursor = summary.cursor;
      if (on_page) {
        Status s = on_page(out);
        if (!s.ok()) return s.error();
      }
    }

    const bool more = page->after.has_value() && !page->results.empty();
    if (mode == Mode::kWindow) {
      if (!more) break;
      if (last_m > t) {
        // Keyset step: the next window starts at the last timestamp seen.
        t = last_m;
        strict = false;
        offset = 0;
        for (auto it = seen.begin(); it != seen.end();) {
          it = it->second < t ? seen.erase(it) : std::next(it);
        }
        continue;
      }
      // The whole page sits at t: page on inside the window, or split by id at the cap.
      offset += static_cast<int64_t>(page->results.size());
      if (offset >= kSearchCap) {
        if (strict) {
          // Cannot happen (GT t never returns t); guard against a misbehaving server.
          Error e;
          e.code = ErrorCode::kInternal;
          e.message = "search returned records at or before the window start";
          return e;
        }
        mode = Mode::kIdSplit;
        split_after.clear();
        ++summary.id_split_windows;
      }
    } else {
      if (!more) {
        // Every record at t has been read: go on after t.
        mode = Mode::kWindow;
        strict = true;
        offset = 0;
        for (auto it = seen.begin(); it != seen.end();) {
          it = it->second <= t ? seen.erase(it) : std::next(it);
        }
        continue;
      }
      split_after = last_id;
    }
  }
  return summary;
}

}  // namespace kam::hubspot::internal
