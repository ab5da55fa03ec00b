// In-process fake Sesh nodes for the client's tests: Sessions and Cluster
// callback services on localhost:0 that count calls, record what they were
// sent, and fail, park or report ids missing on demand; a FakeCluster gives
// them one membership. TestCluster starts n of them for a test.

#ifndef SESH_CLIENT_INTERNAL_FAKE_NODE_H_
#define SESH_CLIENT_INTERNAL_FAKE_NODE_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/sesh/client.h"
#include "replication/placement.h"
#include "sesh/v1/cluster.grpc.pb.h"
#include "sesh/v1/sessions.grpc.pb.h"

namespace sesh {
namespace testing {

// The namespace of the tests' sessions.
inline constexpr char kNs[] = "app";

class FakeNode;

// The membership all fake nodes report: Topology answers and the epoch in
// every answer's trailing metadata.
class FakeCluster {
 public:
  explicit FakeCluster(int replication_factor) : rf_(replication_factor) {}

  void SetMembers(const std::vector<FakeNode*>& members);

  uint64_t epoch() {
    absl::MutexLock lock(&mu_);
    return epoch_;
  }

  v1::TopologyResponse Topology(const std::string& self_id);

 private:
  absl::Mutex mu_;
  const int rf_;
  std::vector<v1::Node> nodes_ ABSL_GUARDED_BY(mu_);  // sorted by id
  uint64_t epoch_ ABSL_GUARDED_BY(mu_) = 0;
};

// One fake node: counts calls, can fail, park (never answer until released)
// or report ids as missing. Sessions it returns carry the requested id. It
// records the `authorization` metadata of every call, and serves ListByUser
// and DestroyByUser from counters (see the knobs).
class FakeNode {
 public:
  // `credentials` null: plaintext.
  FakeNode(std::string id, FakeCluster* cluster,
           std::shared_ptr<grpc::ServerCredentials> credentials = nullptr);
  ~FakeNode();

  void Stop();

  const std::string& id() const { return id_; }
  const std::string& address() const { return address_; }

  void AddMissing(const std::string& id) {
    absl::MutexLock lock(&mu_);
    missing_.insert(id);
  }
  void ReleaseParked(grpc::Status status = grpc::Status::OK);
  // Answers the StreamWrite messages held by park_writes; returns how many.
  int ReleaseParkedWrites();
  int parked_writes() {
    absl::MutexLock lock(&mu_);
    return static_cast<int>(parked_writes_.size());
  }
  // Ops per StreamWrite message received.
  std::vector<int> write_batch_sizes() {
    absl::MutexLock lock(&mu_);
    return write_batch_sizes_;
  }
  int parked() {
    absl::MutexLock lock(&mu_);
    return static_cast<int>(parked_.size());
  }
  // Ids received by Get and BatchGet.
  std::vector<std::string> received() {
    absl::MutexLock lock(&mu_);
    return received_;
  }
  std::vector<int> batch_sizes() {
    absl::MutexLock lock(&mu_);
    return batch_sizes_;
  }
  // The `authorization` metadata ("" when absent) of every unary call
  // (Topology and NodeStats included) and of every StreamGet call.
  std::vector<std::string> unary_authorizations() {
    absl::MutexLock lock(&mu_);
    return unary_authorizations_;
  }
  std::vector<std::string> stream_authorizations() {
    absl::MutexLock lock(&mu_);
    return stream_authorizations_;
  }
  std::vector<v1::ListByUserRequest> list_requests() {
    absl::MutexLock lock(&mu_);
    return list_requests_;
  }
  std::vector<v1::DestroyRequest> destroy_requests() {
    absl::MutexLock lock(&mu_);
    return destroy_requests_;
  }
  std::vector<v1::DestroyByUserRequest> destroy_by_user_requests() {
    absl::MutexLock lock(&mu_);
    return destroy_by_user_requests_;
  }

  // Knobs.
  std::atomic<int> fail_next_unavailable{0};  // next N Sessions calls
  std::atomic<bool> park{false};              // Get, BatchGet, StreamGet
  // StreamGet answers UNIMPLEMENTED, as a node older than it does.
  std::atomic<bool> no_streams{false};
  // StreamWrite answers UNIMPLEMENTED, as a node older than it does.
  std::atomic<bool> no_write_streams{false};
  // StreamWrite messages wait for ReleaseParkedWrites.
  std::atomic<bool> park_writes{false};
  // Topology answers UNAUTHENTICATED, as a node that does not know the token.
  std::atomic<bool> refuse_token{false};
  // ListByUser lists list_total sessions (handles "h0", "h1", ...),
  // list_page_size a page; with list_endless every page says more follow.
  std::atomic<int> list_total{0};
  std::atomic<int> list_page_size{2};
  std::atomic<bool> list_endless{false};
  // DestroyByUser destroys up to destroy_per_call of destroy_remaining
  // sessions per call; with destroy_endless it always reports more.
  std::atomic<int> destroy_remaining{0};
  std::atomic<int> destroy_per_call{3};
  std::atomic<bool> destroy_endless{false};
  // Non-zero: the DestroyByUser call of this number (from 1) fails with
  // UNAVAILABLE.
  std::atomic<int> destroy_fail_call{0};

