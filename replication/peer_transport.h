#ifndef SESH_REPLICATION_PEER_TRANSPORT_H_
#define SESH_REPLICATION_PEER_TRANSPORT_H_

#include <cstdint>
#include <functional>

#include "absl/status/status.h"
#include "sesh/internal/peer.pb.h"

namespace sesh {

// How a node's replication reaches its peers (by index in the placement
// map): the messages of proto/sesh/internal/peer.proto, sent
// asynchronously. The replication core is written against this interface
// only; replication/grpc_peer_transport.h is the gRPC implementation and
// tests use an in-memory one.
//
// Each call's `done` runs exactly once, on any thread, possibly before the
// call returns, with OK and the peer's answer or an error (UNAVAILABLE or
// DEADLINE_EXCEEDED when no answer came back). Implementations are
// thread-safe.
class PeerTransport {
 public:
  template <typename Response>
  using Done = std::function<void(absl::Status, const Response&)>;

  virtual ~PeerTransport() = default;

  virtual void Apply(int node, internal::ApplyRequest request,
                     int64_t timeout_ms,
                     Done<internal::ApplyResponse> done) = 0;
  virtual void Read(int node, internal::ReadRequest request, int64_t timeout_ms,
                    Done<internal::ReadResponse> done) = 0;
  virtual void Fetch(int node, internal::FetchRequest request,
                     int64_t timeout_ms,
                     Done<internal::FetchResponse> done) = 0;
  // wait_for_connection: wait (within the timeout) for a connection that is
  // being re-established instead of failing at once.
  virtual void Heartbeat(int node, internal::HeartbeatRequest request,
                         int64_t timeout_ms, bool wait_for_connection,
                         Done<internal::HeartbeatResponse> done) = 0;
  virtual void Digests(int node, internal::DigestsRequest request,
                       int64_t timeout_ms,
                       Done<internal::DigestsResponse> done) = 0;
  virtual void PartitionRecords(
      int node, internal::PartitionRecordsRequest request, int64_t timeout_ms,
      Done<internal::PartitionRecordsResponse> done) = 0;
  virtual void Repair(int node, internal::RepairRequest request,
                      int64_t timeout_ms,
                      Done<internal::RepairResponse> done) = 0;

  // True if, right now, nothing accepts connections at the node's address
  // (the last attempt to connect failed).
  virtual bool Refusing(int node) = 0;
  // Tries to connect to the node again now rather than after a backoff.
  virtual void RetryNow(int node) = 0;
};

}  // namespace sesh

#endif  // SESH_REPLICATION_PEER_TRANSPORT_H_
