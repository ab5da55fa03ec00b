#ifndef SESH_NODE_SESSIONS_SERVICE_FIXTURE_H_
#define SESH_NODE_SESSIONS_SERVICE_FIXTURE_H_

// The fixture of the Sessions and Cluster service tests
// (sessions_service_test.cc, stream_calls_test.cc): one node, in process,
// on localhost:0, with a fake clock, and the requests those tests build.

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "auth/token_store.h"
#include "gtest/gtest.h"
#include "node/call_auth.h"
#include "node/session_store.h"
#include "node/sessions_service.h"
#include "replication/clock.h"
#include "replication/cluster.h"
#include "replication/grpc_peer_transport.h"
#include "sesh/v1/cluster.grpc.pb.h"
#include "sesh/v1/sessions.grpc.pb.h"

namespace sesh {
namespace testing {

// The fake clock's start, and the idle timeout of the sessions the helpers
// create.
inline constexpr int64_t kStart = 1'700'000'000'000;
inline constexpr int64_t kIdle = 60'000;
// Tokens of the fixture's node: namespace "shop", namespace "other", and an
// admin token good for every namespace.
inline constexpr char kShopToken[] = "shop-token";
inline constexpr char kOtherToken[] = "other-token";
inline constexpr char kAdminToken[] = "admin-token";

// The ops of a StreamWrite message. CreateOp sets one attribute and an idle
// timeout of kIdle; UpdateOp sets one attribute.
v1::WriteOp CreateOp(const std::string& ns, const std::string& user,
                     const std::string& key, const std::string& value);
v1::WriteOp UpdateOp(const std::string& ns, const std::string& id,
                     const std::string& key, const std::string& value);
v1::WriteOp TouchOp(const std::string& ns, const std::string& id);
v1::WriteOp DestroyOp(const std::string& ns, const std::string& id);

// One node, in process, on localhost:0, with a fake clock. Its limits: 4
// attributes a session, --max_batch 10, 2 sessions destroyed a
// DestroyByUser call, and an idle limit of 0 for streams (see
// ExpectEndedAsIdle). stub_ calls with kShopToken, cluster_stub_ with
// kAdminToken.
class SessionsServiceTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // A Sessions stub whose calls carry `token` (none if empty).
  std::unique_ptr<v1::Sessions::Stub> StubWith(const std::string& token);

  // Creates a session of `user` in "shop" with role=admin; must succeed.
  v1::Session MustCreate(const std::string& user = "alice");

  // A skip_touch Get that must succeed.
  v1::Session MustGet(const std::string& id);

  // Sends `request` as the one message of a StreamWrite call and returns
  // its answer; the call must then end OK.
  v1::WriteBatchResponse MustWriteBatch(const v1::WriteBatchRequest& request);

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

  // The code of a Get (which touches) of `id` in `ns`.
  grpc::StatusCode GetCode(const std::string& id,
                           const std::string& ns = "shop");

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

}  // namespace testing
}  // namespace sesh

#endif  // SESH_NODE_SESSIONS_SERVICE_FIXTURE_H_
