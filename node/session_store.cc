// SessionStore's local side: opening and closing RocksDB, the calls a
// client's request makes, touches and their persistence, and storage
// statistics. The replication side and the sweep are in
// node/session_store_replication.cc.

#include "node/session_store.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "node/limits.h"
#include "node/record_merge_operator.h"
#include "node/store_keys.h"
#include "rocksdb/cache.h"
#include "rocksdb/db.h"
#include "rocksdb/env.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/options.h"
#include "rocksdb/table.h"
#include "rocksdb/write_batch.h"
#include "xxhash.h"
#include "util/log.h"

namespace sesh {
namespace {

constexpr char kSessionsCf[] = "sessions";
constexpr char kByUserCf[] = "by_user";
// last_access of touched sessions, apart from the records: see
// SessionStore::access_cf_.
constexpr char kAccessCf[] = "access";
// In the default column family: the hybrid clock's latest stamp, persisted
// with the touches, so that a restarted node never stamps below it.
constexpr char kClockKey[] = "hlc";

absl::Status NotFound() { return absl::NotFoundError("session not found"); }

}  // namespace

bool IsLive(const Record& record, int64_t now_ms) {
  return !record.destroyed() && !record.id().empty() &&
         now_ms < record.last_access_ms() + record.idle_timeout_ms() &&
         now_ms < record.absolute_deadline_ms();
}

int64_t ExpiresAtMs(const Record& record) {
  return std::min(record.last_access_ms() + record.idle_timeout_ms(),
                  record.absolute_deadline_ms());
}

SessionStore::SessionStore(const StoreOptions& options, Clock* clock)
    : options_(options),
      clock_(clock),
      hlc_(clock, options.max_clock_ahead_ms),
      stripes_(new absl::Mutex[kStripes]),
      user_stripes_(new absl::Mutex[kStripes]) {
  static_assert(kStorageKeyBytes == TouchTable::kKeyBytes,
                "the touch table holds storage keys inline");
}

absl::Status SessionStore::FromRocks(const rocksdb::Status& s,
                                     absl::string_view what) {
  if (s.ok()) return absl::OkStatus();
  return absl::InternalError(absl::StrCat(what, ": ", s.ToString()));
}

absl::StatusOr<std::unique_ptr<SessionStore>> SessionStore::Open(
    const StoreOptions& options, Clock* clock) {
  std::unique_ptr<SessionStore> store(new SessionStore(options, clock));

  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  // Point lookups only: index and filter blocks stay in memory (outside the
  // cache, a few bytes per session), and data blocks carry a hash index so a
  // lookup inside a block is one probe instead of a binary search.
  table.cache_index_and_filter_blocks = false;
  table.data_block_index_type =
      rocksdb::BlockBasedTableOptions::kDataBlockBinaryAndHash;
  table.data_block_hash_table_util_ratio = 0.75;
  rocksdb::ColumnFamilyOptions cf;
  cf.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  cf.write_buffer_size = 32 << 20;
  // A bloom filter over the memtable: most reads are of sessions that are
  // not in it, and skip its skiplist search.
  cf.memtable_prefix_bloom_size_ratio = 0.02;
  cf.memtable_whole_key_filtering = true;
  rocksdb::ColumnFamilyOptions access_cf = cf;
  access_cf.merge_operator = NewMaxAccessMergeOperator();
  rocksdb::ColumnFamilyOptions sessions_cf = cf;
  sessions_cf.merge_operator = NewRecordMergeOperator();

  // Compactions yield the CPU to request threads (nice 19): on a small
  // machine their bursts otherwise show in tail latency. Process-wide.
  rocksdb::Env::Default()->LowerThreadPoolCPUPriority(
      rocksdb::Env::Priority::LOW, rocksdb::CpuPriority::kLow);
  rocksdb::DBOptions db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  db_options.max_background_jobs = 2;

  std::vector<rocksdb::ColumnFamilyDescriptor> families = {
      {rocksdb::kDefaultColumnFamilyName, cf},
      {kSessionsCf, sessions_cf},
      {kByUserCf, rocksdb::ColumnFamilyOptions()},
      {kAccessCf, access_cf},
  };
  rocksdb::DB* db = nullptr;
  absl::Status s = FromRocks(
      rocksdb::DB::Open(db_options, options.path, families, &store->handles_,
                        &db),
      absl::StrCat("opening RocksDB at ", options.path));
  if (!s.ok()) return s;
  store->db_.reset(db);
  store->sessions_cf_ = store->handles_[1];
  store->by_user_cf_ = store->handles_[2];
  store->access_cf_ = store->handles_[3];
  std::string stamp;
  rocksdb::Status clock_read =
      db->Get(rocksdb::ReadOptions(), store->handles_[0], kClockKey, &stamp);
  if (!clock_read.ok() && !clock_read.IsNotFound()) {
    return FromRocks(clock_read, "reading the persisted clock");
  }
  if (clock_read.ok()) {
    store->hlc_.Seed(static_cast<uint64_t>(DecodeAccess(stamp)));
    absl::MutexLock lock(&store->persist_mu_);
    store->persisted_stamp_ = store->hlc_.Last();
  }
  // Every persisted last_access into memory: reads take it from there.
  std::unique_ptr<rocksdb::Iterator> access(
      db->NewIterator(rocksdb::ReadOptions(), store->access_cf_));
  for (access->SeekToFirst(); access->Valid(); access->Next()) {
    store->touches_.Load(
        absl::string_view(access->key().data(), access->key().size()),
        DecodeAccess(access->value()));
  }
  s = FromRocks(access->status(), "loading last accesses");
  access.reset();
  if (!s.ok()) return s;
  return store;
}

SessionStore::~SessionStore() {
  if (db_ == nullptr) return;
  absl::StatusOr<int64_t> persisted = PersistTouches();
  if (!persisted.ok()) {
    LogWarning("store", "touches not persisted at close: %s",
               persisted.status().ToString().c_str());
  }
  rocksdb::FlushOptions flush;
  db_->Flush(flush, handles_);
  for (rocksdb::ColumnFamilyHandle* handle : handles_) {
    db_->DestroyColumnFamilyHandle(handle);
  }
  db_->Close();
}

absl::Mutex& SessionStore::StripeFor(absl::string_view key) {
  return stripes_[XXH3_64bits(key.data(), key.size()) % kStripes];
}

absl::Status SessionStore::ValidateAttributes(const Record& session) const {
  return CheckSessionSize(session, options_.limits);
}

absl::Status SessionStore::ValidateCreate(const CreateArgs& args) const {
  const Limits& limits = options_.limits;
  absl::Status s =
      CheckName("namespace", args.ns, limits.max_namespace_bytes, true);
  if (!s.ok()) return s;
  s = CheckName("user_id", args.user_id, limits.max_user_id_bytes, false);
  if (!s.ok()) return s;
  if (args.idle_timeout_ms <= 0 ||
      args.idle_timeout_ms > limits.max_idle_timeout_ms) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "idle_timeout_ms must be in (0, %d] (max_idle_timeout_ms)",
        limits.max_idle_timeout_ms));
  }
  if (args.absolute_ttl_ms < 0 ||
      args.absolute_ttl_ms > limits.max_absolute_ttl_ms) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "absolute_ttl_ms must be in [0, %d] (max_absolute_ttl_ms)",
        limits.max_absolute_ttl_ms));
  }
  Record probe;
  probe.set_namespace_(args.ns);
  probe.set_user_id(args.user_id);
  s = CheckAttributeSizes(args.attributes, limits);
  if (!s.ok()) return s;
  for (const auto& [key, value] : args.attributes) {
    (*probe.mutable_attributes())[key].set_value(value);
  }
  return ValidateAttributes(probe);
}

