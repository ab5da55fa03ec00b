#ifndef SESH_REPLICATION_CLUSTER_H_
#define SESH_REPLICATION_CLUSTER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "replication/placement.h"
#include "sesh/internal/peer.grpc.pb.h"
#include "sesh/internal/record.pb.h"
#include "sesh/v1/sessions.grpc.pb.h"

namespace sesh {

struct PeerSpec {
  std::string id;
  // host:port of the node's gRPC endpoint (public and peer services).
  std::string address;
};

// Parses --peers: "id=host:port,id=host:port,...". Ids must be distinct and
// non-empty. INVALID_ARGUMENT naming the bad entry otherwise.
absl::StatusOr<std::vector<PeerSpec>> ParsePeers(absl::string_view spec);

struct ClusterOptions {
  std::string self_id;
  // Every node of the cluster, this one included, the same list on every
  // node.
  std::vector<PeerSpec> peers;
  int replication_factor = 3;
  int64_t heartbeat_interval_ms = 200;
  // A peer that has not answered a heartbeat for this long is down.
  int64_t failure_timeout_ms = 800;
  // Deadline of one replication call to a peer.
  int64_t replicate_timeout_ms = 1000;
  // Touches are sent to replicas in batches at this interval (lazy
  // replication of sliding expiry); see touch staleness in DESIGN §5.
  int64_t touch_flush_interval_ms = 100;
  // Records per Apply call.
  int max_apply_batch = 256;
  // Apply calls in flight to one peer; more queue and leave together. One
  // lets the next batch fill while a call is out: on the 2-core benchmark
  // machine, update-only throughput at QUORUM was 5.2k and 6.3k/s with 1
  // against 4.8k and 5.0k/s with 4 (alternating runs, 20000 sessions).
  int max_applies_in_flight = 1;
  // Sessions kept as hints for one down peer (about 1 KB each). Past this,
  // new hints are dropped, with a log line: a node that restarts pulls every
  // partition it holds from its peers before serving, so it loses nothing;
  // a node that was only cut off (never restarted) keeps stale copies of the
  // dropped sessions until a failover coordinator's read repair or a restart.
  int64_t max_hints_per_peer = 1000000;
  // Called (once per distinct problem) when a peer turns out to run another
  // membership; the node turns its cluster health to NOT_SERVING.
  std::function<void(const std::string& error)> on_membership_error;
};

// The multi-node view of one node: membership and placement, peer channels,
// the failure detector (heartbeats), and replication of session states to
// the other replicas with hinted handoff for peers that are down.
//
// Thread-safe. Callbacks passed in run on gRPC threads or on the cluster's
// own threads; they must not block.
class Cluster {
 public:
  // Builds placement from options.peers. INVALID_ARGUMENT if self_id is not
  // among the peers, the peer list is invalid, or failure_timeout_ms is not
  // more than twice heartbeat_interval_ms.
  static absl::StatusOr<std::unique_ptr<Cluster>> Create(
      const ClusterOptions& options);
  ~Cluster();

  // Sets the address advertised for this node (a single node listening on
  // port 0 learns its port after binding). Call before Start().
  void SetSelfAddress(std::string address) {
    addresses_[self_index_] = std::move(address);
  }

  // Starts heartbeats and the hint / touch senders.
  void Start();
  // Stops them and waits for the threads. Idempotent.
  void Stop();

  const PlacementMap& placement() const { return placement_; }
  int self_index() const { return self_index_; }
  uint64_t epoch() const { return placement_.epoch(); }
  const std::string& self_id() const { return options_.self_id; }
  const ClusterOptions& options() const { return options_; }
  const std::string& address(int node) const { return addresses_[node]; }
  int node_count() const { return static_cast<int>(addresses_.size()); }

  // As seen by the failure detector: its heartbeats arrived within
  // failure_timeout_ms, it answers ours, no call to it has failed since its
  // last answer, its address has not refused connections since its last
  // heartbeat, and it is serving (caught up). This node is up once it is
  // serving.
  bool IsUp(int node) const;
  // Marks a peer down at once (a call to it failed as unreachable).
  void MarkSuspect(int node);

