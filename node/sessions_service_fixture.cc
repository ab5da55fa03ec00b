#include "node/sessions_service_fixture.h"

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "auth/token_table.h"
#include "tests/test_credentials.h"

namespace sesh {
namespace testing {

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

void SessionsServiceTest::SetUp() {
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
  auto cluster = Cluster::Create(cluster_options, transport_.get(), nullptr,
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
  service_options.stream_idle_timeout_ms = 0;  // see ExpectEndedAsIdle
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

std::unique_ptr<v1::Sessions::Stub> SessionsServiceTest::StubWith(
    const std::string& token) {
  return v1::Sessions::NewStub(
      testing::ClientChannel(address_, token, /*tls=*/false));
}

void SessionsServiceTest::TearDown() {
  if (server_) server_->Shutdown();
  server_.reset();
  cluster_service_.reset();
  sessions_.reset();
  cluster_.reset();
  store_.reset();
  std::filesystem::remove_all(path_);
  std::filesystem::remove(path_ + ".tokens");
}

v1::Session SessionsServiceTest::MustCreate(const std::string& user) {
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

v1::Session SessionsServiceTest::MustGet(const std::string& id) {
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

v1::WriteBatchResponse SessionsServiceTest::MustWriteBatch(
    const v1::WriteBatchRequest& request) {
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

grpc::StatusCode SessionsServiceTest::GetCode(const std::string& id,
                                              const std::string& ns) {
  grpc::ClientContext ctx;
  v1::GetRequest request;
  request.set_namespace_(ns);
  request.set_id(id);
  v1::GetResponse response;
  return stub_->Get(&ctx, request, &response).error_code();
}

}  // namespace testing
}  // namespace sesh
