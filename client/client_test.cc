// sesh::Client against in-process fake nodes (client/internal/fake_node.h):
// connecting, routing and retries, batching and coalescing of Gets, StreamGet,
// and the other single-session and cluster calls. The user-level calls and
// security are in client_user_calls_test.cc and client_security_test.cc.

#include "client/sesh/client.h"

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/internal/fake_node.h"
#include "gtest/gtest.h"
#include "replication/placement.h"
#include "replication/session_id.h"

namespace sesh {
namespace {

using testing::FakeCluster;
using testing::FakeNode;
using testing::IdOwnedBy;
using testing::kNs;
using testing::PollUntil;
using testing::TestCluster;
using testing::TestId;

TEST(ClientTest, Connect_NoSeedAnswers_Unavailable) {
  std::string address;
  {
    FakeCluster cluster(1);
    FakeNode gone("n1", &cluster);
    address = gone.address();
  }
  ClientOptions options;
  options.insecure = true;
  options.seeds = {address};
  options.deadline = absl::Milliseconds(500);
  absl::StatusOr<std::unique_ptr<Client>> client = Client::Connect(options);
  EXPECT_EQ(client.status().code(), absl::StatusCode::kUnavailable);
}

TEST(ClientTest, Connect_NoSeeds_InvalidArgument) {
  EXPECT_EQ(Client::Connect(ClientOptions()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ClientTest, Get_OwnerNode_NoOtherNodeCalled) {
  TestCluster tc(3, 2);
  std::unique_ptr<Client> client = tc.Connect();
  ASSERT_NE(client, nullptr);
  PlacementMap placement = tc.Placement(3);
  for (int owner = 0; owner < 3; ++owner) {
    const std::string id = IdOwnedBy(placement, tc.node(owner).id());
    std::vector<int> before;
    for (int i = 0; i < 3; ++i) before.push_back(tc.node(i).gets.load());

    absl::StatusOr<SessionData> s = client->Get(kNs, id);

    ASSERT_TRUE(s.ok()) << s.status();
    EXPECT_EQ(s->id, id);
    EXPECT_EQ(s->namespace_, kNs);
    EXPECT_EQ(s->attributes["served_by"], tc.node(owner).id());
    EXPECT_EQ(*client->OwnerOf(id), tc.node(owner).id());
    for (int i = 0; i < 3; ++i) {
      EXPECT_EQ(tc.node(i).gets.load() - before[i], i == owner ? 1 : 0)
          << "node " << i << ", owner " << owner;
      EXPECT_EQ(tc.node(i).batch_gets.load(), 0);
    }
  }
}

TEST(ClientTest, Get_MalformedId_InvalidArgumentWithoutRpc) {
  TestCluster tc(1, 1);
  std::unique_ptr<Client> client = tc.Connect();
  ASSERT_NE(client, nullptr);
  EXPECT_EQ(client->Get(kNs, "not-an-id").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(tc.node(0).gets.load(), 0);
}

// A Get to a node that does not answer fails with DEADLINE_EXCEEDED at the
// client's `deadline`, not much later.
void ExpectGetFailsAtDeadline(Client* client, absl::Duration deadline) {
  const absl::Time start = absl::Now();
  absl::StatusOr<SessionData> s = client->Get(kNs, TestId(1));
  const absl::Duration elapsed = absl::Now() - start;

  EXPECT_EQ(s.status().code(), absl::StatusCode::kDeadlineExceeded)
      << s.status();
  EXPECT_GE(elapsed, deadline - absl::Milliseconds(20));
  EXPECT_LT(elapsed, deadline + absl::Milliseconds(1200));
}

TEST(ClientTest, Get_ServerSlowerThanDeadline_DeadlineExceededAtDeadline) {
  TestCluster tc(1, 1);
  ClientOptions options = tc.Options();
  options.deadline = absl::Milliseconds(300);
  std::unique_ptr<Client> client = tc.Connect(options);
  ASSERT_NE(client, nullptr);
  tc.node(0).park = true;

  ExpectGetFailsAtDeadline(client.get(), absl::Milliseconds(300));
  tc.node(0).ReleaseParked();
}

TEST(ClientTest, Update_ServerSlowerThanDeadline_DeadlineExceededOneCall) {
  TestCluster tc(1, 1);
  ClientOptions options = tc.Options();
  options.deadline = absl::Milliseconds(300);
  std::unique_ptr<Client> client = tc.Connect(options);
  ASSERT_NE(client, nullptr);
  tc.node(0).park = true;

  const absl::Time start = absl::Now();
  absl::StatusOr<SessionData> s = client->Update(kNs, TestId(1), {});
  const absl::Duration elapsed = absl::Now() - start;

  EXPECT_EQ(s.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_GE(elapsed, absl::Milliseconds(280));
  EXPECT_LT(elapsed, absl::Milliseconds(1500));
  EXPECT_EQ(tc.node(0).updates.load(), 1);
  tc.node(0).ReleaseParked();
}

TEST(ClientTest, Get_UnavailableOnce_RetriedAndSucceeds) {
  TestCluster tc(1, 1);
  std::unique_ptr<Client> client = tc.Connect();
  ASSERT_NE(client, nullptr);
  tc.node(0).fail_next_unavailable = 1;

  absl::StatusOr<SessionData> s = client->Get(kNs, TestId(1));

  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->id, TestId(1));
  EXPECT_EQ(tc.node(0).gets.load(), 2);
}

TEST(ClientTest, Update_UnavailableOnce_NotRetried) {
  TestCluster tc(1, 1);
  std::unique_ptr<Client> client = tc.Connect();
  ASSERT_NE(client, nullptr);
  tc.node(0).fail_next_unavailable = 1;
  UpdateOptions update;
  update.set["k"] = "v";

  absl::StatusOr<SessionData> s = client->Update(kNs, TestId(1), update);

  EXPECT_EQ(s.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(tc.node(0).updates.load(), 1);
}

TEST(ClientTest, Update_PrimaryUnreachable_SentOnceToNextReplica) {
  TestCluster tc(2, 2);
  ClientOptions options;
  options.insecure = true;
  options.seeds = {tc.node(1).address()};
  options.stream_writes = false;  // unary; client_write_stream_test: streams
  std::unique_ptr<Client> client = tc.Connect(options);
  ASSERT_NE(client, nullptr);
  const std::string id = IdOwnedBy(tc.Placement(2), "n1");
  tc.node(0).Stop();  // still listed as up: the client finds out itself
  UpdateOptions update;
  update.set["k"] = "v";

  absl::StatusOr<SessionData> s = client->Update(kNs, id, update);

  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->attributes["served_by"], "n2");
  EXPECT_EQ(tc.node(1).updates.load(), 1);
}

TEST(ClientTest, Get_PrimaryUnreachable_ServedByNextReplica) {
  TestCluster tc(2, 2);
  ClientOptions options;
  options.insecure = true;
  options.seeds = {tc.node(1).address()};
  std::unique_ptr<Client> client = tc.Connect(options);
  ASSERT_NE(client, nullptr);
  const std::string id = IdOwnedBy(tc.Placement(2), "n1");
  tc.node(0).Stop();

  absl::StatusOr<SessionData> s = client->Get(kNs, id);

  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->attributes["served_by"], "n2");
}

TEST(ClientTest, Get_EpochChanged_RefetchesTopologyAndRoutesByNewMap) {
  TestCluster tc(3, 1);
  tc.cluster().SetMembers({&tc.node(0), &tc.node(1)});
  ClientOptions options;
  options.insecure = true;
  options.seeds = {tc.node(0).address()};
  std::unique_ptr<Client> client = tc.Connect(options);
  ASSERT_NE(client, nullptr);
  // Gets the node answered (single Gets go over StreamGet by default).
  auto reads = [&](int n) {
    return tc.node(n).gets.load() + tc.node(n).stream_messages.load();
  };
  // Owned by n3 once it joins; by n1 or n2 before.
  const std::string id = IdOwnedBy(tc.Placement(3), "n3");
  ASSERT_TRUE(client->Get(kNs, id).ok());
  EXPECT_EQ(reads(2), 0);
  const int topologies_before =
      tc.node(0).topologies + tc.node(1).topologies + tc.node(2).topologies;

  tc.cluster().SetMembers({&tc.node(0), &tc.node(1), &tc.node(2)});

  EXPECT_TRUE(PollUntil([&] {
    EXPECT_TRUE(client->Get(kNs, id).ok());
    return reads(2) > 0;
  }));
  EXPECT_GT(
      tc.node(0).topologies + tc.node(1).topologies + tc.node(2).topologies,
      topologies_before);
  EXPECT_EQ(*client->OwnerOf(id), "n3");
  const int n3_reads = reads(2);
  ASSERT_TRUE(client->Get(kNs, id).ok());
  EXPECT_EQ(reads(2), n3_reads + 1);
}

TEST(ClientTest, BatchGet_IdsOnThreeNodes_OneRpcPerNodeResultsInOrder) {
  TestCluster tc(3, 2);
  std::unique_ptr<Client> client = tc.Connect();
  ASSERT_NE(client, nullptr);
  PlacementMap placement = tc.Placement(3);
  std::vector<std::string> ids;
  for (uint64_t round = 0; round < 3; ++round) {
    for (int n = 0; n < 3; ++n) {
      ids.push_back(IdOwnedBy(placement, tc.node(n).id(), round * 1000));
    }
  }
  const std::string missing = IdOwnedBy(placement, "n2", 5000);
  tc.node(1).AddMissing(missing);
  ids.insert(ids.begin() + 4, missing);
  ids.insert(ids.begin() + 2, "malformed");

  std::vector<absl::StatusOr<SessionData>> results = client->BatchGet(kNs, ids);

  ASSERT_EQ(results.size(), ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] == "malformed") {
      EXPECT_EQ(results[i].status().code(), absl::StatusCode::kInvalidArgument);
    } else if (ids[i] == missing) {
      EXPECT_EQ(results[i].status().code(), absl::StatusCode::kNotFound);
    } else {
      ASSERT_TRUE(results[i].ok()) << i << ": " << results[i].status();
      EXPECT_EQ(results[i]->id, ids[i]);
    }
  }
  for (int n = 0; n < 3; ++n) {
    EXPECT_EQ(tc.node(n).batch_gets.load(), 1);
    for (const std::string& id : tc.node(n).received()) {
      EXPECT_EQ(*client->OwnerOf(id), tc.node(n).id());
    }
  }
}

TEST(ClientTest, GetAsync_SlotBusy_QueuedGetsLeaveInOneBatch) {
  TestCluster tc(1, 1);
  ClientOptions options = tc.Options();
  options.max_batches_in_flight_per_node = 1;
  options.max_batch_wait = absl::Seconds(10);  // only completions send
  options.deadline = absl::Seconds(10);
  std::unique_ptr<Client> client = tc.Connect(options);
  ASSERT_NE(client, nullptr);
  tc.node(0).park = true;
  tc.node(0).AddMissing(TestId(7));
  constexpr int kGets = 20;
  std::vector<absl::StatusOr<SessionData>> results(kGets,
                                                   absl::UnknownError(""));
  absl::BlockingCounter done(kGets);

  for (int i = 0; i < kGets; ++i) {
    client->GetAsync(kNs, TestId(i), true,
                     [&results, &done, i](absl::StatusOr<SessionData> s) {
                       results[i] = std::move(s);
                       done.DecrementCount();
                     });
  }
  ASSERT_TRUE(PollUntil([&] { return tc.node(0).parked() == 1; }));
  tc.node(0).park = false;
  tc.node(0).ReleaseParked();
  done.Wait();

  EXPECT_EQ(tc.node(0).gets.load(), 1);
  EXPECT_EQ(tc.node(0).batch_gets.load(), 1);
  EXPECT_EQ(tc.node(0).batch_sizes(), std::vector<int>({1, kGets - 1}));
  for (int i = 0; i < kGets; ++i) {
    if (i == 7) {
      EXPECT_EQ(results[i].status().code(), absl::StatusCode::kNotFound);
    } else {
      ASSERT_TRUE(results[i].ok()) << i << ": " << results[i].status();
      EXPECT_EQ(results[i]->id, TestId(i));
    }
  }
}

TEST(ClientTest, GetAsync_NodeQueueFull_ResourceExhaustedWithoutRpc) {
  TestCluster tc(1, 1);
  ClientOptions options = tc.Options();
  options.max_batches_in_flight_per_node = 1;
  options.max_batch_wait = absl::Seconds(10);  // only completions send
  options.deadline = absl::Seconds(10);
  options.max_queued_gets_per_node = 2;
  std::unique_ptr<Client> client = tc.Connect(options);
  ASSERT_NE(client, nullptr);
  tc.node(0).park = true;
  constexpr int kGets = 4;  // the first sent (parked), 2 queued, 1 refused
  std::vector<absl::StatusOr<SessionData>> results(kGets,
                                                   absl::UnknownError(""));
  absl::Notification refused;
  absl::BlockingCounter done(kGets);

  for (int i = 0; i < kGets; ++i) {
    client->GetAsync(
        kNs, TestId(i), true,
        [&results, &refused, &done, i](absl::StatusOr<SessionData> s) {
          results[i] = std::move(s);
          if (i == kGets - 1) refused.Notify();
          done.DecrementCount();
        });
  }
  // Refused while the others still wait.
  ASSERT_TRUE(refused.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_EQ(results[kGets - 1].status().code(),
            absl::StatusCode::kResourceExhausted);
  ASSERT_TRUE(PollUntil([&] { return tc.node(0).parked() == 1; }));
  tc.node(0).park = false;
  tc.node(0).ReleaseParked();
  done.Wait();

  for (int i = 0; i < kGets - 1; ++i) {
    ASSERT_TRUE(results[i].ok()) << i << ": " << results[i].status();
    EXPECT_EQ(results[i]->id, TestId(i));
  }
  EXPECT_EQ(tc.node(0).gets.load(), 1);
  EXPECT_EQ(tc.node(0).batch_sizes(), std::vector<int>({1, 2}));
}

TEST(ClientTest, GetAsync_ManyThreads_FewerRpcsThanGetsEachCallerOwnResult) {
  TestCluster tc(1, 1);
  ClientOptions options = tc.Options();
  options.max_batches_in_flight_per_node = 1;
  options.max_batch_wait = absl::Seconds(10);
  options.deadline = absl::Seconds(10);
  std::unique_ptr<Client> client = tc.Connect(options);
  ASSERT_NE(client, nullptr);
  tc.node(0).park = true;
  constexpr int kThreads = 8;
  constexpr int kPerThread = 25;
  constexpr int kGets = kThreads * kPerThread;
  for (int i = 0; i < kGets; i += 10) tc.node(0).AddMissing(TestId(i));
  std::vector<absl::StatusOr<SessionData>> results(kGets,
                                                   absl::UnknownError(""));
  absl::BlockingCounter issued(kThreads);
  absl::BlockingCounter done(kGets);

  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int j = 0; j < kPerThread; ++j) {
        const int i = t * kPerThread + j;
        client->GetAsync(kNs, TestId(i), true,
                         [&results, &done, i](absl::StatusOr<SessionData> s) {
                           results[i] = std::move(s);
                           done.DecrementCount();
                         });
      }
      issued.DecrementCount();
    });
  }
  issued.Wait();  // every Get is sent (the first, parked) or queued
  for (std::thread& t : threads) t.join();
  ASSERT_TRUE(PollUntil([&] { return tc.node(0).parked() == 1; }));
  tc.node(0).park = false;
  tc.node(0).ReleaseParked();
  done.Wait();

  // 1 parked Get, then the other 199 in batches of max_batch (64).
  EXPECT_EQ(tc.node(0).gets.load(), 1);
  EXPECT_EQ(tc.node(0).batch_gets.load(), 4);
  for (int i = 0; i < kGets; ++i) {
    if (i % 10 == 0) {
      EXPECT_EQ(results[i].status().code(), absl::StatusCode::kNotFound) << i;
    } else {
      ASSERT_TRUE(results[i].ok()) << i << ": " << results[i].status();
      EXPECT_EQ(results[i]->id, TestId(i));
    }
  }
}

