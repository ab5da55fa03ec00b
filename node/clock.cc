#include "node/clock.h"

#include <time.h>

namespace sesh {
namespace {

class RealClock : public Clock {
 public:
  int64_t NowMs() override {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
  }
};

}  // namespace

Clock* SystemClock() {
  static RealClock* clock = new RealClock;
  return clock;
}

uint64_t HybridClock::Now() {
  uint64_t physical = static_cast<uint64_t>(clock_->NowMs()) << 16;
  uint64_t prev = last_.load(std::memory_order_relaxed);
  while (true) {
    uint64_t next = physical > prev ? physical : prev + 1;
    if (last_.compare_exchange_weak(prev, next)) return next;
  }
}

void HybridClock::Observe(uint64_t stamp) {
  uint64_t prev = last_.load(std::memory_order_relaxed);
  while (stamp > prev && !last_.compare_exchange_weak(prev, stamp)) {
  }
}

}  // namespace sesh
