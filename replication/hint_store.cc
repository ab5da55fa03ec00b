#include "replication/hint_store.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "replication/merge.h"
#include "rocksdb/db.h"
#include "rocksdb/options.h"
#include "rocksdb/utilities/checkpoint.h"
#include "rocksdb/utilities/table_properties_collectors.h"
#include "rocksdb/write_batch.h"

namespace sesh {
namespace {

using internal::SessionRecord;

// Key: peer id, NUL, raw session id. A peer's hints are one contiguous range
// in raw id order. Value: the hint's token (8 bytes, big endian), then the
// serialized record.
constexpr size_t kIdBytes = 32;
constexpr size_t kTokenBytes = 8;

absl::Status FromRocks(const rocksdb::Status& s, absl::string_view what) {
  if (s.ok()) return absl::OkStatus();
  return absl::InternalError(absl::StrCat(what, ": ", s.ToString()));
}

absl::Status ValidatePeer(absl::string_view peer) {
  if (peer.empty() || peer.find('\0') != absl::string_view::npos) {
    return absl::InvalidArgumentError(
        "peer id must be non-empty and contain no NUL byte");
  }
  return absl::OkStatus();
}

absl::Status ValidateId(absl::string_view raw_id) {
  if (raw_id.size() != kIdBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("session id must be ", kIdBytes, " raw bytes, not ",
                     raw_id.size()));
  }
  return absl::OkStatus();
}

// First key of the peer's range; the range ends before PeerEnd(peer).
std::string PeerBegin(absl::string_view peer) {
  return absl::StrCat(peer, absl::string_view("\0", 1));
}
std::string PeerEnd(absl::string_view peer) {
  return absl::StrCat(peer, absl::string_view("\1", 1));
}

std::string HintKey(absl::string_view peer, absl::string_view raw_id) {
  return absl::StrCat(PeerBegin(peer), raw_id);
}

std::string EncodeValue(uint64_t token, const SessionRecord& record) {
  std::string out(kTokenBytes, '\0');
  for (size_t i = 0; i < kTokenBytes; ++i) {
    out[i] = static_cast<char>(token >> (8 * (kTokenBytes - 1 - i)));
  }
  record.AppendToString(&out);
  return out;
}

absl::StatusOr<uint64_t> DecodeToken(const rocksdb::Slice& value) {
  if (value.size() < kTokenBytes) {
    return absl::DataLossError("hint value shorter than its token");
  }
  uint64_t token = 0;
  for (size_t i = 0; i < kTokenBytes; ++i) {
    token = (token << 8) | static_cast<unsigned char>(value[i]);
  }
  return token;
}

// Bytes a stored hint counts against max_bytes_per_peer.
int64_t RecordBytes(const rocksdb::Slice& value) {
  return static_cast<int64_t>(value.size() - kTokenBytes);
}

absl::StatusOr<Hint> DecodeHint(const rocksdb::Slice& value) {
  absl::StatusOr<uint64_t> token = DecodeToken(value);
  if (!token.ok()) return token.status();
  Hint hint;
  hint.token = *token;
  if (!hint.record.ParseFromArray(value.data() + kTokenBytes,
                                  static_cast<int>(RecordBytes(value)))) {
    return absl::DataLossError("hint record does not parse");
  }
  return hint;
}

}  // namespace

HintStore::HintStore(const HintStoreOptions& options) : options_(options) {}

absl::StatusOr<std::unique_ptr<HintStore>> HintStore::Open(
    const HintStoreOptions& options) {
  std::unique_ptr<HintStore> store(new HintStore(options));
  rocksdb::Options db_options;
  db_options.create_if_missing = true;
  db_options.max_background_jobs = 2;
  // Hints are few and short-lived: a small memtable, so that the WAL
  // RocksDB preallocates (1.1 x the memtable) is 4.4 MiB, not 70.
  db_options.write_buffer_size = 4 << 20;
  db_options.manifest_preallocation_size = 256 << 10;
  // Replayed hints are removed in bulk: a table file that is mostly
  // tombstones is compacted away, so that Peeks do not keep walking them.
  db_options.table_properties_collector_factories.emplace_back(
      rocksdb::NewCompactOnDeletionCollectorFactory(
          /*sliding_window_size=*/128, /*deletion_trigger=*/64));
  rocksdb::DB* db = nullptr;
  absl::Status s =
      FromRocks(rocksdb::DB::Open(db_options, options.path, &db),
                absl::StrCat("opening hint store at ", options.path));
  if (!s.ok()) return s;
  store->db_.reset(db);

  // Counts and bytes per peer, and the largest token, from one scan.
  uint64_t max_token = 0;
  std::unique_ptr<rocksdb::Iterator> it(
      db->NewIterator(rocksdb::ReadOptions()));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const absl::string_view key(it->key().data(), it->key().size());
    const size_t nul = key.find('\0');
    if (nul == 0 || nul == absl::string_view::npos ||
        key.size() - nul - 1 != kIdBytes) {
      return absl::DataLossError("hint store holds a malformed key");
    }
    absl::StatusOr<uint64_t> token = DecodeToken(it->value());
    if (!token.ok()) return token.status();
    max_token = std::max(max_token, *token);
    Peer* peer = store->GetOrCreatePeer(std::string(key.substr(0, nul)));
    peer->count.fetch_add(1);
    peer->bytes.fetch_add(RecordBytes(it->value()));
  }
  s = FromRocks(it->status(), "scanning hints");
  it.reset();
  if (!s.ok()) return s;
  store->next_token_.store(max_token + 1);
  return store;
}

