#include "node/backup.h"

#include <filesystem>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "node/backup_files.h"

namespace sesh {

namespace fs = std::filesystem;

NodeBackup::NodeBackup(SessionStore* store, HintStore* hints)
    : store_(store), hints_(hints), pool_(1, kMaxQueued) {}

absl::StatusOr<v1::BackupResponse> NodeBackup::Take(
    const std::string& dir, v1::BackupManifest membership) {
  const std::string node_id = membership.node_id();
  absl::Status s = CheckBackupTarget(dir, node_id, store_->options().path);
  if (!s.ok()) return s;
  const std::string target = CheckpointPath(dir, node_id);
  const std::string partial =
      absl::StrCat(CheckpointPath(dir, absl::StrCat(".", node_id)), ".partial");
  std::error_code error;
  // A backup holds every session id: a directory made here is the node
  // user's alone.
  if (fs::create_directories(dir, error)) {
    fs::permissions(dir, fs::perms::owner_all, error);
  }
  // Left by a backup that died half-way: never a complete one.
  if (!error) fs::remove_all(partial, error);
  if (error) {
    return absl::InternalError(
        absl::StrCat("preparing ", dir, ": ", error.message()));
  }
  v1::BackupManifest manifest = std::move(membership);
  manifest.set_taken_at_ms(store_->clock()->NowMs());
  absl::StatusOr<int64_t> records = store_->Checkpoint(partial);
  if (!records.ok()) return records.status();
  manifest.set_records(static_cast<uint64_t>(*records));
  manifest.set_hints(static_cast<uint64_t>(hints_->TotalCount()));
  s = hints_->Checkpoint(absl::StrCat(partial, "/hints"));
  uint64_t files = 0;
  uint64_t bytes = 0;
  if (s.ok()) s = CountFiles(partial, &files, &bytes);
  manifest.set_files(files);
  manifest.set_bytes(bytes);
  if (s.ok()) {
    // An empty directory at the target was allowed by the check.
    fs::remove(target, error);
    if (!error) fs::rename(partial, target, error);
    if (error) {
      s = absl::InternalError(
          absl::StrCat("renaming to ", target, ": ", error.message()));
    }
  }
  if (s.ok()) {
    s = WriteManifest(ManifestPath(dir, node_id), manifest);
    if (!s.ok()) fs::remove_all(target, error);
  }
  if (!s.ok()) {
    fs::remove_all(partial, error);
    return s;
  }
  v1::BackupResponse response;
  response.set_checkpoint_dir(target);
  response.set_manifest_path(ManifestPath(dir, node_id));
  *response.mutable_manifest() = std::move(manifest);
  return response;
}

void NodeBackup::Start(
    std::string dir, v1::BackupManifest membership,
    std::function<void(absl::StatusOr<v1::BackupResponse>)> done) {
  // The pool drops the closure when full: `done` is kept here for that case.
  auto shared_done = std::make_shared<
      std::function<void(absl::StatusOr<v1::BackupResponse>)>>(
      std::move(done));
  const bool queued = pool_.TrySchedule(
      [this, dir = std::move(dir), membership = std::move(membership),
       shared_done]() mutable {
        (*shared_done)(Take(dir, std::move(membership)));
      });
  if (!queued) {
    (*shared_done)(absl::ResourceExhaustedError(
        "too many backups queued on this node"));
  }
}

}  // namespace sesh
