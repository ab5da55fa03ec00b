// Managed membership with real processes: a real etcd and sesh-node
// processes with --etcd grow from 3 nodes to 5 and shrink back to 3 under a
// recorded load of creates, updates, destroys and get+touch, and nodes are
// killed with SIGKILL in the middle of a hand-off. The checker records every
// acknowledged operation, as in tests/failover_test, and checks every read
// against it while the load runs and every session afterwards.
// docs/scaling.md describes the protocol under test.

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "client/sesh/client.h"
#include "gtest/gtest.h"
#include "replication/placement.h"
#include "replication/session_id.h"
#include "tests/cluster_calls.h"
#include "tests/etcd_process.h"
#include "tests/node_process.h"
#include "tests/recorded_load.h"
#include "tests/status_matchers.h"
#include "tests/test_credentials.h"

namespace sesh {
namespace {

using testing::EtcdProcess;
using testing::GetThrough;
using testing::NewTempDir;
using testing::NodeProcess;
using testing::NowMs;
using testing::PickFreePort;
using testing::PollUntil;
using testing::CheckAll;
using testing::History;
using testing::NodeStats;
using testing::ReadReplica;
using testing::RecordedLoad;

constexpr int64_t kIdle = testing::kTestIdleMs;

class ScalingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = NewTempDir("scaling");
    etcd_ = std::make_unique<EtcdProcess>(dir_ + "/etcd");
    absl::Status started = etcd_->Start();
    ASSERT_TRUE(started.ok()) << started;
  }

  // Node n<i>, managed in the test's etcd; not started.
  NodeProcess& Node(int i, std::vector<std::string> extra = {}) {
    auto& slot = nodes_[i];
    if (slot == nullptr) {
      std::vector<std::string> flags = {
          absl::StrCat("--etcd=", etcd_->address()),
          "--etcd_lease_ttl_s=3",
          "--orphan_delay_ms=2000",
          "--touch_flush_interval_ms=200",
      };
      flags.insert(flags.end(), extra.begin(), extra.end());
      slot = std::make_unique<NodeProcess>(absl::StrCat("n", i), PickFreePort(),
                                           PickFreePort(),
                                           absl::StrCat(dir_, "/n", i), flags);
    }
    return *slot;
  }

  static absl::StatusOr<v1::NodeStatsResponse> Stats(NodeProcess& node) {
    return NodeStats(node);
  }

  // "n1:NORMAL n2:JOINING ..." as `node` last read it from etcd.
  static std::string Members(NodeProcess& node) {
    absl::StatusOr<v1::NodeStatsResponse> stats = Stats(node);
    if (!stats.ok()) return stats.status().ToString();
    std::vector<std::string> parts;
    for (const v1::MemberStatus& m : stats->membership().members()) {
      parts.push_back(absl::StrCat(m.id(), ":", m.state()));
    }
    return absl::StrJoin(parts, " ");
  }

  // Waits until every running node of `ids` reports exactly those members,
  // all NORMAL, at the same epoch.
  bool WaitSettled(const std::vector<int>& ids, int timeout_ms = 60000) {
    std::vector<std::string> want;
    for (int i : ids) want.push_back(absl::StrCat("n", i, ":NORMAL"));
    const std::string expected = absl::StrJoin(want, " ");
    return PollUntil(timeout_ms, 50, [&] {
      uint64_t epoch = 0;
      for (int i : ids) {
        NodeProcess& node = Node(i);
        if (!node.running()) continue;
        absl::StatusOr<v1::NodeStatsResponse> stats = Stats(node);
        if (!stats.ok() || Members(node) != expected) return false;
        if (epoch != 0 && stats->membership().epoch() != epoch) return false;
        epoch = stats->membership().epoch();
      }
      return true;
    });
  }

  std::unique_ptr<Client> Connect(const std::vector<int>& seeds) {
    ClientOptions options;
    for (int i : seeds) options.seeds.push_back(Node(i).address());
    options.tls_ca_pem = testing::Credentials().ca_pem;
    options.token = testing::Credentials().admin_token;
    options.deadline = absl::Seconds(3);
    auto client = Client::Connect(options);
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? std::move(*client) : nullptr;
  }

  std::string dir_;
  std::unique_ptr<EtcdProcess> etcd_;
  std::map<int, std::unique_ptr<NodeProcess>> nodes_;
};


