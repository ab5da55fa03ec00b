// Cluster's side of managed membership (docs/scaling.md): the pending
// map's replicas, epochs seen from peers, and the fencing of read leases
// and vouching across a membership change.

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "replication/cluster.h"

namespace sesh {

void Cluster::InheritLiveness(const Cluster& previous) {
  for (int node = 0; node < node_count(); ++node) {
    if (node == self_index_) continue;
    const int before = previous.placement_.IndexOf(placement_.nodes()[node]);
    if (before < 0 || before == previous.self_index_) continue;
    leases_.Inherit(node, previous.leases_, before);
    detector_.Inherit(node, previous.detector_, before);
    peer_epochs_[node].store(previous.peer_epochs_[before].load());
  }
}

std::vector<std::string> Cluster::LeavingIds() const {
  std::vector<std::string> ids;
  if (options_.pending_holders.empty()) return ids;
  for (const std::string& id : options_.holders) {
    if (std::find(options_.pending_holders.begin(),
                  options_.pending_holders.end(),
                  id) == options_.pending_holders.end()) {
      ids.push_back(id);
    }
  }
  return ids;
}

std::vector<int> Cluster::PendingOnly(uint32_t partition) const {
  std::vector<int> nodes;
  if (!pending_.has_value()) return nodes;
  for (uint8_t node : pending_->Replicas(partition)) {
    if (node != self_index_ && !placement_.Holds(node, partition)) {
      nodes.push_back(node);
    }
  }
  return nodes;
}

bool Cluster::PeersReached(uint64_t epoch) const {
  for (int node = 0; node < node_count(); ++node) {
    if (node == self_index_ || !detector_.IsUp(node)) continue;
    if (peer_epochs_[node].load() < epoch) return false;
  }
  return true;
}

bool Cluster::NothingOwed() const {
  for (int node = 0; node < node_count(); ++node) {
    if (node == self_index_ || !detector_.IsUp(node)) continue;
    if (owed_to_me_[node].load() != 0) return false;
  }
  return true;
}

absl::Status Cluster::CheckCallEpoch(uint64_t epoch) {
  if (epoch == 0 || !managed() || epoch == this->epoch()) {
    return absl::OkStatus();
  }
  if (epoch > this->epoch()) {
    if (options_.on_newer_epoch) options_.on_newer_epoch();
    return absl::OkStatus();
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "membership epoch ", epoch, " is older than this node's ",
      this->epoch(), "; refetch the membership"));
}

bool Cluster::LeasesFenced() const {
  if (options_.previous == nullptr || fenced_.load()) return true;
  const int64_t now = steady_->NowMs();
  int64_t reached = peers_reached_ms_.load();
  if (reached == 0) {
    if (!PeersReached(epoch())) return false;
    reached = now;
    peers_reached_ms_.store(now);
  }
  if (now - reached < options_.replicate_timeout_ms || !NothingOwed()) {
    return false;
  }
  fenced_.store(true);
  return true;
}

bool Cluster::PreviousPrimaryMayServe(uint32_t partition) const {
  const PlacementMap* previous = options_.previous.get();
  if (previous == nullptr) return false;
  const std::string& before = previous->nodes()[previous->Primary(partition)];
  if (before == options_.self_id ||
      before == placement_.nodes()[placement_.Primary(partition)] ||
      std::find(options_.previous_leaving.begin(),
                options_.previous_leaving.end(),
                before) != options_.previous_leaving.end()) {
    return false;
  }
  const int node = placement_.IndexOf(before);
  if (node < 0) {
    // Gone from the membership: its lease ran out a vouch window after
    // this epoch began at the latest.
    return steady_->NowMs() - created_ms_ < leases_.vouch_after_ms();
  }
  return peer_epochs_[node].load() < epoch() && !leases_.Silent(node);
}

}  // namespace sesh
