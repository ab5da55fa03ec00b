#ifndef SESH_REPLICATION_MEMBERSHIP_H_
#define SESH_REPLICATION_MEMBERSHIP_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace sesh {

// The static membership of a cluster: every node's id and address, the same
// list on every node (--peers). Placement (replication/placement.h) is a
// function of the ids; its epoch names the list.
struct PeerSpec {
  std::string id;
  // host:port of the node's gRPC endpoint (public and peer services).
  std::string address;
};

// Parses --peers: "id=host:port,id=host:port,...". Ids must be distinct and
// non-empty. INVALID_ARGUMENT naming the bad entry otherwise.
absl::StatusOr<std::vector<PeerSpec>> ParsePeers(absl::string_view spec);

}  // namespace sesh

#endif  // SESH_REPLICATION_MEMBERSHIP_H_
