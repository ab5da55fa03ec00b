#include "replication/managed_membership.h"

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "replication/membership.h"
#include "replication/placement.h"

namespace sesh {
namespace {

using internal::JOINING;
using internal::LEAVING;
using internal::MemberRecord;
using internal::MembershipRecord;
using internal::NORMAL;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

PeerSpec Peer(const std::string& id) {
  return {id, id + ".client:1", id + ".peer:2"};
}

MemberRecord Member(const std::string& id, internal::MemberState state) {
  MemberRecord m;
  m.set_id(id);
  m.set_address(id + ".client:1");
  m.set_peer_address(id + ".peer:2");
  m.set_state(state);
  return m;
}

// A record of `members` (in the order given), replication factor 3.
MembershipRecord Record(const std::vector<MemberRecord>& members) {
  MembershipRecord record;
  record.set_replication_factor(3);
  for (const MemberRecord& m : members) *record.add_members() = m;
  return record;
}

std::vector<std::string> Ids(const MembershipRecord& record) {
  std::vector<std::string> ids;
  for (const MemberRecord& m : record.members()) ids.push_back(m.id());
  return ids;
}

std::vector<internal::MemberState> States(const MembershipRecord& record) {
  std::vector<internal::MemberState> states;
  for (const MemberRecord& m : record.members()) states.push_back(m.state());
  return states;
}

PlacementMap MustBuild(const std::vector<std::string>& ids,
                       const std::vector<std::string>& holders,
                       uint64_t epoch) {
  absl::StatusOr<PlacementMap> map =
      PlacementMap::Build(ids, 3, holders, epoch);
  EXPECT_TRUE(map.ok()) << map.status();
  return *std::move(map);
}

TEST(ManagedMembershipTest, Founded_SelfAloneNormalWithTheReplicationFactor) {
  const MembershipRecord record = Founded(Peer("n1"), 5);
  EXPECT_EQ(record.replication_factor(), 5);
  ASSERT_EQ(record.members_size(), 1);
  EXPECT_EQ(record.members(0).id(), "n1");
  EXPECT_EQ(record.members(0).address(), "n1.client:1");
  EXPECT_EQ(record.members(0).peer_address(), "n1.peer:2");
  EXPECT_EQ(record.members(0).state(), NORMAL);
  EXPECT_FALSE(InTransition(record));
  EXPECT_THAT(Holders(record), ElementsAre("n1"));
  EXPECT_THAT(PendingHolders(record), IsEmpty());
}

TEST(ManagedMembershipTest, WithJoining_AddsJoiningSortedById) {
  const MembershipRecord record =
      Record({Member("a", NORMAL), Member("c", NORMAL)});
  absl::StatusOr<MembershipRecord> next = WithJoining(record, Peer("b"));
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_THAT(Ids(*next), ElementsAre("a", "b", "c"));
  EXPECT_THAT(States(*next), ElementsAre(NORMAL, JOINING, NORMAL));
  EXPECT_EQ(next->replication_factor(), 3);
  const MemberRecord* b = FindMember(*next, "b");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->address(), "b.client:1");
  EXPECT_EQ(b->peer_address(), "b.peer:2");
  EXPECT_TRUE(InTransition(*next));
  // The input is left as it was.
  EXPECT_THAT(Ids(record), ElementsAre("a", "c"));
}

TEST(ManagedMembershipTest, WithJoining_RefusedDuringATransitionAndForAMember) {
  const MembershipRecord joining =
      Record({Member("a", NORMAL), Member("b", JOINING)});
  EXPECT_EQ(WithJoining(joining, Peer("c")).status().code(),
            absl::StatusCode::kFailedPrecondition);
  const MembershipRecord leaving =
      Record({Member("a", NORMAL), Member("b", LEAVING)});
  EXPECT_EQ(WithJoining(leaving, Peer("c")).status().code(),
            absl::StatusCode::kFailedPrecondition);
  const MembershipRecord settled =
      Record({Member("a", NORMAL), Member("b", NORMAL)});
  EXPECT_EQ(WithJoining(settled, Peer("b")).status().code(),
            absl::StatusCode::kAlreadyExists);
}

TEST(ManagedMembershipTest, WithLeaving_MarksLeaving) {
  const MembershipRecord record =
      Record({Member("a", NORMAL), Member("b", NORMAL), Member("c", NORMAL)});
  absl::StatusOr<MembershipRecord> next = WithLeaving(record, "b");
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_THAT(Ids(*next), ElementsAre("a", "b", "c"));
  EXPECT_THAT(States(*next), ElementsAre(NORMAL, LEAVING, NORMAL));
  EXPECT_TRUE(InTransition(*next));
}

TEST(ManagedMembershipTest, WithLeaving_Refusals) {
  const MembershipRecord two =
      Record({Member("a", NORMAL), Member("b", NORMAL)});
  EXPECT_EQ(WithLeaving(two, "z").status().code(), absl::StatusCode::kNotFound);

  const MembershipRecord one = Record({Member("a", NORMAL)});
  EXPECT_EQ(WithLeaving(one, "a").status().code(),
            absl::StatusCode::kFailedPrecondition);
  // A joining member holds nothing yet: "a" is still the last holder (and
  // a change is under way).
  const MembershipRecord joining =
      Record({Member("a", NORMAL), Member("b", JOINING)});
  EXPECT_EQ(WithLeaving(joining, "a").status().code(),
            absl::StatusCode::kFailedPrecondition);

  const MembershipRecord leaving =
      Record({Member("a", NORMAL), Member("b", LEAVING), Member("c", NORMAL)});
  EXPECT_EQ(WithLeaving(leaving, "c").status().code(),
            absl::StatusCode::kFailedPrecondition);
  const MembershipRecord three_joining =
      Record({Member("a", NORMAL), Member("b", NORMAL), Member("c", JOINING)});
  EXPECT_EQ(WithLeaving(three_joining, "a").status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(ManagedMembershipTest, HoldersAndPendingHolders_Join) {
  const MembershipRecord record =
      Record({Member("a", NORMAL), Member("b", JOINING), Member("c", NORMAL)});
  EXPECT_THAT(Holders(record), ElementsAre("a", "c"));
  EXPECT_THAT(PendingHolders(record), ElementsAre("a", "b", "c"));
  EXPECT_EQ(MemberPeers(record).size(), 3u);
  EXPECT_EQ(MemberPeers(record)[1].id, "b");
  EXPECT_EQ(MemberPeers(record)[1].peer_address, "b.peer:2");
}

TEST(ManagedMembershipTest, HoldersAndPendingHolders_Leave) {
  const MembershipRecord record =
      Record({Member("a", NORMAL), Member("b", LEAVING), Member("c", NORMAL)});
  EXPECT_THAT(Holders(record), ElementsAre("a", "b", "c"));
  EXPECT_THAT(PendingHolders(record), ElementsAre("a", "c"));
}

TEST(ManagedMembershipTest, HoldersAndPendingHolders_NoChange) {
  const MembershipRecord record =
      Record({Member("a", NORMAL), Member("b", NORMAL)});
  EXPECT_THAT(Holders(record), ElementsAre("a", "b"));
  EXPECT_THAT(PendingHolders(record), IsEmpty());
  EXPECT_EQ(FindMember(record, "z"), nullptr);
}

TEST(ManagedMembershipTest, Settled_JoiningBecomeNormalLeavingRemoved) {
  const MembershipRecord join =
      Record({Member("a", NORMAL), Member("b", JOINING), Member("c", NORMAL)});
  const MembershipRecord joined = Settled(join);
  EXPECT_THAT(Ids(joined), ElementsAre("a", "b", "c"));
  EXPECT_THAT(States(joined), ElementsAre(NORMAL, NORMAL, NORMAL));
  EXPECT_EQ(joined.replication_factor(), 3);
  EXPECT_EQ(FindMember(joined, "b")->address(), "b.client:1");
  EXPECT_FALSE(InTransition(joined));

  const MembershipRecord leave =
      Record({Member("a", NORMAL), Member("b", LEAVING), Member("c", NORMAL)});
  const MembershipRecord left = Settled(leave);
  EXPECT_THAT(Ids(left), ElementsAre("a", "c"));
  EXPECT_THAT(States(left), ElementsAre(NORMAL, NORMAL));
  EXPECT_EQ(left.replication_factor(), 3);
}

TEST(ManagedMembershipTest, RolledBack_JoiningRemovedLeavingNormalAgain) {
  const MembershipRecord join =
      Record({Member("a", NORMAL), Member("b", JOINING), Member("c", NORMAL)});
  const MembershipRecord rolled = RolledBack(join, "b");
  EXPECT_THAT(Ids(rolled), ElementsAre("a", "c"));
  EXPECT_THAT(States(rolled), ElementsAre(NORMAL, NORMAL));
  EXPECT_EQ(rolled.replication_factor(), 3);
  // Only a JOINING member is removed.
  EXPECT_THAT(Ids(RolledBack(join, "a")), ElementsAre("a", "b", "c"));

  const MembershipRecord leave =
      Record({Member("a", NORMAL), Member("b", LEAVING), Member("c", NORMAL)});
  const MembershipRecord stays = RolledBack(leave, "b");
  EXPECT_THAT(Ids(stays), ElementsAre("a", "b", "c"));
  EXPECT_THAT(States(stays), ElementsAre(NORMAL, NORMAL, NORMAL));
}

TEST(ManagedMembershipTest, GainersAndGainedPartitions_JoinOfAFourthNode) {
  const std::vector<std::string> all = {"a", "b", "c", "d"};
  const PlacementMap now = MustBuild(all, {"a", "b", "c"}, 10);
  const PlacementMap next = MustBuild(all, all, 11);
  ASSERT_EQ(now.nodes(), next.nodes());
  EXPECT_EQ(now.epoch(), 10u);
  EXPECT_EQ(next.epoch(), 11u);
  const int d = next.IndexOf("d");
  // With three holders at RF 3 each holds everything: only the joiner gains.
  EXPECT_THAT(Gainers(now, next), ElementsAre(d));
  const std::vector<uint32_t> gained = GainedPartitions(now, next, d);
  const double expected = kPartitionCount * 3.0 / 4.0;
  EXPECT_LT(std::abs(static_cast<double>(gained.size()) - expected),
            0.05 * expected)
      << gained.size();
  for (size_t i = 1; i < gained.size(); ++i) {
    ASSERT_LT(gained[i - 1], gained[i]);
  }
  for (uint32_t p : gained) {
    ASSERT_TRUE(next.Holds(d, p));
    ASSERT_FALSE(now.Holds(d, p));
  }
  EXPECT_THAT(GainedPartitions(now, next, next.IndexOf("a")), IsEmpty());
  // Nothing changes, nothing is gained.
  EXPECT_THAT(Gainers(next, next), IsEmpty());
}

TEST(ManagedMembershipTest, GainersAndGainedPartitions_LeaveOfAFourthNode) {
  const std::vector<std::string> all = {"a", "b", "c", "d"};
  const PlacementMap now = MustBuild(all, all, 20);
  const PlacementMap next = MustBuild(all, {"a", "b", "d"}, 21);
  const int a = next.IndexOf("a");
  const int b = next.IndexOf("b");
  const int c = next.IndexOf("c");
  const int d = next.IndexOf("d");
  // The remaining three take over the leaver's replicas; the leaver gains
  // nothing.
  EXPECT_THAT(Gainers(now, next), ElementsAre(a, b, d));
  EXPECT_THAT(GainedPartitions(now, next, c), IsEmpty());
  // Each remaining node held about 3/4 of the partitions and now holds all.
  const double expected = kPartitionCount / 4.0;
  size_t total = 0;
  for (int node : {a, b, d}) {
    const std::vector<uint32_t> gained = GainedPartitions(now, next, node);
    EXPECT_LT(std::abs(static_cast<double>(gained.size()) - expected),
              0.05 * expected)
        << node << ": " << gained.size();
    total += gained.size();
  }
  // Exactly the leaver's replicas moved.
  size_t leaver_held = 0;
  for (uint32_t p = 0; p < kPartitionCount; ++p) leaver_held += now.Holds(c, p);
  EXPECT_EQ(total, leaver_held);
}

}  // namespace
}  // namespace sesh
