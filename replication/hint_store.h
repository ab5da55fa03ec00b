#ifndef SESH_REPLICATION_HINT_STORE_H_
#define SESH_REPLICATION_HINT_STORE_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "sesh/internal/record.pb.h"

namespace rocksdb {
class DB;
}  // namespace rocksdb

namespace sesh {

struct HintStoreOptions {
  // RocksDB directory of the store's own; created if missing.
  std::string path;
  // Serialized record bytes held for one peer (the 8-byte per-hint header
  // and keys are not counted).
  int64_t max_bytes_per_peer = int64_t{256} << 20;
  // fsync the WAL on every write (survives power loss, not only kill -9).
  bool sync_writes = false;
};

// One held write, as handed out for replay.
struct Hint {
  // The latest state of the session held for the peer.
  internal::SessionRecord record;
  // Names this state of the hint: Remove deletes the hint only if it still
  // holds the same token, i.e. nothing was merged into it since Peek.
  uint64_t token = 0;
};

// Hinted handoff: writes a peer has not acknowledged, kept in RocksDB until
// it is back, at most one per (peer, session id), which holds the Merge
// (replication/merge.h) of every write added for that id. Replaying the
// hints therefore delivers the latest state per session, whatever the order
// and number of the writes they absorbed.
//
// Peer ids are non-empty and contain no NUL byte; INVALID_ARGUMENT otherwise
// (Count and Bytes return 0 for them). INTERNAL for a RocksDB failure,
// DATA_LOSS for a stored hint that does not decode.
//
// Thread-safe. Calls that change one peer's hints are serialized by that
// peer's lock; different peers proceed in parallel.
class HintStore {
 public:
  // Opens (or creates) the store at options.path and counts its hints with
  // one scan. INTERNAL if RocksDB fails to open or read; DATA_LOSS for a key
  // this class never writes.
  static absl::StatusOr<std::unique_ptr<HintStore>> Open(
      const HintStoreOptions& options);

  HintStore(const HintStore&) = delete;
  HintStore& operator=(const HintStore&) = delete;
  // Closes RocksDB; hints are already in its WAL.
  ~HintStore();

  // Keeps `records` (in order) for `peer`. A record whose id the peer already
  // has a hint for (held, or earlier in this batch) is merged into it. A
  // record that would take the peer's Bytes past max_bytes_per_peer is not
  // kept (an existing hint for its id stays as it was); returns how many
  // were dropped so (0 normally). The batch is written atomically.
  // INVALID_ARGUMENT if a record's id is not 32 bytes; INTERNAL on a RocksDB
  // failure. Nothing is kept on error.
  absl::StatusOr<int> Add(const std::string& peer,
                          const std::vector<internal::SessionRecord>& records);

  // Up to `max` of the peer's hints in ascending raw id order, starting after
  // raw id `after_id` (empty: from the first). A replay loop passes the last
  // id it delivered, so that it does not walk over removed hints again, and
  // starts from empty once a Peek returns fewer than `max`. Hints stay held
  // until Remove. INVALID_ARGUMENT if max < 0.
  absl::StatusOr<std::vector<Hint>> Peek(const std::string& peer, int max,
                                         absl::string_view after_id = {});

  // The peer applied `delivered` (from Peek; only record.id() and token are
  // read): removes each hint that is unchanged since its Peek. A hint a newer
  // write was merged into stays, to be replayed again; one already gone is
  // skipped. Atomic. INVALID_ARGUMENT (nothing removed) if an id is not 32
  // bytes.
  absl::Status Remove(const std::string& peer,
                      const std::vector<Hint>& delivered);

  // Drops every hint held for the peer (e.g. it left the cluster).
  absl::Status Clear(const std::string& peer);

  // Hints held for the peer (including those handed out by Peek and not yet
  // removed) and their bytes as bounded by max_bytes_per_peer. From memory;
  // each is exact once the calls changing it have returned.
  int64_t Count(const std::string& peer) const;
  int64_t Bytes(const std::string& peer) const;
  // Hints held for all peers.
  int64_t TotalCount() const;

  // Writes a RocksDB checkpoint of the hints (a consistent copy that Open
  // takes) to `path`, which must not exist: for backups. INTERNAL on a
  // RocksDB failure.
  absl::Status Checkpoint(const std::string& path);

 private:
  // One peer's hints. Never erased once created, so a Peer* stays valid for
  // the store's lifetime.
  struct Peer {
    // Serializes the peer's read-merge-write calls (Add, Remove, Clear).
    absl::Mutex mu;
    // Written only under mu, after the RocksDB write succeeded; read without
    // it, so that Count never waits for a write (or its fsync).
    std::atomic<int64_t> count{0};
    std::atomic<int64_t> bytes{0};
  };

  explicit HintStore(const HintStoreOptions& options);

  // The peer's state, created if absent.
  Peer* GetOrCreatePeer(const std::string& peer) ABSL_LOCKS_EXCLUDED(mu_);
  // The peer's state, or nullptr if it never had hints.
  Peer* FindPeer(const std::string& peer) const ABSL_LOCKS_EXCLUDED(mu_);

  // Constant after construction
  const HintStoreOptions options_;
  std::unique_ptr<rocksdb::DB> db_;

  // Stamps every hint write with a fresh token; past every stored token.
  std::atomic<uint64_t> next_token_{1};

  mutable absl::Mutex mu_;
  // Protected by mu_
  std::map<std::string, std::unique_ptr<Peer>, std::less<>> peers_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace sesh

#endif  // SESH_REPLICATION_HINT_STORE_H_
