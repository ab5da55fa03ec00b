// Closed by default, tried from outside as an attacker would, against real
// nodes: each attack the peer and client planes were open to is replayed
// and must fail with the right code and change nothing (docs/security.md).

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "auth/token_table.h"
#include "gtest/gtest.h"
#include "replication/placement.h"
#include "replication/session_id.h"
#include "sesh/internal/peer.grpc.pb.h"
#include "tests/cluster_calls.h"
#include "tests/node_process.h"
#include "tests/test_credentials.h"

namespace sesh {
namespace {

using testing::ClientChannel;
using testing::CreateThrough;
using testing::Credentials;
using testing::Deadline;
using testing::GetThrough;
using testing::MakeCluster;
using testing::NewTempDir;
using testing::NodeProcess;
using testing::PeerChannel;
using testing::PickFreePort;
using testing::PollUntil;
using testing::ReadReplica;
using testing::StartAndWait;

std::string PrimaryOf(const std::string& id) {
  auto placement = PlacementMap::Build({"n1", "n2", "n3"}, 3);
  auto raw = DecodeId(id);
  if (!placement.ok() || !raw.ok()) return "";
  return placement->nodes()[placement->Primary(PartitionOf(*raw))];
}

grpc::StatusCode GetCode(const std::shared_ptr<grpc::Channel>& channel,
                         const std::string& ns, const std::string& id) {
  grpc::ClientContext ctx;
  ctx.set_deadline(Deadline());
  v1::GetRequest request;
  request.set_namespace_(ns);
  request.set_id(id);
  request.set_skip_touch(true);
  v1::GetResponse response;
  return v1::Sessions::NewStub(channel)
      ->Get(&ctx, request, &response)
      .error_code();
}

class SecurityTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    nodes_ = new std::vector<std::unique_ptr<NodeProcess>>(
        MakeCluster(3, NewTempDir("security"), {}));
    ASSERT_TRUE(StartAndWait(*nodes_).ok());
  }
  static void TearDownTestSuite() {
    delete nodes_;
    nodes_ = nullptr;
  }
  NodeProcess& node(int i) { return *(*nodes_)[i]; }
  NodeProcess& ById(const std::string& id) {
    for (auto& n : *nodes_) {
      if (n->id() == id) return *n;
    }
    return node(0);
  }

  static std::vector<std::unique_ptr<NodeProcess>>* nodes_;
};
std::vector<std::unique_ptr<NodeProcess>>* SecurityTest::nodes_ = nullptr;