absl::StatusOr<std::optional<Record>> SessionStore::ReadKey(
    const std::string& key, bool include_lone_touches) {
  std::string value;
  rocksdb::Status s =
      db_->Get(rocksdb::ReadOptions(), sessions_cf_, key, &value);
  // Without a record, only the sweep wants to see a touch (to reclaim it).
  if (s.IsNotFound() && !include_lone_touches) return std::optional<Record>();
  if (!s.ok() && !s.IsNotFound()) return FromRocks(s, "reading a session");
  const bool has_record = s.ok();
  Record record;
  if (has_record && !record.ParseFromString(value)) {
    return absl::DataLossError("a stored session record does not parse");
  }
  // The touch table holds every persisted last_access too.
  ApplyTouch(key, &record);
  if (!has_record && record.last_access_ms() == 0) {
    return std::optional<Record>();
  }
  if (record.id().empty() && !include_lone_touches) {
    return std::optional<Record>();  // a lone touch: no session here
  }
  return std::optional<Record>(std::move(record));
}

absl::StatusOr<Record> SessionStore::ReadLive(absl::string_view ns,
                                              const std::string& key,
                                              int64_t now_ms) {
  absl::StatusOr<std::optional<Record>> stored = ReadKey(key);
  if (!stored.ok()) return stored.status();
  if (!stored->has_value() || !IsLive(**stored, now_ms) ||
      (*stored)->namespace_() != ns) {
    return NotFound();
  }
  return std::move(**stored);
}

