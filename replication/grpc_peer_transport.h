#ifndef SESH_REPLICATION_GRPC_PEER_TRANSPORT_H_
#define SESH_REPLICATION_GRPC_PEER_TRANSPORT_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "replication/peer_transport.h"
#include "sesh/internal/peer.grpc.pb.h"

namespace sesh {

// PeerTransport over gRPC: one channel per peer (shared with calls the node
// forwards there), the Peer service's callback stubs. The only code that
// speaks the peer protocol over gRPC.
class GrpcPeerTransport final : public PeerTransport {
 public:
  // addresses[i]: host:port of node i's peer port (this node's own entry is
  // unused). With `credentials` (mutual TLS, node/credentials.h), the
  // certificate of node i must name names[i]; null: plaintext.
  GrpcPeerTransport(const std::vector<std::string>& addresses,
                    std::shared_ptr<grpc::ChannelCredentials> credentials =
                        nullptr,
                    const std::vector<std::string>& names = {});

  void Apply(int node, internal::ApplyRequest request, int64_t timeout_ms,
             Done<internal::ApplyResponse> done) override;
  void Read(int node, internal::ReadRequest request, int64_t timeout_ms,
            Done<internal::ReadResponse> done) override;
  void Fetch(int node, internal::FetchRequest request, int64_t timeout_ms,
             Done<internal::FetchResponse> done) override;
  void Heartbeat(int node, internal::HeartbeatRequest request,
                 int64_t timeout_ms, bool wait_for_connection,
                 Done<internal::HeartbeatResponse> done) override;
  void Digests(int node, internal::DigestsRequest request, int64_t timeout_ms,
               Done<internal::DigestsResponse> done) override;
  void PartitionRecords(int node, internal::PartitionRecordsRequest request,
                        int64_t timeout_ms,
                        Done<internal::PartitionRecordsResponse> done) override;
  void Repair(int node, internal::RepairRequest request, int64_t timeout_ms,
              Done<internal::RepairResponse> done) override;
  bool Refusing(int node) override;
  void RetryNow(int node) override;

  // The channel to node i, for the node's forwarded client calls.
  std::shared_ptr<grpc::Channel> channel(int node) const {
    return channels_[node];
  }

 private:
  template <typename Request, typename Response>
  using AsyncUnary = void (internal::Peer::Stub::async_interface::*)(
      grpc::ClientContext*, const Request*, Response*,
      std::function<void(grpc::Status)>);
  template <typename Request, typename Response>
  void Call(int node, AsyncUnary<Request, Response> method, Request request,
            int64_t timeout_ms, Done<Response> done,
            bool wait_for_ready = false);

  std::vector<std::shared_ptr<grpc::Channel>> channels_;
  std::vector<std::unique_ptr<internal::Peer::Stub>> stubs_;
};

}  // namespace sesh

#endif  // SESH_REPLICATION_GRPC_PEER_TRANSPORT_H_