// 8 threads each Get 50 ids in turn (every 7th missing on every node);
// returns how many got a result other than their own.
constexpr int kGetThreads = 8;
constexpr int kGetsPerThread = 50;
int ManyThreadsGetWrong(TestCluster& tc, Client* client) {
  for (int i = 0; i < kGetThreads * kGetsPerThread; i += 7) {
    for (int n = 0; n < 3; ++n) tc.node(n).AddMissing(TestId(i));
  }
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kGetThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int j = 0; j < kGetsPerThread; ++j) {
        const int i = t * kGetsPerThread + j;
        absl::StatusOr<SessionData> s = client->Get(kNs, TestId(i));
        const bool right =
            i % 7 == 0 ? s.status().code() == absl::StatusCode::kNotFound
                       : s.ok() && s->id == TestId(i);
        if (!right) wrong++;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  return wrong.load();
}

TEST(ClientTest, Get_ManyThreadsSync_EachCallerGetsOwnResult) {
  TestCluster tc(3, 2);
  std::unique_ptr<Client> client = tc.Connect();
  ASSERT_NE(client, nullptr);

  EXPECT_EQ(ManyThreadsGetWrong(tc, client.get()), 0);
  int rpcs = 0;
  for (int n = 0; n < 3; ++n) {
    rpcs += tc.node(n).gets.load() + tc.node(n).batch_gets.load();
  }
  EXPECT_LE(rpcs, kGetThreads * kGetsPerThread);
}

