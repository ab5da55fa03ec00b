// Anti-entropy: the replicas of each partition periodically compare digests
// of their copies and exchange the records of partitions that differ, at a
// bounded rate, so that divergence left by a lost hint or an old bug heals
// without a restart.
//
// Transport-free: the node implements LocalReplica over its store and
// ReplicaPeers over the peer RPCs, whose handlers call DigestPartitions,
// PartitionRecords and MergeRecords below. Records travel whole and are
// merged (replication/merge.h), which is destroy-wins, so a destroyed
// session never comes back through anti-entropy.
//
// Only records that still matter (Digested()) are digested and exchanged: a
// replica that already swept an expired session is not divergent. Touches
// replicate lazily, so last_access_ms is left out of digests; a copy that
// expired here while another replica holds a later touch still differs, and
// the touch is pulled.

#ifndef SESH_REPLICATION_ANTI_ENTROPY_H_
#define SESH_REPLICATION_ANTI_ENTROPY_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "replication/clock.h"
#include "replication/placement.h"
#include "sesh/internal/record.pb.h"

namespace sesh {

// This node's copy. The node implements it over its store; must be
// thread-safe if the peer handlers and the anti-entropy thread share it.
class LocalReplica {
 public:
  virtual ~LocalReplica() = default;
  // Calls fn(record) for every stored record (tombstones and expired ones
  // included) of partitions [first, last], until fn returns false. Records
  // with an empty id (e.g. a lone persisted touch) are ignored by callers.
  virtual absl::Status ForEach(
      uint32_t first, uint32_t last,
      const std::function<bool(const internal::SessionRecord&)>& fn) = 0;
  // Merges a peer's state of a session into the local one.
  virtual absl::Status Merge(const internal::SessionRecord& record) = 0;
};

// The other replicas. The node implements it over the peer RPCs (whose
// handlers call the free functions below with for_node / from_node = the
// caller); tests fake it. Synchronous: anti-entropy runs on its own thread.
// Any error makes AntiEntropy skip that node for the rest of the step.
class ReplicaPeers {
 public:
  virtual ~ReplicaPeers() = default;
  // Node `node`'s DigestPartitions(..., for_node = this node, first, last).
  virtual absl::StatusOr<std::map<uint32_t, uint64_t>> Digests(
      int node, uint32_t first, uint32_t last) = 0;
  // Node `node`'s PartitionRecords(..., for_node = this node, partitions).
  virtual absl::StatusOr<std::vector<internal::SessionRecord>> Records(
      int node, const std::vector<uint32_t>& partitions) = 0;
  // Has node `node` run MergeRecords(..., from_node = this node, records).
  virtual absl::Status Push(
      int node, const std::vector<internal::SessionRecord>& records) = 0;
};

// XXH3 of a canonical encoding of the record's replicated state: every field
// but last_access_ms, attributes in key order. Records with SameState()
// except last_access_ms hash equal, whatever their maps' insertion order.
uint64_t RecordDigest(const internal::SessionRecord& record);

// True if anti-entropy digests and exchanges `record` at now_ms: it has an
// id, and is a tombstone before its absolute deadline (until then a live
// copy may exist somewhere, and the tombstone must win over it) or a session
// before min(last_access + idle_timeout, absolute_deadline).
bool Digested(const internal::SessionRecord& record, int64_t now_ms);

// The digests of partitions [first, last] that nodes `self` (the owner of
// `local`) and `for_node` both hold, as the XOR of the RecordDigest of their
// Digested records; partitions whose digest is 0 (nothing digested) are
// left out. One local->ForEach over the whole range, so empty partitions
// cost nothing. Errors: INVALID_ARGUMENT if first > last or
// last >= kPartitionCount; those of local->ForEach.
absl::StatusOr<std::map<uint32_t, uint64_t>> DigestPartitions(
    LocalReplica* local, const PlacementMap& placement, int self, int for_node,
    uint32_t first, uint32_t last, int64_t now_ms);

// The Digested records of the listed partitions that `self` and `for_node`
// both hold (others are skipped), in partition order.
// Errors: INVALID_ARGUMENT if a partition is >= kPartitionCount; those of
// local->ForEach.
absl::StatusOr<std::vector<internal::SessionRecord>> PartitionRecords(
    LocalReplica* local, const PlacementMap& placement, int self, int for_node,
    const std::vector<uint32_t>& partitions, int64_t now_ms);

// Merges into `local` each record (with an id) of a partition that `self`
// and `from_node` both hold; others are skipped. Every record is tried:
// returns the first error of local->Merge, if any.
absl::Status MergeRecords(LocalReplica* local, const PlacementMap& placement,
                          int self, int from_node,
                          const std::vector<internal::SessionRecord>& records);

struct AntiEntropyOptions {
  // This node's index in placement.nodes(). A node that is not a member
  // compares nothing.
  int self = -1;
  // Partitions a Step() covers, so a full pass takes kPartitionCount /
  // partitions_per_step steps (128 by default). Clamped to
  // [1, kPartitionCount].
  uint32_t partitions_per_step = 4096;
  // Records pulled plus pushed per Step(), so the repair rate is at most this
  // per step interval. A step stops before the next differing partition once
  // it has exchanged this many, and the next step resumes there; it may go
  // over by one partition's records, as a partition is repaired whole.
  // Values below 1 count as 1.
  int64_t max_records_per_step = 1000;
};

// What anti-entropy has done since construction.
struct AntiEntropyProgress {
  // Full passes over all partitions.
  uint64_t passes_completed = 0;
  // Where the next Step() starts.
  uint32_t next_partition = 0;
  // Partitions of this node compared with at least one other replica.
  uint64_t partitions_compared = 0;
  // Compared partitions that differed and had records exchanged.
  uint64_t partitions_repaired = 0;
  // Records received from peers, and sent to them (once per peer).
  uint64_t records_pulled = 0;
  uint64_t records_pushed = 0;
  // Peer calls that failed; the peer was skipped for the rest of the step.
  uint64_t peer_errors = 0;
  // Pulled records this node failed to merge; their partition differs
  // again at the next pass.
  uint64_t merge_errors = 0;
};

// Walks the partitions in steps and, for each partition this node holds,
// compares its digest with those of the partition's other replicas. Where
// one differs, it pulls the records of the replicas whose digest differs and
// is not 0, merges them locally, then pushes its merged records to every
// replica whose digest differs from the merged one. A replica that held a
// superset thus receives nothing, and all replicas of the partition agree
// after one exchange.
//
// Thread-safe: Step() calls are serialized; progress() may be called from
// any thread at any time.
class AntiEntropy {
 public:
  // `placement`, `local`, `peers` and `clock` are not owned and must outlive
  // this object.
  AntiEntropy(const AntiEntropyOptions& options, const PlacementMap* placement,
              LocalReplica* local, ReplicaPeers* peers, Clock* clock);

