// Merges concurrent Gets to one node into batches (BatchGet RPCs), without
// knowing anything of the transport or of sessions: the owner sends each
// batch, completes its Gets, and reports the batch's end.
//
// Policy, per node: at most `max_in_flight` batches are in flight. A Get that
// finds a free slot leaves at once, together with whatever is queued for its
// (namespace, touch) group, up to `max_batch` Gets. Otherwise it queues; when
// a batch completes, the freed slot takes the group whose oldest Get has
// waited longest (up to max_batch Gets of it).
//
// A timer sends Gets that waited too long even when every slot is busy (the
// in-flight count may then exceed max_in_flight for a while): that is for a
// batch that is stuck, not for one that is merely out. A queued Get normally
// waits at most one round trip, so the bound is the larger of `max_wait` and
// a retransmission timeout computed as TCP's (RFC 6298): the smoothed round
// trip of recent batches plus four times its mean deviation. A fixed bound
// below the round trip would send an extra batch every time it passed: more,
// smaller messages exactly when the node is busiest (at 10^6 sessions on the
// 2-core benchmark machine, round trips of 1-2 ms and a 1 ms bound cost a
// quarter of the Get+touch throughput).
//
// Backpressure: at most `max_queued` Gets wait (all groups together). A Get
// that would wait beyond that is refused with RESOURCE_EXHAUSTED, so a node
// that falls behind costs the client bounded memory, and the callers an
// error they can act on, instead of a queue that grows without bound.

#ifndef SESH_CLIENT_INTERNAL_GET_COALESCER_H_
#define SESH_CLIENT_INTERNAL_GET_COALESCER_H_

#include <algorithm>
#include <deque>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "client/internal/scheduler.h"

namespace sesh {
namespace client_internal {

// `Get` is the owner's record of one waiting Get; the coalescer only sets
// its `absl::Time enqueued` field and moves it around.
template <typename Get>
struct GetBatch {
  std::string ns;
  bool touch = true;
  // In queue order; at least one.
  std::vector<std::unique_ptr<Get>> gets;
};

template <typename Get>
class GetCoalescer {
 public:
  // Sends a batch; must not block, and must lead to exactly one BatchDone()
  // call when the batch is over. Called without the coalescer's lock, on the
  // thread of Enqueue, BatchDone or a timer.
  using SendFn = std::function<void(GetBatch<Get>)>;

  // The default bound on waiting Gets: 64 full batches of 64 ids.
  static constexpr int kDefaultMaxQueued = 4096;

  // `scheduler` must outlive the coalescer, and the coalescer its pending
  // timers (stop the scheduler first). Values below 1 count as 1.
  GetCoalescer(int max_batch, int max_in_flight, absl::Duration max_wait,
               Scheduler* scheduler, SendFn send,
               int max_queued = kDefaultMaxQueued)
      : max_batch_(static_cast<size_t>(std::max(1, max_batch))),
        max_in_flight_(std::max(1, max_in_flight)),
        max_wait_(std::max(max_wait, absl::ZeroDuration())),
        max_queued_(static_cast<size_t>(std::max(1, max_queued))),
        scheduler_(scheduler),
        send_(std::move(send)) {}

  GetCoalescer(const GetCoalescer&) = delete;
  GetCoalescer& operator=(const GetCoalescer&) = delete;

  // Sends `get` at once if a batch slot is free (with up to max_batch - 1
  // Gets queued for its group), else queues it. Thread-safe.
  // Errors: RESOURCE_EXHAUSTED if every slot is busy and max_queued Gets
  // already wait; `get` is then not moved from, and stays the caller's to
  // complete.
  absl::Status Enqueue(std::string ns, bool touch, std::unique_ptr<Get>&& get);
  // Reports the end of a batch given to SendFn. Thread-safe.
  void BatchDone();

