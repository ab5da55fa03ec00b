#ifndef SESH_NODE_PEER_SERVICE_H_
#define SESH_NODE_PEER_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include "node/call_auth.h"
#include "node/worker_pool.h"
#include "replication/cluster.h"
#include "replication/replica.h"
#include "sesh/internal/peer.grpc.pb.h"

namespace sesh {

// The peer protocol on gRPC: a thin adapter over replication/replica.h.
// Every call but Heartbeat touches storage and runs on `pool`, never on
// gRPC's threads (a full pool answers RESOURCE_EXHAUSTED); Heartbeat is
// answered at once, so that a storage stall never delays it. Served on the
// peer port only: every call must come from a member's certificate, and a
// message's sender (from_node, for_node) must be the node that certificate
// names (`auth`).
class PeerService final : public internal::Peer::CallbackService {
 public:
  // All arguments outlive the service.
  // `inline_apply`: Apply runs on gRPC's callback thread, as the client
  // port's writes do, instead of on `pool`: one thread handoff less per
  // message (README, "Performance").
  PeerService(Replica* replica, Cluster* cluster, WorkerPool* pool,
              const CallAuth* auth, bool inline_apply = false)
      : replica_(replica),
        cluster_(cluster),
        pool_(pool),
        auth_(auth),
        inline_apply_(inline_apply) {}

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
  // Finishes the call with fn()'s status, if the caller is the node
  // `sender` (null: any member); fn runs on the pool, or on this gRPC thread
  // when `in_place`.
  grpc::ServerUnaryReactor* Serve(grpc::CallbackServerContext* ctx,
                                  const std::string* sender, bool in_place,
                                  std::function<absl::Status()> fn);
  // OK if the call may go on: a member's certificate naming `sender` (null:
  // any member), and this node not isolated by fault injection.
  grpc::Status Admit(grpc::CallbackServerContext* ctx,
                     const std::string* sender) const;

  Replica* const replica_;
  Cluster* const cluster_;
  WorkerPool* const pool_;
  const CallAuth* const auth_;
  const bool inline_apply_;
};

}  // namespace sesh

#endif  // SESH_NODE_PEER_SERVICE_H_
