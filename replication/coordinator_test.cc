#include "replication/coordinator.h"

#include <optional>

#include "gtest/gtest.h"
#include "replication/fake_peers.h"
#include "replication/merge.h"

namespace sesh {
namespace {

using internal::SessionRecord;
using testing::FakePeers;

constexpr int kN1 = 0, kN2 = 1, kN3 = 2;

SessionRecord Live(const std::string& raw, const std::string& value,
                   uint64_t stamp) {
  SessionRecord r;
  r.set_id(raw);
  r.set_namespace_("shop");
  r.set_created_at_ms(1);
  r.set_last_access_ms(1);
  r.set_idle_timeout_ms(3'600'000);
  r.set_absolute_deadline_ms(int64_t{1} << 50);
  r.set_version(stamp);
  internal::Attribute& a = (*r.mutable_attributes())["cart"];
  a.set_value(value);
  a.set_hlc(stamp);
  return r;
}

SessionRecord Destroyed(const SessionRecord& live, uint64_t stamp) {
  SessionRecord r = live;
  r.clear_attributes();
  r.set_destroyed(true);
  r.set_version(stamp);
  return r;
}

// A read of a node's own copy, as the node's Get does: NOT_FOUND unless a
// live record.
Coordinator::ReadFn ReadOf(testing::MapStore& store, const std::string& raw) {
  return [&store, raw]() -> absl::StatusOr<SessionRecord> {
    absl::StatusOr<std::optional<SessionRecord>> r = store.ReadRaw(raw);
    if (!r.ok()) return r.status();
    if (!r->has_value() || (*r)->destroyed()) {
      return absl::NotFoundError("session not found");
    }
    return **r;
  };
}

class CoordinatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < peers_.size(); ++i) {
      coordinators_.push_back(
          std::make_unique<Coordinator>(&peers_.cluster(i), &peers_.store(i)));
    }
    // Past every node's start-up wait, with a fresh heartbeat round: all up,
    // every primary holds its leases.
    peers_.clock().AdvanceMs(1000);
    peers_.Heartbeats();
    peers_.Heartbeats();
  }

  // Runs a read on node `at`, delivering messages; returns its result.
  absl::StatusOr<SessionRecord> Read(int at, const std::string& raw) {
    std::optional<absl::StatusOr<SessionRecord>> result;
    coordinators_[at]->Read(
        PartitionOf(raw), raw, ReadOf(peers_.store(at), raw),
        [&result](absl::StatusOr<SessionRecord> r) { result = std::move(r); });
    peers_.DeliverAll();
    EXPECT_TRUE(result.has_value());
    return result.value_or(absl::InternalError("no answer"));
  }

  // Runs a write of `record` on node `at` at `durability`; returns its
  // status and whether the write itself ran.
  absl::Status Write(int at, const SessionRecord& record,
                     Coordinator::Needs needs, bool* ran = nullptr,
                     Durability durability = Durability::kQuorum) {
    std::optional<absl::Status> result;
    testing::MapStore& store = peers_.store(at);
    if (ran != nullptr) *ran = false;
    coordinators_[at]->Mutate(
        PartitionOf(record.id()), record.id(), durability, needs,
        [&store, record, ran]() -> absl::StatusOr<std::vector<SessionRecord>> {
          if (ran != nullptr) *ran = true;
          absl::StatusOr<SessionRecord> merged = store.Merge(record);
          if (!merged.ok()) return merged.status();
          return std::vector<SessionRecord>{*merged};
        },
        [&result](absl::Status s) { result = s; });
    peers_.DeliverAll();
    EXPECT_TRUE(result.has_value());
    return result.value_or(absl::InternalError("no answer"));
  }

  std::optional<SessionRecord> CopyOn(int node, const std::string& raw) {
    return *peers_.store(node).ReadRaw(raw);
  }

  FakePeers peers_{
      3, 3,
      ::testing::TempDir() + "/" +
          ::testing::UnitTest::GetInstance()->current_test_info()->name()};
  std::vector<std::unique_ptr<Coordinator>> coordinators_;
};

TEST_F(CoordinatorTest, Read_PrimaryWithLease_AnswersAloneAskingNoPeer) {
  const std::string raw = peers_.IdWithPrimary(kN1);
  ASSERT_TRUE(peers_.store(kN1).Merge(Live(raw, "1", 10)).ok());
  absl::StatusOr<SessionRecord> got = Read(kN1, raw);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->attributes().at("cart").value(), "1");
  EXPECT_EQ(peers_.Sent(kN2, "Read") + peers_.Sent(kN3, "Read"), 0);
  EXPECT_EQ(coordinators_[kN1]->repair_reads(), 0u);
}

