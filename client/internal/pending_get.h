// The client's records of coalesced Gets: one Get waiting in a node's
// coalescer, what became of it, and a batch of them on its way to the node.

#ifndef SESH_CLIENT_INTERNAL_PENDING_GET_H_
#define SESH_CLIENT_INTERNAL_PENDING_GET_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "client/internal/get_coalescer.h"
#include "client/sesh/client.h"
#include "sesh/v1/sessions.pb.h"

namespace sesh {
namespace client_internal {

// What became of one coalesced Get.
struct GetOutcome {
  absl::StatusOr<SessionData> session;
  // The node answered (the session, a per-id error, or an RPC error with the
  // node's trailing metadata), as opposed to a transport failure.
  bool node_answered = false;
  // The request provably never left this process.
  bool never_sent = false;
};

// A Get waiting in a node's coalescer.
struct PendingGet {
  std::string id;       // text form
  absl::Time deadline;  // of the caller's attempt
  absl::Time enqueued;  // set by the coalescer
  // Called exactly once, by GetBatchSender (or by whoever enqueued the Get,
  // if the coalescer refused it).
  std::function<void(GetOutcome)> done;
};

using PendingGetBatch = GetBatch<PendingGet>;
using PendingGetCoalescer = GetCoalescer<PendingGet>;

// A batch of several Gets on its way to a node.
struct OutgoingBatch {
  std::vector<std::unique_ptr<PendingGet>> gets;
  std::string ns;
  bool touch = true;
  absl::Time deadline = absl::InfiniteFuture();  // the earliest Get's

  v1::BatchGetRequest Request() const {
    v1::BatchGetRequest req;
    req.set_namespace_(ns);
    req.set_skip_touch(!touch);
    for (const auto& get : gets) req.add_ids(get->id);
    return req;
  }
};

}  // namespace client_internal
}  // namespace sesh

#endif  // SESH_CLIENT_INTERNAL_PENDING_GET_H_
