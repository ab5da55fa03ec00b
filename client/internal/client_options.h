// Checking ClientOptions before a client is made, and the channel
// configuration they give: credentials (TLS, or plaintext for nodes run with
// --insecure), the server name, and the token's metadata. LoadTlsFiles
// (client/sesh/client.h), which fills the security options from files, is
// defined in the .cc too.

#ifndef SESH_CLIENT_INTERNAL_CLIENT_OPTIONS_H_
#define SESH_CLIENT_INTERNAL_CLIENT_OPTIONS_H_

#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "client/internal/node_conn.h"
#include "client/sesh/client.h"

namespace sesh {
namespace client_internal {

// OK if Client::Connect may use `o`; else INVALID_ARGUMENT saying which
// option is wrong (the list is Client::Connect's). Never reveals the token.
absl::Status ValidateOptions(const ClientOptions& o);

// The channels' credentials and the calls' authorization metadata, for
// options that ValidateOptions accepted.
// Errors: INVALID_ARGUMENT (gRPC refused the TLS options).
absl::StatusOr<std::shared_ptr<const ChannelConfig>> MakeChannelConfig(
    const ClientOptions& o);

}  // namespace client_internal
}  // namespace sesh

#endif  // SESH_CLIENT_INTERNAL_CLIENT_OPTIONS_H_
