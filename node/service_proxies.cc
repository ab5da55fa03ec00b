#include "node/service_proxies.h"

namespace sesh {

SessionsProxy::SessionsProxy(const CurrentGeneration* current, bool forwarded,
                             const CallAuth* stream_auth)
    : current_(current), forwarded_(forwarded) {
  if (stream_auth == nullptr) return;
  get_streams_ = std::make_unique<GetStreams>(
      "StreamGet", stream_auth,
      [this](const v1::BatchGetRequest& request, v1::BatchGetResponse* response,
             std::function<void(grpc::Status)> done) {
        std::shared_ptr<Generation> g = current_->Get();
        g->sessions()->ServeStreamGet(request, response,
                                      [g, done](grpc::Status s) { done(s); });
      },
      [this] { return Epoch(); });
  write_streams_ = std::make_unique<WriteStreams>(
      "StreamWrite", stream_auth,
      [this](const v1::WriteBatchRequest& request,
             v1::WriteBatchResponse* response,
             std::function<void(grpc::Status)> done) {
        std::shared_ptr<Generation> g = current_->Get();
        g->sessions()->ServeStreamWrite(request, response,
                                        [g, done](grpc::Status s) { done(s); });
      },
      [this] { return Epoch(); });
}

uint64_t SessionsProxy::Epoch() const {
  return current_->Get()->cluster()->epoch();
}

void SessionsProxy::EndIdleStreams(absl::Duration timeout) {
  if (get_streams_ != nullptr) get_streams_->EndIdle(timeout);
  if (write_streams_ != nullptr) write_streams_->EndIdle(timeout);
}

void SessionsProxy::DrainStreams() {
  if (get_streams_ != nullptr) get_streams_->Drain();
  if (write_streams_ != nullptr) write_streams_->Drain();
}

SessionsService* SessionsProxy::Target() const {
  Generation* g = current_->Get().get();
  return forwarded_ ? g->forwarded() : g->sessions();
}

grpc::ServerUnaryReactor* SessionsProxy::Create(
    grpc::CallbackServerContext* ctx, const v1::CreateRequest* request,
    v1::CreateResponse* response) {
  return Target()->Create(ctx, request, response);
}

grpc::ServerUnaryReactor* SessionsProxy::Get(grpc::CallbackServerContext* ctx,
                                             const v1::GetRequest* request,
                                             v1::GetResponse* response) {
  return Target()->Get(ctx, request, response);
}

grpc::ServerUnaryReactor* SessionsProxy::Update(
    grpc::CallbackServerContext* ctx, const v1::UpdateRequest* request,
    v1::UpdateResponse* response) {
  return Target()->Update(ctx, request, response);
}

grpc::ServerUnaryReactor* SessionsProxy::Touch(grpc::CallbackServerContext* ctx,
                                               const v1::TouchRequest* request,
                                               v1::TouchResponse* response) {
  return Target()->Touch(ctx, request, response);
}

grpc::ServerUnaryReactor* SessionsProxy::Destroy(
    grpc::CallbackServerContext* ctx, const v1::DestroyRequest* request,
    v1::DestroyResponse* response) {
  return Target()->Destroy(ctx, request, response);
}

grpc::ServerUnaryReactor* SessionsProxy::Rotate(
    grpc::CallbackServerContext* ctx, const v1::RotateRequest* request,
    v1::RotateResponse* response) {
  return Target()->Rotate(ctx, request, response);
}

grpc::ServerUnaryReactor* SessionsProxy::ListByUser(
    grpc::CallbackServerContext* ctx, const v1::ListByUserRequest* request,
    v1::ListByUserResponse* response) {
  return Target()->ListByUser(ctx, request, response);
}

grpc::ServerUnaryReactor* SessionsProxy::DestroyByUser(
    grpc::CallbackServerContext* ctx, const v1::DestroyByUserRequest* request,
    v1::DestroyByUserResponse* response) {
  return Target()->DestroyByUser(ctx, request, response);
}

grpc::ServerUnaryReactor* SessionsProxy::BatchGet(
    grpc::CallbackServerContext* ctx, const v1::BatchGetRequest* request,
    v1::BatchGetResponse* response) {
  return Target()->BatchGet(ctx, request, response);
}

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>*
SessionsProxy::StreamGet(grpc::CallbackServerContext* ctx) {
  if (get_streams_ != nullptr) return get_streams_->Open(ctx);
  return Target()->StreamGet(ctx);
}

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>*
SessionsProxy::StreamWrite(grpc::CallbackServerContext* ctx) {
  if (write_streams_ != nullptr) return write_streams_->Open(ctx);
  return Target()->StreamWrite(ctx);
}

grpc::ServerUnaryReactor* ClusterProxy::Topology(
    grpc::CallbackServerContext* ctx, const v1::TopologyRequest* request,
    v1::TopologyResponse* response) {
  return current_->Get()->cluster_service()->Topology(ctx, request, response);
}

grpc::ServerUnaryReactor* ClusterProxy::NodeStats(
    grpc::CallbackServerContext* ctx, const v1::NodeStatsRequest* request,
    v1::NodeStatsResponse* response) {
  return current_->Get()->cluster_service()->NodeStats(ctx, request, response);
}

grpc::ServerUnaryReactor* ClusterProxy::Decommission(
    grpc::CallbackServerContext* ctx, const v1::DecommissionRequest* request,
    v1::DecommissionResponse* response) {
  return current_->Get()->cluster_service()->Decommission(ctx, request,
                                                          response);
}

grpc::ServerUnaryReactor* ClusterProxy::Backup(
    grpc::CallbackServerContext* ctx, const v1::BackupRequest* request,
    v1::BackupResponse* response) {
  return current_->Get()->cluster_service()->Backup(ctx, request, response);
}

grpc::ServerUnaryReactor* PeerProxy::Apply(
    grpc::CallbackServerContext* ctx, const internal::ApplyRequest* request,
    internal::ApplyResponse* response) {
  return current_->Get()->peer()->Apply(ctx, request, response);
}

grpc::ServerUnaryReactor* PeerProxy::Read(grpc::CallbackServerContext* ctx,
                                          const internal::ReadRequest* request,
                                          internal::ReadResponse* response) {
  return current_->Get()->peer()->Read(ctx, request, response);
}

grpc::ServerUnaryReactor* PeerProxy::Fetch(
    grpc::CallbackServerContext* ctx, const internal::FetchRequest* request,
    internal::FetchResponse* response) {
  return current_->Get()->peer()->Fetch(ctx, request, response);
}

grpc::ServerUnaryReactor* PeerProxy::Heartbeat(
    grpc::CallbackServerContext* ctx, const internal::HeartbeatRequest* request,
    internal::HeartbeatResponse* response) {
  return current_->Get()->peer()->Heartbeat(ctx, request, response);
}

grpc::ServerUnaryReactor* PeerProxy::Digests(
    grpc::CallbackServerContext* ctx, const internal::DigestsRequest* request,
    internal::DigestsResponse* response) {
  return current_->Get()->peer()->Digests(ctx, request, response);
}

grpc::ServerUnaryReactor* PeerProxy::PartitionRecords(
    grpc::CallbackServerContext* ctx,
    const internal::PartitionRecordsRequest* request,
    internal::PartitionRecordsResponse* response) {
  return current_->Get()->peer()->PartitionRecords(ctx, request, response);
}

grpc::ServerUnaryReactor* PeerProxy::Repair(
    grpc::CallbackServerContext* ctx, const internal::RepairRequest* request,
    internal::RepairResponse* response) {
  return current_->Get()->peer()->Repair(ctx, request, response);
}

}  // namespace sesh
