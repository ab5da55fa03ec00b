#include "replication/clock.h"

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

class MonotonicClock : public Clock {
 public:
  int64_t NowMs() override {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
  }
};

}  // namespace

Clock* SystemClock() {
  static RealClock* clock = new RealClock;
  return clock;
}

Clock* SteadyClock() {
  static MonotonicClock* clock = new MonotonicClock;
  return clock;
}

}  // namespace sesh
