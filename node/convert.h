#ifndef SESH_NODE_CONVERT_H_
#define SESH_NODE_CONVERT_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"
#include "node/session_store.h"
#include "sesh/v1/sessions.pb.h"

namespace sesh {

// The one place where absl::Status and grpc::Status meet. The codes are the
// same numbers (both follow google.rpc.Code).
grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

// The public view of a stored session: text id, handle, live attributes
// only.
void ToPublicSession(const Record& record, v1::Session* out);

}  // namespace sesh

#endif  // SESH_NODE_CONVERT_H_
