#include "client/internal/get_coalescer.h"

#include <algorithm>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "client/internal/scheduler.h"
#include "gtest/gtest.h"

namespace sesh {
namespace client_internal {
namespace {

// Time stands still until Advance(); due timers run inside Advance().
class FakeScheduler : public Scheduler {
 public:
  absl::Time Now() override { return now_; }
  void RunAt(absl::Time when, std::function<void()> fn) override {
    timers_.push_back({when, std::move(fn)});
  }
  void Advance(absl::Duration d) {
    now_ += d;
    while (true) {
      auto due = std::find_if(timers_.begin(), timers_.end(),
                              [&](const auto& t) { return t.first <= now_; });
      if (due == timers_.end()) return;
      std::function<void()> fn = std::move(due->second);
      timers_.erase(due);
      fn();
    }
  }
  size_t pending() const { return timers_.size(); }

 private:
  absl::Time now_ = absl::UnixEpoch();
  std::vector<std::pair<absl::Time, std::function<void()>>> timers_;
};

struct TestGet {
  std::string id;
  absl::Time enqueued;
};

// Records what the coalescer sends.
struct Sent {
  std::string ns;
  bool touch;
  std::vector<std::string> ids;
};

class Harness {
 public:
  Harness(int max_batch, int max_in_flight, absl::Duration max_wait)
      : coalescer_(max_batch, max_in_flight, max_wait, &scheduler_,
                   [this](GetBatch<TestGet> batch) {
                     Sent s{batch.ns, batch.touch, {}};
                     for (const auto& g : batch.gets) s.ids.push_back(g->id);
                     sent_.push_back(std::move(s));
                   }) {}

  void Enqueue(const std::string& id, const std::string& ns = "ns",
               bool touch = true) {
    auto get = std::make_unique<TestGet>();
    get->id = id;
    EXPECT_TRUE(coalescer_.Enqueue(ns, touch, std::move(get)).ok());
  }