std::string SessionStore::IndexKey(const Record& record) const {
  return absl::StrCat(UserPrefix(record.namespace_(), record.user_id()),
                      StorageKey(record.id()));
}

absl::Status SessionStore::Write(
    const std::vector<Record>& puts,
    const std::vector<std::string>& index_puts,
    const std::vector<std::string>& index_deletes) {
  rocksdb::WriteBatch batch;
  std::vector<std::string> keys;
  keys.reserve(puts.size());
  for (const Record& record : puts) {
    keys.push_back(StorageKey(record.id()));
    batch.Put(sessions_cf_, keys.back(), record.SerializeAsString());
  }
  for (const std::string& key : index_puts) batch.Put(by_user_cf_, key, "");
  for (const std::string& key : index_deletes) batch.Delete(by_user_cf_, key);
  rocksdb::WriteOptions write_options;
  write_options.sync = options_.sync_writes;
  absl::Status s =
      FromRocks(db_->Write(write_options, &batch), "writing sessions");
  if (!s.ok()) return s;
  for (const std::string& key : keys) touches_.RecordStored(key);
  return s;
}

absl::Status SessionStore::CountUserSessions(absl::string_view ns,
                                             absl::string_view user_id,
                                             int64_t now_ms, int* count) {
  *count = 0;
  std::string prefix = UserPrefix(ns, user_id);
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(rocksdb::ReadOptions(), by_user_cf_));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix);
       it->Next()) {
    std::string key = it->key().ToString().substr(prefix.size());
    absl::StatusOr<std::optional<Record>> stored = ReadKey(key);
    if (!stored.ok()) return stored.status();
    if (stored->has_value() && IsLive(**stored, now_ms)) ++*count;
  }
  return FromRocks(it->status(), "scanning the user index");
}

