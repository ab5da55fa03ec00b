#include "replication/hlc.h"

#include "absl/strings/str_format.h"

namespace sesh {

uint64_t HybridClock::Now() {
  const int64_t now_ms = clock_->NowMs();
  const uint64_t physical = now_ms > 0 ? StampOf(now_ms) : 0;
  uint64_t prev = last_.load(std::memory_order_relaxed);
  while (true) {
    // prev + 1 cannot wrap: Observe keeps last_ within max_ahead_ms of a
    // physical time that fits in 48 bits until the year 10889.
    const uint64_t next = physical > prev ? physical : prev + 1;
    if (last_.compare_exchange_weak(prev, next)) return next;
  }
}

absl::Status HybridClock::Observe(uint64_t stamp) {
  const int64_t limit_ms = clock_->NowMs() + max_ahead_ms_;
  if (PhysicalMs(stamp) > limit_ms) {
    return absl::OutOfRangeError(absl::StrFormat(
        "clock stamp %d ms is more than max_clock_ahead_ms (%d) ahead of "
        "this node's clock",
        PhysicalMs(stamp) - (limit_ms - max_ahead_ms_), max_ahead_ms_));
  }
  Seed(stamp);
  return absl::OkStatus();
}

void HybridClock::Seed(uint64_t floor) {
  uint64_t prev = last_.load(std::memory_order_relaxed);
  while (floor > prev && !last_.compare_exchange_weak(prev, floor)) {
  }
}

}  // namespace sesh
