#ifndef SESH_NODE_SESSION_STORE_H_
#define SESH_NODE_SESSION_STORE_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "replication/hlc.h"
#include "node/limits.h"
#include "node/store_keys.h"
#include "node/touch_table.h"
#include "replication/replica_store.h"
#include "sesh/internal/record.pb.h"

namespace rocksdb {
class ColumnFamilyHandle;
class DB;
class Status;
class WriteBatch;
}  // namespace rocksdb

namespace sesh {

using Record = internal::SessionRecord;

struct StoreOptions {
  // RocksDB directory; created if missing.
  std::string path;
  Limits limits;
  // A touch records a new last_access only when it moves it by at least this
  // fraction of the idle timeout (and at least 1 ms); smaller moves are
  // reported but not recorded (nor replicated). So a session read
  // continuously is touched at most ~100 times per idle timeout instead of on
  // every read, and may expire up to this fraction of its idle timeout
  // earlier than the latest reader was told. 0 records every touch.
  double touch_write_fraction = 0.01;
  // A destroyed session's tombstone is kept until its absolute deadline plus
  // this margin (clock skew between nodes): by then no copy anywhere can be
  // live, so no replica can bring it back.
  int64_t tombstone_margin_ms = 5 * 60 * 1000;
  // Expired sessions stay on disk this long before the sweep deletes them, so
  // a touch still being replicated finds its record. Reads never return them.
  int64_t expired_grace_ms = 10 * 1000;
  // Tag of this node in attribute stamps (ties between equal HLC stamps).
  uint32_t writer_tag = 0;
  // fsync the WAL on every write (survives power loss, not only kill -9).
  bool sync_writes = false;
  // Merge() writes a peer's state blind, as a RocksDB merge operand that
  // RocksDB folds into the stored state on read and compaction
  // (node/record_merge_operator.h), instead of reading, merging and writing
  // the record.
  bool blind_replica_merges = true;
  // Peers' stamps more than this far ahead of the local clock are refused
  // (replication/hlc.h).
  int64_t max_clock_ahead_ms = 10 * 1000;
  // RocksDB block cache. Sized to hold the working set: at 10^6 sessions of
  // ~600 bytes the data is ~700 MB, which 1 GiB keeps in memory.
  size_t block_cache_bytes = size_t{1} << 30;
};

struct CreateArgs {
  std::string ns;
  std::string user_id;
  std::map<std::string, std::string> attributes;
  int64_t idle_timeout_ms = 0;
  // 0: limits.max_absolute_ttl_ms.
  int64_t absolute_ttl_ms = 0;
};

struct UpdateArgs {
  std::map<std::string, std::string> set;
  std::vector<std::string> remove;
  // 0: no compare-and-set.
  uint64_t expected_version = 0;
  bool touch = true;
};

// True if the record is a session callers may see at now_ms: not destroyed,
// before its idle expiry and its absolute deadline.
bool IsLive(const Record& record, int64_t now_ms);
// min(last_access + idle_timeout, absolute_deadline).
int64_t ExpiresAtMs(const Record& record);
// StorageKey(raw_id), the RocksDB key of a session: node/store_keys.h.

// The storage engine of one node: sessions in RocksDB, with sliding and
// absolute expiry, per-attribute updates, tombstones, a by-user index and a
// sweep of expired data. Knows nothing of gRPC or of other nodes; replication
// feeds it merged states through Merge().
//
// Every call takes raw 32-byte IDs (the caller decodes and validates the
// text form) and is scoped to a namespace: a session of another namespace is
// NOT_FOUND. Expired, destroyed and absent sessions are all NOT_FOUND.
//
// Thread-safe. Read-modify-write calls on one session are serialized by a
// striped lock; calls on different sessions run in parallel.
class SessionStore : public ReplicaStore {
 public:
  static absl::StatusOr<std::unique_ptr<SessionStore>> Open(
      const StoreOptions& options, Clock* clock);
  // Flushes memtables and closes RocksDB.
  ~SessionStore() override;

  SessionStore(const SessionStore&) = delete;
  SessionStore& operator=(const SessionStore&) = delete;

  // Checks a Create against the limits without storing anything.
  // INVALID_ARGUMENT or RESOURCE_EXHAUSTED as for Create (except the per-user
  // count, which needs the index).
  absl::Status ValidateCreate(const CreateArgs& args) const;