absl::StatusOr<Record> SessionStore::Create(absl::string_view raw_id,
                                            const CreateArgs& args) {
  absl::Status s = ValidateCreate(args);
  if (!s.ok()) return s;
  if (raw_id.size() != 32) return absl::InvalidArgumentError("bad raw id");
  const std::string key = StorageKey(raw_id);

  std::optional<absl::MutexLock> user_lock;
  if (!args.user_id.empty()) {
    std::string user_key = UserPrefix(args.ns, args.user_id);
    user_lock.emplace(
        &user_stripes_[XXH3_64bits(user_key.data(), user_key.size()) %
                       kStripes]);
  }
  absl::MutexLock lock(&StripeFor(key));
  const int64_t now = clock_->NowMs();
  if (!args.user_id.empty()) {
    int count = 0;
    s = CountUserSessions(args.ns, args.user_id, now, &count);
    if (!s.ok()) return s;
    if (count >= options_.limits.max_sessions_per_user) {
      return absl::ResourceExhaustedError(absl::StrFormat(
          "max_sessions_per_user: the user already has %d sessions", count));
    }
  }
  absl::StatusOr<std::optional<Record>> existing = ReadKey(key);
  if (!existing.ok()) return existing.status();
  if (existing->has_value()) {
    return absl::AlreadyExistsError("session id already in use");
  }

  Record record;
  const uint64_t stamp = hlc_.Now();
  record.set_id(std::string(raw_id));
  record.set_namespace_(args.ns);
  record.set_user_id(args.user_id);
  record.set_created_at_ms(now);
  record.set_last_access_ms(now);
  record.set_idle_timeout_ms(args.idle_timeout_ms);
  record.set_absolute_deadline_ms(
      now + (args.absolute_ttl_ms > 0 ? args.absolute_ttl_ms
                                      : options_.limits.max_absolute_ttl_ms));
  record.set_version(stamp);
  for (const auto& [k, v] : args.attributes) {
    internal::Attribute& attr = (*record.mutable_attributes())[k];
    attr.set_value(v);
    attr.set_hlc(stamp);
    attr.set_writer(options_.writer_tag);
  }
  std::vector<std::string> index_puts;
  if (!record.user_id().empty()) index_puts.push_back(IndexKey(record));
  s = Write({record}, index_puts, {});
  if (!s.ok()) return s;
  sessions_created_.fetch_add(1, std::memory_order_relaxed);
  return record;
}

absl::StatusOr<Record> SessionStore::Get(absl::string_view ns,
                                         absl::string_view raw_id,
                                         bool touch) {
  const std::string key = StorageKey(raw_id);
  const int64_t now = clock_->NowMs();
  absl::StatusOr<Record> record = ReadLive(ns, key, now);
  if (!record.ok() || !touch) return record;
  touches_requested_.fetch_add(1, std::memory_order_relaxed);
  if (!NeedsTouchWrite(*record, now)) return record;
  touches_written_.fetch_add(1, std::memory_order_relaxed);
  touches_.Raise(key, now);
  record->set_last_access_ms(now);
  return record;
}

absl::StatusOr<int64_t> SessionStore::PersistTouches() {
  absl::MutexLock lock(&persist_mu_);
  std::vector<std::pair<TouchTable::Key, int64_t>> entries =
      touches_.Snapshot();
  const uint64_t stamp = hlc_.Last();
  const bool clock_moved = stamp > persisted_stamp_;
  if (entries.empty() && !clock_moved) {
    last_persist_ms_.store(clock_->NowMs());  // nothing was pending
    return 0;
  }
  // In key order: the memtable's skiplist then finds each insert position
  // from the previous one instead of searching from its top, which made
  // random-order batches the dominant cost of a touch.
  std::sort(entries.begin(), entries.end());
  rocksdb::WriteBatch batch;
  for (const auto& [key, last_access] : entries) {
    batch.Merge(access_cf_, rocksdb::Slice(key.data(), key.size()),
                EncodeAccess(last_access));
  }
  if (clock_moved) {
    batch.Put(handles_[0], kClockKey,
              EncodeAccess(static_cast<int64_t>(stamp)));
  }
  rocksdb::WriteOptions write_options;
  write_options.sync = options_.sync_writes;
  absl::Status s =
      FromRocks(db_->Write(write_options, &batch), "persisting touches");
  if (!s.ok()) {
    touches_.Requeue(entries);
    return s;
  }
  persisted_stamp_ = stamp;
  touches_.Settle(entries);
  last_persist_ms_.store(clock_->NowMs());
  return static_cast<int64_t>(entries.size());
}

int64_t SessionStore::PendingTouches() { return touches_.Size(); }

void SessionStore::ApplyTouch(absl::string_view key, Record* record) {
  const int64_t touched = touches_.Find(key);
  if (touched > record->last_access_ms()) record->set_last_access_ms(touched);
}

bool SessionStore::NeedsTouchWrite(const Record& record, int64_t now_ms) const {
  return now_ms - record.last_access_ms() >= TouchWriteThreshold(record);
}

