#include "replication/failure_detector.h"

namespace sesh {

FailureDetector::FailureDetector(int node_count, int self,
                                 int64_t failure_timeout_ms, Clock* steady,
                                 const Leases* leases)
    : self_(self),
      failure_timeout_ms_(failure_timeout_ms),
      steady_(steady),
      leases_(leases),
      peers_(node_count) {}

bool FailureDetector::IsUpLocked(int node) const {
  const Peer& p = peers_[node];
  const int64_t heard = leases_->LastHeard(node);
  return p.last_ok_ms != 0 && heard != 0 &&
         steady_->NowMs() - heard < failure_timeout_ms_ &&
         p.refused_ms <= heard && leases_->HeardServing(node) && p.serving;
}

bool FailureDetector::IsUp(int node) const {
  if (node == self_) return false;
  absl::ReaderMutexLock lock(&mu_);
  return IsUpLocked(node);
}

void FailureDetector::Inherit(int node, const FailureDetector& from,
                              int from_node) {
  Peer seen;
  {
    absl::ReaderMutexLock lock(&from.mu_);
    seen = from.peers_[from_node];
  }
  absl::MutexLock lock(&mu_);
  peers_[node] = seen;
}

bool FailureDetector::Answered(int node, bool serving) {
  const int64_t now = steady_->NowMs();
  absl::MutexLock lock(&mu_);
  const bool was_up = IsUpLocked(node);
  peers_[node].serving = serving;
  peers_[node].last_ok_ms = now;
  return !was_up && IsUpLocked(node);
}

void FailureDetector::Refused(int node) {
  const int64_t now = steady_->NowMs();
  absl::MutexLock lock(&mu_);
  peers_[node].refused_ms = now;
}

bool FailureDetector::Suspect(int node) {
  absl::MutexLock lock(&mu_);
  const bool was = peers_[node].last_ok_ms != 0;
  peers_[node].last_ok_ms = 0;
  return was;
}

bool FailureDetector::AnsweredServing(int node) const {
  absl::ReaderMutexLock lock(&mu_);
  return peers_[node].serving;
}

bool FailureDetector::Reachable(int node) const {
  absl::ReaderMutexLock lock(&mu_);
  return peers_[node].last_ok_ms != 0;
}

}  // namespace sesh
