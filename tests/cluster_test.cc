// Three real sesh-node processes: any node serves any session, the client
// calls owners directly, and per-user calls cover the whole cluster.

#include <grpcpp/grpcpp.h>

#include <map>
#include <set>
#include <thread>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/sesh/client.h"
#include "gtest/gtest.h"
#include "tests/node_process.h"
#include "tests/test_credentials.h"

namespace sesh {
namespace {

using testing::MakeCluster;
using testing::NewTempDir;
using testing::NodeProcess;
using testing::StartAndWait;

constexpr int64_t kIdle = 3600 * 1000;

std::chrono::system_clock::time_point Deadline() {
  return std::chrono::system_clock::now() + std::chrono::seconds(5);
}

class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    nodes_ = MakeCluster(3, NewTempDir("cluster"), {});
    absl::Status started = StartAndWait(nodes_);
    ASSERT_TRUE(started.ok()) << started;
    ClientOptions options;
    for (auto& node : nodes_) options.seeds.push_back(node->address());
    options.tls_ca_pem = testing::Credentials().ca_pem;
    options.token = testing::Credentials().admin_token;
    auto client = Client::Connect(options);
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = std::move(*client);
  }

  std::map<std::string, uint64_t> Forwarded() {
    std::map<std::string, uint64_t> out;
    for (auto& node : nodes_) {
      auto stats = client_->NodeStats(node->id());
      EXPECT_TRUE(stats.ok()) << stats.status();
      if (stats.ok()) out[node->id()] = stats->requests_forwarded;
    }
    return out;
  }

  std::vector<std::unique_ptr<NodeProcess>> nodes_;
  std::unique_ptr<Client> client_;
};

TEST_F(ClusterTest, CreatedThroughAnyNode_ReadableThroughEveryNodeAndClient) {
  std::vector<std::string> ids;
  for (auto& creator : nodes_) {
    auto stub = creator->SessionsStub();
    for (int i = 0; i < 10; ++i) {
      grpc::ClientContext ctx;
      ctx.set_deadline(Deadline());
      v1::CreateRequest request;
      request.set_namespace_("shop");
      request.set_idle_timeout_ms(kIdle);
      (*request.mutable_attributes())["from"] = creator->id();
      v1::CreateResponse response;
      grpc::Status status = stub->Create(&ctx, request, &response);
      ASSERT_TRUE(status.ok()) << status.error_message();
      ids.push_back(response.session().id());
    }
  }
  for (auto& reader : nodes_) {
    auto stub = reader->SessionsStub();
    for (const std::string& id : ids) {
      grpc::ClientContext ctx;
      ctx.set_deadline(Deadline());
      v1::GetRequest request;
      request.set_namespace_("shop");
      request.set_id(id);
      v1::GetResponse response;
      grpc::Status status = stub->Get(&ctx, request, &response);
      ASSERT_TRUE(status.ok()) << reader->id() << ": " << status.error_message();
      EXPECT_EQ(response.session().id(), id);
    }
  }
  for (const std::string& id : ids) {
    auto got = client_->Get("shop", id);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_FALSE(got->attributes.at("from").empty());
  }
}

TEST_F(ClusterTest, ClientCalls_LandOnOwner_NoForwardingHop) {
  std::vector<std::string> ids;
  std::set<std::string> owners;
  for (int i = 0; i < 60; ++i) {
    CreateOptions options;
    options.idle_timeout_ms = kIdle;
    auto created = client_->Create("shop", options);
    ASSERT_TRUE(created.ok()) << created.status();
    ids.push_back(created->id);
    auto owner = client_->OwnerOf(created->id);
    ASSERT_TRUE(owner.ok());
    owners.insert(*owner);
  }
  EXPECT_EQ(owners.size(), 3u) << "sessions should spread over all nodes";
  std::map<std::string, uint64_t> before = Forwarded();
  for (const std::string& id : ids) {
    ASSERT_TRUE(client_->Get("shop", id).ok());
    UpdateOptions update;
    update.set["cart"] = "1";
    ASSERT_TRUE(client_->Update("shop", id, update).ok());
    ASSERT_TRUE(client_->Touch("shop", id).ok());
  }
  std::map<std::string, uint64_t> after = Forwarded();
  for (const auto& [node, count] : after) {
    EXPECT_EQ(count, before[node]) << node << " forwarded client calls";
  }
}

