// The services a node registers with gRPC once, each passing every call to
// the same service of the current generation (node/generation.h), so that
// a membership change swaps generations without restarting the servers.
// A call stays on the generation it started on.

#ifndef SESH_NODE_SERVICE_PROXIES_H_
#define SESH_NODE_SERVICE_PROXIES_H_

#include <grpcpp/grpcpp.h>

#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "node/generation.h"
#include "node/sessions_service.h"
#include "sesh/internal/peer.grpc.pb.h"
#include "sesh/v1/cluster.grpc.pb.h"

namespace sesh {

// The current generation. Thread-safe.
class CurrentGeneration {
 public:
  std::shared_ptr<Generation> Get() const {
    absl::MutexLock lock(&mu_);
    return current_;
  }
  // Installs `next`; returns the one it replaces.
  std::shared_ptr<Generation> Swap(std::shared_ptr<Generation> next) {
    absl::MutexLock lock(&mu_);
    std::swap(current_, next);
    return next;
  }

 private:
  mutable absl::Mutex mu_;
  std::shared_ptr<Generation> current_ ABSL_GUARDED_BY(mu_);
};

// Sessions on the client port (`forwarded` false) or the peer port. On the
// client port, StreamGet and StreamWrite calls are held here and each
// message goes to the current generation, so that a client's stream
// outlives membership changes; `stream_auth` authorizes them.
class SessionsProxy final : public SessionsCallbackBase {
 public:
  SessionsProxy(const CurrentGeneration* current, bool forwarded,
                const CallAuth* stream_auth = nullptr);

  // Ends the streams held here idle past `timeout`.
  void EndIdleStreams(absl::Duration timeout);
  // Ends every stream held here as the node stops (BatchStreams::Drain).
  void DrainStreams();

  grpc::ServerUnaryReactor* Create(grpc::CallbackServerContext* ctx,
                                   const v1::CreateRequest* request,
                                   v1::CreateResponse* response) override;
  grpc::ServerUnaryReactor* Get(grpc::CallbackServerContext* ctx,
                                const v1::GetRequest* request,
                                v1::GetResponse* response) override;
  grpc::ServerUnaryReactor* Update(grpc::CallbackServerContext* ctx,
                                   const v1::UpdateRequest* request,
                                   v1::UpdateResponse* response) override;
  grpc::ServerUnaryReactor* Touch(grpc::CallbackServerContext* ctx,
                                  const v1::TouchRequest* request,
                                  v1::TouchResponse* response) override;
  grpc::ServerUnaryReactor* Destroy(grpc::CallbackServerContext* ctx,
                                    const v1::DestroyRequest* request,
                                    v1::DestroyResponse* response) override;
  grpc::ServerUnaryReactor* Rotate(grpc::CallbackServerContext* ctx,
                                   const v1::RotateRequest* request,
                                   v1::RotateResponse* response) override;
  grpc::ServerUnaryReactor* ListByUser(
      grpc::CallbackServerContext* ctx, const v1::ListByUserRequest* request,
      v1::ListByUserResponse* response) override;
  grpc::ServerUnaryReactor* DestroyByUser(
      grpc::CallbackServerContext* ctx, const v1::DestroyByUserRequest* request,
      v1::DestroyByUserResponse* response) override;
  grpc::ServerUnaryReactor* BatchGet(grpc::CallbackServerContext* ctx,
                                     const v1::BatchGetRequest* request,
                                     v1::BatchGetResponse* response) override;
  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* StreamGet(
      grpc::CallbackServerContext* ctx) override;
  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* StreamWrite(
      grpc::CallbackServerContext* ctx) override;

 private:
  SessionsService* Target() const;
  uint64_t Epoch() const;

  const CurrentGeneration* const current_;
  const bool forwarded_;
  // Null on the peer port: the generation's own streams serve.
  std::unique_ptr<GetStreams> get_streams_;
  std::unique_ptr<WriteStreams> write_streams_;
};

class ClusterProxy final : public v1::Cluster::CallbackService {
 public:
  explicit ClusterProxy(const CurrentGeneration* current) : current_(current) {}

  grpc::ServerUnaryReactor* Topology(grpc::CallbackServerContext* ctx,
                                     const v1::TopologyRequest* request,
                                     v1::TopologyResponse* response) override;
  grpc::ServerUnaryReactor* NodeStats(grpc::CallbackServerContext* ctx,
                                      const v1::NodeStatsRequest* request,
                                      v1::NodeStatsResponse* response) override;
  grpc::ServerUnaryReactor* Decommission(
      grpc::CallbackServerContext* ctx, const v1::DecommissionRequest* request,
      v1::DecommissionResponse* response) override;
  grpc::ServerUnaryReactor* Backup(grpc::CallbackServerContext* ctx,
                                   const v1::BackupRequest* request,
                                   v1::BackupResponse* response) override;

 private:
  const CurrentGeneration* const current_;
};

class PeerProxy final : public internal::Peer::CallbackService {
 public:
  explicit PeerProxy(const CurrentGeneration* current) : current_(current) {}

  grpc::ServerUnaryReactor* Apply(grpc::CallbackServerContext* ctx,
                                  const internal::ApplyRequest* request,
                                  internal::ApplyResponse* response) override;
  grpc::ServerUnaryReactor* Read(grpc::CallbackServerContext* ctx,
                                 const internal::ReadRequest* request,
                                 internal::ReadResponse* response) override;
  grpc::ServerUnaryReactor* Fetch(grpc::CallbackServerContext* ctx,
                                  const internal::FetchRequest* request,
                                  internal::FetchResponse* response) override;
  grpc::ServerUnaryReactor* Heartbeat(
      grpc::CallbackServerContext* ctx,
      const internal::HeartbeatRequest* request,
      internal::HeartbeatResponse* response) override;
  grpc::ServerUnaryReactor* Digests(
      grpc::CallbackServerContext* ctx, const internal::DigestsRequest* request,
      internal::DigestsResponse* response) override;
  grpc::ServerUnaryReactor* PartitionRecords(
      grpc::CallbackServerContext* ctx,
      const internal::PartitionRecordsRequest* request,
      internal::PartitionRecordsResponse* response) override;
  grpc::ServerUnaryReactor* Repair(grpc::CallbackServerContext* ctx,
                                   const internal::RepairRequest* request,
                                   internal::RepairResponse* response) override;

 private:
  const CurrentGeneration* const current_;
};

}  // namespace sesh

#endif  // SESH_NODE_SERVICE_PROXIES_H_