HintStore::~HintStore() {
  if (db_ == nullptr) return;
  db_->Close();
}

HintStore::Peer* HintStore::GetOrCreatePeer(const std::string& peer) {
  absl::MutexLock lock(&mu_);
  std::unique_ptr<Peer>& state = peers_[peer];
  if (state == nullptr) state = std::make_unique<Peer>();
  return state.get();
}

HintStore::Peer* HintStore::FindPeer(const std::string& peer) const {
  absl::MutexLock lock(&mu_);
  auto it = peers_.find(peer);
  return it == peers_.end() ? nullptr : it->second.get();
}

absl::StatusOr<int> HintStore::Add(const std::string& peer,
                                   const std::vector<SessionRecord>& records) {
  absl::Status s = ValidatePeer(peer);
  if (!s.ok()) return s;
  for (const SessionRecord& record : records) {
    s = ValidateId(record.id());
    if (!s.ok()) return s;
  }
  if (records.empty()) return 0;

  Peer* state = GetOrCreatePeer(peer);
  absl::MutexLock lock(&state->mu);
  // The hint of each id the batch touches, as it will be after the batch.
  struct Pending {
    SessionRecord record;
    int64_t bytes = 0;
    bool held = false;     // stored, or kept earlier in this batch
    bool changed = false;  // to be written
  };
  std::map<std::string, Pending> pending;
  int64_t count = state->count.load();
  int64_t bytes = state->bytes.load();
  int dropped = 0;
  for (const SessionRecord& record : records) {
    std::string key = HintKey(peer, record.id());
    auto it = pending.find(key);
    if (it == pending.end()) {
      Pending stored;
      std::string value;
      rocksdb::Status got = db_->Get(rocksdb::ReadOptions(), key, &value);
      if (got.ok()) {
        absl::StatusOr<Hint> hint = DecodeHint(value);
        if (!hint.ok()) return hint.status();
        stored.record = std::move(hint->record);
        stored.bytes = RecordBytes(value);
        stored.held = true;
      } else if (!got.IsNotFound()) {
        return FromRocks(got, "reading a hint");
      }
      it = pending.emplace(std::move(key), std::move(stored)).first;
    }
    Pending& hint = it->second;
    SessionRecord merged = Merge(hint.record, record);
    if (hint.held && SameState(merged, hint.record)) continue;  // nothing new
    const int64_t merged_bytes = static_cast<int64_t>(merged.ByteSizeLong());
    const int64_t after = bytes - hint.bytes + merged_bytes;
    if (after > options_.max_bytes_per_peer) {
      ++dropped;
      continue;
    }
    if (!hint.held) ++count;
    bytes = after;
    hint.record = std::move(merged);
    hint.bytes = merged_bytes;
    hint.held = true;
    hint.changed = true;
  }

  rocksdb::WriteBatch batch;
  for (const auto& [key, hint] : pending) {
    if (!hint.changed) continue;
    s = FromRocks(batch.Put(key, EncodeValue(next_token_.fetch_add(1),
                                             hint.record)),
                  "batching a hint");
    if (!s.ok()) return s;
  }
  if (batch.Count() > 0) {
    rocksdb::WriteOptions write;
    write.sync = options_.sync_writes;
    s = FromRocks(db_->Write(write, &batch), "writing hints");
    if (!s.ok()) return s;
  }
  state->count.store(count);
  state->bytes.store(bytes);
  return dropped;
}

