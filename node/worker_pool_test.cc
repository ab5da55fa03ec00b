#include "node/worker_pool.h"

#include <atomic>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace sesh {
namespace {

TEST(WorkerPoolTest, TrySchedule_QueueFull_RefusesAndDropsNothingAccepted) {
  std::atomic<int> ran{0};
  absl::Notification release;
  {
    WorkerPool pool(/*threads=*/1, /*max_queued=*/2);
    absl::Notification started;
    // The one thread blocks; two more fit in the queue; the fourth is
    // refused.
    ASSERT_TRUE(pool.TrySchedule([&] {
      started.Notify();
      release.WaitForNotification();
      ++ran;
    }));
    started.WaitForNotification();
    EXPECT_TRUE(pool.TrySchedule([&] { ++ran; }));
    EXPECT_TRUE(pool.TrySchedule([&] { ++ran; }));
    EXPECT_FALSE(pool.TrySchedule([&] { ++ran; }));
    release.Notify();
  }  // the destructor runs what was accepted, then joins
  EXPECT_EQ(ran.load(), 3);
}

}  // namespace
}  // namespace sesh
