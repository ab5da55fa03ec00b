#include "replication/coordinator.h"

#include <map>
#include <memory>
#include <utility>

#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "replication/join.h"

namespace sesh {
namespace {

using internal::SessionRecord;

}  // namespace

Coordinator::Route Coordinator::RouteFor(uint32_t partition,
                                         bool forwarded) const {
  const int self = cluster_->self_index();
  const bool holds = cluster_->placement().Holds(self, partition);
  // A forwarded call is served here whatever this node's view: the sender
  // chose this node, and a second hop could loop.
  if (forwarded) {
    return holds ? Route{Where::kLocal, self} : Route{Where::kUnavailable, -1};
  }
  const int coordinator = cluster_->Coordinator(partition);
  if (coordinator == self) return {Where::kLocal, self};
  if (coordinator >= 0) return {Where::kForward, coordinator};
  // No replica looks up. Serve from our own copy if we hold one and are
  // caught up; read repair still decides whether the copy may answer.
  if (holds && cluster_->serving()) return {Where::kLocal, self};
  return {Where::kUnavailable, -1};
}

void Coordinator::Read(
    uint32_t partition, const std::string& raw_id, ReadFn read,
    std::function<void(absl::StatusOr<SessionRecord>)> done) {
  if (cluster_->HasReadLease(partition)) {
    absl::StatusOr<SessionRecord> record = read();
    // Held before the read: every write acknowledged without this node had
    // reached it. Still held after: none was acknowledged during the read.
    if (cluster_->HasReadLease(partition)) {
      served_.fetch_add(1, std::memory_order_relaxed);
      done(std::move(record));
      return;
    }
  }
  WithRepair(partition, raw_id,
             [read = std::move(read), done = std::move(done)](bool current) {
               if (!current) {
                 done(absl::UnavailableError(
                     "this node's copy may miss acknowledged writes and too "
                     "few other replicas answered to complete it"));
                 return;
               }
               done(read());
             });
}

void Coordinator::WithRepair(uint32_t partition, const std::string& raw_id,
                             std::function<void(bool current)> fn) {
  served_.fetch_add(1, std::memory_order_relaxed);
  if (cluster_->HasReadLease(partition)) {
    fn(true);
    return;
  }
  repair_reads_.fetch_add(1, std::memory_order_relaxed);
  const int others_needed = cluster_->OthersCoveringQuorum(partition);
  cluster_->ReadFromReplicas(
      partition, raw_id,
      [this, others_needed, fn = std::move(fn)](SessionRecord merged,
                                                int answered) mutable {
        auto finish = [this, others_needed, fn = std::move(fn),
                       merged = std::move(merged), answered] {
          bool current = answered >= others_needed;
          if (!merged.id().empty()) {
            // A repair that could not be stored leaves the copy unconfirmed.
            if (!store_->Merge(merged).ok()) current = false;
          }
          fn(current);
        };
        if (offload_) {
          offload_(std::move(finish));
        } else {
          finish();
        }
      });
}

void Coordinator::Mutate(uint32_t partition, const std::string& raw_id,
                         Durability durability, Needs needs, WriteFn write,
                         std::function<void(absl::Status)> done) {
  const int needed = cluster_->AcksNeeded(partition, durability);
  const int self = cluster_->self_index();
  const int live = static_cast<int>(cluster_->LiveReplicas(partition).size()) +
                   (cluster_->IsUp(self) ? 0 : 1);
  if (live < needed) {
    done(absl::UnavailableError(absl::StrFormat(
        "only %d replicas of partition %d are up, the durability needs %d; "
        "nothing was applied",
        live, partition, needed)));
    return;
  }
  WithRepair(partition, raw_id,
             [this, partition, durability, needs, write = std::move(write),
              done = std::move(done)](bool current) {
               if (needs == Needs::kCurrentCopy && !current) {
                 done(absl::UnavailableError(absl::StrFormat(
                     "this node's copy of the session may be stale and too "
                     "few other replicas of partition %d answered to "
                     "complete it; nothing was applied",
                     partition)));
                 return;
               }
               absl::StatusOr<std::vector<SessionRecord>> changed = write();
               if (!changed.ok()) {
                 done(changed.status());
                 return;
               }
               ReplicateAndAnswer(std::move(*changed), durability, done);
             });
}

void Coordinator::ReplicateAndAnswer(std::vector<SessionRecord> records,
                                     Durability durability,
                                     std::function<void(absl::Status)> done) {
  // Group by partition: Rotate writes to two.
  std::map<uint32_t, std::vector<SessionRecord>> by_partition;
  for (SessionRecord& r : records) {
    by_partition[PartitionOf(r.id())].push_back(std::move(r));
  }
  if (by_partition.empty()) {
    done(absl::OkStatus());
    return;
  }
  auto join = std::make_shared<Join<absl::Status>>(
      static_cast<int>(by_partition.size()), std::move(done));
  for (auto& [partition, group] : by_partition) {
    // This node's own copy counts unless the partition's primary may be
    // serving reads under its lease without having seen the write.
    const int own = cluster_->VouchFor(partition, group) ? 1 : 0;
    const int needed = cluster_->AcksNeeded(partition, durability);
    const int replicas =
        static_cast<int>(cluster_->placement().Replicas(partition).size());
    cluster_->Replicate(
        partition, std::move(group), needed - own,
        [join, own, needed, replicas](int acks) {
          if (acks + own >= needed) {
            join->Arrive(absl::OkStatus());
          } else {
            join->Arrive(absl::UnavailableError(absl::StrFormat(
                "the write reached %d of %d replicas that can vouch for it, "
                "fewer than its durability needs (the partition's primary "
                "must be among them while it still sends heartbeats); it "
                "was applied and may become visible",
                acks + own, replicas)));
          }
        });
  }
}

}  // namespace sesh