  // Stores a new session under raw_id (minted by the caller with
  // NewRawId()). INVALID_ARGUMENT / RESOURCE_EXHAUSTED naming the limit;
  // ALREADY_EXISTS if the ID is taken (never in practice: 256 random bits).
  absl::StatusOr<Record> Create(absl::string_view raw_id,
                                const CreateArgs& args);

  // Reads a live session and, if touch, slides its expiry to now (never past
  // the absolute deadline; recorded per touch_write_fraction in the touch
  // table: no lock, no read-modify-write, no disk write). NOT_FOUND.
  // A touch racing an Update of the same session may be overwritten by it;
  // the Update itself moves last_access to its own time, so at most the
  // milliseconds between the two are lost.
  absl::StatusOr<Record> Get(absl::string_view ns, absl::string_view raw_id,
                             bool touch);

  // Get for many sessions of one namespace in one pass over storage
  // (RocksDB MultiGet); one result per id, in order.
  std::vector<absl::StatusOr<Record>> GetMany(
      absl::string_view ns, const std::vector<std::string>& raw_ids,
      bool touch);

  // Sets and removes attributes atomically. NOT_FOUND, ABORTED (version
  // mismatch), INVALID_ARGUMENT (key/value size, key both set and removed),
  // RESOURCE_EXHAUSTED (attribute count, session size). Nothing is applied on
  // error.
  absl::StatusOr<Record> Update(absl::string_view ns, absl::string_view raw_id,
                                const UpdateArgs& args);

  // Slides the expiry (the same as Get with touch). NOT_FOUND.
  absl::StatusOr<Record> Touch(absl::string_view ns, absl::string_view raw_id);

  // Writes a tombstone for raw_id whatever this node's copy holds, and
  // returns it for replication: the session's own (live or expired here, as
  // a replica may hold a later touch), the tombstone already stored, or,
  // with no copy here, a new one that other replicas' copies merge into.
  // std::nullopt only for a record of another namespace (not this caller's
  // session; nothing written). A destroy is therefore never lost to a
  // coordinator that missed the session (docs/architecture.md).
  absl::StatusOr<std::optional<Record>> Destroy(absl::string_view ns,
                                                absl::string_view raw_id);

  // Moves a live session to new_raw_id in one atomic write; the old ID gets a
  // tombstone. Returns {new session, old tombstone}. NOT_FOUND.
  absl::StatusOr<std::pair<Record, Record>> Rotate(
      absl::string_view ns, absl::string_view raw_id,
      absl::string_view new_raw_id);

  // The user's live sessions held by this node, by created_at_ms.
  absl::StatusOr<std::vector<Record>> ListByUser(absl::string_view ns,
                                                 absl::string_view user_id);

  // Destroys the user's live sessions held here except except_raw_id;
  // returns their tombstones.
  absl::StatusOr<std::vector<Record>> DestroyByUser(
      absl::string_view ns, absl::string_view user_id,
      absl::string_view except_raw_id);

  // Replication: a touch made on another replica, recorded in the touch
  // table (merged by max into the stored last_access). The replica that
  // made it persists it; here it lives in memory, since the sweep sees it
  // through the session's record or persisted last access. It is written
  // only when this node has neither: a touch that arrived before its
  // session, or one of a session whose record this process has not written
  // (stored before a restart) and never touched; the sweep would not see it
  // otherwise. A replica that restarts gets the others back from its peers
  // at catch-up, as it gets back writes. INVALID_ARGUMENT for a bad id.
  absl::Status MergeTouch(absl::string_view raw_id,
                          int64_t last_access_ms) override;

