// A rolling restart as a Kubernetes StatefulSet rollout does it: each node in
// turn gets SIGTERM, must exit cleanly within the grace period, is started
// again, and the next one goes only once it is ready (serving, caught up).
// Under a recorded load (tests/recorded_load.h), no client read may fail and
// no acknowledged write may be lost. docs/operations.md describes the drain.
// The nodes log as JSON with the access log on: every line must be one JSON
// object and none may hold a session ID.

#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/sesh/client.h"
#include "gtest/gtest.h"
#include "tests/node_process.h"
#include "tests/recorded_load.h"
#include "tests/status_matchers.h"
#include "tests/test_credentials.h"

namespace sesh {
namespace {

using testing::NodeProcess;
using testing::RecordedLoad;

// terminationGracePeriodSeconds in deploy/k8s: the drain must end well
// inside it.
constexpr int64_t kGracePeriodMs = 30000;

TEST(RollingRestartTest, EachNodeInTurn_UnderRecordedLoad_NoReadFailsNothingLost) {
  const std::string dir = testing::NewTempDir("rolling");
  std::vector<std::unique_ptr<NodeProcess>> nodes =
      testing::MakeCluster(3, dir,
                           {"--touch_flush_interval_ms=200", "--log_json",
                            "--access_log"});
  ASSERT_THAT(testing::StartAndWait(nodes), IsOk());

  ClientOptions options;
  for (auto& node : nodes) options.seeds.push_back(node->address());
  options.tls_ca_pem = testing::Credentials().ca_pem;
  options.token = testing::Credentials().admin_token;
  options.deadline = absl::Seconds(3);
  absl::StatusOr<std::unique_ptr<Client>> client = Client::Connect(options);
  ASSERT_TRUE(client.ok()) << client.status();

  RecordedLoad load(client->get(), 4);
  std::this_thread::sleep_for(std::chrono::seconds(2));
  for (int i = 0; i < 3; ++i) {
    load.SetPhase(i + 1);
    const auto stopping = std::chrono::steady_clock::now();
    const int status = nodes[i]->Terminate();
    const int64_t drain_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::steady_clock::now() - stopping)
            .count();
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
        << nodes[i]->id() << " did not exit cleanly: " << status;
    EXPECT_LT(drain_ms, kGracePeriodMs);
    // Ready again (serving, caught up) before the next one goes.
    ASSERT_THAT(nodes[i]->Start(60000), IsOk());
    fprintf(stderr, "%s: drained in %lld ms, ready again\n",
            nodes[i]->id().c_str(), static_cast<long long>(drain_ms));
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  load.SetPhase(4);
  std::this_thread::sleep_for(std::chrono::seconds(2));
  load.Stop();

  const char* kSteps[] = {"steady", "restart n1", "restart n2", "restart n3",
                          "after"};
  int64_t ops = 0;
  for (int phase = 0; phase <= 4; ++phase) {
    fprintf(stderr, "%-12s %6lld ops, %lld errors, %lld failed reads\n",
            kSteps[phase], static_cast<long long>(load.ops(phase)),
            static_cast<long long>(load.errors(phase)),
            static_cast<long long>(load.read_errors(phase)));
    EXPECT_EQ(load.read_errors(phase), 0) << kSteps[phase];
    ops += load.ops(phase);
  }
  EXPECT_GT(ops, 200);
  EXPECT_TRUE(load.violations().empty())
      << absl::StrJoin(load.violations(), "\n");

  std::map<int, NodeProcess*> by_number;
  for (int i = 0; i < 3; ++i) by_number[i + 1] = nodes[i].get();
  const std::map<std::string, testing::History> histories = load.histories();
  testing::CheckAll(by_number, {1, 2, 3}, histories);

  for (auto& node : nodes) {
    std::ifstream in(node->log_path());
    std::string line;
    int64_t lines = 0;
    int64_t access_lines = 0;
    std::string all;
    while (std::getline(in, line)) {
      ++lines;
      all += line;
      all += '\n';
      // One JSON object per line, with the fields an aggregator indexes.
      EXPECT_TRUE(absl::StartsWith(line, "{\"ts\":\"") &&
                  absl::EndsWith(line, "}") &&
                  absl::StrContains(line, "\"level\":\"") &&
                  absl::StrContains(line, "\"component\":\"") &&
                  absl::StrContains(line, "\"msg\":\""))
          << node->id() << ": " << line;
      if (absl::StrContains(line, "\"component\":\"access\"")) {
        ++access_lines;
      }
    }
    EXPECT_GT(access_lines, 100) << node->id();
    for (const auto& [id, h] : histories) {
      ASSERT_FALSE(absl::StrContains(all, id))
          << node->id() << " logged session ID " << id.substr(0, 6) << "...";
    }
    fprintf(stderr, "%s: %lld log lines, %lld access lines, no session ID\n",
            node->id().c_str(), static_cast<long long>(lines),
            static_cast<long long>(access_lines));
  }
}

}  // namespace
}  // namespace sesh
