#include "replication/replica.h"

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "replication/placement.h"
#include "util/log.h"

namespace sesh {

namespace {

// Position of `node` in the partition's preference list (kMaxNodes if it is
// not a replica).
int RankOf(const PlacementMap& placement, int node, uint32_t partition) {
  absl::Span<const uint8_t> replicas = placement.Replicas(partition);
  for (size_t i = 0; i < replicas.size(); ++i) {
    if (replicas[i] == node) return static_cast<int>(i);
  }
  return kMaxNodes;
}

}  // namespace

absl::StatusOr<int> Replica::Sender(const std::string& from_node) const {
  const int from = cluster_->placement().IndexOf(from_node);
  if (from < 0 || from == cluster_->self_index()) {
    return absl::InvalidArgumentError(
        absl::StrCat("a call from '", absl::CHexEscape(from_node.substr(0, 64)),
                     "', not a peer of this node"));
  }
  return from;
}

absl::Status Replica::Apply(const internal::ApplyRequest& request,
                            internal::ApplyResponse* response) {
  const PlacementMap& placement = cluster_->placement();
  absl::StatusOr<int> sender = Sender(request.from_node());
  if (!sender.ok()) return sender.status();
  const int from = *sender;
  if (absl::Status epoch = cluster_->CheckCallEpoch(request.epoch());
      !epoch.ok()) {
    return epoch;
  }
  absl::Status checked = CheckApply(request, placement, cluster_->self_index(),
                                    wall_->NowMs(), limits_,
                                    cluster_->pending());
  if (!checked.ok()) return checked;
  absl::Status status = absl::OkStatus();
  std::vector<const internal::SessionRecord*> incoming;
  incoming.reserve(request.records_size());
  for (const internal::SessionRecord& record : request.records()) {
    incoming.push_back(&record);
  }
  std::vector<absl::StatusOr<internal::SessionRecord>> all =
      store_->MergeAll(incoming);
  for (size_t i = 0; i < incoming.size(); ++i) {
    const internal::SessionRecord& record = *incoming[i];
    absl::StatusOr<internal::SessionRecord>& merged = all[i];
    if (!merged.ok()) {
      if (status.ok()) {
        // Logged once per call; the sender does not retry refused records.
        LogWarning("replica", "refused records from %s: %s",
                   request.from_node().c_str(),
                   std::string(merged.status().message()).c_str());
        status = merged.status();
      }
      continue;
    }
    const uint32_t partition = PartitionOf(record.id());
    if ((placement.Primary(partition) != from ||
         cluster_->PreviousPrimaryMayServe(partition)) &&
        !cluster_->VouchFor(partition, {*merged})) {
      auto* unvouched = response->mutable_unvouched_partitions();
      if (std::find(unvouched->begin(), unvouched->end(), partition) ==
          unvouched->end()) {
        unvouched->Add(partition);
      }
    }
  }
  for (const internal::Touch& touch : request.touches()) {
    absl::Status s = store_->MergeTouch(touch.id(), touch.last_access_ms());
    if (!s.ok() && status.ok()) status = s;
  }
  return status;
}

absl::Status Replica::Read(const internal::ReadRequest& request,
                           internal::ReadResponse* response) {
  if (request.ids_size() > kMaxFetchPage) {
    return absl::InvalidArgumentError(
        absl::StrCat("Read of more than ", kMaxFetchPage, " ids"));
  }
  if (absl::Status epoch = cluster_->CheckCallEpoch(request.epoch());
      !epoch.ok()) {
    return epoch;
  }
  for (const std::string& raw_id : request.ids()) {
    if (raw_id.size() != 32) continue;
    absl::StatusOr<std::optional<internal::SessionRecord>> record =
        store_->ReadRaw(raw_id);
    if (!record.ok()) return record.status();
    if (record->has_value()) *response->add_records() = **record;
  }
  return absl::OkStatus();
}

absl::Status Replica::Fetch(const internal::FetchRequest& request,
                            internal::FetchResponse* response) {
  const PlacementMap& placement = cluster_->placement();
  if (absl::Status epoch = cluster_->CheckCallEpoch(request.epoch());
      !epoch.ok()) {
    return epoch;
  }
  const int for_node = placement.IndexOf(request.for_node());
  if (for_node < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Fetch for '", request.for_node(), "', not a node of this cluster"));
  }
  if (request.max_records() < 0 || request.max_records() > kMaxFetchPage ||
      request.first_partition() > request.last_partition()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Fetch needs first_partition <= last_partition and max_records in "
        "[0, ",
        kMaxFetchPage, "]"));
  }
  const int limit =
      request.max_records() > 0 ? request.max_records() : kMaxFetchPage / 2;
  const int self = cluster_->self_index();
  const int max_rank = request.max_rank() > 0
                           ? static_cast<int>(request.max_rank())
                           : kMaxNodes;
  int count = 0;
  bool stopped_early = false;
  std::string last_key;
  absl::Status status = store_->ForEachInPartitions(
      request.first_partition(), request.last_partition(), request.after_key(),
      [&](const std::string& key, const internal::SessionRecord& record) {
        if (count >= limit) {
          stopped_early = true;
          return false;
        }
        last_key = key;
        if (record.id().empty()) return true;  // a lone touch, no session
        const uint32_t partition = PartitionOf(record.id());
        const bool wanted =
            request.gained_only()
                ? cluster_->pending() != nullptr &&
                      cluster_->pending()->Holds(for_node, partition) &&
                      !placement.Holds(for_node, partition) &&
                      RankOf(placement, self, partition) < max_rank
                : cluster_->WillHold(for_node, partition);
        if (wanted) {
          *response->add_records() = record;
          ++count;
        }
        return true;
      });
  response->set_last_key(last_key);
  response->set_done(!stopped_early);
  return status;
}