  // Writes the touch table's pending entries to the access column family
  // (one batch of blind max-merges); they stay in memory as persisted
  // values. Touches live only in memory until then: the
  // node calls this every --touch_persist_interval_ms, and the destructor
  // once more, so a kill -9 loses at most one interval of this node's
  // touches (its replicas hold them too, and a restarting node merges their
  // copies back while it catches up). Returns the entries written.
  absl::StatusOr<int64_t> PersistTouches();
  // Touches not persisted yet.
  int64_t PendingTouches();
  // Since open: touching reads of a live session (Get, GetMany, Touch with
  // touch), and those of them that moved last_access far enough to be
  // recorded in the touch table (touch_write_fraction). Thread-safe.
  uint64_t touches_requested() const {
    return touches_requested_.load(std::memory_order_relaxed);
  }
  uint64_t touches_written() const {
    return touches_written_.load(std::memory_order_relaxed);
  }
  // Since open: sessions created here, tombstones written by Destroy (and
  // DestroyByUser), and records deleted by the sweep; the wall-clock ms of
  // the last PersistTouches that succeeded (0: none yet). Thread-safe.
  uint64_t sessions_created() const { return sessions_created_.load(); }
  uint64_t sessions_destroyed() const { return sessions_destroyed_.load(); }
  uint64_t records_swept() const { return records_swept_.load(); }
  int64_t last_persist_ms() const { return last_persist_ms_.load(); }
  // A RocksDB integer property summed over the store's column families
  // (e.g. "rocksdb.total-sst-files-size"); 0 if RocksDB has no such one.
  uint64_t AggregatedProperty(const std::string& name);

  // Replication: merges a peer's state of a session into the local one
  // (replication/merge.h) and returns the merged state, or with
  // blind_replica_merges the incoming state (merged when read). OUT_OF_RANGE,
  // with nothing stored, if its stamp is more than max_clock_ahead_ms ahead
  // of this node's clock; INVALID_ARGUMENT for a bad id.
  absl::StatusOr<Record> Merge(const Record& incoming) override;
  // Merge() of each, in one RocksDB write with blind_replica_merges.
  std::vector<absl::StatusOr<Record>> MergeAll(
      const std::vector<const Record*>& incoming) override;

  // The stored state of a session whatever its liveness (tombstones
  // included), or std::nullopt.
  absl::StatusOr<std::optional<Record>> ReadRaw(
      absl::string_view raw_id) override;

  // Calls fn(storage key, record) for every stored record (tombstones and
  // expired ones included) whose partition is in [first, last], in key
  // order, starting after after_key when it is not empty, and for every
  // persisted touch without a record (a record with no id and only
  // last_access set). Stops early when fn returns false.
  absl::Status ForEachInPartitions(
      uint32_t first, uint32_t last, absl::string_view after_key,
      const std::function<bool(const std::string& key, const Record&)>& fn)
      override;

  // Deletes expired sessions older than expired_grace_ms, tombstones past
  // their deadline plus tombstone_margin_ms, and their index entries.
  // Returns how many records were deleted. Run periodically by the node
  // (--sweep_interval_ms): an expired session is reclaimed at most
  // expired_grace_ms + sweep interval + one pass after it expires.
  absl::StatusOr<int64_t> Sweep() { return Sweep(0, UINT32_MAX); }
  // The same over partitions [first, last] only, so that a node can spread
  // a full pass over several smaller steps instead of one burst.
  absl::StatusOr<int64_t> Sweep(uint32_t first, uint32_t last);
  // Deletes every record (and index entry) of the partitions in [first,
  // last] for which drop(partition) is true, checked again under the
  // record's lock: data a membership change moved away
  // (docs/scaling.md, "Orphans"). Returns how many records were deleted.
  absl::StatusOr<int64_t> DropPartitions(
      uint32_t first, uint32_t last,
      const std::function<bool(uint32_t partition)>& drop);

  // A backup of the store: persists the pending touches (and the clock),
  // then writes a RocksDB checkpoint (a consistent point-in-time copy, hard
  // links where `path` is on the same filesystem) to `path`, a complete
  // store directory that Open takes. Returns the session records in it
  // (counted by opening it read-only, which also checks it). Touches
  // replicated from peers and held only in memory are not in it (their
  // own replica persists them). ALREADY_EXISTS if `path` exists;
  // INTERNAL on a RocksDB failure (the partial copy is removed).
  absl::StatusOr<int64_t> Checkpoint(const std::string& path);

  // Records stored (live, expired-not-yet-swept and tombstones), exactly.
  int64_t CountStoredForTesting();
  // Entries of the by-user index, exactly.
  int64_t CountUserIndexForTesting();
  // RocksDB's estimate of the same, cheap.
  uint64_t EstimateStored();
  // True while RocksDB has flushes or compactions running or pending.
  bool StorageBusy();

