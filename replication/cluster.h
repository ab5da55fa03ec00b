#ifndef SESH_REPLICATION_CLUSTER_H_
#define SESH_REPLICATION_CLUSTER_H_

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <optional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "replication/clock.h"
#include "replication/durability.h"
#include "replication/failure_detector.h"
#include "replication/hint_store.h"
#include "replication/lease.h"
#include "replication/membership.h"
#include "replication/peer_transport.h"
#include "replication/placement.h"
#include "sesh/internal/peer.pb.h"
#include "sesh/internal/record.pb.h"

namespace sesh {

struct ClusterOptions {
  std::string self_id;
  // Every node of the cluster, this one included, the same list on every
  // node.
  std::vector<PeerSpec> peers;
  int replication_factor = 3;
  int64_t heartbeat_interval_ms = 200;
  // A peer whose heartbeats have not reached this node for this long is
  // down for routing; vouching waits failure_timeout_ms -
  // heartbeat_interval_ms / 2 of such silence (replication/lease.h).
  int64_t failure_timeout_ms = 800;
  // Deadline of one replication call to a peer.
  int64_t replicate_timeout_ms = 1000;
  // Touches are sent to replicas in batches at this interval (lazy
  // replication of sliding expiry; docs/architecture.md, "Touches").
  int64_t touch_flush_interval_ms = 100;
  // Records per Apply call.
  int max_apply_batch = 256;
  // Apply calls in flight to one peer; more queue and leave together.
  int max_applies_in_flight = 1;
  // Records waiting for one peer's acknowledgement (queued, not yet sent).
  // A write that would queue more is not sent to that peer: it counts as
  // not acknowledged there and is kept as a hint instead.
  int64_t max_queued_per_peer = 100000;
  // Called (once per distinct problem) when a peer turns out to run another
  // membership; the node turns its cluster health to NOT_SERVING.
  std::function<void(const std::string& error)> on_membership_error;

  // Managed membership (docs/scaling.md). Empty holders: every peer holds
  // data. Non-empty pending_holders: a move is under way, and writes also
  // go to the replicas of the map over them (pending replicas, whose
  // acknowledgements do not count). A non-zero epoch names the membership
  // (the etcd revision) instead of the hash of the peer list.
  std::vector<std::string> holders;
  std::vector<std::string> pending_holders;
  uint64_t epoch = 0;
  // The map of the epoch before (managed membership; null at start): a
  // primary it named may still serve reads under a lease granted then.
  std::shared_ptr<const PlacementMap> previous;
  // Members that were LEAVING in that epoch: they took no read leases.
  std::vector<std::string> previous_leaving;
  // With managed membership a peer on another epoch is not an error: one
  // on a newer epoch (or refusing this node's as older) calls this, so
  // that the node refetches the membership. Must not block.
  std::function<void()> on_newer_epoch;
};

// The multi-node view of one node, transport-free: membership and
// placement, the failure detector and read leases fed by heartbeats, and
// replication of session states to the other replicas with hinted handoff
// for peers that miss them. The peer messages go through a PeerTransport;
// time comes from a monotonic Clock. docs/architecture.md gives the
// protocol and the invariants.
//
// Thread-safe. Callbacks passed in run on the transport's threads or on
// the cluster's own; they must not block.
class Cluster {
 public:
  // Builds placement from options.peers. `transport`, `hints` and `steady`
  // outlive the cluster; `hints` keeps the writes peers missed (persisted,
  // bounded in bytes) and may be null only for a single node.
  // INVALID_ARGUMENT if self_id is not among the peers, the peer list is
  // invalid, or failure_timeout_ms is not more than twice
  // heartbeat_interval_ms.
  static absl::StatusOr<std::unique_ptr<Cluster>> Create(
      const ClusterOptions& options, PeerTransport* transport, HintStore* hints,
      Clock* steady);
  ~Cluster();

  // Sets the address advertised for this node (a single node listening on
  // port 0 learns its port after binding). Call before Start().
  void SetSelfAddress(std::string address) {
    addresses_[self_index_] = std::move(address);
  }

  // Takes over what `previous` (this node's Cluster of the previous
  // membership epoch) knows of the peers in both: liveness and heartbeat
  // times, not read leases. Call before Start(), so that a membership
  // change does not make live peers look down for a heartbeat round.
  void InheritLiveness(const Cluster& previous);

  // Starts the threads that call SendHeartbeats() every heartbeat interval
  // and FlushLazy() every touch flush interval.
  void Start();
  // Stops them, and waits for the threads and for every peer call in
  // flight to complete (its callback to return), so that none outlives the
  // cluster. Idempotent.
  void Stop();
  // One round of heartbeats to every peer, and one flush of queued touches
  // and hints to the peers that answer. The threads call these; tests call
  // them directly with a fake clock and transport.
  void SendHeartbeats();
  void FlushLazy();