  AntiEntropy(const AntiEntropy&) = delete;
  AntiEntropy& operator=(const AntiEntropy&) = delete;

  // Compares the next partitions_per_step partitions (fewer if the record
  // bound is hit; the pass wraps to partition 0 after the last). Peer
  // failures are counted, not returned. Errors: those of the local
  // replica's ForEach; the next Step() then retries from the partition it
  // failed on.
  absl::Status Step();

  AntiEntropyProgress progress() const;

 private:
  // Counts of one step, published into progress_ at its end.
  struct StepCounts {
    uint64_t compared = 0;
    uint64_t repaired = 0;
    uint64_t pulled = 0;
    uint64_t pushed = 0;
    uint64_t peer_errors = 0;
    uint64_t merge_errors = 0;
    // Records pulled plus pushed, against max_records_per_step.
    int64_t exchanged = 0;
  };
  // A peer's digests for the step's range; absent once the peer failed.
  using PeerDigests = std::vector<std::optional<std::map<uint32_t, uint64_t>>>;

  // Runs [first, last] and sets *next to where the next step starts.
  absl::Status RunStep(uint32_t first, uint32_t last, int64_t now_ms,
                       StepCounts* counts, uint32_t* next);
  // Exchanges partition p's records with the replicas in `others` whose
  // digest differs from `local_digest`.
  absl::Status Repair(uint32_t p, uint64_t local_digest,
                      const std::vector<int>& others, int64_t now_ms,
                      PeerDigests* peer_digests, StepCounts* counts);

  // Constant after construction.
  const AntiEntropyOptions options_;
  const PlacementMap* const placement_;
  LocalReplica* const local_;
  ReplicaPeers* const peers_;
  Clock* const clock_;

  // Serializes Step(); taken before mu_.
  absl::Mutex step_mu_;

  mutable absl::Mutex mu_;
  // Protected by mu_.
  AntiEntropyProgress progress_ ABSL_GUARDED_BY(mu_);
};

}  // namespace sesh

#endif  // SESH_REPLICATION_ANTI_ENTROPY_H_