  // The hybrid clock that stamps this node's writes.
  HybridClock& hlc() { return hlc_; }
  Clock* clock() const { return clock_; }
  const StoreOptions& options() const { return options_; }

 private:
  static constexpr int kStripes = 1024;

  SessionStore(const StoreOptions& options, Clock* clock);

  // A RocksDB status as INTERNAL naming what failed; OK stays OK.
  static absl::Status FromRocks(const rocksdb::Status& s,
                                absl::string_view what);
  absl::Mutex& StripeFor(absl::string_view key);
  absl::Status ValidateAttributes(const Record& session) const;
  // Reads the stored record for a storage key; std::nullopt if none (or,
  // unless include_lone_touches, only a touch without a session).
  absl::StatusOr<std::optional<Record>> ReadKey(
      const std::string& key, bool include_lone_touches = false);
  // True if a touch at now_ms moves last_access enough to be written.
  bool NeedsTouchWrite(const Record& record, int64_t now_ms) const;
  // Reads a session that must be live and in namespace ns, else NOT_FOUND.
  absl::StatusOr<Record> ReadLive(absl::string_view ns,
                                  const std::string& key, int64_t now_ms);
  absl::Status CountUserSessions(absl::string_view ns,
                                 absl::string_view user_id, int64_t now_ms,
                                 int* count);
  std::string IndexKey(const Record& record) const;
  absl::Status Write(const std::vector<Record>& puts,
                     const std::vector<std::string>& index_puts,
                     const std::vector<std::string>& index_deletes);
  Record NewTombstone(const Record& live);
  // A tombstone for an id with no copy here.
  Record BlindTombstone(absl::string_view ns, absl::string_view raw_id);
  // Moves the hybrid clock past a stored record's stamp before a write to
  // it, so that the write is stamped later even after a restart with the
  // clock set back.
  void ObserveStored(const Record& record);
  // The storage key of a replicated record, or why it is refused (a bad id,
  // a stamp too far ahead of this node's clock); the clock observes it.
  absl::StatusOr<std::string> AdmitReplicated(const Record& incoming);
  // Adds a blind merge of `incoming` (and its user index change) to `batch`;
  // the key's stripe is held.
  absl::Status AddBlindMerge(const std::string& key, const Record& incoming,
                             rocksdb::WriteBatch* batch);
  // How far a touch must move last_access before it is written.
  int64_t TouchWriteThreshold(const Record& record) const;
  // True if the sweep may delete the record at now_ms.
  bool Reclaimable(const Record& record, int64_t now_ms) const;

  // Folds the touch table's entry for key into record.
  void ApplyTouch(absl::string_view key, Record* record);

  // Constant after construction.
  const StoreOptions options_;
  Clock* const clock_;
  HybridClock hlc_;
  std::unique_ptr<rocksdb::DB> db_;
  rocksdb::ColumnFamilyHandle* sessions_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* by_user_cf_ = nullptr;
  // last_access of sessions touched since their record was last written, by
  // storage key (8 bytes, merged by max). Touches change only this small
  // value, so keeping it apart from the ~600-byte records means the
  // persisted touches of a busy site rewrite kilobytes in compaction, not
  // every session it serves. Loaded into touches_ at open; only the sweep
  // and catch-up scans read it afterwards.
  rocksdb::ColumnFamilyHandle* access_cf_ = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;

  // Serializes read-modify-write per session (by storage key) and counts of
  // one user's sessions (by user).
  std::unique_ptr<absl::Mutex[]> stripes_;
  std::unique_ptr<absl::Mutex[]> user_stripes_;
  TouchTable touches_;
  // Counters for touches_requested() and touches_written(); relaxed.
  std::atomic<uint64_t> touches_requested_{0};
  std::atomic<uint64_t> touches_written_{0};
  std::atomic<uint64_t> sessions_created_{0};
  std::atomic<uint64_t> sessions_destroyed_{0};
  std::atomic<uint64_t> records_swept_{0};
  std::atomic<int64_t> last_persist_ms_{0};
  // Serializes PersistTouches() calls.
  absl::Mutex persist_mu_;
  // The clock stamp last persisted.
  uint64_t persisted_stamp_ ABSL_GUARDED_BY(persist_mu_) = 0;
};

}  // namespace sesh

#endif  // SESH_NODE_SESSION_STORE_H_
