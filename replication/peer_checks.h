#ifndef SESH_REPLICATION_PEER_CHECKS_H_
#define SESH_REPLICATION_PEER_CHECKS_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "replication/placement.h"
#include "sesh/internal/peer.pb.h"
#include "sesh/internal/record.pb.h"

namespace sesh {

// Bounds on what a peer may send: no honest node writes a record past them.
// A message that breaks one is refused whole (INVALID_ARGUMENT), before any
// of it is merged: peer input is checked like client input.
struct PeerLimits {
  int max_records_per_call = 10000;
  int max_touches_per_call = 100000;
  size_t max_namespace_bytes = 128;
  size_t max_user_id_bytes = 256;
  size_t max_key_bytes = 256;
  size_t max_value_bytes = 32 * 1024;
  // A whole serialized record (removed attributes included).
  size_t max_record_bytes = 1 << 20;
  // Stamps and last-access times further ahead of this node's clock are
  // refused (the store also refuses such stamps when merging).
  int64_t max_clock_ahead_ms = 10000;
};

// A replicated record for this node (`self`): a 32-byte id of a partition
// this node replicates, sizes within `limits`.
// With `pending` (a move under way) its partitions count too.
absl::Status CheckReplicatedRecord(const internal::SessionRecord& record,
                                   const PlacementMap& placement, int self,
                                   const PeerLimits& limits,
                                   const PlacementMap* pending = nullptr);

// A replicated touch: a 32-byte id this node replicates, a last-access time
// not ahead of now_ms by more than the clock bound.
absl::Status CheckReplicatedTouch(const internal::Touch& touch,
                                  const PlacementMap& placement, int self,
                                  int64_t now_ms, const PeerLimits& limits,
                                  const PlacementMap* pending = nullptr);

// A whole Apply message: counts, then every record and touch.
absl::Status CheckApply(const internal::ApplyRequest& request,
                        const PlacementMap& placement, int self,
                        int64_t now_ms, const PeerLimits& limits,
                        const PlacementMap* pending = nullptr);

}  // namespace sesh

#endif  // SESH_REPLICATION_PEER_CHECKS_H_
