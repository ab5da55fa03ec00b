// Placement: which nodes hold a session.
//
// A session's raw id hashes to one of kPartitionCount partitions; each
// partition has a preference list of replication_factor distinct nodes,
// primary first. Placement is a pure function of the set of node ids and the
// replication factor, so every node and every client that knows the
// membership computes the same map without coordination.
//
// The scheme is rendezvous (highest-random-weight) hashing: each (node,
// partition) pair gets a pseudo-random score and a partition's preference
// list is its replication_factor highest-scoring nodes, descending. The
// relative order of two nodes for a partition never depends on the other
// nodes, hence:
//   - a joining node only takes replicas (and primaries) from others, about
//     1/(N+1) of them; a leaving node only hands its own replicas out, and
//     about 1/N of all replicas move;
//   - no partition ever moves between two nodes that are both members before
//     and after the change.
//
// This header knows nothing of RPC, storage or liveness: callers pick the
// first *live* node of a preference list themselves.

#ifndef SESH_REPLICATION_PLACEMENT_H_
#define SESH_REPLICATION_PLACEMENT_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace sesh {

// Why 2^19 partitions. Any scheme where a membership change never moves a
// partition between two nodes that both stay must, for each partition, rank
// all nodes in a fixed order and give the partition to the first members of
// that order. Per-node load then behaves like a sum of independent
// per-partition draws: roughly Binomial(P, 1/N) primaries per node, a
// relative std-dev of about sqrt(N/P) (virtual-node rings have the same
// property and do no better). Keeping the most loaded of N = 50 nodes within
// 5% of the mean (the worst of 50 sits about 2.3 std-devs above it) needs a
// std-dev of about 1%, i.e. P around 50 / 0.01^2, so 2^19 (0.98% at N = 50;
// 2^16 would give 2.8% and a worst node about 6% over the mean). The price
// is P * replication_factor bytes per map (1.5 MiB at RF 3) and P * N score
// evaluations per Build().
inline constexpr uint32_t kPartitionCount = 1u << 19;

// Length of a raw (decoded) session id, in bytes.
inline constexpr size_t kRawIdSize = 32;

// Node indexes in a map are single bytes.
inline constexpr int kMaxNodes = 255;

// Returns XXH3_64bits(raw_id, seed 0) % kPartitionCount. Stable across
// processes, machines and versions: it decides where stored data lives.
// `raw_id` is the kRawIdSize decoded id bytes, not the cookie encoding; any
// length is hashed as given.
uint32_t PartitionOf(absl::string_view raw_id);

// Fingerprint of a membership: XXH3_64bits (seed 0) of the node ids sorted
// ascending and joined with '\n', followed by '\n' and replication_factor in
// decimal. `node_ids` may be in any order. Never returns 0 (a hash of 0 is
// mapped to 1), so 0 can mean "no membership known".
uint64_t MembershipEpoch(const std::vector<std::string>& node_ids,
                         int replication_factor);

// An immutable partition -> preference list map. Copyable and movable; all
// methods are const and safe to call concurrently.
class PlacementMap {
 public:
  // Computes the placement of `node_ids` (any order; sorted internally).
  // replication_factor is capped at the node count.
  // Errors: INVALID_ARGUMENT if node_ids is empty, has more than kMaxNodes
  // entries, has duplicates, or an id that is empty or contains '\n'
  // (MembershipEpoch joins ids with '\n'); INVALID_ARGUMENT if
  // replication_factor < 1.
  // Costs kPartitionCount * N score evaluations: about 0.1 s at N = 50.
  static absl::StatusOr<PlacementMap> Build(std::vector<std::string> node_ids,
                                            int replication_factor);
  // Like Build(node_ids, replication_factor), but only the `holders` (a
  // non-empty subset of node_ids) are given partitions; the others are
  // members without data (joining under managed membership). Indexes still
  // refer to all of nodes(), so maps of one member set with different
  // holders share them. A non-zero `epoch` names the map instead of
  // MembershipEpoch (the etcd revision of the change, docs/scaling.md).
  // Errors: as Build, and INVALID_ARGUMENT if holders is empty or names a
  // node outside node_ids.
  static absl::StatusOr<PlacementMap> Build(
      std::vector<std::string> node_ids, int replication_factor,
      const std::vector<std::string>& holders, uint64_t epoch);

  // Adopts a map received over the wire (TopologyResponse.partition_map):
  // `map` is another map's Serialized(), `replication_factor` its
  // replication_factor() (already capped). The entries are validated but not
  // recomputed.
  // Errors: INVALID_ARGUMENT if the ids break Build()'s rules or are not
  // sorted ascending, if replication_factor is not in [1, node count], if
  // map.size() != kPartitionCount * replication_factor, or if a preference
  // list has an index >= node count or a repeated index.
  static absl::StatusOr<PlacementMap> FromSerialized(
      std::vector<std::string> sorted_node_ids, int replication_factor,
      std::string map);

  // Node ids, sorted ascending. Maps refer to nodes by index in this list.
  const std::vector<std::string>& nodes() const { return nodes_; }
  // The replication factor after capping at nodes().size().
  int replication_factor() const { return replication_factor_; }
  // MembershipEpoch(nodes(), replication_factor()), or the epoch Build
  // was given.
  uint64_t epoch() const { return epoch_; }

  // The preference list of `partition` (< kPartitionCount): replication
  // factor distinct indexes into nodes(), primary first. The span lives as
  // long as the map.
  absl::Span<const uint8_t> Replicas(uint32_t partition) const;
  // Replicas(partition)[0].
  uint8_t Primary(uint32_t partition) const;
  // Index of `node_id` in nodes(), or -1 if it is not a member.
  int IndexOf(absl::string_view node_id) const;
  // True if node index `node` is in Replicas(partition). False for an index
  // outside [0, nodes().size()).
  bool Holds(int node, uint32_t partition) const;

  // kPartitionCount * replication_factor() bytes: partition p's preference
  // list is at [p * rf, (p + 1) * rf). This is the wire format of
  // TopologyResponse.partition_map.
  const std::string& Serialized() const { return map_; }

 private:
  PlacementMap(std::vector<std::string> nodes, int replication_factor,
               std::string map, uint64_t epoch = 0);

  std::vector<std::string> nodes_;
  int replication_factor_;
  uint64_t epoch_;
  std::string map_;
};

}  // namespace sesh

#endif  // SESH_REPLICATION_PLACEMENT_H_
