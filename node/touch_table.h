#ifndef SESH_NODE_TOUCH_TABLE_H_
#define SESH_NODE_TOUCH_TABLE_H_

#include <array>
#include <cstdint>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace sesh {

// The latest last_access of recently touched sessions, by storage key: the
// hot path of a web service (read a session, slide its expiry) costs a
// hash-map update here instead of a RocksDB write, and PersistTouches()
// writes the table in batches. Every read folds it in by max. Sharded to
// keep request threads off each other's locks.
//
// It also keeps every persisted value (loaded from the access column
// family at open), so reads never look last_access up in RocksDB: a
// 64-byte slot (about 100 bytes with the hash map's headroom) per session
// touched, or written since the node started, until the sweep deletes it.
class TouchTable {
 public:
  // Storage keys have a fixed size (partition and digest): the table keeps
  // them inline, so a touch allocates nothing once its session is known.
  static constexpr size_t kKeyBytes = 36;
  using Key = std::array<char, kKeyBytes>;

  // The latest last_access of key (pending or persisted), or 0.
  int64_t Find(absl::string_view key);
  // Raises key's entry to at least last_access_ms; a raise past the
  // persisted value makes it pending. A `replicated` raise of a key with
  // a persisted value or a stored record counts as persisted (its maker
  // persists it).
  void Raise(absl::string_view key, int64_t last_access_ms,
             bool replicated = false);
  // A record of key was written here (the sweep sees the key until it
  // deletes the record, and Forgets it then).
  void RecordStored(absl::string_view key);
  // Every pending entry with its latest value. They stay pending until
  // Settle (the write succeeded) or Requeue (it failed).
  std::vector<std::pair<Key, int64_t>> Snapshot();
  // The entries were persisted: those not raised since the snapshot stop
  // being pending.
  void Settle(const std::vector<std::pair<Key, int64_t>>& entries);
  // The entries were not persisted: the next snapshot takes them again.
  void Requeue(const std::vector<std::pair<Key, int64_t>>& entries);
  // A value read from the access column family.
  void Load(absl::string_view key, int64_t last_access_ms);
  // The key was deleted from storage.
  void Forget(absl::string_view key);
  // Pending entries (and, until the next snapshot, deleted ones that were).
  int64_t Size();

 private:
  static constexpr int kShards = 64;
  struct Entry {
    int64_t latest = 0;
    // At most latest; below it while pending. Persisted here, or by the
    // replica that made a replicated touch.
    int64_t persisted = 0;
    bool queued = false;    // in the shard's queue
    bool stored = false;    // this process wrote a record of the key
  };
  // Keys end in a SHA-256 digest: eight of its bytes are a uniform hash.
  struct KeyHash {
    size_t operator()(const Key& key) const;
  };
  struct Shard {
    absl::Mutex mu;
    absl::flat_hash_map<Key, Entry, KeyHash> entries ABSL_GUARDED_BY(mu);
    // Keys of pending entries, each once, for the next snapshot.
    std::vector<Key> queue ABSL_GUARDED_BY(mu);
  };
  // Settle (written) or Requeue (not written).
  void Finish(const std::vector<std::pair<Key, int64_t>>& entries,
              bool written);
  static bool ToKey(absl::string_view bytes, Key* key);
  Shard& ShardFor(const Key& key);
  // Queues entry (of key) if it is pending and not queued yet.
  static void QueueIfPending(Shard& shard, const Key& key, Entry& entry)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(shard.mu);
  Shard shards_[kShards];
};

}  // namespace sesh

#endif  // SESH_NODE_TOUCH_TABLE_H_
