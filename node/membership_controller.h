// Managed membership on a node (--etcd): registers it in etcd, installs a
// generation (node/generation.h) for every membership epoch it sees, runs
// the hand-off of the partitions it gains, moves the change under way
// forward in etcd, and deletes the data of partitions moved away.
// docs/scaling.md gives the protocol.

#ifndef SESH_NODE_MEMBERSHIP_CONTROLLER_H_
#define SESH_NODE_MEMBERSHIP_CONTROLLER_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "node/etcd_membership.h"
#include "node/generation.h"
#include "node/service_proxies.h"
#include "node/session_store.h"
#include "replication/handoff.h"
#include "replication/hint_store.h"
#include "sesh/v1/cluster.pb.h"

namespace sesh {

struct MembershipControllerOptions {
  // Bytes per second a hand-off fetches at most (0: unbounded).
  int64_t handoff_max_bytes_per_s = 32 << 20;
  // Data of partitions this node no longer holds is deleted this long
  // after the change settled (nodes still on the previous epoch may read
  // it meanwhile).
  int64_t orphan_delay_ms = 30000;
  // Partitions the orphan sweep looks at per step (a step every 250 ms).
  uint32_t orphan_partitions_per_step = 8192;
  // A replaced generation is kept this long for the calls that started
  // on it.
  int64_t retire_after_ms = 60000;
};

class MembershipController {
 public:
  // Builds a generation for a membership (not started).
  using BuildFn = std::function<absl::StatusOr<std::shared_ptr<Generation>>(
      const Membership&)>;

  // All pointers outlive the controller. `on_removed` runs once when this
  // node is no longer a member (it left, or its join was rolled back).
  MembershipController(EtcdMembership* etcd, CurrentGeneration* current,
                       SessionStore* store, HintStore* hints, BuildFn build,
                       MembershipControllerOptions options,
                       std::function<void()> on_removed);
  ~MembershipController();

  // Registers this node and installs the generation of the membership
  // that includes it (its Cluster started, not yet serving).
  absl::StatusOr<Membership> Start(int64_t register_timeout_ms);
  // Starts following etcd: the watch and the control thread.
  void Run();
  // Stops the control thread and any hand-off.
  void Stop();

  // Something may have changed: step soon (a watch event, a peer on a
  // newer epoch). Never blocks.
  void Poke();

  void Stats(v1::MembershipStats* stats) const;
  absl::StatusOr<uint64_t> Decommission(const std::string& node_id);

 private:
  void Loop();
  // One round: fetch, install a new epoch, hand-off, advance, orphans.
  void Step();
  void Install(const Membership& membership);
  void MaybeStartHandoff(const std::shared_ptr<Generation>& generation);
  void StopHandoff();
  void DropOrphansStep(const std::shared_ptr<Generation>& generation);

  EtcdMembership* const etcd_;
  CurrentGeneration* const current_;
  SessionStore* const store_;
  HintStore* const hints_;
  const BuildFn build_;
  const MembershipControllerOptions options_;
  const std::function<void()> on_removed_;

  mutable absl::Mutex mu_;
  bool poked_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  Membership seen_ ABSL_GUARDED_BY(mu_);
  std::string etcd_error_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<Handoff> handoff_ ABSL_GUARDED_BY(mu_);
  uint64_t handoff_reported_ ABSL_GUARDED_BY(mu_) = 0;

  // Control thread only.
  std::thread handoff_thread_;
  std::deque<std::pair<int64_t, std::shared_ptr<Generation>>> retired_;
  // Nodes no longer members, until when their hints are dropped.
  std::map<std::string, int64_t> departed_;
  uint64_t orphans_epoch_ = 0;
  int64_t orphans_due_ms_ = 0;
  uint32_t orphans_next_ = 0;
  int64_t orphans_dropped_ = 0;
  bool removed_ = false;
  int64_t removed_ms_ = 0;
  bool removed_reported_ = false;
  std::thread thread_;
};

}  // namespace sesh

#endif  // SESH_NODE_MEMBERSHIP_CONTROLLER_H_
