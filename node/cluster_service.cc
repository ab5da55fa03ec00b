// ClusterService: Topology, NodeStats, Decommission and Backup
// (node/sessions_service.h).

#include "absl/strings/str_cat.h"
#include "node/convert.h"
#include "node/sessions_service.h"
#include "replication/placement.h"

namespace sesh {

grpc::ServerUnaryReactor* ClusterService::Topology(
    grpc::CallbackServerContext* ctx, const v1::TopologyRequest* request,
    v1::TopologyResponse* response) {
  ctx->AddTrailingMetadata(kEpochHeader, absl::StrCat(cluster_->epoch()));
  grpc::Status admitted = auth_->ForAny(*ctx);
  if (!admitted.ok()) {
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    reactor->Finish(admitted);
    return reactor;
  }
  const PlacementMap& placement = cluster_->placement();
  response->set_epoch(placement.epoch());
  for (int i = 0; i < cluster_->node_count(); ++i) {
    v1::Node* node = response->add_nodes();
    node->set_id(placement.nodes()[i]);
    node->set_address(cluster_->address(i));
    node->set_up(cluster_->IsUp(i));
  }
  response->set_partition_count(kPartitionCount);
  response->set_replication_factor(placement.replication_factor());
  if (request->include_partition_map()) {
    response->set_partition_map(placement.Serialized());
  }
  response->set_self_id(cluster_->self_id());
  if (cluster_->managed()) {
    response->set_managed(true);
    for (const std::string& id : cluster_->options().holders) {
      response->add_holders(id);
    }
  }
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* ClusterService::NodeStats(
    grpc::CallbackServerContext* ctx, const v1::NodeStatsRequest* request,
    v1::NodeStatsResponse* response) {
  ctx->AddTrailingMetadata(kEpochHeader, absl::StrCat(cluster_->epoch()));
  grpc::Status admitted = auth_->ForAdmin(*ctx);
  if (!admitted.ok()) {
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    reactor->Finish(admitted);
    return reactor;
  }
  response->set_node_id(cluster_->self_id());
  for (const SessionsService* s : {sessions_, forwarded_}) {
    if (s == nullptr) continue;
    response->set_requests_served(response->requests_served() +
                                  s->requests_served());
    response->set_requests_forwarded(response->requests_forwarded() +
                                     s->requests_forwarded());
    response->set_batch_get_calls(response->batch_get_calls() +
                                  s->batch_get_calls());
    response->set_repair_reads(response->repair_reads() + s->repair_reads());
  }
  response->set_stored_sessions(store_->EstimateStored());
  response->set_serving(cluster_->serving());
  response->set_membership_error(cluster_->membership_error());
  response->set_pending_touches(
      static_cast<uint64_t>(store_->PendingTouches()));
  response->set_storage_busy(store_->StorageBusy());
  response->set_touches_requested(store_->touches_requested());
  response->set_touches_written(store_->touches_written());
  response->set_hints_queued(static_cast<uint64_t>(cluster_->HintsQueued()));
  if (anti_entropy_ != nullptr) {
    const AntiEntropyProgress p = anti_entropy_->progress();
    v1::AntiEntropyStats* stats = response->mutable_anti_entropy();
    stats->set_passes_completed(p.passes_completed);
    stats->set_next_partition(p.next_partition);
    stats->set_partitions_compared(p.partitions_compared);
    stats->set_partitions_repaired(p.partitions_repaired);
    stats->set_records_pulled(p.records_pulled);
    stats->set_records_pushed(p.records_pushed);
    stats->set_peer_errors(p.peer_errors);
  }
  v1::MembershipStats* membership = response->mutable_membership();
  membership->set_epoch(cluster_->epoch());
  if (hooks_.stats) hooks_.stats(membership);
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* ClusterService::Decommission(
    grpc::CallbackServerContext* ctx, const v1::DecommissionRequest* request,
    v1::DecommissionResponse* response) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  grpc::Status admitted = auth_->ForAdmin(*ctx);
  if (!admitted.ok()) {
    reactor->Finish(admitted);
    return reactor;
  }
  if (!hooks_.decommission) {
    reactor->Finish(grpc::Status(
        grpc::StatusCode::FAILED_PRECONDITION,
        "static membership (--peers): change --peers on every node instead; "
        "decommission needs managed membership (--etcd)"));
    return reactor;
  }
  if (request->node_id().empty()) {
    reactor->Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                 "node_id is required"));
    return reactor;
  }
  // A few etcd calls with deadlines: brief enough for this thread.
  absl::StatusOr<uint64_t> epoch = hooks_.decommission(request->node_id());
  if (!epoch.ok()) {
    reactor->Finish(grpc::Status(
        static_cast<grpc::StatusCode>(epoch.status().code()),
        std::string(epoch.status().message())));
    return reactor;
  }
  response->set_epoch(*epoch);
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* ClusterService::Backup(
    grpc::CallbackServerContext* ctx, const v1::BackupRequest* request,
    v1::BackupResponse* response) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  grpc::Status admitted = auth_->ForAdmin(*ctx);
  if (!admitted.ok()) {
    reactor->Finish(admitted);
    return reactor;
  }
  if (backup_ == nullptr) {
    reactor->Finish(grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                                 "this node takes no backups"));
    return reactor;
  }
  v1::BackupManifest membership;
  membership.set_node_id(cluster_->self_id());
  membership.set_epoch(cluster_->epoch());
  membership.set_replication_factor(
      static_cast<uint32_t>(cluster_->placement().replication_factor()));
  for (int i = 0; i < cluster_->node_count(); ++i) {
    v1::Node* node = membership.add_members();
    node->set_id(cluster_->placement().nodes()[i]);
    node->set_address(cluster_->address(i));
    node->set_up(cluster_->IsUp(i));
  }
  // The checkpoint flushes and links files: off gRPC's threads.
  backup_->Start(request->dir(), std::move(membership),
                 [reactor, response](absl::StatusOr<v1::BackupResponse> r) {
                   if (!r.ok()) {
                     reactor->Finish(ToGrpcStatus(r.status()));
                     return;
                   }
                   *response = std::move(*r);
                   reactor->Finish(grpc::Status::OK);
                 });
  return reactor;
}

}  // namespace sesh
