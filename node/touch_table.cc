#include "node/touch_table.h"

#include <algorithm>
#include <cstring>

namespace sesh {

size_t TouchTable::KeyHash::operator()(const Key& key) const {
  uint64_t h;
  memcpy(&h, key.data() + 4, sizeof(h));
  return static_cast<size_t>(h);
}

bool TouchTable::ToKey(absl::string_view bytes, Key* key) {
  if (bytes.size() != kKeyBytes) return false;
  memcpy(key->data(), bytes.data(), kKeyBytes);
  return true;
}

TouchTable::Shard& TouchTable::ShardFor(
    const Key& key) {
  return shards_[static_cast<unsigned char>(key.back()) % kShards];
}

void TouchTable::QueueIfPending(Shard& shard, const Key& key,
                                              Entry& entry) {
  if (entry.queued || entry.latest <= entry.persisted) return;
  entry.queued = true;
  shard.queue.push_back(key);
}

int64_t TouchTable::Find(absl::string_view bytes) {
  Key key;
  if (!ToKey(bytes, &key)) return 0;
  Shard& shard = ShardFor(key);
  absl::MutexLock lock(&shard.mu);
  auto it = shard.entries.find(key);
  return it == shard.entries.end() ? 0 : it->second.latest;
}

void TouchTable::Raise(absl::string_view bytes,
                                     int64_t last_access_ms, bool replicated) {
  Key key;
  if (!ToKey(bytes, &key)) return;
  Shard& shard = ShardFor(key);
  absl::MutexLock lock(&shard.mu);
  Entry& entry = shard.entries[key];
  if (last_access_ms <= entry.latest) return;
  entry.latest = last_access_ms;
  // Once the key has a record or a persisted last access here, the sweep
  // sees it and a replicated touch needs no write; before, it is written,
  // or a touch that arrived without its session would never be swept.
  if (replicated && (entry.stored || entry.persisted > 0)) {
    entry.persisted = last_access_ms;
  }
  QueueIfPending(shard, key, entry);
}

void TouchTable::RecordStored(absl::string_view bytes) {
  Key key;
  if (!ToKey(bytes, &key)) return;
  Shard& shard = ShardFor(key);
  absl::MutexLock lock(&shard.mu);
  shard.entries[key].stored = true;
}

std::vector<std::pair<TouchTable::Key, int64_t>>
TouchTable::Snapshot() {
  std::vector<std::pair<Key, int64_t>> out;
  for (Shard& shard : shards_) {
    absl::MutexLock lock(&shard.mu);
    for (const Key& key : shard.queue) {
      auto it = shard.entries.find(key);
      if (it == shard.entries.end()) continue;  // forgotten since
      it->second.queued = false;
      if (it->second.latest > it->second.persisted) {
        out.emplace_back(key, it->second.latest);
      }
    }
    shard.queue.clear();
  }
  return out;
}

void TouchTable::Settle(
    const std::vector<std::pair<Key, int64_t>>& entries) {
  Finish(entries, /*written=*/true);
}

void TouchTable::Requeue(
    const std::vector<std::pair<Key, int64_t>>& entries) {
  Finish(entries, /*written=*/false);
}

void TouchTable::Finish(
    const std::vector<std::pair<Key, int64_t>>& entries, bool written) {
  for (const auto& [key, last_access] : entries) {
    Shard& shard = ShardFor(key);
    absl::MutexLock lock(&shard.mu);
    auto it = shard.entries.find(key);
    if (it == shard.entries.end()) continue;  // forgotten since
    Entry& entry = it->second;
    if (written) entry.persisted = std::max(entry.persisted, last_access);
    // Still pending: not written, or raised since the snapshot.
    QueueIfPending(shard, key, entry);
  }
}

void TouchTable::Load(absl::string_view bytes,
                                    int64_t last_access_ms) {
  Key key;
  if (!ToKey(bytes, &key)) return;
  Shard& shard = ShardFor(key);
  absl::MutexLock lock(&shard.mu);
  Entry& entry = shard.entries[key];
  entry.persisted = std::max(entry.persisted, last_access_ms);
  entry.latest = std::max(entry.latest, entry.persisted);
}

void TouchTable::Forget(absl::string_view bytes) {
  Key key;
  if (!ToKey(bytes, &key)) return;
  Shard& shard = ShardFor(key);
  absl::MutexLock lock(&shard.mu);
  shard.entries.erase(key);  // a queued copy of the key is skipped
}

int64_t TouchTable::Size() {
  int64_t n = 0;
  for (Shard& shard : shards_) {
    absl::MutexLock lock(&shard.mu);
    n += static_cast<int64_t>(shard.queue.size());
  }
  return n;
}

}  // namespace sesh
