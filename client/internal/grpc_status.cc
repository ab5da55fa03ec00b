#include "client/internal/grpc_status.h"

#include "absl/strings/str_cat.h"

namespace sesh {
namespace client_internal {

absl::Status FromRpcCode(int code, absl::string_view message) {
  if (code == 0) return absl::OkStatus();
  // OK = 0 ... UNAUTHENTICATED = 16, the same numbering in both libraries.
  if (code < 0 || code > static_cast<int>(absl::StatusCode::kUnauthenticated)) {
    return absl::UnknownError(
        absl::StrCat("unknown status code ", code, ": ", message));
  }
  return absl::Status(static_cast<absl::StatusCode>(code), message);
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  return FromRpcCode(static_cast<int>(status.error_code()),
                     status.error_message());
}

}  // namespace client_internal
}  // namespace sesh
