#ifndef SESH_REPLICATION_FAILURE_DETECTOR_H_
#define SESH_REPLICATION_FAILURE_DETECTOR_H_

#include <cstdint>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "replication/clock.h"
#include "replication/lease.h"

namespace sesh {

// Which peers are up, for routing: a peer is up while its heartbeats reach
// this node within failure_timeout_ms, it answers this node's heartbeats,
// no call to it failed since its last answer, its address has not refused
// a connection since its last heartbeat, and it says it serves. Being down
// here decides only where calls go; whether a replica may write without the
// primary is Leases' business (docs/architecture.md, "Failure detection").
//
// Thread-safe.
class FailureDetector {
 public:
  // `leases` (the heard-from times) outlives this object.
  FailureDetector(int node_count, int self, int64_t failure_timeout_ms,
                  Clock* steady, const Leases* leases);

  // The peer answered a heartbeat of this node; it said whether it serves.
  // Returns true if that turned it up.
  bool Answered(int node, bool serving);
  // A call found nothing accepting connections at the peer's address.
  void Refused(int node);
  // A call to the peer failed as unreachable: down until it answers a
  // heartbeat again. Returns true if it was reachable before.
  bool Suspect(int node);
  // The peer answered a heartbeat since its last failure.
  bool Reachable(int node) const;
  // What the peer's latest answer said of its serving state.
  bool AnsweredServing(int node) const;
  bool IsUp(int node) const;
  // Takes `from`'s view of its node `from_node` (a previous membership
  // epoch's detector, same clock) as this one's of `node`.
  void Inherit(int node, const FailureDetector& from, int from_node);

 private:
  struct Peer {
    int64_t last_ok_ms = 0;  // 0: never answered, or suspect since
    bool serving = false;
    int64_t refused_ms = 0;
  };
  bool IsUpLocked(int node) const ABSL_SHARED_LOCKS_REQUIRED(mu_);

  // Constant after construction.
  const int self_;
  const int64_t failure_timeout_ms_;
  Clock* const steady_;
  const Leases* const leases_;

  mutable absl::Mutex mu_;
  std::vector<Peer> peers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace sesh

#endif  // SESH_REPLICATION_FAILURE_DETECTOR_H_
