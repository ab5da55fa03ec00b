// Routing: the installed topology (nodes, their liveness, and the placement
// computed from them), the nodes a call may go to, best first, and keeping
// the topology fresh. The client fetches the first topology itself
// (Install); from then on any answer with another membership epoch, or a
// node that does not answer, leads to a refetch through the FetchFn.

#ifndef SESH_CLIENT_INTERNAL_ROUTER_H_
#define SESH_CLIENT_INTERNAL_ROUTER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "client/internal/node_conn.h"
#include "client/internal/scheduler.h"
#include "replication/placement.h"
#include "sesh/v1/cluster.pb.h"

namespace sesh {
namespace client_internal {

struct NodeEntry {
  std::string id;
  bool up = false;
  NodeConn* conn = nullptr;  // owned by the Router
};

// An installed topology; immutable, shared by the calls routed by it.
struct RoutingTable {
  uint64_t epoch = 0;  // as the answering node reported it
  std::shared_ptr<const PlacementMap> placement;
  std::vector<NodeEntry> nodes;  // same order as placement->nodes()
  bool any_down = false;
  absl::Time fetched_at;
};

// Where a call may go.
struct Route {
  enum class Kind {
    kSession,    // the preference list of `partition`
    kAnyNode,    // any node, round-robin over the healthy ones
    kOneNode,    // node `node_id` only
    kBootstrap,  // any known node, then the seeds
  };
  Kind kind = Kind::kAnyNode;
  uint32_t partition = 0;
  std::string node_id;

  static Route Session(uint32_t partition) {
    Route r;
    r.kind = Kind::kSession;
    r.partition = partition;
    return r;
  }
  static Route Of(Kind kind) {
    Route r;
    r.kind = kind;
    return r;
  }
};

// Thread-safe.
class Router {
 public:
  // How a refresh ends: `response` is read only if `status` is OK.
  using FetchDone = std::function<void(absl::Status status,
                                       const v1::TopologyResponse& response)>;
  // Fetches a topology for a refresh (the client's Topology call, routed
  // kBootstrap and retried) and calls `done` exactly once, possibly inline.
  using FetchFn = std::function<void(FetchDone done)>;
  // Readies a new connection before anything else can see it.
  using NewConnFn = std::function<void(NodeConn* conn)>;

  // `scheduler` runs the delayed refreshes; it must outlive the Router, and
  // the Router its pending timers (stop the scheduler first). Every
  // connection is made with `channel_config`.
  Router(std::vector<std::string> seeds,
         std::shared_ptr<const ChannelConfig> channel_config,
         Scheduler* scheduler, NewConnFn new_conn, FetchFn fetch);

  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  // The installed topology; null until the first Install.
  std::shared_ptr<const RoutingTable> Snapshot();

  // The connection to `address`, made on first use. Connections are never
  // dropped (a departed node's channel just goes idle), so the pointer stays
  // valid for the Router's lifetime.
  NodeConn* Conn(const std::string& address);
  // Calls `fn` on every connection, with the Router's lock held: `fn` must
  // not call back into the Router.
  void ForEachConn(const std::function<void(NodeConn*)>& fn);

  // Nodes to try for `route`, best first: healthy (up and not suspect) ones
  // in preference order, then the others. While a node is marked down, a
  // call now and then starts a refresh, so that a node that came back is
  // used again.
  std::vector<NodeConn*> Candidates(const Route& route);

  // Routes by `response` from now on. Errors: those of PlacementMap::Build
  // (the topology is then not installed). A placement that disagrees with
  // the node's epoch or partition count is only logged: nodes forward
  // misrouted calls.
  absl::Status Install(const v1::TopologyResponse& response);

  // Starts a refresh, or schedules one (refreshes start at most every
  // 100 ms). `observed_epoch`: an epoch a node answered with; nullopt: a node
  // did not answer. A known epoch change is never dropped; a no-op before
  // the first Install.
  void RequestRefresh(std::optional<uint64_t> observed_epoch);
  // An epoch a node answered with: refreshes the topology if it is not ours.
  void NoteEpoch(uint64_t epoch);

 private:
  NodeConn* ConnFor(const std::string& address)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void OnRefreshTimer();
  void StartRefresh();
  void OnRefreshDone(absl::Status status, const v1::TopologyResponse& response);

  // Constant after construction.
  const std::vector<std::string> seeds_;
  const std::shared_ptr<const ChannelConfig> channel_config_;
  Scheduler* const scheduler_;
  const NewConnFn new_conn_;
  const FetchFn fetch_;

  std::atomic<uint64_t> round_robin_{0};

  absl::Mutex mu_;
  // Protected by mu_.
  // By address. Never shrinks, so NodeConn pointers stay valid.
  std::map<std::string, std::unique_ptr<NodeConn>> conns_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<const RoutingTable> topology_ ABSL_GUARDED_BY(mu_);
  bool refresh_in_flight_ ABSL_GUARDED_BY(mu_) = false;
  bool refresh_scheduled_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time next_refresh_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  // An epoch a node answered with that the installed topology does not have.
  std::optional<uint64_t> wanted_epoch_ ABSL_GUARDED_BY(mu_);
  // Mirror of topology_->epoch for the per-answer check, without mu_.
  std::atomic<uint64_t> epoch_{0};
};

}  // namespace client_internal
}  // namespace sesh

#endif  // SESH_CLIENT_INTERNAL_ROUTER_H_
