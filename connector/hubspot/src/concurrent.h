// Running independent CRM calls side by side: ForEachConcurrently(n, k, fn) calls fn(0..n-1) with
// at most k of them running at once, on the calling thread plus k-1 helper threads (joined before
// it returns). The HTTP layer bounds the requests in flight (max_connections) and paces them
// through one rate limiter, so this only decides how many calls wait there at once.
#ifndef KAM_HUBSPOT_SRC_CONCURRENT_H_
#define KAM_HUBSPOT_SRC_CONCURRENT_H_

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace kam::hubspot::internal {

// fn must not throw across threads; an exception in a helper is rethrown on the caller.
inline void ForEachConcurrently(std::size_t n, std::size_t concurrency,
                                const std::function<void(std::size_t)>& fn) {
  if (n == 0) return;
  concurrency = std::clamp<std::size_t>(concurrency, 1, n);
  if (concurrency == 1) {
    for (std::size_t i = 0; i < n; ++i) fn(i);
    return;
  }
  std::atomic<std::size_t> next{0};
  std::mutex mu;
  std::exception_ptr failure;
  auto work = [&] {
    while (true) {
      const std::size_t i = next.fetch_add(1);
      if (i >= n) return;
      try {
        fn(i);
      } catch (...) {
        std::lock_guard lock(mu);
        if (!failure) failure = std::current_exception();
      }
    }
  };
  std::vector<std::thread> helpers;
  helpers.reserve(concurrency - 1);
  for (std::size_t t = 1; t < concurrency; ++t) helpers.emplace_back(work);
  work();
  for (auto& h : helpers) h.join();
  if (failure) std::rethrow_exception(failure);
}

}  // namespace kam::hubspot::internal

#endif  // KAM_HUBSPOT_SRC_CONCURRENT_H_