  // Counters.
  std::atomic<int> gets{0};
  std::atomic<int> batch_gets{0};
  std::atomic<int> streams{0};          // StreamGet calls
  std::atomic<int> stream_messages{0};  // requests received on them
  std::atomic<int> stream_refusals{0};  // StreamGet calls refused (no_streams)
  std::atomic<int> write_streams{0};          // StreamWrite calls
  std::atomic<int> write_stream_messages{0};  // requests received on them
  std::atomic<int> write_stream_refusals{0};  // refused (no_write_streams)
  std::atomic<int> updates{0};
  std::atomic<int> creates{0};
  std::atomic<int> topologies{0};

 private:
  class GetStream;     // one StreamGet call
  class WriteStream;   // one StreamWrite call
  class SessionsImpl;  // the Sessions service
  class ClusterImpl;   // the Cluster service

  // Every answer carries the epoch, as real nodes' do.
  grpc::ServerUnaryReactor* Begin(grpc::CallbackServerContext* ctx);
  bool TakeFailure();
  bool missing(const std::string& id);
  void Record(std::vector<std::string> ids);
  void Fill(const std::string& ns, const std::string& id, v1::Session* s);
  void FillBatch(const v1::BatchGetRequest& req, v1::BatchGetResponse* resp);
  grpc::ServerUnaryReactor* FinishOrPark(grpc::ServerUnaryReactor* reactor);

  const std::string id_;
  FakeCluster* const cluster_;
  const std::unique_ptr<SessionsImpl> sessions_;
  const std::unique_ptr<ClusterImpl> cluster_service_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;

  absl::Mutex mu_;
  std::set<std::string> missing_ ABSL_GUARDED_BY(mu_);
  std::vector<grpc::ServerUnaryReactor*> parked_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> received_ ABSL_GUARDED_BY(mu_);
  std::vector<int> batch_sizes_ ABSL_GUARDED_BY(mu_);
  std::vector<int> write_batch_sizes_ ABSL_GUARDED_BY(mu_);
  std::vector<WriteStream*> parked_writes_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> unary_authorizations_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> stream_authorizations_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::ListByUserRequest> list_requests_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::DestroyRequest> destroy_requests_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::DestroyByUserRequest> destroy_by_user_requests_
      ABSL_GUARDED_BY(mu_);
};

// `n` fake nodes "n1".."n<n>", all members, serving with `credentials`
// (null: plaintext).
class TestCluster {
 public:
  TestCluster(int n, int replication_factor,
              std::shared_ptr<grpc::ServerCredentials> credentials = nullptr);

  FakeNode& node(int i) { return *nodes_[i]; }
  FakeCluster& cluster() { return cluster_; }

  // Tests of the unary calls; the StreamGet and StreamWrite tests turn
  // stream_gets and stream_writes on.
  ClientOptions Options();

  // A client for `options`; null, with a test failure, if Connect fails.
  std::unique_ptr<Client> Connect(ClientOptions options);
  std::unique_ptr<Client> Connect() { return Connect(Options()); }

  // Placement of the first `members` nodes.
  PlacementMap Placement(int members);

 private:
  FakeCluster cluster_;
  std::vector<std::unique_ptr<FakeNode>> nodes_;
  int replication_factor_ = 1;
};

// Text id number `i` (deterministic bytes).
std::string TestId(uint64_t i);

// The first TestId(>= start) whose primary under `placement` is `node_id`.
std::string IdOwnedBy(const PlacementMap& placement, const std::string& node_id,
                      uint64_t start = 0);

// Polls `pred` every millisecond until it holds (true) or `timeout` passes
// (false).
template <typename Pred>
bool PollUntil(Pred pred, absl::Duration timeout = absl::Seconds(10)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!pred()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(1));
  }
  return true;
}

}  // namespace testing
}  // namespace sesh

#endif  // SESH_CLIENT_INTERNAL_FAKE_NODE_H_
