#include "replication/lease.h"

#include <algorithm>

#include "replication/durability.h"

namespace sesh {

Leases::Leases(const PlacementMap* placement, int self,
               const LeaseOptions& options, Clock* steady)
    : placement_(placement),
      self_(self),
      options_(options),
      steady_(steady),
      created_ms_(steady->NowMs()),
      peers_(placement->nodes().size()) {}

bool Leases::HeardFrom(int node, bool serving, int64_t incarnation,
                       uint64_t sequence) {
  if (node < 0 || node == self_ ||
      node >= static_cast<int>(placement_->nodes().size())) {
    return false;
  }
  const int64_t now = steady_->NowMs();
  absl::MutexLock lock(&mu_);
  Peer& p = peers_[node];
  if (std::make_pair(incarnation, sequence) <
      std::make_pair(p.incarnation, p.sequence)) {
    return false;
  }
  p.incarnation = incarnation;
  p.sequence = sequence;
  p.heard_serving = serving;
  p.last_heard_ms = now;
  return true;
}

void Leases::Inherit(int node, const Leases& from, int from_node) {
  Peer heard;
  {
    absl::ReaderMutexLock lock(&from.mu_);
    heard = from.peers_[from_node];
  }
  heard.lease_until_ms = 0;
  absl::MutexLock lock(&mu_);
  peers_[node] = heard;
}

int64_t Leases::LastHeard(int node) const {
  absl::ReaderMutexLock lock(&mu_);
  return peers_[node].last_heard_ms;
}

bool Leases::HeardServing(int node) const {
  absl::ReaderMutexLock lock(&mu_);
  return peers_[node].heard_serving;
}

bool Leases::SilentLocked(int node, int64_t now) const {
  const Peer& p = peers_[node];
  if (p.last_heard_ms != 0 && !p.heard_serving) return true;  // catching up
  return now - std::max(p.last_heard_ms, created_ms_) >= vouch_after_ms();
}

bool Leases::Silent(int node) const {
  const int64_t now = steady_->NowMs();
  absl::ReaderMutexLock lock(&mu_);
  return SilentLocked(node, now);
}

bool Leases::MayVouch(uint32_t partition) const {
  const int primary = placement_->Primary(partition);
  if (primary == self_) return true;
  return Silent(primary);
}

void Leases::Granted(int node, int64_t sent_ms) {
  absl::MutexLock lock(&mu_);
  int64_t& until = peers_[node].lease_until_ms;
  until = std::max(until, sent_ms + lease_ms());
}

int Leases::OthersCoveringQuorum(uint32_t partition) const {
  const int replicas = static_cast<int>(placement_->Replicas(partition).size());
  return replicas - AcksNeeded(replicas, Durability::kQuorum);
}

bool Leases::HasReadLease(uint32_t partition, bool self_serving) const {
  if (!self_serving || placement_->Primary(partition) != self_) return false;
  const int needed = OthersCoveringQuorum(partition);
  if (needed <= 0) return true;
  const int64_t now = steady_->NowMs();
  int held = 0;
  absl::ReaderMutexLock lock(&mu_);
  for (uint8_t node : placement_->Replicas(partition)) {
    if (node != self_ && peers_[node].lease_until_ms > now) ++held;
  }
  return held >= needed;
}

}  // namespace sesh