TEST_F(ScalingTest, Scale3To5To3_UnderRecordedLoad_NothingLost) {
  for (int i = 1; i <= 3; ++i) ASSERT_THAT(Node(i).Start(60000), IsOk());
  ASSERT_TRUE(WaitSettled({1, 2, 3})) << Members(Node(1));
  std::unique_ptr<Client> client = Connect({1, 2, 3});
  ASSERT_NE(client, nullptr);

  RecordedLoad load(client.get(), 4);
  const char* kSteps[] = {"3 nodes",  "join n4",  "join n5",
                          "leave n5", "leave n4", "3 nodes again"};
  std::this_thread::sleep_for(std::chrono::seconds(2));
  // Scale up, one node at a time (a second join waits for the first).
  load.SetPhase(1);
  ASSERT_THAT(Node(4).Start(60000), IsOk());
  ASSERT_TRUE(WaitSettled({1, 2, 3, 4})) << Members(Node(1));
  absl::StatusOr<v1::NodeStatsResponse> joined = Stats(Node(4));
  ASSERT_TRUE(joined.ok());
  EXPECT_TRUE(joined->membership().handoff().done());
  load.SetPhase(2);
  ASSERT_THAT(Node(5).Start(60000), IsOk());
  ASSERT_TRUE(WaitSettled({1, 2, 3, 4, 5})) << Members(Node(1));
  std::this_thread::sleep_for(std::chrono::seconds(1));
  // Scale down: each leaver hands its partitions over, then stops.
  load.SetPhase(3);
  absl::StatusOr<uint64_t> leaving = client->Decommission("n5");
  ASSERT_TRUE(leaving.ok()) << leaving.status();
  EXPECT_TRUE(Node(5).WaitForExit(60000));
  ASSERT_TRUE(WaitSettled({1, 2, 3, 4})) << Members(Node(1));
  load.SetPhase(4);
  leaving = client->Decommission("n4");
  ASSERT_TRUE(leaving.ok()) << leaving.status();
  EXPECT_TRUE(Node(4).WaitForExit(60000));
  ASSERT_TRUE(WaitSettled({1, 2, 3})) << Members(Node(1));
  load.SetPhase(5);
  std::this_thread::sleep_for(std::chrono::seconds(1));
  load.Stop();

  for (int phase = 0; phase <= 5; ++phase) {
    fprintf(stderr, "scale step %-14s %6lld ops, %lld client-visible errors\n",
            kSteps[phase], static_cast<long long>(load.ops(phase)),
            static_cast<long long>(load.errors(phase)));
  }
  fprintf(stderr, "longest read outage: %lld ms\n",
          static_cast<long long>(load.longest_read_outage_ms()));
  for (const std::string& v : load.violations()) ADD_FAILURE() << v;
  // A few writes per switch may be refused (docs/scaling.md), not more.
  for (int phase = 0; phase <= 5; ++phase) {
    EXPECT_LE(load.errors(phase), std::max<int64_t>(20, load.ops(phase) / 20))
        << kSteps[phase];
  }
  EXPECT_GT(load.ops(1) + load.ops(2) + load.ops(3) + load.ops(4), 100);
  // Reads never fail for longer than a failover would take.
  EXPECT_LT(load.longest_read_outage_ms(), 3000);
  CheckAll(nodes_, {1, 2, 3}, load.histories());
}

// Preloads `count` sessions through `client` with a counter at 1.
std::map<std::string, History> Preload(Client* client, int count) {
  std::map<std::string, History> histories;
  for (int i = 0; i < count; ++i) {
    CreateOptions create;
    create.idle_timeout_ms = kIdle;
    create.attributes["n"] = "1";
    create.attributes["pad"] = std::string(200, 'x');
    absl::StatusOr<SessionData> created = client->Create("shop", create);
    if (!created.ok()) continue;
    History h;
    h.last_acked = h.last_attempted = 1;
    histories[created->id] = h;
  }
  return histories;
}

// Waits until `node` reports a hand-off that received some records.
bool WaitHandoffUnderWay(NodeProcess& node) {
  return PollUntil(30000, 20, [&] {
    absl::StatusOr<v1::NodeStatsResponse> stats = NodeStats(node);
    if (!stats.ok()) return false;
    const v1::HandoffStats& h = stats->membership().handoff();
    return h.records_received() > 0 && !h.done();
  });
}

