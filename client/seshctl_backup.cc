#include "client/seshctl_backup.h"

#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "node/backup_files.h"

ABSL_FLAG(std::string, dir, "",
          "backup: absolute directory on each node's filesystem to back up "
          "into (default none: required).");
ABSL_FLAG(std::string, node, "",
          "backup: the one node to back up (default none: every node); "
          "restore: the node whose backup to restore (required).");
ABSL_FLAG(std::string, from, "",
          "restore: backup directory holding <node>/ and "
          "<node>.manifest.json (default none: required).");
ABSL_FLAG(std::string, data_dir, "",
          "restore: the new node's --data_dir, absent or empty (default "
          "none: required).");

namespace sesh {
namespace {

void PrintError(absl::string_view what, const absl::Status& status) {
  std::cerr << "seshctl: " << what
            << absl::StatusCodeToString(status.code()) << ": "
            << status.message() << "\n";
}

}  // namespace

int RunBackup(Client* client, bool json, JsonStringFn json_string) {
  const std::string dir = absl::GetFlag(FLAGS_dir);
  const std::string only = absl::GetFlag(FLAGS_node);
  if (dir.empty()) {
    PrintError("", absl::InvalidArgumentError("backup needs --dir=DIR"));
    return 1;
  }
  absl::StatusOr<TopologyInfo> topo = client->Topology();
  if (!topo.ok()) {
    PrintError("", topo.status());
    return 1;
  }
  std::vector<std::string> ids;
  for (const NodeInfo& n : topo->nodes) {
    if (only.empty() || n.id == only) ids.push_back(n.id);
  }
  if (ids.empty()) {
    PrintError("", absl::NotFoundError(
                       absl::StrCat("no node ", only, " in the topology")));
    return 1;
  }
  int failed = 0;
  std::vector<std::string> items;
  for (const std::string& id : ids) {
    absl::StatusOr<BackupInfo> b = client->Backup(id, dir);
    if (!b.ok()) ++failed;
    if (json) {
      std::string item = absl::StrCat("{\"node\":", json_string(id));
      if (b.ok()) {
        absl::StrAppend(
            &item, ",\"checkpoint_dir\":", json_string(b->checkpoint_dir),
            ",\"manifest\":", json_string(b->manifest_path),
            ",\"taken_at_ms\":", b->taken_at_ms, ",\"records\":", b->records,
            ",\"files\":", b->files, ",\"bytes\":", b->bytes,
            ",\"hints\":", b->hints);
      } else {
        absl::StrAppend(&item, ",\"error\":", json_string(b.status().ToString()));
      }
      items.push_back(item + "}");
    } else if (b.ok()) {
      std::cout << id << ": " << b->checkpoint_dir << " records: " << b->records
                << " bytes: " << b->bytes << " files: " << b->files
                << " hints: " << b->hints << "\n";
    } else {
      PrintError(absl::StrCat(id, ": "), b.status());
    }
  }
  if (json) std::cout << "{\"nodes\":[" << absl::StrJoin(items, ",") << "]}\n";
  return failed == 0 ? 0 : 1;
}

int RunRestore(bool json, JsonStringFn json_string) {
  const std::string from = absl::GetFlag(FLAGS_from);
  const std::string node = absl::GetFlag(FLAGS_node);
  const std::string data_dir = absl::GetFlag(FLAGS_data_dir);
  absl::StatusOr<v1::BackupManifest> m = RestoreNode(from, node, data_dir);
  if (!m.ok()) {
    PrintError("", m.status());
    return 1;
  }
  if (json) {
    std::cout << "{\"node\":" << json_string(node)
              << ",\"data_dir\":" << json_string(data_dir)
              << ",\"taken_at_ms\":" << m->taken_at_ms()
              << ",\"records\":" << m->records() << ",\"files\":" << m->files()
              << ",\"bytes\":" << m->bytes() << "}\n";
  } else {
    std::cout << node << ": restored into " << data_dir << " (backup taken at "
              << m->taken_at_ms() << " ms, " << m->records() << " records, "
              << m->bytes() << " bytes); start it with --node_id=" << node
              << " --data_dir=" << data_dir << "\n";
  }
  return 0;
}

}  // namespace sesh
