// Replication and failover with real processes: nodes are killed with
// SIGKILL, frozen with SIGSTOP, or cut off from their peers, while clients
// write. A checker records every acknowledged operation and verifies the
// cluster's state afterwards (in the spirit of Jepsen's set and register
// checks). Every test is bounded in operations and time.

#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "client/sesh/client.h"
#include "gtest/gtest.h"
#include "replication/merge.h"
#include "replication/placement.h"
#include "replication/session_id.h"
#include "sesh/internal/peer.grpc.pb.h"
#include "tests/cluster_calls.h"
#include "tests/node_process.h"
#include "tests/status_matchers.h"
#include "tests/test_credentials.h"

namespace sesh {
namespace {

using testing::CreateThrough;
using testing::Deadline;
using testing::DestroyThrough;
using testing::GetThrough;
using testing::MakeCluster;
using testing::NewTempDir;
using testing::NodeProcess;
using testing::NowMs;
using testing::PollUntil;
using testing::ReadReplica;
using testing::SeesAsUp;
using testing::StartAndWait;
using testing::WaitForView;
using Nodes = std::vector<std::unique_ptr<NodeProcess>>;

constexpr int64_t kIdle = testing::kTestIdleMs;

std::unique_ptr<Client> Connect(Nodes& nodes) {
  ClientOptions options;
  for (auto& node : nodes) options.seeds.push_back(node->address());
  options.tls_ca_pem = testing::Credentials().ca_pem;
  options.token = testing::Credentials().admin_token;
  options.deadline = absl::Seconds(3);
  auto client = Client::Connect(options);
  EXPECT_TRUE(client.ok()) << client.status();
  return client.ok() ? std::move(*client) : nullptr;
}

// What the checker knows of one session, written by one thread only.
struct History {
  int64_t last_acked = 0;      // value of "n" in the last acked update
  int64_t last_attempted = 0;  // value of "n" in the last update sent
  bool destroy_acked = false;
  bool destroy_attempted = false;
};

// Checks a session read through some node against its history.
void CheckRead(const std::string& where, const std::string& id,
               const History& h, const grpc::Status& status,
               const v1::Session& session) {
  if (h.destroy_acked) {
    EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND)
        << where << ": an acknowledged destroy came back";
    return;
  }
  if (h.destroy_attempted && status.error_code() == grpc::StatusCode::NOT_FOUND) {
    return;  // the destroy's outcome was unknown: both answers are right
  }
  ASSERT_TRUE(status.ok()) << where << ": acknowledged session lost: "
                           << status.error_message();
  int64_t n = 0;
  ASSERT_TRUE(absl::SimpleAtoi(session.attributes().at("n"), &n));
  EXPECT_GE(n, h.last_acked) << where << ": an acknowledged update was lost";
  EXPECT_LE(n, h.last_attempted) << where;
}

// Checks a node's stored copy of a session (peer Read) against its history.
void CheckCopy(const std::string& where, const std::string& id,
               const History& h,
               const std::optional<internal::SessionRecord>& copy) {
  if (h.destroy_acked) {
    EXPECT_TRUE(copy.has_value() && copy->destroyed())
        << where << ": an acknowledged destroy is missing";
    return;
  }
  ASSERT_TRUE(copy.has_value()) << where << ": acknowledged session lost";
  if (copy->destroyed()) {
    EXPECT_TRUE(h.destroy_attempted) << where << ": destroyed, never asked";
    return;
  }
  int64_t n = 0;
  ASSERT_TRUE(absl::SimpleAtoi(copy->attributes().at("n").value(), &n));
  EXPECT_GE(n, h.last_acked) << where << ": an acknowledged update was lost";
  EXPECT_LE(n, h.last_attempted) << where;
}

TEST(FailoverTest, Checker_KillAndRestartUnderWriteLoad_NothingAcknowledgedLost) {
  Nodes nodes = MakeCluster(3, NewTempDir("checker"),
                            {"--touch_flush_interval_ms=200"});
  ASSERT_THAT(StartAndWait(nodes), IsOk());
  std::unique_ptr<Client> client = Connect(nodes);
  ASSERT_NE(client, nullptr);

  constexpr int kThreads = 4;
  constexpr int kSessionsPerThread = 40;
  constexpr int kTotalSessions = kThreads * kSessionsPerThread;
  std::atomic<int> progress{0};
  absl::Mutex mu;
  std::map<std::string, History> histories;  // guarded by mu

  auto worker = [&](int t) {
    for (int s = 0; s < kSessionsPerThread; ++s) {
      CreateOptions create;
      create.user_id = absl::StrCat("user", t);
      create.idle_timeout_ms = kIdle;
      create.attributes["n"] = "0";
      auto created = client->Create("shop", create);
      progress.fetch_add(1);
      if (!created.ok()) continue;  // never acknowledged: nothing to check
      History h;
      const std::string id = created->id;
      for (int64_t n = 1; n <= 3; ++n) {
        UpdateOptions update;
        update.set["n"] = absl::StrCat(n);
        h.last_attempted = n;
        if (client->Update("shop", id, update).ok()) h.last_acked = n;
      }
      if (s % 3 == 0) {
        h.destroy_attempted = true;
        h.destroy_acked = client->Destroy("shop", id).ok();
      }
      absl::MutexLock lock(&mu);
      histories[id] = h;
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) threads.emplace_back(worker, t);

  NodeProcess& victim = *nodes[1];
  while (progress.load() < kTotalSessions / 3) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  victim.Kill();
  while (progress.load() < 2 * kTotalSessions / 3) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_TRUE(victim.Start().ok());
  for (std::thread& t : threads) t.join();
  ASSERT_TRUE(WaitForView(nodes).ok());

  int live = 0, destroyed = 0;
  for (const auto& [id, h] : histories) {
    if (h.destroy_acked) {
      ++destroyed;
    } else if (!h.destroy_attempted) {
      ++live;
    }
  }
  fprintf(stderr, "checker: %zu acknowledged sessions, %d live, %d destroyed\n",
          histories.size(), live, destroyed);
  EXPECT_GT(histories.size(), kTotalSessions / 2u);
  EXPECT_GT(destroyed, 0);

  for (auto& node : nodes) {
    for (const auto& [id, h] : histories) {
      v1::Session session;
      grpc::Status status = GetThrough(*node, id, &session);
      CheckRead(node->id(), id, h, status, session);
    }
  }
  // The restarted node alone: its own copies must hold what it missed while
  // dead. Alone, it cannot know whether the others acknowledged writes it
  // has not seen, so it answers reads UNAVAILABLE rather than from them.
  nodes[0]->Kill();
  nodes[2]->Kill();
  for (const auto& [id, h] : histories) {
    auto copy = ReadReplica(victim, id);
    ASSERT_TRUE(copy.ok()) << copy.status();
    CheckCopy("n2's own copy", id, h, *copy);
  }
  const std::string& some_id = histories.begin()->first;
  grpc::Status alone = GetThrough(victim, some_id, nullptr);
  const int64_t settle_by = NowMs() + 5000;
  while (alone.error_code() != grpc::StatusCode::UNAVAILABLE &&
         NowMs() < settle_by) {  // until its lease runs out
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    alone = GetThrough(victim, some_id, nullptr);
  }
  EXPECT_EQ(alone.error_code(), grpc::StatusCode::UNAVAILABLE)
      << alone.error_message();
}

TEST(FailoverTest, ReadYourWrites_KillCoordinatorRightAfterQuorumWrite) {
  Nodes nodes = MakeCluster(3, NewTempDir("ryw"), {});
  ASSERT_THAT(StartAndWait(nodes), IsOk());
  std::unique_ptr<Client> client = Connect(nodes);
  ASSERT_NE(client, nullptr);

  // Sessions whose primary (the coordinator of their writes) is n1.
  std::vector<std::string> ids;
  while (ids.size() < 5) {
    CreateOptions create;
    create.idle_timeout_ms = kIdle;
    create.durability = Durability::kQuorum;
    auto created = client->Create("shop", create);
    ASSERT_TRUE(created.ok()) << created.status();
    if (*client->OwnerOf(created->id) == "n1") ids.push_back(created->id);
  }
  for (const std::string& id : ids) {
    UpdateOptions update;
    update.set["cart"] = "42";
    update.durability = Durability::kQuorum;
    ASSERT_TRUE(client->Update("shop", id, update).ok());
  }
  const int64_t killed_at = NowMs();
  nodes[0]->Kill();
  int64_t first_read_ms = -1;
  for (const std::string& id : ids) {
    auto got = client->Get("shop", id);
    ASSERT_TRUE(got.ok()) << got.status();
    if (first_read_ms < 0) first_read_ms = NowMs() - killed_at;
    EXPECT_EQ(got->attributes.at("cart"), "42");
  }
  fprintf(stderr, "failover: first successful read %lld ms after kill -9\n",
          static_cast<long long>(first_read_ms));
}

TEST(FailoverTest, ListByUser_CompleteWithOneNodeDown_UnavailableWithTwo) {
  Nodes nodes = MakeCluster(3, NewTempDir("list"), {});
  ASSERT_THAT(StartAndWait(nodes), IsOk());
  std::unique_ptr<Client> client = Connect(nodes);
  ASSERT_NE(client, nullptr);
  constexpr int kSessions = 12;
  for (int i = 0; i < kSessions; ++i) {
    CreateOptions create;
    create.user_id = "erin";
    create.idle_timeout_ms = kIdle;
    create.durability = Durability::kQuorum;
    ASSERT_TRUE(client->Create("shop", create).ok());
  }
  nodes[0]->Kill();
  auto listed = client->ListByUser("shop", "erin");
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_EQ(listed->size(), static_cast<size_t>(kSessions));
  // With two of three replicas silent, the survivor's copy may lack
  // sessions acknowledged by the other two: no partial list.
  nodes[1]->Kill();
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  v1::ListByUserRequest request;
  request.set_namespace_("shop");
  request.set_user_id("erin");
  v1::ListByUserResponse response;
  grpc::Status status =
      nodes[2]->SessionsStub()->ListByUser(&ctx, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE)
      << status.error_message();
  EXPECT_EQ(response.sessions_size(), 0);
}

TEST(FailoverTest, FrozenReplica_MissesWritesThenConverges) {
  Nodes nodes = MakeCluster(3, NewTempDir("frozen"),
                            {"--touch_flush_interval_ms=200"});
  ASSERT_THAT(StartAndWait(nodes), IsOk());
  std::unique_ptr<Client> client = Connect(nodes);
  ASSERT_NE(client, nullptr);
  std::vector<std::string> ids;
  for (int i = 0; i < 10; ++i) {
    CreateOptions create;
    create.idle_timeout_ms = kIdle;
    auto created = client->Create("shop", create);
    ASSERT_TRUE(created.ok());
    ids.push_back(created->id);
  }
  nodes[2]->Pause();
  // Writes go through n1 once its failure detector has noticed: a client
  // cannot tell a frozen node from a slow one, and does not retry writes.
  const int64_t notice_by = NowMs() + 5000;
  bool noticed = false;
  while (!noticed && NowMs() < notice_by) {
    grpc::ClientContext ctx;
    ctx.set_deadline(Deadline());
    v1::TopologyResponse topology;
    if (nodes[0]->ClusterStub()->Topology(&ctx, {}, &topology).ok()) {
      noticed = !topology.nodes(2).up();
    }
    if (!noticed) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(noticed);
  auto via_n1 = nodes[0]->SessionsStub();
  for (const std::string& id : ids) {
    grpc::ClientContext ctx;
    ctx.set_deadline(Deadline());
    v1::UpdateRequest request;
    request.set_namespace_("shop");
    request.set_id(id);
    (*request.mutable_set())["while_frozen"] = "yes";
    v1::UpdateResponse response;
    grpc::Status status = via_n1->Update(&ctx, request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(Deadline());
    v1::DestroyRequest request;
    request.set_namespace_("shop");
    request.set_id(ids[0]);
    v1::DestroyResponse response;
    ASSERT_TRUE(via_n1->Destroy(&ctx, request, &response).ok());
  }
  nodes[2]->Resume();
  // Hints reach n3 once it answers heartbeats again.
  const int64_t give_up = NowMs() + 15000;
  bool converged = false;
  while (!converged && NowMs() < give_up) {
    converged = true;
    for (size_t i = 0; i < ids.size() && converged; ++i) {
      auto copy = ReadReplica(*nodes[2], ids[i]);
      if (!copy.ok() || !copy->has_value()) {
        converged = false;
      } else if (i == 0) {
        converged = (*copy)->destroyed();
      } else {
        auto it = (*copy)->attributes().find("while_frozen");
        converged = it != (*copy)->attributes().end() &&
                    it->second.value() == "yes";
      }
    }
    if (!converged) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(converged) << "n3's own copies never caught up";
}

TEST(FailoverTest, Partition_BothSidesWrite_ReplicasConvergeToMerge) {
  Nodes nodes =
      MakeCluster(3, NewTempDir("partition"), {"--fault_injection"});
  ASSERT_THAT(StartAndWait(nodes), IsOk());
  NodeProcess& isolated = *nodes[2];
  auto majority = nodes[0]->SessionsStub();
  auto minority = isolated.SessionsStub();

  auto create = [&](const std::string& attr) {
    grpc::ClientContext ctx;
    ctx.set_deadline(Deadline());
    v1::CreateRequest request;
    request.set_namespace_("shop");
    request.set_idle_timeout_ms(kIdle);
    request.set_durability(v1::ALL);
    (*request.mutable_attributes())["origin"] = attr;
    v1::CreateResponse response;
    EXPECT_TRUE(majority->Create(&ctx, request, &response).ok());
    return response.session().id();
  };
  auto update = [](v1::Sessions::Stub* stub, const std::string& id,
                   std::map<std::string, std::string> set,
                   v1::Durability durability, v1::Session* out) {
    grpc::ClientContext ctx;
    ctx.set_deadline(Deadline());
    v1::UpdateRequest request;
    request.set_namespace_("shop");
    request.set_id(id);
    for (auto& [k, v] : set) (*request.mutable_set())[k] = v;
    request.set_durability(durability);
    v1::UpdateResponse response;
    grpc::Status status = stub->Update(&ctx, request, &response);
    if (out != nullptr) *out = response.session();
    return status;
  };
  const std::string shared = create("both");
  const std::string doomed = create("doomed");

  kill(isolated.pid(), SIGUSR1);
  // Wait until each side sees the other as down.
  const int64_t give_up = NowMs() + 10000;
  bool split = false;
  while (!split && NowMs() < give_up) {
    split = true;
    for (auto& node : nodes) {
      grpc::ClientContext ctx;
      ctx.set_deadline(Deadline());
      v1::TopologyResponse topology;
      if (!node->ClusterStub()->Topology(&ctx, {}, &topology).ok()) {
        split = false;
        continue;
      }
      for (const v1::Node& n : topology.nodes()) {
        if (n.id() == node->id()) continue;
        bool expect_up = node.get() != &isolated && n.id() != isolated.id();
        if (n.up() != expect_up) split = false;
      }
    }
    if (!split) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(split);

  // The minority accepts ONE and refuses QUORUM without a trace.
  v1::Session minority_write;
  ASSERT_TRUE(update(minority.get(), shared, {{"contested", "minority"},
                                              {"from_minority", "1"}},
                     v1::ONE, &minority_write)
                  .ok());
  EXPECT_EQ(update(minority.get(), shared, {{"refused", "1"}}, v1::QUORUM,
                   nullptr)
                .error_code(),
            grpc::StatusCode::UNAVAILABLE);
  ASSERT_TRUE(
      update(minority.get(), doomed, {{"late", "1"}}, v1::ONE, nullptr).ok());
  // The majority takes QUORUM writes and a destroy.
  v1::Session majority_write;
  ASSERT_TRUE(update(majority.get(), shared, {{"contested", "majority"},
                                              {"from_majority", "1"}},
                     v1::QUORUM, &majority_write)
                  .ok());
  ASSERT_TRUE(DestroyThrough(*nodes[0], doomed).ok());

  kill(isolated.pid(), SIGUSR1);  // heal
  const std::string winner =
      majority_write.version() > minority_write.version() ? "majority"
                                                          : "minority";
  const int64_t converge_by = NowMs() + 15000;
  bool converged = false;
  std::vector<internal::SessionRecord> copies;
  while (!converged && NowMs() < converge_by) {
    converged = true;
    copies.clear();
    for (auto& node : nodes) {
      auto copy = ReadReplica(*node, shared);
      auto gone = ReadReplica(*node, doomed);
      if (!copy.ok() || !copy->has_value() || !gone.ok() ||
          !gone->has_value() || !(*gone)->destroyed()) {
        converged = false;
        break;
      }
      copies.push_back(**copy);
    }
    if (converged) {
      for (const auto& c : copies) {
        converged = converged && SameState(c, copies[0]) &&
                    c.attributes().count("from_minority") > 0 &&
                    c.attributes().count("from_majority") > 0;
      }
    }
    if (!converged) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(converged) << "replicas did not converge after healing";
  const internal::SessionRecord& merged = copies[0];
  EXPECT_EQ(merged.attributes().at("contested").value(), winner);
  EXPECT_EQ(merged.attributes().at("origin").value(), "both");
  EXPECT_EQ(merged.attributes().count("refused"), 0u);
  // A node that does not see the others up yet answers reads UNAVAILABLE
  // (it cannot tell what it missed); once it does, the destroy holds.
  ASSERT_TRUE(WaitForView(nodes).ok());
  for (auto& node : nodes) {
    EXPECT_EQ(GetThrough(*node, doomed, nullptr).error_code(),
              grpc::StatusCode::NOT_FOUND);
  }
}


// The bug this guards against: a primary that missed a QUORUM destroy (it
// was cut off, or only looked dead to the others) went on answering reads
// from its own copy, so a logged-out session came back. The primary now
// answers alone only under a read lease from its peers, and a peer that
// holds a write for it (a hint) withholds the lease until it is delivered.
TEST(FailoverTest, CutOffPrimary_NeverServesASessionDestroyedWithoutIt) {
  // Hints are replayed at most every 8 s, and anti-entropy is off: long
  // enough to read in between, even under a sanitizer.
  Nodes nodes = MakeCluster(3, NewTempDir("cutoff"),
                            {"--fault_injection",
                             "--touch_flush_interval_ms=8000",
                             "--anti_entropy_interval_ms=0"});
  ASSERT_THAT(StartAndWait(nodes), IsOk());
  NodeProcess& primary = *nodes[2];
  const std::string id = CreateThrough(primary);
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(GetThrough(primary, id, nullptr).ok());

  kill(primary.pid(), SIGUSR1);  // cut off from its peers, not from clients
  // Until each side sees the other down. The primary's own view turns once
  // it has not heard back for --failure_timeout_ms, by when the others have
  // not heard from it for long enough to vouch for writes without it.
  const std::map<std::string, bool> primary_down = {
      {nodes[0]->id(), true}, {nodes[1]->id(), true}, {primary.id(), false}};
  const std::map<std::string, bool> others_down = {
      {nodes[0]->id(), false}, {nodes[1]->id(), false}, {primary.id(), true}};
  PollUntil(10000, 20, [&] {
    return SeesAsUp(*nodes[0], primary_down) &&
           SeesAsUp(*nodes[1], primary_down) && SeesAsUp(primary, others_down);
  });
  ASSERT_TRUE(SeesAsUp(*nodes[0], primary_down));
  ASSERT_TRUE(SeesAsUp(primary, others_down));
  {
    // A write can still be refused for a moment (UNAVAILABLE): a replica
    // that heard from the primary recently does not vouch for it.
    grpc::Status status;
    for (int attempt = 0; attempt < 20; ++attempt) {
      status = DestroyThrough(*nodes[0], id);
      if (status.error_code() != grpc::StatusCode::UNAVAILABLE) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  // Cut off, the primary cannot tell whether it missed a write: no answer.
  grpc::Status cut_off = GetThrough(primary, id, nullptr);
  EXPECT_EQ(cut_off.error_code(), grpc::StatusCode::UNAVAILABLE)
      << "cut-off primary answered: " << cut_off.error_message();

  kill(primary.pid(), SIGUSR1);  // heal
  const std::map<std::string, bool> all_up = {{nodes[0]->id(), true},
                                              {nodes[1]->id(), true},
                                              {primary.id(), true}};
  ASSERT_TRUE(PollUntil(10000, 20, [&] { return SeesAsUp(primary, all_up); }));
  // Its own copy is still live (the hint has not arrived yet), but it must
  // answer from the replicas' merge: the destroy.
  auto copy = ReadReplica(primary, id);
  ASSERT_TRUE(copy.ok());
  ASSERT_TRUE(copy->has_value());
  EXPECT_FALSE((*copy)->destroyed())
      << "the hint arrived early; this run did not test the window";
  EXPECT_EQ(GetThrough(primary, id, nullptr).error_code(),
            grpc::StatusCode::NOT_FOUND);
  // Once the hint is delivered the primary's own copy is the destroy, and
  // it stays NOT_FOUND whichever way it is read.
  EXPECT_TRUE(PollUntil(15000, 50, [&] {
    auto c = ReadReplica(primary, id);
    return c.ok() && c->has_value() && (*c)->destroyed();
  }));
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(GetThrough(primary, id, nullptr).error_code(),
              grpc::StatusCode::NOT_FOUND);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  // With nothing owed to it, the primary gets its lease back and reads
  // alone again: ten reads, no repair read among them.
  auto repair_reads = [&primary]() -> int64_t {
    grpc::ClientContext ctx;
    ctx.set_deadline(Deadline());
    v1::NodeStatsResponse stats;
    if (!primary.ClusterStub()->NodeStats(&ctx, {}, &stats).ok()) return -1;
    return static_cast<int64_t>(stats.repair_reads());
  };
  const bool alone = PollUntil(10000, 100, [&] {
    const int64_t before = repair_reads();
    for (int i = 0; i < 10; ++i) {
      EXPECT_EQ(GetThrough(primary, id, nullptr).error_code(),
                grpc::StatusCode::NOT_FOUND);
    }
    return before >= 0 && repair_reads() == before;
  });
  EXPECT_TRUE(alone) << "the primary never got its read lease back";
}

// The replica side of read leases, through the peer protocol: a replica
// counts its copy towards a write that does not come from the partition's
// primary only once the primary has gone silent, and then keeps the write
// for it as a hint, which it reports to the primary until delivered.
TEST(FailoverTest, Replica_VouchesForAWriteOnlyOnceThePrimaryIsSilent) {
  Nodes nodes = MakeCluster(3, NewTempDir("vouch"), {});
  ASSERT_THAT(StartAndWait(nodes), IsOk());
  NodeProcess& primary = *nodes[2];
  NodeProcess& replica = *nodes[1];
  const std::string id = CreateThrough(primary);
  ASSERT_FALSE(id.empty());
  auto copy = ReadReplica(replica, id);
  ASSERT_TRUE(copy.ok() && copy->has_value());
  const internal::SessionRecord record = **copy;
  const uint32_t partition = PartitionOf(record.id());
  // Apply `record` to the replica as if coordinated by node `from` (with
  // its certificate); the partitions it did not vouch for.
  auto apply = [&](const std::string& from) {
    auto peer = internal::Peer::NewStub(replica.peer_channel(from));
    grpc::ClientContext ctx;
    ctx.set_deadline(Deadline());
    internal::ApplyRequest request;
    request.set_from_node(from);
    *request.add_records() = record;
    internal::ApplyResponse response;
    grpc::Status status = peer->Apply(&ctx, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return std::vector<uint32_t>(response.unvouched_partitions().begin(),
                                 response.unvouched_partitions().end());
  };
  uint64_t epoch = 0;
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(Deadline());
    v1::TopologyResponse topology;
    ASSERT_TRUE(replica.ClusterStub()->Topology(&ctx, {}, &topology).ok());
    epoch = topology.epoch();
  }
  // What the replica owes the primary, asked as the primary would.
  auto hints_for_primary = [&]() -> int64_t {
    grpc::ClientContext ctx;
    ctx.set_deadline(Deadline());
    internal::HeartbeatRequest request;
    request.set_from_node(primary.id());
    request.set_epoch(epoch);
    request.set_serving(true);
    internal::HeartbeatResponse response;
    auto peer = internal::Peer::NewStub(replica.peer_channel(primary.id()));
    if (!peer->Heartbeat(&ctx, request, &response).ok()) return -1;
    return response.hints_for_you();
  };

  // The replica hears the primary as serving from its first heartbeat
  // after start-up on; until then it may vouch (and keep hints for it).
  std::vector<uint32_t> refused;
  PollUntil(5000, 50, [&] {
    refused = apply(nodes[0]->id());
    return !refused.empty();
  });
  EXPECT_EQ(refused, std::vector<uint32_t>{partition})
      << "vouched for a write while the primary sends heartbeats";
  EXPECT_EQ(apply(nodes[0]->id()), std::vector<uint32_t>{partition});
  EXPECT_TRUE(apply(primary.id()).empty()) << "the primary's own write";

  primary.Pause();
  EXPECT_TRUE(PollUntil(5000, 50, [&] { return apply(nodes[0]->id()).empty(); }))
      << "never vouched with the primary silent";
  EXPECT_GE(hints_for_primary(), 1) << "vouched without keeping a hint";

  primary.Resume();
  int64_t owed = -1;
  PollUntil(15000, 100, [&] {
    owed = hints_for_primary();
    return owed == 0;
  });
  EXPECT_EQ(owed, 0) << "the hint never reached the primary";
}

TEST(FailoverTest, Touch_ReachesEveryReplicaWithinStalenessBound) {
  constexpr int64_t kFlushMs = 200;
  constexpr int64_t kReplicateTimeoutMs = 1000;
  Nodes nodes = MakeCluster(
      3, NewTempDir("touch"),
      {absl::StrCat("--touch_flush_interval_ms=", kFlushMs),
       absl::StrCat("--replicate_timeout_ms=", kReplicateTimeoutMs),
       "--touch_write_fraction=0"});
  ASSERT_THAT(StartAndWait(nodes), IsOk());
  std::unique_ptr<Client> client = Connect(nodes);
  ASSERT_NE(client, nullptr);
  CreateOptions create;
  create.idle_timeout_ms = kIdle;
  create.durability = Durability::kAll;
  auto created = client->Create("shop", create);
  ASSERT_TRUE(created.ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  auto touched = client->Get("shop", created->id, /*touch=*/true);
  ASSERT_TRUE(touched.ok());
  const int64_t touched_at = NowMs();
  ASSERT_GT(touched->last_access_ms, created->last_access_ms);

  int64_t worst_ms = 0;
  for (auto& node : nodes) {
    int64_t seen_ms = -1;
    while (NowMs() - touched_at <= kFlushMs + kReplicateTimeoutMs) {
      auto copy = ReadReplica(*node, created->id);
      if (copy.ok() && copy->has_value() &&
          (*copy)->last_access_ms() >= touched->last_access_ms) {
        seen_ms = NowMs() - touched_at;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_GE(seen_ms, 0) << node->id() << " never saw the touch within "
                          << kFlushMs + kReplicateTimeoutMs << " ms";
    worst_ms = std::max(worst_ms, seen_ms);
  }
  fprintf(stderr, "touch staleness: every replica within %lld ms (bound %lld)\n",
          static_cast<long long>(worst_ms),
          static_cast<long long>(kFlushMs + kReplicateTimeoutMs));
}

}  // namespace
}  // namespace sesh
