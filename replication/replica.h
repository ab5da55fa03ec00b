#ifndef SESH_REPLICATION_REPLICA_H_
#define SESH_REPLICATION_REPLICA_H_

#include "absl/status/status.h"
#include "replication/anti_entropy_link.h"
#include "replication/clock.h"
#include "replication/cluster.h"
#include "replication/peer_checks.h"
#include "replication/replica_store.h"
#include "sesh/internal/peer.pb.h"

namespace sesh {

// The receiving side of the peer protocol, transport-free: merges
// replicated states and says which partitions it vouches for, answers read
// repair and catch-up reads, and answers heartbeats with what it owes the
// sender (docs/architecture.md, "Vouching"). Each peer message is checked
// like client input: a sender outside the membership, or a page size out of
// range, is INVALID_ARGUMENT with nothing changed. Thread-safe.
class Replica {
 public:
  // Most records one Fetch answer carries.
  static constexpr int kMaxFetchPage = 1000;

  // `cluster`, `store` and `wall` (expiry of digested records) outlive the
  // replica.
  Replica(Cluster* cluster, ReplicaStore* store, Clock* wall,
          PeerLimits limits = PeerLimits())
      : cluster_(cluster),
        store_(store),
        wall_(wall),
        limits_(limits),
        local_(store) {}

  // Refuses the whole message if it breaks `limits` or names a partition
  // this node does not replicate (replication/peer_checks.h); otherwise
  // merges each record and touch. A record of a partition whose primary is
  // not the sender counts towards the write's durability only if this node
  // may vouch for it (Cluster::VouchFor); the others are listed in
  // response->unvouched_partitions. Errors: the first record's error
  // (INVALID_ARGUMENT, OUT_OF_RANGE for a stamp too far ahead); the other
  // records are still merged.
  absl::Status Apply(const internal::ApplyRequest& request,
                     internal::ApplyResponse* response);
  // The stored states (tombstones included) of the ids held here.
  absl::Status Read(const internal::ReadRequest& request,
                    internal::ReadResponse* response);
  // A page of the records of the requested partitions that `for_node`
  // holds, in storage key order.
  absl::Status Fetch(const internal::FetchRequest& request,
                     internal::FetchResponse* response);
  // Notes the sender's heartbeat (same membership only) and answers with
  // this node's state and the hints it holds for the sender.
  // INVALID_ARGUMENT, with nothing noted, from a sender outside the
  // membership.
  absl::Status Heartbeat(const internal::HeartbeatRequest& request,
                 internal::HeartbeatResponse* response);

  // Anti-entropy (replication/anti_entropy.h), for a sender that shares the
  // partitions: digests of a range, the records of some partitions, and a
  // merge of the sender's records.
  absl::Status Digests(const internal::DigestsRequest& request,
                       internal::DigestsResponse* response);
  absl::Status PartitionRecords(
      const internal::PartitionRecordsRequest& request,
      internal::PartitionRecordsResponse* response);
  absl::Status Repair(const internal::RepairRequest& request);

 private:
  // The sender's index; INVALID_ARGUMENT if it is not another member.
  absl::StatusOr<int> Sender(const std::string& from_node) const;

  Cluster* const cluster_;
  ReplicaStore* const store_;
  Clock* const wall_;
  const PeerLimits limits_;
  StoreReplica local_;
};

// Pulls, from every other node, the records of the partitions this node
// holds and merges them, before the node serves (a node that restarts
// catches up before it answers reads). Peers that cannot be reached within
// timeout_ms are skipped, with a log line. Returns the records merged.
int64_t CatchUp(Cluster* cluster, ReplicaStore* store, int64_t timeout_ms);

}  // namespace sesh

#endif  // SESH_REPLICATION_REPLICA_H_