TEST_F(SecurityTest, PeerCallsOnTheClientPort_Unimplemented) {
  // Attack: Peer/Fetch on the public port to read every session.
  const std::string id = CreateThrough(node(0));
  ASSERT_FALSE(id.empty());
  auto peer_on_client_port = internal::Peer::NewStub(node(0).channel());
  grpc::ClientContext ctx;
  ctx.set_deadline(Deadline());
  internal::FetchRequest fetch;
  fetch.set_first_partition(0);
  fetch.set_last_partition(kPartitionCount - 1);
  fetch.set_for_node("n2");
  internal::FetchResponse response;
  EXPECT_EQ(peer_on_client_port->Fetch(&ctx, fetch, &response).error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_EQ(response.records_size(), 0);
}

TEST_F(SecurityTest, PeerPortWithoutNodeCertificate_Refused) {
  internal::FetchRequest fetch;
  fetch.set_first_partition(0);
  fetch.set_last_partition(kPartitionCount - 1);
  fetch.set_for_node("n2");
  // TLS, no client certificate: the handshake fails.
  {
    grpc::SslCredentialsOptions options;
    options.pem_root_certs = Credentials().ca_pem;
    grpc::ChannelArguments args;
    args.SetSslTargetNameOverride("n1");
    auto channel = grpc::CreateCustomChannel(
        node(0).peer_address(), grpc::SslCredentials(options), args);
    grpc::ClientContext ctx;
    ctx.set_deadline(Deadline());
    internal::FetchResponse response;
    EXPECT_EQ(internal::Peer::NewStub(channel)
                  ->Fetch(&ctx, fetch, &response)
                  .error_code(),
              grpc::StatusCode::UNAVAILABLE);
    EXPECT_EQ(response.records_size(), 0);
  }
  // Plaintext: no handshake at all.
  {
    auto channel = grpc::CreateChannel(node(0).peer_address(),
                                       grpc::InsecureChannelCredentials());
    grpc::ClientContext ctx;
    ctx.set_deadline(Deadline());
    internal::FetchResponse response;
    EXPECT_EQ(internal::Peer::NewStub(channel)
                  ->Fetch(&ctx, fetch, &response)
                  .error_code(),
              grpc::StatusCode::UNAVAILABLE);
  }
  // A certificate of the cluster CA that names no member (a client's).
  {
    auto channel = PeerChannel(node(0).peer_address(), "n1", "client");
    grpc::ClientContext ctx;
    ctx.set_deadline(Deadline());
    internal::FetchResponse response;
    EXPECT_EQ(internal::Peer::NewStub(channel)
                  ->Fetch(&ctx, fetch, &response)
                  .error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_EQ(response.records_size(), 0);
  }
}

TEST_F(SecurityTest, NodeCertificateOfN2_CannotSendAsN1) {
  // Attack: forge a session change with role=admin, claiming to be n1.
  const std::string id = CreateThrough(node(0));
  ASSERT_FALSE(id.empty());
  auto before = ReadReplica(node(0), id);
  ASSERT_TRUE(before.ok() && before->has_value());
  internal::SessionRecord forged = **before;
  forged.set_version(forged.version() + 1000);
  (*forged.mutable_attributes())["role"].set_value("admin");
  (*forged.mutable_attributes())["role"].set_hlc(forged.version());
  for (int target : {0, 2}) {
    auto stub = internal::Peer::NewStub(node(target).peer_channel("n2"));
    grpc::ClientContext ctx;
    ctx.set_deadline(Deadline());
    internal::ApplyRequest request;
    request.set_from_node("n1");
    *request.add_records() = forged;
    internal::ApplyResponse response;
    EXPECT_EQ(stub->Apply(&ctx, request, &response).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }
  for (int i = 0; i < 3; ++i) {
    auto copy = ReadReplica(node(i), id);
    ASSERT_TRUE(copy.ok() && copy->has_value());
    EXPECT_EQ((*copy)->attributes().count("role"), 0u) << node(i).id();
  }
}

// Every peer RPC, called with `channel` and each message claiming to come
// from `claimed`: the codes, in the order Apply, Read, Fetch, Heartbeat,
// Digests, PartitionRecords, Repair.
std::vector<grpc::StatusCode> CallEveryPeerRpc(
    const std::shared_ptr<grpc::Channel>& channel, const std::string& claimed,
    const std::string& id) {
  auto stub = internal::Peer::NewStub(channel);
  std::vector<grpc::StatusCode> codes;
  auto call = [&](auto method, auto request, auto response) {
    grpc::ClientContext ctx;
    ctx.set_deadline(Deadline());
    codes.push_back(((*stub).*method)(&ctx, request, &response).error_code());
  };
  internal::SessionRecord record;
  record.set_id(*DecodeId(id));
  record.set_namespace_("shop");
  record.set_destroyed(true);
  record.set_version(uint64_t{1} << 62);
  internal::ApplyRequest apply;
  apply.set_from_node(claimed);
  *apply.add_records() = record;
  call(&internal::Peer::Stub::Apply, apply, internal::ApplyResponse());
  internal::ReadRequest read;
  read.add_ids(record.id());
  call(&internal::Peer::Stub::Read, read, internal::ReadResponse());
  internal::FetchRequest fetch;
  fetch.set_last_partition(kPartitionCount - 1);
  fetch.set_for_node(claimed);
  call(&internal::Peer::Stub::Fetch, fetch, internal::FetchResponse());
  internal::HeartbeatRequest heartbeat;
  heartbeat.set_from_node(claimed);
  call(&internal::Peer::Stub::Heartbeat, heartbeat,
       internal::HeartbeatResponse());
  internal::DigestsRequest digests;
  digests.set_from_node(claimed);
  digests.set_last_partition(kPartitionCount - 1);
  call(&internal::Peer::Stub::Digests, digests, internal::DigestsResponse());
  internal::PartitionRecordsRequest records;
  records.set_from_node(claimed);
  records.add_partitions(PartitionOf(record.id()));
  call(&internal::Peer::Stub::PartitionRecords, records,
       internal::PartitionRecordsResponse());
  internal::RepairRequest repair;
  repair.set_from_node(claimed);
  *repair.add_records() = record;
  call(&internal::Peer::Stub::Repair, repair, internal::RepairResponse());
  return codes;
}

TEST_F(SecurityTest, EveryPeerRpc_NeedsAMemberCertificateNamingTheSender) {
  const std::string id = CreateThrough(node(0));
  ASSERT_FALSE(id.empty());
  using Code = grpc::StatusCode;
  // A certificate of the cluster CA that names no member.
  EXPECT_EQ(CallEveryPeerRpc(PeerChannel(node(0).peer_address(), "n1",
                                         "client"),
                             "n2", id),
            std::vector<Code>(7, Code::UNAUTHENTICATED));
  // n2's certificate, every message claiming n3 (Read names no sender).
  std::vector<Code> as_n3(7, Code::PERMISSION_DENIED);
  as_n3[1] = Code::OK;
  EXPECT_EQ(CallEveryPeerRpc(node(0).peer_channel("n2"), "n3", id), as_n3);
  // The session was not destroyed by any of it.
  EXPECT_TRUE(GetThrough(node(0), id, nullptr).ok());
  for (int i = 0; i < 3; ++i) {
    auto copy = ReadReplica(node(i), id);
    ASSERT_TRUE(copy.ok() && copy->has_value());
    EXPECT_FALSE((*copy)->destroyed());
  }
}

TEST_F(SecurityTest, HeartbeatNotFromItsSender_Refused_HealthKept) {
  // Attack: one empty Heartbeat turned the node NOT_SERVING for good.
  for (const std::string& from : {std::string(), std::string("n1"),
                                   std::string("\n<forged log line>")}) {
    auto stub = internal::Peer::NewStub(node(0).peer_channel("n2"));
    grpc::ClientContext ctx;
    ctx.set_deadline(Deadline());
    internal::HeartbeatRequest request;
    request.set_from_node(from);
    request.set_epoch(12345);
    internal::HeartbeatResponse response;
    EXPECT_EQ(stub->Heartbeat(&ctx, request, &response).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }
  grpc::ClientContext ctx;
  ctx.set_deadline(Deadline());
  v1::NodeStatsResponse stats;
  ASSERT_TRUE(node(0).ClusterStub()->NodeStats(&ctx, {}, &stats).ok());
  EXPECT_EQ(stats.membership_error(), "");
  EXPECT_TRUE(stats.serving());
  std::ifstream log(node(0).log_path());
  std::string text((std::istreambuf_iterator<char>(log)),
                   std::istreambuf_iterator<char>());
  EXPECT_EQ(text.find("forged log line"), std::string::npos);
}

TEST_F(SecurityTest, ClientTokens_RefusedWithTheRightCode_NothingChanges) {
  const std::string id = CreateThrough(node(0));  // namespace "shop"
  ASSERT_FALSE(id.empty());
  const std::string address = node(0).address();
  const std::string test_token = Credentials().Token("test");
  EXPECT_EQ(GetCode(ClientChannel(address, ""), "shop", id),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(GetCode(ClientChannel(address, "not-a-token"), "shop", id),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(GetCode(ClientChannel(address, test_token), "shop", id),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(GetCode(ClientChannel(address, test_token), "test", id),
            grpc::StatusCode::NOT_FOUND);
  // Plaintext to the TLS port.
  EXPECT_EQ(GetCode(ClientChannel(address, Credentials().admin_token,
                                  /*tls=*/false),
                    "shop", id),
            grpc::StatusCode::UNAVAILABLE);
  // A refused Destroy destroys nothing.
  grpc::ClientContext ctx;
  ctx.set_deadline(Deadline());
  v1::DestroyRequest destroy;
  destroy.set_namespace_("shop");
  destroy.set_id(id);
  v1::DestroyResponse destroyed;
  EXPECT_EQ(v1::Sessions::NewStub(ClientChannel(address, test_token))
                ->Destroy(&ctx, destroy, &destroyed)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(GetThrough(node(1), id, nullptr).ok());
}

TEST_F(SecurityTest, ForwardedHeaderFromAClient_Ignored) {
  // Attack: x-sesh-forwarded made a non-coordinator serve a write itself.
  // n2 mints the id in a partition it is the primary of; n1 gets the call.
  const std::string id = CreateThrough(node(1));
  ASSERT_EQ(PrimaryOf(id), "n2");
  NodeProcess* other = &node(0);
  auto forwarded_count = [&] {
    grpc::ClientContext ctx;
    ctx.set_deadline(Deadline());
    v1::NodeStatsResponse stats;
    EXPECT_TRUE(other->ClusterStub()->NodeStats(&ctx, {}, &stats).ok());
    return stats.requests_forwarded();
  };
  const uint64_t before = forwarded_count();
  grpc::ClientContext ctx;
  ctx.set_deadline(Deadline());
  ctx.AddMetadata("x-sesh-forwarded", "1");
  v1::UpdateRequest update;
  update.set_namespace_("shop");
  update.set_id(id);
  (*update.mutable_set())["cart"] = "1";
  v1::UpdateResponse response;
  ASSERT_TRUE(other->SessionsStub()->Update(&ctx, update, &response).ok());
  EXPECT_EQ(forwarded_count(), before + 1);  // sent to the coordinator
}

TEST_F(SecurityTest, ListByUser_GivesNoUsableId_DestroyByHandleIsFinal) {
  std::vector<std::string> ids;
  for (int i = 0; i < 6; ++i) {
    grpc::ClientContext ctx;
    ctx.set_deadline(Deadline());
    v1::CreateRequest create;
    create.set_namespace_("shop");
    create.set_user_id("mallory-target");
    create.set_idle_timeout_ms(3600 * 1000);
    (*create.mutable_attributes())["user_agent"] = "phone " + std::to_string(i);
    v1::CreateResponse created;
    ASSERT_TRUE(node(i % 3).SessionsStub()->Create(&ctx, create, &created).ok());
    ids.push_back(created.session().id());
  }
  v1::ListByUserResponse listed;
  for (int i = 0; i < 3; ++i) {
    grpc::ClientContext ctx;
    ctx.set_deadline(Deadline());
    v1::ListByUserRequest list;
    list.set_namespace_("shop");
    list.set_user_id("mallory-target");
    list.add_attributes("user_agent");
    listed.Clear();
    ASSERT_TRUE(node(i).SessionsStub()->ListByUser(&ctx, list, &listed).ok());
    ASSERT_EQ(listed.sessions_size(), 6);
    for (const v1::Session& s : listed.sessions()) {
      EXPECT_EQ(s.id(), "");
      EXPECT_EQ(s.attributes().count("user_agent"), 1u);
      // Nothing listed is accepted as an id by any node.
      for (const std::string& text : {s.handle(), s.user_id()}) {
        EXPECT_NE(GetThrough(node(i), text, nullptr).error_code(),
                  grpc::StatusCode::OK);
      }
    }
  }
  // Log out the first device by handle, through another node.
  const std::string handle = listed.sessions(0).handle();
  grpc::ClientContext ctx;
  ctx.set_deadline(Deadline());
  v1::DestroyRequest destroy;
  destroy.set_namespace_("shop");
  destroy.set_user_id("mallory-target");
  destroy.set_handle(handle);
  destroy.set_durability(v1::QUORUM);
  v1::DestroyResponse destroyed;
  ASSERT_TRUE(node(1).SessionsStub()->Destroy(&ctx, destroy, &destroyed).ok());
  int gone = 0;
  for (const std::string& id : ids) {
    bool found_everywhere = true;
    for (int i = 0; i < 3; ++i) {
      found_everywhere &= GetThrough(node(i), id, nullptr).ok();
    }
    if (!found_everywhere) {
      ++gone;
      for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(GetThrough(node(i), id, nullptr).error_code(),
                  grpc::StatusCode::NOT_FOUND);
        auto copy = ReadReplica(node(i), id);
        ASSERT_TRUE(copy.ok());
        if (copy->has_value()) {
          EXPECT_TRUE((*copy)->destroyed());
        }
      }
    }
  }
  EXPECT_EQ(gone, 1);
}

TEST_F(SecurityTest, OverTheMessageLimit_ResourceExhausted) {
  grpc::ClientContext ctx;
  ctx.set_deadline(Deadline());
  v1::CreateRequest create;
  create.set_namespace_("shop");
  create.set_idle_timeout_ms(1000);
  (*create.mutable_attributes())["blob"] = std::string(2 << 20, 'x');
  v1::CreateResponse created;
  EXPECT_EQ(node(0).SessionsStub()->Create(&ctx, create, &created).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
}

// One node that requires client certificates and reads a token file of its
// own, which the test rewrites.
TEST(SecuritySingleNodeTest, ClientCertificateRequired_TokenFileReloaded) {
  const std::string dir = NewTempDir("single");
  const std::string tokens = dir + "/tokens";
  std::ofstream(tokens) << "shop " << Sha256Hex("first") << "\n";
  NodeProcess node("n1", PickFreePort(), PickFreePort(), dir + "/n1",
                   {"--tls_client_ca=" + Credentials().ca_file,
                    "--token_file=" + tokens});
  ASSERT_TRUE(node.Start().ok());
  const std::string id = "0000000000000000000000000000000000000000000";
  EXPECT_EQ(GetCode(ClientChannel(node.address(), "first"), "shop", id),
            grpc::StatusCode::UNAVAILABLE);  // no client certificate
  EXPECT_EQ(GetCode(ClientChannel(node.address(), "first", true, "client"),
                    "shop", id),
            grpc::StatusCode::NOT_FOUND);
  // A new token file: the new token works, the old one stops.
  std::ofstream(tokens + ".new") << "shop " << Sha256Hex("second") << "\n";
  ASSERT_EQ(std::rename((tokens + ".new").c_str(), tokens.c_str()), 0);
  EXPECT_TRUE(PollUntil(5000, 50, [&] {
    return GetCode(ClientChannel(node.address(), "second", true, "client"),
                   "shop", id) == grpc::StatusCode::NOT_FOUND;
  }));
  EXPECT_EQ(GetCode(ClientChannel(node.address(), "first", true, "client"),
                    "shop", id),
            grpc::StatusCode::UNAUTHENTICATED);
  // A node without credentials refuses to start unless --insecure.
  NodeProcess bare("n1", PickFreePort(), PickFreePort(), dir + "/bare",
                   {"--tls_cert=", "--token_file="});
  EXPECT_FALSE(bare.Start(5000).ok());
}

}  // namespace
}  // namespace sesh
