// Seeded fault injection shared by the sandbox's HubSpot and Salesforce APIs: the spec parser
// ("429=0.05,500=0.02,drop=0.01,slow=0.01:2000,500=#3,…", rules limited to a route prefix with
// '@') and
// the per-request draw, a hash of (seed, request sequence number), so a sequential client sends
// the same sequence and gets the same faults for the same seed. Not thread-safe: the APIs call it
// under their own mutex.
#ifndef KAM_SANDBOX_SRC_FAULTS_H_
#define KAM_SANDBOX_SRC_FAULTS_H_

#include <cstdint>
#include <string>
#include <vector>

namespace kam::sandbox {

struct FaultRule {
  std::string kind;  // 429 500 502 503 504 drop slow malformed partial expired
  double p = 0;
  int arg = 0;
  std::string prefix;
  // "KIND=#N": exactly the N-th request this rule matches (counted from 1), whatever the
  // sequence or the order in which concurrent requests arrive; p is then 0.
  uint64_t nth = 0;
};

// Parses a spec; returns an error message (empty on success) and leaves *out alone on error.
std::string ParseFaults(const std::string& spec, std::vector<FaultRule>* out);

// The faults drawn for one request.
struct Faults {
  const FaultRule* early = nullptr;  // 429 500 502 503 504 expired: answer without processing
  bool drop = false;
  bool malformed = false;
  bool partial = false;
  int slow_ms = 0;
  uint64_t seq = 0;
};

class FaultInjector {
 public:
  explicit FaultInjector(uint64_t seed) : seed_(seed) {}
  // Replaces the rules; error message (empty on success).
  std::string Set(const std::string& spec);
  const std::string& spec() const { return spec_; }
  void ResetSequence() {
    seq_ = 0;
    matched_.assign(rules_.size(), 0);
  }
  // Draws the faults of the next request. `batch` enables the `partial` kind. *injected is
  // incremented when a fault was drawn.
  Faults Draw(const std::string& path, bool batch, uint64_t* injected);
  // Which inputs of a batch fail under a partial fault: about half, at least one.
  std::vector<bool> PartialMask(const Faults& f, size_t n) const;
  // Seeded extra latency in [min, max] ms for the request of `f` (0 when max is 0).
  int LatencyMs(const Faults& f, int min_ms, int max_ms) const;

 private:
  uint64_t seed_;
  uint64_t seq_ = 0;
  std::vector<FaultRule> rules_;
  std::vector<uint64_t> matched_;  // requests each "#N" rule matched so far
  std::string spec_;
};

}  // namespace kam::sandbox

#endif  // KAM_SANDBOX_SRC_FAULTS_H_
