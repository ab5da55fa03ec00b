#include "node/sessions_service.h"

#include <filesystem>
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <fstream>

#include "absl/strings/str_cat.h"
#include "auth/session_handle.h"
#include "auth/token_store.h"
#include "auth/token_table.h"
#include "gtest/gtest.h"
#include "node/call_auth.h"
#include "node/peer_service.h"
#include "tests/test_credentials.h"
#include "replication/grpc_peer_transport.h"
#include "replication/session_id.h"

namespace sesh {
namespace {

constexpr int64_t kStart = 1'700'000'000'000;
constexpr int64_t kIdle = 60'000;
constexpr char kShopToken[] = "shop-token";
constexpr char kOtherToken[] = "other-token";
constexpr char kAdminToken[] = "admin-token";

v1::WriteOp CreateOp(const std::string& ns, const std::string& user,
                     const std::string& key, const std::string& value) {
  v1::WriteOp op;
  v1::CreateRequest* create = op.mutable_create();
  create->set_namespace_(ns);
  create->set_user_id(user);
  (*create->mutable_attributes())[key] = value;
  create->set_idle_timeout_ms(kIdle);
  return op;
}

v1::WriteOp UpdateOp(const std::string& ns, const std::string& id,
                     const std::string& key, const std::string& value) {
  v1::WriteOp op;
  op.mutable_update()->set_namespace_(ns);
  op.mutable_update()->set_id(id);
  (*op.mutable_update()->mutable_set())[key] = value;
  return op;
}

v1::WriteOp TouchOp(const std::string& ns, const std::string& id) {
  v1::WriteOp op;
  op.mutable_touch()->set_namespace_(ns);
  op.mutable_touch()->set_id(id);
  return op;
}

v1::WriteOp DestroyOp(const std::string& ns, const std::string& id) {
  v1::WriteOp op;
  op.mutable_destroy()->set_namespace_(ns);
  op.mutable_destroy()->set_id(id);
  return op;
}

// One node, in process, on localhost:0, with a fake clock.
class SessionsServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StoreOptions options;
    options.path = absl::StrCat(
        ::testing::TempDir(), "/svc_",
        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    path_ = options.path;
    options.limits.max_attributes = 4;
    auto store = SessionStore::Open(options, &clock_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    ClusterOptions cluster_options;
    cluster_options.self_id = "n1";
    cluster_options.peers = {{"n1", "127.0.0.1:1"}};
    transport_ = std::make_unique<GrpcPeerTransport>(
        std::vector<std::string>{"127.0.0.1:1"});
    auto cluster =
        Cluster::Create(cluster_options, transport_.get(), nullptr,
                        SteadyClock());
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = std::move(*cluster);
    cluster_->SetServing(true);
    const std::string token_file = path_ + ".tokens";
    std::ofstream(token_file) << "shop " << Sha256Hex(kShopToken) << "\n"
                              << "other " << Sha256Hex(kOtherToken) << "\n"
                              << "* " << Sha256Hex(kAdminToken) << " admin\n";
    auto tokens = TokenStore::Open(token_file);
    ASSERT_TRUE(tokens.ok()) << tokens.status();
    tokens_ = std::move(*tokens);
    auth_ = std::make_unique<CallAuth>(CallAuth::ClientPort(tokens_.get()));
    ServiceOptions service_options;
    service_options.auth = auth_.get();
    service_options.max_batch = 10;
    service_options.max_destroy_per_call = 2;
    service_options.stream_idle_timeout_ms = 0;  // see EndIdleStreams below
    sessions_ = std::make_unique<SessionsService>(
        store_.get(), cluster_.get(),
        std::vector<std::shared_ptr<grpc::Channel>>{transport_->channel(0)},
        service_options);
    cluster_service_ = std::make_unique<ClusterService>(
        store_.get(), cluster_.get(), sessions_.get(), nullptr, auth_.get());
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("localhost:0", grpc::InsecureServerCredentials(),
                             &port);
    builder.RegisterService(sessions_.get());
    builder.RegisterService(cluster_service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(port, 0);
    address_ = absl::StrCat("localhost:", port);
    stub_ = StubWith(kShopToken);
    cluster_stub_ = v1::Cluster::NewStub(
        testing::ClientChannel(address_, kAdminToken, /*tls=*/false));
  }

  // A Sessions stub whose calls carry `token` (none if empty).
  std::unique_ptr<v1::Sessions::Stub> StubWith(const std::string& token) {
    return v1::Sessions::NewStub(
        testing::ClientChannel(address_, token, /*tls=*/false));
  }

  void TearDown() override {
    if (server_) server_->Shutdown();
    server_.reset();
    cluster_service_.reset();
    sessions_.reset();
    cluster_.reset();
    store_.reset();
    std::filesystem::remove_all(path_);
    std::filesystem::remove(path_ + ".tokens");
  }

  v1::Session MustCreate(const std::string& user = "alice") {
    grpc::ClientContext ctx;
    v1::CreateRequest request;
    request.set_namespace_("shop");
    request.set_user_id(user);
    (*request.mutable_attributes())["role"] = "admin";
    request.set_idle_timeout_ms(kIdle);
    v1::CreateResponse response;
    grpc::Status status = stub_->Create(&ctx, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.session();
  }

  // A skip_touch Get that must succeed.
  v1::Session MustGet(const std::string& id) {
    grpc::ClientContext ctx;
    v1::GetRequest request;
    request.set_namespace_("shop");
    request.set_id(id);
    request.set_skip_touch(true);
    v1::GetResponse response;
    grpc::Status status = stub_->Get(&ctx, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.session();
  }

  // Sends `request` as the one message of a StreamWrite call and returns
  // its answer; the call must then end OK.
  v1::WriteBatchResponse MustWriteBatch(const v1::WriteBatchRequest& request) {
    grpc::ClientContext ctx;
    auto stream = stub_->StreamWrite(&ctx);
    EXPECT_TRUE(stream->Write(request));
    v1::WriteBatchResponse response;
    EXPECT_TRUE(stream->Read(&response));
    EXPECT_TRUE(stream->WritesDone());
    grpc::Status status = stream->Finish();
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  // The idle limit is 0 here: once its answer is written, a stream is idle.
  // EndIdleStreams runs until the stream's next Read fails.
  template <typename W, typename R>
  void ExpectEndedAsIdle(grpc::ClientReaderWriter<W, R>* stream) {
    std::atomic<bool> ended{false};
    std::thread ender([this, &ended] {
      for (int i = 0; i < 500 && !ended.load(); ++i) {
        sessions_->EndIdleStreams();
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    });
    R response;
    EXPECT_FALSE(stream->Read(&response));
    ended.store(true);
    EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
    ender.join();
  }

  grpc::StatusCode GetCode(const std::string& id, const std::string& ns = "shop") {
    grpc::ClientContext ctx;
    v1::GetRequest request;
    request.set_namespace_(ns);
    request.set_id(id);
    v1::GetResponse response;
    return stub_->Get(&ctx, request, &response).error_code();
  }

  FakeClock clock_{kStart};
  std::string path_;
  std::string address_;
  std::unique_ptr<TokenStore> tokens_;
  std::unique_ptr<CallAuth> auth_;
  std::unique_ptr<SessionStore> store_;
  std::unique_ptr<GrpcPeerTransport> transport_;
  std::unique_ptr<Cluster> cluster_;
  std::unique_ptr<SessionsService> sessions_;
  std::unique_ptr<ClusterService> cluster_service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::Sessions::Stub> stub_;
  std::unique_ptr<v1::Cluster::Stub> cluster_stub_;
};

TEST_F(SessionsServiceTest, Create_ReturnsWellFormedSession) {
  v1::Session s = MustCreate();
  EXPECT_EQ(s.id().size(), 43u);
  EXPECT_TRUE(DecodeId(s.id()).ok());
  EXPECT_EQ(s.namespace_(), "shop");
  EXPECT_EQ(s.user_id(), "alice");
  EXPECT_EQ(s.attributes().at("role"), "admin");
  EXPECT_EQ(s.created_at_ms(), kStart);
  EXPECT_EQ(s.expires_at_ms(), kStart + kIdle);
  EXPECT_GT(s.version(), 0u);
}

TEST_F(SessionsServiceTest, Create_InvalidRequests_GiveInvalidArgumentOrResourceExhausted) {
  grpc::ClientContext ctx1;
  v1::CreateRequest no_timeout;
  no_timeout.set_namespace_("shop");
  v1::CreateResponse response;
  EXPECT_EQ(stub_->Create(&ctx1, no_timeout, &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  grpc::ClientContext ctx2;
  v1::CreateRequest too_many;
  too_many.set_namespace_("shop");
  too_many.set_idle_timeout_ms(kIdle);
  for (int i = 0; i < 5; ++i) {
    (*too_many.mutable_attributes())[absl::StrCat("k", i)] = "v";
  }
  EXPECT_EQ(stub_->Create(&ctx2, too_many, &response).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(store_->CountStoredForTesting(), 0);
}

TEST_F(SessionsServiceTest, Get_MalformedId_GivesInvalidArgument) {
  EXPECT_EQ(GetCode("not-an-id"), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(GetCode(std::string(43, '*')), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(GetCode(MustCreate().id(), ""), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(SessionsServiceTest, Get_UnknownOtherNamespaceOrExpired_GivesNotFound) {
  v1::Session s = MustCreate();
  EXPECT_EQ(GetCode(EncodeId(NewRawId())), grpc::StatusCode::NOT_FOUND);
  // The token is for "shop" only.
  EXPECT_EQ(GetCode(s.id(), "blog"), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(GetCode(s.id()), grpc::StatusCode::OK);
  clock_.AdvanceMs(kIdle);
  EXPECT_EQ(GetCode(s.id()), grpc::StatusCode::NOT_FOUND);
}

TEST_F(SessionsServiceTest, Get_Touches_SkipTouchDoesNot) {
  v1::Session s = MustCreate();
  clock_.AdvanceMs(kIdle / 2);
  {
    grpc::ClientContext ctx;
    v1::GetRequest request;
    request.set_namespace_("shop");
    request.set_id(s.id());
    request.set_skip_touch(true);
    v1::GetResponse response;
    ASSERT_TRUE(stub_->Get(&ctx, request, &response).ok());
    EXPECT_EQ(response.session().last_access_ms(), kStart);
  }
  grpc::ClientContext ctx;
  v1::GetRequest request;
  request.set_namespace_("shop");
  request.set_id(s.id());
  v1::GetResponse response;
  ASSERT_TRUE(stub_->Get(&ctx, request, &response).ok());
  EXPECT_EQ(response.session().last_access_ms(), kStart + kIdle / 2);
  EXPECT_EQ(response.session().expires_at_ms(), kStart + kIdle / 2 + kIdle);
}

TEST_F(SessionsServiceTest, Update_SetsRemovesAndChecksVersion) {
  v1::Session s = MustCreate();
  grpc::ClientContext ctx;
  v1::UpdateRequest request;
  request.set_namespace_("shop");
  request.set_id(s.id());
  (*request.mutable_set())["cart"] = "3";
  request.add_remove("role");
  request.set_expected_version(s.version());
  v1::UpdateResponse response;
  ASSERT_TRUE(stub_->Update(&ctx, request, &response).ok());
  EXPECT_EQ(response.session().attributes().size(), 1u);
  EXPECT_EQ(response.session().attributes().at("cart"), "3");
  EXPECT_GT(response.session().version(), s.version());

  grpc::ClientContext stale_ctx;
  v1::UpdateResponse stale_response;
  EXPECT_EQ(stub_->Update(&stale_ctx, request, &stale_response).error_code(),
            grpc::StatusCode::ABORTED);

  grpc::ClientContext missing_ctx;
  v1::UpdateRequest missing = request;
  missing.set_id(EncodeId(NewRawId()));
  missing.set_expected_version(0);
  EXPECT_EQ(stub_->Update(&missing_ctx, missing, &stale_response).error_code(),
            grpc::StatusCode::NOT_FOUND);

  grpc::ClientContext big_ctx;
  v1::UpdateRequest too_many = request;
  too_many.set_expected_version(0);
  too_many.clear_remove();
  for (int i = 0; i < 5; ++i) {
    (*too_many.mutable_set())[absl::StrCat("k", i)] = "v";
  }
  EXPECT_EQ(stub_->Update(&big_ctx, too_many, &stale_response).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
}

TEST_F(SessionsServiceTest, Touch_SlidesExpiry_AndExpiredGivesNotFound) {
  v1::Session s = MustCreate();
  clock_.AdvanceMs(kIdle - 1);
  grpc::ClientContext ctx;
  v1::TouchRequest request;
  request.set_namespace_("shop");
  request.set_id(s.id());
  v1::TouchResponse response;
  ASSERT_TRUE(stub_->Touch(&ctx, request, &response).ok());
  EXPECT_EQ(response.expires_at_ms(), kStart + kIdle - 1 + kIdle);
  clock_.AdvanceMs(kIdle);
  grpc::ClientContext late_ctx;
  EXPECT_EQ(stub_->Touch(&late_ctx, request, &response).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(SessionsServiceTest, Destroy_IsFinalAndIdempotent) {
  v1::Session s = MustCreate();
  v1::DestroyRequest request;
  request.set_namespace_("shop");
  request.set_id(s.id());
  v1::DestroyResponse response;
  grpc::ClientContext ctx1, ctx2, ctx3;
  ASSERT_TRUE(stub_->Destroy(&ctx1, request, &response).ok());
  EXPECT_EQ(GetCode(s.id()), grpc::StatusCode::NOT_FOUND);
  EXPECT_TRUE(stub_->Destroy(&ctx2, request, &response).ok());
  request.set_id("bad");
  EXPECT_EQ(stub_->Destroy(&ctx3, request, &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(SessionsServiceTest, Rotate_NewIdKeepsDataOldIdGone) {
  v1::Session s = MustCreate();
  grpc::ClientContext ctx;
  v1::RotateRequest request;
  request.set_namespace_("shop");
  request.set_id(s.id());
  v1::RotateResponse response;
  ASSERT_TRUE(stub_->Rotate(&ctx, request, &response).ok());
  EXPECT_NE(response.session().id(), s.id());
  EXPECT_EQ(response.session().attributes().at("role"), "admin");
  EXPECT_EQ(GetCode(s.id()), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(GetCode(response.session().id()), grpc::StatusCode::OK);
  grpc::ClientContext again;
  EXPECT_EQ(stub_->Rotate(&again, request, &response).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(SessionsServiceTest, ListAndDestroyByUser_CoverTheUsersSessions) {
  v1::Session keep = MustCreate("alice");
  MustCreate("alice");
  MustCreate("alice");
  v1::Session bob = MustCreate("bob");
  {
    grpc::ClientContext ctx;
    v1::ListByUserRequest request;
    request.set_namespace_("shop");
    request.set_user_id("alice");
    v1::ListByUserResponse response;
    ASSERT_TRUE(stub_->ListByUser(&ctx, request, &response).ok());
    EXPECT_EQ(response.sessions_size(), 3);
  }
  {
    grpc::ClientContext ctx;
    v1::DestroyByUserRequest request;
    request.set_namespace_("shop");
    request.set_user_id("alice");
    request.set_except_id(keep.id());
    v1::DestroyByUserResponse response;
    ASSERT_TRUE(stub_->DestroyByUser(&ctx, request, &response).ok());
    EXPECT_EQ(response.destroyed_count(), 2);
  }
  grpc::ClientContext ctx;
  v1::ListByUserRequest request;
  request.set_namespace_("shop");
  request.set_user_id("alice");
  v1::ListByUserResponse response;
  ASSERT_TRUE(stub_->ListByUser(&ctx, request, &response).ok());
  ASSERT_EQ(response.sessions_size(), 1);
  EXPECT_EQ(response.sessions(0).handle(), keep.handle());
  EXPECT_EQ(GetCode(bob.id()), grpc::StatusCode::OK);
  grpc::ClientContext bad_ctx;
  request.set_user_id("");
  EXPECT_EQ(stub_->ListByUser(&bad_ctx, request, &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(SessionsServiceTest, BatchGet_GivesOneResultPerIdInOrder) {
  v1::Session a = MustCreate();
  v1::Session b = MustCreate();
  grpc::ClientContext ctx;
  v1::BatchGetRequest request;
  request.set_namespace_("shop");
  request.add_ids(a.id());
  request.add_ids(EncodeId(NewRawId()));
  request.add_ids("malformed");
  request.add_ids(b.id());
  v1::BatchGetResponse response;
  ASSERT_TRUE(stub_->BatchGet(&ctx, request, &response).ok());
  ASSERT_EQ(response.results_size(), 4);
  EXPECT_EQ(response.results(0).code(), 0);
  EXPECT_EQ(response.results(0).session().id(), a.id());
  EXPECT_EQ(response.results(1).code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(response.results(2).code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(response.results(3).session().id(), b.id());

  grpc::ClientContext big_ctx;
  for (int i = 0; i < 10; ++i) request.add_ids(a.id());
  EXPECT_EQ(stub_->BatchGet(&big_ctx, request, &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(SessionsServiceTest, StreamGet_AnswersEachRequestInOrderThenEndsOnABadOne) {
  v1::Session a = MustCreate();
  v1::Session b = MustCreate();
  grpc::ClientContext ctx;
  std::unique_ptr<grpc::ClientReaderWriter<v1::BatchGetRequest,
                                           v1::BatchGetResponse>>
      stream = stub_->StreamGet(&ctx);
  v1::BatchGetRequest first;
  first.set_namespace_("shop");
  first.add_ids(a.id());
  first.add_ids("malformed");
  v1::BatchGetRequest second;
  second.set_namespace_("shop");
  second.add_ids(b.id());
  second.add_ids(EncodeId(NewRawId()));
  ASSERT_TRUE(stream->Write(first));
  ASSERT_TRUE(stream->Write(second));

  v1::BatchGetResponse response;
  ASSERT_TRUE(stream->Read(&response));
  ASSERT_EQ(response.results_size(), 2);
  EXPECT_EQ(response.results(0).session().id(), a.id());
  EXPECT_EQ(response.results(1).code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(response.epoch(), cluster_->epoch());
  ASSERT_TRUE(stream->Read(&response));
  ASSERT_EQ(response.results_size(), 2);
  EXPECT_EQ(response.results(0).session().id(), b.id());
  EXPECT_EQ(response.results(1).code(), grpc::StatusCode::NOT_FOUND);

  // More ids than --max_batch: the call ends with the error BatchGet gives.
  v1::BatchGetRequest big;
  big.set_namespace_("shop");
  for (int i = 0; i < 11; ++i) big.add_ids(a.id());
  stream->Write(big);
  EXPECT_FALSE(stream->Read(&response));
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(SessionsServiceTest, StreamGet_MessageThatDoesNotParse_EndsWithInvalidArgument) {
  v1::Session a = MustCreate();
  grpc::ClientContext ctx;
  std::unique_ptr<grpc::ClientReaderWriter<v1::BatchGetRequest,
                                           v1::BatchGetResponse>>
      stream = stub_->StreamGet(&ctx);
  v1::BatchGetRequest good;
  good.set_namespace_("shop");
  good.add_ids(a.id());
  ASSERT_TRUE(stream->Write(good));
  v1::BatchGetResponse response;
  ASSERT_TRUE(stream->Read(&response));
  ASSERT_EQ(response.results_size(), 1);
  // Invalid UTF-8 in a proto3 string: the client serializes it (with a
  // logged complaint), the server cannot parse it.
  v1::BatchGetRequest bad;
  bad.set_namespace_("\xff\xfe");
  bad.add_ids(a.id());
  stream->Write(bad);
  EXPECT_FALSE(stream->Read(&response));
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(SessionsServiceTest, Topology_DescribesTheSingleNode) {
  grpc::ClientContext ctx;
  v1::TopologyRequest request;
  v1::TopologyResponse response;
  ASSERT_TRUE(cluster_stub_->Topology(&ctx, request, &response).ok());
  ASSERT_EQ(response.nodes_size(), 1);
  EXPECT_EQ(response.nodes(0).id(), "n1");
  EXPECT_EQ(response.replication_factor(), 1u);
  EXPECT_EQ(response.epoch(), cluster_->epoch());
  EXPECT_EQ(ctx.GetServerTrailingMetadata().count(kEpochHeader), 1u);
}

TEST_F(SessionsServiceTest, NoOrUnknownToken_Unauthenticated_NothingChanges) {
  v1::Session s = MustCreate();
  for (const std::string& token : {std::string(), std::string("wrong")}) {
    auto stub = StubWith(token);
    grpc::ClientContext get_ctx;
    v1::GetRequest get;
    get.set_namespace_("shop");
    get.set_id(s.id());
    v1::GetResponse got;
    EXPECT_EQ(stub->Get(&get_ctx, get, &got).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_FALSE(got.has_session());
    grpc::ClientContext destroy_ctx;
    v1::DestroyRequest destroy;
    destroy.set_namespace_("shop");
    destroy.set_id(s.id());
    v1::DestroyResponse destroyed;
    EXPECT_EQ(stub->Destroy(&destroy_ctx, destroy, &destroyed).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
    grpc::ClientContext create_ctx;
    v1::CreateRequest create;
    create.set_namespace_("shop");
    create.set_idle_timeout_ms(kIdle);
    v1::CreateResponse created;
    EXPECT_EQ(stub->Create(&create_ctx, create, &created).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }
  EXPECT_EQ(GetCode(s.id()), grpc::StatusCode::OK);  // not destroyed
}

TEST_F(SessionsServiceTest, OtherNamespacesToken_PermissionDenied) {
  v1::Session s = MustCreate();
  auto other = StubWith(kOtherToken);
  grpc::ClientContext ctx;
  v1::DestroyRequest destroy;
  destroy.set_namespace_("shop");
  destroy.set_id(s.id());
  v1::DestroyResponse destroyed;
  EXPECT_EQ(other->Destroy(&ctx, destroy, &destroyed).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(GetCode(s.id()), grpc::StatusCode::OK);
  // Its own namespace works (and holds no session of "shop").
  grpc::ClientContext get_ctx;
  v1::GetRequest get;
  get.set_namespace_("other");
  get.set_id(s.id());
  v1::GetResponse got;
  EXPECT_EQ(other->Get(&get_ctx, get, &got).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(SessionsServiceTest, Topology_AnyToken_NodeStats_AdminOnly) {
  auto shop = v1::Cluster::NewStub(
      testing::ClientChannel(address_, kShopToken, /*tls=*/false));
  auto none = v1::Cluster::NewStub(
      testing::ClientChannel(address_, "", /*tls=*/false));
  v1::TopologyResponse topology;
  v1::NodeStatsResponse stats;
  {
    grpc::ClientContext ctx;
    EXPECT_TRUE(shop->Topology(&ctx, {}, &topology).ok());
  }
  {
    grpc::ClientContext ctx;
    EXPECT_EQ(none->Topology(&ctx, {}, &topology).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }
  {
    grpc::ClientContext ctx;
    EXPECT_EQ(shop->NodeStats(&ctx, {}, &stats).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }
  {
    grpc::ClientContext ctx;
    EXPECT_TRUE(cluster_stub_->NodeStats(&ctx, {}, &stats).ok());
    EXPECT_EQ(stats.node_id(), "n1");
  }
}

TEST_F(SessionsServiceTest, ListByUser_GivesHandlesNoIds_OnlyChosenAttributes) {
  v1::Session s = MustCreate("alice");
  EXPECT_EQ(s.handle(), SessionHandle(*DecodeId(s.id())));
  grpc::ClientContext ctx;
  v1::ListByUserRequest request;
  request.set_namespace_("shop");
  request.set_user_id("alice");
  request.add_attributes("user_agent");  // absent: listed without it
  v1::ListByUserResponse response;
  ASSERT_TRUE(stub_->ListByUser(&ctx, request, &response).ok());
  ASSERT_EQ(response.sessions_size(), 1);
  const v1::Session& listed = response.sessions(0);
  EXPECT_EQ(listed.id(), "");
  EXPECT_EQ(listed.handle(), s.handle());
  EXPECT_EQ(listed.handle().size(), 22u);
  EXPECT_TRUE(listed.attributes().empty());  // "role" was not asked for
  EXPECT_EQ(listed.created_at_ms(), kStart);
  // A handle is no cookie.
  EXPECT_EQ(GetCode(listed.handle()), grpc::StatusCode::INVALID_ARGUMENT);

  grpc::ClientContext with_role_ctx;
  request.clear_attributes();
  request.add_attributes("role");
  v1::ListByUserResponse with_role;
  ASSERT_TRUE(stub_->ListByUser(&with_role_ctx, request, &with_role).ok());
  ASSERT_EQ(with_role.sessions_size(), 1);
  EXPECT_EQ(with_role.sessions(0).attributes().at("role"), "admin");
}

TEST_F(SessionsServiceTest, ListByUser_Pages_EachSessionOnce) {
  std::set<std::string> created;
  for (int i = 0; i < 5; ++i) {
    created.insert(MustCreate("alice").handle());
    clock_.AdvanceMs(1);
  }
  std::set<std::string> listed;
  std::string token;
  int pages = 0;
  do {
    grpc::ClientContext ctx;
    v1::ListByUserRequest request;
    request.set_namespace_("shop");
    request.set_user_id("alice");
    request.set_page_size(2);
    request.set_page_token(token);
    v1::ListByUserResponse response;
    ASSERT_TRUE(stub_->ListByUser(&ctx, request, &response).ok());
    EXPECT_LE(response.sessions_size(), 2);
    for (const v1::Session& s : response.sessions()) {
      EXPECT_TRUE(listed.insert(s.handle()).second);
    }
    token = response.next_page_token();
    ++pages;
  } while (!token.empty() && pages < 10);
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(listed, created);

  grpc::ClientContext bad_ctx;
  v1::ListByUserRequest bad;
  bad.set_namespace_("shop");
  bad.set_user_id("alice");
  bad.set_page_size(1001);
  v1::ListByUserResponse response;
  EXPECT_EQ(stub_->ListByUser(&bad_ctx, bad, &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(SessionsServiceTest, DestroyByHandle_LogsOutThatDeviceOnly) {
  v1::Session phone = MustCreate("alice");
  v1::Session laptop = MustCreate("alice");
  v1::Session bobs = MustCreate("bob");
  auto destroy = [&](const std::string& user, const std::string& handle) {
    grpc::ClientContext ctx;
    v1::DestroyRequest request;
    request.set_namespace_("shop");
    request.set_user_id(user);
    request.set_handle(handle);
    v1::DestroyResponse response;
    return stub_->Destroy(&ctx, request, &response).error_code();
  };
  // Another user's handle names none of alice's sessions: nothing happens.
  EXPECT_EQ(destroy("alice", bobs.handle()), grpc::StatusCode::OK);
  EXPECT_EQ(GetCode(bobs.id()), grpc::StatusCode::OK);
  EXPECT_EQ(destroy("alice", phone.handle()), grpc::StatusCode::OK);
  EXPECT_EQ(GetCode(phone.id()), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(GetCode(laptop.id()), grpc::StatusCode::OK);
  EXPECT_EQ(destroy("", laptop.handle()), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(GetCode(laptop.id()), grpc::StatusCode::OK);
}

TEST_F(SessionsServiceTest, DestroyByUser_BoundedPerCall_SaysMore) {
  v1::Session keep = MustCreate("alice");
  for (int i = 0; i < 4; ++i) MustCreate("alice");
  std::vector<int> counts;
  bool more = true;
  while (more && counts.size() < 10) {
    grpc::ClientContext ctx;
    v1::DestroyByUserRequest request;
    request.set_namespace_("shop");
    request.set_user_id("alice");
    request.set_except_handle(keep.handle());
    v1::DestroyByUserResponse response;
    ASSERT_TRUE(stub_->DestroyByUser(&ctx, request, &response).ok());
    counts.push_back(response.destroyed_count());
    more = response.more();
  }
  EXPECT_EQ(counts, (std::vector<int>{2, 2}));
  EXPECT_EQ(GetCode(keep.id()), grpc::StatusCode::OK);
}

TEST_F(SessionsServiceTest, StreamGet_OtherNamespace_PermissionDenied) {
  v1::Session a = MustCreate();
  grpc::ClientContext ctx;
  auto stream = stub_->StreamGet(&ctx);
  v1::BatchGetRequest good;
  good.set_namespace_("shop");
  good.add_ids(a.id());
  ASSERT_TRUE(stream->Write(good));
  v1::BatchGetResponse response;
  ASSERT_TRUE(stream->Read(&response));
  v1::BatchGetRequest other = good;
  other.set_namespace_("other");
  stream->Write(other);
  EXPECT_FALSE(stream->Read(&response));
  EXPECT_EQ(stream->Finish().error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(SessionsServiceTest, StreamGet_IdlePastTheLimit_Ended) {
  v1::Session a = MustCreate();
  grpc::ClientContext ctx;
  auto stream = stub_->StreamGet(&ctx);
  v1::BatchGetRequest good;
  good.set_namespace_("shop");
  good.add_ids(a.id());
  ASSERT_TRUE(stream->Write(good));
  v1::BatchGetResponse response;
  ASSERT_TRUE(stream->Read(&response));
  ExpectEndedAsIdle(stream.get());
}

TEST_F(SessionsServiceTest, StreamGet_NoTokenEmptyNamespace_Unauthenticated) {
  auto none = StubWith("");
  grpc::ClientContext ctx;
  auto stream = none->StreamGet(&ctx);
  v1::BatchGetRequest request;  // no namespace: still needs a token
  request.add_ids(EncodeId(NewRawId()));
  stream->Write(request);
  stream->WritesDone();
  v1::BatchGetResponse response;
  EXPECT_FALSE(stream->Read(&response));
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(SessionsServiceTest, StreamWrite_EachKind_ResultsInOrder_EffectsVisible) {
  v1::Session a = MustCreate("alice");
  v1::Session b = MustCreate("bob");
  v1::Session c = MustCreate("carol");
  clock_.AdvanceMs(1000);
  const int64_t now = kStart + 1000;
  v1::WriteBatchRequest request;
  request.set_namespace_("shop");
  *request.add_ops() = CreateOp("shop", "dave", "theme", "dark");
  *request.add_ops() = UpdateOp("shop", a.id(), "cart", "3");
  *request.add_ops() = TouchOp("shop", b.id());
  *request.add_ops() = DestroyOp("shop", c.id());
  v1::WriteBatchResponse response = MustWriteBatch(request);

  ASSERT_EQ(response.results_size(), 4);
  EXPECT_EQ(response.epoch(), cluster_->epoch());
  for (const v1::WriteResult& result : response.results()) {
    EXPECT_EQ(result.code(), 0) << result.message();
    EXPECT_EQ(result.message(), "");
  }
  ASSERT_EQ(response.results(0).result_case(), v1::WriteResult::kCreate);
  const v1::Session& created = response.results(0).create().session();
  EXPECT_TRUE(DecodeId(created.id()).ok());
  EXPECT_EQ(created.namespace_(), "shop");
  EXPECT_EQ(created.user_id(), "dave");
  EXPECT_EQ(created.attributes().at("theme"), "dark");
  EXPECT_EQ(created.created_at_ms(), now);
  EXPECT_EQ(created.expires_at_ms(), now + kIdle);

  ASSERT_EQ(response.results(1).result_case(), v1::WriteResult::kUpdate);
  const v1::Session& updated = response.results(1).update().session();
  EXPECT_EQ(updated.id(), a.id());
  EXPECT_EQ(updated.attributes().size(), 2u);
  EXPECT_EQ(updated.attributes().at("cart"), "3");
  EXPECT_EQ(updated.attributes().at("role"), "admin");
  EXPECT_GT(updated.version(), a.version());
  EXPECT_EQ(updated.last_access_ms(), now);

  ASSERT_EQ(response.results(2).result_case(), v1::WriteResult::kTouch);
  EXPECT_EQ(response.results(2).touch().last_access_ms(), now);
  EXPECT_EQ(response.results(2).touch().expires_at_ms(), now + kIdle);

  EXPECT_EQ(response.results(3).result_case(), v1::WriteResult::kDestroy);

  EXPECT_EQ(MustGet(created.id()).attributes().at("theme"), "dark");
  EXPECT_EQ(MustGet(a.id()).attributes().at("cart"), "3");
  EXPECT_EQ(MustGet(b.id()).last_access_ms(), now);
  EXPECT_EQ(GetCode(c.id()), grpc::StatusCode::NOT_FOUND);
}

TEST_F(SessionsServiceTest, StreamWrite_OpOfOtherNamespaceOrNoKind_InvalidArgument_OthersApplied) {
  v1::Session a = MustCreate();
  const int64_t stored = store_->CountStoredForTesting();
  v1::WriteBatchRequest request;
  request.set_namespace_("shop");
  *request.add_ops() = CreateOp("other", "eve", "k", "v");
  request.add_ops();  // no kind
  *request.add_ops() = CreateOp("shop", "frank", "k", "v");
  // A destroy writes a tombstone that wins in any namespace: it must not
  // reach the store.
  *request.add_ops() = DestroyOp("other", a.id());
  *request.add_ops() = UpdateOp("shop", a.id(), "cart", "1");
  *request.add_ops() = UpdateOp("shop", EncodeId(NewRawId()), "cart", "1");
  v1::WriteBatchResponse response = MustWriteBatch(request);

  ASSERT_EQ(response.results_size(), 6);
  const std::vector<int> codes = {
      grpc::StatusCode::INVALID_ARGUMENT, grpc::StatusCode::INVALID_ARGUMENT,
      grpc::StatusCode::OK,               grpc::StatusCode::INVALID_ARGUMENT,
      grpc::StatusCode::OK,               grpc::StatusCode::NOT_FOUND};
  const std::vector<v1::WriteResult::ResultCase> kinds = {
      v1::WriteResult::RESULT_NOT_SET, v1::WriteResult::RESULT_NOT_SET,
      v1::WriteResult::kCreate,        v1::WriteResult::RESULT_NOT_SET,
      v1::WriteResult::kUpdate,        v1::WriteResult::RESULT_NOT_SET};
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(response.results(i).code(), codes[i]) << "op " << i;
    EXPECT_EQ(response.results(i).result_case(), kinds[i]) << "op " << i;
  }
  EXPECT_EQ(response.results(2).create().session().user_id(), "frank");
  EXPECT_EQ(store_->CountStoredForTesting(), stored + 1);
  EXPECT_EQ(MustGet(a.id()).attributes().at("cart"), "1");
}

TEST_F(SessionsServiceTest, StreamWrite_DestroyByHandle_LogsOutThatDeviceOnly) {
  v1::Session phone = MustCreate("alice");
  v1::Session laptop = MustCreate("alice");
  v1::WriteBatchRequest request;
  request.set_namespace_("shop");
  v1::DestroyRequest* by_handle = request.add_ops()->mutable_destroy();
  by_handle->set_namespace_("shop");
  by_handle->set_user_id("alice");
  by_handle->set_handle(phone.handle());
  v1::DestroyRequest* no_user = request.add_ops()->mutable_destroy();
  no_user->set_namespace_("shop");
  no_user->set_handle(laptop.handle());
  v1::WriteBatchResponse response = MustWriteBatch(request);

  ASSERT_EQ(response.results_size(), 2);
  EXPECT_EQ(response.results(0).code(), grpc::StatusCode::OK);
  EXPECT_EQ(response.results(0).result_case(), v1::WriteResult::kDestroy);
  EXPECT_EQ(response.results(1).code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(GetCode(phone.id()), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(GetCode(laptop.id()), grpc::StatusCode::OK);
}

TEST_F(SessionsServiceTest, StreamWrite_MessagesAnsweredInOrder_EmptyGetsNoResults) {
  v1::Session a = MustCreate();
  grpc::ClientContext ctx;
  auto stream = stub_->StreamWrite(&ctx);
  v1::WriteBatchRequest first;
  first.set_namespace_("shop");
  *first.add_ops() = CreateOp("shop", "", "seq", "1");
  v1::WriteBatchRequest second;
  second.set_namespace_("shop");
  *second.add_ops() = CreateOp("shop", "", "seq", "2");
  *second.add_ops() = TouchOp("shop", a.id());
  v1::WriteBatchRequest empty;
  empty.set_namespace_("shop");
  ASSERT_TRUE(stream->Write(first));
  ASSERT_TRUE(stream->Write(second));
  ASSERT_TRUE(stream->Write(empty));

  v1::WriteBatchResponse response;
  ASSERT_TRUE(stream->Read(&response));
  ASSERT_EQ(response.results_size(), 1);
  EXPECT_EQ(response.results(0).create().session().attributes().at("seq"),
            "1");
  ASSERT_TRUE(stream->Read(&response));
  ASSERT_EQ(response.results_size(), 2);
  EXPECT_EQ(response.results(0).create().session().attributes().at("seq"),
            "2");
  EXPECT_EQ(response.results(1).code(), grpc::StatusCode::OK);
  EXPECT_EQ(response.results(1).result_case(), v1::WriteResult::kTouch);
  ASSERT_TRUE(stream->Read(&response));
  EXPECT_EQ(response.results_size(), 0);
  EXPECT_EQ(response.epoch(), cluster_->epoch());
  ASSERT_TRUE(stream->WritesDone());
  EXPECT_FALSE(stream->Read(&response));
  EXPECT_TRUE(stream->Finish().ok());
  EXPECT_EQ(ctx.GetServerTrailingMetadata().count(kEpochHeader), 1u);
}

TEST_F(SessionsServiceTest, StreamWrite_NamespaceTheTokenMayNotUse_EndsWithUnaryCallsError) {
  v1::Session a = MustCreate();
  grpc::ClientContext ctx;
  auto stream = stub_->StreamWrite(&ctx);
  v1::WriteBatchRequest good;
  good.set_namespace_("shop");
  *good.add_ops() = TouchOp("shop", a.id());
  ASSERT_TRUE(stream->Write(good));
  v1::WriteBatchResponse response;
  ASSERT_TRUE(stream->Read(&response));
  const int64_t stored = store_->CountStoredForTesting();
  v1::WriteBatchRequest other;
  other.set_namespace_("other");
  *other.add_ops() = CreateOp("other", "eve", "k", "v");
  stream->Write(other);
  stream->WritesDone();
  EXPECT_FALSE(stream->Read(&response));
  EXPECT_EQ(stream->Finish().error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(store_->CountStoredForTesting(), stored);
}

TEST_F(SessionsServiceTest, StreamWrite_NoToken_Unauthenticated_EvenWithEmptyNamespace) {
  auto none = StubWith("");
  for (const std::string& ns : {std::string("shop"), std::string()}) {
    grpc::ClientContext ctx;
    auto stream = none->StreamWrite(&ctx);
    v1::WriteBatchRequest request;
    request.set_namespace_(ns);
    *request.add_ops() = CreateOp(ns, "eve", "k", "v");
    stream->Write(request);
    stream->WritesDone();
    v1::WriteBatchResponse response;
    EXPECT_FALSE(stream->Read(&response));
    EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::UNAUTHENTICATED)
        << "namespace '" << ns << "'";
  }
  EXPECT_EQ(store_->CountStoredForTesting(), 0);
}

TEST_F(SessionsServiceTest, StreamWrite_MessageThatDoesNotParse_EndsWithInvalidArgument) {
  grpc::ClientContext ctx;
  auto stream = stub_->StreamWrite(&ctx);
  v1::WriteBatchRequest good;
  good.set_namespace_("shop");
  *good.add_ops() = CreateOp("shop", "", "k", "v");
  ASSERT_TRUE(stream->Write(good));
  v1::WriteBatchResponse response;
  ASSERT_TRUE(stream->Read(&response));
  ASSERT_EQ(response.results_size(), 1);
  // Invalid UTF-8 in a proto3 string: the client serializes it (with a
  // logged complaint), the server cannot parse it.
  v1::WriteBatchRequest bad;
  bad.set_namespace_("shop");
  *bad.add_ops() = CreateOp("shop", "\xff\xfe", "k", "v");
  stream->Write(bad);
  stream->WritesDone();
  EXPECT_FALSE(stream->Read(&response));
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(store_->CountStoredForTesting(), 1);
}

TEST_F(SessionsServiceTest, StreamWrite_MoreOpsThanMaxBatch_EndsWithInvalidArgumentNothingApplied) {
  const int64_t stored = store_->CountStoredForTesting();
  grpc::ClientContext ctx;
  auto stream = stub_->StreamWrite(&ctx);
  v1::WriteBatchRequest request;
  request.set_namespace_("shop");
  for (int i = 0; i < 11; ++i) {  // the fixture's --max_batch is 10
    *request.add_ops() = CreateOp("shop", "", "k", "v");
  }
  stream->Write(request);
  stream->WritesDone();
  v1::WriteBatchResponse response;
  EXPECT_FALSE(stream->Read(&response));
  grpc::Status status = stream->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(),
            "max_batch: at most 10 ops per StreamWrite message; nothing was "
            "applied");
  EXPECT_EQ(store_->CountStoredForTesting(), stored);
}

TEST_F(SessionsServiceTest, StreamWrite_IdlePastTheLimit_Ended) {
  v1::Session a = MustCreate();
  grpc::ClientContext ctx;
  auto stream = stub_->StreamWrite(&ctx);
  v1::WriteBatchRequest request;
  request.set_namespace_("shop");
  *request.add_ops() = TouchOp("shop", a.id());
  ASSERT_TRUE(stream->Write(request));
  v1::WriteBatchResponse response;
  ASSERT_TRUE(stream->Read(&response));
  ExpectEndedAsIdle(stream.get());
}

}  // namespace
}  // namespace sesh
