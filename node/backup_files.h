// The on-disk layout of a backup (Cluster.Backup, `seshctl backup` and
// `seshctl restore`; docs/operations.md, "Backup and restore"). A backup
// directory DIR holds, per node:
//
//   DIR/<node_id>/               a complete data dir: the RocksDB checkpoint
//                                of the sessions, and hints/ that of the hints
//   DIR/<node_id>.manifest.json  v1.BackupManifest as JSON, written last: a
//                                node's backup is complete once it exists
//
// Nothing here knows RocksDB; node/backup.h writes backups, these functions
// check targets and restore copies. Thread-compatible free functions.

#ifndef SESH_NODE_BACKUP_FILES_H_
#define SESH_NODE_BACKUP_FILES_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "sesh/v1/cluster.pb.h"

namespace sesh {

// DIR/<node_id> and DIR/<node_id>.manifest.json.
std::string CheckpointPath(const std::string& dir, const std::string& node_id);
std::string ManifestPath(const std::string& dir, const std::string& node_id);

// Checks, without writing anything, that node `node_id` may back up into
// `dir`. INVALID_ARGUMENT: dir empty, relative, with "." or ".."
// components, an existing non-directory, or at or under `data_dir`; a
// node id that is not a plain file name. ALREADY_EXISTS: DIR/<node_id>
// exists and is not an empty directory, or its manifest exists.
absl::Status CheckBackupTarget(const std::string& dir,
                               const std::string& node_id,
                               const std::string& data_dir);

// Regular files under `path` (recursively) and their total size.
// INTERNAL if it cannot be read.
absl::Status CountFiles(const std::string& path, uint64_t* files,
                        uint64_t* bytes);

// Writes `manifest` as JSON to `path` through a temporary file and a
// rename, so that a manifest is never seen half-written. INTERNAL.
absl::Status WriteManifest(const std::string& path,
                           const v1::BackupManifest& manifest);
// NOT_FOUND if `path` does not exist; DATA_LOSS if it does not parse.
absl::StatusOr<v1::BackupManifest> ReadManifest(const std::string& path);

// Restores node `node_id` from backup directory `from`: copies
// DIR/<node_id> into `data_dir` (created; it may exist only as an empty
// directory) and checks the copy against the manifest. Start the node with
// --data_dir=`data_dir` and the same --node_id. Returns the manifest.
// Errors: INVALID_ARGUMENT (an empty argument), NOT_FOUND (no complete
// backup of the node in `from`), ALREADY_EXISTS (data_dir exists and is
// not an empty directory), DATA_LOSS (the manifest does not parse, names
// another node, or its file count or bytes differ from the copy's),
// INTERNAL (a filesystem error). On error data_dir is left as it was.
absl::StatusOr<v1::BackupManifest> RestoreNode(const std::string& from,
                                               const std::string& node_id,
                                               const std::string& data_dir);

}  // namespace sesh

#endif  // SESH_NODE_BACKUP_FILES_H_
