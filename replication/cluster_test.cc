#include "replication/cluster.h"

#include <atomic>
#include <thread>

#include "gtest/gtest.h"
#include "replication/fake_peers.h"

namespace sesh {
namespace {

using internal::SessionRecord;
using testing::FakePeers;

constexpr int kN1 = 0;

SessionRecord Record(const std::string& raw, uint64_t stamp) {
  SessionRecord r;
  r.set_id(raw);
  r.set_namespace_("shop");
  r.set_created_at_ms(1);
  r.set_last_access_ms(1);
  r.set_idle_timeout_ms(3'600'000);
  r.set_absolute_deadline_ms(int64_t{1} << 50);
  r.set_version(stamp);
  return r;
}

std::string TempDir() {
  return ::testing::TempDir() + "/" +
         ::testing::UnitTest::GetInstance()->current_test_info()->name();
}

// A peer that falls behind gets at most max_queued_per_peer records queued;
// the rest wait as hints (bounded in bytes, persisted) instead of memory.
TEST(ClusterTest, Replicate_PeerQueueFull_OverflowKeptAsHintsThenDelivered) {
  ClusterOptions base;
  base.max_queued_per_peer = 2;
  FakePeers peers(3, 3, TempDir(), 1'000'000, base);
  peers.clock().AdvanceMs(1000);
  peers.Heartbeats();
  Cluster& primary = peers.cluster(kN1);
  std::vector<int> acks(5, -1);
  for (int i = 0; i < 5; ++i) {
    const std::string raw = peers.IdWithPrimary(kN1);
    primary.Replicate(PartitionOf(raw), {Record(raw, 10 + i)}, 2,
                      [&acks, i](int n) { acks[i] = n; });
  }
  // One Apply per peer in flight, two records queued behind it; the last
  // two overflow into hints at once and count as not acknowledged there.
  EXPECT_EQ(acks[3], 0);
  EXPECT_EQ(acks[4], 0);
  EXPECT_EQ(acks[0], -1);
  EXPECT_EQ(primary.HintsFor("n2"), 2);
  EXPECT_EQ(primary.HintsFor("n3"), 2);
  peers.DeliverAll();
  EXPECT_EQ(acks[0], 2);
  EXPECT_EQ(acks[2], 2);
  primary.FlushLazy();
  peers.DeliverAll();
  EXPECT_EQ(primary.HintsFor("n2"), 0);
  EXPECT_EQ(primary.HintsFor("n3"), 0);
}

// Stop waits until every peer call's callback has run.
TEST(ClusterTest, Stop_WithCallsInFlight_WaitsForTheirCallbacks) {
  FakePeers peers(3, 3, TempDir());
  peers.clock().AdvanceMs(1000);
  peers.Heartbeats();
  const std::string raw = peers.IdWithPrimary(kN1);
  bool answered = false;
  peers.cluster(kN1).Replicate(PartitionOf(raw), {Record(raw, 10)}, 2,
                               [&answered](int) { answered = true; });
  std::atomic<bool> stopped{false};
  std::thread stopper([&] {
    peers.cluster(kN1).Stop();
    stopped = true;
  });
  // Stop's bound is 2.8 s here; a Stop that did not wait returns at once.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(stopped.load());
  peers.DeliverAll();
  stopper.join();
  EXPECT_TRUE(answered);
}

// After a membership change (managed membership), a partition whose primary
// changed is not vouched for while its previous primary may still serve it
// under an old lease; read leases wait until every peer is at the new epoch.
TEST(ClusterTest, MembershipChange_FencesThePreviousPrimaryAndReadLeases) {
  // Before: n1, n2, n3 and n9. Now n9 is gone and n4 has joined.
  ClusterOptions base;
  base.epoch = 7;
  absl::StatusOr<PlacementMap> previous =
      PlacementMap::Build({"n1", "n2", "n3", "n9"}, 3);
  ASSERT_TRUE(previous.ok());
  base.previous = std::make_shared<const PlacementMap>(*previous);
  FakePeers peers(4, 3, TempDir(), 1'000'000, base);
  const PlacementMap& now = peers.placement();
  // A partition n4 took over from n2 as primary, and one n9 was primary of.
  uint32_t from_n2 = kPartitionCount, from_n9 = kPartitionCount;
  for (uint32_t p = 0; p < kPartitionCount; ++p) {
    const std::string& primary = now.nodes()[now.Primary(p)];
    const std::string& before = previous->nodes()[previous->Primary(p)];
    if (before == "n2" && primary == "n4" && from_n2 == kPartitionCount) {
      from_n2 = p;
    }
    if (before == "n9" && primary != "n3" && from_n9 == kPartitionCount) {
      from_n9 = p;
    }
  }
  ASSERT_LT(from_n2, kPartitionCount);
  ASSERT_LT(from_n9, kPartitionCount);
  Cluster& n3 = peers.cluster(2);
  EXPECT_TRUE(n3.PreviousPrimaryMayServe(from_n2));
  EXPECT_TRUE(n3.PreviousPrimaryMayServe(from_n9));
  EXPECT_FALSE(n3.VouchFor(from_n2, {}));
  EXPECT_FALSE(peers.cluster(0).LeasesFenced());

  // n2 is heard at this epoch: its old lease went with its old generation.
  peers.Heartbeats();
  EXPECT_FALSE(n3.PreviousPrimaryMayServe(from_n2));
  EXPECT_TRUE(n3.PreviousPrimaryMayServe(from_n9));
  // n9 left the membership: waited out for one vouch window.
  peers.clock().AdvanceMs(1000);
  peers.Heartbeats();
  EXPECT_FALSE(n3.PreviousPrimaryMayServe(from_n9));
  // Every peer at this epoch, a replicate timeout later, nothing owed.
  EXPECT_TRUE(peers.cluster(0).LeasesFenced());
}

}  // namespace
}  // namespace sesh
