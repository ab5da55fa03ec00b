#include "client/internal/node_conn.h"

#include <grpcpp/create_channel.h>

#include <utility>

namespace sesh {
namespace client_internal {
namespace {

constexpr char kAuthorizationKey[] = "authorization";

}  // namespace

NodeConn::NodeConn(std::string addr,
                   std::shared_ptr<const ChannelConfig> channel_config)
    : address(std::move(addr)),
      config(std::move(channel_config)),
      channel(grpc::CreateCustomChannel(address, config->credentials,
                                        ChannelArgs(*config))),
      sessions(v1::Sessions::NewStub(channel)),
      cluster(v1::Cluster::NewStub(channel)) {}

grpc::ChannelArguments NodeConn::ChannelArgs(const ChannelConfig& config) {
  grpc::ChannelArguments args;
  // A node that restarts is reconnected within about a second, not after
  // gRPC's default backoff of up to two minutes.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  // The connect timeout (gRPC's name for it), TLS handshake included.
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 2000);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  if (!config.server_name.empty()) {
    args.SetSslTargetNameOverride(config.server_name);
  }
  return args;
}

void NodeConn::PrepareContext(grpc::ClientContext* ctx) const {
  if (!config->authorization.empty()) {
    ctx->AddMetadata(kAuthorizationKey, config->authorization);
  }
}

}  // namespace client_internal
}  // namespace sesh
