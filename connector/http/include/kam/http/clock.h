// The time source of the HTTP connector. The rate limiter and the retry loop read Now() and wait
// with SleepFor(), so tests inject a fake clock and check pacing and backoff without sleeping.
// Socket timeouts always use real time.
#ifndef KAM_HTTP_CLOCK_H_
#define KAM_HTTP_CLOCK_H_

#include <chrono>
#include <memory>

namespace kam::http {

using TimePoint = std::chrono::steady_clock::time_point;
using Duration = std::chrono::steady_clock::duration;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint Now() = 0;
  // Waits for `d` (a fake clock just advances). The client never sleeps longer than 50 ms per
  // call, so the cancel hook is polled in between. Must be thread-safe.
  virtual void SleepFor(Duration d) = 0;
  // Wall-clock time, only to turn an HTTP-date Retry-After into a delay.
  virtual std::chrono::system_clock::time_point WallNow() {
    return std::chrono::system_clock::now();
  }
};

// The real steady clock; a process-wide instance.
std::shared_ptr<Clock> SystemClock();

}  // namespace kam::http

#endif  // KAM_HTTP_CLOCK_H_