// A destroy acknowledged by the two other replicas while the primary did
// not see it: once its lease has run out, the primary asks them first.
TEST_F(CoordinatorTest, Read_LeaseRanOut_RepairsFromReplicasAndSeesTheDestroy) {
  const std::string raw = peers_.IdWithPrimary(kN1);
  const SessionRecord live = Live(raw, "1", 10);
  ASSERT_TRUE(peers_.store(kN1).Merge(live).ok());
  ASSERT_TRUE(peers_.store(kN2).Merge(Destroyed(live, 11)).ok());
  ASSERT_TRUE(peers_.store(kN3).Merge(Destroyed(live, 11)).ok());
  peers_.clock().AdvanceMs(peers_.cluster(kN1).leases().lease_ms());
  ASSERT_FALSE(peers_.cluster(kN1).HasReadLease(PartitionOf(raw)));
  absl::StatusOr<SessionRecord> got = Read(kN1, raw);
  EXPECT_EQ(got.status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(CopyOn(kN1, raw)->destroyed());
  EXPECT_EQ(coordinators_[kN1]->repair_reads(), 1u);
}

TEST_F(CoordinatorTest, Read_NoLeaseAndReplicasSilent_Unavailable) {
  const std::string raw = peers_.IdWithPrimary(kN1);
  ASSERT_TRUE(peers_.store(kN1).Merge(Live(raw, "1", 10)).ok());
  peers_.clock().AdvanceMs(peers_.cluster(kN1).leases().lease_ms());
  peers_.SetFrozen(kN2, true);
  peers_.SetFrozen(kN3, true);
  absl::StatusOr<SessionRecord> got = Read(kN1, raw);
  EXPECT_EQ(got.status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(CoordinatorTest, Mutate_PrimaryAtQuorum_AcknowledgedAndOnEveryReplica) {
  const std::string raw = peers_.IdWithPrimary(kN1);
  EXPECT_TRUE(
      Write(kN1, Live(raw, "1", 10), Coordinator::Needs::kAnyCopy).ok());
  EXPECT_EQ(CopyOn(kN2, raw)->attributes().at("cart").value(), "1");
  EXPECT_EQ(CopyOn(kN3, raw)->attributes().at("cart").value(), "1");
}

// Replicas do not vouch for a write that does not come from a primary they
// still hear: without the primary among its acknowledgements it is not
// acknowledged.
TEST_F(CoordinatorTest, Mutate_NotPrimaryWhilePrimaryHeard_Unavailable) {
  const std::string raw = peers_.IdWithPrimary(kN1);
  peers_.SetDown(kN1, true);  // unreachable for the writes, yet still heard
  absl::Status s = Write(kN2, Live(raw, "1", 10), Coordinator::Needs::kAnyCopy);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  // Applied where it reached (the answer said it may become visible).
  EXPECT_EQ(CopyOn(kN3, raw)->attributes().at("cart").value(), "1");
}

// The primary went silent: the others vouch, keep the write as a hint for
// it, and withhold its lease until the hint is delivered.
TEST_F(CoordinatorTest, Mutate_PrimarySilent_ReplicasVouchAndHoldItsLease) {
  const std::string raw = peers_.IdWithPrimary(kN1);
  ASSERT_TRUE(peers_.store(kN1).Merge(Live(raw, "1", 10)).ok());
  peers_.SetDown(kN1, true);
  for (int i = 0; i < 4; ++i) {
    peers_.clock().AdvanceMs(200);
    peers_.Heartbeats();
  }
  ASSERT_TRUE(peers_.cluster(kN2).leases().Silent(kN1));
  const SessionRecord destroyed = Destroyed(Live(raw, "1", 10), 11);
  ASSERT_TRUE(Write(kN2, destroyed, Coordinator::Needs::kAnyCopy).ok());
  EXPECT_EQ(peers_.cluster(kN2).HintsFor("n1"), 1);
  EXPECT_EQ(peers_.cluster(kN3).HintsFor("n1"), 1);

  // Back: heard again, but owed a hint, the primary gets no lease and
  // reads through the others.
  peers_.SetDown(kN1, false);
  peers_.Heartbeats();
  peers_.Heartbeats();
  EXPECT_FALSE(peers_.cluster(kN1).HasReadLease(PartitionOf(raw)));
  EXPECT_EQ(Read(kN1, raw).status().code(), absl::StatusCode::kNotFound);
  // Hints delivered: the lease comes back with the next heartbeats.
  peers_.cluster(kN2).FlushLazy();
  peers_.cluster(kN3).FlushLazy();
  peers_.DeliverAll();
  EXPECT_EQ(peers_.cluster(kN2).HintsFor("n1"), 0);
  peers_.Heartbeats();
  EXPECT_TRUE(peers_.cluster(kN1).HasReadLease(PartitionOf(raw)));
  EXPECT_EQ(Read(kN1, raw).status().code(), absl::StatusCode::kNotFound);
}

// The hints a replica keeps for the primary are persisted: restarted, it
// still reports them, so the primary gets no lease it cannot back.
TEST_F(CoordinatorTest, Lease_ReplicaRestartedHoldingHints_StillWithheld) {
  const std::string raw = peers_.IdWithPrimary(kN1);
  peers_.SetDown(kN1, true);
  for (int i = 0; i < 4; ++i) {
    peers_.clock().AdvanceMs(200);
    peers_.Heartbeats();
  }
  ASSERT_TRUE(Write(kN2, Destroyed(Live(raw, "1", 10), 11),
                    Coordinator::Needs::kAnyCopy)
                  .ok());
  ASSERT_EQ(peers_.cluster(kN2).HintsFor("n1"), 1);
  peers_.Restart(kN2);
  peers_.Restart(kN3);
  for (int node : {kN2, kN3}) {
    coordinators_[node] = std::make_unique<Coordinator>(&peers_.cluster(node),
                                                        &peers_.store(node));
  }
  EXPECT_EQ(peers_.cluster(kN2).HintsFor("n1"), 1);
  peers_.SetDown(kN1, false);
  peers_.Heartbeats();
  peers_.Heartbeats();
  EXPECT_FALSE(peers_.cluster(kN1).HasReadLease(PartitionOf(raw)));
}

TEST_F(CoordinatorTest, Mutate_NeedsCurrentCopyButRepairFails_WriteNeverRuns) {
  const std::string raw = peers_.IdWithPrimary(kN1);
  peers_.SetDown(kN1, true);
  for (int i = 0; i < 5; ++i) {
    peers_.clock().AdvanceMs(200);
    peers_.Heartbeats();
  }
  // n3 freezes while n2 still counts it up: its read repair gets nothing.
  peers_.SetFrozen(kN3, true);
  bool ran = true;
  absl::Status s =
      Write(kN2, Live(raw, "2", 12), Coordinator::Needs::kCurrentCopy, &ran);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(ran);
  EXPECT_FALSE(CopyOn(kN2, raw).has_value());
}

TEST_F(CoordinatorTest, Mutate_TooFewReplicasUp_NothingApplied) {
  const std::string raw = peers_.IdWithPrimary(kN1);
  peers_.SetDown(kN2, true);
  peers_.SetDown(kN3, true);
  for (int i = 0; i < 5; ++i) {
    peers_.clock().AdvanceMs(200);
    peers_.Heartbeats();
  }
  bool ran = true;
  absl::Status s =
      Write(kN1, Live(raw, "1", 10), Coordinator::Needs::kAnyCopy, &ran);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(ran);
}

TEST_F(CoordinatorTest, RouteFor_PrimaryDown_NextReplicaCoordinates) {
  const std::string raw = peers_.IdWithPrimary(kN1);
  const uint32_t partition = PartitionOf(raw);
  EXPECT_EQ(coordinators_[kN2]->RouteFor(partition, false).where,
            Coordinator::Where::kForward);
  EXPECT_EQ(coordinators_[kN2]->RouteFor(partition, false).node, kN1);
  peers_.SetDown(kN1, true);
  for (int i = 0; i < 5; ++i) {
    peers_.clock().AdvanceMs(200);
    peers_.Heartbeats();
  }
  const int next = peers_.placement().Replicas(partition)[1];
  EXPECT_EQ(coordinators_[next]->RouteFor(partition, false).where,
            Coordinator::Where::kLocal);
  // A forwarded call runs where it landed, never hops again.
  EXPECT_EQ(coordinators_[kN2]->RouteFor(partition, true).where,
            Coordinator::Where::kLocal);
}

}  // namespace
}  // namespace sesh