  int InFlightForTesting() {
    absl::MutexLock lock(&mu_);
    return InFlight();
  }
  // How long a queued Get may wait before the timer sends it.
  absl::Duration WaitBoundForTesting() {
    absl::MutexLock lock(&mu_);
    return WaitBound();
  }
  int QueuedForTesting() {
    absl::MutexLock lock(&mu_);
    int n = 0;
    for (const auto& entry : queues_)
      n += static_cast<int>(entry.second.size());
    return n;
  }

 private:
  using Key = std::pair<std::string, bool>;  // (namespace, touch)
  using Queues = std::map<Key, std::deque<std::unique_ptr<Get>>>;

  // Takes up to max_batch_ Gets of queue `it`, erasing it once empty, and
  // counts the batch as launched at `now`.
  GetBatch<Get> TakeBatch(typename Queues::iterator it, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  int InFlight() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return static_cast<int>(launched_.size());
  }
  absl::Duration WaitBound() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return std::max(max_wait_, smoothed_rtt_ + 4 * rtt_deviation_);
  }
  // Ends the oldest batch out, folding its round trip into smoothed_rtt_
  // and rtt_deviation_.
  void SampleRoundTrip(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Arms a timer for the oldest queued Get unless one at least as early is
  // armed; the time to arm goes to *to_arm.
  void ArmTimer(std::vector<absl::Time>* to_arm)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void OnTimer(absl::Time armed_for);
  void Launch(std::vector<GetBatch<Get>> batches,
              std::vector<absl::Time> timers);

  // Constant after construction.
  const size_t max_batch_;
  const int max_in_flight_;
  const absl::Duration max_wait_;
  const size_t max_queued_;
  Scheduler* const scheduler_;
  const SendFn send_;

  absl::Mutex mu_;
  // Protected by mu_.
  // FIFO per group; never an empty deque.
  Queues queues_ ABSL_GUARDED_BY(mu_);
  // Gets in queues_, all groups together; at most max_queued_.
  size_t queued_ ABSL_GUARDED_BY(mu_) = 0;
  // Time of the earliest armed timer (InfiniteFuture: none). Later timers
  // may be pending too; they find nothing overdue and re-arm as needed.
  absl::Time timer_at_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  // Launch times of the batches out (one each: their count is the in-flight
  // count), oldest first. A BatchDone() is taken to end the oldest: exact
  // for a stream (answered in order), close enough for unary calls.
  std::deque<absl::Time> launched_ ABSL_GUARDED_BY(mu_);
  // Exponentially weighted mean (gain 1/8) of batch round trips, and of
  // their deviation from it (gain 1/4); zero until the first batch ends.
  absl::Duration smoothed_rtt_ ABSL_GUARDED_BY(mu_) = absl::ZeroDuration();
  absl::Duration rtt_deviation_ ABSL_GUARDED_BY(mu_) = absl::ZeroDuration();
};

// Implementation.

template <typename Get>
absl::Status GetCoalescer<Get>::Enqueue(std::string ns, bool touch,
                                        std::unique_ptr<Get>&& get) {
  std::vector<GetBatch<Get>> batches;
  std::vector<absl::Time> timers;
  {
    absl::MutexLock lock(&mu_);
    // Only a Get that would wait is refused. (While a slot is free nothing
    // waits: each path that frees a slot fills it from the queues.)
    if (InFlight() >= max_in_flight_ && queued_ >= max_queued_) {
      return absl::ResourceExhaustedError(
          absl::StrCat("queue full: ", max_queued_,
                       " Gets already wait for a batch slot, the max_queued "
                       "limit"));
    }
    const absl::Time now = scheduler_->Now();
    get->enqueued = now;
    auto it = queues_.try_emplace(Key(std::move(ns), touch)).first;
    it->second.push_back(std::move(get));
    ++queued_;
    if (InFlight() < max_in_flight_) {
      batches.push_back(TakeBatch(it, now));
    } else {
      ArmTimer(&timers);
    }
  }
  Launch(std::move(batches), std::move(timers));
  return absl::OkStatus();
}

template <typename Get>
void GetCoalescer<Get>::BatchDone() {
  std::vector<GetBatch<Get>> batches;
  {
    absl::MutexLock lock(&mu_);
    const absl::Time now = scheduler_->Now();
    SampleRoundTrip(now);  // ends the oldest batch out
    while (InFlight() < max_in_flight_ && !queues_.empty()) {
      auto oldest = queues_.begin();
      for (auto it = queues_.begin(); it != queues_.end(); ++it) {
        if (it->second.front()->enqueued < oldest->second.front()->enqueued) {
          oldest = it;
        }
      }
      batches.push_back(TakeBatch(oldest, now));
    }
  }
  Launch(std::move(batches), {});
}

template <typename Get>
void GetCoalescer<Get>::OnTimer(absl::Time armed_for) {
  std::vector<GetBatch<Get>> batches;
  std::vector<absl::Time> timers;
  {
    absl::MutexLock lock(&mu_);
    if (armed_for == timer_at_) timer_at_ = absl::InfiniteFuture();
    const absl::Time now = scheduler_->Now();
    const absl::Time overdue_if_queued_by = now - WaitBound();
    for (auto it = queues_.begin(); it != queues_.end();) {
      auto next = std::next(it);
      // All Gets of a queue whose oldest is overdue leave; the younger ones
      // a little early.
      if (it->second.front()->enqueued <= overdue_if_queued_by) {
        bool emptied = false;
        while (!emptied) {
          emptied = it->second.size() <= max_batch_;
          batches.push_back(TakeBatch(it, now));
        }
      }
      it = next;
    }
    ArmTimer(&timers);
  }
  Launch(std::move(batches), std::move(timers));
}

template <typename Get>
GetBatch<Get> GetCoalescer<Get>::TakeBatch(typename Queues::iterator it,
                                           absl::Time now) {
  launched_.push_back(now);
  GetBatch<Get> batch;
  batch.ns = it->first.first;
  batch.touch = it->first.second;
  auto& queue = it->second;
  const size_t n = std::min(queue.size(), max_batch_);
  batch.gets.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    batch.gets.push_back(std::move(queue.front()));
    queue.pop_front();
  }
  queued_ -= n;
  if (queue.empty()) queues_.erase(it);
  return batch;
}

template <typename Get>
void GetCoalescer<Get>::ArmTimer(std::vector<absl::Time>* to_arm) {
  absl::Time oldest = absl::InfiniteFuture();
  for (const auto& entry : queues_) {
    oldest = std::min(oldest, entry.second.front()->enqueued);
  }
  if (oldest == absl::InfiniteFuture()) return;
  const absl::Time when = oldest + WaitBound();
  if (when >= timer_at_) return;
  timer_at_ = when;
  to_arm->push_back(when);
}

template <typename Get>
void GetCoalescer<Get>::SampleRoundTrip(absl::Time now) {
  if (launched_.empty()) return;
  // One stuck batch (a call ended at its deadline) must not stretch the
  // bound for the many that follow: a sample counts for at most four times
  // the mean, or max_wait.
  const absl::Duration sample = std::min(
      now - launched_.front(), std::max(4 * smoothed_rtt_, max_wait_));
  launched_.pop_front();
  if (smoothed_rtt_ == absl::ZeroDuration()) {
    smoothed_rtt_ = sample;
    rtt_deviation_ = sample / 2;
  } else {
    rtt_deviation_ += (absl::AbsDuration(sample - smoothed_rtt_) -
                       rtt_deviation_) / 4;
    smoothed_rtt_ += (sample - smoothed_rtt_) / 8;
  }
}

template <typename Get>
void GetCoalescer<Get>::Launch(std::vector<GetBatch<Get>> batches,
                               std::vector<absl::Time> timers) {
  for (absl::Time when : timers) {
    scheduler_->RunAt(when, [this, when] { OnTimer(when); });
  }
  for (GetBatch<Get>& batch : batches) send_(std::move(batch));
}

}  // namespace client_internal
}  // namespace sesh

#endif  // SESH_CLIENT_INTERNAL_GET_COALESCER_H_