  const PlacementMap& placement() const { return placement_; }
  // The map a move under way leads to, or null.
  const PlacementMap* pending() const {
    return pending_.has_value() ? &*pending_ : nullptr;
  }
  // `node` holds `partition` now or in the pending map: it takes the
  // partition's writes and may fetch it.
  bool WillHold(int node, uint32_t partition) const {
    return placement_.Holds(node, partition) ||
           (pending_.has_value() && pending_->Holds(node, partition));
  }
  bool managed() const { return options_.epoch != 0; }
  // Node `node` holds partitions in the current map (a joining one does
  // not).
  bool IsHolder(int node) const { return holder_nodes_[node]; }
  bool holds_data() const { return IsHolder(self_index_); }
  // Every peer that is up has answered a heartbeat from epoch `epoch` or a
  // later one (managed membership: it routes writes by that map).
  bool PeersReached(uint64_t epoch) const;
  // Every peer that is up said, in its last heartbeat answer of this epoch,
  // that it holds no write for this node (hints_for_you is 0).
  bool NothingOwed() const;
  // A managed peer's call carried `epoch`: OK if it is ours or newer (then
  // this node refetches), FAILED_PRECONDITION telling the sender to
  // refetch if it is older. Epoch 0 (static membership) is never refused.
  absl::Status CheckCallEpoch(uint64_t epoch);
  int self_index() const { return self_index_; }
  uint64_t epoch() const { return placement_.epoch(); }
  const std::string& self_id() const { return options_.self_id; }
  const ClusterOptions& options() const { return options_; }
  const std::string& address(int node) const { return addresses_[node]; }
  int node_count() const { return static_cast<int>(addresses_.size()); }
  const Leases& leases() const { return leases_; }

  // Routing view (FailureDetector); this node is up once it serves.
  bool IsUp(int node) const;
  // Marks a peer down at once: a call to it failed as unreachable, for the
  // logged `reason`.
  void MarkSuspect(int node, const absl::Status& reason);

  // A peer's heartbeat arrived: notes it (Leases::HeardFrom) and returns
  // the writes this node holds for the peer (hints), to report in the
  // answer. One step under vouch_mu_, so that no vouch can fall between
  // the two and be missing from a count that grants a lease.
  int64_t AnswerHeartbeat(const internal::HeartbeatRequest& request);
  // This node may count its own copy of `records` (all of `partition`)
  // towards a write's durability (Leases::MayVouch); if it does so without
  // being the primary, the records are kept as hints for the primary, and
  // if they cannot be kept it does not vouch.
  bool VouchFor(uint32_t partition,
                const std::vector<internal::SessionRecord>& records);
  // False until this generation is fenced (LeasesFenced), and on a
  // LEAVING node.
  bool HasReadLease(uint32_t partition) const {
    return !leaving() && LeasesFenced() &&
           leases_.HasReadLease(partition, serving());
  }
  // Holders that the move under way removes (LEAVING members).
  std::vector<std::string> LeavingIds() const;
  bool leaving() const { return leaving_; }
  // After a membership change, read leases wait until every peer that is
  // up routes by this epoch, the calls sent before have ended (one
  // replicate timeout), and no peer holds hints for this node: until then
  // a write acknowledged under the previous map may be missing here
  // (docs/scaling.md, "Leases across a change"). True at once without a
  // previous map; once true, stays true.
  bool LeasesFenced() const;
  // The previous epoch's primary of `partition` is another node that may
  // still serve it under a read lease granted then: it has not answered a
  // heartbeat from this epoch and is not silent. No replica vouches for a
  // write to the partition meanwhile.
  bool PreviousPrimaryMayServe(uint32_t partition) const;
  int OthersCoveringQuorum(uint32_t partition) const {
    return leases_.OthersCoveringQuorum(partition);
  }
  // Records held for the peer `node_id` and not yet applied by it (its
  // hints, replays in flight included). Persisted, so a restarted node
  // still withholds a lease it cannot back.
  int64_t HintsFor(const std::string& node_id) const;
  // This node's own serving state (false while catching up after start).
  // A change tells the peers at once (a heartbeat round): turning serving,
  // they route to it and stop vouching for its partitions; turning not
  // serving (a drain), it holds no read lease from then on and they vouch
  // for its partitions without waiting out its silence.
  void SetServing(bool serving);
  bool serving() const { return serving_.load(); }

  // The first up node of the partition's preference list that is not
  // LEAVING (a LEAVING one if no other is up), or -1.
  int Coordinator(uint32_t partition) const;
  // Replicas that are up, in preference order.
  std::vector<int> LiveReplicas(uint32_t partition) const;
  // Acks (this node's own write included) a write to the partition needs.
  int AcksNeeded(uint32_t partition, Durability durability) const;

  // Sends the records (all of one partition) to the partition's other
  // replicas. done(acks) runs once `acks_wanted` peers acknowledged, or when
  // every peer answered or failed, with the number that acknowledged. A
  // peer that applied the records but did not vouch for them does not count.
  // Peers that are down, fail, or have max_queued_per_peer records waiting
  // get the records as hints, replayed when they answer again.
  void Replicate(uint32_t partition,
                 std::vector<internal::SessionRecord> records, int acks_wanted,
                 std::function<void(int acks)> done);
  // Queues a touch (last_access of a session) for lazy replication to the
  // partition's other replicas, every touch_flush_interval_ms, with no
  // acknowledgement. Touches for a peer that cannot be reached are dropped:
  // a restarting node's catch-up and read repair carry last_access.
  void ReplicateTouch(uint32_t partition, const std::string& raw_id,
                      int64_t last_access_ms);