std::vector<absl::StatusOr<Record>> SessionStore::GetMany(
    absl::string_view ns, const std::vector<std::string>& raw_ids,
    bool touch) {
  const size_t n = raw_ids.size();
  std::vector<std::string> keys(n);
  std::vector<rocksdb::Slice> key_slices(n);
  std::vector<rocksdb::ColumnFamilyHandle*> families(n, sessions_cf_);
  for (size_t i = 0; i < n; ++i) {
    keys[i] = StorageKey(raw_ids[i]);
    key_slices[i] = keys[i];
  }
  std::vector<std::string> values(n);
  std::vector<rocksdb::Status> statuses =
      db_->MultiGet(rocksdb::ReadOptions(), families, key_slices, &values);
  const int64_t now = clock_->NowMs();
  std::vector<absl::StatusOr<Record>> out;
  out.reserve(n);
  uint64_t requested = 0, written = 0;  // one atomic add per batch
  for (size_t i = 0; i < n; ++i) {
    if (statuses[i].IsNotFound()) {
      out.push_back(NotFound());
      continue;
    }
    if (!statuses[i].ok()) {
      out.push_back(FromRocks(statuses[i], "reading a session"));
      continue;
    }
    Record record;
    if (!record.ParseFromString(values[i])) {
      out.push_back(absl::DataLossError("a stored session record does not parse"));
      continue;
    }
    ApplyTouch(keys[i], &record);
    if (!IsLive(record, now) || record.namespace_() != ns) {
      out.push_back(NotFound());
      continue;
    }
    if (record.id().empty()) {  // a lone touch
      out.push_back(NotFound());
      continue;
    }
    if (touch) ++requested;
    if (touch && NeedsTouchWrite(record, now)) {
      ++written;
      touches_.Raise(keys[i], now);
      record.set_last_access_ms(now);
    }
    out.push_back(std::move(record));
  }
  if (requested > 0) {
    touches_requested_.fetch_add(requested, std::memory_order_relaxed);
    touches_written_.fetch_add(written, std::memory_order_relaxed);
  }
  return out;
}

absl::StatusOr<Record> SessionStore::Touch(absl::string_view ns,
                                           absl::string_view raw_id) {
  return Get(ns, raw_id, /*touch=*/true);
}

absl::StatusOr<Record> SessionStore::Update(absl::string_view ns,
                                            absl::string_view raw_id,
                                            const UpdateArgs& args) {
  absl::Status valid = CheckAttributeSizes(args.set, options_.limits);
  if (!valid.ok()) return valid;
  for (const std::string& k : args.remove) {
    if (args.set.count(k) > 0) {
      return absl::InvalidArgumentError(
          "an attribute cannot be both set and removed in one update");
    }
  }

  const std::string key = StorageKey(raw_id);
  absl::MutexLock lock(&StripeFor(key));
  const int64_t now = clock_->NowMs();
  absl::StatusOr<Record> record = ReadLive(ns, key, now);
  if (!record.ok()) return record;
  ObserveStored(*record);
  if (args.expected_version != 0 &&
      args.expected_version != record->version()) {
    return absl::AbortedError(absl::StrFormat(
        "version mismatch: the session is at version %d", record->version()));
  }
  const uint64_t stamp = hlc_.Now();
  for (const auto& [k, v] : args.set) {
    internal::Attribute& attr = (*record->mutable_attributes())[k];
    attr.set_value(v);
    attr.set_hlc(stamp);
    attr.set_writer(options_.writer_tag);
    attr.set_removed(false);
  }
  for (const std::string& k : args.remove) {
    auto it = record->mutable_attributes()->find(k);
    if (it == record->mutable_attributes()->end() || it->second.removed()) {
      continue;
    }
    it->second.clear_value();
    it->second.set_hlc(stamp);
    it->second.set_writer(options_.writer_tag);
    it->second.set_removed(true);
  }
  absl::Status s = ValidateAttributes(*record);
  if (!s.ok()) return s;
  record->set_version(stamp);
  if (args.touch) {
    record->set_last_access_ms(std::max(record->last_access_ms(), now));
  }
  s = Write({*record}, {}, {});
  if (!s.ok()) return s;
  return record;
}

