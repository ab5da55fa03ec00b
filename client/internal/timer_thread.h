// A Scheduler on the real clock with one thread that runs due functions in
// order of their time.

#ifndef SESH_CLIENT_INTERNAL_TIMER_THREAD_H_
#define SESH_CLIENT_INTERNAL_TIMER_THREAD_H_

#include <cstdint>
#include <functional>
#include <queue>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "client/internal/scheduler.h"

namespace sesh {
namespace client_internal {

class TimerThread : public Scheduler {
 public:
  // Starts the thread.
  TimerThread();
  // Stop()s.
  ~TimerThread() override;

  TimerThread(const TimerThread&) = delete;
  TimerThread& operator=(const TimerThread&) = delete;

  absl::Time Now() override { return absl::Now(); }
  // Thread-safe. After Stop(), `fn` is dropped.
  void RunAt(absl::Time when, std::function<void()> fn) override;

  // Drops the functions not yet due and joins the thread (waits for the
  // function that is running). Idempotent; must not be called from a
  // function run by this thread.
  void Stop();

 private:
  struct Entry {
    absl::Time when;
    uint64_t seq;  // FIFO among equal times
    std::function<void()> fn;
  };
  struct Later {
    bool operator()(const Entry& a, const Entry& b) const {
      return a.when != b.when ? a.when > b.when : a.seq > b.seq;
    }
  };

  void Loop();

  absl::Mutex mu_;
  // Signalled on Stop() and when a new entry becomes the head.
  absl::CondVar cv_;
  // Protected by mu_.
  std::priority_queue<Entry, std::vector<Entry>, Later> queue_
      ABSL_GUARDED_BY(mu_);
  uint64_t next_seq_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;

  // Last: started when everything above is initialized.
  std::thread thread_;
};

}  // namespace client_internal
}  // namespace sesh

#endif  // SESH_CLIENT_INTERNAL_TIMER_THREAD_H_
