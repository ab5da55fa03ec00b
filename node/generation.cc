#include "node/generation.h"

#include <utility>

namespace sesh {

absl::StatusOr<std::unique_ptr<Generation>> Generation::Build(
    const GenerationDeps& deps, const ClusterOptions& cluster_options) {
  std::unique_ptr<Generation> g(new Generation());
  // Placement order: the node indexes the transport and the Cluster share.
  std::vector<std::string> ids;
  for (const PeerSpec& p : cluster_options.peers) ids.push_back(p.id);
  absl::StatusOr<PlacementMap> order =
      PlacementMap::Build(ids, cluster_options.replication_factor);
  if (!order.ok()) return order.status();
  std::vector<std::string> addresses(ids.size());
  std::vector<std::string> names(ids.size());
  for (const PeerSpec& p : cluster_options.peers) {
    addresses[order->IndexOf(p.id)] = p.peer_address;
    names[order->IndexOf(p.id)] = p.id;
  }
  g->transport_ = std::make_unique<GrpcPeerTransport>(
      addresses, deps.peer_credentials, names);
  absl::StatusOr<std::unique_ptr<Cluster>> cluster = Cluster::Create(
      cluster_options, g->transport_.get(), deps.hints, SteadyClock());
  if (!cluster.ok()) return cluster.status();
  g->cluster_ = std::move(*cluster);
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (size_t i = 0; i < addresses.size(); ++i) {
    channels.push_back(g->transport_->channel(static_cast<int>(i)));
  }
  g->peer_auth_ = std::make_unique<CallAuth>(
      CallAuth::PeerPort(ids, deps.authenticate_peers));

  ServiceOptions client_options = deps.service_options;
  client_options.auth = deps.client_auth;
  g->sessions_ =
      std::make_unique<SessionsService>(deps.store, g->cluster_.get(), channels,
                                        client_options, deps.client_pool);
  ServiceOptions forwarded_options = deps.service_options;
  forwarded_options.auth = g->peer_auth_.get();
  g->forwarded_ =
      std::make_unique<SessionsService>(deps.store, g->cluster_.get(), channels,
                                        forwarded_options, deps.client_pool);

  g->local_replica_ = std::make_unique<StoreReplica>(deps.store);
  g->replica_peers_ = std::make_unique<TransportPeers>(
      g->transport_.get(), cluster_options.self_id,
      deps.replicate_timeout_ms * 5, cluster_options.epoch);
  AntiEntropyOptions anti_entropy_options = deps.anti_entropy_options;
  anti_entropy_options.self = g->cluster_->self_index();
  g->anti_entropy_ = std::make_unique<AntiEntropy>(
      anti_entropy_options, &g->cluster_->placement(), g->local_replica_.get(),
      g->replica_peers_.get(), SystemClock());
  g->cluster_service_ = std::make_unique<ClusterService>(
      deps.store, g->cluster_.get(), g->sessions_.get(), g->anti_entropy_.get(),
      deps.client_auth, g->forwarded_.get());
  g->cluster_service_->set_backup(deps.backup);
  g->replica_ =
      std::make_unique<Replica>(g->cluster_.get(), deps.store, SystemClock());
  g->peer_ = std::make_unique<PeerService>(g->replica_.get(), g->cluster_.get(),
                                           deps.peer_pool, g->peer_auth_.get(),
                                           deps.inline_apply);
  return g;
}

Generation::~Generation() { Retire(); }

void Generation::Retire() {
  cluster_->Stop();
  // The client port's streams are held by the proxy, not here.
  forwarded_->EndIdleStreams(absl::ZeroDuration());
}

}  // namespace sesh
