// SessionStore::Checkpoint: a consistent copy of the store for backups
// (docs/operations.md, "Backup and restore").

#include <algorithm>
#include <filesystem>
#include <memory>
#include <system_error>
#include <vector>

#include "absl/strings/str_cat.h"
#include "node/session_store.h"
#include "rocksdb/db.h"
#include "rocksdb/utilities/checkpoint.h"

namespace sesh {
namespace {

// Opens the checkpoint at `path` read-only with the live store's column
// families (their merge operators included) and counts the records of the
// one at `records_index`.
absl::StatusOr<int64_t> CountRecords(
    const std::string& path,
    const std::vector<rocksdb::ColumnFamilyHandle*>& live_handles,
    size_t records_index) {
  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  for (rocksdb::ColumnFamilyHandle* handle : live_handles) {
    rocksdb::ColumnFamilyDescriptor descriptor;
    rocksdb::Status s = handle->GetDescriptor(&descriptor);
    if (!s.ok()) {
      return absl::InternalError(
          absl::StrCat("describing a column family: ", s.ToString()));
    }
    families.push_back(std::move(descriptor));
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::OpenForReadOnly(
      rocksdb::DBOptions(), path, families, &handles, &raw);
  if (!s.ok()) {
    return absl::InternalError(
        absl::StrCat("opening the checkpoint at ", path, ": ", s.ToString()));
  }
  std::unique_ptr<rocksdb::DB> db(raw);
  int64_t count = 0;
  {
    std::unique_ptr<rocksdb::Iterator> it(
        db->NewIterator(rocksdb::ReadOptions(), handles[records_index]));
    for (it->SeekToFirst(); it->Valid(); it->Next()) ++count;
    s = it->status();
  }
  for (rocksdb::ColumnFamilyHandle* handle : handles) {
    db->DestroyColumnFamilyHandle(handle);
  }
  db->Close();
  if (!s.ok()) {
    return absl::InternalError(
        absl::StrCat("reading the checkpoint at ", path, ": ", s.ToString()));
  }
  return count;
}

}  // namespace

absl::StatusOr<int64_t> SessionStore::Checkpoint(const std::string& path) {
  std::error_code error;
  if (std::filesystem::exists(path, error) || error) {
    return absl::AlreadyExistsError(
        absl::StrCat("checkpoint target ", path, " exists"));
  }
  // The touch table's pending entries live only in memory until persisted.
  absl::StatusOr<int64_t> persisted = PersistTouches();
  if (!persisted.ok()) return persisted.status();

  rocksdb::Checkpoint* raw = nullptr;
  absl::Status s = FromRocks(rocksdb::Checkpoint::Create(db_.get(), &raw),
                             "starting a checkpoint");
  if (!s.ok()) return s;
  std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
  // log_size_for_flush 0: memtables are flushed first, so the copy holds
  // little or no WAL to replay when it is opened.
  s = FromRocks(checkpoint->CreateCheckpoint(path, /*log_size_for_flush=*/0),
                absl::StrCat("writing a checkpoint to ", path));
  absl::StatusOr<int64_t> records =
      s.ok() ? CountRecords(path, handles_,
                            std::find(handles_.begin(), handles_.end(),
                                      sessions_cf_) -
                                handles_.begin())
             : s;
  if (!records.ok()) {
    std::filesystem::remove_all(path, error);
    return records.status();
  }
  return records;
}

}  // namespace sesh
