#ifndef SESH_REPLICATION_HLC_H_
#define SESH_REPLICATION_HLC_H_

#include <atomic>
#include <cstdint>

#include "absl/status/status.h"
#include "replication/clock.h"

namespace sesh {

// A hybrid logical clock (Kulkarni et al.): stamps are
// (physical ms << 16 | logical counter). They never go backwards, are unique
// per node, and move past every stamp the node observed, so a write made
// after seeing another is stamped later even across clock skew or a clock
// that was set back. docs/architecture.md ("Clocks") gives the invariants.
//
// A stamp whose physical part lies more than max_ahead_ms ahead of the local
// clock is refused: one peer with a clock far in the future (or a forged
// message) cannot drag every later stamp to the end of time.
//
// Thread-safe.
class HybridClock {
 public:
  explicit HybridClock(Clock* clock, int64_t max_ahead_ms = 10000)
      : clock_(clock), max_ahead_ms_(max_ahead_ms) {}

  // A fresh stamp, greater than every stamp returned, observed or seeded
  // before.
  uint64_t Now();
  // Moves the clock past `stamp` (seen in a peer's message or read from
  // storage). OUT_OF_RANGE, with the clock unchanged, if the stamp is more
  // than max_ahead_ms ahead of the local clock.
  absl::Status Observe(uint64_t stamp);
  // Moves the clock to at least `floor` without the bound: for the value
  // this node persisted itself before a restart.
  void Seed(uint64_t floor);
  // The latest stamp returned, observed or seeded (0 if none).
  uint64_t Last() const { return last_.load(); }
  int64_t max_ahead_ms() const { return max_ahead_ms_; }

  static int64_t PhysicalMs(uint64_t stamp) {
    return static_cast<int64_t>(stamp >> 16);
  }
  // The smallest stamp of physical time ms (ms >= 0).
  static uint64_t StampOf(int64_t ms) {
    return static_cast<uint64_t>(ms) << 16;
  }

 private:
  Clock* const clock_;
  const int64_t max_ahead_ms_;
  std::atomic<uint64_t> last_{0};
};

}  // namespace sesh

#endif  // SESH_REPLICATION_HLC_H_
