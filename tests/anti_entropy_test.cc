// Anti-entropy with real processes: divergence that no hint or read will
// repair (a write that reached one replica only, a destroy that reached one
// replica only) heals in the background, and NodeStats shows the progress.

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "replication/placement.h"
#include "replication/session_id.h"
#include "tests/cluster_calls.h"
#include "tests/node_process.h"
#include "tests/status_matchers.h"

namespace sesh {
namespace {

using testing::ApplyTo;
using testing::CreateThrough;
using testing::Deadline;
using testing::MakeCluster;
using testing::NewTempDir;
using testing::NodeProcess;
using testing::PollUntil;
using testing::ReadReplica;
using testing::StartAndWait;
using Nodes = std::vector<std::unique_ptr<NodeProcess>>;

int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

TEST(AntiEntropyTest, DivergentReplicas_ConvergeWithoutRestart) {
  // A full pass every 8 steps of 50 ms.
  Nodes nodes = MakeCluster(
      3, NewTempDir("anti_entropy"),
      {"--anti_entropy_interval_ms=50", "--anti_entropy_partitions=65536"});
  ASSERT_THAT(StartAndWait(nodes), IsOk());

  // A session only n3 holds.
  const int64_t now = WallMs();
  internal::SessionRecord lone;
  lone.set_id(NewRawId());
  lone.set_namespace_("shop");
  lone.set_created_at_ms(now);
  lone.set_last_access_ms(now);
  lone.set_idle_timeout_ms(testing::kTestIdleMs);
  lone.set_absolute_deadline_ms(now + 2 * testing::kTestIdleMs);
  lone.set_version(static_cast<uint64_t>(now) << 16);
  ASSERT_TRUE(ApplyTo(*nodes[2], "n1", lone).ok());
  const std::string lone_id = EncodeId(lone.id());

  // A session every node holds, destroyed on n2 only.
  const std::string id = CreateThrough(*nodes[0]);
  ASSERT_FALSE(id.empty());
  auto copy = ReadReplica(*nodes[1], id);
  ASSERT_TRUE(copy.ok() && copy->has_value());
  internal::SessionRecord tombstone = **copy;
  tombstone.clear_attributes();
  tombstone.set_destroyed(true);
  tombstone.set_version(tombstone.version() + 1);
  ASSERT_TRUE(ApplyTo(*nodes[1], "n1", tombstone).ok());

  const bool converged = PollUntil(15000, 100, [&] {
    for (auto& node : nodes) {
      auto l = ReadReplica(*node, lone_id);
      auto d = ReadReplica(*node, id);
      if (!l.ok() || !l->has_value() || (*l)->destroyed()) return false;
      if (!d.ok() || !d->has_value() || !(*d)->destroyed()) return false;
    }
    return true;
  });
  EXPECT_TRUE(converged) << "replicas still differ";

  // Progress as NodeStats reports it: at least the two partitions repaired
  // here, and (a moment later) a full pass on every node.
  uint64_t repaired = 0, passes = 0;
  const bool reported = PollUntil(10000, 100, [&] {
    repaired = 0;
    passes = 0;
    for (auto& node : nodes) {
      grpc::ClientContext ctx;
      ctx.set_deadline(Deadline());
      v1::NodeStatsResponse stats;
      if (!node->ClusterStub()->NodeStats(&ctx, {}, &stats).ok()) return false;
      repaired += stats.anti_entropy().partitions_repaired();
      passes += stats.anti_entropy().passes_completed() > 0 ? 1 : 0;
    }
    return repaired >= 2 && passes == nodes.size();
  });
  EXPECT_TRUE(reported) << repaired << " partitions repaired, " << passes
                        << " nodes completed a pass";
}

}  // namespace
}  // namespace sesh
