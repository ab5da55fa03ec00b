#include "replication/lease.h"

#include "gtest/gtest.h"

namespace sesh {
namespace {

constexpr int64_t kStart = 1'000'000;

class LeasesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto placement = PlacementMap::Build({"n1", "n2", "n3"}, 3);
    ASSERT_TRUE(placement.ok());
    placement_ = std::make_unique<PlacementMap>(std::move(*placement));
    // A partition whose primary is n1 (index 0).
    while (placement_->Primary(partition_) != 0) ++partition_;
  }

  FakeClock clock_{kStart};
  std::unique_ptr<PlacementMap> placement_;
  uint32_t partition_ = 0;
  LeaseOptions options_;  // 200 ms heartbeats, 800 ms failure timeout
};

TEST_F(LeasesTest, Durations_LeaseEndsBeforeVouchingMayStart) {
  Leases leases(placement_.get(), 0, options_, &clock_);
  EXPECT_EQ(leases.vouch_after_ms(), 700);
  EXPECT_EQ(leases.lease_ms(), 630);
}

TEST_F(LeasesTest, HasReadLease_FromGrantUntilSentPlusLeaseExactly) {
  Leases primary(placement_.get(), 0, options_, &clock_);
  EXPECT_FALSE(primary.HasReadLease(partition_, true));
  primary.Granted(1, kStart);
  EXPECT_TRUE(primary.HasReadLease(partition_, true));
  EXPECT_FALSE(primary.HasReadLease(partition_, /*self_serving=*/false));
  clock_.SetMs(kStart + 629);
  EXPECT_TRUE(primary.HasReadLease(partition_, true));
  clock_.SetMs(kStart + 630);
  EXPECT_FALSE(primary.HasReadLease(partition_, true));
}

TEST_F(LeasesTest, HasReadLease_NotThePrimary_Never) {
  Leases replica(placement_.get(), 1, options_, &clock_);
  replica.Granted(0, kStart);
  replica.Granted(2, kStart);
  EXPECT_FALSE(replica.HasReadLease(partition_, true));
}

TEST_F(LeasesTest, MayVouch_PrimaryHeard_OnlyAfterItsSilence) {
  Leases replica(placement_.get(), 1, options_, &clock_);
  // Never heard: silent only vouch_after_ms after this node started.
  clock_.SetMs(kStart + 699);
  EXPECT_FALSE(replica.MayVouch(partition_));
  clock_.SetMs(kStart + 700);
  EXPECT_TRUE(replica.MayVouch(partition_));
  replica.HeardFrom(0, /*serving=*/true);
  EXPECT_FALSE(replica.MayVouch(partition_));
  clock_.AdvanceMs(699);
  EXPECT_FALSE(replica.MayVouch(partition_));
  clock_.AdvanceMs(1);
  EXPECT_TRUE(replica.MayVouch(partition_));
}

TEST_F(LeasesTest, MayVouch_PrimaryCatchingUp_AtOnce) {
  Leases replica(placement_.get(), 1, options_, &clock_);
  replica.HeardFrom(0, /*serving=*/false);
  EXPECT_TRUE(replica.MayVouch(partition_));
  replica.HeardFrom(0, /*serving=*/true);
  EXPECT_FALSE(replica.MayVouch(partition_));
}

// Every interleaving of one heartbeat round, at 1 ms steps: while the
// primary holds a lease from a replica, that replica never vouches.
TEST_F(LeasesTest, LeaseAndVouching_NeverOverlap) {
  for (int64_t delay = 0; delay <= 300; delay += 50) {
    FakeClock clock(kStart);
    Leases primary(placement_.get(), 0, options_, &clock);
    Leases replica(placement_.get(), 1, options_, &clock);
    clock.SetMs(kStart + 1000);  // past the replica's start-up wait
    const int64_t sent = clock.NowMs();
    clock.AdvanceMs(delay);  // the heartbeat in flight
    replica.HeardFrom(0, true);
    clock.AdvanceMs(delay);  // the answer in flight
    primary.Granted(1, sent);
    for (int step = 0; step < 2000; ++step) {
      ASSERT_FALSE(primary.HasReadLease(partition_, true) &&
                   replica.MayVouch(partition_))
          << "delay " << delay << " at +" << clock.NowMs() - sent;
      clock.AdvanceMs(1);
    }
  }
}

}  // namespace
}  // namespace sesh
