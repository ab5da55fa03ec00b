#ifndef SESH_REPLICATION_ANTI_ENTROPY_LINK_H_
#define SESH_REPLICATION_ANTI_ENTROPY_LINK_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "replication/anti_entropy.h"
#include "replication/peer_transport.h"
#include "replication/replica_store.h"

namespace sesh {

// Anti-entropy's view of this node's storage: a node's ReplicaStore.
class StoreReplica final : public LocalReplica {
 public:
  explicit StoreReplica(ReplicaStore* store) : store_(store) {}
  absl::Status ForEach(
      uint32_t first, uint32_t last,
      const std::function<bool(const internal::SessionRecord&)>& fn) override;
  absl::Status Merge(const internal::SessionRecord& record) override;

 private:
  ReplicaStore* const store_;
};

// Anti-entropy's view of the other replicas: the Digests, PartitionRecords
// and Repair peer calls, waited for (anti-entropy runs on its own thread).
class TransportPeers final : public ReplicaPeers {
 public:
  // `transport` outlives this object; self_id names this node to peers;
  // `epoch` is the managed membership epoch every call carries (0: static).
  TransportPeers(PeerTransport* transport, std::string self_id,
                 int64_t timeout_ms, uint64_t epoch = 0)
      : transport_(transport),
        self_id_(std::move(self_id)),
        timeout_ms_(timeout_ms),
        epoch_(epoch) {}

  absl::StatusOr<std::map<uint32_t, uint64_t>> Digests(int node, uint32_t first,
                                                       uint32_t last) override;
  absl::StatusOr<std::vector<internal::SessionRecord>> Records(
      int node, const std::vector<uint32_t>& partitions) override;
  absl::Status Push(
      int node, const std::vector<internal::SessionRecord>& records) override;

 private:
  PeerTransport* const transport_;
  const std::string self_id_;
  const int64_t timeout_ms_;
  const uint64_t epoch_;
};

}  // namespace sesh

#endif  // SESH_REPLICATION_ANTI_ENTROPY_LINK_H_
