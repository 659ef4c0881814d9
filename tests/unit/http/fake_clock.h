// A manual clock for kam_http tests: Now() is a counter, SleepFor() advances it, so pacing and
// backoff are checked without sleeping. Thread-safe.
#ifndef KAM_TESTS_UNIT_HTTP_FAKE_CLOCK_H_
#define KAM_TESTS_UNIT_HTTP_FAKE_CLOCK_H_

#include <mutex>

#include "kam/http/clock.h"

namespace kam::http::testing {

class FakeClock final : public Clock {
 public:
  TimePoint Now() override {
    std::lock_guard lock(mu_);
    return now_;
  }
  void SleepFor(Duration d) override {
    std::lock_guard lock(mu_);
    if (d > Duration::zero()) {
      now_ += d;
      slept_ += d;
    }
  }
  Duration slept() {
    std::lock_guard lock(mu_);
    return slept_;
  }
  // Wall time moves with Now(): it starts at `wall_start` (default 2026-01-01T00:00:00Z).
  std::chrono::system_clock::time_point WallNow() override {
    std::lock_guard lock(mu_);
    return wall_start_ + std::chrono::duration_cast<std::chrono::system_clock::duration>(
                             now_ - (TimePoint{} + std::chrono::hours(1000)));
  }
  void SetWallStart(std::chrono::system_clock::time_point t) {
    std::lock_guard lock(mu_);
    wall_start_ = t;
  }

 private:
  std::mutex mu_;
  TimePoint now_ = TimePoint{} + std::chrono::hours(1000);
  Duration slept_{};
  std::chrono::system_clock::time_point wall_start_ =
      std::chrono::system_clock::time_point{} + std::chrono::seconds(1767225600);
};

}  // namespace kam::http::testing

#endif  // KAM_TESTS_UNIT_HTTP_FAKE_CLOCK_H_
