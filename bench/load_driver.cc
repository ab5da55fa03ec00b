#include "bench/load_driver.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

namespace sesh {
namespace load {

Outcome OutcomeOf(const absl::Status& s) {
  Outcome o;
  o.done_ns = NowNs();
  o.code = s.code();
  if (!s.ok()) o.error = absl::StatusCodeToString(s.code());
  return o;
}

Driver::Driver(Target* target, KeyTable* keys, const Mix* mix)
    : target_(target), keys_(keys), mix_(mix) {
  epfd_ = epoll_create1(EPOLL_CLOEXEC);
  mail_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  mail_handler_.fn = [this](uint32_t) {
    // One read resets an eventfd's counter: no second read to find it
    // empty (a syscall per wake-up is a measurable share of the client's
    // CPU at low rates).
    uint64_t v;
    (void)!read(mail_fd_, &v, sizeof(v));
    DrainMail();
  };
  Watch(mail_fd_, &mail_handler_, EPOLLIN);
}

Driver::~Driver() {
  close(mail_fd_);
  close(epfd_);
}

void Driver::RunPhase(const PhaseSpec& spec) {
  prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);  // open-loop schedule precision
  spec_ = spec;
  stats_.Reset();
  inflight_ = 0;
  timers_ = {};
  const size_t n = static_cast<size_t>(spec.concurrency);
  for (Caller* c : callers_) {
    c->k = 0;
    if (spec.rate > 0) {
      c->interval_ns = static_cast<int64_t>(1e9 * static_cast<double>(n) / spec.rate);
      c->first_ns = spec.start_ns +
                    static_cast<int64_t>(1e9 * c->index / spec.rate);
    } else {
      c->interval_ns = 0;
      c->first_ns = spec.start_ns;
    }
    c->next_ns = c->first_ns;
    timers_.push({c->next_ns, c});
  }
  // Open loop: a caller that fell behind keeps working through the
  // operations scheduled inside the window after the window ends (their
  // latency counts from their scheduled start), for at most another
  // window's length; what is left then is reported as unstarted.
  const int64_t issue_until = spec.end_ns + (spec.end_ns - spec.measure_ns);
  constexpr int64_t kDrainNs = 15'000'000'000;  // > any client deadline
  std::array<epoll_event, 256> events;
  for (;;) {
    const int64_t now = NowNs();
    while (!timers_.empty() && timers_.top().first <= now &&
           now < issue_until) {
      Caller* c = timers_.top().second;
      timers_.pop();
      Issue(c, now);
    }
    const bool issuing = !timers_.empty() && now < issue_until;
    if (now >= spec.end_ns && inflight_ == 0 && !issuing) break;
    if (now >= issue_until + kDrainNs) {
      stats_.drained = false;
      break;
    }
    int64_t wake;
    if (now < spec.end_ns) {
      wake = timers_.empty() ? spec.end_ns
                             : std::min(timers_.top().first, spec.end_ns);
    } else if (issuing) {
      wake = std::min(timers_.top().first, issue_until);
    } else {
      wake = issue_until + kDrainNs;
    }
    // epoll_pwait2 takes a nanosecond timeout: no timer fd to arm and
    // read per operation, which matters on a small machine.
    const int64_t wait_ns = std::clamp<int64_t>(wake - now, 0, 1'000'000'000);
    timespec timeout{static_cast<time_t>(wait_ns / 1'000'000'000),
                     static_cast<long>(wait_ns % 1'000'000'000)};
    const int got = epoll_pwait2(epfd_, events.data(),
                                 static_cast<int>(events.size()), &timeout,
                                 nullptr);
    for (int i = 0; i < got; ++i) {
      static_cast<EventHandler*>(events[i].data.ptr)->OnEvent(events[i].events);
    }
  }
  // Open loop: scheduled operations that never started.
  if (spec.rate > 0) {
    while (!timers_.empty()) timers_.pop();
    for (Caller* c : callers_) {
      int64_t from = std::max(c->next_ns, spec.measure_ns);
      // Align `from` to the caller's schedule.
      if (from > c->next_ns && c->interval_ns > 0) {
        from = c->next_ns + ((from - c->next_ns + c->interval_ns - 1) /
                             c->interval_ns) * c->interval_ns;
      }
      if (from < spec.end_ns && c->interval_ns > 0) {
        stats_.unstarted_at_end += static_cast<uint64_t>(
            (spec.end_ns - from + c->interval_ns - 1) / c->interval_ns);
      }
    }
  }
}

void Driver::DrainMail() {
  std::vector<std::pair<Caller*, Outcome>> mail;
  {
    absl::MutexLock lock(&mail_mu_);
    mail.swap(mail_);
    wake_pending_ = false;
  }
  for (auto& [c, o] : mail) Complete(c, std::move(o));
}

void Driver::Issue(Caller* c, int64_t now) {
  c->op = mix_->Pick(c->rng);
  c->slot = static_cast<size_t>(c->rng() % keys_->size());
  KeyTable::Read read = keys_->Get(c->slot, IsRemoval(c->op));
  c->key = std::move(read.key);
  c->key_gen = read.gen;
  c->intended_ns = spec_.rate > 0 ? c->next_ns : now;
  ++inflight_;
  target_->Start(c);
}

void Driver::Complete(Caller* c, Outcome o) {
  --inflight_;
  const bool ok = o.code == absl::StatusCode::kOk;
  const bool measured =
      c->intended_ns >= spec_.measure_ns && c->intended_ns < spec_.end_ns;
  if (measured) {
    stats_.last_done_ns = std::max(stats_.last_done_ns, o.done_ns);
    if (ok) {
      stats_.hist[c->op].Record(o.done_ns - c->intended_ns);
    } else {
      std::string label = o.error;
      bool expected = false;
      if (o.code == absl::StatusCode::kNotFound &&
          keys_->ChangedByOthers(c->slot, {std::string(), c->key_gen},
                                 IsRemoval(c->op))) {
        label = "NOT_FOUND_expected";  // destroyed / rotated meanwhile
        expected = true;
      }
      ++stats_.errors[c->op][label];
      (expected ? stats_.expected_errors : stats_.unexpected_errors)
          .fetch_add(1, std::memory_order_relaxed);
    }
    if (!o.refill_error.empty()) {
      ++stats_.errors[c->op]["refill_" + o.refill_error];
      stats_.unexpected_errors.fetch_add(1, std::memory_order_relaxed);
    }
  }
  if (IsRemoval(c->op)) {
    keys_->Release(c->slot, c->key, ok ? std::move(o.new_key) : std::string());
  } else if (c->op == kCreate && ok) {
    // The new session takes a random slot; the old one is abandoned.
    keys_->Set(c->slot, std::move(o.new_key));
  }
  const int64_t now = NowNs();
  if (spec_.rate > 0) {
    ++c->k;
    c->next_ns = c->first_ns + c->k * c->interval_ns;
  } else {
    c->next_ns = now;
  }
  if (c->next_ns >= spec_.end_ns) return;
  // Through the timer heap even when due, so that one busy connection
  // cannot starve the others' events.
  timers_.push({c->next_ns, c});
}

}  // namespace load
}  // namespace sesh