  // Read leases (DESIGN §5, read-your-writes across failover).
  //
  // A partition's primary answers reads from its own copy alone, with no
  // other replica asked, only while it holds a read lease: enough of the
  // other replicas acknowledged one of its heartbeats recently, with no
  // hint for it outstanding, that every QUORUM of replicas without the
  // primary includes one of them. A replica promises not to vouch for a
  // write of the partition (count its copy towards the write's durability)
  // unless the write comes from the primary or the primary has been silent
  // for vouch_after_ms(); a lease lasts lease_ms() < vouch_after_ms() from
  // the heartbeat's sending. So while the primary holds its lease no write
  // can be acknowledged without it. A replica that vouches for a write the
  // primary has not seen keeps it as a hint for the primary, and the
  // primary's lease resumes only once those hints have reached it.
  //
  // A peer's heartbeat arrived (the Heartbeat handler calls this).
  void HeardFrom(const std::string& node_id, bool serving);
  // This node may count its own copy of `records` (all of `partition`)
  // towards a write's durability: it is the partition's primary, or the
  // primary is silent. In the second case the records are kept as hints
  // for the primary.
  bool VouchFor(uint32_t partition,
                const std::vector<internal::SessionRecord>& records);
  // This node is the partition's primary and holds its read lease: it may
  // answer a read from its own copy alone.
  bool HasReadLease(uint32_t partition) const;
  // Other replicas of the partition that, with any one replica, include a
  // member of every QUORUM of its replicas: the lease holders a primary
  // needs, and the answers a read repair needs.
  int OthersCoveringQuorum(uint32_t partition) const {
    return static_cast<int>(placement_.Replicas(partition).size()) -
           AcksNeeded(partition, v1::QUORUM);
  }
  // Records held for the peer `node_id` and not yet applied by it: its
  // hints and hint replays in flight.
  int64_t HintsFor(const std::string& node_id) const;
  int64_t vouch_after_ms() const {
    return options_.failure_timeout_ms - options_.heartbeat_interval_ms / 2;
  }
  int64_t lease_ms() const { return vouch_after_ms() * 9 / 10; }
  // This node's own serving state (false while catching up after start).
  void SetServing(bool serving) { serving_.store(serving); }
  bool serving() const { return serving_.load(); }

  // The first up node of the partition's preference list, or -1.
  int Coordinator(uint32_t partition) const;
  // Replicas that are up, in preference order.
  std::vector<int> LiveReplicas(uint32_t partition) const;
  // Acks (this node's own write included) a write needs at a durability,
  // for this partition's replica count.
  int AcksNeeded(uint32_t partition, v1::Durability durability) const;

  v1::Sessions::Stub* SessionsStub(int node) const;
  internal::Peer::Stub* PeerStub(int node) const;

  // Sends the records (all of one partition) to the partition's other
  // replicas. done(acks) runs once `acks_wanted` peers acknowledged, or when
  // every peer answered or failed, with the number that acknowledged. A
  // peer that applied the records but did not vouch for them (see
  // VouchFor) does not count as an acknowledgement.
  // Peers that are down or fail get the records as hints, replayed when they
  // come back.
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

  // Test-only fault injection: while isolated, this node sends no peer
  // traffic and its peer service refuses every call, as if a network
  // partition cut it off; clients still reach it.
  void SetIsolatedForTesting(bool isolated) { isolated_.store(isolated); }
  bool isolated() const { return isolated_.load(); }

  // Records queued for down peers.
  int64_t HintsQueued() const;
  // Empty unless a peer runs another membership (--peers differs).
  std::string membership_error() const;
  // A peer (heartbeat sender or receiver) runs membership `epoch`: if it is
  // not ours, logs MEMBERSHIP MISMATCH and records it.
  void CheckPeerEpoch(const std::string& peer_id, uint64_t epoch);

 private:
  struct PeerState;

  Cluster(const ClusterOptions& options, PlacementMap placement,
          int self_index);
  void HeartbeatLoop();
  void FlushLoop();
  // Sends queued records to one peer in Apply calls: writes waiting for
  // acks up to max_applies_in_flight at a time, and (`lazy`) touch flushes
  // and hint replays one at a time apart from them, so that a flush of
  // thousands of touches never holds up a write.
  void Pump(int node, bool lazy = false);
  void AddHints(int node, const std::vector<internal::SessionRecord>& records);
  // No heartbeat from the peer for vouch_after_ms() (monotonic `now`;
  // counted from this node's start if none yet), or its last one said it
  // was not serving.
  bool Silent(int node, int64_t now) const;

  // Constant after construction.
  const ClusterOptions options_;
  const PlacementMap placement_;
  const int self_index_;
  // Monotonic ms at construction (see Silent()).
  const int64_t created_ms_;
  std::vector<std::string> addresses_;
  std::vector<std::unique_ptr<PeerState>> peers_;

  std::atomic<bool> serving_{false};
  std::atomic<bool> isolated_{false};
  mutable absl::Mutex membership_mu_;
  std::string membership_error_ ABSL_GUARDED_BY(membership_mu_);
  absl::Notification stop_;
  std::atomic<bool> started_{false};
  std::thread heartbeat_thread_;
  std::thread flush_thread_;
};

}  // namespace sesh

#endif  // SESH_REPLICATION_CLUSTER_H_
