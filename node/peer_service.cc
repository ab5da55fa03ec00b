#include "node/peer_service.h"

#include "node/convert.h"

namespace sesh {

grpc::Status PeerService::Admit(grpc::CallbackServerContext* ctx,
                                const std::string* sender) const {
  grpc::Status admitted =
      sender == nullptr ? auth_->ForAny(*ctx) : auth_->ForSender(*ctx, *sender);
  if (!admitted.ok()) return admitted;
  if (cluster_
          ->isolated()) {  // fault injection: an isolated node answers no peer
    return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                        "isolated by fault injection");
  }
  return grpc::Status::OK;
}

grpc::ServerUnaryReactor* PeerService::Serve(grpc::CallbackServerContext* ctx,
                                             const std::string* sender,
                                             bool in_place,
                                             std::function<absl::Status()> fn) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  grpc::Status admitted = Admit(ctx, sender);
  if (!admitted.ok()) {
    reactor->Finish(admitted);
    return reactor;
  }
  if (in_place) {
    reactor->Finish(ToGrpcStatus(fn()));
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
  return Serve(ctx, &request->from_node(), inline_apply_,
               [this, request, response] {
                 return replica_->Apply(*request, response);
               });
}

grpc::ServerUnaryReactor* PeerService::Read(
    grpc::CallbackServerContext* ctx, const internal::ReadRequest* request,
    internal::ReadResponse* response) {
  return Serve(ctx, nullptr, /*in_place=*/false, [this, request, response] {
    return replica_->Read(*request, response);
  });
}

grpc::ServerUnaryReactor* PeerService::Fetch(
    grpc::CallbackServerContext* ctx, const internal::FetchRequest* request,
    internal::FetchResponse* response) {
  return Serve(ctx, &request->for_node(), /*in_place=*/false,
               [this, request, response] {
                 return replica_->Fetch(*request, response);
               });
}

grpc::ServerUnaryReactor* PeerService::Digests(
    grpc::CallbackServerContext* ctx, const internal::DigestsRequest* request,
    internal::DigestsResponse* response) {
  return Serve(ctx, &request->from_node(), /*in_place=*/false,
               [this, request, response] {
                 return replica_->Digests(*request, response);
               });
}

grpc::ServerUnaryReactor* PeerService::PartitionRecords(
    grpc::CallbackServerContext* ctx,
    const internal::PartitionRecordsRequest* request,
    internal::PartitionRecordsResponse* response) {
  return Serve(ctx, &request->from_node(), /*in_place=*/false,
               [this, request, response] {
                 return replica_->PartitionRecords(*request, response);
               });
}

grpc::ServerUnaryReactor* PeerService::Repair(
    grpc::CallbackServerContext* ctx, const internal::RepairRequest* request,
    internal::RepairResponse* /*response*/) {
  return Serve(ctx, &request->from_node(), /*in_place=*/false,
               [this, request] { return replica_->Repair(*request); });
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
