#ifndef SESH_REPLICATION_REPLICA_STORE_H_
#define SESH_REPLICATION_REPLICA_STORE_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "sesh/internal/record.pb.h"

namespace sesh {

// What the replication core needs of a node's storage: merging replicated
// states, reading a stored state, and scanning partitions. The node's
// SessionStore implements it; tests use an in-memory map. Thread-safe.
class ReplicaStore {
 public:
  virtual ~ReplicaStore() = default;

  // Merges a peer's state of a session into the local one
  // (replication/merge.h) and returns the merged state. OUT_OF_RANGE for a
  // stamp too far ahead of the local clock, INVALID_ARGUMENT for a bad id;
  // nothing stored then.
  virtual absl::StatusOr<internal::SessionRecord> Merge(
      const internal::SessionRecord& incoming) = 0;
  // Merge() of each record, in order; a store may write them together.
  virtual std::vector<absl::StatusOr<internal::SessionRecord>> MergeAll(
      const std::vector<const internal::SessionRecord*>& incoming) {
    std::vector<absl::StatusOr<internal::SessionRecord>> merged;
    merged.reserve(incoming.size());
    for (const internal::SessionRecord* record : incoming) {
      merged.push_back(Merge(*record));
    }
    return merged;
  }
  // Raises a session's last_access to at least last_access_ms.
  virtual absl::Status MergeTouch(absl::string_view raw_id,
                                  int64_t last_access_ms) = 0;
  // The stored state whatever its liveness (tombstones included).
  virtual absl::StatusOr<std::optional<internal::SessionRecord>> ReadRaw(
      absl::string_view raw_id) = 0;
  // fn(storage key, record) for every stored record of partitions
  // [first, last] in key order, after after_key when not empty; a record
  // with no id carries only a persisted touch. Stops when fn returns false.
  virtual absl::Status ForEachInPartitions(
      uint32_t first, uint32_t last, absl::string_view after_key,
      const std::function<bool(const std::string& key,
                               const internal::SessionRecord&)>& fn) = 0;
};

}  // namespace sesh

#endif  // SESH_REPLICATION_REPLICA_STORE_H_
