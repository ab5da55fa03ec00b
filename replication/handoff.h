// Hand-off: a node fetches the partitions it gains in a membership change
// (Cluster::pending()) from their current replicas, at a bounded rate,
// while the coordinators already send it those partitions' new writes as a
// pending replica (docs/scaling.md).

#ifndef SESH_REPLICATION_HANDOFF_H_
#define SESH_REPLICATION_HANDOFF_H_

#include <atomic>
#include <cstdint>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "replication/cluster.h"
#include "replication/replica_store.h"

namespace sesh {

struct HandoffProgress {
  uint64_t epoch = 0;
  uint32_t partitions_total = 0;
  uint32_t partitions_done = 0;
  uint64_t records_received = 0;
  uint64_t bytes_received = 0;
  double eta_seconds = 0;
  bool done = false;
};

class Handoff {
 public:
  // `cluster` (of the epoch the hand-off is for) and `store` outlive it.
  // max_bytes_per_s bounds the bytes fetched per second (0: unbounded).
  Handoff(Cluster* cluster, ReplicaStore* store, int64_t max_bytes_per_s);

  // On a LEAVING node (it gains nothing): waits until it holds no hints,
  // so that none leaves with it. Otherwise: waits until every peer that is
  // up routes by this epoch (so that every
  // write from then on reaches this node as a pending replica), then
  // fetches, from each other current replica, the records of the
  // partitions this node gains, and merges them. A replica that stays
  // unreachable until it is down is skipped: the others hold every
  // acknowledged write. Then waits until no peer holds hints for this
  // node. CANCELLED once Cancel() is called; FAILED_PRECONDITION
  // if this node gains nothing or no move is under way.
  absl::Status Run();
  void Cancel() { cancelled_.store(true); }
  HandoffProgress progress() const;

 private:
  absl::Status DrainHints();
  enum class Fetched { kDone, kSourceDown, kCancelled };
  // Fetches from one peer the gained records of partitions it is among the
  // first max_rank replicas of (0: all it holds), at most max_bytes_per_s
  // (0: unbounded).
  Fetched FetchFrom(int node, int source_index, uint32_t max_rank,
                    int64_t max_bytes_per_s);
  // FetchFrom every source in parallel, sharing the rate bound; then, if
  // one was down, again from all that are up with no rank limit. False if
  // cancelled.
  bool FetchFromAll(const std::vector<int>& sources, uint32_t max_rank);

  Cluster* const cluster_;
  ReplicaStore* const store_;
  const int64_t max_bytes_per_s_;
  std::atomic<bool> cancelled_{false};
  mutable absl::Mutex mu_;
  HandoffProgress progress_ ABSL_GUARDED_BY(mu_);
  // Per source, the share of the key space scanned.
  std::vector<double> scanned_ ABSL_GUARDED_BY(mu_);
  int64_t started_ms_ ABSL_GUARDED_BY(mu_) = 0;
  // The thread of the first source only.
  int64_t last_log_ms_ = 0;
};

}  // namespace sesh

#endif  // SESH_REPLICATION_HANDOFF_H_
