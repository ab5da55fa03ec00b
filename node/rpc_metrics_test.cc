#include "node/rpc_metrics.h"

#include <grpcpp/grpcpp.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "auth/session_handle.h"
#include "gtest/gtest.h"
#include "metrics/registry.h"
#include "replication/session_id.h"
#include "sesh/v1/sessions.grpc.pb.h"
#include "util/log.h"

namespace sesh {
namespace {

// Get answers NOT_FOUND for the id "missing", OK otherwise; Touch is left
// unimplemented (UNIMPLEMENTED).
class FakeSessions final : public v1::Sessions::CallbackService {
  grpc::ServerUnaryReactor* Get(grpc::CallbackServerContext* ctx,
                                const v1::GetRequest* request,
                                v1::GetResponse*) override {
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    reactor->Finish(request->id() == "missing"
                        ? grpc::Status(grpc::StatusCode::NOT_FOUND, "")
                        : grpc::Status::OK);
    return reactor;
  }
};

class RpcMetricsTest : public ::testing::Test {
 protected:
  void StartServer(bool access_log) {
    absl::StatusOr<std::unique_ptr<RpcMetrics>> m =
        RpcMetrics::Create(&registry_, access_log);
    ASSERT_TRUE(m.ok()) << m.status();
    rpc_metrics_ = std::move(*m);
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port);
    builder.RegisterService(&service_);
    builder.experimental().SetInterceptorCreators(
        rpc_metrics_->Interceptors("client", {"sesh.v1.Sessions"}));
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    stub_ = v1::Sessions::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  }

  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown();
  }

  grpc::Status Get(const std::string& ns, const std::string& id) {
    grpc::ClientContext ctx;
    v1::GetRequest request;
    request.set_namespace_(ns);
    request.set_id(id);
    v1::GetResponse response;
    return stub_->Get(&ctx, request, &response);
  }

  // The rendered line of `series` (name and labels), or "" if absent.
  std::string Line(const std::string& series) {
    std::istringstream text(registry_.Render());
    std::string line;
    while (std::getline(text, line)) {
      if (absl::StartsWith(line, series + " ")) return line;
    }
    return "";
  }

  metrics::Registry registry_;
  std::unique_ptr<RpcMetrics> rpc_metrics_;
  FakeSessions service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::Sessions::Stub> stub_;
};

constexpr char kGet[] =
    "port=\"client\",service=\"sesh.v1.Sessions\",method=\"Get\"";

TEST_F(RpcMetricsTest, Get_OkAndNotFound_CountsRequestsErrorsAndDurations) {
  StartServer(/*access_log=*/false);
  ASSERT_TRUE(Get("shop", "x").ok());
  ASSERT_TRUE(Get("shop", "y").ok());
  ASSERT_EQ(Get("shop", "missing").error_code(), grpc::StatusCode::NOT_FOUND);

  EXPECT_EQ(Line(absl::StrCat("sesh_rpc_requests_total{", kGet, "}")),
            absl::StrCat("sesh_rpc_requests_total{", kGet, "} 3"));
  EXPECT_EQ(Line(absl::StrCat("sesh_rpc_errors_total{", kGet,
                              ",code=\"NOT_FOUND\"}")),
            absl::StrCat("sesh_rpc_errors_total{", kGet,
                         ",code=\"NOT_FOUND\"} 1"));
  EXPECT_EQ(Line(absl::StrCat("sesh_rpc_messages_received_total{", kGet, "}")),
            absl::StrCat("sesh_rpc_messages_received_total{", kGet, "} 3"));
  EXPECT_EQ(Line(absl::StrCat("sesh_rpc_duration_seconds_count{", kGet, "}")),
            absl::StrCat("sesh_rpc_duration_seconds_count{", kGet, "} 3"));
  EXPECT_EQ(
      Line(absl::StrCat("sesh_rpc_duration_seconds_bucket{", kGet,
                        ",le=\"+Inf\"}")),
      absl::StrCat("sesh_rpc_duration_seconds_bucket{", kGet, ",le=\"+Inf\"} 3"));
  EXPECT_EQ(Line("sesh_rpc_in_flight{port=\"client\"}"),
            "sesh_rpc_in_flight{port=\"client\"} 0");
}

TEST_F(RpcMetricsTest, Touch_Unimplemented_CountedAsError) {
  StartServer(/*access_log=*/false);
  grpc::ClientContext ctx;
  v1::TouchRequest request;
  v1::TouchResponse response;
  ASSERT_EQ(stub_->Touch(&ctx, request, &response).error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
  const std::string touch =
      "port=\"client\",service=\"sesh.v1.Sessions\",method=\"Touch\"";
  EXPECT_EQ(Line(absl::StrCat("sesh_rpc_errors_total{", touch,
                              ",code=\"UNIMPLEMENTED\"}")),
            absl::StrCat("sesh_rpc_errors_total{", touch,
                         ",code=\"UNIMPLEMENTED\"} 1"));
}

TEST_F(RpcMetricsTest, Interceptors_BeforeAnyCall_EveryMethodAtZero) {
  StartServer(/*access_log=*/false);
  const std::string stream =
      "port=\"client\",service=\"sesh.v1.Sessions\",method=\"StreamGet\"";
  EXPECT_EQ(Line(absl::StrCat("sesh_rpc_requests_total{", stream, "}")),
            absl::StrCat("sesh_rpc_requests_total{", stream, "} 0"));
  // Streams have no duration histogram: a stream lives for minutes.
  EXPECT_EQ(Line(absl::StrCat("sesh_rpc_duration_seconds_count{", stream, "}")),
            "");
}

TEST_F(RpcMetricsTest, AccessLog_Get_LogsHandleNeverId) {
  const char* dir = getenv("TEST_TMPDIR");
  std::string log_path =
      absl::StrCat(dir != nullptr ? dir : "/tmp", "/access.log");
  FILE* sink = fopen(log_path.c_str(), "w");
  ASSERT_NE(sink, nullptr);
  LogOptions options;
  options.sink = sink;
  ConfigureLogging(options);
  StartServer(/*access_log=*/true);
  const std::string raw = NewRawId();
  const std::string id = EncodeId(raw);
  ASSERT_TRUE(Get("shop", id).ok());
  server_->Shutdown();  // the call's interceptor has run and logged
  server_.reset();
  ConfigureLogging(LogOptions());
  fclose(sink);

  std::ifstream in(log_path);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_TRUE(absl::StrContains(
      text.str(), absl::StrCat("Sessions.Get ns=shop code=OK latency=")))
      << text.str();
  EXPECT_TRUE(absl::StrContains(text.str(),
                                absl::StrCat("handle=", SessionHandle(raw))))
      << text.str();
  EXPECT_FALSE(absl::StrContains(text.str(), id)) << text.str();
}

}  // namespace
}  // namespace sesh
