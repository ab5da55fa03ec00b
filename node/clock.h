#ifndef SESH_NODE_CLOCK_H_
#define SESH_NODE_CLOCK_H_

#include <atomic>
#include <cstdint>

namespace sesh {

// Wall-clock time in Unix epoch milliseconds, injected so that tests can run
// expiry without sleeping. Implementations are thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t NowMs() = 0;
};

// The real clock (CLOCK_REALTIME).
Clock* SystemClock();

// A clock that moves only when told to. Thread-safe.
class FakeClock : public Clock {
 public:
  explicit FakeClock(int64_t start_ms) : now_ms_(start_ms) {}
  int64_t NowMs() override { return now_ms_.load(); }
  void AdvanceMs(int64_t delta_ms) { now_ms_.fetch_add(delta_ms); }
  void SetMs(int64_t now_ms) { now_ms_.store(now_ms); }

 private:
  std::atomic<int64_t> now_ms_;
};

// A hybrid logical clock (Kulkarni et al.): stamps are
// (physical ms << 16 | logical counter), never go backwards, are unique per
// node, and move past every stamp the node has observed from peers, so a write
// made after seeing another is stamped later even across clock skew.
class HybridClock {
 public:
  explicit HybridClock(Clock* clock) : clock_(clock) {}

  // A fresh stamp, greater than every stamp returned or observed before.
  uint64_t Now();
  // Moves the clock past a stamp seen from a peer.
  void Observe(uint64_t stamp);

  static int64_t PhysicalMs(uint64_t stamp) {
    return static_cast<int64_t>(stamp >> 16);
  }

 private:
  Clock* const clock_;
  std::atomic<uint64_t> last_{0};
};

}  // namespace sesh

#endif  // SESH_NODE_CLOCK_H_