  FakeScheduler scheduler_;
  std::vector<Sent> sent_;
  GetCoalescer<TestGet> coalescer_;
};

using Ids = std::vector<std::string>;

TEST(GetCoalescerTest, Enqueue_FreeSlot_SentAtOnce) {
  Harness h(64, 2, absl::Microseconds(200));
  h.Enqueue("a");
  h.Enqueue("b");
  ASSERT_EQ(h.sent_.size(), 2u);
  EXPECT_EQ(h.sent_[0].ids, Ids({"a"}));
  EXPECT_EQ(h.sent_[1].ids, Ids({"b"}));
  EXPECT_EQ(h.coalescer_.InFlightForTesting(), 2);
}

TEST(GetCoalescerTest, Enqueue_SlotsBusy_Queues) {
  Harness h(64, 1, absl::Microseconds(200));
  h.Enqueue("a");
  h.Enqueue("b");
  h.Enqueue("c");
  EXPECT_EQ(h.sent_.size(), 1u);
  EXPECT_EQ(h.coalescer_.QueuedForTesting(), 2);
}

TEST(GetCoalescerTest, BatchDone_Queued_LeaveInOneBatch) {
  Harness h(64, 1, absl::Seconds(10));
  for (const char* id : {"a", "b", "c", "d"}) h.Enqueue(id);
  h.coalescer_.BatchDone();
  ASSERT_EQ(h.sent_.size(), 2u);
  EXPECT_EQ(h.sent_[1].ids, Ids({"b", "c", "d"}));
  EXPECT_EQ(h.coalescer_.InFlightForTesting(), 1);
  EXPECT_EQ(h.coalescer_.QueuedForTesting(), 0);
}

TEST(GetCoalescerTest, BatchDone_MoreThanMaxBatch_TakesMaxBatch) {
  Harness h(2, 1, absl::Seconds(10));
  for (const char* id : {"a", "b", "c", "d", "e"}) h.Enqueue(id);
  h.coalescer_.BatchDone();
  ASSERT_EQ(h.sent_.size(), 2u);
  EXPECT_EQ(h.sent_[1].ids, Ids({"b", "c"}));
  h.coalescer_.BatchDone();
  ASSERT_EQ(h.sent_.size(), 3u);
  EXPECT_EQ(h.sent_[2].ids, Ids({"d", "e"}));
}

TEST(GetCoalescerTest, Enqueue_DifferentGroups_NeverShareABatch) {
  Harness h(64, 1, absl::Seconds(10));
  h.Enqueue("a");
  h.Enqueue("x", "ns2", true);
  h.scheduler_.Advance(absl::Microseconds(1));
  h.Enqueue("b", "ns", false);
  h.scheduler_.Advance(absl::Microseconds(1));
  h.Enqueue("y", "ns2", true);
  h.coalescer_.BatchDone();  // the oldest group first
  h.coalescer_.BatchDone();
  h.coalescer_.BatchDone();
  ASSERT_EQ(h.sent_.size(), 3u);
  EXPECT_EQ(h.sent_[1].ns, "ns2");
  EXPECT_EQ(h.sent_[1].ids, Ids({"x", "y"}));
  EXPECT_EQ(h.sent_[2].ns, "ns");
  EXPECT_FALSE(h.sent_[2].touch);
  EXPECT_EQ(h.sent_[2].ids, Ids({"b"}));
}

TEST(GetCoalescerTest, Timer_SlotsBusy_SendsAfterMaxWait) {
  Harness h(64, 1, absl::Microseconds(200));
  h.Enqueue("a");
  h.Enqueue("b");
  h.scheduler_.Advance(absl::Microseconds(100));
  h.Enqueue("c");
  h.scheduler_.Advance(absl::Microseconds(99));
  EXPECT_EQ(h.sent_.size(), 1u);
  h.scheduler_.Advance(absl::Microseconds(1));
  ASSERT_EQ(h.sent_.size(), 2u);
  EXPECT_EQ(h.sent_[1].ids, Ids({"b", "c"}));
  EXPECT_EQ(h.coalescer_.InFlightForTesting(), 2);
}

TEST(GetCoalescerTest, Timer_AfterBatchDoneDrained_SendsNothing) {
  Harness h(64, 1, absl::Microseconds(200));
  h.Enqueue("a");
  h.Enqueue("b");
  h.coalescer_.BatchDone();
  ASSERT_EQ(h.sent_.size(), 2u);
  h.scheduler_.Advance(absl::Milliseconds(1));
  EXPECT_EQ(h.sent_.size(), 2u);
  EXPECT_EQ(h.scheduler_.pending(), 0u);
}

TEST(GetCoalescerTest, Timer_PartlyDrainedQueue_YoungerGetStillBounded) {
  Harness h(1, 1, absl::Microseconds(200));
  h.Enqueue("a");
  h.Enqueue("b");  // t=0, timer armed for t=200us
  h.scheduler_.Advance(absl::Microseconds(150));
  h.Enqueue("c");                                // t=150us
  h.coalescer_.BatchDone();                      // takes b (max_batch 1)
  h.scheduler_.Advance(absl::Microseconds(50));  // t=200: c not overdue yet
  EXPECT_EQ(h.sent_.size(), 2u);
  // a's round trip (150us, deviation taken as half) makes the bound
  // 150 + 4 x 75 = 450us, so c, queued at t=150, is due at t=600.
  h.scheduler_.Advance(absl::Microseconds(399));
  EXPECT_EQ(h.sent_.size(), 2u);
  h.scheduler_.Advance(absl::Microseconds(1));
  ASSERT_EQ(h.sent_.size(), 3u);
  EXPECT_EQ(h.sent_[2].ids, Ids({"c"}));
}

// Ends the batch in flight after `rtt`; the harness has one slot.
void RoundTrip(Harness& h, const std::string& id, absl::Duration rtt) {
  h.Enqueue(id);
  h.scheduler_.Advance(rtt);
  h.coalescer_.BatchDone();
}

TEST(GetCoalescerTest, Timer_RoundTripsLongerThanMaxWait_WaitForTheTimeout) {
  Harness h(64, 1, absl::Milliseconds(1));
  // Round trip 1 ms, deviation 0.5 ms: bound 3 ms.
  RoundTrip(h, "a", absl::Milliseconds(1));
  h.Enqueue("b");
  h.Enqueue("c");  // queued behind b
  h.scheduler_.Advance(absl::Microseconds(2999));
  EXPECT_EQ(h.sent_.size(), 2u);  // well past max_wait
  h.scheduler_.Advance(absl::Microseconds(1));
  ASSERT_EQ(h.sent_.size(), 3u);
  EXPECT_EQ(h.sent_[2].ids, Ids({"c"}));
}

TEST(GetCoalescerTest, Timer_OneStuckBatch_CountsForAtMostFourRoundTrips) {
  Harness h(64, 1, absl::Milliseconds(1));
  RoundTrip(h, "a", absl::Milliseconds(1));  // 1 ms, deviation 0.5 ms
  RoundTrip(h, "b", absl::Seconds(2));
  // b counts as 4 ms: round trip 1 + (4 - 1) / 8 = 1.375 ms, deviation
  // 0.5 + (3 - 0.5) / 4 = 1.125 ms, bound 1.375 + 4 x 1.125 = 5.875 ms.
  EXPECT_EQ(h.coalescer_.WaitBoundForTesting(), absl::Microseconds(5875));
  h.Enqueue("c");
  h.Enqueue("d");
  h.scheduler_.Advance(absl::Microseconds(5874));
  EXPECT_EQ(h.sent_.size(), 3u);
  h.scheduler_.Advance(absl::Microseconds(1));
  ASSERT_EQ(h.sent_.size(), 4u);
  EXPECT_EQ(h.sent_[3].ids, Ids({"d"}));
}

TEST(GetCoalescerTest, Timer_RoundTripsShorterThanMaxWait_MaxWaitBounds) {
  Harness h(64, 1, absl::Milliseconds(1));
  for (int i = 0; i < 20; ++i) {
    RoundTrip(h, "r" + std::to_string(i), absl::Microseconds(100));
  }
  EXPECT_EQ(h.coalescer_.WaitBoundForTesting(), absl::Milliseconds(1));
}

std::unique_ptr<TestGet> NewGet(const std::string& id) {
  auto get = std::make_unique<TestGet>();
  get->id = id;
  return get;
}

TEST(GetCoalescerTest, Enqueue_QueueFull_FailsWithResourceExhausted) {
  FakeScheduler scheduler;
  std::vector<Ids> sent;
  GetCoalescer<TestGet> coalescer(
      64, 1, absl::Seconds(10), &scheduler,
      [&sent](GetBatch<TestGet> batch) {
        Ids ids;
        for (const auto& g : batch.gets) ids.push_back(g->id);
        sent.push_back(std::move(ids));
      },
      /*max_queued=*/2);
  ASSERT_TRUE(coalescer.Enqueue("ns", true, NewGet("a")).ok());  // sent
  ASSERT_TRUE(coalescer.Enqueue("ns", true, NewGet("b")).ok());  // queued
  scheduler.Advance(absl::Microseconds(1));
  ASSERT_TRUE(coalescer.Enqueue("ns2", true, NewGet("c")).ok());

  // The bound counts every group's Gets.
  std::unique_ptr<TestGet> d = NewGet("d");
  EXPECT_EQ(coalescer.Enqueue("ns", true, std::move(d)).code(),
            absl::StatusCode::kResourceExhausted);
  ASSERT_NE(d, nullptr);  // still the caller's
  EXPECT_EQ(d->id, "d");
  EXPECT_EQ(coalescer.QueuedForTesting(), 2);
  EXPECT_EQ(sent, std::vector<Ids>({{"a"}}));

  // A completion takes b out of the queue: d fits again.
  coalescer.BatchDone();
  scheduler.Advance(absl::Microseconds(1));
  EXPECT_EQ(coalescer.Enqueue("ns", true, std::move(d)).code(),
            absl::StatusCode::kOk);
  EXPECT_EQ(d, nullptr);
  EXPECT_EQ(coalescer.QueuedForTesting(), 2);
  EXPECT_EQ(coalescer.Enqueue("ns", true, NewGet("e")).code(),
            absl::StatusCode::kResourceExhausted);
  coalescer.BatchDone();
  coalescer.BatchDone();
  EXPECT_EQ(sent, std::vector<Ids>({{"a"}, {"b"}, {"c"}, {"d"}}));
  EXPECT_EQ(coalescer.QueuedForTesting(), 0);
}

}  // namespace
}  // namespace client_internal
}  // namespace sesh