TEST_F(ClusterTest, ListAndDestroyByUser_CoverEveryNode) {
  std::set<std::string> owners;
  std::vector<std::string> ids;
  for (int i = 0; i < 30; ++i) {
    CreateOptions options;
    options.user_id = "carol";
    options.idle_timeout_ms = kIdle;
    auto created = client_->Create("shop", options);
    ASSERT_TRUE(created.ok()) << created.status();
    ids.push_back(created->id);
    owners.insert(*client_->OwnerOf(created->id));
  }
  EXPECT_EQ(owners.size(), 3u);
  CreateOptions other;
  other.user_id = "dave";
  other.idle_timeout_ms = kIdle;
  auto dave = client_->Create("shop", other);
  ASSERT_TRUE(dave.ok());

  // Through any node, the whole cluster's list.
  for (auto& node : nodes_) {
    grpc::ClientContext ctx;
    ctx.set_deadline(Deadline());
    v1::ListByUserRequest request;
    request.set_namespace_("shop");
    request.set_user_id("carol");
    v1::ListByUserResponse response;
    ASSERT_TRUE(node->SessionsStub()->ListByUser(&ctx, request, &response).ok());
    EXPECT_EQ(response.sessions_size(), 30) << "through " << node->id();
  }
  auto listed = client_->ListByUser("shop", "carol");
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_EQ(listed->size(), 30u);

  auto destroyed = client_->DestroyByUser("shop", "carol", ids[0]);
  ASSERT_TRUE(destroyed.ok()) << destroyed.status();
  EXPECT_EQ(*destroyed, 29);
  for (size_t i = 1; i < ids.size(); ++i) {
    EXPECT_EQ(client_->Get("shop", ids[i]).status().code(),
              absl::StatusCode::kNotFound);
  }
  EXPECT_TRUE(client_->Get("shop", ids[0]).ok());
  EXPECT_TRUE(client_->Get("shop", dave->id).ok());
  listed = client_->ListByUser("shop", "carol");
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->size(), 1u);
}

TEST_F(ClusterTest, NodeWithOtherPeerList_IsRefused_OthersUndisturbed) {
  // n4 believes the cluster is n1..n3 plus itself; the others do not, so
  // they refuse its heartbeats (it holds a valid node certificate, of a node
  // outside their membership) and keep serving.
  std::string peers;
  for (auto& node : nodes_) {
    absl::StrAppend(&peers, node->id(), "=", node->address(), "/",
                    node->peer_address(), ",");
  }
  int port = testing::PickFreePort();
  int peer_port = testing::PickFreePort();
  absl::StrAppend(&peers, "n4=127.0.0.1:", port, "/127.0.0.1:", peer_port);
  NodeProcess stranger("n4", port, peer_port, NewTempDir("stranger") + "/n4",
                       {absl::StrCat("--peers=", peers),
                        "--catch_up_timeout_ms=200"});
  ASSERT_TRUE(stranger.Start().ok());
  std::string error;
  for (int i = 0; i < 100 && error.empty(); ++i) {
    grpc::ClientContext ctx;
    ctx.set_deadline(Deadline());
    v1::NodeStatsResponse stats;
    if (stranger.ClusterStub()->NodeStats(&ctx, {}, &stats).ok()) {
      error = stats.membership_error();
    }
    if (error.empty()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  EXPECT_NE(error.find("refuses this node's heartbeats"), std::string::npos)
      << error;
  for (auto& node : nodes_) {
    auto stats = client_->NodeStats(node->id());
    ASSERT_TRUE(stats.ok());
    EXPECT_EQ(stats->membership_error, "");
    EXPECT_TRUE(stats->serving);
  }
}

}  // namespace
}  // namespace sesh
