#ifndef SESH_REPLICATION_LEASE_H_
#define SESH_REPLICATION_LEASE_H_

#include <cstdint>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "replication/clock.h"
#include "replication/placement.h"

namespace sesh {

struct LeaseOptions {
  int64_t heartbeat_interval_ms = 200;
  int64_t failure_timeout_ms = 800;
};

// Read leases and vouching: the rules that let a partition's primary answer
// reads from its own copy alone while no QUORUM write can be acknowledged
// without it (docs/architecture.md, "Read leases").
//
// - A replica promises not to vouch for a write of a partition (count its
//   own copy towards the write's durability) unless the write comes from
//   the primary or the primary has been silent (no heartbeat) for
//   vouch_after_ms().
// - A primary's heartbeat answered by a peer that holds no hint for it
//   grants it a lease from that peer until sent + lease_ms(), with
//   lease_ms() < vouch_after_ms(): the peer's silence clock starts at or
//   after `sent`, so it cannot vouch before the lease has ended.
// - The primary reads alone while enough peers' leases are running that
//   every QUORUM of replicas without it includes one of them.
//
// Times come from an injected monotonic clock. Thread-safe: one mutex for
// every peer's state.
class Leases {
 public:
  // `placement` outlives this object; `self` is this node's index in it.
  Leases(const PlacementMap* placement, int self, const LeaseOptions& options,
         Clock* steady);

  int64_t vouch_after_ms() const {
    return options_.failure_timeout_ms - options_.heartbeat_interval_ms / 2;
  }
  int64_t lease_ms() const { return vouch_after_ms() * 9 / 10; }

  // A heartbeat of peer `node` arrived; it said whether it serves. One
  // that is older ((incarnation, sequence) below the latest seen) changes
  // nothing and returns false.
  bool HeardFrom(int node, bool serving, int64_t incarnation = 0,
                 uint64_t sequence = 0);
  // Takes what `from` (of a previous membership epoch, same clock) heard
  // from its node `from_node` as heard from `node` here; no lease is
  // carried over.
  void Inherit(int node, const Leases& from, int from_node);
  // Monotonic ms of the peer's latest heartbeat here (0: none yet), and
  // what it said.
  int64_t LastHeard(int node) const;
  bool HeardServing(int node) const;

  // No heartbeat from the peer for vouch_after_ms() (counted from this
  // object's creation while none arrived: a lease granted by this node's
  // previous run may still be running), or its latest said it was not
  // serving (it is catching up and answers no reads).
  bool Silent(int node) const;
  // This node may count its own copy of a write to `partition` towards the
  // write's durability: it is the partition's primary, or the primary is
  // silent. In the second case the caller keeps the write as a hint for
  // the primary until delivered.
  bool MayVouch(uint32_t partition) const;

  // Peer `node` answered a heartbeat this node sent at monotonic `sent_ms`
  // saying it serves, and the peer holds no write for it: lease until
  // sent_ms + lease_ms().
  void Granted(int node, int64_t sent_ms);
  // This node is the partition's primary, serves (`self_serving`) and holds
  // enough running leases from its other replicas.
  bool HasReadLease(uint32_t partition, bool self_serving) const;
  // Other replicas of the partition whose leases a primary needs: with any
  // one replica they include a member of every QUORUM of the replicas.
  int OthersCoveringQuorum(uint32_t partition) const;

 private:
  struct Peer {
    int64_t last_heard_ms = 0;
    bool heard_serving = false;
    int64_t lease_until_ms = 0;
    int64_t incarnation = 0;
    uint64_t sequence = 0;
  };
  bool SilentLocked(int node, int64_t now) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);

  // Constant after construction.
  const PlacementMap* const placement_;
  const int self_;
  const LeaseOptions options_;
  Clock* const steady_;
  const int64_t created_ms_;

  mutable absl::Mutex mu_;
  std::vector<Peer> peers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace sesh

#endif  // SESH_REPLICATION_LEASE_H_
