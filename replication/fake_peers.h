#ifndef SESH_REPLICATION_FAKE_PEERS_H_
#define SESH_REPLICATION_FAKE_PEERS_H_

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "replication/clock.h"
#include "replication/cluster.h"
#include "replication/hint_store.h"
#include "replication/peer_transport.h"
#include "replication/replica.h"
#include "replication/replica_store.h"

namespace sesh {
namespace testing {

// A ReplicaStore in a std::map, merging with replication/merge.h.
class MapStore final : public ReplicaStore {
 public:
  absl::StatusOr<internal::SessionRecord> Merge(
      const internal::SessionRecord& incoming) override;
  absl::Status MergeTouch(absl::string_view raw_id,
                          int64_t last_access_ms) override;
  absl::StatusOr<std::optional<internal::SessionRecord>> ReadRaw(
      absl::string_view raw_id) override;
  absl::Status ForEachInPartitions(
      uint32_t first, uint32_t last, absl::string_view after_key,
      const std::function<bool(const std::string& key,
                               const internal::SessionRecord&)>& fn) override;

 private:
  absl::Mutex mu_;
  // By (partition, raw id), the order of storage keys.
  std::map<std::pair<uint32_t, std::string>, internal::SessionRecord> records_
      ABSL_GUARDED_BY(mu_);
};

// Several nodes' replication cores (Cluster, Replica, MapStore) joined by an
// in-memory transport, with one fake monotonic clock. Messages wait in a
// queue until the test delivers them, so every interleaving is the test's
// choice; nothing runs on its own thread.
class FakePeers {
 public:
  // Nodes "n1".."n<count>" at replication factor `rf`, each serving, their
  // hints in RocksDB under `dir`.
  FakePeers(int count, int rf, const std::string& dir,
            int64_t start_ms = 1'000'000,
            const ClusterOptions& base = ClusterOptions());
  ~FakePeers();

  int size() const { return static_cast<int>(nodes_.size()); }
  Cluster& cluster(int node) { return *nodes_[node]->cluster; }
  MapStore& store(int node) { return nodes_[node]->store; }
  FakeClock& clock() { return clock_; }
  const PlacementMap& placement() { return nodes_[0]->cluster->placement(); }

  // A raw id whose partition's primary is `node`.
  std::string IdWithPrimary(int node);

  // Replaces a node's replication core by a fresh one over the same store
  // and reopened hint store, as a process restart would (deliver pending
  // messages first). The new core serves at once.
  void Restart(int node);
  // Every node sends one heartbeat round; delivers every message.
  void Heartbeats();
  // Delivers queued messages (and those they cause) until none is left.
  // Returns how many were delivered.
  int DeliverAll();
  // A node that is down: calls to it fail at once with UNAVAILABLE and its
  // address refuses connections; it sends nothing.
  void SetDown(int node, bool down);
  // Calls to `node` time out (DEADLINE_EXCEEDED), as to a frozen process.
  void SetFrozen(int node, bool frozen);
  // Messages of each kind sent to `node` so far: the peer call's name
  // ("Apply", "Read", "Heartbeat", "Fetch", "Digests", ...).
  int Sent(int node, const std::string& kind);

 private:
  class Transport;
  struct Node {
    MapStore store;
    std::unique_ptr<HintStore> hints;
    std::unique_ptr<Transport> transport;
    std::unique_ptr<Cluster> cluster;
    std::unique_ptr<Replica> replica;
  };
  struct Message {
    int to;
    std::string kind;
    // Runs the receiver's handler and the sender's callback.
    std::function<void(bool delivered, bool timed_out)> run;
  };
  void Enqueue(Message message);
  void StartCore(int node);

  std::string dir_;
  ClusterOptions options_;
  FakeClock clock_;
  std::vector<std::unique_ptr<Node>> nodes_;
  absl::Mutex mu_;
  std::deque<Message> queue_ ABSL_GUARDED_BY(mu_);
  std::set<int> down_ ABSL_GUARDED_BY(mu_);
  std::set<int> frozen_ ABSL_GUARDED_BY(mu_);
  std::map<std::pair<int, std::string>, int> sent_ ABSL_GUARDED_BY(mu_);
};

}  // namespace testing
}  // namespace sesh

#endif  // SESH_REPLICATION_FAKE_PEERS_H_
