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
  // host:port of the node's client port (Sessions and Cluster services).
  std::string address;
  // host:port of its peer port (the Peer service and forwarded calls,
  // mutual TLS); empty when the entry names none.
  std::string peer_address;
};

// Parses --peers: "id=host:port/host:port,..." (client port, then peer
// port; the peer port may be left out for a cluster of one). Ids must be
// distinct and non-empty. INVALID_ARGUMENT naming the bad entry otherwise.
absl::StatusOr<std::vector<PeerSpec>> ParsePeers(absl::string_view spec);

}  // namespace sesh

#endif  // SESH_REPLICATION_MEMBERSHIP_H_
