// Backup and restore with real sesh-node processes: a 3-node cluster backs
// up through the admin API (what `seshctl backup` calls), changes after
// the backup, stops; a fresh cluster started on the restored checkpoints
// (what `seshctl restore` copies) holds exactly the sessions of the backup.

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/sesh/client.h"
#include "gtest/gtest.h"
#include "node/backup_files.h"
#include "tests/node_process.h"
#include "tests/status_matchers.h"
#include "tests/test_credentials.h"

namespace sesh {
namespace {

namespace fs = std::filesystem;
using absl::StatusCode;
using testing::MakeCluster;
using testing::NewTempDir;
using testing::NodeProcess;
using testing::StartAndWait;

constexpr int64_t kIdleMs = 3600 * 1000;

std::unique_ptr<Client> MustConnect(
    const std::vector<std::unique_ptr<NodeProcess>>& nodes) {
  ClientOptions options;
  for (const auto& node : nodes) options.seeds.push_back(node->address());
  options.tls_ca_pem = testing::Credentials().ca_pem;
  options.token = testing::Credentials().admin_token;
  options.deadline = absl::Seconds(10);
  absl::StatusOr<std::unique_ptr<Client>> client = Client::Connect(options);
  EXPECT_TRUE(client.ok()) << client.status();
  return client.ok() ? std::move(*client) : nullptr;
}

// Sorted names of what is in `dir` (empty if it does not exist).
std::vector<std::string> Listing(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code error;
  for (fs::directory_iterator it(dir, error), end; !error && it != end;
       it.increment(error)) {
    names.push_back(it->path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

class BackupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = NewTempDir("backup");
    fs::create_directories(dir_ + "/cluster");
    nodes_ = MakeCluster(3, dir_ + "/cluster", {});
    absl::Status started = StartAndWait(nodes_);
    ASSERT_TRUE(started.ok()) << started;
    client_ = MustConnect(nodes_);
    ASSERT_NE(client_, nullptr);
  }

  std::string MustCreate(Client* client,
                         std::map<std::string, std::string> attributes) {
    CreateOptions options;
    options.user_id = "alice";
    options.attributes = std::move(attributes);
    options.idle_timeout_ms = kIdleMs;
    absl::StatusOr<SessionData> created = client->Create("test", options);
    EXPECT_THAT(created, IsOk());
    return created.ok() ? created->id : "";
  }

  std::string dir_;
  std::vector<std::unique_ptr<NodeProcess>> nodes_;
  std::unique_ptr<Client> client_;
};

TEST_F(BackupTest, Restore_IntoFreshCluster_HasExactlyTheSessionsOfTheBackup) {
  // Before the backup: 60 sessions, a third with attributes; every fifth
  // destroyed.
  std::map<std::string, std::map<std::string, std::string>> live;
  std::vector<std::string> destroyed_before;
  for (int i = 0; i < 60; ++i) {
    std::map<std::string, std::string> attributes;
    if (i % 3 == 0) {
      attributes = {{"cart", absl::StrCat(i, " items")}, {"role", "buyer"}};
    }
    const std::string id = MustCreate(client_.get(), attributes);
    ASSERT_FALSE(id.empty());
    if (i % 5 == 0) {
      ASSERT_THAT(client_->Destroy("test", id), IsOk());
      destroyed_before.push_back(id);
    } else {
      live[id] = attributes;
    }
  }
  ASSERT_EQ(live.size(), 48u);

  const std::string backup = dir_ + "/backup";
  for (const auto& node : nodes_) {
    absl::StatusOr<BackupInfo> info = client_->Backup(node->id(), backup);
    ASSERT_THAT(info, IsOk()) << node->id();
    EXPECT_EQ(info->node_id, node->id());
    EXPECT_EQ(info->checkpoint_dir, CheckpointPath(backup, node->id()));
    EXPECT_EQ(info->manifest_path, ManifestPath(backup, node->id()));
    // Replication factor 3 of 3 nodes: every node holds every session,
    // destroyed ones as tombstones.
    EXPECT_EQ(info->records, 60u) << node->id();
    EXPECT_EQ(info->hints, 0u) << node->id();
    absl::StatusOr<v1::BackupManifest> manifest =
        ReadManifest(info->manifest_path);
    ASSERT_THAT(manifest, IsOk());
    EXPECT_EQ(manifest->node_id(), node->id());
    EXPECT_EQ(manifest->members_size(), 3);
    EXPECT_EQ(manifest->replication_factor(), 3u);
    EXPECT_EQ(manifest->records(), info->records);
    EXPECT_EQ(manifest->bytes(), info->bytes);
  }

  // After the backup: none of this is in it.
  std::vector<std::string> created_after;
  for (int i = 0; i < 10; ++i) {
    created_after.push_back(MustCreate(client_.get(), {{"cart", "later"}}));
  }
  std::vector<std::string> destroyed_after;
  for (const auto& [id, attributes] : live) {
    if (destroyed_after.size() == 8) break;
    ASSERT_THAT(client_->Destroy("test", id), IsOk());
    destroyed_after.push_back(id);
  }
  client_.reset();
  for (auto& node : nodes_) EXPECT_EQ(node->Terminate(), 0) << node->id();

  // A fresh cluster (new ports and data dirs) on the restored checkpoints.
  std::vector<std::unique_ptr<NodeProcess>> fresh =
      MakeCluster(3, dir_ + "/fresh", {});
  for (int i = 0; i < 3; ++i) {
    const std::string id = fresh[i]->id();
    absl::StatusOr<v1::BackupManifest> restored =
        RestoreNode(backup, id, absl::StrCat(dir_, "/fresh/", id));
    ASSERT_THAT(restored, IsOk()) << id;
  }
  absl::Status started = StartAndWait(fresh);
  ASSERT_TRUE(started.ok()) << started;
  std::unique_ptr<Client> client = MustConnect(fresh);
  ASSERT_NE(client, nullptr);

  for (const auto& [id, attributes] : live) {
    absl::StatusOr<SessionData> got = client->Get("test", id, false);
    ASSERT_THAT(got, IsOk()) << id;
    EXPECT_EQ(got->attributes, attributes);
    EXPECT_EQ(got->user_id, "alice");
  }
  for (const std::string& id : destroyed_before) {
    EXPECT_THAT(client->Get("test", id, false),
                StatusIs(StatusCode::kNotFound));
  }
  for (const std::string& id : created_after) {
    EXPECT_THAT(client->Get("test", id, false),
                StatusIs(StatusCode::kNotFound));
  }
  // Live at backup time, so back (docs/operations.md says why).
  for (const std::string& id : destroyed_after) {
    EXPECT_THAT(client->Get("test", id, false), IsOk());
  }
  absl::StatusOr<std::vector<SessionData>> listed =
      client->ListByUser("test", "alice");
  ASSERT_THAT(listed, IsOk());
  EXPECT_EQ(listed->size(), live.size());
}

TEST_F(BackupTest, Backup_BadRequest_ExactCodeAndNothingWritten) {
  const NodeProcess& n1 = *nodes_[0];
  EXPECT_THAT(client_->Backup("n1", "relative/backup"),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(client_->Backup("n1", dir_ + "/b/../escaped"),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_FALSE(fs::exists(dir_ + "/b"));
  EXPECT_FALSE(fs::exists(dir_ + "/escaped"));
  // Inside the node's own data dir.
  EXPECT_THAT(client_->Backup("n1", dir_ + "/cluster/n1/backup"),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_FALSE(fs::exists(dir_ + "/cluster/n1/backup"));

  // An existing non-empty target.
  const std::string occupied = dir_ + "/occupied";
  fs::create_directories(occupied + "/n1");
  std::ofstream(occupied + "/n1/keep") << "mine";
  EXPECT_THAT(client_->Backup("n1", occupied),
              StatusIs(StatusCode::kAlreadyExists));
  EXPECT_EQ(Listing(occupied), std::vector<std::string>{"n1"});
  EXPECT_EQ(Listing(occupied + "/n1"), std::vector<std::string>{"keep"});

  // The same backup twice: the second changes nothing.
  const std::string backup = dir_ + "/backup";
  ASSERT_THAT(client_->Backup("n1", backup), IsOk());
  const std::vector<std::string> before = Listing(backup + "/n1");
  EXPECT_THAT(client_->Backup("n1", backup),
              StatusIs(StatusCode::kAlreadyExists));
  EXPECT_EQ(Listing(backup),
            (std::vector<std::string>{"n1", "n1.manifest.json"}));
  EXPECT_EQ(Listing(backup + "/n1"), before);

  // Without the admin scope, or without a token.
  const std::string denied = dir_ + "/denied";
  v1::BackupRequest request;
  request.set_dir(denied);
  for (const auto& [token, code] :
       std::vector<std::pair<std::string, grpc::StatusCode>>{
           {testing::Credentials().Token("test"),
            grpc::StatusCode::PERMISSION_DENIED},
           {"", grpc::StatusCode::UNAUTHENTICATED}}) {
    std::unique_ptr<v1::Cluster::Stub> stub =
        v1::Cluster::NewStub(testing::ClientChannel(n1.address(), token));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::seconds(5));
    v1::BackupResponse response;
    EXPECT_EQ(stub->Backup(&ctx, request, &response).error_code(), code);
  }
  EXPECT_FALSE(fs::exists(denied));
}

}  // namespace
}  // namespace sesh