Record SessionStore::NewTombstone(const Record& live) {
  Record tombstone = live;
  tombstone.clear_attributes();
  tombstone.set_destroyed(true);
  tombstone.set_version(hlc_.Now());
  return tombstone;
}

absl::StatusOr<std::optional<Record>> SessionStore::Destroy(
    absl::string_view ns, absl::string_view raw_id) {
  if (raw_id.size() != 32) return absl::InvalidArgumentError("bad raw id");
  const std::string key = StorageKey(raw_id);
  absl::MutexLock lock(&StripeFor(key));
  absl::StatusOr<std::optional<Record>> stored = ReadKey(key);
  if (!stored.ok()) return stored.status();
  if (!stored->has_value()) {
    // No copy here: other replicas may still hold the session live.
    Record tombstone = BlindTombstone(ns, raw_id);
    absl::Status s = Write({tombstone}, {}, {});
    if (!s.ok()) return s;
    sessions_destroyed_.fetch_add(1, std::memory_order_relaxed);
    return std::optional<Record>(std::move(tombstone));
  }
  const Record& record = **stored;
  if (record.namespace_() != ns) return std::optional<Record>();
  ObserveStored(record);
  // Already destroyed: the same tombstone again, for replicas that lack it.
  if (record.destroyed()) return std::optional<Record>(record);
  // Live or expired here alike: a replica may hold a later touch of it.
  Record tombstone = NewTombstone(record);
  std::vector<std::string> index_deletes;
  if (!record.user_id().empty()) index_deletes.push_back(IndexKey(record));
  absl::Status s = Write({tombstone}, {}, index_deletes);
  if (!s.ok()) return s;
  sessions_destroyed_.fetch_add(1, std::memory_order_relaxed);
  return std::optional<Record>(std::move(tombstone));
}

Record SessionStore::BlindTombstone(absl::string_view ns,
                                    absl::string_view raw_id) {
  Record tombstone;
  tombstone.set_id(std::string(raw_id));
  tombstone.set_namespace_(std::string(ns));
  // Sorts after every real creation time, so that merged with a real copy
  // the real creation fields (user, deadline) win (replication/merge.h).
  tombstone.set_created_at_ms(INT64_MAX);
  // No session with this id can outlive a deadline this far out: every
  // session was created before now with at most max_absolute_ttl_ms.
  tombstone.set_absolute_deadline_ms(clock_->NowMs() +
                                     options_.limits.max_absolute_ttl_ms);
  tombstone.set_destroyed(true);
  tombstone.set_version(hlc_.Now());
  return tombstone;
}

void SessionStore::ObserveStored(const Record& record) {
  hlc_.Observe(record.version()).IgnoreError();
}

absl::StatusOr<std::pair<Record, Record>> SessionStore::Rotate(
    absl::string_view ns, absl::string_view raw_id,
    absl::string_view new_raw_id) {
  const std::string key = StorageKey(raw_id);
  const std::string new_key = StorageKey(new_raw_id);
  // Two stripes, always taken in address order.
  absl::Mutex* first = &StripeFor(key);
  absl::Mutex* second = &StripeFor(new_key);
  if (second < first) std::swap(first, second);
  absl::MutexLock lock_first(first);
  std::optional<absl::MutexLock> lock_second;
  if (second != first) lock_second.emplace(second);

  const int64_t now = clock_->NowMs();
  absl::StatusOr<Record> record = ReadLive(ns, key, now);
  if (!record.ok()) return record.status();
  ObserveStored(*record);
  absl::StatusOr<std::optional<Record>> taken = ReadKey(new_key);
  if (!taken.ok()) return taken.status();
  if (taken->has_value()) {
    return absl::AlreadyExistsError("session id already in use");
  }
  Record moved = *record;
  moved.set_id(std::string(new_raw_id));
  moved.set_last_access_ms(std::max(moved.last_access_ms(), now));
  moved.set_version(hlc_.Now());
  Record tombstone = NewTombstone(*record);
  std::vector<std::string> index_puts, index_deletes;
  if (!record->user_id().empty()) {
    index_puts.push_back(IndexKey(moved));
    index_deletes.push_back(IndexKey(*record));
  }
  absl::Status s = Write({moved, tombstone}, index_puts, index_deletes);
  if (!s.ok()) return s;
  return std::make_pair(std::move(moved), std::move(tombstone));
}

