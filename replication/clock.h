#ifndef SESH_REPLICATION_CLOCK_H_
#define SESH_REPLICATION_CLOCK_H_

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
// Milliseconds of CLOCK_MONOTONIC: for timeouts, heartbeats and leases,
// which must not jump with the wall clock.
Clock* SteadyClock();

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

}  // namespace sesh

#endif  // SESH_REPLICATION_CLOCK_H_
