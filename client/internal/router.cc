#include "client/internal/router.h"

#include <grpc/support/log.h>

#include <algorithm>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/types/span.h"

namespace sesh {
namespace client_internal {
namespace {

// Topology refreshes start at most this often.
constexpr absl::Duration kMinRefreshInterval = absl::Milliseconds(100);
// While the topology marks a node down, recheck it this often, so that a
// node that came back is used again.
constexpr absl::Duration kDownNodeRecheck = absl::Seconds(5);

}  // namespace

Router::Router(std::vector<std::string> seeds,
               std::shared_ptr<const ChannelConfig> channel_config,
               Scheduler* scheduler, NewConnFn new_conn, FetchFn fetch)
    : seeds_(std::move(seeds)),
      channel_config_(std::move(channel_config)),
      scheduler_(scheduler),
      new_conn_(std::move(new_conn)),
      fetch_(std::move(fetch)) {}

std::shared_ptr<const RoutingTable> Router::Snapshot() {
  absl::MutexLock lock(&mu_);
  return topology_;
}

NodeConn* Router::Conn(const std::string& address) {
  absl::MutexLock lock(&mu_);
  return ConnFor(address);
}

void Router::ForEachConn(const std::function<void(NodeConn*)>& fn) {
  absl::MutexLock lock(&mu_);
  for (auto& [address, conn] : conns_) fn(conn.get());
}

NodeConn* Router::ConnFor(const std::string& address) {
  std::unique_ptr<NodeConn>& conn = conns_[address];
  if (conn == nullptr) {
    conn = std::make_unique<NodeConn>(address, channel_config_);
    if (new_conn_) new_conn_(conn.get());
  }
  return conn.get();
}

std::vector<NodeConn*> Router::Candidates(const Route& route) {
  std::shared_ptr<const RoutingTable> topo = Snapshot();
  const absl::Time now = absl::Now();
  std::vector<NodeConn*> healthy, unhealthy;
  auto add = [&](const NodeEntry& e) {
    (e.up && !e.conn->Suspect(now) ? healthy : unhealthy).push_back(e.conn);
  };
  if (topo != nullptr) {
    if (topo->any_down && now >= topo->fetched_at + kDownNodeRecheck) {
      RequestRefresh(std::nullopt);
    }
    switch (route.kind) {
      case Route::Kind::kSession: {
        absl::Span<const uint8_t> replicas =
            topo->placement->Replicas(route.partition);
        for (uint8_t idx : replicas) add(topo->nodes[idx]);
        // Non-replicas forward to a live replica: better than a suspect one.
        for (size_t i = 0; i < topo->nodes.size(); ++i) {
          const NodeEntry& e = topo->nodes[i];
          if (std::find(replicas.begin(), replicas.end(), i) ==
                  replicas.end() &&
              e.up && !e.conn->Suspect(now)) {
            healthy.push_back(e.conn);
          }
        }
        break;
      }
      case Route::Kind::kAnyNode:
      case Route::Kind::kBootstrap:
        for (const NodeEntry& e : topo->nodes) add(e);
        if (route.kind == Route::Kind::kAnyNode && !healthy.empty()) {
          std::rotate(
              healthy.begin(),
              healthy.begin() + round_robin_.fetch_add(1) % healthy.size(),
              healthy.end());
        }
        break;
      case Route::Kind::kOneNode:
        for (const NodeEntry& e : topo->nodes) {
          if (e.id == route.node_id) add(e);
        }
        break;
    }
  }
  healthy.insert(healthy.end(), unhealthy.begin(), unhealthy.end());
  if (route.kind == Route::Kind::kBootstrap) {
    absl::MutexLock lock(&mu_);
    for (const std::string& seed : seeds_) {
      NodeConn* conn = ConnFor(seed);
      if (std::find(healthy.begin(), healthy.end(), conn) == healthy.end()) {
        healthy.push_back(conn);
      }
    }
  }
  return healthy;
}

absl::Status Router::Install(const v1::TopologyResponse& response) {
  std::vector<std::string> ids;
  std::map<std::string, const v1::Node*> by_id;
  for (const v1::Node& n : response.nodes()) {
    ids.push_back(n.id());
    by_id[n.id()] = &n;
  }
  std::shared_ptr<const RoutingTable> old = Snapshot();
  std::shared_ptr<const PlacementMap> placement;
  std::vector<std::string> sorted_ids(ids);
  std::sort(sorted_ids.begin(), sorted_ids.end());
  if (response.managed()) {
    // Managed membership: the epoch names the change, holders the nodes
    // with data.
    if (old != nullptr && old->placement->epoch() == response.epoch() &&
        old->placement->nodes() == sorted_ids) {
      placement = old->placement;
    } else {
      std::vector<std::string> holders(response.holders().begin(),
                                       response.holders().end());
      absl::StatusOr<PlacementMap> built = PlacementMap::Build(
          ids, static_cast<int>(response.replication_factor()),
          holders.empty() ? ids : holders, response.epoch());
      if (!built.ok()) {
        return absl::Status(
            built.status().code(),
            absl::StrCat("topology from node ", response.self_id(), ": ",
                         built.status().message()));
      }
      placement = std::make_shared<const PlacementMap>(*std::move(built));
    }
  } else if (old != nullptr && old->placement->nodes() == sorted_ids &&
             old->placement->replication_factor() ==
                 std::min<int>(static_cast<int>(response.replication_factor()),
                               static_cast<int>(ids.size()))) {
    placement = old->placement;  // same membership: only liveness changed
  } else {
    absl::StatusOr<PlacementMap> built = PlacementMap::Build(
        ids, static_cast<int>(response.replication_factor()));
    if (!built.ok()) {
      return absl::Status(
          built.status().code(),
          absl::StrCat("topology from node ", response.self_id(), ": ",
                       built.status().message()));
    }
    placement = std::make_shared<const PlacementMap>(*std::move(built));
  }
  if (placement->epoch() != response.epoch() ||
      (response.partition_count() != 0 &&
       response.partition_count() != kPartitionCount)) {
    // Routing only saves a hop (nodes forward misrouted calls), so a client
    // whose placement code differs from the nodes' still works.
    gpr_log(GPR_ERROR,
            "sesh client: node %s reports epoch %llu and %u partitions, but "
            "placement computed here gives epoch %llu and %u partitions; "
            "routing by the local computation, nodes will forward",
            response.self_id().c_str(),
            static_cast<unsigned long long>(response.epoch()),
            response.partition_count(),
            static_cast<unsigned long long>(placement->epoch()),
            kPartitionCount);
  }
  auto topo = std::make_shared<RoutingTable>();
  topo->epoch = response.epoch();
  topo->placement = placement;
  topo->fetched_at = absl::Now();
  uint64_t previous_epoch;
  {
    absl::MutexLock lock(&mu_);
    for (const std::string& id : placement->nodes()) {
      const v1::Node& n = *by_id[id];
      topo->nodes.push_back(NodeEntry{id, n.up(), ConnFor(n.address())});
      topo->any_down = topo->any_down || !n.up();
    }
    previous_epoch = topology_ == nullptr ? 0 : topology_->epoch;
    topology_ = std::move(topo);
    epoch_.store(response.epoch(), std::memory_order_relaxed);
  }
  if (previous_epoch != response.epoch()) {
    gpr_log(GPR_INFO,
            "sesh client: routing by topology epoch %llu (%d nodes, rf %d), "
            "from node %s",
            static_cast<unsigned long long>(response.epoch()),
            static_cast<int>(ids.size()), placement->replication_factor(),
            response.self_id().c_str());
  }
  return absl::OkStatus();
}

void Router::NoteEpoch(uint64_t epoch) {
  if (epoch != 0 && epoch != epoch_.load(std::memory_order_relaxed)) {
    RequestRefresh(epoch);
  }
}

void Router::RequestRefresh(std::optional<uint64_t> observed_epoch) {
  bool start = false;
  std::optional<absl::Time> schedule_at;
  {
    absl::MutexLock lock(&mu_);
    if (topology_ == nullptr) return;  // the client is fetching the first
    if (observed_epoch.has_value()) {
      if (*observed_epoch == topology_->epoch) return;
      wanted_epoch_ = observed_epoch;
    }
    if (refresh_in_flight_ || refresh_scheduled_) return;
    if (absl::Now() >= next_refresh_at_) {
      refresh_in_flight_ = true;
      start = true;
    } else if (observed_epoch.has_value()) {
      // A known change must not be lost; an unreachable node can wait for
      // the refresh that ran less than kMinRefreshInterval ago.
      refresh_scheduled_ = true;
      schedule_at = next_refresh_at_;
    }
  }
  if (start) StartRefresh();
  if (schedule_at.has_value()) {
    scheduler_->RunAt(*schedule_at, [this] { OnRefreshTimer(); });
  }
}

void Router::OnRefreshTimer() {
  {
    absl::MutexLock lock(&mu_);
    refresh_scheduled_ = false;
    if (refresh_in_flight_) return;
    refresh_in_flight_ = true;
  }
  StartRefresh();
}

void Router::StartRefresh() {
  fetch_([this](absl::Status status, const v1::TopologyResponse& response) {
    OnRefreshDone(std::move(status), response);
  });
}

void Router::OnRefreshDone(absl::Status status,
                           const v1::TopologyResponse& response) {
  if (status.ok()) status = Install(response);
  if (!status.ok() && !absl::IsCancelled(status)) {
    gpr_log(GPR_ERROR,
            "sesh client: topology refresh failed, keeping epoch %llu: %s",
            static_cast<unsigned long long>(epoch_.load()),
            status.ToString().c_str());
  }
  std::optional<absl::Time> again_at;
  {
    absl::MutexLock lock(&mu_);
    refresh_in_flight_ = false;
    next_refresh_at_ = absl::Now() + kMinRefreshInterval;
    if (wanted_epoch_.has_value() && !absl::IsCancelled(status) &&
        topology_ != nullptr && *wanted_epoch_ != topology_->epoch) {
      if (!refresh_scheduled_) {
        refresh_scheduled_ = true;
        again_at = next_refresh_at_;
      }
    } else {
      wanted_epoch_.reset();
    }
  }
  if (again_at.has_value()) {
    scheduler_->RunAt(*again_at, [this] { OnRefreshTimer(); });
  }
}

}  // namespace client_internal
}  // namespace sesh
