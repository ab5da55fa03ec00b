// seshctl's backup and restore commands (docs/operations.md, "Backup and
// restore"); the rest of seshctl is in seshctl.cc.

#ifndef SESH_CLIENT_SESHCTL_BACKUP_H_
#define SESH_CLIENT_SESHCTL_BACKUP_H_

#include <string>

#include "absl/strings/string_view.h"
#include "client/sesh/client.h"

namespace sesh {

// A JSON string literal of its argument (seshctl's escaping).
using JsonStringFn = std::string (*)(absl::string_view);

// `backup --dir=DIR [--node=ID]`: asks every node of the topology (or node
// --node) to back up into DIR on its own filesystem, one after the other,
// and prints per node where the checkpoint went, its records and bytes, or
// the node's error. Returns the exit status: 0 if every node backed up.
int RunBackup(Client* client, bool json, JsonStringFn json_string);

// `restore --from=DIR --node=ID --data_dir=PATH`: copies node ID's
// checkpoint from DIR into PATH (new or empty) and checks it against the
// manifest; local, no RPC. Returns the exit status.
int RunRestore(bool json, JsonStringFn json_string);

}  // namespace sesh

#endif  // SESH_CLIENT_SESHCTL_BACKUP_H_
