// SessionStore's replication side (the ReplicaStore calls: peers' states
// and touches merged in, raw reads, scans by partition for catch-up and
// anti-entropy) and the sweep, which reclaims expired records and
// tombstones over the same scans. The local side is in
// node/session_store.cc.

#include "node/session_store.h"

#include <algorithm>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "node/store_keys.h"
#include "replication/merge.h"
#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"

namespace sesh {

absl::Status SessionStore::MergeTouch(absl::string_view raw_id,
                                      int64_t last_access_ms) {
  if (raw_id.size() != 32) {
    return absl::InvalidArgumentError("replicated touch without a valid id");
  }
  touches_.Raise(StorageKey(raw_id), last_access_ms, /*replicated=*/true);
  return absl::OkStatus();
}

absl::StatusOr<std::string> SessionStore::AdmitReplicated(
    const Record& incoming) {
  if (incoming.id().size() != 32) {
    return absl::InvalidArgumentError("replicated record without a valid id");
  }
  // A stamp far ahead of this node's clock is refused, record and all.
  absl::Status observed = hlc_.Observe(incoming.version());
  if (!observed.ok()) return observed;
  return StorageKey(incoming.id());
}

absl::StatusOr<Record> SessionStore::Merge(const Record& incoming) {
  if (options_.blind_replica_merges) {
    return std::move(MergeAll({&incoming}).front());
  }
  absl::StatusOr<std::string> admitted = AdmitReplicated(incoming);
  if (!admitted.ok()) return admitted.status();
  const std::string& key = *admitted;
  absl::MutexLock lock(&StripeFor(key));
  absl::StatusOr<std::optional<Record>> stored = ReadKey(key);
  if (!stored.ok()) return stored.status();
  if (stored->has_value()) ObserveStored(**stored);
  Record merged =
      stored->has_value() ? sesh::Merge(**stored, incoming) : incoming;
  if (stored->has_value() && SameState(**stored, merged)) return merged;
  std::vector<std::string> index_puts, index_deletes;
  // A destroy of a session this node indexed drops the index entry, even
  // when the merged creation fields name another (or no) user.
  if (merged.destroyed() && stored->has_value() &&
      !(*stored)->user_id().empty() && !(*stored)->destroyed()) {
    index_deletes.push_back(IndexKey(**stored));
  }
  if (!merged.user_id().empty()) {
    if (merged.destroyed()) {
      index_deletes.push_back(IndexKey(merged));
    } else {
      index_puts.push_back(IndexKey(merged));
    }
  }
  absl::Status s = Write({merged}, index_puts, index_deletes);
  if (!s.ok()) return s;
  return merged;
}

std::vector<absl::StatusOr<Record>> SessionStore::MergeAll(
    const std::vector<const Record*>& incoming) {
  std::vector<absl::StatusOr<Record>> results;
  results.reserve(incoming.size());
  if (!options_.blind_replica_merges) {
    for (const Record* record : incoming) results.push_back(Merge(*record));
    return results;
  }
  // One write for all of them, under every stripe they need, taken in
  // address order as Rotate takes its two.
  std::vector<std::string> keys(incoming.size());
  std::vector<absl::Mutex*> stripes;
  for (size_t i = 0; i < incoming.size(); ++i) {
    absl::StatusOr<std::string> admitted = AdmitReplicated(*incoming[i]);
    if (!admitted.ok()) {
      results.push_back(admitted.status());
      continue;
    }
    keys[i] = *std::move(admitted);
    stripes.push_back(&StripeFor(keys[i]));
    results.push_back(*incoming[i]);
  }
  std::sort(stripes.begin(), stripes.end());
  stripes.erase(std::unique(stripes.begin(), stripes.end()), stripes.end());
  for (absl::Mutex* stripe : stripes) stripe->Lock();
  rocksdb::WriteBatch batch;
  absl::Status s;
  for (size_t i = 0; i < incoming.size() && s.ok(); ++i) {
    if (results[i].ok()) s = AddBlindMerge(keys[i], *incoming[i], &batch);
  }
  if (s.ok() && batch.Count() > 0) {
    rocksdb::WriteOptions write_options;
    write_options.sync = options_.sync_writes;
    s = FromRocks(db_->Write(write_options, &batch),
                  "merging replicated sessions");
  }
  if (s.ok()) {
    for (size_t i = 0; i < incoming.size(); ++i) {
      if (results[i].ok()) touches_.RecordStored(keys[i]);
    }
  }
  for (auto it = stripes.rbegin(); it != stripes.rend(); ++it) (*it)->Unlock();
  if (!s.ok()) {
    for (absl::StatusOr<Record>& result : results) {
      if (result.ok()) result = s;
    }
  }
  return results;
}

absl::Status SessionStore::AddBlindMerge(const std::string& key,
                                         const Record& incoming,
                                         rocksdb::WriteBatch* batch) {
  // The user index follows the incoming state; an entry left for a session
  // destroyed meanwhile is skipped by ListByUser (it checks the record) and
  // dropped by the sweep. A destroy (rare) reads the stored copy once, so
  // that a tombstone naming no user still drops the entry of the user this
  // node indexed.
  if (incoming.destroyed()) {
    absl::StatusOr<std::optional<Record>> stored = ReadKey(key);
    if (!stored.ok()) return stored.status();
    if (stored->has_value() && !(*stored)->user_id().empty() &&
        !(*stored)->destroyed()) {
      batch->Delete(by_user_cf_, IndexKey(**stored));
    }
  }
  if (!incoming.user_id().empty()) {
    if (incoming.destroyed()) {
      batch->Delete(by_user_cf_, IndexKey(incoming));
    } else {
      batch->Put(by_user_cf_, IndexKey(incoming), "");
    }
  }
  batch->Merge(sessions_cf_, key, incoming.SerializeAsString());
  return absl::OkStatus();
}

absl::StatusOr<std::optional<Record>> SessionStore::ReadRaw(
    absl::string_view raw_id) {
  return ReadKey(StorageKey(raw_id));
}

absl::Status SessionStore::ForEachInPartitions(
    uint32_t first, uint32_t last, absl::string_view after_key,
    const std::function<bool(const std::string& key, const Record&)>& fn) {
  const std::string start = PartitionPrefix(first);
  const rocksdb::Slice after(after_key.data(), after_key.size());
  // Records and last-access entries, walked together in key order (both
  // column families use the same keys): every key of either is visited once,
  // so that touches without a record are seen too. Their values need not be
  // read: the touch table holds every persisted one.
  // A scan (sweep, catch-up) reads every block once: it must not evict
  // the sessions being served from the block cache, and reads ahead.
  rocksdb::ReadOptions scan;
  scan.fill_cache = false;
  scan.readahead_size = 1 << 20;
  std::unique_ptr<rocksdb::Iterator> records(
      db_->NewIterator(scan, sessions_cf_));
  std::unique_ptr<rocksdb::Iterator> access(
      db_->NewIterator(scan, access_cf_));
  for (rocksdb::Iterator* it : {records.get(), access.get()}) {
    if (after_key.empty()) {
      it->Seek(start);
    } else {
      it->Seek(after);
      if (it->Valid() && it->key() == after) it->Next();
    }
  }
  auto in_range = [&](rocksdb::Iterator* it) {
    return it->Valid() &&
           PartitionOfKey(absl::string_view(it->key().data(),
                                            it->key().size())) <= last;
  };
  while (in_range(records.get()) || in_range(access.get())) {
    const bool has_record = in_range(records.get());
    const bool has_access = in_range(access.get());
    int order = 0;  // <0: the record's key comes first
    if (has_record && has_access) {
      order = records->key().compare(access->key());
    } else {
      order = has_record ? -1 : 1;
    }
    Record record;
    std::string key;
    if (order <= 0) {
      key = records->key().ToString();
      if (!record.ParseFromArray(records->value().data(),
                                 static_cast<int>(records->value().size()))) {
        return absl::DataLossError("a stored session record does not parse");
      }
      records->Next();
    } else {
      key = access->key().ToString();  // a touch without a record
    }
    if (order >= 0) access->Next();
    ApplyTouch(key, &record);
    if (!fn(key, record)) break;
  }
  absl::Status s = FromRocks(records->status(), "scanning sessions");
  if (!s.ok()) return s;
  return FromRocks(access->status(), "scanning last accesses");
}

bool SessionStore::Reclaimable(const Record& record, int64_t now_ms) const {
  if (record.id().empty()) {  // a lone touch
    return now_ms >= record.last_access_ms() + options_.expired_grace_ms;
  }
  if (record.destroyed()) {
    return now_ms >=
           record.absolute_deadline_ms() + options_.tombstone_margin_ms;
  }
  return now_ms >= ExpiresAtMs(record) + options_.expired_grace_ms;
}

absl::StatusOr<int64_t> SessionStore::Sweep(uint32_t first, uint32_t last) {
  const int64_t now = clock_->NowMs();
  std::vector<std::string> candidates;
  absl::Status s = ForEachInPartitions(
      first, last, "", [&](const std::string& key, const Record& record) {
        if (Reclaimable(record, now)) candidates.push_back(key);
        return true;
      });
  if (!s.ok()) return s;
  int64_t deleted = 0;
  for (const std::string& key : candidates) {
    absl::MutexLock lock(&StripeFor(key));
    // Re-check under the lock: a replica may have merged a newer touch.
    absl::StatusOr<std::optional<Record>> stored =
        ReadKey(key, /*include_lone_touches=*/true);
    if (!stored.ok()) return stored.status();
    if (!stored->has_value()) continue;
    const Record& record = **stored;
    if (!Reclaimable(record, now)) continue;
    rocksdb::WriteBatch batch;
    batch.Delete(sessions_cf_, key);
    batch.Delete(access_cf_, key);
    if (!record.user_id().empty()) batch.Delete(by_user_cf_, IndexKey(record));
    s = FromRocks(db_->Write(rocksdb::WriteOptions(), &batch),
                  "deleting expired sessions");
    if (!s.ok()) return s;
    touches_.Forget(key);
    ++deleted;
  }
  records_swept_.fetch_add(static_cast<uint64_t>(deleted));
  return deleted;
}

absl::StatusOr<int64_t> SessionStore::DropPartitions(
    uint32_t first, uint32_t last,
    const std::function<bool(uint32_t partition)>& drop) {
  std::vector<std::string> candidates;
  absl::Status s = ForEachInPartitions(
      first, last, "", [&](const std::string& key, const Record&) {
        if (drop(PartitionOfKey(key))) candidates.push_back(key);
        return true;
      });
  if (!s.ok()) return s;
  int64_t deleted = 0;
  for (const std::string& key : candidates) {
    absl::MutexLock lock(&StripeFor(key));
    if (!drop(PartitionOfKey(key))) continue;
    absl::StatusOr<std::optional<Record>> stored =
        ReadKey(key, /*include_lone_touches=*/true);
    if (!stored.ok()) return stored.status();
    if (!stored->has_value()) continue;
    rocksdb::WriteBatch batch;
    batch.Delete(sessions_cf_, key);
    batch.Delete(access_cf_, key);
    if (!(*stored)->user_id().empty()) {
      batch.Delete(by_user_cf_, IndexKey(**stored));
    }
    s = FromRocks(db_->Write(rocksdb::WriteOptions(), &batch),
                  "deleting records of partitions moved away");
    if (!s.ok()) return s;
    touches_.Forget(key);
    ++deleted;
  }
  return deleted;
}

}  // namespace sesh