  // Reads other live replicas' copies of a session (read repair). done gets
  // the merge of what answered within the deadline (empty record if none)
  // and how many replicas answered.
  void ReadFromReplicas(
      uint32_t partition, const std::string& raw_id,
      std::function<void(internal::SessionRecord, int answered)> done);

  PeerTransport* transport() const { return transport_; }

  // Test-only fault injection: while isolated, this node sends no peer
  // traffic and its peer service refuses every call, as if a network
  // partition cut it off; clients still reach it.
  void SetIsolatedForTesting(bool isolated) { isolated_.store(isolated); }
  bool isolated() const { return isolated_.load(); }

  // Hints held for all peers.
  int64_t HintsQueued() const;
  // Writes queued for a peer and not yet sent: their records, and how long
  // the oldest has waited (monotonic ms; 0 when none waits).
  struct Backlog {
    int64_t records = 0;
    int64_t oldest_wait_ms = 0;
  };
  Backlog BacklogFor(int node) const;
  // Empty unless a peer runs another membership (--peers differs) or
  // refuses this node.
  std::string membership_error() const;
  // A peer (heartbeat sender or receiver) runs membership `epoch`: if it is
  // not ours, logs MEMBERSHIP MISMATCH and records it.
  void CheckPeerEpoch(const std::string& peer_id, uint64_t epoch);

 private:
  struct PeerState;

  // Logs and records a membership error (once per distinct message).
  void ReportMembershipError(const std::string& error);

  Cluster(const ClusterOptions& options, PlacementMap placement,
          std::optional<PlacementMap> pending, int self_index,
          PeerTransport* transport, HintStore* hints, Clock* steady);
  // Replicas of `partition` in the pending map that do not hold it now.
  std::vector<int> PendingOnly(uint32_t partition) const;
  // wait_for_connection: the peer reached us, so our connection to it is
  // worth waiting for (it is being re-established).
  void HeartbeatTo(int node, bool wait_for_connection = false);
  void OnHeartbeatAnswer(int node, bool serving, int64_t sent_ms,
                         const absl::Status& status,
                         const internal::HeartbeatResponse& response);
  // Sends queued records to one peer in Apply calls: writes waiting for
  // acks up to max_applies_in_flight at a time, and (`lazy`) touch flushes
  // and hint replays one at a time apart from them, so that a flush of
  // thousands of touches never holds up a write.
  void Pump(int node, bool lazy = false);
  // Keeps records for a peer; false if they could not all be kept.
  bool AddHints(int node, const std::vector<internal::SessionRecord>& records);
  // Brackets every transport call: CallDone() is the last thing its
  // callback does.
  void CallStarted();
  void CallDone();

  // Constant after construction.
  const ClusterOptions options_;
  const PlacementMap placement_;
  const std::optional<PlacementMap> pending_;
  const int self_index_;
  PeerTransport* const transport_;
  HintStore* const hints_;
  Clock* const steady_;
  // Orders this node's heartbeats (HeartbeatRequest.incarnation, and
  // heartbeat_sequence_): the wall-clock ms of its construction.
  const int64_t incarnation_;
  std::vector<std::string> addresses_;
  std::vector<std::unique_ptr<PeerState>> peers_;
  // The epoch of each peer's last heartbeat answer.
  std::vector<std::atomic<uint64_t>> peer_epochs_;
  // hints_for_you of each peer's last heartbeat answer of this epoch.
  std::vector<std::atomic<int64_t>> owed_to_me_;
  // Monotonic ms of this object's creation, and of the first time every
  // up peer was seen at this epoch (0: not yet); LeasesFenced once set.
  int64_t created_ms_ = 0;
  bool leaving_ = false;
  std::vector<bool> leaving_nodes_;
  // IsHolder of each node, from options_.holders.
  std::vector<bool> holder_nodes_;
  mutable std::atomic<int64_t> peers_reached_ms_{0};
  mutable std::atomic<bool> fenced_{false};

  Leases leases_;
  FailureDetector detector_;
  std::atomic<bool> serving_{false};
  std::atomic<bool> isolated_{false};
  mutable absl::Mutex membership_mu_;
  std::string membership_error_ ABSL_GUARDED_BY(membership_mu_);
  // Serializes a vouch (the check and its hint) with a heartbeat's answer.
  absl::Mutex vouch_mu_;
  std::atomic<uint64_t> heartbeat_sequence_{0};
  absl::Mutex calls_mu_;
  int calls_in_flight_ ABSL_GUARDED_BY(calls_mu_) = 0;
  absl::Notification stop_;
  std::atomic<bool> started_{false};
  std::thread heartbeat_thread_;
  std::thread flush_thread_;
};

}  // namespace sesh

#endif  // SESH_REPLICATION_CLUSTER_H_
