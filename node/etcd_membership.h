// The node's side of managed membership in etcd (docs/scaling.md): reads
// and changes the cluster's member record with compare-and-swap
// transactions, keeps this node's liveness key alive under a lease, records
// finished hand-offs, and watches the cluster's prefix.
//
// Keys, under the prefix /sesh/<cluster>/:
//   members        a MembershipRecord; its mod_revision is the epoch
//   alive/<id>     present while node <id> runs (bound to its lease)
//   handoff/<id>   the epoch at which <id> finished fetching the
//                  partitions it gains (decimal)

#ifndef SESH_NODE_ETCD_MEMBERSHIP_H_
#define SESH_NODE_ETCD_MEMBERSHIP_H_

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "etcd/rpc.grpc.pb.h"
#include "replication/managed_membership.h"
#include "replication/membership.h"

namespace sesh {

struct EtcdMembershipOptions {
  // host:port of etcd's client URLs (plaintext gRPC); tried in turn.
  std::vector<std::string> endpoints;
  // Keys live under /sesh/<cluster>/.
  std::string cluster = "default";
  // This node.
  PeerSpec self;
  // Of a cluster this node founds.
  int replication_factor = 3;
  // TTL of the liveness lease, in seconds; kept alive every third of it.
  int64_t lease_ttl_s = 6;
  // Deadline of one etcd call.
  int64_t call_timeout_ms = 3000;
};

// Thread-safe.
class EtcdMembership {
 public:
  explicit EtcdMembership(EtcdMembershipOptions options);
  // Stops the watch and keep-alive threads and revokes the lease (best
  // effort: a node killed with -9 leaves it to expire).
  ~EtcdMembership();

  EtcdMembership(const EtcdMembership&) = delete;
  EtcdMembership& operator=(const EtcdMembership&) = delete;

  // The member record and its epoch. NOT_FOUND if no cluster was founded
  // yet; UNAVAILABLE if no endpoint answers.
  absl::StatusOr<Membership> Fetch();

  // Grants the lease, puts alive/<self> under it and starts keeping it
  // alive (a lease that lapses, as across a long etcd outage, is granted
  // anew). Then makes this node a member: founds the cluster if there is
  // none; if this node is a member already (a restart) changes nothing;
  // otherwise adds it as JOINING, waiting (up to timeout_ms) while another
  // change is under way. Returns the membership that includes this node.
  absl::StatusOr<Membership> Register(int64_t timeout_ms);

  // Marks member `id` LEAVING (compare-and-swap, retried on a concurrent
  // change). Errors as WithLeaving, or UNAVAILABLE.
  absl::StatusOr<Membership> Decommission(const std::string& id);

  // Records that this node has fetched what it gains at `epoch`.
  absl::Status ReportHandoff(uint64_t epoch);

  // One step of the change under way in `seen` (the latest Fetch):
  //  - a JOINING member whose alive key is gone is rolled back (removed);
  //  - otherwise, once every node id in `gainers` has reported a hand-off
  //    at seen.epoch, the change settles (Settled).
  // Both are compare-and-swap on seen.epoch: of several nodes trying, one
  // succeeds and the others see the new epoch. Returns true if this call
  // changed the record.
  absl::StatusOr<bool> Advance(const Membership& seen,
                               const std::vector<std::string>& gainers);

  // Starts a thread that watches the prefix and calls `changed` after each
  // batch of events, and after (re)connecting (a change may have been
  // missed meanwhile). `changed` must not block for long. Call once.
  void Watch(std::function<void()> changed);

  // The etcd endpoint that answered last, for logs and status.
  std::string endpoint() const;

 private:
  // One etcd endpoint: its channel and stubs (immutable after construction).
  struct Endpoint {
    std::string address;
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<etcdserverpb::KV::Stub> kv;
    std::unique_ptr<etcdserverpb::Lease::Stub> lease;
    std::unique_ptr<etcdserverpb::Watch::Stub> watch;
  };
  // One etcd call on one endpoint, under `context` (deadline set).
  using Call = std::function<grpc::Status(Endpoint& endpoint,
                                          grpc::ClientContext* context)>;

  std::string Key(const std::string& suffix) const;
  // Runs `call` against the endpoints in turn, starting from the one that
  // answered last, until one answers (a status that is not UNAVAILABLE or
  // DEADLINE_EXCEEDED), at most once each; every try has a deadline of
  // timeout_ms (options.call_timeout_ms when 0). `what` names the call in
  // errors. UNAVAILABLE (naming each endpoint's error) if none answers.
  absl::Status OnAnyEndpoint(const std::string& what, const Call& call,
                             int64_t timeout_ms = 0);
  // The keys under Key(suffix) (a prefix), by the rest of their name.
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ReadPrefix(
      const std::string& suffix);
  // Compare-and-swap of the members key from `seen` (epoch 0: must not
  // exist) to `next`; ABORTED if it changed since (re-Fetch and retry).
  absl::StatusOr<Membership> Swap(uint64_t seen_epoch,
                                  const internal::MembershipRecord& next);
  // Grants a new lease and puts alive/<self> under it.
  absl::Status GrantLease();
  // One keep-alive of the lease; grants a new one if it has lapsed.
  absl::Status KeepAlive();
  void KeepAliveLoop();
  void WatchLoop();
  // Registers a call's context so that the destructor can cancel it; one
  // registered while stopping is cancelled at once.
  void AddContext(grpc::ClientContext* context);
  void RemoveContext(grpc::ClientContext* context);

  const EtcdMembershipOptions options_;
  std::vector<Endpoint> endpoints_;
  // Index into endpoints_ of the one that answered last.
  std::atomic<size_t> current_{0};

  // Notified by the destructor: the threads stop.
  absl::Notification stop_;
  // Serializes Register's lease setup.
  absl::Mutex register_mu_;

  mutable absl::Mutex mu_;
  // The lease alive/<self> is bound to; 0 before Register or once lapsed.
  int64_t lease_id_ ABSL_GUARDED_BY(mu_) = 0;
  // Calls in flight, cancelled by the destructor.
  std::vector<grpc::ClientContext*> contexts_ ABSL_GUARDED_BY(mu_);
  bool cancelling_ ABSL_GUARDED_BY(mu_) = false;
  bool keep_alive_started_ ABSL_GUARDED_BY(mu_) = false;
  bool watch_started_ ABSL_GUARDED_BY(mu_) = false;

  std::function<void()> changed_;
  std::thread keep_alive_thread_;
  std::thread watch_thread_;
};

}  // namespace sesh

#endif  // SESH_NODE_ETCD_MEMBERSHIP_H_