TEST(ClientTest, Get_BatchSlotBusy_SentAfterMaxBatchWait) {
  TestCluster tc(1, 1);
  ClientOptions options = tc.Options();
  options.max_batches_in_flight_per_node = 1;
  options.max_batch_wait = absl::Milliseconds(50);
  options.deadline = absl::Seconds(10);
  std::unique_ptr<Client> client = tc.Connect(options);
  ASSERT_NE(client, nullptr);
  tc.node(0).park = true;
  absl::BlockingCounter done(2);
  auto count = [&done](absl::StatusOr<SessionData> s) {
    EXPECT_TRUE(s.ok()) << s.status();
    done.DecrementCount();
  };

  client->GetAsync(kNs, TestId(1), true, count);
  const absl::Time queued_at = absl::Now();
  client->GetAsync(kNs, TestId(2), true, count);
  ASSERT_TRUE(PollUntil([&] { return tc.node(0).parked() == 2; }));

  EXPECT_GE(absl::Now() - queued_at, absl::Milliseconds(50));
  tc.node(0).ReleaseParked();
  done.Wait();
}

ClientOptions StreamOptions(TestCluster& tc) {
  ClientOptions options = tc.Options();
  options.stream_gets = true;
  return options;
}

TEST(ClientTest, StreamGets_ManyThreads_OneStreamPerNodeCarriesEveryBatch) {
  TestCluster tc(3, 2);
  std::unique_ptr<Client> client = tc.Connect(StreamOptions(tc));
  ASSERT_NE(client, nullptr);

  EXPECT_EQ(ManyThreadsGetWrong(tc, client.get()), 0);
  int messages = 0;
  int ids = 0;
  for (int n = 0; n < 3; ++n) {
    EXPECT_EQ(tc.node(n).streams.load(), 1) << "node " << n;
    EXPECT_EQ(tc.node(n).gets.load(), 0) << "node " << n;
    EXPECT_EQ(tc.node(n).batch_gets.load(), 0) << "node " << n;
    messages += tc.node(n).stream_messages.load();
    ids += static_cast<int>(tc.node(n).received().size());
  }
  EXPECT_EQ(ids, kGetThreads * kGetsPerThread);
  EXPECT_LE(messages, kGetThreads * kGetsPerThread);
}

