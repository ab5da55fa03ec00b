// The one place where gRPC statuses become absl::Status. absl::StatusCode
// values equal gRPC's (and google.rpc.Code's) numerically.

#ifndef SESH_CLIENT_INTERNAL_GRPC_STATUS_H_
#define SESH_CLIENT_INTERNAL_GRPC_STATUS_H_

#include <grpcpp/support/status.h>

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace sesh {
namespace client_internal {

// Code and message of a finished RPC.
absl::Status FromGrpcStatus(const grpc::Status& status);

// A google.rpc.Code carried in a message (BatchGetResult.code). Codes outside
// the known range become UNKNOWN.
absl::Status FromRpcCode(int code, absl::string_view message);

}  // namespace client_internal
}  // namespace sesh

#endif  // SESH_CLIENT_INTERNAL_GRPC_STATUS_H_
