#include "replication/peer_checks.h"

#include "absl/strings/str_cat.h"

namespace sesh {
namespace {

absl::Status Refused(absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("refused peer message: ", what));
}

absl::Status CheckId(const std::string& id, const PlacementMap& placement,
                     int self, const PlacementMap* pending) {
  if (id.size() != 32) return Refused("an id is not 32 bytes");
  const uint32_t partition = PartitionOf(id);
  if (!placement.Holds(self, partition) &&
      (pending == nullptr || !pending->Holds(self, partition))) {
    return Refused(absl::StrCat("partition ", partition,
                                " is not replicated by this node"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckReplicatedRecord(const internal::SessionRecord& record,
                                   const PlacementMap& placement, int self,
                                   const PeerLimits& limits,
                                   const PlacementMap* pending) {
  absl::Status id = CheckId(record.id(), placement, self, pending);
  if (!id.ok()) return id;
  if (record.namespace_().size() > limits.max_namespace_bytes ||
      record.user_id().size() > limits.max_user_id_bytes) {
    return Refused("namespace or user id over its size limit");
  }
  for (const auto& [key, attribute] : record.attributes()) {
    if (key.size() > limits.max_key_bytes ||
        attribute.value().size() > limits.max_value_bytes) {
      return Refused("an attribute over its size limit");
    }
  }
  if (record.destroyed() && record.attributes_size() > 0) {
    return Refused("a tombstone with attributes");  // merge.h: none
  }
  if (record.ByteSizeLong() > limits.max_record_bytes) {
    return Refused("a record over its size limit");
  }
  if (record.idle_timeout_ms() < 0 || record.created_at_ms() < 0 ||
      record.last_access_ms() < 0 || record.absolute_deadline_ms() < 0) {
    return Refused("a negative time");
  }
  return absl::OkStatus();
}

absl::Status CheckReplicatedTouch(const internal::Touch& touch,
                                  const PlacementMap& placement, int self,
                                  int64_t now_ms, const PeerLimits& limits,
                                  const PlacementMap* pending) {
  absl::Status id = CheckId(touch.id(), placement, self, pending);
  if (!id.ok()) return id;
  if (touch.last_access_ms() < 0 ||
      touch.last_access_ms() > now_ms + limits.max_clock_ahead_ms) {
    return Refused("a touch time out of range (ahead of this node's clock)");
  }
  return absl::OkStatus();
}

absl::Status CheckApply(const internal::ApplyRequest& request,
                        const PlacementMap& placement, int self,
                        int64_t now_ms, const PeerLimits& limits,
                        const PlacementMap* pending) {
  if (request.records_size() > limits.max_records_per_call ||
      request.touches_size() > limits.max_touches_per_call) {
    return Refused("too many records or touches in one call");
  }
  for (const internal::SessionRecord& record : request.records()) {
    absl::Status s =
        CheckReplicatedRecord(record, placement, self, limits, pending);
    if (!s.ok()) return s;
  }
  for (const internal::Touch& touch : request.touches()) {
    absl::Status s =
        CheckReplicatedTouch(touch, placement, self, now_ms, limits, pending);
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace sesh
