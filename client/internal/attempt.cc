#include "client/internal/attempt.h"

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "client/internal/grpc_status.h"

namespace sesh {
namespace client_internal {
namespace {

// Trailing metadata on every answer of a node: its membership epoch.
constexpr char kEpochKey[] = "x-sesh-epoch";
// gRPC's status when a fail-fast call finds no connection to pick: the call
// was never written to any connection (see "Retries" in client.h).
constexpr absl::string_view kPickFailedMessage =
    "failed to connect to all addresses";

}  // namespace

AttemptResult AttemptRunner::Examine(const grpc::ClientContext& ctx,
                                     const grpc::Status& status) const {
  AttemptResult result;
  result.status = FromGrpcStatus(status);
  const auto& trailers = ctx.GetServerTrailingMetadata();
  auto it = trailers.find(kEpochKey);
  if (it != trailers.end()) {
    result.node_answered = true;
    uint64_t epoch;
    if (absl::SimpleAtoi(
            absl::string_view(it->second.data(), it->second.size()), &epoch)) {
      NoteEpoch(epoch);
    }
  }
  result.never_sent =
      !result.node_answered &&
      status.error_code() == grpc::StatusCode::UNAVAILABLE &&
      absl::StrContains(status.error_message(), kPickFailedMessage);
  return result;
}

std::optional<AttemptResult> AttemptRunner::Unsendable(NodeConn* node) {
  const grpc_connectivity_state state =
      node->channel->GetState(/*try_to_connect=*/true);
  if (state != GRPC_CHANNEL_TRANSIENT_FAILURE &&
      state != GRPC_CHANNEL_SHUTDOWN) {
    return std::nullopt;
  }
  AttemptResult result;
  result.status = absl::UnavailableError(absl::StrCat(
      "node ", node->address, " is unreachable; request not sent"));
  result.never_sent = true;
  return result;
}

}  // namespace client_internal
}  // namespace sesh
