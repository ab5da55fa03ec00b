#include "client/internal/timer_thread.h"

#include <utility>

namespace sesh {
namespace client_internal {

TimerThread::TimerThread() : thread_([this] { Loop(); }) {}

TimerThread::~TimerThread() { Stop(); }

void TimerThread::RunAt(absl::Time when, std::function<void()> fn) {
  absl::MutexLock lock(&mu_);
  if (stopping_) return;
  const bool new_head = queue_.empty() || when < queue_.top().when;
  queue_.push(Entry{when, next_seq_++, std::move(fn)});
  if (new_head) cv_.Signal();
}

void TimerThread::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    cv_.SignalAll();
  }
  if (thread_.joinable()) thread_.join();
  absl::MutexLock lock(&mu_);
  while (!queue_.empty()) queue_.pop();
}

void TimerThread::Loop() {
  while (true) {
    std::function<void()> fn;
    {
      absl::MutexLock lock(&mu_);
      while (true) {
        if (stopping_) return;
        if (queue_.empty()) {
          cv_.Wait(&mu_);
          continue;
        }
        const absl::Time due = queue_.top().when;
        if (due > absl::Now()) {
          cv_.WaitWithDeadline(&mu_, due);
          continue;
        }
        // priority_queue::top() is const; the entry is popped right away.
        fn = std::move(const_cast<Entry&>(queue_.top()).fn);
        queue_.pop();
        break;
      }
    }
    fn();  // unlocked: may call RunAt
  }
}

}  // namespace client_internal
}  // namespace sesh