TEST_F(ScalingTest, KillJoiningNodeMidHandoff_RolledBackThenRejoins) {
  for (int i = 1; i <= 3; ++i) ASSERT_THAT(Node(i).Start(60000), IsOk());
  ASSERT_TRUE(WaitSettled({1, 2, 3})) << Members(Node(1));
  std::unique_ptr<Client> client = Connect({1, 2, 3});
  ASSERT_NE(client, nullptr);
  std::map<std::string, History> histories = Preload(client.get(), 1500);
  ASSERT_GT(histories.size(), 1400u);

  // A slow hand-off (64 KiB/s), killed while under way.
  NodeProcess& joiner = Node(4, {"--handoff_max_bytes_per_s=65536"});
  ASSERT_THAT(joiner.Start(60000), IsOk());
  ASSERT_TRUE(WaitHandoffUnderWay(joiner)) << Members(Node(1));
  joiner.Kill();
  // Its lease lapses (3 s) and the join is rolled back.
  ASSERT_TRUE(WaitSettled({1, 2, 3})) << Members(Node(1));
  CheckAll(nodes_, {1, 2, 3}, histories);

  // Restarted (same data dir), it joins again and completes.
  nodes_.erase(4);
  ASSERT_THAT(Node(4).Start(60000), IsOk());
  ASSERT_TRUE(WaitSettled({1, 2, 3, 4})) << Members(Node(1));
  CheckAll(nodes_, {1, 2, 3, 4}, histories);
  // What moved is what placement promises: the joiner takes a quarter of
  // the replicas, 3/4 of the sessions, each fetched from two replicas.
  absl::StatusOr<v1::NodeStatsResponse> stats = Stats(Node(4));
  ASSERT_TRUE(stats.ok());
  const double moved = stats->membership().handoff().records_received() / 2.0 /
                       static_cast<double>(histories.size());
  fprintf(stderr, "join of n4 moved %.3f of the sessions (placement: 0.75)\n",
          moved);
  EXPECT_GT(moved, 0.65);
  EXPECT_LT(moved, 0.85);
}

TEST_F(ScalingTest, KillSourceMidHandoff_MoveCompletesNothingLost) {
  for (int i = 1; i <= 3; ++i) ASSERT_THAT(Node(i).Start(60000), IsOk());
  ASSERT_TRUE(WaitSettled({1, 2, 3})) << Members(Node(1));
  std::unique_ptr<Client> client = Connect({1, 2, 3});
  ASSERT_NE(client, nullptr);
  std::map<std::string, History> histories = Preload(client.get(), 1500);
  ASSERT_GT(histories.size(), 1400u);

  NodeProcess& joiner = Node(4, {"--handoff_max_bytes_per_s=65536"});
  ASSERT_THAT(joiner.Start(60000), IsOk());
  ASSERT_TRUE(WaitHandoffUnderWay(joiner)) << Members(Node(1));
  Node(2).Kill();  // a source of the hand-off
  // The joiner finishes from the other replicas; the move settles without
  // waiting for the dead one, which stays a member (down is not gone).
  ASSERT_TRUE(WaitSettled({1, 2, 3, 4})) << Members(Node(1));
  CheckAll(nodes_, {1, 3, 4}, histories, {1, 2, 3, 4});
  ASSERT_THAT(Node(2).Start(60000), IsOk());
  ASSERT_TRUE(WaitSettled({1, 2, 3, 4})) << Members(Node(1));
  CheckAll(nodes_, {1, 2, 3, 4}, histories);
}

TEST_F(ScalingTest, EtcdDown_ClusterServesOnLastMembership_ChangesWait) {
  for (int i = 1; i <= 3; ++i) ASSERT_THAT(Node(i).Start(60000), IsOk());
  ASSERT_TRUE(WaitSettled({1, 2, 3})) << Members(Node(1));
  std::unique_ptr<Client> client = Connect({1, 2, 3});
  ASSERT_NE(client, nullptr);
  std::map<std::string, History> histories = Preload(client.get(), 100);
  const uint64_t epoch = Stats(Node(1))->membership().epoch();

  etcd_->Kill();
  // Every node notices, and keeps serving reads and writes.
  ASSERT_TRUE(PollUntil(10000, 50, [&] {
    for (int i = 1; i <= 3; ++i) {
      absl::StatusOr<v1::NodeStatsResponse> s = Stats(Node(i));
      if (!s.ok() || s->membership().etcd_error().empty()) return false;
    }
    return true;
  }));
  int ok = 0;
  for (auto& [id, h] : histories) {
    UpdateOptions update;
    update.set["n"] = "2";
    h.last_attempted = 2;
    if (client->Update("shop", id, update).ok()) {
      h.last_acked = 2;
      ++ok;
    }
  }
  EXPECT_EQ(ok, static_cast<int>(histories.size()));
  // A membership change cannot be made now.
  absl::StatusOr<uint64_t> refused = client->Decommission("n3");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable)
      << refused.status();
  EXPECT_EQ(Stats(Node(2))->membership().epoch(), epoch);

  ASSERT_THAT(etcd_->Start(), IsOk());
  ASSERT_TRUE(PollUntil(10000, 50, [&] {
    absl::StatusOr<v1::NodeStatsResponse> s = Stats(Node(1));
    return s.ok() && s->membership().etcd_error().empty();
  }));
  // Changes go through again.
  ASSERT_THAT(Node(4).Start(60000), IsOk());
  ASSERT_TRUE(WaitSettled({1, 2, 3, 4})) << Members(Node(1));
  CheckAll(nodes_, {1, 2, 3, 4}, histories);
}

}  // namespace
}  // namespace sesh
