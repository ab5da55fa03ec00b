#ifndef SESH_NODE_STORE_KEYS_H_
#define SESH_NODE_STORE_KEYS_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace sesh {

// The layout of SessionStore's RocksDB keys, a persistent contract (it
// decides where data lives on disk).

// The size of every storage key.
constexpr size_t kStorageKeyBytes = 4 + 32;

// The RocksDB key of a session: partition (4 bytes, big endian) then
// SHA-256 of the raw ID. Partition-major order makes a partition one
// contiguous range (the unit of catch-up); hashing the ID means key
// comparisons inside RocksDB leak no timing about other sessions' IDs.
std::string StorageKey(absl::string_view raw_id);

// The 4 bytes every storage key of the partition starts with.
std::string PartitionPrefix(uint32_t partition);
// The partition a storage key starts with; 0 for a key under 4 bytes.
uint32_t PartitionOfKey(absl::string_view key);

// The prefix of a user's entries in the by-user index; each entry is this
// prefix then the session's storage key, with an empty value.
std::string UserPrefix(absl::string_view ns, absl::string_view user_id);

}  // namespace sesh

#endif  // SESH_NODE_STORE_KEYS_H_
