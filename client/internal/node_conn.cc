#include "client/internal/node_conn.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <utility>

namespace sesh {
namespace client_internal {

NodeConn::NodeConn(std::string addr)
    : address(std::move(addr)),
      channel(grpc::CreateCustomChannel(
          address, grpc::InsecureChannelCredentials(), ChannelArgs())),
      sessions(v1::Sessions::NewStub(channel)),
      cluster(v1::Cluster::NewStub(channel)) {}

grpc::ChannelArguments NodeConn::ChannelArgs() {
  grpc::ChannelArguments args;
  // A node that restarts is reconnected within about a second, not after
  // gRPC's default backoff of up to two minutes.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 1000);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  return args;
}

}  // namespace client_internal
}  // namespace sesh