absl::StatusOr<std::vector<Hint>> HintStore::Peek(const std::string& peer,
                                                  int max,
                                                  absl::string_view after_id) {
  absl::Status s = ValidatePeer(peer);
  if (!s.ok()) return s;
  if (max < 0) return absl::InvalidArgumentError("max must not be negative");
  std::vector<Hint> out;
  if (max == 0) return out;
  const std::string begin = PeerBegin(peer);
  const std::string end = PeerEnd(peer);
  const std::string start = absl::StrCat(begin, after_id);
  rocksdb::Slice upper(end);
  rocksdb::ReadOptions read;
  read.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read));
  it->Seek(start);
  if (!after_id.empty() && it->Valid() && it->key() == start) it->Next();
  for (; it->Valid() && static_cast<int>(out.size()) < max; it->Next()) {
    absl::StatusOr<Hint> hint = DecodeHint(it->value());
    if (!hint.ok()) return hint.status();
    out.push_back(*std::move(hint));
  }
  s = FromRocks(it->status(), "reading hints");
  if (!s.ok()) return s;
  return out;
}

absl::Status HintStore::Remove(const std::string& peer,
                               const std::vector<Hint>& delivered) {
  absl::Status s = ValidatePeer(peer);
  if (!s.ok()) return s;
  for (const Hint& hint : delivered) {
    s = ValidateId(hint.record.id());
    if (!s.ok()) return s;
  }
  Peer* state = FindPeer(peer);
  if (state == nullptr || delivered.empty()) return absl::OkStatus();

  absl::MutexLock lock(&state->mu);
  rocksdb::WriteBatch batch;
  std::set<std::string> removed;
  int64_t count = state->count.load();
  int64_t bytes = state->bytes.load();
  for (const Hint& hint : delivered) {
    std::string key = HintKey(peer, hint.record.id());
    if (removed.count(key) > 0) continue;
    std::string value;
    rocksdb::Status got = db_->Get(rocksdb::ReadOptions(), key, &value);
    if (got.IsNotFound()) continue;
    s = FromRocks(got, "reading a hint");
    if (!s.ok()) return s;
    absl::StatusOr<uint64_t> token = DecodeToken(value);
    if (!token.ok()) return token.status();
    if (*token != hint.token) continue;  // a newer write merged in since Peek
    s = FromRocks(batch.Delete(key), "batching a removal");
    if (!s.ok()) return s;
    --count;
    bytes -= RecordBytes(value);
    removed.insert(std::move(key));
  }
  if (batch.Count() == 0) return absl::OkStatus();
  rocksdb::WriteOptions write;
  write.sync = options_.sync_writes;
  s = FromRocks(db_->Write(write, &batch), "removing hints");
  if (!s.ok()) return s;
  state->count.store(count);
  state->bytes.store(bytes);
  return absl::OkStatus();
}

absl::Status HintStore::Clear(const std::string& peer) {
  absl::Status s = ValidatePeer(peer);
  if (!s.ok()) return s;
  Peer* state = FindPeer(peer);
  if (state == nullptr) return absl::OkStatus();
  absl::MutexLock lock(&state->mu);
  rocksdb::WriteOptions write;
  write.sync = options_.sync_writes;
  s = FromRocks(db_->DeleteRange(write, db_->DefaultColumnFamily(),
                                 PeerBegin(peer), PeerEnd(peer)),
                "clearing hints");
  if (!s.ok()) return s;
  state->count.store(0);
  state->bytes.store(0);
  return absl::OkStatus();
}

int64_t HintStore::Count(const std::string& peer) const {
  const Peer* state = FindPeer(peer);
  return state == nullptr ? 0 : state->count.load();
}

int64_t HintStore::Bytes(const std::string& peer) const {
  const Peer* state = FindPeer(peer);
  return state == nullptr ? 0 : state->bytes.load();
}

int64_t HintStore::TotalCount() const {
  absl::MutexLock lock(&mu_);
  int64_t total = 0;
  for (const auto& [name, state] : peers_) total += state->count.load();
  return total;
}

absl::Status HintStore::Checkpoint(const std::string& path) {
  rocksdb::Checkpoint* raw = nullptr;
  absl::Status s = FromRocks(rocksdb::Checkpoint::Create(db_.get(), &raw),
                             "starting a hint checkpoint");
  if (!s.ok()) return s;
  std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
  return FromRocks(checkpoint->CreateCheckpoint(path, /*log_size_for_flush=*/0),
                   absl::StrCat("writing a hint checkpoint to ", path));
}

}  // namespace sesh