absl::StatusOr<std::vector<Record>> SessionStore::ListByUser(
    absl::string_view ns, absl::string_view user_id) {
  std::vector<Record> out;
  const int64_t now = clock_->NowMs();
  std::string prefix = UserPrefix(ns, user_id);
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(rocksdb::ReadOptions(), by_user_cf_));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix);
       it->Next()) {
    std::string key = it->key().ToString().substr(prefix.size());
    absl::StatusOr<std::optional<Record>> stored = ReadKey(key);
    if (!stored.ok()) return stored.status();
    if (stored->has_value() && IsLive(**stored, now) &&
        (*stored)->namespace_() == ns && (*stored)->user_id() == user_id) {
      out.push_back(std::move(**stored));
    }
  }
  absl::Status s = FromRocks(it->status(), "scanning the user index");
  if (!s.ok()) return s;
  std::sort(out.begin(), out.end(), [](const Record& a, const Record& b) {
    return a.created_at_ms() < b.created_at_ms();
  });
  return out;
}

absl::StatusOr<std::vector<Record>> SessionStore::DestroyByUser(
    absl::string_view ns, absl::string_view user_id,
    absl::string_view except_raw_id) {
  absl::StatusOr<std::vector<Record>> sessions = ListByUser(ns, user_id);
  if (!sessions.ok()) return sessions.status();
  std::vector<Record> tombstones;
  for (const Record& session : *sessions) {
    if (session.id() == except_raw_id) continue;
    absl::StatusOr<std::optional<Record>> tombstone =
        Destroy(ns, session.id());
    if (!tombstone.ok()) return tombstone.status();
    if (tombstone->has_value()) tombstones.push_back(std::move(**tombstone));
  }
  return tombstones;
}

int64_t SessionStore::TouchWriteThreshold(const Record& record) const {
  return std::max<int64_t>(
      1, static_cast<int64_t>(options_.touch_write_fraction *
                              static_cast<double>(record.idle_timeout_ms())));
}

int64_t SessionStore::CountUserIndexForTesting() {
  int64_t count = 0;
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(rocksdb::ReadOptions(), by_user_cf_));
  for (it->SeekToFirst(); it->Valid(); it->Next()) ++count;
  return count;
}

int64_t SessionStore::CountStoredForTesting() {
  int64_t count = 0;
  ForEachInPartitions(0, UINT32_MAX, "",
                      [&count](const std::string&, const Record&) {
                        ++count;
                        return true;
                      })
      .IgnoreError();
  return count;
}

bool SessionStore::StorageBusy() {
  for (rocksdb::ColumnFamilyHandle* handle : handles_) {
    uint64_t value = 0;
    for (const char* property :
         {"rocksdb.compaction-pending", "rocksdb.mem-table-flush-pending"}) {
      if (db_->GetIntProperty(handle, property, &value) && value > 0) {
        return true;
      }
    }
  }
  uint64_t running = 0;
  for (const char* property :
       {"rocksdb.num-running-compactions", "rocksdb.num-running-flushes"}) {
    if (db_->GetIntProperty(property, &running) && running > 0) return true;
  }
  return false;
}

uint64_t SessionStore::AggregatedProperty(const std::string& name) {
  uint64_t value = 0;
  return db_->GetAggregatedIntProperty(name, &value) ? value : 0;
}

uint64_t SessionStore::EstimateStored() {
  uint64_t count = 0;
  db_->GetIntProperty(sessions_cf_, "rocksdb.estimate-num-keys", &count);
  return count;
}

}  // namespace sesh