TEST(ClientTest, StreamGets_NodeWithoutStreamGet_FallsBackToBatchGetForGood) {
  TestCluster tc(1, 1);
  tc.node(0).no_streams = true;
  std::unique_ptr<Client> client = tc.Connect(StreamOptions(tc));
  ASSERT_NE(client, nullptr);

  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<SessionData> s = client->Get(kNs, TestId(i));
    ASSERT_TRUE(s.ok()) << s.status();
    EXPECT_EQ(s->id, TestId(i));
  }
  EXPECT_EQ(tc.node(0).stream_refusals.load(), 1);
  EXPECT_EQ(tc.node(0).batch_gets.load(), 3);
}

TEST(ClientTest, StreamGets_StreamEndsWithUnavailable_GetRetriedOnANewStream) {
  TestCluster tc(1, 1);
  std::unique_ptr<Client> client = tc.Connect(StreamOptions(tc));
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Get(kNs, TestId(1)).ok());
  tc.node(0).fail_next_unavailable = 1;

  absl::StatusOr<SessionData> s = client->Get(kNs, TestId(2));

  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->id, TestId(2));
  EXPECT_EQ(tc.node(0).streams.load(), 2);
  EXPECT_EQ(tc.node(0).stream_messages.load(), 3);
}

TEST(ClientTest, StreamGets_NodeSilent_DeadlineExceededAtDeadlineThenNewStream) {
  TestCluster tc(1, 1);
  ClientOptions options = StreamOptions(tc);
  options.deadline = absl::Milliseconds(300);
  options.max_attempts = 1;
  std::unique_ptr<Client> client = tc.Connect(options);
  ASSERT_NE(client, nullptr);
  tc.node(0).park = true;

  ExpectGetFailsAtDeadline(client.get(), absl::Milliseconds(300));
  // The silent call was cancelled; the next Get opens another one.
  tc.node(0).park = false;
  absl::StatusOr<SessionData> s = client->Get(kNs, TestId(2));
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(tc.node(0).streams.load(), 2);
}

