// EtcdMembership against a real etcd started by the test: founding and
// joining, the wait while another change is under way, hand-offs and
// settling, decommissioning, restarts, roll-back of a joiner that is gone,
// compare-and-swap between concurrent writers, the liveness lease, and the
// watch across an etcd restart.

#include "node/etcd_membership.h"

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "etcd/rpc.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/etcd_process.h"
#include "tests/node_process.h"

namespace sesh {
namespace {

using internal::JOINING;
using internal::LEAVING;
using internal::NORMAL;
using testing::EtcdProcess;
using testing::NewTempDir;

constexpr int64_t kRegisterTimeoutMs = 5000;

// Counts calls of a Watch callback; waits for the count to pass a value.
class Counter {
 public:
  void Increment() {
    absl::MutexLock lock(&mu_);
    ++count_;
  }
  int count() {
    absl::MutexLock lock(&mu_);
    return count_;
  }
  // True once count() > n, false after `timeout`.
  bool WaitAbove(int n, absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto above = [this, n]()
                     ABSL_SHARED_LOCKS_REQUIRED(mu_) { return count_ > n; };
    return mu_.AwaitWithTimeout(absl::Condition(&above), timeout);
  }

 private:
  absl::Mutex mu_;
  int count_ ABSL_GUARDED_BY(mu_) = 0;
};

class EtcdMembershipTest : public ::testing::Test {
 protected:
  void SetUp() override {
    etcd_ = std::make_unique<EtcdProcess>(NewTempDir("etcd") + "/data");
    absl::Status started = etcd_->Start();
    ASSERT_TRUE(started.ok()) << started;
  }

  EtcdMembershipOptions Options(const std::string& id) {
    EtcdMembershipOptions options;
    options.endpoints = {etcd_->address()};
    options.cluster = "test";
    options.self = {id, id + ".client:7000", id + ".peer:7001"};
    options.replication_factor = 3;
    options.lease_ttl_s = 2;
    options.call_timeout_ms = 2000;
    return options;
  }

  std::unique_ptr<EtcdMembership> Node(const std::string& id) {
    return std::make_unique<EtcdMembership>(Options(id));
  }

  Membership MustFetch(EtcdMembership& node) {
    absl::StatusOr<Membership> m = node.Fetch();
    EXPECT_TRUE(m.ok()) << m.status();
    return m.ok() ? *m : Membership();
  }

  static internal::MemberState StateOf(const Membership& m,
                                       const std::string& id) {
    const internal::MemberRecord* member = FindMember(m.record, id);
    return member == nullptr ? internal::MEMBER_STATE_UNSPECIFIED
                             : member->state();
  }

  // The value and lease of key /sesh/test/<suffix>, read directly; found
  // is false if the key is absent.
  struct Raw {
    bool found = false;
    std::string value;
    int64_t lease = 0;
  };
  Raw Read(const std::string& suffix) {
    auto kv = etcdserverpb::KV::NewStub(etcd_->channel());
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(5));
    etcdserverpb::RangeRequest request;
    request.set_key("/sesh/test/" + suffix);
    etcdserverpb::RangeResponse response;
    grpc::Status s = kv->Range(&context, request, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    Raw raw;
    if (response.kvs_size() > 0) {
      raw.found = true;
      raw.value = response.kvs(0).value();
      raw.lease = response.kvs(0).lease();
    }
    return raw;
  }

  // Waits up to `timeout` for `done`.
  template <typename F>
  static bool Eventually(F done, absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    while (!done()) {
      if (absl::Now() > deadline) return false;
      absl::SleepFor(absl::Milliseconds(50));
    }
    return true;
  }

  // Founds the cluster with n1 and joins n2, settled: both NORMAL.
  void FoundTwo(EtcdMembership& n1, EtcdMembership& n2) {
    ASSERT_TRUE(n1.Register(kRegisterTimeoutMs).ok());
    absl::StatusOr<Membership> joining = n2.Register(kRegisterTimeoutMs);
    ASSERT_TRUE(joining.ok()) << joining.status();
    ASSERT_TRUE(n2.ReportHandoff(joining->epoch).ok());
    absl::StatusOr<bool> settled = n1.Advance(*joining, {"n2"});
    ASSERT_TRUE(settled.ok()) << settled.status();
    ASSERT_TRUE(*settled);
    const Membership m = MustFetch(n1);
    ASSERT_EQ(StateOf(m, "n1"), NORMAL);
    ASSERT_EQ(StateOf(m, "n2"), NORMAL);
  }

