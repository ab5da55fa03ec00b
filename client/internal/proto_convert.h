// Conversions between the public client types (client/sesh/client.h) and
// their sesh.v1 wire messages.

#ifndef SESH_CLIENT_INTERNAL_PROTO_CONVERT_H_
#define SESH_CLIENT_INTERNAL_PROTO_CONVERT_H_

#include "client/sesh/client.h"
#include "sesh/v1/cluster.pb.h"
#include "sesh/v1/sessions.pb.h"

namespace sesh {
namespace client_internal {

// kDefault becomes DURABILITY_DEFAULT (the node's default).
v1::Durability ToProto(Durability d);

SessionData FromProto(const v1::Session& s);
TopologyInfo FromProto(const v1::TopologyResponse& r);
NodeStatsInfo FromProto(const v1::NodeStatsResponse& r);

}  // namespace client_internal
}  // namespace sesh

#endif  // SESH_CLIENT_INTERNAL_PROTO_CONVERT_H_
