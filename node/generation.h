// Everything of a node that depends on the membership, built for one
// membership epoch: the peer transport, the Cluster, the anti-entropy, and
// the services that use them. Under managed membership a node builds a new
// generation for each epoch and swaps it in (node/service_proxies.h); the
// store, the hints and the servers outlive generations (docs/scaling.md).

#ifndef SESH_NODE_GENERATION_H_
#define SESH_NODE_GENERATION_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "node/backup.h"
#include "node/call_auth.h"
#include "node/peer_service.h"
#include "node/session_store.h"
#include "node/sessions_service.h"
#include "node/worker_pool.h"
#include "replication/anti_entropy.h"
#include "replication/anti_entropy_link.h"
#include "replication/cluster.h"
#include "replication/grpc_peer_transport.h"
#include "replication/hint_store.h"
#include "replication/replica.h"

namespace sesh {

// What every generation shares; all pointers outlive the generations.
struct GenerationDeps {
  SessionStore* store = nullptr;
  HintStore* hints = nullptr;
  // Null: plaintext to peers (--insecure).
  std::shared_ptr<grpc::ChannelCredentials> peer_credentials;
  bool authenticate_peers = true;
  const CallAuth* client_auth = nullptr;
  ServiceOptions service_options;           // auth is set per port
  AntiEntropyOptions anti_entropy_options;  // self is set per generation
  int64_t replicate_timeout_ms = 1000;
  WorkerPool* client_pool = nullptr;
  WorkerPool* peer_pool = nullptr;
  bool inline_apply = true;
  // Takes Cluster.Backup calls; null: UNIMPLEMENTED.
  NodeBackup* backup = nullptr;
};

class Generation {
 public:
  // `cluster_options` names the members (peers), holders, pending holders
  // and epoch. Errors: as Cluster::Create.
  static absl::StatusOr<std::unique_ptr<Generation>> Build(
      const GenerationDeps& deps, const ClusterOptions& cluster_options);
  // Stops what is still running (Retire).
  ~Generation();

  Cluster* cluster() { return cluster_.get(); }
  SessionsService* sessions() { return sessions_.get(); }
  SessionsService* forwarded() { return forwarded_.get(); }
  ClusterService* cluster_service() { return cluster_service_.get(); }
  PeerService* peer() { return peer_.get(); }
  AntiEntropy* anti_entropy() { return anti_entropy_.get(); }
  GrpcPeerTransport* transport() { return transport_.get(); }

  // Stops this generation's heartbeats and lazy flushes and ends the peer
  // port's streams on it. Calls still in flight complete on it.
  // Idempotent.
  void Retire();

 private:
  Generation() = default;

  std::unique_ptr<CallAuth> peer_auth_;
  std::unique_ptr<GrpcPeerTransport> transport_;
  std::unique_ptr<Cluster> cluster_;
  std::unique_ptr<StoreReplica> local_replica_;
  std::unique_ptr<TransportPeers> replica_peers_;
  std::unique_ptr<AntiEntropy> anti_entropy_;
  std::unique_ptr<SessionsService> sessions_;
  std::unique_ptr<SessionsService> forwarded_;
  std::unique_ptr<ClusterService> cluster_service_;
  std::unique_ptr<Replica> replica_;
  std::unique_ptr<PeerService> peer_;
};

}  // namespace sesh

#endif  // SESH_NODE_GENERATION_H_