  std::unique_ptr<EtcdProcess> etcd_;
};

TEST_F(EtcdMembershipTest, Fetch_NotFoundBeforeFounding_DataLossOnGarbage) {
  auto n1 = Node("n1");
  EXPECT_EQ(n1->Fetch().status().code(), absl::StatusCode::kNotFound);

  auto kv = etcdserverpb::KV::NewStub(etcd_->channel());
  grpc::ClientContext context;
  etcdserverpb::PutRequest put;
  put.set_key("/sesh/test/members");
  put.set_value("\xff\xff not a record");
  etcdserverpb::PutResponse response;
  ASSERT_TRUE(kv->Put(&context, put, &response).ok());
  absl::StatusOr<Membership> garbage = n1->Fetch();
  EXPECT_EQ(garbage.status().code(), absl::StatusCode::kDataLoss)
      << garbage.status();
}

TEST_F(EtcdMembershipTest, Fetch_SkipsAnEndpointThatDoesNotAnswer) {
  EtcdMembershipOptions options = Options("n1");
  const std::string dead = absl::StrCat("127.0.0.1:", testing::PickFreePort());
  options.endpoints = {dead, etcd_->address()};
  EtcdMembership n1(options);
  absl::StatusOr<Membership> founded = n1.Register(kRegisterTimeoutMs);
  ASSERT_TRUE(founded.ok()) << founded.status();
  EXPECT_EQ(n1.endpoint(), etcd_->address());
  EXPECT_TRUE(n1.Fetch().ok());

  // Only the dead one: UNAVAILABLE, naming it.
  options.endpoints = {dead};
  EtcdMembership nowhere(options);
  absl::StatusOr<Membership> none = nowhere.Fetch();
  EXPECT_EQ(none.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(absl::StrContains(none.status().message(), dead))
      << none.status();
}

TEST_F(EtcdMembershipTest, Register_FirstFounds_SecondJoins_ThirdWaits) {
  auto n1 = Node("n1");
  absl::StatusOr<Membership> founded = n1->Register(kRegisterTimeoutMs);
  ASSERT_TRUE(founded.ok()) << founded.status();
  EXPECT_GT(founded->epoch, 0u);
  ASSERT_EQ(founded->record.members_size(), 1);
  EXPECT_EQ(founded->record.members(0).id(), "n1");
  EXPECT_EQ(founded->record.members(0).address(), "n1.client:7000");
  EXPECT_EQ(founded->record.members(0).peer_address(), "n1.peer:7001");
  EXPECT_EQ(founded->record.members(0).state(), NORMAL);
  EXPECT_EQ(founded->record.replication_factor(), 3);
  const Membership fetched = MustFetch(*n1);
  EXPECT_EQ(fetched.epoch, founded->epoch);
  EXPECT_TRUE(Read("alive/n1").found);
  EXPECT_EQ(Read("alive/n1").value, "n1.client:7000");

  auto n2 = Node("n2");
  absl::StatusOr<Membership> joined = n2->Register(kRegisterTimeoutMs);
  ASSERT_TRUE(joined.ok()) << joined.status();
  EXPECT_GT(joined->epoch, founded->epoch);
  EXPECT_EQ(StateOf(*joined, "n1"), NORMAL);
  EXPECT_EQ(StateOf(*joined, "n2"), JOINING);
  EXPECT_EQ(MustFetch(*n1).epoch, joined->epoch);

  // A third waits while n2's join is under way, then gives up.
  auto n3 = Node("n3");
  const absl::Time start = absl::Now();
  absl::StatusOr<Membership> waited = n3->Register(1500);
  EXPECT_EQ(waited.status().code(), absl::StatusCode::kDeadlineExceeded)
      << waited.status();
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(1400));
  const Membership after = MustFetch(*n1);
  EXPECT_EQ(after.epoch, joined->epoch);
  EXPECT_EQ(FindMember(after.record, "n3"), nullptr);
}

TEST_F(EtcdMembershipTest,
       Advance_SettlesOnlyOnceEveryGainerReportedItsHandoff) {
  auto n1 = Node("n1");
  auto n2 = Node("n2");
  ASSERT_TRUE(n1->Register(kRegisterTimeoutMs).ok());
  ASSERT_TRUE(n2->Register(kRegisterTimeoutMs).ok());
  const Membership seen = MustFetch(*n1);
  ASSERT_EQ(StateOf(seen, "n2"), JOINING);

  absl::StatusOr<bool> advanced = n1->Advance(seen, {"n2"});
  ASSERT_TRUE(advanced.ok()) << advanced.status();
  EXPECT_FALSE(*advanced);
  // A hand-off at another epoch does not count.
  ASSERT_TRUE(n2->ReportHandoff(seen.epoch - 1).ok());
  EXPECT_EQ(Read("handoff/n2").value, absl::StrCat(seen.epoch - 1));
  advanced = n1->Advance(seen, {"n2"});
  ASSERT_TRUE(advanced.ok()) << advanced.status();
  EXPECT_FALSE(*advanced);
  EXPECT_EQ(MustFetch(*n1).epoch, seen.epoch);

  ASSERT_TRUE(n2->ReportHandoff(seen.epoch).ok());
  advanced = n1->Advance(seen, {"n2"});
  ASSERT_TRUE(advanced.ok()) << advanced.status();
  EXPECT_TRUE(*advanced);
  const Membership settled = MustFetch(*n1);
  EXPECT_GT(settled.epoch, seen.epoch);
  EXPECT_EQ(StateOf(settled, "n1"), NORMAL);
  EXPECT_EQ(StateOf(settled, "n2"), NORMAL);

  // Nothing under way: nothing to do.
  advanced = n2->Advance(settled, {});
  ASSERT_TRUE(advanced.ok()) << advanced.status();
  EXPECT_FALSE(*advanced);
  EXPECT_EQ(MustFetch(*n1).epoch, settled.epoch);
}

TEST_F(EtcdMembershipTest, Decommission_MarksLeaving_AdvanceRemovesIt) {
  auto n1 = Node("n1");
  auto n2 = Node("n2");
  FoundTwo(*n1, *n2);

  EXPECT_EQ(n1->Decommission("nobody").status().code(),
            absl::StatusCode::kNotFound);
  absl::StatusOr<Membership> leaving = n1->Decommission("n2");
  ASSERT_TRUE(leaving.ok()) << leaving.status();
  EXPECT_EQ(StateOf(*leaving, "n2"), LEAVING);
  EXPECT_EQ(StateOf(*leaving, "n1"), NORMAL);
  EXPECT_EQ(MustFetch(*n1).epoch, leaving->epoch);
  // Again (as when an answer was lost): already done, nothing changes.
  absl::StatusOr<Membership> again = n1->Decommission("n2");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->epoch, leaving->epoch);
  // Another change waits for this one.
  EXPECT_EQ(n2->Decommission("n1").status().code(),
            absl::StatusCode::kFailedPrecondition);