TEST(ClientTest, Create_ThreeNodes_RoundRobin) {
  TestCluster tc(3, 2);
  std::unique_ptr<Client> client = tc.Connect();
  ASSERT_NE(client, nullptr);
  CreateOptions create;
  create.user_id = "alice";
  create.idle_timeout_ms = 60000;
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<SessionData> s = client->Create(kNs, create);
    ASSERT_TRUE(s.ok()) << s.status();
    EXPECT_EQ(s->user_id, "alice");
    EXPECT_TRUE(DecodeId(s->id).ok());
  }
  for (int n = 0; n < 3; ++n) EXPECT_EQ(tc.node(n).creates.load(), 1);
}

TEST(ClientTest, Topology_ThreeNodes_ReportsMembership) {
  TestCluster tc(3, 2);
  std::unique_ptr<Client> client = tc.Connect();
  ASSERT_NE(client, nullptr);

  absl::StatusOr<TopologyInfo> topo = client->Topology();

  ASSERT_TRUE(topo.ok()) << topo.status();
  EXPECT_EQ(topo->epoch, tc.Placement(3).epoch());
  EXPECT_EQ(topo->replication_factor, 2);
  EXPECT_EQ(topo->partition_count, kPartitionCount);
  ASSERT_EQ(topo->nodes.size(), 3u);
  EXPECT_EQ(topo->nodes[2].id, "n3");
  EXPECT_EQ(topo->nodes[2].address, tc.node(2).address());
  EXPECT_TRUE(topo->nodes[2].up);
}

TEST(ClientTest, NodeStats_KnownAndUnknownNode) {
  TestCluster tc(2, 1);
  std::unique_ptr<Client> client = tc.Connect();
  ASSERT_NE(client, nullptr);

  absl::StatusOr<NodeStatsInfo> stats = client->NodeStats("n2");
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->node_id, "n2");
  EXPECT_TRUE(stats->serving);
  EXPECT_EQ(client->NodeStats("n9").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(ClientTest, Touch_Owner_ReturnsExpiresAt) {
  TestCluster tc(1, 1);
  std::unique_ptr<Client> client = tc.Connect();
  ASSERT_NE(client, nullptr);
  absl::StatusOr<int64_t> expires = client->Touch(kNs, TestId(3));
  ASSERT_TRUE(expires.ok()) << expires.status();
  EXPECT_EQ(*expires, 1234);
}

}  // namespace
}  // namespace sesh
