#include "node/peer_service.h"

#include "node/convert.h"

namespace sesh {

grpc::Status PeerService::Admit(grpc::CallbackServerContext* ctx,
                                const std::string* sender) const {
  grpc::Status admitted = sender == nullptr ? auth_->ForAny(*ctx)
                                            : auth_->ForSender(*ctx, *sender);
  if (!admitted.ok()) return admitted;
  if (cluster_->isolated()) {  // fault injection: an isolated node answers no peer
    return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                        "isolated by fault injection");
  }
  return grpc::Status::OK;
}

grpc::ServerUnaryReactor* PeerService::OnPool(
    grpc::CallbackServerContext* ctx, const std::string* sender,
    std::function<absl::Status()> fn) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  grpc::Status admitted = Admit(ctx, sender);
  if (!admitted.ok()) {
    reactor->Finish(admitted);
    return reactor;
  }
  if (!pool_->TrySchedule([reactor, fn = std::move(fn)] {
        reactor->Finish(ToGrpcStatus(fn()));
      })) {
    reactor->Finish(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                 "the node's peer work queue is full"));
  }
  return reactor;
}

grpc::ServerUnaryReactor* PeerService::Apply(
    grpc::CallbackServerContext* ctx, const internal::ApplyRequest* request,
    internal::ApplyResponse* response) {
  if (inline_apply_) {
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    grpc::Status admitted = Admit(ctx, &request->from_node());
    reactor->Finish(admitted.ok()
                        ? ToGrpcStatus(replica_->Apply(*request, response))
                        : admitted);
    return reactor;
  }
  return OnPool(ctx, &request->from_node(), [this, request, response] {
    return replica_->Apply(*request, response);
  });
}

grpc::ServerUnaryReactor* PeerService::Read(
    grpc::CallbackServerContext* ctx, const internal::ReadRequest* request,
    internal::ReadResponse* response) {
  return OnPool(ctx, nullptr, [this, request, response] {
    return replica_->Read(*request, response);
  });
}

grpc::ServerUnaryReactor* PeerService::Fetch(
    grpc::CallbackServerContext* ctx, const internal::FetchRequest* request,
    internal::FetchResponse* response) {
  return OnPool(ctx, &request->for_node(), [this, request, response] {
    return replica_->Fetch(*request, response);
  });
}

grpc::ServerUnaryReactor* PeerService::Digests(
    grpc::CallbackServerContext* ctx, const internal::DigestsRequest* request,
    internal::DigestsResponse* response) {
  return OnPool(ctx, &request->from_node(), [this, request, response] {
    return replica_->Digests(*request, response);
  });
}

grpc::ServerUnaryReactor* PeerService::PartitionRecords(
    grpc::CallbackServerContext* ctx,
    const internal::PartitionRecordsRequest* request,
    internal::PartitionRecordsResponse* response) {
  return OnPool(ctx, &request->from_node(), [this, request, response] {
    return replica_->PartitionRecords(*request, response);
  });
}

grpc::ServerUnaryReactor* PeerService::Repair(
    grpc::CallbackServerContext* ctx, const internal::RepairRequest* request,
    internal::RepairResponse* /*response*/) {
  return OnPool(ctx, &request->from_node(), [this, request] { return replica_->Repair(*request); });
}

grpc::ServerUnaryReactor* PeerService::Heartbeat(
    grpc::CallbackServerContext* ctx, const internal::HeartbeatRequest* request,
    internal::HeartbeatResponse* response) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  grpc::Status admitted = Admit(ctx, &request->from_node());
  if (!admitted.ok()) {
    reactor->Finish(admitted);
    return reactor;
  }
  reactor->Finish(ToGrpcStatus(replica_->Heartbeat(*request, response)));
  return reactor;
}

}  // namespace sesh
