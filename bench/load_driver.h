// sesh-load's callers and drivers: the interface a target implements, and
// the event loop (epoll) that runs a set of callers through one phase,
// closed or open loop. See sesh_load.cc.
#ifndef SESH_BENCH_LOAD_DRIVER_H_
#define SESH_BENCH_LOAD_DRIVER_H_

#include <sys/epoll.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <queue>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "bench/load_report.h"
#include "bench/load_workload.h"

namespace sesh {
namespace load {

// --- Callers and drivers ----------------------------------------------------

// How an operation ended.
struct Outcome {
  absl::StatusCode code = absl::StatusCode::kOk;
  // Error label when code is not kOk (e.g. "UNAVAILABLE", "REDIS_ERR").
  std::string error;
  // When the measured part ended (for destroy: before the replacement).
  int64_t done_ns = 0;
  // create / rotate / destroy's replacement: the new key, if any.
  std::string new_key;
  // destroy: the replacement could not be created (the label).
  std::string refill_error;
};

Outcome OutcomeOf(const absl::Status& s);

class Driver;

struct Caller {
  int index = 0;
  Driver* driver = nullptr;
  std::mt19937_64 rng;
  // The operation in flight.
  Op op = kGetTouch;
  size_t slot = 0;
  std::string key;
  uint64_t key_gen = 0;
  int64_t intended_ns = 0;
  // Schedule: the next operation is due at next_ns. Open loop: next_ns =
  // first_ns + k * interval_ns.
  int64_t first_ns = 0;
  int64_t interval_ns = 0;
  int64_t k = 0;
  int64_t next_ns = 0;
  // Target-specific (the Redis connection).
  void* conn = nullptr;
};

class Target {
 public:
  virtual ~Target() = default;
  // Creates n sessions and returns their keys.
  virtual absl::StatusOr<std::vector<std::string>> Preload(int64_t n) = 0;
  // Sets up a caller before the first phase (on the main thread).
  virtual absl::Status Attach(Caller* caller) = 0;
  // Starts caller->op on caller->key. Runs on the caller's driver thread;
  // must not block; ends, on any thread, with caller->driver->Post(),
  // never inside Start itself.
  virtual void Start(Caller* caller) = 0;
  // Checks that a key read from --keys_file belongs to this target.
  virtual bool LooksLikeKey(absl::string_view key) const = 0;
};

// Something watched by a driver's epoll.
class EventHandler {
 public:
  virtual ~EventHandler() = default;
  virtual void OnEvent(uint32_t events) = 0;
};

struct PhaseSpec {
  double rate = 0;  // 0: closed loop
  int concurrency = 1;
  int64_t start_ns = 0;
  int64_t measure_ns = 0;
  int64_t end_ns = 0;
};

// What one driver measured in one phase.
struct DriverStats {
  std::array<Histogram, kNumOps> hist;
  // Written by the driver thread only; read after it joined.
  std::array<std::map<std::string, uint64_t>, kNumOps> errors;
  std::atomic<uint64_t> unexpected_errors{0};
  std::atomic<uint64_t> expected_errors{0};
  uint64_t unstarted_at_end = 0;
  // Completion of the last measured operation.
  int64_t last_done_ns = 0;
  bool drained = true;

  void Reset() {
    for (auto& h : hist) h.Reset();
    for (auto& e : errors) e.clear();
    unexpected_errors = 0;
    expected_errors = 0;
    unstarted_at_end = 0;
    last_done_ns = 0;
    drained = true;
  }
};

// An event loop running a set of callers. RunPhase runs on its own thread;
// Post may be called from any thread.
class Driver {
 public:
  Driver(Target* target, KeyTable* keys, const Mix* mix);

  ~Driver();

  Driver(const Driver&) = delete;
  Driver& operator=(const Driver&) = delete;

  void AddCaller(Caller* c) {
    c->driver = this;
    callers_.push_back(c);
  }

  bool Watch(int fd, EventHandler* h, uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.ptr = h;
    return epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) == 0;
  }
  void Rewatch(int fd, EventHandler* h, uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.ptr = h;
    epoll_ctl(epfd_, EPOLL_CTL_MOD, fd, &ev);
  }
  void Unwatch(int fd) { epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr); }

  // Hands a finished operation back to the driver. Any thread; on the
  // driver's own thread it is queued and processed after the current event.
  void Post(Caller* c, Outcome o) {
    bool wake;
    {
      absl::MutexLock lock(&mail_mu_);
      mail_.emplace_back(c, std::move(o));
      wake = !wake_pending_;
      wake_pending_ = true;
    }
    if (wake) {
      const uint64_t one = 1;
      (void)!write(mail_fd_, &one, sizeof(one));
    }
  }

  DriverStats& stats() { return stats_; }

  // Ends the caller's operation. Driver thread only, from an event handler
  // (never from inside Target::Start: use Post there).
  void CompleteOnDriverThread(Caller* c, Outcome o) { Complete(c, std::move(o)); }

  void RunPhase(const PhaseSpec& spec);

 private:
  struct FnHandler : EventHandler {
    std::function<void(uint32_t)> fn;
    void OnEvent(uint32_t events) override { fn(events); }
  };
  using Timer = std::pair<int64_t, Caller*>;

  void DrainMail();

  void Issue(Caller* c, int64_t now);

  static bool IsRemoval(Op op) { return op == kRotate || op == kDestroy; }

  void Complete(Caller* c, Outcome o);

  // Constant after construction.
  Target* const target_;
  KeyTable* const keys_;
  const Mix* const mix_;
  int epfd_ = -1;
  int mail_fd_ = -1;
  FnHandler mail_handler_;
  std::vector<Caller*> callers_;

  // Driver thread only.
  PhaseSpec spec_;
  int64_t inflight_ = 0;
  std::priority_queue<Timer, std::vector<Timer>, std::greater<Timer>> timers_;
  DriverStats stats_;

  absl::Mutex mail_mu_;
  std::vector<std::pair<Caller*, Outcome>> mail_ ABSL_GUARDED_BY(mail_mu_);
  bool wake_pending_ ABSL_GUARDED_BY(mail_mu_) = false;
};

}  // namespace load
}  // namespace sesh

#endif  // SESH_BENCH_LOAD_DRIVER_H_