  // A leaving member needs no alive key: only the gainer's hand-off counts.
  n2.reset();
  absl::StatusOr<bool> advanced = n1->Advance(*leaving, {"n1"});
  ASSERT_TRUE(advanced.ok()) << advanced.status();
  EXPECT_FALSE(*advanced);
  ASSERT_TRUE(n1->ReportHandoff(leaving->epoch).ok());
  advanced = n1->Advance(*leaving, {"n1"});
  ASSERT_TRUE(advanced.ok()) << advanced.status();
  EXPECT_TRUE(*advanced);
  const Membership left = MustFetch(*n1);
  ASSERT_EQ(left.record.members_size(), 1);
  EXPECT_EQ(left.record.members(0).id(), "n1");
  EXPECT_EQ(left.record.members(0).state(), NORMAL);

  // The last member holding data stays.
  EXPECT_EQ(n1->Decommission("n1").status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(EtcdMembershipTest, Register_ARestartedMemberChangesNothing) {
  auto n1 = Node("n1");
  auto n2 = Node("n2");
  FoundTwo(*n1, *n2);
  const Membership before = MustFetch(*n1);

  n2.reset();
  n2 = Node("n2");
  absl::StatusOr<Membership> again = n2->Register(kRegisterTimeoutMs);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->epoch, before.epoch);
  EXPECT_EQ(again->record.SerializeAsString(),
            before.record.SerializeAsString());
  EXPECT_EQ(MustFetch(*n1).epoch, before.epoch);
  EXPECT_TRUE(Read("alive/n2").found);

  // Restarted at another address: the record follows it.
  n2.reset();
  EtcdMembershipOptions moved = Options("n2");
  moved.self.address = "elsewhere:8000";
  moved.self.peer_address = "elsewhere:8001";
  n2 = std::make_unique<EtcdMembership>(moved);
  absl::StatusOr<Membership> updated = n2->Register(kRegisterTimeoutMs);
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_GT(updated->epoch, before.epoch);
  const internal::MemberRecord* member = FindMember(updated->record, "n2");
  ASSERT_NE(member, nullptr);
  EXPECT_EQ(member->address(), "elsewhere:8000");
  EXPECT_EQ(member->peer_address(), "elsewhere:8001");
  EXPECT_EQ(member->state(), NORMAL);
  EXPECT_EQ(MustFetch(*n1).record.SerializeAsString(),
            updated->record.SerializeAsString());
}

TEST_F(EtcdMembershipTest, Advance_RollsBackAJoinerThatIsGone) {
  auto n1 = Node("n1");
  absl::StatusOr<Membership> founded = n1->Register(kRegisterTimeoutMs);
  ASSERT_TRUE(founded.ok()) << founded.status();
  auto n2 = Node("n2");
  ASSERT_TRUE(n2->Register(kRegisterTimeoutMs).ok());
  const Membership seen = MustFetch(*n1);
  ASSERT_EQ(StateOf(seen, "n2"), JOINING);

  // Alive and not done: nothing to do.
  absl::StatusOr<bool> advanced = n1->Advance(seen, {"n2"});
  ASSERT_TRUE(advanced.ok()) << advanced.status();
  EXPECT_FALSE(*advanced);

  // Stopped: its lease is revoked and its alive key goes with it.
  n2.reset();
  EXPECT_FALSE(Read("alive/n2").found);
  advanced = n1->Advance(seen, {"n2"});
  ASSERT_TRUE(advanced.ok()) << advanced.status();
  EXPECT_TRUE(*advanced);
  const Membership rolled = MustFetch(*n1);
  EXPECT_GT(rolled.epoch, seen.epoch);
  EXPECT_EQ(rolled.record.SerializeAsString(),
            founded->record.SerializeAsString());
}

TEST_F(EtcdMembershipTest, Advance_OfTwoOnTheSameEpochExactlyOneWins) {
  auto n1 = Node("n1");
  auto n2 = Node("n2");
  FoundTwo(*n1, *n2);
  ASSERT_TRUE(n1->Decommission("n2").ok());
  const Membership seen = MustFetch(*n1);

  // Concurrently, from two nodes.
  absl::StatusOr<bool> one = false;
  absl::StatusOr<bool> two = false;
  std::thread t1([&] { one = n1->Advance(seen, {}); });
  std::thread t2([&] { two = n2->Advance(seen, {}); });
  t1.join();
  t2.join();
  ASSERT_TRUE(one.ok()) << one.status();
  ASSERT_TRUE(two.ok()) << two.status();
  EXPECT_NE(*one, *two);
  const Membership settled = MustFetch(*n1);
  EXPECT_EQ(settled.record.members_size(), 1);
  EXPECT_GT(settled.epoch, seen.epoch);

  // Once more on the same stale epoch: the swap fails, nothing changes.
  absl::StatusOr<bool> late = n1->Advance(seen, {});
  ASSERT_TRUE(late.ok()) << late.status();
  EXPECT_FALSE(*late);
  EXPECT_EQ(MustFetch(*n1).epoch, settled.epoch);
}

TEST_F(EtcdMembershipTest, Register_OfTwoJoinersOnlyOneJoins) {
  auto n1 = Node("n1");
  ASSERT_TRUE(n1->Register(kRegisterTimeoutMs).ok());
  auto n2 = Node("n2");
  auto n3 = Node("n3");
  absl::StatusOr<Membership> two = absl::UnknownError("not run");
  absl::StatusOr<Membership> three = absl::UnknownError("not run");
  std::thread t2([&] { two = n2->Register(1500); });
  std::thread t3([&] { three = n3->Register(1500); });
  t2.join();
  t3.join();
  EXPECT_NE(two.ok(), three.ok()) << two.status() << " / " << three.status();
  const absl::StatusOr<Membership>& lost = two.ok() ? three : two;
  EXPECT_EQ(lost.status().code(), absl::StatusCode::kDeadlineExceeded)
      << lost.status();
  const Membership m = MustFetch(*n1);
  EXPECT_EQ(m.record.members_size(), 2);
}

TEST_F(EtcdMembershipTest, KeepAlive_OutlivesTheTtl_ALapsedLeaseIsGrantedAnew) {
  auto n1 = Node("n1");  // lease TTL 2 s
  ASSERT_TRUE(n1->Register(kRegisterTimeoutMs).ok());
  const Raw first = Read("alive/n1");
  ASSERT_TRUE(first.found);
  ASSERT_NE(first.lease, 0);
  absl::SleepFor(absl::Milliseconds(3500));
  EXPECT_EQ(Read("alive/n1").lease, first.lease);

  // The lease is gone (as after a long etcd outage): a new one, and the
  // alive key back under it.
  auto lease = etcdserverpb::Lease::NewStub(etcd_->channel());
  grpc::ClientContext context;
  etcdserverpb::LeaseRevokeRequest revoke;
  revoke.set_id(first.lease);
  etcdserverpb::LeaseRevokeResponse revoked;
  ASSERT_TRUE(lease->LeaseRevoke(&context, revoke, &revoked).ok());
  EXPECT_FALSE(Read("alive/n1").found);
  EXPECT_TRUE(Eventually(
      [&] {
        const Raw now = Read("alive/n1");
        return now.found && now.lease != first.lease;
      },
      absl::Seconds(5)));

  // Stopping revokes it.
  n1.reset();
  EXPECT_FALSE(Read("alive/n1").found);
}

TEST_F(EtcdMembershipTest, Watch_CalledAfterChangesAndAfterEtcdRestarts) {
  auto n1 = Node("n1");
  ASSERT_TRUE(n1->Register(kRegisterTimeoutMs).ok());
  auto watcher = Node("watcher");
  Counter changed;
  watcher->Watch([&changed] { changed.Increment(); });
  // Once connected.
  ASSERT_TRUE(changed.WaitAbove(0, absl::Seconds(5)));

  int seen = changed.count();
  ASSERT_TRUE(n1->ReportHandoff(1).ok());
  EXPECT_TRUE(changed.WaitAbove(seen, absl::Seconds(5)));

  // A change outside the cluster's prefix is not seen.
  {
    absl::SleepFor(absl::Milliseconds(200));
    seen = changed.count();
    auto kv = etcdserverpb::KV::NewStub(etcd_->channel());
    grpc::ClientContext context;
    etcdserverpb::PutRequest put;
    put.set_key("/sesh/test2/members");
    put.set_value("other");
    etcdserverpb::PutResponse response;
    ASSERT_TRUE(kv->Put(&context, put, &response).ok());
    EXPECT_FALSE(changed.WaitAbove(seen, absl::Milliseconds(500)));
  }

  etcd_->Kill();
  absl::StatusOr<Membership> down = n1->Fetch();
  EXPECT_EQ(down.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(absl::StrContains(down.status().message(), etcd_->address()))
      << down.status();
  seen = changed.count();
  absl::Status restarted = etcd_->Start();
  ASSERT_TRUE(restarted.ok()) << restarted;
  // Reconnected: called, as a change may have been missed. (gRPC's
  // reconnect backoff and a busy machine: allow some seconds.)
  ASSERT_TRUE(changed.WaitAbove(seen, absl::Seconds(15)));

  seen = changed.count();
  EXPECT_TRUE(
      Eventually([&] { return n1->ReportHandoff(2).ok(); }, absl::Seconds(5)));
  EXPECT_TRUE(changed.WaitAbove(seen, absl::Seconds(5)));
  EXPECT_EQ(Read("handoff/n1").value, "2");
}

}  // namespace
}  // namespace sesh
