#include "replication/grpc_peer_transport.h"

#include <chrono>
#include <utility>

#include "replication/grpc_pin.h"

namespace sesh {

GrpcPeerTransport::GrpcPeerTransport(
    const std::vector<std::string>& addresses,
    std::shared_ptr<grpc::ChannelCredentials> credentials,
    const std::vector<std::string>& names) {
  PinCallbackCompletionQueue();
  for (size_t i = 0; i < addresses.size(); ++i) {
    const std::string& address = addresses[i];
    grpc::ChannelArguments args;
    // The peer's certificate must name the node, whatever its address.
    if (credentials != nullptr && i < names.size()) {
      args.SetSslTargetNameOverride(names[i]);
    }
    // Reconnect quickly after a peer restarts.
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
    // The connect timeout (gRPC's name for it): a TLS handshake on a loaded
    // machine can take longer than 100 ms, and one cut short never succeeds.
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 2000);
    args.SetMaxReceiveMessageSize(64 << 20);
    channels_.push_back(grpc::CreateCustomChannel(
        address,
        credentials != nullptr ? credentials
                               : grpc::InsecureChannelCredentials(),
        args));
    stubs_.push_back(internal::Peer::NewStub(channels_.back()));
  }
}

template <typename Request, typename Response>
void GrpcPeerTransport::Call(int node, AsyncUnary<Request, Response> method,
                             Request request, int64_t timeout_ms,
                             Done<Response> done, bool wait_for_ready) {
  struct State {
    grpc::ClientContext ctx;
    Request request;
    Response response;
    Done<Response> done;
  };
  auto state = std::make_shared<State>();
  state->ctx.set_deadline(std::chrono::system_clock::now() +
                          std::chrono::milliseconds(timeout_ms));
  state->ctx.set_wait_for_ready(wait_for_ready);
  state->request = std::move(request);
  state->done = std::move(done);
  (stubs_[node]->async()->*method)(
      &state->ctx, &state->request, &state->response,
      [state](grpc::Status status) {
        absl::Status s =
            status.ok()
                ? absl::OkStatus()
                : absl::Status(
                      static_cast<absl::StatusCode>(status.error_code()),
                      status.error_message());
        state->done(s, state->response);
      });
}

void GrpcPeerTransport::Apply(int node, internal::ApplyRequest request,
                              int64_t timeout_ms,
                              Done<internal::ApplyResponse> done) {
  Call<internal::ApplyRequest, internal::ApplyResponse>(
      node, &internal::Peer::Stub::async_interface::Apply, std::move(request),
      timeout_ms, std::move(done));
}

void GrpcPeerTransport::Read(int node, internal::ReadRequest request,
                             int64_t timeout_ms,
                             Done<internal::ReadResponse> done) {
  Call<internal::ReadRequest, internal::ReadResponse>(
      node, &internal::Peer::Stub::async_interface::Read, std::move(request),
      timeout_ms, std::move(done));
}

void GrpcPeerTransport::Fetch(int node, internal::FetchRequest request,
                              int64_t timeout_ms,
                              Done<internal::FetchResponse> done) {
  Call<internal::FetchRequest, internal::FetchResponse>(
      node, &internal::Peer::Stub::async_interface::Fetch, std::move(request),
      timeout_ms, std::move(done));
}

void GrpcPeerTransport::Heartbeat(int node, internal::HeartbeatRequest request,
                                  int64_t timeout_ms, bool wait_for_connection,
                                  Done<internal::HeartbeatResponse> done) {
  Call<internal::HeartbeatRequest, internal::HeartbeatResponse>(
      node, &internal::Peer::Stub::async_interface::Heartbeat,
      std::move(request), timeout_ms, std::move(done), wait_for_connection);
}

void GrpcPeerTransport::Digests(int node, internal::DigestsRequest request,
                                int64_t timeout_ms,
                                Done<internal::DigestsResponse> done) {
  Call<internal::DigestsRequest, internal::DigestsResponse>(
      node, &internal::Peer::Stub::async_interface::Digests, std::move(request),
      timeout_ms, std::move(done));
}

void GrpcPeerTransport::PartitionRecords(
    int node, internal::PartitionRecordsRequest request, int64_t timeout_ms,
    Done<internal::PartitionRecordsResponse> done) {
  Call<internal::PartitionRecordsRequest, internal::PartitionRecordsResponse>(
      node, &internal::Peer::Stub::async_interface::PartitionRecords,
      std::move(request), timeout_ms, std::move(done));
}

void GrpcPeerTransport::Repair(int node, internal::RepairRequest request,
                               int64_t timeout_ms,
                               Done<internal::RepairResponse> done) {
  Call<internal::RepairRequest, internal::RepairResponse>(
      node, &internal::Peer::Stub::async_interface::Repair, std::move(request),
      timeout_ms, std::move(done));
}

bool GrpcPeerTransport::Refusing(int node) {
  // A server that refuses a call (as a cut-off node does) leaves the
  // channel ready; only a failed connect leaves it in transient failure.
  return channels_[node]->GetState(false) == GRPC_CHANNEL_TRANSIENT_FAILURE;
}

void GrpcPeerTransport::RetryNow(int node) {
  grpc::experimental::ChannelResetConnectionBackoff(channels_[node].get());
}

}  // namespace sesh
