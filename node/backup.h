// Backups of one node's data for Cluster.Backup (docs/operations.md,
// "Backup and restore"; the layout is in node/backup_files.h).

#ifndef SESH_NODE_BACKUP_H_
#define SESH_NODE_BACKUP_H_

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "node/session_store.h"
#include "node/worker_pool.h"
#include "replication/hint_store.h"
#include "sesh/v1/cluster.pb.h"

namespace sesh {

// Takes backups on a thread of its own, one at a time, so that the
// checkpoint's flush and file links never run on gRPC's threads.
// `store` and `hints` must outlive it. Thread-safe.
class NodeBackup {
 public:
  // Backups that may wait behind the running one.
  static constexpr size_t kMaxQueued = 4;

  NodeBackup(SessionStore* store, HintStore* hints);
  // Finishes the backups queued.
  ~NodeBackup() = default;

  NodeBackup(const NodeBackup&) = delete;
  NodeBackup& operator=(const NodeBackup&) = delete;

  // Checks the target (CheckBackupTarget against the store's directory),
  // persists the pending touches, writes the store's checkpoint with the
  // hints' inside it to DIR/<node_id> (through DIR/.<node_id>.partial, so
  // that DIR/<node_id> appears complete or not at all), then the manifest.
  // `membership` supplies node_id, epoch, members and replication_factor;
  // the rest of the manifest is filled here. Errors: those of
  // CheckBackupTarget (nothing written), INTERNAL (a RocksDB or filesystem
  // failure; what was written is removed).
  absl::StatusOr<v1::BackupResponse> Take(const std::string& dir,
                                          v1::BackupManifest membership);

  // Take on the backup thread; `done` runs there. RESOURCE_EXHAUSTED (to
  // `done`, at once) if kMaxQueued backups already wait.
  void Start(std::string dir, v1::BackupManifest membership,
             std::function<void(absl::StatusOr<v1::BackupResponse>)> done);

 private:
  SessionStore* const store_;
  HintStore* const hints_;
  WorkerPool pool_;
};

}  // namespace sesh

#endif  // SESH_NODE_BACKUP_H_
