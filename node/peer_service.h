#ifndef SESH_NODE_PEER_SERVICE_H_
#define SESH_NODE_PEER_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include "node/session_store.h"
#include "replication/cluster.h"
#include "sesh/internal/peer.grpc.pb.h"

namespace sesh {

// The node side of the peer protocol: merges replicated states, answers read
// repair and catch-up reads, and heartbeats. A thin adapter over the store.
class PeerService final : public internal::Peer::CallbackService {
 public:
  PeerService(SessionStore* store, Cluster* cluster)
      : store_(store), cluster_(cluster) {}

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

 private:
  SessionStore* const store_;
  Cluster* const cluster_;
};

// Pulls, from every other node, the records of the partitions this node
// holds, and merges them, before the node serves (DESIGN §5: a node that
// restarts catches up before it serves reads). Peers that cannot be reached
// within timeout_ms are skipped, with a log line. Returns records merged.
int64_t CatchUp(SessionStore* store, Cluster* cluster, int64_t timeout_ms);

}  // namespace sesh

#endif  // SESH_NODE_PEER_SERVICE_H_