absl::Status Replica::Heartbeat(const internal::HeartbeatRequest& request,
                                internal::HeartbeatResponse* response) {
  absl::StatusOr<int> sender = Sender(request.from_node());
  if (!sender.ok()) return sender.status();
  cluster_->CheckPeerEpoch(request.from_node(), request.epoch());
  int64_t owed = cluster_->HintsFor(request.from_node());
  if (request.epoch() == cluster_->epoch()) {
    owed = cluster_->AnswerHeartbeat(request);
  }
  response->set_node_id(cluster_->self_id());
  response->set_epoch(cluster_->epoch());
  response->set_serving(cluster_->serving());
  response->set_hints_for_you(owed);
  return absl::OkStatus();
}

absl::Status Replica::Digests(const internal::DigestsRequest& request,
                              internal::DigestsResponse* response) {
  absl::StatusOr<int> from = Sender(request.from_node());
  if (!from.ok()) return from.status();
  if (absl::Status epoch = cluster_->CheckCallEpoch(request.epoch());
      !epoch.ok()) {
    return epoch;
  }
  absl::StatusOr<std::map<uint32_t, uint64_t>> digests = DigestPartitions(
      &local_, cluster_->placement(), cluster_->self_index(), *from,
      request.first_partition(), request.last_partition(), wall_->NowMs());
  if (!digests.ok()) return digests.status();
  for (const auto& [partition, digest] : *digests) {
    internal::PartitionDigest* d = response->add_digests();
    d->set_partition(partition);
    d->set_digest(digest);
  }
  return absl::OkStatus();
}

absl::Status Replica::PartitionRecords(
    const internal::PartitionRecordsRequest& request,
    internal::PartitionRecordsResponse* response) {
  absl::StatusOr<int> from = Sender(request.from_node());
  if (!from.ok()) return from.status();
  if (absl::Status epoch = cluster_->CheckCallEpoch(request.epoch());
      !epoch.ok()) {
    return epoch;
  }
  if (request.partitions_size() > kMaxFetchPage) {
    return absl::InvalidArgumentError(absl::StrCat(
        "PartitionRecords of more than ", kMaxFetchPage, " partitions"));
  }
  absl::StatusOr<std::vector<internal::SessionRecord>> records =
      sesh::PartitionRecords(&local_, cluster_->placement(),
                             cluster_->self_index(), *from,
                             std::vector<uint32_t>(request.partitions().begin(),
                                                   request.partitions().end()),
                             wall_->NowMs());
  if (!records.ok()) return records.status();
  for (internal::SessionRecord& r : *records) {
    *response->add_records() = std::move(r);
  }
  return absl::OkStatus();
}

absl::Status Replica::Repair(const internal::RepairRequest& request) {
  absl::StatusOr<int> from = Sender(request.from_node());
  if (!from.ok()) return from.status();
  if (absl::Status epoch = cluster_->CheckCallEpoch(request.epoch());
      !epoch.ok()) {
    return epoch;
  }
  if (request.records_size() > limits_.max_records_per_call) {
    return absl::InvalidArgumentError("Repair with too many records");
  }
  for (const internal::SessionRecord& record : request.records()) {
    if (record.id().empty()) continue;  // skipped by MergeRecords
    absl::Status checked = CheckReplicatedRecord(
        record, cluster_->placement(), cluster_->self_index(), limits_);
    if (!checked.ok()) return checked;
  }
  return MergeRecords(&local_, cluster_->placement(), cluster_->self_index(),
                      *from,
                      std::vector<internal::SessionRecord>(
                          request.records().begin(), request.records().end()));
}

int64_t CatchUp(Cluster* cluster, ReplicaStore* store, int64_t timeout_ms) {
  const auto give_up =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  int64_t merged = 0;
  for (int node = 0; node < cluster->node_count(); ++node) {
    if (node == cluster->self_index()) continue;
    const std::string& peer_id = cluster->placement().nodes()[node];
    std::string after_key;
    bool done = false;
    while (!done) {
      internal::FetchRequest request;
      request.set_first_partition(0);
      request.set_last_partition(kPartitionCount - 1);
      request.set_for_node(cluster->self_id());
      request.set_after_key(after_key);
      request.set_max_records(Replica::kMaxFetchPage);
      absl::Notification answered;
      absl::Status status;
      internal::FetchResponse response;
      cluster->transport()->Fetch(
          node, std::move(request), 5000,
          [&](absl::Status s, const internal::FetchResponse& r) {
            status = s;
            response = r;
            answered.Notify();
          });
      answered.WaitForNotification();
      if (!status.ok()) {
        if (std::chrono::steady_clock::now() > give_up) {
          LogWarning("replica",
                     "catch-up from %s failed (%s); serving without it, read "
                     "repair and hints will fill the gaps",
                     peer_id.c_str(), std::string(status.message()).c_str());
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        continue;
      }
      for (const internal::SessionRecord& record : response.records()) {
        if (store->Merge(record).ok()) ++merged;
      }
      after_key = response.last_key();
      done = response.done();
    }
  }
  return merged;
}

}  // namespace sesh
