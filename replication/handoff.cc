#include "replication/handoff.h"

#include <algorithm>
#include <chrono>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "replication/clock.h"
#include "absl/synchronization/notification.h"
#include "replication/managed_membership.h"
#include "replication/replica.h"
#include "util/log.h"

namespace sesh {
namespace {

// How long a hand-off waits for a source that is not up before leaving it
// out.
constexpr int64_t kSourceGraceMs = 5000;

int64_t NowMs() { return SteadyClock()->NowMs(); }

}  // namespace

Handoff::Handoff(Cluster* cluster, ReplicaStore* store, int64_t max_bytes_per_s)
    : cluster_(cluster), store_(store), max_bytes_per_s_(max_bytes_per_s) {
  progress_.epoch = cluster->epoch();
}

HandoffProgress Handoff::progress() const {
  absl::MutexLock lock(&mu_);
  HandoffProgress p = progress_;
  if (!p.done && !scanned_.empty()) {
    double fraction = 0;
    for (double f : scanned_) fraction += f / scanned_.size();
    p.partitions_done = static_cast<uint32_t>(p.partitions_total * fraction);
    const int64_t elapsed = NowMs() - started_ms_;
    if (fraction > 0.01) {
      p.eta_seconds = elapsed * (1 - fraction) / fraction / 1000.0;
    }
  }
  return p;
}

absl::Status Handoff::DrainHints() {
  // Writes this node coordinated before it stopped coordinating end within
  // a replicate timeout; then every hint it holds must be delivered.
  const int64_t settle_at = NowMs() + cluster_->options().replicate_timeout_ms;
  while (NowMs() < settle_at || cluster_->HintsQueued() > 0) {
    if (cancelled_.load()) return absl::CancelledError("hand-off cancelled");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  absl::MutexLock lock(&mu_);
  progress_.done = true;
  LogInfo("handoff",
          "leaving at epoch %llu: no hints held, its partitions can move",
          static_cast<unsigned long long>(progress_.epoch));
  return absl::OkStatus();
}

bool Handoff::FetchFromAll(const std::vector<int>& sources, uint32_t max_rank) {
  {
    absl::MutexLock lock(&mu_);
    scanned_.assign(sources.size(), 0.0);
  }
  std::vector<Fetched> results(sources.size(), Fetched::kDone);
  std::vector<std::thread> threads;
  const int64_t share = max_bytes_per_s_ / std::max<int64_t>(1, sources.size());
  for (size_t i = 0; i < sources.size(); ++i) {
    threads.emplace_back([this, &results, &sources, i, max_rank, share] {
      results[i] =
          FetchFrom(sources[i], static_cast<int>(i), max_rank,
                    max_bytes_per_s_ > 0 ? std::max<int64_t>(1, share) : 0);
    });
  }
  for (std::thread& t : threads) t.join();
  bool skipped = false;
  for (Fetched r : results) {
    if (r == Fetched::kCancelled) return false;
    if (r == Fetched::kSourceDown) skipped = true;
  }
  if (!skipped || max_rank == 0) return true;
  // Every partition again from all the sources that are up, as long as
  // two of them are (any two replicas hold every QUORUM write).
  const size_t needed = std::min<size_t>(2, sources.size());
  std::vector<int> up;
  while (true) {
    if (cancelled_.load()) return false;
    up.clear();
    for (int node : sources) {
      if (cluster_->IsUp(node)) up.push_back(node);
    }
    if (up.size() >= needed) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return FetchFromAll(up, /*max_rank=*/0);
}

absl::Status Handoff::Run() {
  const PlacementMap* next = cluster_->pending();
  if (next == nullptr) {
    return absl::FailedPreconditionError("no membership change under way");
  }
  const uint32_t gained = static_cast<uint32_t>(
      GainedPartitions(cluster_->placement(), *next, cluster_->self_index())
          .size());
  {
    absl::MutexLock lock(&mu_);
    progress_.epoch = cluster_->epoch();
    progress_.partitions_total = gained;
    started_ms_ = NowMs();
  }
  if (gained == 0) {
    if (!cluster_->leaving()) {
      return absl::FailedPreconditionError("this node gains no partition");
    }
    return DrainHints();
  }
  std::vector<int> sources;
  for (int node = 0; node < cluster_->node_count(); ++node) {
    if (node == cluster_->self_index()) continue;
    bool holds_any = false;
    for (uint32_t p = 0; p < kPartitionCount && !holds_any; p += 61) {
      holds_any = cluster_->placement().Holds(node, p);
    }
    if (holds_any) sources.push_back(node);
  }
  // The sources must be seen up (a node that just started sees no peer up
  // yet); one still down after a grace period is left out, but never so
  // many that fewer than two remain.
  const int64_t grace_until = NowMs() + kSourceGraceMs;
  const size_t needed = std::min<size_t>(2, sources.size());
  while (true) {
    if (cancelled_.load()) return absl::CancelledError("hand-off cancelled");
    size_t up = 0;
    for (int node : sources) up += cluster_->IsUp(node) ? 1 : 0;
    if (up == sources.size() || (NowMs() >= grace_until && up >= needed)) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  // Writes acknowledged from now on reach this node once every coordinator
  // routes by this epoch; what came before is in the current replicas.
  while (!cluster_->PeersReached(cluster_->epoch())) {
    if (cancelled_.load()) return absl::CancelledError("hand-off cancelled");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  {
    absl::MutexLock lock(&mu_);
    started_ms_ = NowMs();
  }
  // Each partition from its first two current replicas (every write
  // acknowledged at QUORUM is on one of them), all sources at once; if a
  // source is down, every partition again from all the others.
  if (!FetchFromAll(sources, /*max_rank=*/2)) {
    return absl::CancelledError("hand-off cancelled");
  }
  // Writes the coordinators sent while this node could not take them are
  // hints held for it: wait until they are delivered.
  while (!cluster_->NothingOwed()) {
    if (cancelled_.load()) return absl::CancelledError("hand-off cancelled");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  absl::MutexLock lock(&mu_);
  progress_.done = true;
  progress_.partitions_done = progress_.partitions_total;
  progress_.eta_seconds = 0;
  LogInfo("handoff",
          "hand-off of epoch %llu done: %u partitions, %llu records, %llu "
          "bytes in %.1f s",
          static_cast<unsigned long long>(progress_.epoch),
          progress_.partitions_total,
          static_cast<unsigned long long>(progress_.records_received),
          static_cast<unsigned long long>(progress_.bytes_received),
          (NowMs() - started_ms_) / 1000.0);
  return absl::OkStatus();
}

Handoff::Fetched Handoff::FetchFrom(int node, int source_index,
                                    uint32_t max_rank,
                                    int64_t max_bytes_per_s) {
  const std::string& peer = cluster_->placement().nodes()[node];
  std::string after_key;
  bool done = false;
  int64_t window_start = NowMs();
  int64_t window_bytes = 0;
  while (!done) {
    if (cancelled_.load()) return Fetched::kCancelled;
    internal::FetchRequest request;
    request.set_first_partition(0);
    request.set_last_partition(kPartitionCount - 1);
    request.set_for_node(cluster_->self_id());
    request.set_after_key(after_key);
    request.set_max_records(Replica::kMaxFetchPage);
    request.set_epoch(cluster_->epoch());
    request.set_gained_only(true);
    request.set_max_rank(max_rank);
    absl::Notification answered;
    absl::Status status;
    internal::FetchResponse response;
    cluster_->transport()->Fetch(
        node, std::move(request), 5000,
        [&](absl::Status s, const internal::FetchResponse& r) {
          status = s;
          response = r;
          answered.Notify();
        });
    answered.WaitForNotification();
    if (!status.ok()) {
      if (!cluster_->IsUp(node)) {
        LogInfo("handoff",
                "hand-off source %s is down (%s); the other replicas hold "
                "every acknowledged write",
                peer.c_str(), std::string(status.message()).c_str());
        return Fetched::kSourceDown;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    int64_t bytes = 0;
    std::vector<const internal::SessionRecord*> records;
    for (const internal::SessionRecord& r : response.records()) {
      records.push_back(&r);
      bytes += static_cast<int64_t>(r.ByteSizeLong());
    }
    store_->MergeAll(records);
    after_key = response.last_key();
    done = response.done();
    {
      absl::MutexLock lock(&mu_);
      progress_.records_received += records.size();
      progress_.bytes_received += static_cast<uint64_t>(bytes);
      const double within =
          done || records.empty()
              ? (done ? 1.0 : 0.0)
              : static_cast<double>(PartitionOf(records.back()->id())) /
                    kPartitionCount;
      if (done || !records.empty()) scanned_[source_index] = within;
    }
    // Progress in the log every 5 s (seshctl status has it at any time).
    if (source_index == 0 && NowMs() - last_log_ms_ >= 5000) {
      last_log_ms_ = NowMs();
      const HandoffProgress p = progress();
      LogInfo("handoff",
              "hand-off of epoch %llu: %u of %u partitions, %llu records, %llu "
              "bytes, ETA %.0f s",
              static_cast<unsigned long long>(p.epoch), p.partitions_done,
              p.partitions_total,
              static_cast<unsigned long long>(p.records_received),
              static_cast<unsigned long long>(p.bytes_received), p.eta_seconds);
    }
    // Rate bound: sleep off any excess over max_bytes_per_s per second.
    if (max_bytes_per_s > 0) {
      window_bytes += bytes;
      const int64_t due_ms = window_bytes * 1000 / max_bytes_per_s;
      const int64_t elapsed = NowMs() - window_start;
      if (due_ms > elapsed) {
        std::this_thread::sleep_for(
            std::chrono::milliseconds(due_ms - elapsed));
      }
      if (elapsed > 1000) {
        window_start = NowMs();
        window_bytes = 0;
      }
    }
  }
  return Fetched::kDone;
}

}  // namespace sesh
