#include "replication/anti_entropy_link.h"

#include "absl/synchronization/notification.h"

namespace sesh {
namespace {

// Runs one asynchronous transport call and waits for its answer.
template <typename Response, typename Start>
absl::StatusOr<Response> Wait(Start start) {
  absl::Notification answered;
  absl::Status status;
  Response response;
  start([&](absl::Status s, const Response& r) {
    status = std::move(s);
    response = r;
    answered.Notify();
  });
  answered.WaitForNotification();
  if (!status.ok()) return status;
  return response;
}

}  // namespace

absl::Status StoreReplica::ForEach(
    uint32_t first, uint32_t last,
    const std::function<bool(const internal::SessionRecord&)>& fn) {
  return store_->ForEachInPartitions(
      first, last, "",
      [&fn](const std::string&, const internal::SessionRecord& record) {
        return record.id().empty() ? true : fn(record);
      });
}

absl::Status StoreReplica::Merge(const internal::SessionRecord& record) {
  return store_->Merge(record).status();
}

absl::StatusOr<std::map<uint32_t, uint64_t>> TransportPeers::Digests(
    int node, uint32_t first, uint32_t last) {
  internal::DigestsRequest request;
  request.set_from_node(self_id_);
  request.set_epoch(epoch_);
  request.set_first_partition(first);
  request.set_last_partition(last);
  absl::StatusOr<internal::DigestsResponse> response =
      Wait<internal::DigestsResponse>([&](auto done) {
        transport_->Digests(node, std::move(request), timeout_ms_,
                            std::move(done));
      });
  if (!response.ok()) return response.status();
  std::map<uint32_t, uint64_t> out;
  for (const internal::PartitionDigest& d : response->digests()) {
    out[d.partition()] = d.digest();
  }
  return out;
}

absl::StatusOr<std::vector<internal::SessionRecord>> TransportPeers::Records(
    int node, const std::vector<uint32_t>& partitions) {
  internal::PartitionRecordsRequest request;
  request.set_from_node(self_id_);
  request.set_epoch(epoch_);
  for (uint32_t p : partitions) request.add_partitions(p);
  absl::StatusOr<internal::PartitionRecordsResponse> response =
      Wait<internal::PartitionRecordsResponse>([&](auto done) {
        transport_->PartitionRecords(node, std::move(request), timeout_ms_,
                                     std::move(done));
      });
  if (!response.ok()) return response.status();
  return std::vector<internal::SessionRecord>(response->records().begin(),
                                              response->records().end());
}

absl::Status TransportPeers::Push(
    int node, const std::vector<internal::SessionRecord>& records) {
  internal::RepairRequest request;
  request.set_from_node(self_id_);
  request.set_epoch(epoch_);
  for (const internal::SessionRecord& r : records) *request.add_records() = r;
  return Wait<internal::RepairResponse>([&](auto done) {
           transport_->Repair(node, std::move(request), timeout_ms_,
                              std::move(done));
         })
      .status();
}

}  // namespace sesh
